"""A training run's directory, and every file the trainer writes there besides the checkpoints
(those are `shogi_jax.train.checkpoint`'s, under checkpoints/):

    config.yaml              the resolved config the run began with
    config_history.yaml      every session's config, appended once a resume is accepted
    metrics.jsonl            one JSON record per iteration; on resume, the records past the
                             checkpoint are dropped (they will be redone)
    tensorboard/             the same scalars, and each evaluation's first games as text
    eval_games/iteration_N/  every evaluation game, as KIF

In a multi-process job only process 0 writes: the others hold a `RunDirectory` with
`writes=False`, whose methods do nothing.
"""
from __future__ import annotations

import datetime
import json
import math
import os
import time
from pathlib import Path

from tensorboardX import SummaryWriter

from shogi_jax.arena.standings import game_records
from shogi_jax.host.settings import ConfigError, config_yaml
from shogi_jax.notation.records import kif_text, replayed
from shogi_jax.play.network import CHECKPOINT_DIR
from shogi_jax.train.config import Config, save_config
from shogi_jax.train.periodic import CURRENT

CONFIG_FILE = "config.yaml"
CONFIG_HISTORY = "config_history.yaml"
METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
EVAL_GAMES_DIR = "eval_games"


def create_run_dir(path: str | os.PathLike[str], config: Config) -> None:
    """Makes a new run directory holding CONFIG_FILE; refuses one that already holds anything
    (a run is never overwritten)."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ConfigError(f"run directory '{path}' already exists and is not empty; "
                          "continue that run with --resume, or choose a new --run-dir")
    path.mkdir(parents=True, exist_ok=True)
    save_config(config, path / CONFIG_FILE)


def check_resumable(path: str | os.PathLike[str]) -> None:
    """Refuses --resume of a directory without checkpoints (before anything is written)."""
    if not (Path(path) / CHECKPOINT_DIR).is_dir():
        raise ConfigError(f"--resume: no checkpoints in '{path}'")


class RunDirectory:
    """The run directory during one training session: its config history, metrics (JSON lines
    and TensorBoard) and evaluation games, and the run's wall clock across sessions."""

    def __init__(self, path: str | os.PathLike[str], *, writes: bool = True):
        self.path = Path(path)
        self.writes = writes
        self._session_started = time.perf_counter()
        self._wall_seconds_before = 0.0  # the earlier sessions', read back on resume
        self._jsonl = self._tensorboard = None

    def begin_session(self, config: Config, *, resumed_from: int | None) -> None:
        """Appends this session's config to CONFIG_HISTORY and opens the metrics for appending.
        resumed_from: the checkpoint's iteration on resume; the metric records past it are
        dropped from metrics.jsonl and hidden in TensorBoard (its purge_step)."""
        if not self.writes:
            return
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        how = "new run" if resumed_from is None else f"resumed from iteration {resumed_from}"
        with open(self.path / CONFIG_HISTORY, "a", encoding="utf-8") as history:
            history.write(f"--- # {how}, {when}\n{config_yaml(config)}")
        if resumed_from is not None and (self.path / METRICS_FILE).exists():
            kept = [record for record in read_metrics(self.path)
                    if record["iteration"] <= resumed_from]
            (self.path / METRICS_FILE).write_text(
                "".join(json.dumps(record) + "\n" for record in kept), encoding="utf-8")
            self._wall_seconds_before = kept[-1].get("perf/wall_seconds", 0.0) if kept else 0.0
        self._jsonl = open(self.path / METRICS_FILE, "a", encoding="utf-8")
        self._tensorboard = SummaryWriter(
            str(self.path / TENSORBOARD_DIR),
            purge_step=None if resumed_from is None else resumed_from + 1)

    def session_seconds(self) -> float:
        """This session's wall clock, from the directory's opening."""
        return time.perf_counter() - self._session_started

    def wall_seconds(self) -> float:
        """The run's wall clock so far: earlier sessions and this one (compilation, evaluation
        and checkpointing included)."""
        return self._wall_seconds_before + self.session_seconds()

    def write_metrics(self, iteration: int, env_steps: int, metrics: dict[str, float]) -> None:
        """One record: `iteration` (1-based count of completed iterations) is the x axis."""
        if not self.writes:
            return
        record = {"iteration": iteration, "env_steps": env_steps}
        record.update({name: _json_number(value) for name, value in sorted(metrics.items())})
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()
        for name, value in metrics.items():
            self._tensorboard.add_scalar(name, value, global_step=iteration)
        self._tensorboard.flush()

    def write_evaluation_games(self, iteration: int, games) -> None:
        """EVAL_GAMES_DIR/iteration_NNNNNN/vs_OPPONENT_KKK.kifu for every game of an evaluation
        (games: (opponent name, MatchGames) pairs), and the first against each opponent as
        TensorBoard text (its Text tab, verbatim)."""
        if not self.writes:
            return
        directory = self.path / EVAL_GAMES_DIR / f"iteration_{iteration:06d}"
        directory.mkdir(parents=True, exist_ok=True)
        named = [(opponent, number, record) for opponent, match in games
                 for number, record in enumerate(game_records(match, CURRENT, opponent))]
        replays = replayed([record for _, _, record in named])  # every game replayed at once
        for (opponent, number, _), replay in zip(named, replays):
            text = kif_text(replay, event=f"shogi_jax evaluation at iteration {iteration}")
            (directory / f"vs_{opponent}_{number:03d}.kifu").write_text(text, encoding="utf-8")
            if number == 0:
                indented = "\n".join("    " + line for line in text.splitlines())  # markdown
                self._tensorboard.add_text(f"eval/game_vs_{opponent}", indented,
                                           global_step=iteration)
        self._tensorboard.flush()

    def close(self) -> None:
        for file in (self._jsonl, self._tensorboard):
            if file is not None:
                file.close()


def _json_number(value: float):
    value = float(value)
    return value if math.isfinite(value) else repr(value)  # JSON has no NaN/Inf literals


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict]:
    """The records of `metrics.jsonl`, in order."""
    with open(Path(run_dir) / METRICS_FILE, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]
