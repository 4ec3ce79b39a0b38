"""Differential tests: our legal moves, check status and game outcomes against cshogi's, over
positions from seeded random playouts (openings, middlegames with full hands, checks, mates)."""
from __future__ import annotations

import jax
import numpy as np
import pytest
from conftest import CHUNK, legal_usi_set, stack_states, unstack_state

import shogi_jax as sj

cshogi = pytest.importorskip("cshogi")

NUM_GAMES = 24
PLIES = 110  # 24 x 110 > 2,000 positions, from the opening to crowded hands


def _choose(rng, board, moves):
    """A random move, preferring captures and checks three times in four and a mate in one when
    there is one: playouts then reach checks, full hands and mates sooner than uniform play."""
    if board.move_number >= 60 and not board.is_check():  # cshogi assumes no check here
        mate = board.mate_move_in_1ply()
        if mate:
            return mate
    if rng.random() < 0.75:
        checks = set(board.check_moves)
        sharp = [m for m in moves if board.piece(cshogi.move_to(m)) != 0 or m in checks]
        if sharp:
            return sharp[rng.integers(len(sharp))]
    return moves[rng.integers(len(moves))]


def playout_positions(batched, seed, num_games=NUM_GAMES, plies=PLIES):
    """Plays cshogi and shogi_jax in lock step; yields (cshogi board, our state) per position."""
    rng = np.random.default_rng(seed)
    boards = [cshogi.Board() for _ in range(num_games)]
    states = stack_states([sj.init(impasse=False)] * num_games)
    live = np.ones(num_games, bool)
    for _ in range(plies):
        actions = np.zeros(num_games, np.int32)
        for g in np.nonzero(live)[0]:
            ours = unstack_state(states, g)
            yield boards[g].copy(), ours
            moves = list(boards[g].legal_moves)
            if not moves or bool(ours.terminated):
                live[g] = False
                continue
            move = _choose(rng, boards[g], moves)
            actions[g] = sj.usi_to_action(ours, cshogi.move_to_usi(move))
            boards[g].push(move)
        if not live.any():
            return
        states = batched.step(states, actions)


@pytest.fixture(scope="module")
def positions(batched_no_impasse):
    return list(playout_positions(batched_no_impasse, seed=2026))


def test_enough_varied_positions(positions):
    assert len(positions) >= 2000
    assert sum(b.is_check() for b, _ in positions) >= 100
    assert sum(len(list(b.legal_moves)) == 0 for b, _ in positions) >= 3  # mates
    assert max(sum(b.pieces_in_hand[0]) + sum(b.pieces_in_hand[1]) for b, _ in positions) >= 12


def test_legal_moves_check_and_outcome_match_cshogi(positions):
    mismatches = []
    for board, state in positions:
        expected = {cshogi.move_to_usi(m) for m in board.legal_moves}
        sfen = board.sfen()
        if bool(state.in_check) != board.is_check():
            mismatches.append((sfen, "check", bool(state.in_check)))
        if not expected:
            reason = sj.CHECKMATE if board.is_check() else sj.NO_LEGAL_MOVES
            if not (bool(state.terminated) and int(state.termination) == reason):
                mismatches.append((sfen, "outcome", int(state.termination)))
            loser = int(state.color)
            expected = [(-1.0 if c == loser else 1.0) for c in (0, 1)]
            if np.asarray(state.rewards).tolist() != expected:
                mismatches.append((sfen, "rewards", np.asarray(state.rewards).tolist()))
            continue
        ours = legal_usi_set(state)
        if ours != expected or bool(state.terminated):
            mismatches.append((sfen, "moves", sorted(ours - expected), sorted(expected - ours)))
    assert not mismatches, mismatches[:5]


def test_sfen_round_trip_matches_cshogi(positions):
    for board, state in positions[::7]:
        ours = sj.to_sfen(state)
        assert ours.split()[:3] == board.sfen().split()[:3]
        assert sj.to_sfen(sj.from_sfen(ours)).split()[:3] == ours.split()[:3]


def test_checking_actions_are_the_checks_cshogi_generates(positions):
    """`checking_actions` (read off attack tables) is cshogi's set of legal checking moves in
    every position of the playouts, discovered checks included; none once a game is over."""
    from shogi_jax.rules.checks import checking_actions

    checks = jax.jit(jax.vmap(checking_actions))
    mismatches, total = [], 0
    for start in range(0, len(positions), CHUNK):
        chunk = positions[start:start + CHUNK]
        padded = [state for _, state in chunk] + [chunk[0][1]] * (CHUNK - len(chunk))
        found = np.asarray(checks(stack_states(padded)))
        for (board, state), row in zip(chunk, found):
            ours = {sj.action_to_usi(state, int(a)) for a in np.flatnonzero(row)}
            legal = {cshogi.move_to_usi(m) for m in board.legal_moves}
            expected = set() if bool(state.terminated) else (
                {cshogi.move_to_usi(m) for m in board.check_moves} & legal)
            total += len(expected)
            if ours != expected:
                mismatches.append((board.sfen(), sorted(ours - expected), sorted(expected - ours)))
    assert not mismatches, mismatches[:5]
    assert total >= 2000  # the premise: the playouts check often
