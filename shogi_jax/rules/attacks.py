"""Attack sets, checkers and pins in the mover's frame, over bitboards (uint32[9, L] sets of L
games; see `shogi_jax.rules.bitboards`)."""
from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from shogi_jax.rules import tables
from shogi_jax.rules.bitboards import count, is_empty, materialize, pack, ray_fill, rotate, shift
from shogi_jax.rules.board import (
    DIRECTION_LINE,
    DIRECTIONS,
    EMPTY,
    KING,
    NUM_DIRECTIONS,
    NUM_LINE_DIRECTIONS,
    OPP_OFFSET,
    OWN_OFFSET,
)

NUM_PIN_LINES = 4
_MOVE_BIT_INDEX = np.arange(NUM_DIRECTIONS + NUM_LINE_DIRECTIONS)


class Sides(NamedTuple):
    """A position as bitboards (uint32[9, L] each), mover's frame. Directions are each owner's own:
    the opponent's direction d points the other way on this board."""

    own: jnp.ndarray
    opp: jnp.ndarray
    own_king: jnp.ndarray
    opp_king: jnp.ndarray
    own_step: jnp.ndarray  # uint32[10, 9, L]: the mover's pieces that step in direction d
    own_slide: jnp.ndarray  # uint32[8, 9, L]: the mover's pieces that slide in direction d
    opp_step: jnp.ndarray  # uint32[10, 9, L]
    opp_slide: jnp.ndarray  # uint32[8, 9, L]

    @property
    def occupied(self):
        return self.own | self.opp


def sides_of(board):
    """Sides of int32[9, 9, L] board planes (codes as in `shogi_jax.rules.board`)."""
    own = (board != EMPTY) & (board < OPP_OFFSET)
    opp = board >= OPP_OFFSET
    move_bits = jnp.asarray(tables.MOVE_BITS)[board]
    moves = (move_bits[None] >> _MOVE_BIT_INDEX[:, None, None, None]) & 1 == 1  # [18, 9, 9, L]
    own_moves, opp_moves = pack(moves & own), pack(moves & opp)  # [18, 9, L] each
    return materialize(Sides(
        own=pack(own), opp=pack(opp),
        own_king=pack(board == KING + OWN_OFFSET), opp_king=pack(board == KING + OPP_OFFSET),
        own_step=own_moves[:NUM_DIRECTIONS], own_slide=own_moves[NUM_DIRECTIONS:],
        opp_step=opp_moves[:NUM_DIRECTIONS], opp_slide=opp_moves[NUM_DIRECTIONS:],
    ))


def swap_sides(sides: Sides) -> Sides:
    """The same position from the opponent's side (rotated; own and opponent exchanged)."""
    return materialize(Sides(
        own=rotate(sides.opp), opp=rotate(sides.own), own_king=rotate(sides.opp_king),
        opp_king=rotate(sides.own_king), own_step=rotate(sides.opp_step),
        own_slide=rotate(sides.opp_slide), opp_step=rotate(sides.own_step),
        opp_slide=rotate(sides.own_slide)))


def _attacks_by_direction(steppers, sliders, occupied, sign):
    """uint32[10, 9, L]: squares reached by `steppers` (uint32[10, 9, L]) and `sliders`
    ([8, 9, L]) one set per direction; sign -1 for the opponent, whose directions point the other
    way on the mover's board."""
    empty = ~occupied
    sets = []
    for d in range(NUM_DIRECTIONS):
        df, dr = DIRECTIONS[d]
        vector = (sign * df, sign * dr)
        attacked = shift(steppers[d], vector)
        if d < NUM_LINE_DIRECTIONS:
            attacked = attacked | ray_fill(sliders[d], empty, vector)
        sets.append(attacked)
    return jnp.stack(sets)


def opponent_attacks_by_direction(sides: Sides, occupied):
    """uint32[10, 9, L]: squares the opponent attacks, one set per direction of attack.

    Sliders stop at `occupied` (pass the occupancy without the mover's king to let attacks run
    through the king's square, so that the king cannot step back along a slider's ray). A square
    is attacked by at most one piece per direction, so counting over the sets counts attackers.
    """
    return _attacks_by_direction(sides.opp_step, sides.opp_slide, occupied, -1)


def own_attacks_by_direction(sides: Sides, occupied):
    """uint32[10, 9, L]: squares the mover attacks, one set per direction (see the opponent's)."""
    return _attacks_by_direction(sides.own_step, sides.own_slide, occupied, 1)


class KingSafety(NamedTuple):
    """What the opponent's pieces do to the mover's king. Sets are uint32[9, L]."""

    checkers: jnp.ndarray  # opponent pieces giving check
    between: jnp.ndarray  # empty squares between the king and a checking slider
    pinned_on_line: jnp.ndarray  # uint32[4, 9, L]: mover's pieces pinned along each line type
    num_checkers: jnp.ndarray  # int32[L]


def king_safety(sides: Sides) -> KingSafety:
    """Checkers, block squares and pins for the mover's king."""
    king = sides.own_king
    occupied = sides.occupied
    empty = ~occupied
    # An opponent stepper moving by -v (its direction d) checks from the king's square + v.
    checkers = jnp.zeros_like(king)
    for d in range(NUM_DIRECTIONS):
        checkers = checkers | (shift(king, DIRECTIONS[d]) & sides.opp_step[d])

    between = jnp.zeros_like(king)
    pinned = [jnp.zeros_like(king) for _ in range(NUM_PIN_LINES)]
    for d in range(NUM_LINE_DIRECTIONS):
        vector = DIRECTIONS[d]
        sliders = sides.opp_slide[d]  # opponent sliders running toward the king along this ray
        ray = ray_fill(king, empty, vector)
        blocker = ray & occupied
        checking = blocker & sliders
        checkers = checkers | checking
        between = between | jnp.where(is_empty(checking), 0, ray & empty).astype(jnp.uint32)
        # An own first blocker with an opponent slider right behind it is pinned to this line.
        own_blocker = blocker & sides.own
        behind = ray_fill(own_blocker, empty, vector) & occupied
        line = DIRECTION_LINE[d]
        pinned[line] = pinned[line] | jnp.where(is_empty(behind & sliders), 0,
                                                own_blocker).astype(jnp.uint32)
    return materialize(KingSafety(checkers, between, jnp.stack(pinned), count(checkers)))


def flip_planes(board):
    """int32[9, 9] board plane -> the other side's frame: rotate 180 degrees, swap owners."""
    rotated = board[::-1, ::-1]
    swap = OPP_OFFSET - OWN_OFFSET
    return jnp.where(rotated == EMPTY, EMPTY,
                     jnp.where(rotated < OPP_OFFSET, rotated + swap, rotated - swap))
