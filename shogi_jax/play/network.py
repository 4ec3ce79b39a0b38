"""A trained network loaded from a run directory's checkpoint: its shape (`ModelConfig`, from the
config stored with the checkpoint) and its parameters, read alone from the saved train state.

The checkpoint format is shared with the trainer (`shogi_jax.train.checkpoint` writes it): Orbax
steps under `checkpoints/`, each with the train state (`state`) and a JSON `meta` holding the
config it was written with. "best" is the checkpoint whose evaluation last set a new best.
"""
from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp

import shogi_jax as sj
from shogi_jax.host.checkpoint_mirror import readable_checkpoints
from shogi_jax.host.paths import PathNotServed, absolute, served_path
from shogi_jax.host.settings import ConfigError, section_from_mapping
from shogi_jax.play.model import ModelConfig, make_model

CHECKPOINT_DIR = "checkpoints"
ITEM_NAMES = ("state", "meta")  # the train state, and {"config", "network_hash", "state_shapes",
#                                 "provenance"}
# The evaluation metrics that rank checkpoints (written by the evaluation during training): the
# Elo, 1.0 where the evaluation made the parameters the best so far, and the rank of the best
# (runs before it ranked their bests by the Elo).
BEST_METRIC = "eval/elo"
NEW_BEST_METRIC = "eval/new_best"
BEST_RANK_METRIC = "eval/best_rank"
WHICH = ("latest", "best")
# The network shipped with the package (`usi --pretrained`, a tournament's `pretrained: true`): a
# training run directory reduced to its final checkpoint (pretrained/README.md: how it was made).
PRETRAINED_RUN = Path(__file__).resolve().parents[1] / "pretrained" / "cpu_60min"

# Orbax warnings that are noise here: most saves carry no evaluation (it runs every few saves),
# and players, reports and the USI engine open checkpoints read-only on purpose (Orbax warns
# three times for each one, naming the settings read-only implies).
_ORBAX_NOISE = ("did not provide metrics", "CheckpointManagerOptions.read_only=True",
                "Given directory is read only")
logging.getLogger("absl").addFilter(
    lambda record: not any(words in record.getMessage() for words in _ORBAX_NOISE))


class CheckpointError(RuntimeError):
    """No usable checkpoint, or one that does not fit this config."""


class Network(NamedTuple):
    """A trained network: its shape, its parameters (flax variables) and the iteration that
    wrote them."""

    model: ModelConfig
    params: Any
    iteration: int


def best_rank(metrics) -> float:
    """A checkpoint's rank for "best": where its evaluation made a new best, its BEST_RANK_METRIC
    (each new best one above the best it replaced), else -inf. Ranking only the new bests makes
    Orbax's `best_step` the evaluator's best, so a resumed run plays the best opponent it played
    before and the report analyses that one. Runs written before the rank existed rank their new
    bests by Elo (a new best then needed a higher one); metrics without the flag (written by
    hand) rank by Elo."""
    if metrics.get(NEW_BEST_METRIC, 1.0) != 1.0:
        return -math.inf
    return float(metrics.get(BEST_RANK_METRIC, metrics[BEST_METRIC]))


def first_readable(manager: ocp.CheckpointManager, steps: list[int], restore: Callable[[int], Any]):
    """restore(step) for the first of `steps` that can be read: a damaged checkpoint is
    reported and the next one tried. A CheckpointError (one that does not fit) is raised."""
    for step in steps:
        try:
            return restore(step)
        except CheckpointError:
            raise
        except Exception as error:  # a damaged checkpoint: say so and fall back to the one before
            print(f"warning: checkpoint {step} in {manager.directory} is unreadable "
                  f"({type(error).__name__}: {error}); trying the one before", file=sys.stderr)
    raise CheckpointError(f"no readable checkpoint in {manager.directory} (tried {steps})")


def stored_meta(manager: ocp.CheckpointManager, step: int) -> dict:
    """The JSON saved beside checkpoint `step`: its config (a plain mapping), network hash and
    state shapes."""
    return manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]


def model_of(meta: dict) -> ModelConfig:
    """The network shape of a checkpoint's stored config."""
    try:
        return section_from_mapping(ModelConfig, meta["config"].get("model", {}), "model")
    except (ConfigError, KeyError, AttributeError) as error:
        raise CheckpointError(f"the stored config names no usable network: {error}") from None


def _restore_network(manager: ocp.CheckpointManager, step: int) -> Network:
    """The params and iteration of checkpoint `step`, read alone (Orbax's partial restore) and
    placed on this process's first device, whatever devices wrote the checkpoint (a pod's
    checkpoint on a laptop: its sharding metadata names devices this machine may lack)."""
    model = model_of(stored_meta(manager, step))
    here = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    shapes = {"params": jax.eval_shape(lambda: make_model(model).init(
                  jax.random.key(0), sj.observe(sj.init())[None])),
              "iteration": jax.ShapeDtypeStruct((), np.int32)}
    target = jax.tree_util.tree_map(
        lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=here), shapes)
    restored = manager.restore(step, args=ocp.args.Composite(state=ocp.args.PyTreeRestore(
        item=target, restore_args=ocp.checkpoint_utils.construct_restore_args(target),
        partial_restore=True)))["state"]
    return Network(model, restored["params"], int(restored["iteration"]))


def _open_read_only(directory) -> ocp.CheckpointManager:
    """A read-only Orbax manager on a checkpoints directory Orbax can read."""
    return ocp.CheckpointManager(absolute(directory), options=ocp.CheckpointManagerOptions(
        read_only=True, best_fn=best_rank, best_mode="max"), item_names=ITEM_NAMES)


def load_network(run_dir: str | os.PathLike[str], *, which: str = "latest",
                 step: int | None = None) -> Network:
    """The network of a training run's checkpoint: `step`, else the latest readable one, or the
    best by evaluation (`which="best"`). Its shape is the config stored WITH that checkpoint,
    never the run directory's config.yaml, which a later session may have changed."""
    if which not in WHICH:
        raise CheckpointError(f"which = {which!r}: expected one of {', '.join(WHICH)}")
    try:
        directory = served_path(run_dir, what="checkpoint directory") / CHECKPOINT_DIR
    except PathNotServed as error:
        raise CheckpointError(str(error)) from None
    if not directory.is_dir():
        raise CheckpointError(f"'{run_dir}' is not a training run directory (no checkpoints)")
    with readable_checkpoints(directory) as readable:
        return _load_network(_open_read_only(readable), run_dir, which, step)


def _load_network(manager: ocp.CheckpointManager, run_dir, which: str,
                  step: int | None) -> Network:
    try:
        if step is None and which == "latest":
            candidates = sorted(manager.all_steps(), reverse=True)
            if not candidates:
                raise CheckpointError(f"no checkpoint in '{run_dir}'")
        else:
            if step is None:
                step = manager.best_step()
                if step is None:
                    raise CheckpointError(f"no evaluated checkpoint in '{run_dir}' to call best "
                                          "(no evaluation set one); take the latest or a step")
            if step not in manager.all_steps():
                raise CheckpointError(f"no checkpoint {step} in '{run_dir}' "
                                      f"(there are {sorted(manager.all_steps())})")
            candidates = [step]
        return first_readable(manager, candidates, lambda s: _restore_network(manager, s))
    finally:
        manager.close()
