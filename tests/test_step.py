"""Step behaviour around the edges: illegal actions, finished games, the move limit, impasse."""
from __future__ import annotations

import functools

import jax
import numpy as np
import pytest

import shogi_jax as sj
from shogi_jax.rules.impasse import can_declare

cshogi = pytest.importorskip("cshogi")

step = jax.jit(sj.step)


@pytest.mark.parametrize("action", [0, 2186, -1, 5000])
def test_illegal_action_loses_for_its_player(action):
    state = step(sj.init(), 5)  # White to move
    after = step(state, action)
    assert bool(after.terminated) and not bool(after.truncated)
    assert int(after.termination) == sj.ILLEGAL_ACTION
    assert np.asarray(after.rewards).tolist() == [1.0, -1.0]  # White played it and loses
    assert np.array_equal(np.asarray(after.board), np.asarray(state.board))


def test_finished_game_passes_through_with_zero_rewards():
    over = step(sj.init(), 0)
    again = step(over, 5)
    assert np.asarray(again.rewards).tolist() == [0.0, 0.0]
    assert int(again.ply) == int(over.ply)
    assert bool(again.terminated) and np.asarray(again.legal_action_mask).all()


def test_move_limit_truncates_as_a_draw():
    limited = jax.jit(functools.partial(sj.step, max_plies=4))
    state = sj.init(max_plies=4)
    for ply, usi in enumerate(["7g7f", "3c3d", "2g2f", "4c4d"], start=1):
        state = limited(state, sj.usi_to_action(state, usi))
        assert bool(state.truncated) == (ply == 4)
    assert not bool(state.terminated)
    assert int(state.termination) == sj.MOVE_LIMIT
    assert np.asarray(state.rewards).tolist() == [0.0, 0.0]


# Black: king on 5b, 18 pieces in the zone worth 27 points, plus what the hand adds.
IMPASSE_BLACK = "+L+NSG1GS+N+L/1B2K2R1/PPPPPPPPP/9/9/9/9/9/4k4 b {hand} 1"
# The same position, rotated, for White.
IMPASSE_WHITE = "4K4/9/9/9/9/9/ppppppppp/1r2k2b1/+l+ngs1sg+n+l w {hand} 1"


@pytest.mark.parametrize("template,hand", [(IMPASSE_BLACK, "P"), (IMPASSE_BLACK, "-"),
                                           (IMPASSE_WHITE, "p"), (IMPASSE_WHITE, "-")])
def test_impasse_declaration_matches_cshogi(template, hand):
    sfen = template.format(hand=hand)
    expected = cshogi.Board(sfen).is_nyugyoku()
    state = sj.from_sfen(sfen)
    assert bool(can_declare(state.board, state.hand, state.color, state.in_check)) == expected
    assert bool(state.terminated) == expected
    if expected:
        assert int(state.termination) == sj.IMPASSE_DECLARATION
        assert float(state.rewards[int(state.color)]) == 1.0
    no_rule = sj.from_sfen(sfen, impasse=False)
    assert not bool(no_rule.terminated)


def test_impasse_points_threshold_differs_by_colour():
    # 27 points: not enough for Black (28 needed), enough for White.
    assert not bool(sj.from_sfen(IMPASSE_BLACK.format(hand="-")).terminated)
    assert bool(sj.from_sfen(IMPASSE_WHITE.format(hand="-")).terminated)


def test_vmap_and_jit_over_a_batch():
    batch = jax.vmap(lambda _: sj.init())(np.arange(3))
    out = jax.jit(jax.vmap(sj.step))(batch, np.array([5, 7, 14], np.int32))
    assert out.board.shape == (3, 81) and out.legal_action_mask.shape == (3, 2187)
    assert np.asarray(out.color).tolist() == [1, 1, 1]
