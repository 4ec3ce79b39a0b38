"""Which actions give check, read off the board without stepping them.

A move checks the opponent's king K directly (the piece it leaves on its destination attacks K:
a step, or a slide with nothing in between once the piece has left its square) or by discovery
(it takes the only piece between K and one of the mover's sliders off that line). Drops check
only directly. The mate tests step only these actions (a mate is a check with no reply), a few
in a position where a full step of every legal move would be a hundred or more.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from shogi_jax.rules import tables
from shogi_jax.rules.board import (
    DIRECTION_LINE,
    DIRECTIONS,
    DROP_PLANE_OFFSET,
    EMPTY,
    KING,
    LINE_NONE,
    NUM_ACTIONS,
    NUM_LINE_DIRECTIONS,
    NUM_PIECE_TYPES,
    NUM_SQUARES,
    OPP_OFFSET,
    OWN_OFFSET,
    PROMOTION_PLANE_OFFSET,
    SLIDE_DIRECTIONS,
    STEP_DIRECTIONS,
)
from shogi_jax.rules.state import State
from shogi_jax.rules.step import from_square

MAX_RAY = 8  # the longest ray on a 9 x 9 board


def _offset(square: int, direction: int, distance: int) -> int:
    """The square `distance` steps from `square` in `direction`, or NUM_SQUARES off the board."""
    f, r = divmod(square, 9)
    df, dr = DIRECTIONS[direction]
    f, r = f + distance * df, r + distance * dr
    return 9 * f + r if 0 <= f < 9 and 0 <= r < 9 else NUM_SQUARES


# RAY[d, k, i]: the square i + 1 steps from k in line direction d (NUM_SQUARES off the board).
RAY = np.array([[[_offset(k, d, i + 1) for i in range(MAX_RAY)] for k in range(NUM_SQUARES)]
                for d in range(NUM_LINE_DIRECTIONS)], np.int32)
# RAY_DIRECTION[k, s], RAY_DISTANCE[k, s]: s lies RAY_DISTANCE steps from k in line direction
# RAY_DIRECTION (-1 and 0 where s is not on a line through k).
RAY_DIRECTION = np.full((NUM_SQUARES, NUM_SQUARES), -1, np.int32)
RAY_DISTANCE = np.zeros((NUM_SQUARES, NUM_SQUARES), np.int32)
for _d in range(NUM_LINE_DIRECTIONS):
    for _k in range(NUM_SQUARES):
        for _i, _s in enumerate(RAY[_d, _k]):
            if _s < NUM_SQUARES:
                RAY_DIRECTION[_k, _s], RAY_DISTANCE[_k, _s] = _d, _i + 1
# int32[9]: the line (LINE_*) of each line direction, LINE_NONE for "not on a line" (index -1).
_LINE_OF_DIRECTION = np.array(DIRECTION_LINE[:NUM_LINE_DIRECTIONS] + (LINE_NONE,), np.int32)
# OPPOSITE[d]: the line direction pointing back along d.
OPPOSITE = np.array([DIRECTIONS.index((-df, -dr)) for df, dr in DIRECTIONS[:NUM_LINE_DIRECTIONS]],
                    np.int32)

# STEP_ATTACKS[t, s, k] / SLIDE_ATTACKS[t, s, k]: the mover's piece of type t on s attacks k by a
# step (a knight's jump included) / along a slide, when nothing stands in between.
STEP_ATTACKS = np.zeros((NUM_PIECE_TYPES, NUM_SQUARES, NUM_SQUARES), bool)
SLIDE_ATTACKS = np.zeros((NUM_PIECE_TYPES, NUM_SQUARES, NUM_SQUARES), bool)
for _t in range(NUM_PIECE_TYPES):
    for _s in range(NUM_SQUARES):
        for _d in STEP_DIRECTIONS[_t]:
            if (_k := _offset(_s, _d, 1)) < NUM_SQUARES:
                STEP_ATTACKS[_t, _s, _k] = True
        for _d in SLIDE_DIRECTIONS[_t]:
            for _k in RAY[_d, _s]:
                if _k < NUM_SQUARES:
                    SLIDE_ATTACKS[_t, _s, _k] = True

# Checksums: a changed table changes these; tests repeat them.
assert int((RAY < NUM_SQUARES).sum()) == 2112
assert int(STEP_ATTACKS.sum()) == 3680 and int(SLIDE_ATTACKS.sum()) == 4548


def _discoverers(ray, codes):
    """int32[82]: for each square (and the padding square NUM_SQUARES), the line (LINE_*) on which
    the mover's piece there is the only piece between the opponent's king and a slider of the
    mover's that runs toward it along that line; LINE_NONE elsewhere. ray: int32[8 directions,
    8 steps] the squares out from the king; codes: int32[8, 8] the pieces on them."""
    occupied = codes != EMPTY
    first = jnp.argmax(occupied, axis=1)  # int32[8]
    beyond = occupied & (jnp.arange(MAX_RAY) > first[:, None])
    second = jnp.argmax(beyond, axis=1)
    first_code = jnp.take_along_axis(codes, first[:, None], axis=1)[:, 0]
    second_code = jnp.take_along_axis(codes, second[:, None], axis=1)[:, 0]
    own = lambda code: (code != EMPTY) & (code < OPP_OFFSET)  # noqa: E731
    toward_king = (jnp.asarray(tables.MOVE_BITS)[second_code]
                   >> (tables.SLIDE_BIT_OFFSET + jnp.asarray(OPPOSITE))) & 1 == 1
    uncovers = own(first_code) & jnp.any(beyond, axis=1) & own(second_code) & toward_king
    square = jnp.take_along_axis(ray, first[:, None], axis=1)[:, 0]
    lines = jnp.where(uncovers, jnp.asarray(_LINE_OF_DIRECTION[:NUM_LINE_DIRECTIONS]), LINE_NONE)
    # A square lies on one line through the king at most, so no two directions write one square.
    return jnp.full(NUM_SQUARES + 1, LINE_NONE, jnp.int32).at[
        jnp.where(uncovers, square, NUM_SQUARES)].min(lines)


def checking_actions(state: State):
    """bool[2187]: the legal actions of ONE game that leave the opponent in check (the game not
    over). Equal to stepping every legal action and reading `in_check`, at the cost of a few
    table lookups per action."""
    board = state.board
    king = jnp.argmax(board == KING + OPP_OFFSET)
    actions = jnp.arange(NUM_ACTIONS)
    plane, to = actions // NUM_SQUARES, actions % NUM_SQUARES
    is_drop = plane >= DROP_PLANE_OFFSET
    source = jax.vmap(from_square, in_axes=(None, 0))(board, actions)  # int32[2187]
    moved_code = jnp.where(plane >= PROMOTION_PLANE_OFFSET,
                           jnp.asarray(tables.PROMOTED_CODE)[board[source]], board[source])
    piece_type = jnp.clip(jnp.where(is_drop, plane - DROP_PLANE_OFFSET, moved_code - OWN_OFFSET),
                          0, NUM_PIECE_TYPES - 1)

    # Pieces strictly between each square on a ray from the king and the king, before the move.
    ray = jnp.asarray(RAY)[:, king]  # int32[8 directions, 8 steps]
    codes = jnp.append(board, EMPTY)[ray]
    on_ray = (codes != EMPTY).astype(jnp.int32)
    nearer = jnp.cumsum(on_ray, axis=1) - on_ray
    direction, distance = jnp.asarray(RAY_DIRECTION)[king], jnp.asarray(RAY_DISTANCE)[king]
    between = nearer[jnp.maximum(direction, 0), jnp.maximum(distance - 1, 0)]  # int32[81]
    # A piece that leaves a square between its destination and the king no longer blocks.
    leaves_between = (~is_drop & (direction[source] == direction[to]) & (direction[to] >= 0)
                      & (distance[source] < distance[to]))
    clear = between[to] - leaves_between.astype(jnp.int32) == 0
    direct = (jnp.asarray(STEP_ATTACKS)[piece_type, to, king]
              | (jnp.asarray(SLIDE_ATTACKS)[piece_type, to, king] & clear))

    uncovered_line = _discoverers(ray, codes)[source]
    line_of_to = jnp.asarray(_LINE_OF_DIRECTION)[direction[to]]
    discovered = ~is_drop & (uncovered_line != LINE_NONE) & (line_of_to != uncovered_line)
    playing = ~(state.terminated | state.truncated)
    return state.legal_action_mask & playing & (direct | discovered)
