"""Orbax checkpoints of the whole TrainState (params, optimizer state, games in flight, RNG key,
every counter) with the resolved config and the network's shape hash beside it.

Orbax writes each checkpoint to a temporary directory and renames it when complete, so a save cut
short never looks like a finished one. Restoring walks back from the newest checkpoint: one that
cannot be read is reported and skipped for the one before; one from another network shape is an
error that names the difference.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import jax
import orbax.checkpoint as ocp

from shogi_jax.config import Config, config_hash_of_network, config_to_dict

CHECKPOINT_DIR = "checkpoints"


class CheckpointError(RuntimeError):
    """No usable checkpoint, or one that does not fit this config."""


def open_manager(run_dir: str | os.PathLike[str], config: Config) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(
        preservation_policy=ocp.checkpoint_managers.LatestN(config.checkpoint.keep_latest),
        enable_async_checkpointing=True)
    return ocp.CheckpointManager(Path(run_dir).resolve() / CHECKPOINT_DIR, options=options,
                                 item_names=("state", "meta"))


def save(manager: ocp.CheckpointManager, state, config: Config) -> None:
    """Starts an asynchronous save of `state` under its iteration number (wait with
    `manager.wait_until_finished()`; `close` waits too)."""
    meta = {"config": config_to_dict(config), "network_hash": config_hash_of_network(config)}
    manager.save(int(state.iteration), args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)))


def restore_latest(manager: ocp.CheckpointManager, like, config: Config):
    """The newest readable checkpoint, as a TrainState shaped like `like`.

    Raises CheckpointError when there is none, or when the newest readable one was written for
    another network shape.
    """
    steps = sorted(manager.all_steps(), reverse=True)
    if not steps:
        raise CheckpointError(f"no checkpoint in {manager.directory}")
    abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, like)
    for step in steps:
        try:
            meta = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
            _check_compatible(meta["meta"], config, step)
            restored = manager.restore(step, args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract)))
        except CheckpointError:
            raise
        except Exception as error:  # a damaged checkpoint: say so and fall back to the one before
            print(f"warning: checkpoint {step} in {manager.directory} is unreadable "
                  f"({type(error).__name__}: {error}); trying the one before", file=sys.stderr)
            continue
        return restored["state"]
    raise CheckpointError(f"no readable checkpoint in {manager.directory} (tried {steps})")


def _check_compatible(meta: dict, config: Config, step: int) -> None:
    if meta.get("network_hash") == config_hash_of_network(config):
        return
    saved = meta.get("config", {}).get("model", {})
    current = config_to_dict(config)["model"]
    differences = ", ".join(f"model.{key}: checkpoint {saved.get(key)!r}, config {value!r}"
                            for key, value in current.items()
                            if key != "dtype" and saved.get(key) != value)
    raise CheckpointError(f"checkpoint {step} was written for another network shape "
                          f"({differences or 'network hash differs'})")
