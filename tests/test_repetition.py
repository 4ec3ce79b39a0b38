"""Fourfold repetition and perpetual check, judged as cshogi judges them."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import stack_states, unstack_state

import shogi_jax as sj

cshogi = pytest.importorskip("cshogi")

SEQUENCES = [
    # Kings shuffle from the start position: a plain draw.
    (None, ["5i5h", "5a5b", "5h5i", "5b5a"] * 4),
    # Black's rook checks on every move while White's king steps 1a <-> 2a: Black loses.
    ("8k/9/9/9/7R1/9/9/9/4K4 b - 1", ["2e1e", "1a2a", "1e2e", "2a1a"] * 4),
    # The same for White: White checks throughout and loses.
    ("4k4/9/9/9/1r7/9/9/9/K8 w - 1", ["8e9e", "9i8i", "9e8e", "8i9i"] * 4),
    # White in check at the start; Black keeps checking; the repeated position has White to move.
    ("8k/9/9/9/8R/9/9/9/4K4 w - 1", ["1a2a", "1e2e", "2a1a", "2e1e"] * 4),
    # Black's rook and White's king shuffle without checks: a draw.
    ("8k/9/9/9/7R1/9/9/9/4K4 b - 1", ["2e3e", "1a1b", "3e2e", "1b1a"] * 4),
    # With pieces in hand and on the board: drops and captures in the cycle.
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL b - 1",
     ["2h3h", "8b7b", "3h2h", "7b8b"] * 4),
]

EXPECTED = {
    cshogi.REPETITION_DRAW: (sj.REPETITION_DRAW, 0.0),
    cshogi.REPETITION_WIN: (sj.PERPETUAL_CHECK, 1.0),  # for the side to move
    cshogi.REPETITION_LOSE: (sj.PERPETUAL_CHECK, -1.0),
}


def _position_key(board):
    return " ".join(board.sfen().split()[:3])


@pytest.mark.parametrize("start,moves", SEQUENCES)
def test_fourfold_repetition_matches_cshogi(batched, start, moves):
    board = cshogi.Board(start) if start else cshogi.Board()
    state = sj.from_sfen(start) if start else sj.init()
    seen = {_position_key(board): 1}
    for ply, usi in enumerate(moves, start=1):
        batch = batched.step(stack_states([state]), np.array([sj.usi_to_action(state, usi)]))
        state = unstack_state(batch, 0)
        board.push_usi(usi)
        key = _position_key(board)
        seen[key] = seen.get(key, 0) + 1
        assert int(state.repetitions) == seen[key] - 1
        if seen[key] < 4:
            assert not bool(state.terminated), f"ended early at ply {ply}"
            continue
        reason, mover_result = EXPECTED[board.is_draw()]
        assert bool(state.terminated)
        assert int(state.termination) == reason
        mover = int(state.color)
        assert float(state.rewards[mover]) == mover_result
        assert float(state.rewards[1 - mover]) == -mover_result
        return
    pytest.fail("the sequence never reached a fourfold repetition")


# Two 4-ply loops from the same position: in A every Black move checks, in B none does.
LOOP_CHECKS = ["2e1e", "1a2b", "1e2e", "2b1a"]
LOOP_QUIET = ["2e3e", "1a1b", "3e2e", "1b1a"]


def test_perpetual_check_needs_checks_through_the_whole_repetition(batched):
    """Hand-worked, by the JSA rule: the start position occurs for the fourth time after
    A, B, A (ply 12). Black checked on every move since the third occurrence but not since the
    first, so it is a draw. (cshogi looks back only to the previous occurrence and would call it
    perpetual check: the one place where we deliberately differ.)"""
    state = sj.from_sfen("8k/9/9/9/7R1/9/9/9/4K4 b - 1")
    for usi in LOOP_CHECKS + LOOP_QUIET + LOOP_CHECKS:
        assert not bool(state.terminated)
        batch = batched.step(stack_states([state]), np.array([sj.usi_to_action(state, usi)]))
        state = unstack_state(batch, 0)
    assert int(state.ply) == 12 and int(state.repetitions) == 3
    assert bool(state.terminated) and int(state.termination) == sj.REPETITION_DRAW
    assert np.asarray(state.rewards).tolist() == [0.0, 0.0]
