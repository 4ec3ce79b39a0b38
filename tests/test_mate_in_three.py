"""`mates_in_three` and `avoid_mate_in_three` (shogi_jax.play.tactics) against cshogi's df-pn mate
search limited to three plies (`cshogi.DfPn(depth=3)`: the attacker checks, every reply, the
attacker mates), on hand-made mates and on positions of real games.
"""
from __future__ import annotations

import cshogi
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from mate_positions import MATES_IN_ONE, MATES_IN_THREE
from real_games import found_and_other, gauntlet_positions

import shogi_jax as sj
from shogi_jax.play.tactics import (
    AVOID_THREE_CANDIDATES,
    Tactics,
    avoiding_mate_in_three,
    mates_in_three,
)

# The full tier (python -m pytest -m ""): this module compiles the mate-in-three search.
pytestmark = pytest.mark.slow


def dfpn_mates(board: cshogi.Board) -> bool:
    """The side to move mates within three plies (cshogi's df-pn, checks only)."""
    return not board.is_game_over() and cshogi.DfPn(depth=3).search(board)


def real_positions(mated: int, other: int) -> list[str]:
    """SFENs of the shipped network's gauntlet games: the first `mated` where df-pn finds a mate
    within three plies and every 9th other position up to `other`."""
    return found_and_other(dfpn_mates, mated, other, every=9, offset=4)


def stacked(sfens):
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *[sj.from_sfen(s) for s in sfens])


def test_mates_in_three_are_what_dfpn_finds():
    """The hand-made mates in three and in one (test_search's), 12 mates and 12 other positions
    of real games: the same answer as df-pn on every one."""
    sfens = list(MATES_IN_THREE) + list(MATES_IN_ONE) + real_positions(mated=12, other=12)
    expected = [dfpn_mates(cshogi.Board(sfen)) for sfen in sfens]
    assert expected[:8] == [True] * 8 and 12 <= sum(expected) < len(sfens)  # the premise
    found = np.asarray(jax.jit(jax.vmap(mates_in_three))(stacked(sfens)))
    assert found.tolist() == expected


def allows_by_cshogi(board: cshogi.Board, move: str) -> bool:
    """After `move` the opponent may declare, or mates within three plies."""
    board.push_usi(move)
    try:
        return board.is_nyugyoku() or dfpn_mates(board)
    finally:
        board.pop()


@pytest.mark.slow
def test_avoiding_mate_in_three_plays_the_first_safe_likely_move():
    """Positions of real games where the move played let df-pn mate within three plies: with a
    random preference, the first of (that move, the AVOID_THREE_CANDIDATES likeliest legal
    moves) that cshogi says lets no such mate, or the move played where none does."""
    positions = []
    for board, _, move in gauntlet_positions():
        if allows_by_cshogi(board, move):
            positions.append((board.sfen(), move))
            if len(positions) == 8:
                break
    states = [sj.from_sfen(sfen) for sfen, _ in positions]
    batch = stacked([sfen for sfen, _ in positions])
    own = jnp.array([sj.usi_to_action(s, m) for s, (_, m) in zip(states, positions)], jnp.int32)
    preference = jnp.asarray(np.random.default_rng(2).normal(size=(len(states), sj.NUM_ACTIONS)),
                             jnp.float32)
    played = np.asarray(jax.jit(jax.vmap(avoiding_mate_in_three))(batch, own, preference))
    replaced = 0
    for k, (sfen, move) in enumerate(positions):
        legal = np.asarray(states[k].legal_action_mask)
        ranked = [move] + [sj.action_to_usi(states[k], a)
                           for a in np.argsort(-np.asarray(preference[k]), kind="stable")
                           if legal[a]][:AVOID_THREE_CANDIDATES]
        expected = next((m for m in ranked if not allows_by_cshogi(cshogi.Board(sfen), m)), move)
        assert sj.action_to_usi(states[k], int(played[k])) == expected, sfen
        replaced += expected != move
    assert replaced >= 4  # the premise: most of these moves have a safe alternative
    assert Tactics(avoid_mate_in_three=True)  # a tactic: a network player takes it
