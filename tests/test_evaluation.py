"""Evaluation: players (legal, greedy captures the most valuable piece), matches (colours,
shared openings, every game counted once), the tournament CLI end to end with its records read
back by cshogi, stopped by a signal and resumed to the same final table."""
from __future__ import annotations

import json

import cshogi
import cshogi.CSA
import cshogi.KIF
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import save_untrained_smoke_run

import shogi_jax as sj
from shogi_jax.arena import tournament as tournament_module
from shogi_jax.arena.match import (
    DRAW,
    FIRST_WINS,
    NOT_PLAYED,
    SECOND_WINS,
    play_match,
    play_plies,
    start_states,
)
from shogi_jax.cli import exit_codes
from shogi_jax.cli import tournament as tournament_cli
from shogi_jax.play.players import Player, capture_points, greedy_act
from shogi_jax.rules.material import PIECE_POINTS
from shogi_jax.rules.state import STARTPOS_SFEN

# The full tier (python -m pytest -m ""): this module plays tournaments and matches end to end.
pytestmark = pytest.mark.slow

RANDOM, GREEDY = Player("random", "random"), Player("greedy", "greedy")
# cshogi piece type (1..14: P L N S B R G K +P +L +N +S +B +R) -> our points
CSHOGI_POINTS = {t: float(PIECE_POINTS[k]) for k, t in enumerate(range(1, 15))}


def _replay(start_sfen, moves):
    """Plays the moves on cshogi's board, asserting each is legal there; returns the board."""
    board = cshogi.Board(start_sfen)
    for number, usi in enumerate(moves):
        legal = {cshogi.move_to_usi(m) for m in board.legal_moves}
        assert usi in legal, f"ply {number}: {usi} is not legal in {board.sfen()}"
        board.push_usi(usi)
    return board


@pytest.fixture(scope="module")
def greedy_vs_random():
    return play_match(GREEDY, None, RANDOM, None, games=32, key=jax.random.PRNGKey(3),
                      max_plies=256, opening_plies=2)


def test_moves_are_legal_and_outcomes_match_cshogi(greedy_vs_random):
    games = greedy_vs_random
    for g, moves in enumerate(games.moves):
        board = _replay(games.start_sfens[g], moves)
        name = sj.TERMINATION_NAMES[games.termination[g]]
        if name == "checkmate":
            assert board.is_game_over() and board.is_check()
            # The side to move in the final position lost.
            assert games.winner_color[g] == 1 - board.turn
        elif name == "move_limit":
            assert len(moves) == 256 and games.winner_color[g] == -1
        else:
            assert name in ("no_legal_moves", "impasse_declaration", "repetition_draw",
                            "perpetual_check"), name


def test_colours_alternate_and_pairs_share_their_opening(greedy_vs_random):
    games = greedy_vs_random
    np.testing.assert_array_equal(games.first_is_black, np.arange(32) % 2 == 0)
    for k in range(16):
        assert games.moves[2 * k][:2] == games.moves[2 * k + 1][:2]
    assert len({tuple(games.moves[2 * k][:2]) for k in range(16)}) > 1
    # Greedy wins far more than random does (a one-ply capturer beats random ~97%).
    outcomes = np.bincount(games.outcome, minlength=3)
    assert outcomes[FIRST_WINS] >= 24 and outcomes[SECOND_WINS] <= 2, outcomes
    assert outcomes.sum() == 32 and DRAW == 2


