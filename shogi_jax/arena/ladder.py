"""The ladder's rungs as fixed anchors: each rung's ladder Elo (random = 0), and a player rated
from its games against them on that scale.

RUNGS is the ladder's second pass (docs/ladder.md: 2026-11-30, commit ff29372, 3,958 games,
`scripts/ladder_elo.py` over docs/ladder_games/ladder_pass2_*.jsonl.gz; tests/test_ladder.py
recomputes it from those games). The rungs a network can play without a tournament are the
on-device ones (random, greedy) and Fairy-Stockfish at depth 1 weakened by its Skill Level,
played as configs/ladder.yaml plays them.
"""
from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

import numpy as np

from shogi_jax.arena.elo import CI95_Z, ELO_PER_NAT, performance_rating
from shogi_jax.arena.engine_match import EnginePlayer
from shogi_jax.arena.usi_client import MoveLimit

ON_DEVICE = ("random", "greedy")  # the rungs that are players of play.players
FAIRY_STOCKFISH = "fairy-stockfish"
DEBIAN_GAMES = Path("/usr/games")  # where Debian installs fairy-stockfish (often not on PATH)


@dataclass(frozen=True)
class Rung:
    """A rung: its name on the ladder, its ladder Elo and the +- of its 95% interval (the sum of
    the steps below it), and, for a Fairy-Stockfish rung at depth 1, its Skill Level."""

    name: str
    elo: float
    ci95: float
    skill_level: Optional[int] = None


RUNGS: dict[str, Rung] = {rung.name: rung for rung in (
    Rung("random", 0, 0), Rung("greedy", 407, 57),
    Rung("fairy_skill-5_d1", 456, 74, -5), Rung("fairy_skill-4_d1", 708, 96, -4),
    Rung("fairy_skill-3_d1", 957, 114, -3), Rung("fairy_skill-1_d1", 1215, 130, -1),
    Rung("fairy_skill5_d1", 1448, 142, 5), Rung("fairy_skill10_d1", 1523, 151, 10),
    Rung("fairy_d1", 1590, 158, 20),
    # Above depth 1 (GNU Shogi, Fairy-Stockfish by nodes): rated, not played by the evaluation.
    Rung("gnushogi_d1", 1779, 167), Rung("fairy_1k", 1869, 174), Rung("gnushogi_d3", 1989, 181),
    Rung("fairy_3k", 2189, 190), Rung("fairy_5k", 2375, 198), Rung("fairy_10k", 2624, 207),
    Rung("fairy_20k", 2870, 221), Rung("fairy_30k", 3064, 232), Rung("fairy_50k", 3329, 246),
    Rung("fairy_100k", 3539, 257), Rung("fairy_200k", 3711, 266),
    Rung("fairy_300k", 3906, 275))}
# The rungs the training evaluation can play through Fairy-Stockfish, weakest first.
ENGINE_RUNGS = tuple(name for name, rung in RUNGS.items() if rung.skill_level is not None)


def find_engine(command: str = FAIRY_STOCKFISH) -> Optional[str]:
    """The path of the program `command` (a path, or a name looked up on PATH and then in
    /usr/games), or None where it is not installed."""
    found = shutil.which(command)
    if found is None and "/" not in command:
        found = shutil.which(str(DEBIAN_GAMES / command))
    return found


def engine_player(name: str, program: str, *, move_timeout: float = 30.0) -> EnginePlayer:
    """The Fairy-Stockfish rung `name` (one of ENGINE_RUNGS): depth 1, one thread, its Skill
    Level (20, full strength, is the engine's default and sent all the same)."""
    if name not in ENGINE_RUNGS:
        raise ValueError(f"{name!r} is not a Fairy-Stockfish rung at depth 1; the rungs are "
                         f"{', '.join(ENGINE_RUNGS)}")
    options = (("Threads", "1"), ("Skill Level", str(RUNGS[name].skill_level)))
    return EnginePlayer(name, (program,), MoveLimit(depth=1), options, move_timeout=move_timeout)


@dataclass(frozen=True)
class LadderRating:
    """A player's rating on the ladder's scale from its games against rungs. `bound` is 0 for a
    rating; +1 where it scored every point (no finite rating: `elo` is then the 95% lower bound
    and ci95_high is inf), -1 where it scored none (`elo` the upper bound, ci95_low -inf). The
    rungs' own uncertainty is not in the interval (as for every player placed on the ladder)."""

    elo: float
    ci95_low: float
    ci95_high: float
    bound: int
    games: int


def ladder_rating(results: Mapping[str, tuple[int, int, int]]) -> LadderRating:
    """The performance rating (`elo.performance_rating`, as scripts/ladder_elo.py rates a network)
    of a player's wins, draws and losses against rungs: {rung name: (W, D, L)}."""
    unknown = [name for name in results if name not in RUNGS]
    if unknown:
        raise ValueError(f"not rungs of the ladder: {', '.join(unknown)}")
    played = {name: result for name, result in results.items() if sum(result) > 0}
    if not played:
        raise ValueError("no games against a rung")
    elo = np.array([RUNGS[name].elo for name in played], float)
    wins, draws, losses = (np.array(column, float) for column in zip(*played.values()))
    games = int((wins + draws + losses).sum())
    if (wins + draws).sum() == 0 or (draws + losses).sum() == 0:
        bound = 1 if (draws + losses).sum() == 0 else -1
        edge = _one_sided_bound(elo, wins + draws + losses, bound)
        return LadderRating(edge, *((edge, math.inf) if bound > 0 else (-math.inf, edge)),
                            bound, games)
    rating, stderr = performance_rating(elo, wins, draws, losses)
    return LadderRating(rating, rating - CI95_Z * stderr, rating + CI95_Z * stderr, 0, games)


def _one_sided_bound(elo, games, direction: int) -> float:
    """Where every game was won (direction +1): the rating below which winning them all has
    probability under 2.5%, the lower end of a 95% interval; lost (-1): the mirror upper end."""
    target = math.log(0.025)

    def log_probability(rating):  # of the observed clean sweep at `rating`
        expected = 1.0 / (1.0 + np.exp(direction * (elo - rating) / ELO_PER_NAT))
        return float((games * np.log(expected)).sum())

    low, high = elo.min() - 4000.0, elo.max() + 4000.0
    for _ in range(200):  # the sweep's probability rises with direction * rating
        middle = (low + high) / 2
        if (log_probability(middle) < target) == (direction > 0):
            low = middle
        else:
            high = middle
    return (low + high) / 2
