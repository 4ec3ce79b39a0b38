"""Table checksums (repeated from shogi_jax.rules.tables) and observation planes."""
from __future__ import annotations

import jax
import numpy as np
import pytest

import shogi_jax as sj
from shogi_jax.rules import checks, tables
from shogi_jax.rules.observe import HAND_THRESHOLDS

cshogi = pytest.importorskip("cshogi")


def test_table_checksums():
    assert int(np.unpackbits(tables.OWN_STEP_BITS.view(np.uint8)).sum()) == 54
    assert int(np.unpackbits(tables.OWN_SLIDE_BITS.view(np.uint8)).sum()) == 17
    assert int((tables.REVERSE_RAY < 81).sum()) == 2224
    assert int((checks.RAY < 81).sum()) == 2112
    assert int(checks.STEP_ATTACKS.sum()) == 3680 and int(checks.SLIDE_ATTACKS.sum()) == 4548
    assert checks.OPPOSITE.tolist() == [5, 7, 6, 4, 3, 0, 2, 1]  # Up-Down, UpLeft-DownRight, ...


observe = jax.jit(sj.observe)
MATSURI = "l6nl/5+P1gk/2np1S3/p1p4Pp/3P2Sp1/1PPb2P1P/P5GS1/R8/LN4bKL w RGgsn5p 1"


def test_observation_shape_and_pieces_match_cshogi_board():
    state = sj.from_sfen(MATSURI)
    obs = np.asarray(observe(state))
    assert obs.shape == (9, 9, sj.NUM_OBSERVATION_PLANES) == (9, 9, 94)
    # A numpy reference from cshogi's board: codes 1..14 Black, 17..30 White, in our type order,
    # square = 9 * (file - 1) + (rank - 1); rotated 180 degrees because White is to move.
    board = cshogi.Board(MATSURI)
    pieces = np.array(board.pieces)[::-1]
    expected = np.zeros((81, 28), np.float32)
    for sq, code in enumerate(pieces):
        if code:
            white, piece_type = divmod(int(code) - 1, 16)
            expected[sq, 14 * (1 - white) + piece_type] = 1  # White is the mover
    np.testing.assert_array_equal(obs[..., :28].reshape(81, 28), expected)


def test_hand_check_and_attack_planes():
    state = sj.from_sfen(MATSURI)  # White to move: hand g s n 5p; Black's R G
    obs = np.asarray(observe(state))[0, 0]
    own_hand, opp_hand = obs[28:56], obs[56:84]
    starts = np.cumsum((0,) + HAND_THRESHOLDS)
    assert own_hand[starts[0]:starts[1]].tolist() == [1] * 5 + [0] * 3  # 5 pawns
    assert own_hand[starts[6]:starts[7]].tolist() == [1, 0, 0, 0]  # 1 gold
    assert opp_hand[starts[5]:starts[6]].tolist() == [1, 0]  # 1 rook
    assert obs[84] == float(board_in_check(MATSURI))
    # Attack counts hand-checked on the start position: 7h is reached by the 6i gold, the 7i
    # silver and the 8h bishop; 7f only by the 7g pawn.
    start = np.asarray(observe(sj.init()))
    seven_h = (7 - 1, 8 - 1)
    assert start[seven_h][88:91].tolist() == [1, 1, 1]
    seven_f = (7 - 1, 6 - 1)
    assert start[seven_f][88:91].tolist() == [1, 0, 0]
    assert start[seven_f][91:94].tolist() == [0, 0, 0]  # White reaches no square on rank f


def board_in_check(sfen):
    return cshogi.Board(sfen).is_check()


@pytest.mark.parametrize("sfen", [
    "lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL b - 1",
    "ln1g3nl/1r1s1kg2/p1pppp1pp/6s2/1p5P1/2P1P4/PPBP1PP1P/2G4R1/LN2KGSNL b Bp 1",
    "l6nl/5+P1gk/2np1S3/p1p4Pp/3P2Sp1/1PPb2P1P/P5GS1/R8/LN4bKL w RGgsn5p 1",
])
def test_attack_planes_are_the_same_from_either_side(sfen):
    """The mover's attack planes equal the opponent-attack planes of the same board with the other
    side to move, turned 180 degrees (two different code paths)."""
    other_side = sfen.replace(" b ", " x ").replace(" w ", " b ").replace(" x ", " w ")
    mine = np.asarray(observe(sj.from_sfen(sfen)))
    theirs = np.asarray(observe(sj.from_sfen(other_side)))[::-1, ::-1]
    assert mine.dtype == np.bool_
    np.testing.assert_array_equal(mine[..., 88:91], theirs[..., 91:94])
    np.testing.assert_array_equal(mine[..., 91:94], theirs[..., 88:91])
    assert mine[..., 88:94].any()