def test_a_match_in_batches_plays_the_same_openings_and_skips_batches_played(greedy_vs_random):
    """games_at_once: the fixture's 32 games in two batches of 16 start from the same openings
    (a colour pair's random plies depend on the pair alone), colours alternate through the match
    and every game is reported once under its match index; with the first batch in `skip` only
    the second is played, and it is the same games (a batch's key depends on the batch alone)."""
    settings = dict(games=32, key=jax.random.PRNGKey(3), max_plies=256, opening_plies=2,
                    games_at_once=16)
    reported = []
    batched = play_match(GREEDY, None, RANDOM, None, **settings,
                         on_finished=lambda indices, games: reported.extend(indices.tolist()))
    assert sorted(reported) == list(range(32))
    np.testing.assert_array_equal(batched.first_is_black, greedy_vs_random.first_is_black)
    assert batched.start_sfens == greedy_vs_random.start_sfens
    assert [m[:2] for m in batched.moves] == [m[:2] for m in greedy_vs_random.moves]
    assert batched.moves != greedy_vs_random.moves  # the random player's later draws differ
    for g, moves in enumerate(batched.moves):
        _replay(batched.start_sfens[g], moves)
    reported.clear()
    second = play_match(GREEDY, None, RANDOM, None, **settings, skip=range(16),
                        on_finished=lambda indices, games: reported.extend(indices.tolist()))
    assert sorted(reported) == list(range(16, 32))
    assert second.moves == batched.moves[16:]
    np.testing.assert_array_equal(second.outcome, batched.outcome[16:])
    with pytest.raises(ValueError, match="games_at_once must be even"):
        play_match(GREEDY, None, RANDOM, None, games=4, key=jax.random.PRNGKey(0),
                   games_at_once=3)


def test_players_acting_only_where_they_move_play_the_same_games_as_acting_everywhere():
    """The fast path (each player acts on the half of the games it moves in) against the simple
    one (both act on every game, the mover's action kept): the same actions, pieces moved and
    outcomes, ply for ply, from two openings with different sides to move, including pairs whose
    games end at different plies (the running game then decides who moves)."""
    other = "lnsgkgsnl/1r5b1/ppppppppp/9/9/2P6/PP1PPPPPP/1B5R1/LNSGKGSNL w - 2"
    games, _ = start_states([STARTPOS_SFEN, other], 16, max_plies=200, impasse=True)
    arguments = (GREEDY, RANDOM, None, None, games, jnp.arange(16) % 2 == 0,
                 jax.random.PRNGKey(0), jax.random.PRNGKey(1))
    settings = dict(plies=201, opening_plies=2, max_plies=200, impasse=True)
    fast = play_plies(*arguments, **settings)
    simple = play_plies(*arguments, **settings, by_mover=False)
    np.testing.assert_array_equal(fast[1], simple[1])  # actions int32[plies, G]
    played = fast[1] != NOT_PLAYED  # a game over has no piece moved
    np.testing.assert_array_equal(np.where(played, fast[2], 0), np.where(played, simple[2], 0))
    np.testing.assert_array_equal(fast[0].rewards, simple[0].rewards)
    assert bool((fast[0].terminated | fast[0].truncated).all())  # every game over
    plies_played = np.asarray((fast[1] != NOT_PLAYED).sum(0)).reshape(8, 2)
    assert (plies_played[:, 0] != plies_played[:, 1]).any(), plies_played


def test_a_batch_starts_from_its_colour_pairs_openings():
    """Colour pair k starts from sfens[k % 2] wherever its batch begins: games 2..5 are pairs
    1 and 2."""
    other = "lnsgkgsnl/1r5b1/ppppppppp/9/9/2P6/PP1PPPPPP/1B5R1/LNSGKGSNL w - 2"
    _, sfens = start_states([STARTPOS_SFEN, other], 4, max_plies=64, impasse=True, first_game=2)
    assert sfens == [other, other, STARTPOS_SFEN, STARTPOS_SFEN]


