"""The USI engine: the protocol loop with a fake mover (no JAX), and the real engine driven by a
real USI client (cshogi's `cshogi.usi.Engine`) and by cshogi's tournament runner
(`python -m cshogi.cli`); cshogi's board referees every move."""
from __future__ import annotations

import io
import logging
import random
import re
import subprocess
import sys
from pathlib import Path

import cshogi
import numpy as np
import pytest
from conftest import save_untrained_smoke_run
from cshogi import CSA
from cshogi.usi.Engine import Engine
from mate_positions import MATES_IN_ONE

import shogi_jax.usi.protocol as protocol
from shogi_jax.arena import csa_results
from shogi_jax.play.network import load_network
from shogi_jax.usi.protocol import Answer, UsiError, centipawns, serve

# The full tier (python -m pytest -m ""): this module
# starts our USI engine as processes, with networks.
pytestmark = pytest.mark.slow

CHECKMATED = "8k/7G1/7G1/9/9/9/9/9/K8 w - 1"  # White to move, mated by the two golds
CAN_DECLARE = "RRBBGG1K1/GGSS5/9/9/9/9/9/9/4k4 b 2P 1"  # Black: 10 pieces in the zone, 28 points


# --- the protocol with a fake mover -------------------------------------------------------------


class FakeMover:
    """A `Mover` without JAX: plays 7g7f with value 0.5 on any position; "zz" is an illegal move."""

    name = "fake mover"
    options = ("Temperature", "Seed")

    def __init__(self):
        self.calls = []
        self.position = None

    def prepare(self):
        self.calls.append("prepare")

    def set_temperature(self, temperature):
        self.calls.append(("temperature", temperature))

    def set_seed(self, seed):
        self.calls.append(("seed", seed))

    def set_position(self, base, moves):
        self.position = None
        if "zz" in moves:
            raise UsiError(f"move {moves.index('zz') + 1}: bad USI move 'zz'")
        self.position = (base, moves)

    def clear(self):
        self.position = None

    def best_move(self, info, limits):
        self.calls.append(("go", limits))
        if self.position is None:
            return None
        info("a remark")
        return Answer("7g7f", 0.5)


def _session(*lines, mover=None):
    """The engine's answers to these input lines, one string per line."""
    output = io.StringIO()
    serve(mover or FakeMover(), io.StringIO("".join(line + "\n" for line in lines)), output)
    return output.getvalue().splitlines()


def test_the_protocol_runs_without_jax():
    """The protocol module, loaded alone in a fresh interpreter, serves a whole exchange with a
    mover of a few lines, and neither JAX nor numpy is ever imported."""
    code = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("protocol", {protocol.__file__!r})
protocol = importlib.util.module_from_spec(spec)
spec.loader.exec_module(protocol)

class Mover:
    name = "tiny"
    options = ()
    def prepare(self): pass
    def set_position(self, base, moves): self.moves = moves
    def clear(self): pass
    def best_move(self, info, limits): return protocol.Answer(self.moves[-1], -0.5)

protocol.serve(Mover(), ["usi", "isready", "position startpos moves 7g7f 3c3d", "go", "quit"],
               sys.stdout)
