"""Applying an action, and judging the position the next mover faces (terminal detection); the
start position as a State."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from shogi_jax.rules import tables
from shogi_jax.rules.attacks import flip_planes
from shogi_jax.rules.board import (
    DROP_PLANE_OFFSET,
    EMPTY,
    NUM_DIRECTIONS,
    NUM_SQUARES,
    OWN_OFFSET,
    PROMOTION_PLANE_OFFSET,
)
from shogi_jax.rules.impasse import can_declare
from shogi_jax.rules.legal import legal_moves
from shogi_jax.rules.repetition import position_hash, record_and_judge
from shogi_jax.rules.state import (
    CHECKMATE,
    DEFAULT_MAX_PLIES,
    ILLEGAL_ACTION,
    IMPASSE_DECLARATION,
    MOVE_LIMIT,
    NO_LEGAL_MOVES,
    NOT_TERMINATED,
    PERPETUAL_CHECK,
    REPETITION_DRAW,
    START_BOARD,
    State,
    empty_state,
)


def from_square(board81, action):
    """int32[]: the square the piece of a board move comes from: the first occupied square on
    the reverse ray from the destination (one jump back for a knight)."""
    direction = (action // NUM_SQUARES) % NUM_DIRECTIONS
    to = action % NUM_SQUARES
    ray = jnp.asarray(tables.REVERSE_RAY)[direction, to]  # [8]
    on_ray = jnp.append(board81, EMPTY)[ray]
    return ray[jnp.argmax(on_ray != EMPTY)]


def apply_action(board81, hand, action):
    """The mover plays a legal `action`; returns (board, hand) still in the mover's frame."""
    plane = action // NUM_SQUARES
    to = action % NUM_SQUARES
    is_drop = plane >= DROP_PLANE_OFFSET
    hand_column = jnp.clip(plane - DROP_PLANE_OFFSET, 0, 6)
    source = from_square(board81, action)
    piece = board81[source]
    promote = (plane >= PROMOTION_PLANE_OFFSET) & ~is_drop
    moved = jnp.where(promote, jnp.asarray(tables.PROMOTED_CODE)[piece], piece)
    captured_column = jnp.asarray(tables.CAPTURE_HAND_COLUMN)[board81[to]]

    lifted = board81.at[source].set(jnp.where(is_drop, board81[source], EMPTY))
    board81 = lifted.at[to].set(jnp.where(is_drop, hand_column + OWN_OFFSET, moved))
    captures = ~is_drop & (captured_column >= 0)
    hand = hand.at[0, jnp.maximum(captured_column, 0)].add(captures.astype(jnp.int32))
    hand = hand.at[0, hand_column].add(-is_drop.astype(jnp.int32))
    return board81, hand


def begin_turn(state: State, *, max_plies: int, impasse: bool) -> State:
    """Judge the position the mover faces: legal mask, check, repetition, and whether the game is
    over (repetition, no legal move, impasse declaration, move limit, in that order)."""
    mask, in_check = legal_moves(state.board, state.hand)
    position = position_hash(state.board, state.hand, state.color)
    hashes, checks, repetitions, fourfold, mover_checked, opponent_checked = record_and_judge(
        state.hash_history, state.check_history, state.ply, position, in_check)
    no_move = ~jnp.any(mask)
    declares = can_declare(state.board, state.hand, state.color, in_check) if impasse else False
    at_limit = state.ply >= max_plies

    # Each outcome as (reason, result for the mover); the first that applies wins.
    perpetual_by_opponent = fourfold & opponent_checked & ~mover_checked
    perpetual_by_mover = fourfold & mover_checked & ~opponent_checked
    outcomes = (
        (perpetual_by_opponent, PERPETUAL_CHECK, 1.0),
        (perpetual_by_mover, PERPETUAL_CHECK, -1.0),
        (fourfold, REPETITION_DRAW, 0.0),
        (no_move & in_check, CHECKMATE, -1.0),
        (no_move, NO_LEGAL_MOVES, -1.0),
        (declares, IMPASSE_DECLARATION, 1.0),
        (at_limit, MOVE_LIMIT, 0.0),
    )
    termination, mover_result = jnp.int32(NOT_TERMINATED), jnp.float32(0.0)
    for applies, reason, result in reversed(outcomes):
        termination = jnp.where(applies, reason, termination)
        mover_result = jnp.where(applies, result, mover_result)
    ended = termination != NOT_TERMINATED
    return state._replace(
        legal_action_mask=mask | ended,
        in_check=in_check,
        terminated=ended & (termination != MOVE_LIMIT),
        truncated=termination == MOVE_LIMIT,
        rewards=_rewards_by_color(state.color, mover_result),
        termination=termination,
        repetitions=repetitions,
        hash_history=hashes,
        check_history=checks,
    )


def init(*, max_plies: int = DEFAULT_MAX_PLIES, impasse: bool = True) -> State:
    """The start position (jittable: call it inside jit/vmap, e.g. for auto-reset)."""
    state = empty_state()._replace(board=jnp.asarray(START_BOARD))
    return begin_turn(state, max_plies=max_plies, impasse=impasse)


def _rewards_by_color(mover_color, mover_result):
    """float32[2]: the mover's result at index mover_color, its negation at the other."""
    signs = jnp.where(jnp.arange(2) == mover_color, 1.0, -1.0)
    return (signs * mover_result).astype(jnp.float32)


def step(state: State, action, *, max_plies: int = DEFAULT_MAX_PLIES,
         impasse: bool = True) -> State:
    """Play `action` (int, 0..2186) for the side to move. Pure and jittable; vmap for a batch.

    A finished game passes through unchanged with zero rewards. An illegal action ends the game:
    the side that played it loses (reason ILLEGAL_ACTION).
    """
    action = jnp.asarray(action, jnp.int32)
    legal = state.legal_action_mask[jnp.clip(action, 0, state.legal_action_mask.shape[0] - 1)]
    legal = legal & (action >= 0) & (action < state.legal_action_mask.shape[0])
    board, hand = apply_action(state.board, state.hand, jnp.clip(action, 0, 2186))
    # The next mover's frame: rotate the board, swap owners and hands.
    moved = state._replace(
        board=flip_planes(board.reshape(9, 9)).reshape(NUM_SQUARES),
        hand=hand[::-1],
        color=1 - state.color,
        ply=state.ply + 1,
    )
    played = begin_turn(moved, max_plies=max_plies, impasse=impasse)
    illegal = state._replace(
        terminated=jnp.bool_(True),
        termination=jnp.int32(ILLEGAL_ACTION),
        rewards=_rewards_by_color(state.color, jnp.float32(-1.0)),
        legal_action_mask=jnp.ones_like(state.legal_action_mask),
    )
    over = state.terminated | state.truncated
    finished = state._replace(rewards=jnp.zeros_like(state.rewards))
    return jax.tree_util.tree_map(
        lambda f, i, p: jnp.where(over, f, jnp.where(legal, p, i)), finished, illegal, played)