def test_greedy_captures_the_most_valuable_piece_against_cshogi():
    """On positions from random play, greedy's move captures exactly the most valuable piece any
    legal move captures (checked with cshogi), and is a non-capture only when none captures."""
    rng = np.random.default_rng(0)
    act = jax.jit(greedy_act)
    checked = captures = 0
    for game in range(6):
        board = cshogi.Board()
        for ply in range(120):
            if board.is_game_over():
                break
            legal = list(board.legal_moves)
            if ply >= 20:
                state = sj.from_sfen(board.sfen())
                action = int(act(None, state, jax.random.PRNGKey(ply + 1000 * game)))
                usi = sj.action_to_usi(state, action)
                assert usi in {cshogi.move_to_usi(m) for m in legal}
                values = {cshogi.move_to_usi(m): CSHOGI_POINTS.get(
                    board.piece(cshogi.move_to(m)) % 16, 0.0) if board.piece(cshogi.move_to(m))
                    and not cshogi.move_is_drop(m) else 0.0 for m in legal}
                assert values[usi] == max(values.values()), (board.sfen(), usi)
                checked += 1
                captures += values[usi] > 0
            board.push(legal[rng.integers(len(legal))])
    assert checked > 300 and captures > 20


def test_capture_points_by_hand():
    # Black's silver on 5e can take a rook on 6d or a pawn on 5d: greedy must take the rook.
    state = sj.from_sfen("4k4/9/9/3rp4/4S4/9/9/9/4K4 b - 1")
    for seed in range(5):
        usi = sj.action_to_usi(state, int(greedy_act(None, state, jax.random.PRNGKey(seed))))
        assert usi == "5e6d", usi
    points = np.asarray(capture_points(state))[np.asarray(state.legal_action_mask)]
    assert sorted(set(points)) == [0.0, 1.0, 10.0]



def test_a_policy_players_action_and_value_come_from_one_evaluation():
    """act_and_value (the USI engine's move and score) plays what act (tournaments) plays and
    returns the value head's output for that position."""
    from shogi_jax.play.model import make_model
    from shogi_jax.train.config import load_config

    model_config = load_config("configs/smoke.yaml").model
    model = make_model(model_config)
    state = sj.step(sj.init(), sj.usi_to_action(sj.init(), "7g7f"))
    params = model.init(jax.random.PRNGKey(0), sj.observe(state)[None])
    _, value = model.apply(params, sj.observe(state)[None])
    for temperature in (0.0, 1.0):
        player = Player("net", "policy", model_config, temperature)
        for seed in range(3):
            key = jax.random.PRNGKey(seed)
            action, played_value = jax.jit(player.act_and_value)(params, state, key)
            assert int(action) == int(jax.jit(player.act)(params, state, key))
            assert bool(state.legal_action_mask[action])
            np.testing.assert_allclose(float(played_value), float(value[0]), rtol=1e-5)
    assert GREEDY.act_and_value(None, state, jax.random.PRNGKey(0))[1] is None


def test_players_that_differ_only_by_name_compile_once():
    """A player's name is left out of its equality, so jit (which keys compiled programs on
    static arguments) compiles one match for two networks of one shape."""
    assert Player("a", "random") == Player("b", "random")
    assert hash(Player("a", "random")) == hash(Player("b", "random"))
    assert Player("a", "random") != Player("a", "greedy")
    traced = []
    kind_of = jax.jit(lambda player, x: traced.append(player.kind) or x, static_argnums=0)
    for player in (Player("a", "random"), Player("b", "random"), Player("c", "greedy")):
        kind_of(player, 1)
    assert traced == ["random", "greedy"]

# --- the CLI end to end ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tournament(tmp_path_factory):
    root = tmp_path_factory.mktemp("tournament")
    # A policy player from a real (untrained) checkpoint of the smoke network.
    run_dir = root / "run"
    save_untrained_smoke_run(run_dir)
    (root / "openings.sfen").write_text(
        "# two openings\nlnsgkgsnl/1r5b1/ppppppppp/9/9/2P6/PP1PPPPPP/1B5R1/LNSGKGSNL w - 2\n"
        f"sfen {STARTPOS_SFEN}\n")
    spec = root / "tournament.yaml"
    spec.write_text(f"""
players:
  - {{name: random, kind: random}}
  - {{name: greedy, kind: greedy}}
  - {{name: net, kind: policy, run_dir: {run_dir}, temperature: 1.0}}
games_per_pairing: 8
random_opening_plies: 1
opening_sfen_file: {root / "openings.sfen"}
max_plies: 256
seed: 5
output_dir: {root / "out"}
""")
    assert tournament_cli.main(["--config", str(spec), "--quiet"]) == 0
    PROGRAMS_LEFT["tournament"] = play_plies._cache_size()  # the programs jit holds for matches
    return root


