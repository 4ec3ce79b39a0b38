"""A training run's metrics as the report and scripts/plot_elo.py read them: the records of
metrics.jsonl (`run_directory.read_metrics`), each with the run's wall-clock minutes up to it,
the records that carry an evaluation, and the names under which evaluations and game endings
are recorded.
"""
from __future__ import annotations

import json
import math
import os

from shogi_jax.arena.ladder import RUNGS
from shogi_jax.host.paths import as_path
from shogi_jax.play.network import BEST_METRIC, NEW_BEST_METRIC
from shogi_jax.reports import ReportError
from shogi_jax.rules.state import NOT_TERMINATED, TERMINATION_NAMES
from shogi_jax.train.run_directory import METRICS_FILE, read_metrics

MINUTES = "minutes"  # added to every record by `timed_records`
ENV_STEPS = "env_steps"
WALL_SECONDS = "perf/wall_seconds"
# The evaluation (shogi_jax.train.periodic): the ladder Elo (random = 0) from its games against
# rungs of the ladder, its 95% interval, and whether it is a bound (+1: it won every game, the
# Elo is the interval's lower end; -1 the mirror; 0 a rating).
ELO = BEST_METRIC
ELO_CI95_LOW = "eval/elo_ci95_low"
ELO_CI95_HIGH = "eval/elo_ci95_high"
ELO_BOUND = "eval/elo_bound"
BASELINES = ("random", "greedy")  # the rungs every evaluation plays
NEW_BEST = NEW_BEST_METRIC  # 1.0 on the evaluations whose parameters became the best so far
# Runs from before the ladder scale: eval/elo was a fit of the evaluation's own games (random = 0,
# greedy's Elo from a greedy-vs-random match, recorded as these two).
OWN_FIT_GREEDY_ELO = "eval/greedy_elo"
OWN_FIT_CALIBRATION = "eval/greedy_vs_random/win"
# Training (shogi_jax.train.ppo): the loss terms, the policy's entropy and the approximate KL
# between the policy before and after an update.
LOSSES = ("loss/policy", "loss/value")
ENTROPY = "loss/entropy"
APPROX_KL = "ppo/approx_kl"
# How the training games of an iteration ended: games/<reason>, a count per rules reason, out of
# games/finished (shogi_jax.train.iteration writes them).
GAMES_FINISHED = "games/finished"
GAME_END_REASONS = tuple(name for code, name in enumerate(TERMINATION_NAMES)
                         if code != NOT_TERMINATED)


def win_rate_key(opponent: str) -> str:
    """The metric of the share of evaluation games won against `opponent` (draws are not wins)."""
    return f"eval/vs_{opponent}/win"


def game_end_key(reason: str) -> str:
    return f"games/{reason}"


def timed_records(run_dir: str | os.PathLike[str]) -> list[dict]:
    """The records of a run's metrics.jsonl in order, each with MINUTES: the run's wall clock up
    to it (perf/wall_seconds, which counts compiling and evaluating; runs from before it existed:
    iteration and evaluation times summed). ReportError when the file is missing or unreadable."""
    path = as_path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise ReportError(f"{path} does not exist (not a training run directory?)")
    try:
        records = read_metrics(run_dir)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReportError(f"{path} is not readable as JSON lines: {error}") from None
    timed, seconds, steps = [], 0.0, 0
    for number, record in enumerate(records, 1):
        try:
            if WALL_SECONDS in record:
                seconds = float(record[WALL_SECONDS])
            else:
                seconds += ((record[ENV_STEPS] - steps) / record["perf/env_steps_per_second"]
                            + record.get("eval/seconds", 0.0))
            steps = record[ENV_STEPS]
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
            raise ReportError(f"{path} record {number} is not a metrics record "
                              f"({type(error).__name__}: {error})") from None
        timed.append({**record, MINUTES: seconds / 60})
    return timed


def evaluation_records(records: list[dict]) -> list[dict]:
    """The records (as `timed_records` gives them) that carry an evaluation, in order."""
    return [record for record in records if ELO in record]


def on_ladder_scale(record: dict) -> bool:
    """Whether an evaluation's Elo is the ladder's, not the own fit of runs from before."""
    return OWN_FIT_CALIBRATION not in record


def anchors(evaluations: list[dict]) -> list[str]:
    """The ladder rungs the evaluations played, weakest first."""
    return [name for name in RUNGS if any(win_rate_key(name) in record for record in evaluations)]


def number(value) -> float | None:
    """A metric's value as a finite float; None for what a chart cannot draw (a missing value,
    NaN and infinities, which metrics.jsonl writes as strings)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None
