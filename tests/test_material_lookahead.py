"""`material_lookahead` (shogi_jax.play.tactics) against cshogi: the material a move keeps after the
opponent's reply that leaves least and our recapture of the replying piece, computed here again
by walking cshogi's legal moves, on positions of real games; and the move it then plays.
"""
from __future__ import annotations

import math

import cshogi
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cshogi_material import BOARD_POINTS, UNPROMOTED_POINTS, balance
from real_games import gauntlet_positions

import shogi_jax as sj
from shogi_jax.play.tactics import (
    LOOKAHEAD_CANDIDATES,
    LOOKAHEAD_MARGIN,
    Tactics,
    material_after_reply,
)

# The full tier (python -m pytest -m ""): this module compiles the lookahead over real positions.
pytestmark = pytest.mark.slow

DECIDED = 1000.0


def decided(board: cshogi.Board, color: int):
    """+-DECIDED where the side to move is mated or may declare (the game ends there), else None."""
    if board.is_game_over():  # no legal move: the side to move lost
        return DECIDED if board.turn != color else -DECIDED
    if board.is_nyugyoku():
        return DECIDED if board.turn == color else -DECIDED
    return None


def kept_by_cshogi(board: cshogi.Board, move: str) -> float:
    """The reference: after `move`, the least over the opponent's legal replies of our balance
    plus, where one of our legal board moves lands on the reply's square, what taking it gains."""
    color = board.turn
    board.push_usi(move)
    try:
        ended = decided(board, color)
        if ended is not None:
            return ended
        worst = math.inf
        for reply in list(board.legal_moves):
            board.push(reply)
            ended = decided(board, color)
            if ended is None:
                square = cshogi.move_to(reply)
                takes = any(cshogi.move_to(ours) == square and not cshogi.move_is_drop(ours)
                            for ours in board.legal_moves)
                piece = board.piece(square) % 16
                ended = balance(board, color) + (
                    BOARD_POINTS[piece] + UNPROMOTED_POINTS[piece] if takes else 0.0)
            worst = min(worst, ended)
            board.pop()
        return worst
    finally:
        board.pop()


def game_positions(count: int) -> list[tuple[str, list[str]]]:
    """(SFEN, moves to try) from the shipped network's gauntlet games: every 5th position of the
    first games, each with the move played there and up to 5 other legal moves."""
    found = []
    rng = np.random.default_rng(0)
    for board, ply, move in gauntlet_positions():
        if ply % 5 == 2:
            legal = sorted(cshogi.move_to_usi(m) for m in board.legal_moves)
            others = [str(m) for m in rng.permutation(legal)[:6] if m != move][:5]
            found.append((board.sfen(), [move] + others))
            if len(found) == count:
                return found
    raise AssertionError("not enough positions in the gauntlet games")


@pytest.fixture(scope="module")
def kept_by_us():
    """(states with a batch axis, actions) -> float32[batch]: one compiled program."""
    return jax.jit(jax.vmap(material_after_reply))


LOOKAHEAD_BATCH = 12


@pytest.fixture(scope="module")
def looking_ahead():
    """(states, actions, preferences with a batch axis) -> int32[batch]: a player's move after
    `Tactics(material_lookahead=True)`. Each compile of the lookahead takes tens of seconds, so
    every batch is padded to one shape (LOOKAHEAD_BATCH, copies of its first game) and the tests
    below share one compiled program."""
    compiled = jax.jit(jax.vmap(Tactics(material_lookahead=True).apply))

    def played(states, actions, preferences):
        size = actions.shape[0]
        assert size <= LOOKAHEAD_BATCH
        pad = lambda x: jnp.concatenate([x, jnp.repeat(x[:1], LOOKAHEAD_BATCH - size, axis=0)])
        padded = jax.tree_util.tree_map(pad, (states, actions, preferences))
        return np.asarray(compiled(*padded))[:size]

    return played


def stacked(states):
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *states)


def test_a_hanging_rook_is_seen_and_kept_out_of_play(kept_by_us, looking_ahead):
    """Hand-worked: Black's rook to 2c is taken by White's silver on 3b with nothing to take back
    (Black +5, a silver up, becomes -15: no rook, and White holds it in hand); to 2d nothing can
    take it (+5 stays). With the network preferring 2c, the lookahead plays 2d."""
    sfen = "4k4/6s2/9/9/9/9/9/7R1/4K4 b - 1"
    state = sj.from_sfen(sfen)
    hanging, safe = sj.usi_to_action(state, "2h2c"), sj.usi_to_action(state, "2h2d")
    kept = kept_by_us(stacked([state, state]), jnp.array([hanging, safe]))
    np.testing.assert_array_equal(np.asarray(kept), [-15.0, 5.0])
    assert [kept_by_cshogi(cshogi.Board(sfen), m) for m in ("2h2c", "2h2d")] == [-15.0, 5.0]
    preference = jnp.full(sj.NUM_ACTIONS, -5.0).at[hanging].set(2.0).at[safe].set(1.0)
    played = looking_ahead(stacked([state]), jnp.array([hanging]), preference[None])
    assert sj.action_to_usi(state, int(played[0])) == "2h2d"


def test_the_material_kept_is_what_cshogi_finds_on_real_positions(kept_by_us):
    """60 positions of real games, 6 moves each (the one played there and 5 other legal ones):
    the same number as the cshogi walk, every one; captures and recaptures among them."""
    positions = game_positions(60)
    states, actions, expected = [], [], []
    for sfen, moves in positions:
        state = sj.from_sfen(sfen)
        for move in moves:
            states.append(state)
            actions.append(sj.usi_to_action(state, move))
            expected.append(kept_by_cshogi(cshogi.Board(sfen), move))
    kept = np.asarray(kept_by_us(stacked(states), jnp.array(actions, jnp.int32)))
    np.testing.assert_array_equal(kept, np.array(expected, np.float32))
    assert len(set(expected)) > 10  # the premise: the positions differ in what they keep


def test_the_lookahead_plays_the_likeliest_move_within_the_margin(looking_ahead):
    """On real positions with a random preference: the first of (the player's move, then the
    LOOKAHEAD_CANDIDATES likeliest legal moves) whose cshogi-computed material is within
    LOOKAHEAD_MARGIN of the best of them."""
    positions = game_positions(12)
    rng = np.random.default_rng(1)
    states = [sj.from_sfen(sfen) for sfen, _ in positions]
    batch = stacked(states)
    preference = jnp.asarray(rng.normal(size=(len(states), sj.NUM_ACTIONS)), jnp.float32)
    own = jnp.array([sj.usi_to_action(s, moves[0]) for s, (_, moves) in zip(states, positions)])
    played = looking_ahead(batch, own, preference)
    changed = 0
    for k, (sfen, _) in enumerate(positions):
        legal = np.asarray(states[k].legal_action_mask)
        order = [a for a in np.argsort(-np.asarray(preference[k]), kind="stable") if legal[a]]
        ranked = [int(own[k])] + order[:LOOKAHEAD_CANDIDATES]
        kept = [kept_by_cshogi(cshogi.Board(sfen), sj.action_to_usi(states[k], a)) for a in ranked]
        expected = next(a for a, v in zip(ranked, kept) if v >= max(kept) - LOOKAHEAD_MARGIN)
        assert int(played[k]) == expected, sfen
        changed += expected != int(own[k])
    assert changed >= 1  # the premise: some played moves give up material another keeps