PROGRAMS_LEFT = {}


def test_a_tournament_drops_the_programs_of_pairings_it_has_played(tournament):
    """A program per pair of players stays in memory until dropped (a 15-player round robin ran
    out of memory maps after 70 pairings): of the three pairings' programs, only the last
    pairing's are left: two entries of jit's cache, its first chunk's call and the later ones'
    (whose games come back from the device) (six were left before)."""
    assert PROGRAMS_LEFT["tournament"] <= 2


def test_a_finished_tournament_writes_its_report(tournament):
    page = (tournament / "out" / "report.html").read_text(encoding="utf-8")
    assert "crosstable" in page and page.count('class="board"') >= 1


def test_tournament_counts_every_game_once_with_balanced_colours(tournament):
    results = json.loads((tournament / "out" / "results.json").read_text())
    assert results["games"] == 24
    for pair in results["pairs"]:
        assert pair["games"] == pair["wins"] + pair["draws"] + pair["losses"] == 8
    for player in results["players"]:
        assert player["games"] == 16 and player["games_as_black"] == 8
    records = [json.loads(line) for line in
               (tournament / "out" / "games.jsonl").read_text().splitlines()]
    assert len(records) == 24 and len({r["game"] for r in records}) == 24
    by_player = {}
    for r in records:
        for colour, result in (("black", "black_win"), ("white", "white_win")):
            by_player.setdefault(r[colour], []).append(
                1.0 if r["result"] == result else 0.5 if r["result"] == "draw" else 0.0)
    elo = {p["name"]: p for p in results["elo"]["players"]}
    assert elo["random"]["elo"] == 0.0
    for pair in results["pairs"]:
        games = [r for r in records if {r["black"], r["white"]} == {pair["player"],
                                                                     pair["opponent"]}]
        wins = sum((r["black"] == pair["player"] and r["result"] == "black_win")
                   or (r["white"] == pair["player"] and r["result"] == "white_win")
                   for r in games)
        assert wins == pair["wins"] and len(games) == 8
    assert {r["start_sfen"].split()[0] for r in records} == {
        "lnsgkgsnl/1r5b1/ppppppppp/9/9/2P6/PP1PPPPPP/1B5R1/LNSGKGSNL",
        STARTPOS_SFEN.split()[0]}


def test_tournament_records_round_trip_through_cshogi(tournament):
    out = tournament / "out"
    records = [json.loads(line) for line in (out / "games.jsonl").read_text().splitlines()]
    sfen_lines = (out / "games.sfen").read_text().splitlines()
    read_by_file = 0
    for r in records:
        _replay(r["start_sfen"], r["moves"])  # every move legal
        assert sfen_lines[r["game"] - 1] == (f"sfen {r['start_sfen']} moves "
                                            f"{' '.join(r['moves'])}")
        (csa,) = cshogi.CSA.Parser.parse_file(str(out / "games" / f"{r['game']:05d}.csa"),
                                               encoding="utf-8")
        assert cshogi.Board(csa.sfen).sfen().split()[:3] == r["start_sfen"].split()[:3]
        assert [cshogi.move_to_usi(m) for m in csa.moves] == r["moves"]
        assert csa.names == [r["black"], r["white"]]
        kif_path = out / "games" / f"{r['game']:05d}.kifu"
        if r["start_sfen"] == STARTPOS_SFEN:
            kif = cshogi.KIF.Parser.parse_file(str(kif_path))
            assert [cshogi.move_to_usi(m) for m in kif.moves] == r["moves"]
            assert kif.names == [r["black"], r["white"]]
            read_by_file += 1
        else:  # cshogi's file reader skips board diagrams: read the move lines from the start
            board = cshogi.Board(r["start_sfen"])
            kif_moves = []
            for line in kif_path.read_text(encoding="utf-8").splitlines():
                move, _, _ = cshogi.KIF.Parser.parse_move_str(line, board)
                if move is not None:
                    kif_moves.append(cshogi.move_to_usi(move))
                    board.push(move)
            assert kif_moves == r["moves"]
    assert 0 < read_by_file < len(records)


