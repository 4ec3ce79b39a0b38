"""Matches against external USI engines, with real processes: a deliberately faulty engine
(tests/engines/fault_engine.py) judged by our rules, and our own USI engine started as an
external one. Every move is replayed on cshogi's board."""
from __future__ import annotations

import sys
import time

import cshogi
import jax
import numpy as np
import pytest
from cshogi_material import UNPROMOTED_POINTS, balance
from engine_games import FAULT_ENGINE, replay

from shogi_jax.arena.engine_match import EnginePlayer, play_engine_match
from shogi_jax.arena.match import END_NAMES, FIRST_WINS, SECOND_WINS
from shogi_jax.arena.usi_client import EngineFailure, MoveLimit, UsiClient
from shogi_jax.play.players import Player
from shogi_jax.rules.state import STARTPOS_SFEN

# The full tier (python -m pytest -m ""): this module plays matches against engine processes.
pytestmark = pytest.mark.slow

OUR_ENGINE = (sys.executable, "-m", "shogi_jax.usi")
DEPTH_1 = MoveLimit(depth=1)


def fault_engine(fault: str, at: int = 2, **settings) -> EnginePlayer:
    return EnginePlayer(f"fault_{fault}", FAULT_ENGINE + (fault, str(at)), DEPTH_1, **settings)


def test_move_limits_and_the_client_handshake():
    assert MoveLimit(nodes=500).go_command() == "go nodes 500"
    assert MoveLimit(byoyomi_ms=100).go_command() == "go btime 0 wtime 0 byoyomi 100"
    with pytest.raises(ValueError, match="exactly one of"):
        MoveLimit(depth=1, movetime_ms=50)
    with pytest.raises(ValueError, match="depth must be > 0"):
        MoveLimit(depth=0)
    client = UsiClient(FAULT_ENGINE + ("none",), name="plain").start()
    assert client.engine_name == "fault_engine none"
    client.new_game()
    client.request_move(STARTPOS_SFEN, ["7g7f"], DEPTH_1)
    assert client.read_move(deadline=time.monotonic() + 30) in {
        cshogi.move_to_usi(m) for m in replay(STARTPOS_SFEN, ["7g7f"]).legal_moves}
    client.close()
    with pytest.raises(EngineFailure, match="cannot start") as failure:
        UsiClient(["/nonexistent/engine"], name="missing").start()
    assert failure.value.reason == "crash"
    with pytest.raises(EngineFailure, match="no answer to the handshake") as failure:
        UsiClient(FAULT_ENGINE + ("slowstart",), name="slow", startup_timeout=0.5).start()
    assert failure.value.reason == "timeout"