assert not {{"jax", "numpy", "shogi_jax"}} & set(sys.modules), sorted(sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    *_, ready, score, bestmove = done.stdout.splitlines()
    assert (ready, bestmove) == ("readyok", "bestmove 3c3d")
    assert score.startswith("info depth 1") and score.endswith(" score cp -659 pv 3c3d")


def test_the_handshake_options_and_readiness_reach_the_mover():
    mover = FakeMover()
    assert _session("usi", "setoption name Temperature value 0.5", "setoption name Seed value 7",
                    "setoption name USI_Hash value 256", "isready", "isready", mover=mover) == [
        "id name fake mover", "id author the shogi_jax team",
        "option name Temperature type string default 0",
        "option name Seed type spin default 0 min 0 max 2147483647", "usiok",
        "readyok", "readyok"]
    assert mover.calls == [("temperature", 0.5), ("seed", 7), "prepare", "prepare"]


def test_go_answers_with_the_score_and_the_movers_remarks():
    lines = _session("position startpos moves 2g2f", "go btime 0 wtime 0 byoyomi 100",
                     "go mate 1000")
    assert lines[0] == "info string a remark"
    assert lines[1].startswith("info depth 1 seldepth 1 time ")
    assert " nodes 1 nps " in lines[1]
    assert lines[1].endswith(f" score cp {centipawns(0.5)} pv 7g7f")
    assert lines[2:] == ["bestmove 7g7f", "checkmate notimplemented"]


def test_go_limits_reach_the_mover_and_options_are_the_movers():
    mover = FakeMover()
    _session("position startpos", "go btime 0 wtime 0 byoyomi 100", "go depth 3 nodes 500",
             "go infinite", "stop", mover=mover)
    assert [call for call in mover.calls if call[0] == "go"] == [
        ("go", {"btime": 0, "wtime": 0, "byoyomi": 100}), ("go", {"depth": 3, "nodes": 500}),
        ("go", {})]
    assert _session("position startpos", "go depth three")[0] == \
        "info string error: go depth: 'three' is not a whole number"

    class Plain(FakeMover):
        options = ()

    plain = Plain()
    assert _session("usi", "setoption name Seed value 7", mover=plain) == [
        "id name fake mover", "id author the shogi_jax team", "usiok",
        "info string error: option Seed is not offered by fake mover (ignored)"]
    assert plain.calls == []


def test_go_infinite_and_ponder_hold_the_move_until_stop_or_ponderhit():
    for go, release in (("go infinite", "stop"), ("go ponder btime 0 wtime 0 byoyomi 100",
                                                  "ponderhit")):
        lines = _session("position startpos", go, "isready", release, "stop")
        # answered in order: a bestmove before readyok would not have been held
        assert [line for line in lines if not line.startswith("info")] == \
            ["readyok", "bestmove 7g7f"], lines
    # a new game or a game over drops the held move
    for end in ("usinewgame", "gameover lose"):
        assert not any(line.startswith("bestmove")
                       for line in _session("position startpos", "go infinite", end, "stop"))


def test_malformed_input_is_explained_and_the_protocol_serves_on():
    bad = {
        "position": "bad position command",
        "position sfen": "bad position command",
        "setoption name Temperature value -1": "option Temperature: '-1' must be a number >= 0",
        "setoption name Temperature value x": "option Temperature: 'x' is not a number",
        "setoption name Seed value -1": "option Seed: '-1' is not an integer",
        "setoption Temperature 1": "bad setoption",
        "setoption name Nonsense value 3": "unknown option 'Nonsense'",
        "gameover maybe": "bad gameover result",
        "frobnicate 1 2": "unknown command 'frobnicate'",
    }
    for command, reason in bad.items():
        lines = _session(command, "isready")
        assert len(lines) == 2 and lines[0].startswith("info string") and reason in lines[0], \
            (command, lines)
        assert lines[1] == "readyok"


def test_a_go_without_a_position_explains_itself_and_resigns():
    assert _session("go") == [
        "info string cannot move: no position was set (send 'position startpos' first)",
        "bestmove resign"]
    lines = _session("position startpos moves 7g7f zz", "go", "position startpos", "go")
    assert lines[:3] == ["info string error: move 2: bad USI move 'zz'",
                         "info string cannot move: move 2: bad USI move 'zz'", "bestmove resign"]
    assert lines[-1] == "bestmove 7g7f"  # the next good position is served normally
    assert _session("position startpos", "usinewgame", "go")[-1] == "bestmove resign"


def test_an_unexpected_error_is_named_and_the_engine_serves_on():
    class Broken(FakeMover):
        def best_move(self, info, limits):
            raise RuntimeError("device lost")

    assert _session("position startpos", "go", "isready", mover=Broken()) == [
        "info string error: go: RuntimeError: device lost", "readyok"]


def test_quit_ends_the_session():
    assert _session("isready", "quit", "isready") == ["readyok"]


# --- the real engine ----------------------------------------------------------------------------


def _launcher(path: Path, *arguments) -> str:
    done = subprocess.run([sys.executable, "-m", "shogi_jax.usi", *arguments,
                           "--write-launcher", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return str(path)


@pytest.fixture(scope="module")
def launchers(tmp_path_factory):
    """Launchers for a policy engine (a real checkpoint of the smoke network) and the greedy
    player."""
    root = tmp_path_factory.mktemp("usi")
    run_dir = root / "run"
    save_untrained_smoke_run(run_dir)
    return {"policy": _launcher(root / "policy.sh", "--checkpoint", str(run_dir)),
            "greedy": _launcher(root / "greedy.sh", "--player", "greedy"),
            "root": root}


@pytest.fixture(scope="module")
def engine(launchers):
    engine = Engine(launchers["policy"])
    engine.isready()
    yield engine
    engine.quit()


def _send(engine, line):
    engine.proc.stdin.write(line.encode() + b"\n")
    engine.proc.stdin.flush()


def _read_until(engine, last):
    lines = []
    while True:
        line = engine.proc.stdout.readline()
        assert line, f"the engine closed its output; read so far: {lines}"
        lines.append(line.decode().strip())
        if lines[-1].startswith(last):
            return lines


def test_usi_handshake_names_the_engine_and_its_options(engine):
    assert engine.name.startswith("shogi_jax run it0")
    lines = engine.usi()
    assert "option name Temperature type string default 0" in lines
    assert any(line.startswith("option name Seed type spin") for line in lines)


def test_every_move_is_legal_through_a_whole_game_against_cshogi_random(engine):
    """The engine plays Black and White against random moves chosen from cshogi's legal moves;
    cshogi checks every bestmove; a mated engine resigns."""
    chooser = random.Random(7)
    for engine_color in (cshogi.BLACK, cshogi.WHITE):
        board, moves = cshogi.Board(), []
        engine.usinewgame()
        while not board.is_game_over() and len(moves) < 300:
            if board.turn == engine_color:
                engine.position(moves)
                bestmove, _ = engine.go(btime=1000, wtime=1000, byoyomi=100)
                move = board.move_from_usi(bestmove)
                assert board.is_legal(move), (bestmove, board.sfen())
            else:
                move = chooser.choice(list(board.legal_moves))
            moves.append(cshogi.move_to_usi(move))
            board.push(move)
        if board.is_game_over() and board.turn == engine_color:
            engine.position(moves)
            assert engine.go(byoyomi=100)[0] == "resign"
        engine.gameover()


def test_terminal_positions_resign_and_declare(engine):
    engine.position(sfen="sfen " + CHECKMATED)
    assert engine.go(byoyomi=100)[0] == "resign"
    engine.position(sfen="sfen " + CAN_DECLARE)
    assert engine.go(byoyomi=100)[0] == "win"
    assert cshogi.Board(CAN_DECLARE).is_nyugyoku()  # the declaration is valid by cshogi too


def test_illegal_positions_are_explained_and_the_engine_serves_on(engine):
    """The refusals that come from the rules (the protocol's own: with the fake mover above)."""
    bad = {
        "position startpos moves 7g7f 7g7f": "move 2: illegal USI move '7g7f'",
        "position startpos moves 7g7f zz": "move 2: bad USI move 'zz'",
        "position sfen lnsgkgsnl/9 b - 1": "bad SFEN",
        f"position sfen {CHECKMATED} moves 1a2a": "move 1 (1a2a): the game is already over",
    }
    for command, reason in bad.items():
        _send(engine, command)
        _send(engine, "isready")
        lines = _read_until(engine, "readyok")
        assert any(line.startswith("info string") and reason in line for line in lines), \
            (command, lines)
    # A go after a rejected position explains itself and resigns instead of guessing.
    _send(engine, "position startpos moves 7g7f 7g7f")
    _send(engine, "go byoyomi 100")
    lines = _read_until(engine, "bestmove")
    assert lines[-1] == "bestmove resign"
    assert any("cannot move" in line for line in lines)
    # ... and the next good position is served normally.
    engine.position(["2g2f", "8c8d"])
    board = cshogi.Board()
    for move in ("2g2f", "8c8d"):
        board.push_usi(move)
    bestmove, _ = engine.go(byoyomi=100)
    assert board.is_legal(board.move_from_usi(bestmove))
    assert engine.proc.poll() is None


def test_isready_compiles_everything_a_game_needs(launchers, caplog):
    """No `go` compiles (the GUI's clock runs): not the first, not after a Temperature set after
    `isready` (compiled when set), not for the moves that extend the position."""
    import jax

    from shogi_jax.cli.usi import build_mover, parse_args

    mover = build_mover(parse_args(["--checkpoint", str(launchers["root"] / "run")]))
    mover.prepare()
    mover.set_temperature(1.0)
    with jax.log_compiles(), caplog.at_level(logging.WARNING):
        for moves in (["7g7f"], ["7g7f", "3c3d"], ["7g7f", "3c3d", "8h2b+"]):
            mover.set_position("startpos", moves)
            move, value, _, _ = mover.best_move(print, {})
            assert move not in ("resign", "win") and -1 <= value <= 1
    assert not [record for record in caplog.records if "Compiling" in record.getMessage()]

def test_the_score_follows_the_value_head_on_dlshogis_scale():
    assert centipawns(0.0) == 0
    assert centipawns(1.0) == 30000 and centipawns(-1.0) == -30000
    # win rate 0.75 -> 600 * ln(3) centipawns
    assert centipawns(0.5) == round(600 * 1.0986122886681098)


@pytest.mark.slow
def test_a_match_run_by_cshogis_tournament_runner_is_legal_throughout(launchers):
    """Two of our engine processes (the network and greedy) play 2 games under cshogi's
    runner with a clock; every move of the records it writes replays legally in cshogi."""
    records = launchers["root"] / "match.csa"  # --multi-csa: all games in one file
    done = subprocess.run(
        [sys.executable, "-m", "cshogi.cli", launchers["policy"], launchers["greedy"],
         "--games", "2", "--keep-process", "--time", "60000", "--inc", "1000", "--draw", "160",
         "--name1", "net", "--name2", "greedy", "--csa", str(records), "--multi-csa"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    # No illegal move, no loss on time.
    assert "反則" not in done.stdout and "切れ負け" not in done.stdout, done.stdout
    assert done.stdout.count(" start.") == 2, done.stdout
    games = CSA.Parser.parse_file(str(records))
    assert len(games) == 2
    for game in games:
        board = cshogi.Board(game.sfen)
        for move in game.moves:
            assert board.is_legal(move), (cshogi.move_to_usi(move), board.sfen())
            board.push(move)
        assert len(game.moves) > 0
    # The runner's own tally ("net vs greedy: W-L-D") is what the CSA records say.
    tallies = re.findall(r"net vs greedy: (\d+)-(\d+)-(\d+)", done.stdout)  # after each game
    wins, losses, draws = map(int, tallies[-1])
    (row,) = csa_results.summary_rows(csa_results.player_endings([records], "net"))
    assert (row["opponent"], row["wins"], row["draws"], row["losses"]) == (
        "greedy", wins, draws, losses)


def _usi_cli(*arguments):
    return subprocess.run([sys.executable, "-m", "shogi_jax.usi", *arguments],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


def test_options_that_would_be_ignored_are_refused(tmp_path):
    refused = _usi_cli("--player", "greedy", "--step", "3")
    assert refused.returncode == 2
    assert "--player greedy plays no checkpoint: --step and --which go with --checkpoint" \
        in refused.stderr
    assert _usi_cli("--player", "random", "--which", "best").returncode == 2
    both = _usi_cli("--checkpoint", str(tmp_path), "--step", "3", "--which", "best")
    assert both.returncode == 2 and "--which does not go with it" in both.stderr
    searching = _usi_cli("--player", "greedy", "--simulations", "8")
    assert searching.returncode == 2
    assert "--player greedy has no network: --simulations goes with" in searching.stderr
    assert _usi_cli("--pretrained", "--simulations", "0").returncode == 2
    unchecked = _usi_cli("--player", "random", "--mate-in-one")
    assert unchecked.returncode == 2 and "--mate-in-one goes with --checkpoint or --pretrained" \
        in unchecked.stderr
    for scale in ("0", "nan"):
        unweighted = _usi_cli("--pretrained", "--simulations", "8", "--value-scale", scale)
        assert unweighted.returncode == 2 and "--value-scale must be > 0" in \
            unweighted.stderr


def test_a_search_sizes_itself_to_the_go_limits():
    from shogi_jax.play.players import Player
    from shogi_jax.play.search import SearchSettings
    from shogi_jax.usi.mover import MOVES_LEFT, TIME_SHARE, PlayerMover, time_for_move

    assert time_for_move({"movetime": 500}, 0) == 0.5
    assert time_for_move({"btime": 60000, "wtime": 0, "byoyomi": 2000}, 1) == 2.0
    assert time_for_move({"btime": 30000, "wtime": 9000, "winc": 1000}, 1) == \
        pytest.approx(9 / MOVES_LEFT + 1)
    assert time_for_move({"depth": 3}, 0) is None
    from shogi_jax.play.model import ModelConfig

    mover = PlayerMover(Player("s", "search", model=ModelConfig(),
                               search=SearchSettings(simulations=64)))
    assert mover.search_budget({}, 0) == 64  # no limit: all its simulations
    assert mover.search_budget({"nodes": 10}, 0) == 10
    assert mover.search_budget({"nodes": 1000}, 0) == 64
    mover.simulations_per_second = 100.0  # as measured by its last search
    assert mover.search_budget({"movetime": 400}, 0) == int(100 * 0.4 * TIME_SHARE)
    assert mover.search_budget({"byoyomi": 100000}, 1) == 64
    assert mover.search_budget({"movetime": 1}, 0) == 1  # never nothing


@pytest.mark.slow
def test_a_searching_engine_plays_its_tactics_on_the_searched_move():
    """The USI engine's search path (a search sized to `go nodes 1`) applies the player's
    tactics: with mate_in_one every hand-made mate in one is played, where one simulation alone
    misses some of them."""
    from shogi_jax.play.network import PRETRAINED_RUN
    from shogi_jax.play.players import Player
    from shogi_jax.play.search import SearchSettings
    from shogi_jax.play.tactics import Tactics
    from shogi_jax.usi.mover import PlayerMover

    mates = MATES_IN_ONE  # each has exactly one mate in one (by cshogi: test_search)
    model, params, _ = load_network(str(PRETRAINED_RUN))
    played = {}
    for tactics in (Tactics(), Tactics(mate_in_one=True)):
        mover = PlayerMover(Player("s", "search", model, search=SearchSettings(
            simulations=8, value_scale=1.0), tactics=tactics), params)
        played[tactics] = []
        for sfen in mates:
            mover.set_position(sfen, [])
            played[tactics].append(mover.best_move(lambda line: None, {"nodes": 1}).move)
    assert played[Tactics(mate_in_one=True)] == list(mates.values())
    assert played[Tactics()] != list(mates.values())  # one simulation alone misses some


# Black's rook on 2i, White's king on 1a, Black's king on 5i, Black to move.
ROOK_AND_KINGS = "8k/9/9/9/9/9/9/9/4K2R1 b - 1"
QUIET_CYCLE = ["2i3i", "1a1b", "3i2i", "1b1a"]  # back where it began, no check
# From the rook on 3i: a check, then round a cycle in which Black checks at every move; at its
# end the rook is on 2i, Black to move, and 2i1i would bring the position after the first check
# a fourth time: Black, who checked throughout, loses (the perpetual-check rule).
CHECKING_CYCLES = ["3i1i"] + ["1a2a", "1i2i", "2a1a", "2i1i"] * 2 + ["1a2a", "1i2i", "2a1a"]


def _preferring(state, *moves):
    """A player's choice among a mask: the first of `moves` the mask allows."""
    import shogi_jax as sj

    actions = [sj.usi_to_action(state, move) for move in moves]
    return lambda mask: next(action for action in actions if mask[action])


def test_a_network_ahead_passes_over_a_repeated_position_and_never_checks_perpetually():
    import shogi_jax as sj
    from shogi_jax.usi.mover import GamePosition, _step, avoiding_repetition

    usi = lambda state, action: sj.action_to_usi(state, action)  # noqa: E731
    state = GamePosition().set(ROOK_AND_KINGS, QUIET_CYCLE)
    prefer = _preferring(state, "2i3i", "2i4i")
    first = prefer(np.asarray(state.legal_action_mask))
    assert int(_step(state, first).repetitions) == 1  # the premise: 2i3i comes back once
    ahead, passed = avoiding_repetition(state, first, prefer, ahead=True)
    assert (usi(state, ahead), [usi(state, a) for a in passed]) == ("2i4i", ["2i3i"])
    behind, passed = avoiding_repetition(state, first, prefer, ahead=False)
    assert (usi(state, behind), passed) == ("2i3i", [])  # a draw is welcome when behind
    only, passed = avoiding_repetition(state, first, prefer, ahead=True, tries=1)
    assert (usi(state, only), passed) == ("2i3i", [])  # nothing else tried: the first choice

    # 2i1i after CHECKING_CYCLES loses by perpetual check (cshogi agrees): passed over even when
    # behind.
    rook_on_3i = ROOK_AND_KINGS.replace("4K2R1", "4K1R2")
    state = GamePosition().set(rook_on_3i, CHECKING_CYCLES)
    board = cshogi.Board(rook_on_3i)
    for move in CHECKING_CYCLES + ["2i1i"]:
        board.push_usi(move)
    assert board.is_draw() == cshogi.REPETITION_WIN  # for White, to move: Black checked throughout
    prefer = _preferring(state, "2i1i", "2i3i")
    first = prefer(np.asarray(state.legal_action_mask))
    assert int(_step(state, first).termination) == sj.PERPETUAL_CHECK
    for ahead in (True, False):
        action, passed = avoiding_repetition(state, first, prefer, ahead=ahead)
        assert (usi(state, action), [usi(state, a) for a in passed]) == ("2i3i", ["2i1i"])


def test_the_engine_tells_the_gui_which_repeating_moves_it_passed_over(monkeypatch):
    import jax

    import shogi_jax.usi.mover as mover_module
    from shogi_jax.play.model import ModelConfig
    from shogi_jax.play.players import Player

    # A network that is ahead (value 0.5) and prefers 2i3i to 2i4i (the same actions at the start
    # and after QUIET_CYCLE: the same board).
    prefer = _preferring(mover_module.GamePosition().set(ROOK_AND_KINGS, []), "2i3i", "2i4i")

    def move(player, params, state, key):
        return (prefer(np.asarray(state.legal_action_mask)), 0.5), jax.random.split(key)[0]

    monkeypatch.setattr(mover_module, "_move", move)
    mover = mover_module.PlayerMover(Player("p", "policy", model=ModelConfig()))
    mover.set_position(ROOK_AND_KINGS, QUIET_CYCLE)
    remarks = []
    assert mover.best_move(remarks.append, {}) == Answer("2i4i", 0.5)
    assert remarks == ["passed over 2i3i: a position repeated while ahead, or a loss by "
                       "perpetual check"]
    mover.set_position(ROOK_AND_KINGS, [])  # nothing repeated yet: the first choice, no remark
    assert mover.best_move(remarks.append, {}) == Answer("2i3i", 0.5)
    assert len(remarks) == 1


@pytest.mark.slow
def test_a_searching_engine_reports_its_search_and_obeys_nodes(tmp_path):
    """`--pretrained --simulations 32` through the real protocol: the info line carries the
    tree's depth and the simulations run, `go nodes` caps them, and a mate in one is played."""
    # value_scale 1: the searched values decide, so the mate in one the search finds is played
    # (at the default 0.1 the shipped network's sharp prior may outvote it).
    lines = subprocess.run(
        [sys.executable, "-m", "shogi_jax.usi", "--pretrained", "--simulations", "32",
         "--value-scale", "1"],
        input="\n".join(["usi", "isready", "position startpos moves 7g7f", "go nodes 8",
                         "go movetime 2000", "position sfen 6k1p/9/4P1G2/9/6L2/9/9/9/K8 b - 1",
                         "go", "quit"]) + "\n", capture_output=True, text=True, timeout=600,
    ).stdout.splitlines()
    infos = [line.split() for line in lines if line.startswith("info depth")]
    assert len(infos) == 3, lines
    nodes = [int(info[info.index("nodes") + 1]) for info in infos]
    depths = [int(info[info.index("depth") + 1]) for info in infos]
    assert nodes[0] == 8 and nodes[2] == 32 and 1 <= nodes[1] <= 32
    assert all(1 <= depth <= n for depth, n in zip(depths, nodes)) and depths[2] > 1
    assert [line for line in lines if line.startswith("bestmove")][-1] == "bestmove 3c3b"


def test_no_launcher_is_written_for_a_run_that_cannot_load(tmp_path):
    launcher = tmp_path / "engine.sh"
    refused = _usi_cli("--checkpoint", str(tmp_path / "no_such_run"), "--write-launcher",
                       str(launcher))
    assert refused.returncode == 2 and not launcher.exists()
    assert "no launcher written: " in refused.stderr
    assert "is not a training run directory" in refused.stderr


def test_help_gives_the_whole_description():
    shown = _usi_cli("--help").stdout
    assert "a USI engine, so a trained network plays in ordinary Shogi GUIs and tournament " \
           "runners (`--pretrained` serves the network shipped with the package, `--player " \
           "random|greedy` the baselines; `--simulations N` makes a network search)." \
           in " ".join(shown.split())


def _launcher_arguments(launcher: Path):
    """The engine's parsed arguments in a .sh launcher (its `exec python -m shogi_jax.usi ...
    "$@"` line), as the launched engine parses them."""
    import shlex

    from shogi_jax.cli.usi import parse_args

    command = shlex.split(launcher.read_text().splitlines()[1].removeprefix("exec "))
    return parse_args(command[command.index("shogi_jax.usi") + 1:-1])  # without the "$@"


def test_a_launcher_for_a_given_step_starts_an_engine_the_cli_accepts(tmp_path):
    run_dir = save_untrained_smoke_run(tmp_path / "run")
    launcher = tmp_path / "engine.sh"
    written = _usi_cli("--checkpoint", str(run_dir), "--step", "0", "--write-launcher",
                       str(launcher))
    assert written.returncode == 0, written.stderr
    parsed = _launcher_arguments(launcher)  # --step and --which together would be refused
    assert parsed.step == 0 and parsed.checkpoint == str(run_dir.resolve())


def test_a_searching_launcher_keeps_every_search_setting(tmp_path):
    launcher = tmp_path / "engine.sh"
    written = _usi_cli("--pretrained", "--simulations", "8", "--considered", "4",
                       "--value-scale", "0.5", "--mate-in-one", "--write-launcher", str(launcher))
    assert written.returncode == 0, written.stderr
    parsed = _launcher_arguments(launcher)
    assert (parsed.pretrained, parsed.simulations, parsed.considered, parsed.value_scale,
            parsed.mate_in_one) == (True, 8, 4, 0.5, True)
    unsearched = _usi_cli("--pretrained", "--mate-in-one", "--write-launcher", str(launcher))
    assert unsearched.returncode == 0, unsearched.stderr
    parsed = _launcher_arguments(launcher)  # the raw network, checking for mates in one
    assert (parsed.simulations, parsed.mate_in_one) == (None, True)
    defending = _usi_cli("--pretrained", "--avoid-mate-in-one", "--write-launcher", str(launcher))
    assert defending.returncode == 0, defending.stderr
    parsed = _launcher_arguments(launcher)
    assert (parsed.simulations, parsed.mate_in_one, parsed.avoid_mate_in_one) == (None, False, True)
    searching = _usi_cli("--pretrained", "--simulations", "8", "--avoid-mate-in-one",
                         "--write-launcher", str(launcher))
    assert searching.returncode == 0, searching.stderr
    parsed = _launcher_arguments(launcher)
    assert (parsed.simulations, parsed.avoid_mate_in_one) == (8, True)
    looking = _usi_cli("--pretrained", "--material-lookahead", "--write-launcher", str(launcher))
    assert looking.returncode == 0, looking.stderr
    parsed = _launcher_arguments(launcher)
    assert (parsed.material_lookahead, parsed.avoid_mate_in_one) == (True, False)
    threes = _usi_cli("--pretrained", "--avoid-mate-in-three", "--write-launcher", str(launcher))
    assert threes.returncode == 0, threes.stderr
    parsed = _launcher_arguments(launcher)
    assert (parsed.avoid_mate_in_three, parsed.material_lookahead) == (True, False)


@pytest.mark.parametrize("flag", ["--avoid-mate-in-one", "--material-lookahead",
                                  "--avoid-mate-in-three"])
def test_the_tactics_go_with_a_network(tmp_path, capsys, flag):
    from shogi_jax.cli.usi import main

    launcher = tmp_path / "engine.sh"
    with pytest.raises(SystemExit) as refused:
        main(["--player", "random", flag, "--write-launcher", str(launcher)])
    assert refused.value.code == 2
    assert f"--player random has no network: {flag}" in capsys.readouterr().err
    assert not launcher.exists()


def test_a_windows_launcher_written_inside_wsl_starts_the_engine_through_wsl_exe(tmp_path):
    """A Windows GUI runs the .bat; wsl.exe then runs the words after -e in the distribution.
    Here (no Windows) the command after -e is started directly and must speak USI."""
    import os
    import shlex

    launcher = tmp_path / "engine.bat"
    outside = subprocess.run([sys.executable, "-m", "shogi_jax.usi", "--player", "greedy",
                              "--write-launcher", str(launcher)], capture_output=True, text=True,
                             env={k: v for k, v in os.environ.items() if k != "WSL_DISTRO_NAME"})
    assert outside.returncode == 2 and "must come from WSL" in outside.stderr
    assert not launcher.exists()
    written = subprocess.run([sys.executable, "-m", "shogi_jax.usi", "--player", "greedy",
                              "--write-launcher", str(launcher)], capture_output=True, text=True,
                             env={**os.environ, "WSL_DISTRO_NAME": "Ubuntu-24.04"})
    assert written.returncode == 0, written.stderr
    text = launcher.read_bytes().decode()
    assert text.startswith("@echo off\r\n") and text.endswith(" %*\r\n")
    words = shlex.split(text.splitlines()[1].removesuffix(" %*"))
    assert words[:4] == ["wsl.exe", "-d", "Ubuntu-24.04", "-e"]
    engine = subprocess.run(words[4:], input="usi\nquit\n", capture_output=True, text=True,
                            timeout=120)
    assert "usiok" in engine.stdout.splitlines()


@pytest.mark.slow
def test_the_pretrained_network_plays_legal_moves_and_beats_random_at_once(tmp_path):
    """`--pretrained`: the network shipped with the package, through a launcher, in a short
    match run by cshogi's runner against our random engine (cshogi referees every move)."""
    from shogi_jax.play.network import PRETRAINED_RUN

    assert (PRETRAINED_RUN / "checkpoints").is_dir(), "the package ships its network"
    engine = _launcher(tmp_path / "pretrained.sh", "--pretrained")
    assert "--pretrained" in Path(engine).read_text()
    opponent = _launcher(tmp_path / "random.sh", "--player", "random")
    done = subprocess.run([sys.executable, "-m", "cshogi.cli", engine, opponent, "--games", "4",
                           "--keep-process", "--time", "600000", "--draw", "512", "--csa",
                           str(tmp_path / "games.csa"), "--multi-csa"], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    games = CSA.Parser.parse_file(str(tmp_path / "games.csa"))
    assert len(games) == 4
    wins = 0
    for game in games:
        board = cshogi.Board(game.sfen)
        for move in game.moves:
            assert board.is_legal(move)
            board.push(move)
        pretrained_black = game.names[0].startswith("shogi_jax cpu_60min")
        wins += game.win == (cshogi.BLACK_WIN if pretrained_black else cshogi.WHITE_WIN)
    assert wins >= 3, [game.win for game in games]
