"""Weights & Biases beside metrics.jsonl and TensorBoard (config `tracking`): the session's config
as the W&B run's config, every metrics record at its iteration under the same names, and each
checkpoint as a version of an artifact of type model. Off by default; `wandb` is an optional
dependency (WANDB_INSTALL).

The run directory keeps its W&B run id (RUN_ID_FILE), so every session of a run (--resume,
--resume auto) appends to the one W&B run (resume="allow"). Only process 0 logs. W&B is a side
channel: where it fails, that is said once and the session goes on without it.
"""
from __future__ import annotations

import math
import secrets
import string
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from shogi_jax.host.paths import as_path, is_remote, write_text_atomically
from shogi_jax.host.settings import ConfigError, setting
from shogi_jax.play.network import NEW_BEST_METRIC

WANDB_INSTALL = "pip install 'shogi_jax[wandb]'"
RUN_ID_FILE = "wandb_run_id"
CHECKPOINT_ARTIFACT_TYPE = "model"
_RUN_ID_CHARACTERS = string.ascii_lowercase + string.digits  # as W&B's own ids, 8 of them
# A W&B project or entity name: the characters W&B refuses in one are refused before a run.
WANDB_NAME = (lambda name: name is None or (0 < len(name) <= 128
                                            and not set(name) & set("/\\#?%:")),
              "1 to 128 characters, none of / \\ # ? % :")


@dataclass(frozen=True)
class TrackingConfig:
    """The `tracking` section of the training config."""

    wandb: bool = setting(False, "log the config, every metrics record and the checkpoints to a "
                                 "W&B run, continued by every resume (needs pip install "
                                 "'shogi_jax[wandb]'; WANDB_MODE=offline keeps it on disk)")
    wandb_project: str = setting("shogi_jax", "the W&B project", WANDB_NAME)
    wandb_entity: Optional[str] = setting(None, "the W&B user or team (None: the account's "
                                                "default)", WANDB_NAME)
    wandb_run_name: Optional[str] = setting(None, "the W&B run's display name (None: the run "
                                                  "directory's name)")
    wandb_checkpoints: bool = setting(True, "each checkpoint as a W&B artifact of type model "
                                            "(aliases latest, iteration-N, best): the loop waits "
                                            "for each save, and W&B copies it until uploaded")

    @property
    def logs_checkpoints(self) -> bool:
        """Whether each checkpoint becomes an artifact: the same answer on every process, since
        all of them wait for the save to finish first."""
        return self.wandb and self.wandb_checkpoints


def import_wandb(tracking: TrackingConfig):
    """The wandb module where tracking.wandb is on, None where it is off. Refuses (ConfigError
    naming the key and the install command) to track where wandb is missing."""
    if not tracking.wandb:
        return None
    try:
        import wandb
    except ImportError as error:
        raise ConfigError(f"tracking.wandb = true, but wandb cannot be imported ({error}): "
                          f"{WANDB_INSTALL}, or set tracking.wandb=false") from None
    return wandb


def run_id(run_dir: str | Path) -> str:
    """The run directory's W&B run id: the one in RUN_ID_FILE, else a new one, written there."""
    path = as_path(run_dir) / RUN_ID_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    new = "".join(secrets.choice(_RUN_ID_CHARACTERS) for _ in range(8))
    write_text_atomically(path, new + "\n")
    return new


class Tracker:
    """The session's W&B run, or nothing (tracking off, a process other than 0, or W&B failed):
    then every method does nothing."""

    def __init__(self, wandb=None, run=None):
        self._wandb, self._run = wandb, run
        self._said_remote = False

    @classmethod
    def start(cls, tracking: TrackingConfig, settings: dict[str, Any], run_dir: str | Path, *,
              writes: bool) -> Tracker:
        """Opens the run directory's W&B run, or continues it (a resume, a run started again),
        with this session's config (`settings`, as config_to_dict gives it). ConfigError where
        tracking is on and wandb is missing."""
        wandb = import_wandb(tracking)
        if wandb is None or not writes:
            return cls()
        try:
            run = wandb.init(project=tracking.wandb_project, entity=tracking.wandb_entity,
                             name=tracking.wandb_run_name or as_path(run_dir).name,
                             id=run_id(run_dir), resume="allow", job_type="train",
                             config=settings)
        except Exception as error:  # noqa: BLE001 (W&B must not end a training run)
            _warn("start", error)
            return cls()
        return cls(wandb, run)

    def log_metrics(self, iteration: int, env_steps: int, metrics: dict[str, float]) -> None:
        """One record of metrics.jsonl (its names and values) at W&B step `iteration`."""
        self._guarded("logging", lambda run: run.log({"env_steps": env_steps, **metrics},
                                                     step=iteration))

    def log_checkpoint(self, directory: str | Path, iteration: int, env_steps: int,
                       evaluation: dict[str, float] | None = None) -> None:
        """The complete checkpoint `directory` of `iteration` as the next version of the artifact
        checkpoint-RUN_ID, aliased latest, iteration-N, and best where its evaluation made it
        the best. W&B copies the files at once (they may be deleted before they are uploaded).
        A directory on an object store (gs://, where Orbax writes the bucket itself) is left
        there: W&B would need its own storage client for it; the metrics go on."""
        if is_remote(directory):
            if self._run is not None and not self._said_remote:
                self._said_remote = True
                print(f"\nnote: checkpoints stay in {directory} and are not W&B artifacts (they "
                      "are uploaded from a local directory); W&B logs the metrics",
                      file=sys.stderr)
            return

        def log(run):
            metadata = {"iteration": iteration, "env_steps": env_steps}
            metadata.update({name: value for name, value in (evaluation or {}).items()
                             if math.isfinite(value)})  # JSON metadata: no infinities
            artifact = self._wandb.Artifact(f"checkpoint-{run.id}", type=CHECKPOINT_ARTIFACT_TYPE,
                                            metadata=metadata)
            artifact.add_dir(str(directory))
            aliases = ["latest", f"iteration-{iteration}"]
            if evaluation and evaluation.get(NEW_BEST_METRIC):
                aliases.append("best")
            run.log_artifact(artifact, aliases=aliases)

        self._guarded("checkpoint artifact", log)

    def finish(self, *, finished: bool, failed: bool = False) -> None:
        """Closes the W&B run: finished (exit code 0), failed (1), or stopped to be resumed:
        marked preempting (W&B's sign of a run that will go on), then a non-zero exit code."""
        def close(run):
            if not (finished or failed):
                run.mark_preempting()
            run.finish(exit_code=0 if finished and not failed else 1)

        self._guarded("finish", close)
        self._run = None

    def _guarded(self, what: str, call) -> None:
        """call(run); where it raises, a warning, and W&B is off for the rest of the session."""
        if self._run is None:
            return
        try:
            call(self._run)
        except Exception as error:  # noqa: BLE001 (W&B must not end a training run)
            _warn(what, error)
            self._run = None


def _warn(what: str, error: Exception) -> None:
    print(f"\nwarning: W&B {what} failed ({type(error).__name__}: {error}); the session goes on "
          "without W&B (metrics.jsonl and TensorBoard have everything)", file=sys.stderr)
