"""The learning probes (scripts/value_probe.py, top1_agreement.py, mate_probe.py) and their fixed
position sets (scripts/probe_positions.py, scripts/data): the figures against hand-worked cases
and scipy, material against cshogi's board counted apart, the committed sets checked against
their games and cshogi, and each script end to end on a slice with the shipped network."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import cshogi
import jax
import numpy as np
import pytest
from cshogi_material import balance
from scipy.stats import mannwhitneyu

from shogi_jax.notation.records import read_games

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
try:
    import mate_probe
    import probe_common
    import probe_positions
    import top1_agreement
    import value_probe
finally:
    sys.path.pop(0)

SETS = {name: probe_common.read_set(probe_common.DATA / file)
        for name, file in probe_positions.SETS.items()}
FAIRY_STOCKFISH = shutil.which("fairy-stockfish") or (
    "/usr/games/fairy-stockfish" if Path("/usr/games/fairy-stockfish").is_file() else None)
needs_fairy_stockfish = pytest.mark.skipif(
    FAIRY_STOCKFISH is None, reason="Fairy-Stockfish is not installed: "
                                    "apt-get install fairy-stockfish")


# --- the figures ---------------------------------------------------------------------------------


def test_auc_counts_the_won_lost_pairs_ranked_right_and_ties_half():
    # won {0.9, 0.3} against lost {0.8, 0.1}: 0.9 beats both, 0.3 beats 0.1 only: 3 of 4 pairs
    assert probe_common.auc([0.9, 0.8, 0.3, 0.1], [1, -1, 1, -1]) == 0.75
    # won {1, 0} against lost {1, 0}: a tie (1/2), a win, a loss, a tie (1/2): 2 of 4
    assert probe_common.auc([1, 1, 0, 0], [1, -1, 1, -1]) == 0.5
    # won {2, 1} against lost {1}: 1 + 1/2 of 2 pairs
    assert probe_common.auc([2, 1, 1], [1, 1, -1]) == 0.75
    assert probe_common.auc([3, 2, 1], [1, 1, -1]) == 1.0
    assert probe_common.auc([1, 2, 3], [1, 1, -1]) == 0.0
    with pytest.raises(ValueError, match="won and lost"):
        probe_common.auc([1, 2], [1, 1])


def test_auc_is_scipys_mann_whitney_u_over_the_pairs():
    rng = np.random.default_rng(1)
    scores = rng.integers(-5, 6, 300).astype(float)  # many ties
    results = np.where(rng.random(300) < 0.4, 1, -1)
    won, lost = scores[results > 0], scores[results < 0]
    expected = mannwhitneyu(won, lost).statistic / (len(won) * len(lost))
    assert probe_common.auc(scores, results) == pytest.approx(expected, abs=1e-12)


def test_right_signs_count_a_zero_half():
    scores, results = [0.5, -0.2, 0.0, 3.0], [1, 1, -1, -1]
    assert list(probe_common.sign_hits(scores, results)) == [1.0, 0.0, 0.5, 0.0]
    assert probe_common.right_sign_share(scores, results) == 0.375
    assert probe_common.right_sign_share(scores, results, [True, True, False, False]) == 0.5


def test_the_paired_bootstrap_of_one_scorer_against_itself_is_zero():
    rng = np.random.default_rng(0)
    scores, results = rng.normal(size=50), np.where(rng.random(50) < 0.5, 1, -1)
    assert probe_common.paired_bootstrap(probe_common.auc, scores, scores, results,
                                         resamples=50) == (0.0, 0.0)
    hits = probe_common.share_with_interval([True, False, False, False])
    assert hits["share"] == 0.25 and hits["hits"] == 1 and 0 < hits["low"] < 0.25 < hits["high"]


def test_material_for_the_side_to_move_is_cshogis_board_counted_apart():
    rows = SETS["value"][1][:40]
    sfens = [row["sfen"] for row in rows]
    ours = probe_common.map_positions(jax.jit(value_probe.material_outputs), sfens)["material"]
    for sfen, points in zip(sfens, ours):
        board = cshogi.Board(sfen)
        assert points == balance(board, board.turn), sfen
    assert len(set(np.sign(ours).tolist())) == 3  # ahead, even and behind all among them


# --- the sets ------------------------------------------------------------------------------------


def test_the_sets_are_small_and_say_how_they_were_made():
    for name, file in probe_positions.SETS.items():
        assert (probe_common.DATA / file).stat().st_size < 1 << 20
        meta, rows = SETS[name]
        assert meta["set"] == name and meta["positions"] == len(rows)
        assert {"date", "commit", "machine", "command", "seed", "sources", "how"} <= set(meta)
    assert 1500 <= len(SETS["value"][1]) <= 2000 and len(SETS["top1"][1]) >= 1500
    assert SETS["top1"][0]["nodes"] > 0 and len(SETS["mate"][1]) >= 60


def test_no_game_or_position_is_in_two_sets_and_every_player_is_an_engine():
    games = {name: {(r["source"], r["game"]) for r in rows} for name, (_, rows) in SETS.items()}
    keys = {name: {probe_positions.position_key(r["sfen"]) for r in rows}
            for name, (_, rows) in SETS.items()}
    for first, second in (("value", "top1"), ("value", "mate"), ("top1", "mate")):
        assert not games[first] & games[second] and not keys[first] & keys[second]
    for _, rows in SETS.values():
        assert len({probe_positions.position_key(r["sfen"]) for r in rows}) == len(rows)
        assert all(probe_positions.is_engine(r["black"]) and probe_positions.is_engine(r["white"])
                   for r in rows)


def test_value_positions_carry_their_games_result_for_the_side_to_move():
    rows = SETS["value"][1]
    plies = np.array([r["plies_to_end"] for r in rows])
    assert plies.min() >= 3 and plies.max() <= 60 and {r["result"] for r in rows} == {1, -1}
    per_game = {}
    for row in rows:
        per_game.setdefault((row["source"], row["game"]), []).append(row)
    assert max(len(found) for found in per_game.values()) <= 2
    games = {(Path(s).name, g["game"]): g
             for s in probe_positions.SOURCES for g in read_games([s])}
    for row in rows[:60]:
        game = games[(row["source"], row["game"])]
        board = cshogi.Board()
        for move in game["moves"][:row["ply"]]:
            board.push_usi(move)
        assert probe_positions.position_key(board.sfen()) == \
            probe_positions.position_key(row["sfen"])
        assert len(game["moves"]) - row["ply"] == row["plies_to_end"]
        winner = cshogi.BLACK if game["result"] == "black_win" else cshogi.WHITE
        assert row["result"] == (1 if board.turn == winner else -1)


def test_top1_moves_are_legal_and_mates_are_every_mating_move():
    for row in SETS["top1"][1][:200]:
        legal = {cshogi.move_to_usi(m) for m in cshogi.Board(row["sfen"]).legal_moves}
        assert row["best"] in legal and row["score"], row
    for row in SETS["mate"][1]:
        assert row["mates"] and row["mates"] == probe_positions.mating_moves(row["sfen"])
        assert row["played_mates"] == (row["played"] in row["mates"])


def test_score_of_reads_the_last_scored_info_line():
    lines = ["info string variant shogi", "info depth 3 seldepth 4 score cp 12 nodes 90 pv 7g7f",
             "info depth 4 score cp -30 upperbound nodes 200", "info depth 4 currmove 2g2f"]
    assert probe_positions.score_of(lines) == {"depth": 4, "cp": -30}
    assert probe_positions.score_of(["info depth 9 score mate -3 pv 5a4b"]) == \
        {"depth": 9, "mate": -3}
    assert probe_positions.score_of([]) == {}


@pytest.mark.engines
@needs_fairy_stockfish
def test_fairy_stockfishs_deep_move_repeats_and_comes_with_a_score():
    rows = [{"sfen": r["sfen"]} for r in SETS["top1"][1][:3]]
    again = [dict(r) for r in rows]
    probe_positions.deep_moves(rows, FAIRY_STOCKFISH, 20_000, progress=False)
    probe_positions.deep_moves(again, FAIRY_STOCKFISH, 20_000, progress=False)
    assert [r["best"] for r in rows] == [r["best"] for r in again]
    assert all(r["score"].get("depth") and ("cp" in r["score"] or "mate" in r["score"])
               for r in rows)


# --- the scripts end to end ----------------------------------------------------------------------


def _run(main, capsys, *arguments):
    assert main(["--pretrained", *arguments]) == 0
    return capsys.readouterr().out


def test_value_probe_on_a_slice(capsys, tmp_path):
    out = _run(value_probe.main, capsys, "--limit", "20", "--json", str(tmp_path / "v.json"))
    assert "# machine: " in out and "iteration 996" in out and "| material |" in out
    found = json.loads((tmp_path / "v.json").read_text())
    assert found["positions"] == 20 and found["machine"]["git_revision"]
    rows = SETS["value"][1][:20]
    results = np.array([r["result"] for r in rows])
    assert found["material"]["auc"] == pytest.approx(probe_common.auc(
        [balance(cshogi.Board(r["sfen"]), cshogi.Board(r["sfen"]).turn) for r in rows], results))
    assert found["difference"]["auc"] == pytest.approx(found["network"]["auc"]
                                                       - found["material"]["auc"])


def test_top1_agreement_on_a_slice(capsys, tmp_path):
    out = _run(top1_agreement.main, capsys, "--limit", "20", "--json", str(tmp_path / "t.json"))
    assert "network, policy argmax" in out and "greedy (expected)" in out
    found = json.loads((tmp_path / "t.json").read_text())
    rows = SETS["top1"][1][:20]
    legal = [len(list(cshogi.Board(r["sfen"]).legal_moves)) for r in rows]
    assert found["random"] == pytest.approx(np.mean([1 / n for n in legal]), rel=1e-5)
    assert 0 <= found["greedy"] <= 1 and found["policy"]["hits"] <= 20


def test_mate_probe_on_a_slice(capsys, tmp_path):
    out = _run(mate_probe.main, capsys, "--limit", "20", "--json", str(tmp_path / "m.json"))
    assert "mates in one" in out
    found = json.loads((tmp_path / "m.json").read_text())
    rows = SETS["mate"][1][:20]
    legal = [len(list(cshogi.Board(r["sfen"]).legal_moves)) for r in rows]
    assert found["random"] == pytest.approx(
        np.mean([len(r["mates"]) / n for r, n in zip(rows, legal)]), rel=1e-5)


def test_a_set_whose_mates_are_not_legal_moves_is_refused(capsys, tmp_path):
    meta, rows = SETS["mate"]
    start = "lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL b - 1"
    broken = tmp_path / "broken.jsonl.gz"
    probe_common.write_set(broken, meta, rows[:19] + [{"sfen": start, "mates": ["5a5b"]}])
    with pytest.raises(SystemExit, match="its mates \\['5a5b'\\] are not legal moves here"):
        _run(mate_probe.main, capsys, "--set", str(broken))


@pytest.mark.slow  # compiles a search
def test_the_search_is_measured_too(capsys):
    out = _run(mate_probe.main, capsys, "--limit", "8", "--simulations", "4")
    assert "network, search 4 simulations" in out


@pytest.mark.parametrize("main", [value_probe.main, top1_agreement.main, mate_probe.main])
def test_help_and_errors_name_the_problem(main, capsys, tmp_path):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0 and "--pretrained" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["--run-dir", str(tmp_path)])
    assert done.value.code == 1
    assert "is not a training run directory (no checkpoints)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        main(["--pretrained", "--step", "3"])
    assert done.value.code == 2 and "--pretrained is one checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="does not exist"):
        main(["--pretrained", "--set", str(tmp_path / "nothing.jsonl.gz")])
