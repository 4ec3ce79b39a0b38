"""The ladder's rungs as anchors (`shogi_jax.arena.ladder`): the table is the ladder's games'
ratings and docs/ladder.md's, the engine rungs are played as the ladder played them, and a rating
on the ladder's scale (the performance rating, or a one-sided bound after a clean sweep)."""
from __future__ import annotations

import contextlib
import io
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from shogi_jax.arena import ladder
from shogi_jax.arena.elo import CI95_Z, ELO_PER_NAT, performance_rating
from shogi_jax.arena.ladder import ENGINE_RUNGS, RUNGS, engine_player, find_engine, ladder_rating

ROOT = Path(__file__).resolve().parents[1]
RUNG_ROW = re.compile(r"^\| (\S+) \| (-?[0-9]+) \| ([0-9]+) \|$")


def rung_table(text: str) -> dict[str, tuple[int, int]]:
    """{rung: (Elo, +- 95%)} of the markdown table under the header `| rung | ... | +- 95% |`."""
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines)
                 if line.startswith("| rung |") and line.endswith("| +- 95% |"))
    rows = {}
    for line in lines[start + 2:]:
        match = RUNG_ROW.match(line)
        if not match:
            break
        rows[match.group(1)] = (int(match.group(2)), int(match.group(3)))
    return rows


def code_table() -> dict[str, tuple[int, int]]:
    return {name: (int(rung.elo), int(rung.ci95)) for name, rung in RUNGS.items()}


def test_the_rungs_are_the_ladder_table_of_the_docs():
    assert rung_table((ROOT / "docs" / "ladder.md").read_text(encoding="utf-8")) == code_table()


def test_the_rungs_are_the_ratings_of_the_ladder_s_games():
    """scripts/ladder_elo.py over the second pass's games, in the docs' order, gives the table."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import ladder_elo
    finally:
        sys.path.pop(0)
    games = sorted(str(path) for path in (ROOT / "docs" / "ladder_games").glob(
        "ladder_pass2_*.jsonl.gz"))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert ladder_elo.main([*games, "--order", *RUNGS]) == 0
    assert rung_table(printed.getvalue()) == code_table()


def test_the_engine_rungs_are_played_as_the_ladder_played_them():
    """Each Fairy-Stockfish rung at depth 1 has configs/ladder.yaml's settings for it."""
    from shogi_jax.arena.tournament_config import load_tournament_config

    rated = {p.name: p for p in load_tournament_config(ROOT / "configs" / "ladder.yaml").players}
    assert ENGINE_RUNGS == ("fairy_skill-5_d1", "fairy_skill-4_d1", "fairy_skill-3_d1",
                            "fairy_skill-1_d1", "fairy_skill5_d1", "fairy_skill10_d1", "fairy_d1")
    for name in ENGINE_RUNGS:
        player, config = engine_player(name, "/usr/games/fairy-stockfish"), rated[name]
        assert player.command == (config.command,) and player.limit.depth == config.depth == 1
        options = {f"{option}={value}" for option, value in player.options}
        # fairy_d1 is full strength: Skill Level 20, the engine's default, which it leaves out.
        assert options - {"Skill Level=20"} == set(config.options), name
    with pytest.raises(ValueError, match="not a Fairy-Stockfish rung at depth 1"):
        engine_player("fairy_1k", "fairy-stockfish")


def test_a_rating_against_rungs_is_their_performance_rating():
    results = {"random": (30, 2, 0), "greedy": (20, 2, 10), "fairy_skill-5_d1": (12, 0, 20),
               "fairy_skill-4_d1": (0, 0, 0)}  # a rung without games is left out
    rating = ladder_rating(results)
    elo, stderr = performance_rating([0, 407, 456], [30, 20, 12], [2, 2, 0], [0, 10, 20])
    assert (rating.elo, rating.ci95_low, rating.ci95_high) == pytest.approx(
        (elo, elo - CI95_Z * stderr, elo + CI95_Z * stderr))
    assert (rating.bound, rating.games) == (0, 96)


@pytest.mark.parametrize("sweep", [+1, -1])
def test_a_clean_sweep_gives_a_one_sided_bound(sweep):
    """Every game won: no finite rating; the Elo is the lower end of a 95% interval, where the
    sweep has probability 2.5% (lost: the mirror)."""
    games = {"greedy": 10, "fairy_skill-5_d1": 6}
    rating = ladder_rating({name: (n, 0, 0) if sweep > 0 else (0, 0, n)
                            for name, n in games.items()})
    expected = [1 / (1 + math.exp(sweep * (RUNGS[name].elo - rating.elo) / ELO_PER_NAT))
                for name in games]
    assert sum(n * math.log(p) for n, p in zip(games.values(), expected)) == pytest.approx(
        math.log(0.025))
    assert rating.bound == sweep and rating.games == 16
    if sweep > 0:
        assert rating.elo > 456 and (rating.ci95_low, rating.ci95_high) == (rating.elo, np.inf)
    else:
        assert rating.elo < 407 and (rating.ci95_low, rating.ci95_high) == (-np.inf, rating.elo)
    # A draw is half a point each way: a rating again.
    assert ladder_rating({"greedy": (9, 1, 0)}).bound == 0


def test_ratings_refuse_what_is_not_a_rung_or_no_games():
    with pytest.raises(ValueError, match="not rungs of the ladder: gnushogi_d9"):
        ladder_rating({"gnushogi_d9": (1, 0, 1)})
    with pytest.raises(ValueError, match="no games"):
        ladder_rating({"greedy": (0, 0, 0)})


def test_an_engine_is_found_on_the_path_in_usr_games_or_not_at_all(tmp_path, monkeypatch):
    assert find_engine("sh") is not None
    assert find_engine(str(tmp_path / "no-such-engine")) is None
    program = tmp_path / "games" / "my-engine"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setattr(ladder, "DEBIAN_GAMES", program.parent)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_engine("my-engine") == str(program)
