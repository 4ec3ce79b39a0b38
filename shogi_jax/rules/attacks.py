"""Attack planes, checkers and pins, all in the mover's frame over int32[9, 9] board planes."""
from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from shogi_jax.rules import tables
from shogi_jax.rules.board import (
    DIRECTION_LINE, DIRECTIONS, EMPTY, KING, NUM_DIRECTIONS, NUM_LINE_DIRECTIONS, OPP_OFFSET,
    OWN_OFFSET,
)
from shogi_jax.rules.planes import bit, negate, ray_fill, shift

NUM_PIN_LINES = 4


def flip_planes(board):
    """int32[9, 9] board plane -> the other side's frame: rotate 180 degrees, swap owners."""
    rotated = board[::-1, ::-1]
    swap = OPP_OFFSET - OWN_OFFSET
    return jnp.where(rotated == EMPTY, EMPTY,
                     jnp.where(rotated < OPP_OFFSET, rotated + swap, rotated - swap))


def opponent_attacks_by_direction(board, occupied):
    """bool[10, 9, 9]: squares the opponent attacks, one plane per direction of attack.

    Sliders stop at `occupied` (pass the board without the mover's king to let attacks run through
    the king's square, so that the king cannot step back along a slider's ray). A square is
    attacked by at most one piece per direction, so summing the planes counts the attackers.
    """
    step_bits = jnp.asarray(tables.OPP_STEP_BITS)[board]
    slide_bits = jnp.asarray(tables.OPP_SLIDE_BITS)[board]
    empty = ~occupied
    planes = []
    for d in range(NUM_DIRECTIONS):
        # The opponent's direction d points the other way in the mover's frame.
        vector = negate(DIRECTIONS[d])
        attacked = shift(bit(step_bits, d), vector)
        if d < NUM_LINE_DIRECTIONS:
            attacked = attacked | ray_fill(bit(slide_bits, d), empty, vector)
        planes.append(attacked)
    return jnp.stack(planes)


class KingSafety(NamedTuple):
    """What the opponent's pieces do to the mover's king. All planes bool[9, 9]."""

    checkers: jnp.ndarray  # opponent pieces giving check
    between: jnp.ndarray  # empty squares between the king and a checking slider
    pinned_on_line: jnp.ndarray  # bool[4, 9, 9]: mover's pieces pinned along each line type
    num_checkers: jnp.ndarray  # int32[]


def king_safety(board):
    """Checkers, block squares and pins for the mover's king on an int32[9, 9] board."""
    king = board == KING + OWN_OFFSET
    occupied = board != EMPTY
    own = occupied & (board < OPP_OFFSET)
    empty = ~occupied
    step_bits = jnp.asarray(tables.OPP_STEP_BITS)[board]
    slide_bits = jnp.asarray(tables.OPP_SLIDE_BITS)[board]

    # An opponent stepper that moves by -v (its own direction d) checks from the king's square + v.
    checkers = jnp.zeros_like(king)
    for d in range(NUM_DIRECTIONS):
        checkers = checkers | (shift(king, DIRECTIONS[d]) & bit(step_bits, d))

    between = jnp.zeros_like(king)
    pinned = [jnp.zeros_like(king) for _ in range(NUM_PIN_LINES)]
    for d in range(NUM_LINE_DIRECTIONS):
        vector = DIRECTIONS[d]
        # Opponent sliders that run toward the king along this ray (their direction d).
        sliders = bit(slide_bits, d)
        ray = ray_fill(king, empty, vector)
        blocker = ray & occupied
        checking = blocker & sliders
        gives_check = jnp.any(checking)
        checkers = checkers | checking
        between = between | (gives_check & ray & empty)
        # An own first blocker with an opponent slider right behind it is pinned to this line.
        own_blocker = blocker & own
        behind = ray_fill(own_blocker, empty, vector) & occupied
        is_pin = jnp.any(behind & sliders)
        line = DIRECTION_LINE[d]
        pinned[line] = pinned[line] | (is_pin & own_blocker)
    return KingSafety(checkers, between, jnp.stack(pinned),
                      jnp.sum(checkers, dtype=jnp.int32))
