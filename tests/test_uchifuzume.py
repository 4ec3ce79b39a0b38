"""Uchifuzume (a pawn drop that mates is illegal): hand-built positions against cshogi, and the
fast rule (attacks on the king's flights and on the pawn) against the slow one (generating every
reply after the drop) on thousands of dense random positions."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import shogi_jax as sj
from shogi_jax.rules import legal
from shogi_jax.rules.attacks import king_safety, sides_of, swap_sides
from shogi_jax.rules.bitboards import FILE_MASK, is_empty, ray_fill, shift, unpack
from shogi_jax.rules.board import (
    DIRECTIONS,
    KING,
    NUM_DIRECTIONS,
    NUM_LINE_DIRECTIONS,
    NUM_PIECE_TYPES,
    OPP_OFFSET,
    OWN_OFFSET,
)

cshogi = pytest.importorskip("cshogi")

# (SFEN, whether P*1b is legal). White's king on 1a; Black drops a pawn on 1b, giving check.
CASES = [
    # Lance 2a and pawn 2b box the king in, the knight on 2d guards 1b: mate by pawn drop.
    ("7lk/7p1/9/7N1/9/9/9/9/4K4 b P 1", False),
    # Without the knight the king takes the pawn: a check, not mate, so legal.
    ("7lk/7p1/9/9/9/9/9/9/4K4 b P 1", True),
    # The gold on 2b could take the pawn, but the bishop on 4d pins it to the king: mate.
    ("7lk/7g1/9/5B1N1/9/9/9/9/4K4 b P 1", False),
    # Without the pin the gold takes the pawn: legal.
    ("7lk/7g1/9/7N1/9/9/9/9/4K4 b P 1", True),
    # The king could flee to 2a or 2b, but the rook on 2i sees both up the empty file, and the
    # gold on 1c guards the pawn (and 2b): mate.
    ("8k/9/8G/9/9/9/9/9/4K2R1 b P 1", False),
    # The rook blocked by Black's own gold on 2e no longer guards 2a: the king flees, legal.
    ("8k/9/8G/9/7G1/9/9/9/4K2R1 b P 1", True),
]


@pytest.mark.parametrize("sfen, legal_drop", CASES)
def test_pawn_drop_mate_matches_cshogi(sfen, legal_drop):
    board = cshogi.Board(sfen)
    cshogi_moves = {cshogi.move_to_usi(m) for m in board.legal_moves}
    assert ("P*1b" in cshogi_moves) == legal_drop  # the case is what its comment says
    state = sj.from_sfen(sfen)
    ours = {sj.action_to_usi(state, a) for a in np.nonzero(np.asarray(state.legal_action_mask))[0]}
    assert ours == cshogi_moves


def _random_dense_boards(rng, n):
    """int32[n, 81] mover-frame boards: two kings and ~40% of the other squares filled with
    random pieces of random owners, the opponent's king often near the edge."""
    boards = np.zeros((n, 81), np.int32)
    for i in range(n):
        squares = rng.permutation(81)
        boards[i, squares[0]] = KING + OWN_OFFSET
        boards[i, squares[1]] = KING + OPP_OFFSET
        filled = squares[2:][rng.random(79) < 0.4]
        types = rng.choice([t for t in range(NUM_PIECE_TYPES) if t != KING], len(filled))
        owners = np.where(rng.random(len(filled)) < 0.5, OWN_OFFSET, OPP_OFFSET)
        boards[i, filled] = types + owners
    return boards


def _has_board_move(sides):
    """bool[L]: whether the mover has any legal board move, by generating them all (the slow
    reference: king safety, mobile pieces, every direction)."""
    safety = king_safety(sides)
    evasion = legal._evasion_targets(safety)
    empty, target = ~sides.occupied, ~sides.own & evasion
    steppers, sliders = legal._mobile_pieces(sides, safety)
    reached = jnp.bitwise_or.reduce(legal._king_moves(sides), axis=0)
    for d in range(NUM_DIRECTIONS):
        reached = reached | (shift(steppers[d], DIRECTIONS[d]) & target)
        if d < NUM_LINE_DIRECTIONS:
            reached = reached | (ray_fill(sliders[d], empty, DIRECTIONS[d]) & target)
    return ~is_empty(reached)


def _pawn_drop_mates_by_search(sides, pawn_drops):
    """The reference for `legal._pawn_drop_mates`: drop the pawn, then look for any reply."""
    pawn = shift(sides.opp_king, legal._DOWN) & pawn_drops
    with_pawn = sides._replace(own=sides.own | pawn,
                               own_step=sides.own_step.at[0].set(sides.own_step[0] | pawn))
    escapes = _has_board_move(swap_sides(with_pawn))
    return jnp.where(escapes, jnp.uint32(0), pawn).astype(jnp.uint32)


@jax.jit
def _fast_and_slow(boards):
    """For L boards (int32[81, L]) with a pawn drop allowed on every empty square: the mating
    drop by each rule, and whether the opponent's king is (illegally) in check already."""
    sides = sides_of(boards.reshape(9, 9, -1))
    drops = ~sides.occupied & FILE_MASK
    opponent_in_check = king_safety(swap_sides(sides)).num_checkers > 0
    return (legal._pawn_drop_mates(sides, drops), _pawn_drop_mates_by_search(sides, drops),
            opponent_in_check)


def test_fast_uchifuzume_rule_equals_reply_generation():
    rng = np.random.default_rng(7)
    boards = _random_dense_boards(rng, 8192)
    fast, slow, opponent_in_check = (np.asarray(x) for x in _fast_and_slow(jnp.asarray(boards.T)))
    valid = ~opponent_in_check  # positions where the mover could take the king mean nothing
    fast_mates = unpack(jnp.asarray(fast)).any(axis=(0, 1))
    slow_mates = unpack(jnp.asarray(slow)).any(axis=(0, 1))
    assert np.array_equal(np.asarray(fast_mates)[valid], np.asarray(slow_mates)[valid])
    assert valid.sum() > 2000
    assert np.asarray(slow_mates)[valid].sum() >= 20  # enough mating drops to mean something
