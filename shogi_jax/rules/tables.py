"""Lookup tables, built once with numpy at import and pinned by checksums (repeated in tests)."""
from __future__ import annotations

import numpy as np

from shogi_jax.rules.board import (
    DIRECTIONS,
    HAND_TYPE,
    MAX_HAND,
    NUM_CODES,
    NUM_DIRECTIONS,
    NUM_HAND_TYPES,
    NUM_PIECE_TYPES,
    NUM_SQUARES,
    OPP_OFFSET,
    OWN_OFFSET,
    PROMOTES_TO,
    SLIDE_DIRECTIONS,
    STEP_DIRECTIONS,
)


def _direction_bits(directions_of_type, offset):
    """int32[29]: bit d set when the piece with that code moves in direction d (its own frame)."""
    bits = np.zeros(NUM_CODES, np.int32)
    for piece_type in range(NUM_PIECE_TYPES):
        for d in directions_of_type[piece_type]:
            bits[piece_type + offset] |= 1 << d
    return bits


OWN_STEP_BITS = _direction_bits(STEP_DIRECTIONS, OWN_OFFSET)
OWN_SLIDE_BITS = _direction_bits(SLIDE_DIRECTIONS, OWN_OFFSET)
OPP_STEP_BITS = _direction_bits(STEP_DIRECTIONS, OPP_OFFSET)
OPP_SLIDE_BITS = _direction_bits(SLIDE_DIRECTIONS, OPP_OFFSET)

# int32[29]: how the piece with that code moves, in its owner's frame: bits 0-9 the directions it
# steps in, bits 10-17 the directions it slides in. Owner-blind: the owner is read off the code.
SLIDE_BIT_OFFSET = NUM_DIRECTIONS
MOVE_BITS = (OWN_STEP_BITS | OPP_STEP_BITS
             | ((OWN_SLIDE_BITS | OPP_SLIDE_BITS) << SLIDE_BIT_OFFSET)).astype(np.int32)

# int32[29]: code of the same piece promoted (own pieces that can promote), else the code itself.
PROMOTED_CODE = np.arange(NUM_CODES, dtype=np.int32)
for _t, _p in PROMOTES_TO.items():
    PROMOTED_CODE[_t + OWN_OFFSET] = _p + OWN_OFFSET
# int32[29]: hand column a captured opponent piece goes to (-1 for empty, own pieces, kings).
CAPTURE_HAND_COLUMN = np.full(NUM_CODES, -1, np.int32)
for _t in range(NUM_PIECE_TYPES):
    CAPTURE_HAND_COLUMN[_t + OPP_OFFSET] = HAND_TYPE[_t]

# Reverse rays: REVERSE_RAY[d, to, k] is the square k + 1 steps back from `to` against direction d
# (the candidate from-squares of the move (d, to)), or NUM_SQUARES when off the board. Knight
# directions have one candidate only.
MAX_RAY = 8
REVERSE_RAY = np.full((NUM_DIRECTIONS, NUM_SQUARES, MAX_RAY), NUM_SQUARES, np.int32)
for _d, (_df, _dr) in enumerate(DIRECTIONS):
    for _to in range(NUM_SQUARES):
        _f, _r = divmod(_to, 9)
        for _k in range(1 if _d >= 8 else MAX_RAY):
            _ff, _rr = _f - (_k + 1) * _df, _r - (_k + 1) * _dr
            if 0 <= _ff < 9 and 0 <= _rr < 9:
                REVERSE_RAY[_d, _to, _k] = 9 * _ff + _rr

# Zobrist keys (two uint32 words per key, summed modulo 2**32) for the position hash. The hash is
# taken over the mover's-frame board, the hands and the side to move; since the side to move fixes
# the frame, equal hashes mean equal positions.
_rng = np.random.default_rng(20261123)
ZOBRIST_BOARD = _rng.integers(0, 2**32, size=(NUM_SQUARES, NUM_CODES, 2), dtype=np.uint32)
ZOBRIST_BOARD[:, 0, :] = 0  # empty squares add nothing
ZOBRIST_HAND = _rng.integers(0, 2**32, size=(2, NUM_HAND_TYPES, max(MAX_HAND) + 1, 2),
                             dtype=np.uint32)
ZOBRIST_COLOR = _rng.integers(0, 2**32, size=(2, 2), dtype=np.uint32)

# Checksums: a changed table changes these; tests repeat them.
assert int(np.unpackbits(OWN_STEP_BITS.view(np.uint8)).sum()) == 54
assert int(np.unpackbits(OWN_SLIDE_BITS.view(np.uint8)).sum()) == 17
assert int((REVERSE_RAY < NUM_SQUARES).sum()) == 2224