# fault -> (termination, words of the note, restarted: later games fail the same way)
FAULTS = {
    "illegal": ("illegal_action", "illegal USI move", False),
    "win": ("illegal_action", "declared a win", False),
    "resign": ("resignation", "resigned", False),
    "crash": ("disconnection", "exited during go (exit code 3)", True),
    "nomove": ("disconnection", "'bestmove' without a move", True),
    "silent": ("time_up", "no answer to go in time", True),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_the_referee_judges_an_engine_fault_and_the_match_goes_on(fault):
    termination, words, restarted = FAULTS[fault]
    faulty = fault_engine(fault, move_timeout=0.5)
    honest = fault_engine("none")
    games = play_engine_match(faulty, None, honest, None, games=4, key=jax.random.PRNGKey(0),
                              max_plies=12, concurrency=1)
    names = [END_NAMES[code] for code in games.termination]
    # Its second `go` (the process's, counted over its life) fails: game 0 at ply 2, where it
    # has Black. A restarted process counts afresh, so each later game fails the same way.
    failed = range(4) if restarted else [0]
    for g in range(4):
        board = replay(games.start_sfens[g], games.moves[g])
        if g in failed:
            assert names[g] == termination and words in games.notes[g] and "fault_" in \
                games.notes[g]
            assert games.outcome[g] == SECOND_WINS  # the faulty engine is the first player
            assert len(games.moves[g]) == (2 if games.first_is_black[g] else 3)
            assert board.turn == (0 if games.first_is_black[g] else 1)  # it was to move
        else:
            assert names[g] == "move_limit" and len(games.moves[g]) == 12
            assert games.notes[g] == ""


@pytest.mark.slow
def test_games_already_played_are_skipped_and_the_others_are_the_same_games():
    """What a resumed tournament asks: only the missing games, each as it would have been (its
    opening depends only on its colour pair; these engines play the first legal move)."""
    first, second = fault_engine("none"), fault_engine("none")
    settings = dict(games=4, key=jax.random.PRNGKey(5), max_plies=10, opening_plies=2,
                    concurrency=2)
    everything = play_engine_match(first, None, second, None, **settings)
    finished = []
    rest = play_engine_match(first, None, second, None, skip={0, 1},
                             on_finished=lambda indices, games: finished.extend(indices),
                             **settings)
    assert sorted(finished) == [2, 3]
    assert rest.moves == everything.moves[2:] and rest.start_sfens == everything.start_sfens[2:]
    assert everything.moves[2][:2] != everything.moves[0][:2]  # another pair, another opening


@pytest.mark.slow
def test_our_usi_engine_as_an_external_engine_against_an_on_device_player():
    """`python -m shogi_jax.usi --player greedy` in two processes (two games at once) against
    the on-device random player, whose moves come from one batched call. Slow (about 2 minutes
    on 2 cores: two engine processes start, compile and play whole games)."""
    engine = EnginePlayer("usi_greedy", OUR_ENGINE + ("--player", "greedy"), DEPTH_1,
                          startup_timeout=300)
    finished = []
    games = play_engine_match(engine, None, Player("random", "random"), None, games=4,
                              key=jax.random.PRNGKey(1), max_plies=80, opening_plies=2,
                              concurrency=2,
                              on_finished=lambda indices, done: finished.extend(indices))
    assert sorted(finished) == [0, 1, 2, 3]
    leads = 0
    for g in range(4):
        board = replay(games.start_sfens[g], games.moves[g])
        name = END_NAMES[games.termination[g]]
        if name == "checkmate":
            assert board.is_game_over() and games.winner_color[g] == 1 - board.turn
        else:
            assert name == "move_limit" and len(games.moves[g]) == 80
        greedy = 0 if games.first_is_black[g] else 1
        leads += balance(board, greedy, UNPROMOTED_POINTS) > 0
    assert games.moves[0][:2] == games.moves[1][:2]  # a colour pair shares its opening
    # Greedy-material against random: it captures whatever it can, so it wins or leads.
    assert np.sum(games.outcome == SECOND_WINS) == 0
    assert leads + np.sum(games.outcome == FIRST_WINS) >= 3, games.outcome



@pytest.mark.slow
def test_a_policy_checkpoint_as_an_external_engine():
    """The shipped network through `python -m shogi_jax.usi --pretrained` (two processes) against
    the on-device greedy player: legal moves, and it wins both games (it beats greedy 99% in
    shogi_jax/pretrained/README.md). Slow: whole games of a network in engine processes."""
    engine = EnginePlayer("pretrained", OUR_ENGINE + ("--pretrained",), DEPTH_1,
                          startup_timeout=300)
    games = play_engine_match(engine, None, Player("greedy", "greedy"), None, games=2,
                              key=jax.random.PRNGKey(4), max_plies=320, opening_plies=2,
                              concurrency=2)
    for g in range(2):
        replay(games.start_sfens[g], games.moves[g])
        assert END_NAMES[games.termination[g]] in ("checkmate", "impasse_declaration",
                                                   "no_legal_moves"), games.notes[g]
    assert list(games.outcome) == [FIRST_WINS, FIRST_WINS]


@pytest.mark.parametrize("in_step", [True, False])
def test_the_device_moves_in_step_every_other_tick(monkeypatch, in_step):
    """Games of both colours start so that the on-device side moves on the same ticks: one
    batched device call serves all of them every other tick (a search is costly), and the games
    are legal and complete. The engine plays the first legal move (fault 'none'). Without
    `device_in_step` (what scripts/bench_engine_match.py measures it against) the games are as
    legal and complete, and the device is called on ticks of both parities."""
    import shogi_jax.arena.engine_match as engine_match

    device_calls, steps = [], []
    act, step = engine_match._act_batch, engine_match._step_batch
    greedy = Player("greedy", "greedy")

    def counting_act(player, params, games, keys):
        if player == greedy:
            device_calls.append(len(steps))  # the tick it is called at
        return act(player, params, games, keys)

    def counting_step(*args, **kwargs):
        steps.append(1)
        return step(*args, **kwargs)

    monkeypatch.setattr(engine_match, "_act_batch", counting_act)
    monkeypatch.setattr(engine_match, "_step_batch", counting_step)
    games = play_engine_match(fault_engine("none"), None, greedy, None, games=8,
                              key=jax.random.PRNGKey(3), max_plies=16, opening_plies=2,
                              concurrency=4, device_in_step=in_step)
    assert [len(m) for m in games.moves] == [16] * 8  # every game to the move limit
    for g in range(8):
        replay(games.start_sfens[g], games.moves[g])
    if not in_step:  # games of both colours started together: the device moves on every tick
        assert {tick % 2 for tick in device_calls} == {0, 1}, device_calls
        return
    # Half of the 128 plies are greedy's, 4 games at once: 16 calls if all in step; 4 games out
    # of step would call it on nearly every one of the ~34 ticks.
    assert len({tick % 2 for tick in device_calls}) == 1, device_calls
    assert len(device_calls) <= len(steps) // 2 + 1
