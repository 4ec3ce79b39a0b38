"""A training run's directory, and every file the trainer writes there besides the checkpoints
(those are `shogi_jax.train.checkpoint`'s, under checkpoints/):

    config.yaml              the resolved config the run began with
    config_history.yaml      every session's config, appended once a resume is accepted; its
                             last entry is the run's latest config, which a resume without
                             --config continues with
    provenance.jsonl         one line a session: package versions, Python, commit (dirty?),
                             devices, processes, XLA_FLAGS (`host.provenance`)
    metrics.jsonl            one JSON record per iteration; on resume, the records past the
                             checkpoint are dropped (they will be redone)
    tensorboard/             the same scalars, and each evaluation's first games as text
    eval_games/iteration_N/  every evaluation game, as KIF
    wandb_run_id             the W&B run every session of the run logs to (tracking.wandb;
                             `shogi_jax.train.tracking`)

In a multi-process job only process 0 writes: the others hold a `RunDirectory` with
`writes=False`, whose methods do nothing.
"""
from __future__ import annotations

import datetime
import enum
import json
import math
import os
import time

import yaml
from tensorboardX import SummaryWriter, record_writer

from shogi_jax.arena.standings import game_records
from shogi_jax.host.checkpoint_mirror import complete_steps
from shogi_jax.host.paths import REMOTE_SCHEMES, AppendedFile, append_text, as_path
from shogi_jax.host.provenance import PROVENANCE_FILE, provenance
from shogi_jax.host.settings import (
    ConfigError,
    config_differences,
    config_to_dict,
    config_yaml,
)
from shogi_jax.notation.records import kif_text, replayed
from shogi_jax.play.network import CHECKPOINT_DIR
from shogi_jax.train.config import Config, config_from_dict, save_config
from shogi_jax.train.periodic import CURRENT

CONFIG_FILE = "config.yaml"
CONFIG_HISTORY = "config_history.yaml"
METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
EVAL_GAMES_DIR = "eval_games"


RESUME_AUTO = "auto"  # --resume auto: resume where a checkpoint exists, else start
# Where a run lives, the machines it runs on and where it is tracked, not what it computes: a run
# stopped before its first checkpoint may start again with these changed.
_PLACE_KEYS = ("train.run_dir", "train.compilation_cache_dir", "distributed.", "tracking.")


class SessionStart(enum.Enum):
    """How a training session begins in its run directory."""

    NEW_RUN = "new run"
    START_AGAIN = "started again"  # a run stopped before its first checkpoint, from iteration 0
    RESUME = "resume"  # from the latest good checkpoint


def prepare_run_dir(path: str | os.PathLike[str], config: Config, *,
                    resume: bool | str = False) -> SessionStart:
    """Checks the run directory for this session before anything compiles, and makes it for a
    new run; refuses (ConfigError, nothing changed) what the session cannot do there.

    resume: False starts a new run (the directory must not exist or be empty); True resumes
    from a checkpoint (there must be one); RESUME_AUTO resumes where a checkpoint exists, starts
    where the directory is missing or empty, and starts again a run stopped before its first
    checkpoint when `config` is that run's (so one command line serves every restart)."""
    path = as_path(path)
    if resume == RESUME_AUTO:
        if has_checkpoint(path):
            return SessionStart.RESUME
        if path.is_dir() and any(path.iterdir()):
            _check_same_run(path, config)
            return SessionStart.START_AGAIN
    elif resume:
        check_resumable(path)
        return SessionStart.RESUME
    create_run_dir(path, config)
    return SessionStart.NEW_RUN


def create_run_dir(path: str | os.PathLike[str], config: Config) -> None:
    """Makes a new run directory holding CONFIG_FILE; refuses one that already holds anything
    (a run is never overwritten)."""
    path = as_path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ConfigError(f"run directory '{path}' already exists and is not empty; "
                          "continue that run with --resume, or choose a new --run-dir")
    path.mkdir(parents=True, exist_ok=True)
    save_config(config, path / CONFIG_FILE)


