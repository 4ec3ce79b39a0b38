"""Bitboards: a set of squares as uint32[9], one word per file with bit r set for rank r + 1.

Shifts along a rank are bit shifts; shifts across files are slices of a 9-long axis; slider fills
are eight shift-and-mask steps. Nine words per set (instead of 81 booleans) make the rules cheap
on every backend. All sets are in the mover's frame (see `shogi_jax.rules.board`).
"""
from __future__ import annotations

import jax.numpy as jnp

FILE_MASK = 0x1FF  # nine rank bits
_RANK_SHIFTS = jnp.arange(9, dtype=jnp.uint32)


def pack(plane):
    """bool[..., 9, 9] ([f, r]) -> uint32[..., 9]."""
    return jnp.sum(plane.astype(jnp.uint32) << _RANK_SHIFTS, axis=-1, dtype=jnp.uint32)


def unpack(bitboard):
    """uint32[..., 9] -> bool[..., 9, 9] ([f, r])."""
    return (bitboard[..., None] >> _RANK_SHIFTS) & 1 == 1


def ranks_mask(ranks) -> int:
    """A per-file word with the bits of the given rank indices set (a Python int constant)."""
    return sum(1 << r for r in ranks)


def shift(bitboard, vector):
    """Moves every square of the set by (df, dr); squares leaving the board drop out."""
    df, dr = vector
    if df > 0:
        bitboard = jnp.concatenate([jnp.zeros_like(bitboard[..., :df]), bitboard[..., :9 - df]],
                                   axis=-1)
    elif df < 0:
        bitboard = jnp.concatenate([bitboard[..., -df:], jnp.zeros_like(bitboard[..., :-df])],
                                   axis=-1)
    if dr > 0:
        bitboard = (bitboard << dr) & FILE_MASK
    elif dr < 0:
        bitboard = bitboard >> -dr
    return bitboard


def ray_fill(sources, empty, vector):
    """Squares sliders on `sources` reach along `vector`: the empty squares and the first occupied
    square of each ray (the sources themselves excluded)."""
    current = shift(sources, vector)
    reached = current
    for _ in range(7):
        current = shift(current & empty, vector)
        reached = reached | current
    return reached


def rotate(bitboard):
    """The same set seen from the other side: files reversed, ranks reversed."""
    reversed_files = bitboard[..., ::-1]
    return jnp.sum(((reversed_files[..., None] >> _RANK_SHIFTS) & 1) << (8 - _RANK_SHIFTS),
                   axis=-1, dtype=jnp.uint32)


def is_empty(bitboard):
    return jnp.all(bitboard == 0, axis=-1)


def count(bitboard):
    return jnp.sum(jnp.bitwise_count(bitboard), axis=-1, dtype=jnp.int32)
