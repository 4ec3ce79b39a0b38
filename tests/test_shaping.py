"""Material reward shaping: balance, the reward for a capture, and the annealed weight, against
hand-counted numbers."""
from __future__ import annotations

import jax.numpy as jnp
import pytest

import shogi_jax as sj
from shogi_jax.shaping import material_balance, material_reward, material_weight


def test_start_position_is_balanced():
    assert float(material_balance(sj.init())) == 0.0


def test_balance_counts_board_and_hands_from_the_mover():
    # Black: king, gold on board, rook in hand (6 + 10); White: king, silver, 2 pawns (5 + 2).
    state = sj.from_sfen("4k4/4s4/9/9/9/9/9/4G4/4K4 b R2p 1")
    assert float(material_balance(state)) == (6 + 10) - (5 + 2)
    white_to_move = sj.from_sfen("4k4/4s4/9/9/9/9/9/4G4/4K4 w R2p 1")
    assert float(material_balance(white_to_move)) == (5 + 2) - (6 + 10)


def test_a_capture_earns_twice_the_piece_for_the_mover():
    # Black's rook on 5e takes the silver on 5b: the silver leaves White's side (5) and joins
    # Black's hand (5): +10 for Black.
    before = sj.from_sfen("4k4/4s4/9/9/4R4/9/9/9/4K4 b - 1")
    after = sj.step(before, sj.usi_to_action(before, "5e5b"))
    assert float(material_reward(before, after, jnp.float32(0.5))) == pytest.approx(0.5 * 10)
    quiet = sj.step(before, sj.usi_to_action(before, "5e4e"))
    assert float(material_reward(before, quiet, jnp.float32(0.5))) == 0.0


@pytest.mark.parametrize("steps, expected", [(0, 0.2), (500, 0.1), (1000, 0.0), (5000, 0.0)])
def test_weight_anneals_linearly_to_zero(steps, expected):
    assert float(material_weight(0.2, 1000, jnp.float32(steps))) == pytest.approx(expected)


def test_weight_is_constant_without_annealing():
    assert float(material_weight(0.3, 0, jnp.float32(10**6))) == pytest.approx(0.3)


def test_promotion_scores_only_when_promotions_count():
    # Black's pawn on 5d steps to 5c and promotes: +5 (pawn 1 -> tokin 6) when promotions count,
    # nothing by captures only.
    before = sj.from_sfen("4k4/9/9/4P4/9/9/9/9/4K4 b - 1")
    promoted = sj.step(before, sj.usi_to_action(before, "5d5c+"))
    assert float(material_reward(before, promoted, jnp.float32(1.0), True)) == 5.0
    assert float(material_reward(before, promoted, jnp.float32(1.0), False)) == 0.0


def test_capturing_a_promoted_piece_by_captures_only_scores_its_base_piece():
    # Black's gold takes White's dragon on 5b: the rook goes to Black's hand. Captures only: the
    # dragon counts as a rook, 10 off White and 10 into Black's hand (+20); counting promotions,
    # 12 off White and 10 into the hand (+22).
    before = sj.from_sfen("4k4/4+r4/4G4/9/9/9/9/9/4K4 b - 1")
    after = sj.step(before, sj.usi_to_action(before, "5c5b"))
    assert float(material_reward(before, after, jnp.float32(1.0), False)) == 20.0
    assert float(material_reward(before, after, jnp.float32(1.0), True)) == 22.0
    assert float(material_balance(before, count_promotions=False)) == 6 - 10