def has_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether the run directory holds a complete checkpoint (a save cut short leaves only a
    temporary name or no completion mark)."""
    return bool(complete_steps(as_path(path) / CHECKPOINT_DIR))


def check_resumable(path: str | os.PathLike[str]) -> None:
    """Refuses --resume of a directory without checkpoints (before anything is written)."""
    if not has_checkpoint(path):
        started = (as_path(path) / CONFIG_FILE).is_file()
        raise ConfigError(f"--resume: no checkpoints in '{path}'"
                          + ("; --resume auto starts that run again" if started else ""))


def latest_config(path: str | os.PathLike[str]) -> Config | None:
    """The run's latest config: the last session's in CONFIG_HISTORY, else CONFIG_FILE (a run
    stopped before its first session began); None where the directory holds neither."""
    path = as_path(path)
    settings, source = _latest_settings(path)
    if settings is None:
        return None
    try:
        return config_from_dict(settings)
    except ConfigError as error:
        raise ConfigError(f"the run's latest config ({path / source}): {error}") from None


def _latest_settings(path) -> tuple[dict | None, str]:
    """(the run's latest config as a plain mapping, the file it came from), or (None, "")."""
    for source in (CONFIG_HISTORY, CONFIG_FILE):
        if (path / source).is_file():
            try:
                sessions = list(yaml.safe_load_all((path / source).read_text(encoding="utf-8")))
            except yaml.YAMLError as error:
                raise ConfigError(f"invalid YAML in {path / source}: {error}") from None
            sessions = [session for session in sessions if session is not None]
            if sessions:
                return sessions[-1], source
    return None, ""


def _check_same_run(path, config: Config) -> None:
    """Refuses to start again, in `path`, a run whose config differs from `config`."""
    latest = latest_config(path)
    if latest is None:
        raise ConfigError(f"run directory '{path}' is not empty and holds no run (no "
                          f"{CONFIG_FILE}); choose a new --run-dir")
    differences = [f"{key}: run {old!r}, this command {new!r}" for key, old, new
                   in config_differences(config_to_dict(latest), config_to_dict(config))
                   if not key.startswith(_PLACE_KEYS)]
    if differences:
        raise ConfigError(
            f"--resume auto: '{path}' holds a run stopped before its first checkpoint with other "
            f"settings ({'; '.join(differences)}); run the command it began with, or choose a "
            "new --run-dir")


class RunDirectory:
    """The run directory during one training session: its config history, metrics (JSON lines
    and TensorBoard) and evaluation games, and the run's wall clock across sessions."""

    def __init__(self, path: str | os.PathLike[str], *, writes: bool = True):
        self.path = as_path(path)
        self.writes = writes
        self._session_started = time.perf_counter()
        self._wall_seconds_before = 0.0  # the earlier sessions', read back on resume
        self._jsonl = self._tensorboard = None

    def begin_session(self, config: Config, *,
                      resumed_from: int | None) -> list[tuple[str, object, object]]:
        """Appends this session's config to CONFIG_HISTORY and opens the metrics for appending.
        resumed_from: the checkpoint's iteration on resume (0: a run started again, stopped
        before its first checkpoint; None: a new run); the metric records past it are dropped
        from metrics.jsonl and hidden in TensorBoard (its purge_step). Returns the settings
        that changed from the run's latest config: (dotted key, old value, new value)."""
        if not self.writes:
            return []
        previous, _ = _latest_settings(self.path)
        changes = ([] if previous is None else
                   list(config_differences(previous, config_to_dict(config))))
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        how = {None: "new run", 0: "started again (stopped before its first checkpoint)"}.get(
            resumed_from, f"resumed from iteration {resumed_from}")
        append_text(self.path / CONFIG_HISTORY, f"--- # {how}, {when}\n{config_yaml(config)}")
        append_text(self.path / PROVENANCE_FILE,
                    json.dumps({"session": how, "time": when, **provenance()}) + "\n")
        kept = []
        if resumed_from is not None and (self.path / METRICS_FILE).exists():
            kept = [record for record in read_metrics(self.path)
                    if record["iteration"] <= resumed_from]
            self._wall_seconds_before = kept[-1].get("perf/wall_seconds", 0.0) if kept else 0.0
        self._jsonl = AppendedFile(self.path / METRICS_FILE,
                                   "".join(json.dumps(record) + "\n" for record in kept))
        self._tensorboard = SummaryWriter(
            str(self.path / TENSORBOARD_DIR),
            purge_step=None if resumed_from is None else resumed_from + 1)
        return changes

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

    def sync(self) -> None:
        """Writes out everything so far, also where an object store's files are rewritten only
        now and then (called with every checkpoint, so a resume finds the metrics up to it)."""
        if self._jsonl is not None:
            self._jsonl.flush(force=True)
            self._tensorboard.flush()
            _EVENT_FILES.flush()

    def close(self) -> None:
        for file in (self._jsonl, self._tensorboard):
            if file is not None:
                file.close()


class _EventFilesInStores:
    """tensorboardX's writer for event files at gs:// and s3:// URLs, through the path layer
    (replacing tensorboardX's own, which need google-cloud-storage or boto3 and its own endpoint
    variable): each file an `AppendedFile`, uploaded whole now and then."""

    def __init__(self):
        self._open: list[AppendedFile] = []

    def open(self, path: str) -> AppendedFile:
        self._open = [file for file in self._open if not file.closed]
        self._open.append(AppendedFile(path, b""))
        return self._open[-1]

    def directory_check(self, path: str) -> None:
        as_path(path).mkdir(parents=True, exist_ok=True)

    def flush(self) -> None:
        for file in self._open:
            if not file.closed:
                file.flush(force=True)


_EVENT_FILES = _EventFilesInStores()
for _scheme in REMOTE_SCHEMES:
    record_writer.register_writer_factory(_scheme, _EVENT_FILES)


def _json_number(value: float):
    value = float(value)
    return value if math.isfinite(value) else repr(value)  # JSON has no NaN/Inf literals


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict]:
    """The records of `metrics.jsonl`, in order."""
    text = (as_path(run_dir) / METRICS_FILE).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]