def test_tournament_markdown_and_csv(tournament):
    out = tournament / "out"
    markdown = (out / "results.md").read_text()
    assert "| random | 0 |" in markdown and "Crosstable" in markdown
    crosstable = (out / "crosstable.csv").read_text().splitlines()
    assert crosstable[0] == "player,random,greedy,net" and len(crosstable) == 4
    assert (out / "elo.csv").read_text().startswith("player,elo,stderr,ci95_low,ci95_high")


def test_tournament_cli_refuses_bad_input(tournament, tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text("players: [{name: a, kind: random}, {name: b, kind: grredy}]\n")
    assert tournament_cli.main(["--config", str(spec)]) == 2
    assert "players[1].kind must be one of random, greedy, policy" in capsys.readouterr().err
    spec.write_text("players: [{name: a, kind: random}, {name: b, kind: greedy}]\n"
                    f"output_dir: {tournament / 'out'}\n")
    assert tournament_cli.main(["--config", str(spec)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    spec.write_text(f"players: [{{name: a, kind: policy, run_dir: {tmp_path}}}, "
                    "{name: b, kind: greedy}]\n")
    assert tournament_cli.main(["--config", str(spec), "--output-dir", str(tmp_path / "o")]) == 2
    assert "not a training run directory" in capsys.readouterr().err


# --- stopped and resumed -----------------------------------------------------------------------


def _files(directory):
    """{relative path: bytes} of every file under `directory`."""
    return {str(path.relative_to(directory)): path.read_bytes()
            for path in sorted(directory.rglob("*")) if path.is_file()}


@pytest.mark.slow
def test_sigint_writes_the_games_so_far_and_resume_ends_with_the_same_table(tournament):
    """The fixture's tournament again, in a process stopped by SIGINT as soon as its first game
    is written; then its last two games taken back (a pairing left part-written, which the
    resume replays, writing only the games missing) and a kill-style half line at the end of its
    log; then --resume. The result must be the uninterrupted fixture's, file for file."""
    import signal
    import subprocess
    import sys
    import time

    out = tournament / "stopped"
    process = subprocess.Popen(
        [sys.executable, "-m", "shogi_jax.tournament",
         "--config", str(tournament / "tournament.yaml"), "--output-dir", str(out), "--quiet"],
        stderr=subprocess.PIPE, text=True)
    log = out / "games.jsonl"
    deadline = time.time() + 300
    while not (log.exists() and log.read_text().count("\n") >= 1):
        assert process.poll() is None and time.time() < deadline, process.stderr.read()
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == exit_codes.STOPPED, err
    assert "Traceback" not in err
    results = json.loads((out / "results.json").read_text())
    written = [json.loads(line) for line in log.read_text().splitlines()]
    assert not results["complete"] and 0 < results["games"] == len(written) < 24, \
        "the tournament was not stopped part-way"
    assert f"SIGINT: {len(written)} of 24 games written" in err and "--resume" in err
    for record in written:  # every game written is whole: its KIF and CSA are there
        assert (out / "games" / f"{record['game']:05d}.kifu").read_text().count("\n") > 2
        assert (out / "games" / f"{record['game']:05d}.csa").exists()
    assert sum(pair["games"] for pair in results["pairs"]) == len(written)
    assert "played so far" in (out / "results.md").read_text()

    for record in written[-2:]:
        for suffix in (".kifu", ".csa"):
            (out / "games" / f"{record['game']:05d}{suffix}").unlink()
    kept = log.read_text().splitlines()[:-2]
    log.write_text("".join(line + "\n" for line in kept) + '{"game": 24, "black": "gre')
    assert tournament_cli.main(["--resume", "--output-dir", str(out), "--quiet"]) == 0
    stopped, straight = _files(out), _files(tournament / "out")
    assert stopped.keys() == straight.keys()
    for name in stopped:
        if name == "results.json":
            a, b = json.loads(stopped[name]), json.loads(straight[name])
            assert a["config"].pop("output_dir") != b["config"].pop("output_dir")
            assert a == b
        elif name not in ("tournament.yaml", "report.html"):  # the page names its directory
            assert stopped[name] == straight[name], name


def test_resume_refuses_another_config_and_changes_no_file(tournament, tmp_path, capsys):
    out = tournament / "out"
    before = _files(out)
    spec = str(tournament / "tournament.yaml")
    assert tournament_cli.main(["--config", spec, "--output-dir", str(out), "--resume",
                                "--set", "games_per_pairing=10"]) == 2
    assert ("the config is not the one this tournament began with (games_per_pairing: 8 when "
            "it began, 10 now)") in capsys.readouterr().err
    assert tournament_cli.main(["--config", spec, "--output-dir", str(out)]) == 2
    assert "continue it with --resume" in capsys.readouterr().err
    assert tournament_cli.main(["--resume", "--output-dir", str(tmp_path)]) == 2
    assert "holds no tournament to continue" in capsys.readouterr().err
    assert _files(out) == before
    # The same config (its policy player unpinned, as written by the user) is accepted; a
    # finished tournament has nothing left to play and keeps its table.
    assert tournament_cli.main(["--config", spec, "--output-dir", str(out), "--resume",
                                "--quiet"]) == 0
    assert _files(out) == before
    stored = (out / "tournament.yaml").read_text()
    assert "step: 0" in stored and "checkpoint: latest" in stored


def test_a_resumed_tournament_plays_only_the_batches_it_had_not_finished(tmp_path, monkeypatch,
                                                                          capsys):
    """games_at_once 4 of a pairing's 8: a tournament whose log holds the first batch (as a
    stopped one leaves it) plays only the second batch on --resume, and ends with the same games
    as the tournament played through."""
    spec = tmp_path / "tournament.yaml"
    spec.write_text(f"""
players: [{{name: greedy, kind: greedy}}, {{name: random, kind: random}}]
games_per_pairing: 8
games_at_once: 4
random_opening_plies: 2
max_plies: 64
output_dir: {tmp_path / "out"}
""")
    assert tournament_cli.main(["--config", str(spec), "--quiet"]) == 0
    log = tmp_path / "out" / "games.jsonl"
    played_through = {json.loads(line)["game"]: line for line in log.read_text().splitlines()}
    assert sorted(played_through) == list(range(1, 9))
    first_batch = [played_through[number] for number in range(1, 5)]
    log.write_text("".join(line + "\n" for line in first_batch))
    reported = []
    real_play_match = tournament_module.play_match

    def watched(*args, on_finished, **kwargs):
        def finished(indices, games):
            reported.extend(indices.tolist())
            on_finished(indices, games)
        return real_play_match(*args, on_finished=finished, **kwargs)

    monkeypatch.setattr(tournament_module, "play_match", watched)
    bars = []  # (total, initial) of each progress bar: the resume's starts at its written games
    real_progress_bar = tournament_cli.progress_bar
    monkeypatch.setattr(tournament_cli, "progress_bar", lambda total, initial=0, **kw: (
        bars.append((total, initial)) or real_progress_bar(total, initial, **kw)))
    assert tournament_cli.main(["--resume", "--output-dir", str(tmp_path / "out"),
                                "--quiet"]) == 0
    assert sorted(reported) == [4, 5, 6, 7]
    assert bars == [(8, 4)]
    resumed = {json.loads(line)["game"]: line for line in log.read_text().splitlines()}
    assert resumed == played_through
    spec.write_text(spec.read_text().replace("games_at_once: 4", "games_at_once: 3"))
    capsys.readouterr()
    assert tournament_cli.main(["--config", str(spec), "--output-dir", str(tmp_path / "o")]) == 2
    assert "games_at_once must be even and >= 0, got 3" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
