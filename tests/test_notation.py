"""SFEN and USI text: round trips, and malformed input raising ValueError that names the fault."""
from __future__ import annotations

import numpy as np
import pytest

import shogi_jax as sj
from shogi_jax.notation.sfen import parse_sfen
from shogi_jax.rules.state import START_BOARD, STARTPOS_SFEN


@pytest.mark.parametrize("sfen", [
    "lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL b - 1",
    "l6nl/5+P1gk/2np1S3/p1p4Pp/3P2Sp1/1PPb2P1P/P5GS1/R8/LN4bKL w RGgsn5p 1",
    "R8/2K1S1SSk/4B4/9/9/9/9/9/1L1L1L3 b RBGSNLP3g3n17p 1",
    "8k/9/9/9/7R1/9/9/9/4K4 b - 37",
])
def test_sfen_round_trip(sfen):
    assert sj.to_sfen(sj.from_sfen(sfen)) == sfen


def test_start_board_is_the_start_sfen():
    board, hands, color, move_number = parse_sfen(STARTPOS_SFEN)
    assert np.array_equal(board, START_BOARD) and not hands.any() and (color, move_number) == (0, 1)
    assert sj.to_sfen(sj.init()) == STARTPOS_SFEN


@pytest.mark.parametrize("sfen,fault", [
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1 b - 1", "8 ranks"),
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL x - 1", "side to move"),
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNLL b - 1", "more than 9"),
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSN b - 1", "8 squares"),
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGXGSNL b - 1", "unknown piece 'X'"),
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSG+KGSNL b - 1", "unknown piece +'K'"),
    ("lnsg1gsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL b - 1", "White has 0 kings"),
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL b P 1", "19 pieces of kind P"),
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL b 2Q 1", "unknown piece 'Q'"),
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL b - 0", "move number"),
    ("P3k4/9/9/9/9/9/9/9/4K4 b - 1", "never leave"),
    ("4k4/9/9/9/9/4P4/4P4/9/4K4 b - 1", "two unpromoted pawns"),
    ("4k4/4R4/9/9/9/9/9/9/4K4 b - 1", "side not to move is in check"),
    ("", "expected 'BOARD SIDE HANDS [MOVE]'"),
])
def test_malformed_sfen_names_the_fault(sfen, fault):
    with pytest.raises(ValueError, match=None) as error:
        sj.from_sfen(sfen)
    assert fault in str(error.value)


def test_usi_round_trip_over_all_start_moves():
    state = sj.init()
    for action in np.nonzero(np.asarray(state.legal_action_mask))[0]:
        assert sj.usi_to_action(state, sj.action_to_usi(state, action)) == action


def test_pgx_encoding_facts():
    # Action 5 is Black's 1g1f; after it, White's action 59 is 3c3d (as pgx encodes them).
    state = sj.init()
    assert sj.action_to_usi(state, 5) == "1g1f"
    assert sj.action_to_usi(sj.step(state, 5), 59) == "3c3d"


@pytest.mark.parametrize("usi,fault", [
    ("8h2b", "blocked"), ("7g7e", "illegal"), ("5e5d", "no piece on 5e"),
    ("7g5f", "no piece moves from 7g to 5f"), ("3c3d", "not yours"),
    ("X*5e", "not a droppable piece"), ("P*5e", "illegal USI move 'P*5e'"), ("7g7f+", "illegal"),
    ("7g", "expected e.g."), ("0g7f", "not a square"), ("7j7f", "not a square"),
])
def test_bad_usi_names_the_move_and_reason(usi, fault):
    with pytest.raises(ValueError) as error:
        sj.usi_to_action(sj.init(), usi)
    assert fault in str(error.value) and usi[:2] in str(error.value)
