"""Perft (leaf counts of the legal-move tree) against published figures and cshogi."""
from __future__ import annotations

import jax
import numpy as np
import pytest
from conftest import stack_states

import shogi_jax as sj

cshogi = pytest.importorskip("cshogi")

MATSURI = "l6nl/5+P1gk/2np1S3/p1p4Pp/3P2Sp1/1PPb2P1P/P5GS1/R8/LN4bKL w RGgsn5p 1"
MAX_MOVES = "R8/2K1S1SSk/4B4/9/9/9/9/9/1L1L1L3 b RBGSNLP3g3n17p 1"
# A position with pins, a checking slider and pawn-drop mate chances (from a random playout).
MIDGAME = "ln1g3nl/1r1s1kg2/p1pppp1pp/1p4p2/7P1/2P6/PP1PPPP1P/1BG4R1/LN2KGSNL b BS 1"


def perft(batched, root, depth):
    """Leaf count at `depth` by expanding the tree level by level in batches."""
    frontier = stack_states([root])
    for _ in range(depth - 1):
        mask = np.asarray(frontier.legal_action_mask) & ~np.asarray(frontier.terminated)[:, None]
        parents, actions = np.nonzero(mask)
        frontier = batched.step(jax.tree_util.tree_map(lambda x: x[parents], frontier), actions)
    live = ~np.asarray(frontier.terminated)
    return int(np.asarray(frontier.legal_action_mask)[live].sum())


def cshogi_perft(board, depth):
    if depth == 0:
        return 1
    moves = list(board.legal_moves)
    if depth == 1:
        return len(moves)
    total = 0
    for move in moves:
        board.push(move)
        total += cshogi_perft(board, depth - 1)
        board.pop()
    return total


@pytest.mark.parametrize("depth,expected", [(1, 30), (2, 900), (3, 25470)])
def test_perft_start(batched_no_impasse, depth, expected):
    assert perft(batched_no_impasse, sj.init(impasse=False), depth) == expected


@pytest.mark.slow
def test_perft_start_depth4(batched_no_impasse):
    assert perft(batched_no_impasse, sj.init(impasse=False), 4) == 719731


@pytest.mark.parametrize("sfen,depth", [(MATSURI, 1), (MATSURI, 2), (MAX_MOVES, 1),
                                        (MAX_MOVES, 2), (MIDGAME, 2)])
def test_perft_tricky_positions_match_cshogi(batched_no_impasse, sfen, depth):
    ours = perft(batched_no_impasse, sj.from_sfen(sfen, impasse=False), depth)
    assert ours == cshogi_perft(cshogi.Board(sfen), depth)


def test_published_tricky_figures(batched_no_impasse):
    assert perft(batched_no_impasse, sj.from_sfen(MATSURI, impasse=False), 1) == 207
    assert perft(batched_no_impasse, sj.from_sfen(MATSURI, impasse=False), 2) == 28684
    assert perft(batched_no_impasse, sj.from_sfen(MAX_MOVES, impasse=False), 1) == 593
