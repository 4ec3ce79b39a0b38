"""Bitboards: a set of squares as uint32[9, L], one word per file (bit r set for rank r + 1), for
L games side by side ("lanes").

The lane axis is last so that every bitboard operation is one contiguous vector operation over the
batch (the fast layout for XLA on every backend); a single game has L = 1. Shifts along a rank are
bit shifts; shifts across files are slices of the file axis (axis -2); slider fills are eight
shift-and-mask steps. All sets are in the mover's frame (see `shogi_jax.rules.board`); per-game
scalars that go with them are [L] arrays.
"""
from __future__ import annotations

import contextlib
import contextvars

import jax
import jax.numpy as jnp
import numpy as np

FILE_MASK = 0x1FF  # nine rank bits
_RANK_SHIFTS = np.arange(9, dtype=np.uint32)[:, None]  # [9 ranks, 1 lane]


def pack(plane):
    """bool[..., 9, 9, L] ([f, r, lane]) -> uint32[..., 9, L]."""
    return jnp.sum(plane.astype(jnp.uint32) << _RANK_SHIFTS, axis=-2, dtype=jnp.uint32)


def unpack(bitboard):
    """uint32[..., 9, L] -> bool[..., 9, 9, L] ([f, r, lane])."""
    return (bitboard[..., None, :] >> _RANK_SHIFTS) & 1 == 1


def ranks_mask(ranks) -> int:
    """A per-file word with the bits of the given rank indices set (a Python int constant)."""
    return sum(1 << r for r in ranks)


def shift(bitboard, vector):
    """Moves every square of the set by (df, dr); squares leaving the board drop out."""
    df, dr = vector
    if df > 0:
        bitboard = jnp.concatenate(
            [jnp.zeros_like(bitboard[..., :df, :]), bitboard[..., :9 - df, :]], axis=-2)
    elif df < 0:
        bitboard = jnp.concatenate(
            [bitboard[..., -df:, :], jnp.zeros_like(bitboard[..., :-df, :])], axis=-2)
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
    reversed_files = bitboard[..., ::-1, :]
    bits = (reversed_files[..., None, :] >> _RANK_SHIFTS) & 1  # [..., 9 files, 9 ranks, L]
    return jnp.sum(bits << (8 - _RANK_SHIFTS), axis=-2, dtype=jnp.uint32)


def is_empty(bitboard):
    """bool[..., L]."""
    return jnp.all(materialize(bitboard) == 0, axis=-2)


def count(bitboard):
    """int32[..., L]: squares in the set."""
    return jnp.sum(jnp.bitwise_count(materialize(bitboard)), axis=-2, dtype=jnp.int32)


_BOUNDARIES = contextvars.ContextVar("fusion_boundaries", default=True)


@contextlib.contextmanager
def fusion_boundaries(enabled: bool):
    """Within the block (at trace time), `materialize` places boundaries only if `enabled`."""
    token = _BOUNDARIES.set(enabled)
    try:
        yield
    finally:
        _BOUNDARIES.reset(token)


def materialize(tree):
    """Computes the sets in `tree` once, as buffers of their own, and returns them unchanged.

    XLA fuses a cheap value into every consumer and recomputes it there; for a set that feeds many
    others (pins, check targets, attacks) that multiplied the work of the whole legal mask several
    times over. On GPU/TPU an optimization barrier keeps the value out of its consumers' fusions.
    XLA's CPU pipeline drops those barriers before fusing, so there the value goes through a
    conditional (fusion never crosses one) whose two branches both return it: the result is the
    same whichever branch runs, only the fusion boundary matters.
    """
    if not _BOUNDARIES.get():
        return tree
    return jax.lax.platform_dependent(tree, cpu=_conditional_boundary,
                                      default=jax.lax.optimization_barrier)


def _conditional_boundary(tree):
    leaves = jax.tree_util.tree_leaves(tree)
    # Any runtime predicate will do. The branches differ in form (an OR with zero that XLA folds
    # only later) so that the conditional is not simplified away before fusion.
    predicate = jnp.ravel(leaves[0])[0] == 0
    return jax.lax.cond(predicate, lambda t: t,
                        lambda t: jax.tree_util.tree_map(lambda x: x | jnp.zeros((), x.dtype), t),
                        tree)
