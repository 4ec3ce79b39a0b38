"""Position hashes and the fourfold-repetition (sennichite) and perpetual-check tests."""
from __future__ import annotations

import jax.numpy as jnp

from shogi_jax.rules import tables
from shogi_jax.rules.board import NUM_HAND_TYPES, NUM_SQUARES
from shogi_jax.rules.state import HISTORY_LENGTH


def position_hash(board81, hand, color):
    """uint32[2]: Zobrist-style hash (keys summed mod 2**32) of board, hands and side to move."""
    board_keys = jnp.asarray(tables.ZOBRIST_BOARD)[jnp.arange(NUM_SQUARES), board81]  # [81, 2]
    hand_keys = jnp.asarray(tables.ZOBRIST_HAND)[
        jnp.arange(2)[:, None], jnp.arange(NUM_HAND_TYPES)[None, :], hand]  # [2, 7, 2]
    color_key = jnp.asarray(tables.ZOBRIST_COLOR)[color]
    total = (jnp.sum(board_keys, axis=0, dtype=jnp.uint32)
             + jnp.sum(hand_keys, axis=(0, 1), dtype=jnp.uint32) + color_key)
    # Keep the second word odd so that an unwritten history slot (zeros) never matches.
    return total.at[1].set(total[1] | 1)


def record_and_judge(hash_history, check_history, ply, position, in_check):
    """Write this position into the ring buffers and judge repetition.

    Returns (hash_history, check_history, repetitions: int32[] earlier occurrences,
    fourfold: bool[], mover_checked_throughout: bool[], opponent_checked_throughout: bool[]).
    "Checked throughout": every move that side made since the first of the four occurrences gave
    check (the perpetual-check rule: that side loses instead of a draw).
    """
    slot = ply % HISTORY_LENGTH
    hash_history = hash_history.at[slot].set(position)
    check_history = check_history.at[slot].set(in_check)
    age = (slot - jnp.arange(HISTORY_LENGTH)) % HISTORY_LENGTH  # plies ago, 0 = now
    same = jnp.all(hash_history == position, axis=-1) & (age <= ply)
    occurrences = jnp.sum(same, dtype=jnp.int32)
    oldest = jnp.max(jnp.where(same, age, 0))
    in_cycle = age < oldest
    # Positions an even number of plies ago came from the opponent's moves (age 0: its last move).
    by_opponent = in_cycle & (age % 2 == 0)
    by_mover = in_cycle & (age % 2 == 1)
    opponent_checked = jnp.all(jnp.where(by_opponent, check_history, True))
    mover_checked = jnp.all(jnp.where(by_mover, check_history, True))
    return (hash_history, check_history, occurrences - 1, occurrences >= 4,
            mover_checked, opponent_checked)
