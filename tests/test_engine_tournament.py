"""Tournaments with external USI engines (the `usi` player kind): the records and results of
games judged against a faulty engine, and the refusal of bad engine settings."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import cshogi
import cshogi.CSA
import cshogi.KIF
import pytest
from engine_games import FAULT_ENGINE, replay

from shogi_jax import tournament as tournament_cli

# The full tier (python -m pytest -m ""): this module plays tournaments against engine processes.
pytestmark = pytest.mark.slow


def _tournament_yaml(path, output_dir, extra_players=""):
    path.write_text(f"""
players:
  - {{name: greedy, kind: greedy}}
  - {{name: honest, kind: usi, command: "{' '.join(FAULT_ENGINE)} none", depth: 1}}
  - {{name: crashy, kind: usi, command: "{' '.join(FAULT_ENGINE)} crash 3", movetime_ms: 10,
      options: ["USI_Hash=16"]}}
{extra_players}games_per_pairing: 2
max_plies: 16
concurrency: 2
output_dir: {output_dir}
""")
    return path


def test_a_tournament_with_engines_writes_every_game_and_its_reason(tmp_path):
    out = tmp_path / "out"
    spec = _tournament_yaml(tmp_path / "t.yaml", out)
    assert tournament_cli.main(["--config", str(spec), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["games"] == 6 and results["complete"]
    assert {p["name"]: p["kind"] for p in results["players"]} == {
        "greedy": "greedy", "honest": "usi", "crashy": "usi"}
    records = [json.loads(line) for line in (out / "games.jsonl").read_text().splitlines()]
    assert sorted(r["game"] for r in records) == list(range(1, 7))
    for r in records:
        replay(r["start_sfen"], r["moves"])
        crashy = "white" if r["black"] == "crashy" else "black" if r["white"] == "crashy" \
            else None
        if crashy:  # it crashes at its third move of every game (restarted after each)
            assert r["termination"] == "disconnection" and "exit code 3" in r["note"]
            assert r["result"] == f"{crashy}_win"
            assert len(r["moves"]) == (4 if crashy == "white" else 5)
        else:
            assert r["termination"] in ("move_limit", "checkmate") and "note" not in r
        (csa,) = cshogi.CSA.Parser.parse_file(str(out / "games" / f"{r['game']:05d}.csa"),
                                               encoding="utf-8")
        assert [cshogi.move_to_usi(m) for m in csa.moves] == r["moves"]
        kif = cshogi.KIF.Parser.parse_file(str(out / "games" / f"{r['game']:05d}.kifu"))
        assert [cshogi.move_to_usi(m) for m in kif.moves] == r["moves"]
    crosstable = (out / "results.md").read_text()
    assert "| crashy |" in crosstable
    assert (out / "engines" / "crashy.log").exists()

    # The ladder script reads the same games: greedy and honest drew both (the move limit), so
    # the step between them is 0; crashy, off the ladder, lost every game: no finite rating.
    ladder = subprocess.run([sys.executable, "scripts/ladder_elo.py", str(out),
                             "--order", "greedy", "honest"], capture_output=True, text=True)
    assert ladder.returncode == 0, ladder.stderr
    assert "| greedy / honest | 2 | 0-2-0 | 0.500 | 0 |" in ladder.stdout
    assert "| honest | 0 |" in ladder.stdout
    assert "| crashy | — | no finite rating: it scored 0 of 4 points | 4 |" in ladder.stdout
    # --players names the off-ladder players to rate: the others are left out; an unknown one
    # is refused by name.
    chosen = subprocess.run([sys.executable, "scripts/ladder_elo.py", str(out),
                             "--order", "greedy", "--players", "honest"],
                            capture_output=True, text=True)
    assert chosen.returncode == 0, chosen.stderr
    assert "| honest | 0 | " in chosen.stdout and "| crashy |" not in chosen.stdout
    unknown = subprocess.run([sys.executable, "scripts/ladder_elo.py", str(out),
                              "--order", "greedy", "--players", "nobody"],
                             capture_output=True, text=True)
    assert unknown.returncode != 0 and "no games of --players nobody" in unknown.stderr


def test_a_tournament_refuses_a_bad_engine_before_writing(tmp_path, capsys):
    cases = {
        "kind: usi, depth: 1": "needs the engine's command line",
        f"kind: usi, command: {sys.executable}, depth: 1, nodes: 5": "exactly one of",
        f"kind: usi, command: {sys.executable}, depth: 1, options: [Threads]":
            "'Threads' is not 'Name=value'",
        "kind: greedy, depth: 1": "depth only go with kind usi",
        "kind: usi, command: /nonexistent/engine, depth: 1": "cannot start",
    }
    for player, message in cases.items():
        out = tmp_path / "out"
        spec = _tournament_yaml(tmp_path / "t.yaml", out, f"  - {{name: bad, {player}}}\n")
        assert tournament_cli.main(["--config", str(spec), "--quiet"]) == 2
        assert message in capsys.readouterr().err, player
        assert not out.exists()


def test_the_shipped_ladder_is_valid_and_plays_neighbours():
    from shogi_jax.arena.tournament_config import load_tournament_config, pairings

    config = load_tournament_config("configs/ladder.yaml")
    names = [player.name for player in config.players]
    assert names[:2] == ["random", "greedy"] and len(names) >= 5
    assert pairings(config) == [(i, i + 1) for i in range(len(names) - 1)]
    gauntlet = dataclasses.replace(config, pairing="gauntlet")
    assert pairings(gauntlet) == [(0, j) for j in range(1, len(names))]
    engines = [player for player in config.players if player.kind == "usi"]
    assert all(sum(limit is not None for limit in (p.depth, p.nodes, p.movetime_ms,
                                                   p.byoyomi_ms)) == 1 for p in engines)
