"""Orbax checkpoints of the whole TrainState (params, optimizer state, games in flight, RNG key,
every counter) with the resolved config and the network's shape hash beside it.

Orbax writes each checkpoint to a temporary directory and renames it when complete (on gs://, it
marks it complete), so a save cut short never looks like a finished one. In a store Orbax cannot
write (s3://), Orbax writes a local mirror and each save is uploaded when complete
(`shogi_jax.host.checkpoint_mirror`). Restoring walks back from the newest checkpoint: one that
cannot be read is reported and skipped for the one before; one from another network shape is an
error that names the difference.
"""
from __future__ import annotations

import os
import sys

import jax
import orbax.checkpoint as ocp

from shogi_jax.host.checkpoint_mirror import CheckpointMirror, needs_mirror
from shogi_jax.host.paths import absolute, as_path
from shogi_jax.host.provenance import provenance
from shogi_jax.host.settings import config_differences, config_to_dict
from shogi_jax.play.network import (
    CHECKPOINT_DIR,
    ITEM_NAMES,
    CheckpointError,
    best_rank,
    first_readable,
    stored_meta,
)
from shogi_jax.train.config import Config, config_hash_of_network
from shogi_jax.train.periodic import Best


def open_manager(run_dir: str | os.PathLike[str], config: Config) -> ocp.CheckpointManager:
    """Keeps the latest `checkpoint.keep_latest` checkpoints and, once evaluations have run, the
    best one (`best_rank`, `manager.best_step()`)."""
    policy = ocp.checkpoint_managers.AnyPreservationPolicy([
        ocp.checkpoint_managers.LatestN(config.checkpoint.keep_latest),
        ocp.checkpoint_managers.BestN(get_metric_fn=best_rank, n=1,
                                      keep_checkpoints_without_metrics=False)])
    options = ocp.CheckpointManagerOptions(
        preservation_policy=policy, best_fn=best_rank, best_mode="max",
        keep_checkpoints_without_metrics=False, enable_async_checkpointing=True)
    directory = as_path(run_dir) / CHECKPOINT_DIR
    if needs_mirror(directory):
        return MirroredCheckpointManager(CheckpointMirror(directory), options=options,
                                         item_names=ITEM_NAMES)
    return ocp.CheckpointManager(absolute(directory), options=options, item_names=ITEM_NAMES)


class MirroredCheckpointManager(ocp.CheckpointManager):
    """An Orbax manager on a mirror's local directory (fetched from the store when opened) whose
    saves are uploaded once complete: `save` then waits for the write instead of leaving it to
    the background."""

    def __init__(self, mirror: CheckpointMirror, **kwargs):
        mirror.pull()
        super().__init__(mirror.local, **kwargs)
        self.mirror = mirror

    def save(self, *args, **kwargs) -> bool:
        saved = super().save(*args, **kwargs)
        self.wait_until_finished()  # and Orbax's retention with it
        self.mirror.push()
        return saved


def save(manager: ocp.CheckpointManager, state, config: Config, *,
         evaluation: dict[str, float] | None = None) -> None:
    """Starts an asynchronous save of `state` under its iteration number (wait with
    `manager.wait_until_finished()`; `close` waits too). `evaluation` (an evaluation's
    metrics) makes the checkpoint a candidate for the best one."""
    meta = {"config": config_to_dict(config), "network_hash": config_hash_of_network(config),
            "state_shapes": state_shapes(state), "provenance": provenance()}
    manager.save(int(state.iteration), metrics=evaluation, args=ocp.args.Composite(
        state=ocp.args.StandardSave(_on_disk(state)), meta=ocp.args.JsonSave(meta)))


def _on_disk(state) -> dict:
    """The tree written for a TrainState: its fields by name, those a run does not use (None:
    the pool of a run without one) left out, so such a run writes, and reads, the tree runs
    wrote before those fields existed."""
    return {name: value for name, value in state._asdict().items() if value is not None}


def _restore_state(manager: ocp.CheckpointManager, step: int, like):
    """The TrainState of checkpoint `step`, shaped like the (abstract) TrainState `like`."""
    abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, _on_disk(like))
    restored = manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract)))["state"]
    return type(like)(**restored)


def state_shapes(state) -> dict[str, str]:
    """{leaf path: "dtype[shape]"} of a TrainState, to name what an incompatible config changed."""
    leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    return {jax.tree_util.keystr(path): f"{leaf.dtype}{list(leaf.shape)}" for path, leaf in leaves}


def restore_latest(manager: ocp.CheckpointManager, like, config: Config):
    """The newest readable checkpoint, as a TrainState shaped like `like`.

    Raises CheckpointError when there is none, or when the newest readable one was written for
    another network shape.
    """
    steps = sorted(manager.all_steps(), reverse=True)
    if not steps:
        raise CheckpointError(f"no checkpoint in {manager.directory}")

    def restore(step):
        _check_compatible(stored_meta(manager, step), config, step, state_shapes(like))
        return _restore_state(manager, step, like)

    return first_readable(manager, steps, restore)


def _check_compatible(meta: dict, config: Config, step: int, shapes: dict[str, str]) -> None:
    if meta.get("network_hash") == config_hash_of_network(config):
        saved_shapes = meta.get("state_shapes", shapes)
        if saved_shapes == shapes:
            return
        leaves = ", ".join(f"{path}: checkpoint {saved_shapes.get(path)}, config {shapes.get(path)}"
                           for path in sorted(set(saved_shapes) | set(shapes))
                           if saved_shapes.get(path) != shapes.get(path))
        settings = ", ".join(f"{key}: checkpoint {old!r}, config {new!r}" for key, old, new
                             in config_differences(meta.get("config", {}), config_to_dict(config)))
        raise CheckpointError(f"checkpoint {step} does not fit this config (settings that differ: "
                              f"{settings or 'none'}; state arrays that differ: {leaves})")
    saved = meta.get("config", {}).get("model", {})
    current = config_to_dict(config)["model"]
    differences = ", ".join(f"model.{key}: checkpoint {saved.get(key)!r}, config {value!r}"
                            for key, value in current.items()
                            if key != "dtype" and saved.get(key) != value)
    raise CheckpointError(f"checkpoint {step} was written for another network shape "
                          f"({differences or 'network hash differs'})")


def restore_best(manager: ocp.CheckpointManager, like) -> Best | None:
    """The best evaluated checkpoint (its params, rank and Elo), or None when none was evaluated
    (or it cannot be read: evaluation then starts without a best opponent)."""
    step = manager.best_step()
    if step is None:
        return None
    try:
        state = _restore_state(manager, step, like)
    except Exception as error:  # noqa: BLE001 (a damaged best: go on without it)
        print(f"warning: the best checkpoint {step} is unreadable ({error}); evaluation goes on "
              "without it", file=sys.stderr)
        return None
    return Best.of_checkpoint(manager.metrics(step), state.params)
