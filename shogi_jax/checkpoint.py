"""Orbax checkpoints of the whole TrainState (params, optimizer state, games in flight, RNG key,
every counter) with the resolved config and the network's shape hash beside it.

Orbax writes each checkpoint to a temporary directory and renames it when complete, so a save cut
short never looks like a finished one. Restoring walks back from the newest checkpoint: one that
cannot be read is reported and skipped for the one before; one from another network shape is an
error that names the difference.
"""
from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path

import jax
import orbax.checkpoint as ocp

from shogi_jax.config import (
    Config, config_differences, config_from_dict, config_hash_of_network, config_to_dict,
)

CHECKPOINT_DIR = "checkpoints"


class CheckpointError(RuntimeError):
    """No usable checkpoint, or one that does not fit this config."""


# The evaluation metrics that rank checkpoints (written by periodic evaluation during training):
# the Elo, and 1.0 where that Elo made the parameters the best so far.
BEST_METRIC = "eval/elo"
NEW_BEST_METRIC = "eval/new_best"


def _best_metric(metrics) -> float:
    """A checkpoint's rank for "best": its Elo where its evaluation made a new best, else -inf.
    The evaluator keeps the first of equal Elos (a new best must be higher), while Orbax's
    `best_step` takes the latest of equal ranks; ranking only the new bests (whose Elos rise
    strictly) makes the two agree, so a resumed run plays the best opponent it played before and
    the report analyses that one. Metrics without the flag (written by hand) rank by Elo."""
    if metrics.get(NEW_BEST_METRIC, 1.0) != 1.0:
        return -math.inf
    return float(metrics[BEST_METRIC])


# Orbax warnings that are noise here: most saves carry no evaluation (it runs every few saves),
# and players, reports and the USI engine open checkpoints read-only on purpose (Orbax warns
# three times for each one, naming the settings read-only implies).
_ORBAX_NOISE = ("did not provide metrics", "CheckpointManagerOptions.read_only=True",
                "Given directory is read only")
logging.getLogger("absl").addFilter(
    lambda record: not any(words in record.getMessage() for words in _ORBAX_NOISE))


def open_manager(run_dir: str | os.PathLike[str], config: Config) -> ocp.CheckpointManager:
    """Keeps the latest `checkpoint.keep_latest` checkpoints and, once evaluations have run, the
    best one by BEST_METRIC (`manager.best_step()`)."""
    policy = ocp.checkpoint_managers.AnyPreservationPolicy([
        ocp.checkpoint_managers.LatestN(config.checkpoint.keep_latest),
        ocp.checkpoint_managers.BestN(get_metric_fn=_best_metric, n=1,
                                      keep_checkpoints_without_metrics=False)])
    options = ocp.CheckpointManagerOptions(
        preservation_policy=policy, best_fn=_best_metric, best_mode="max",
        keep_checkpoints_without_metrics=False, enable_async_checkpointing=True)
    return ocp.CheckpointManager(Path(run_dir).resolve() / CHECKPOINT_DIR, options=options,
                                 item_names=("state", "meta"))


def save(manager: ocp.CheckpointManager, state, config: Config, *,
         evaluation: dict[str, float] | None = None) -> None:
    """Starts an asynchronous save of `state` under its iteration number (wait with
    `manager.wait_until_finished()`; `close` waits too). `evaluation` (with BEST_METRIC) makes the
    checkpoint a candidate for the best one."""
    meta = {"config": config_to_dict(config), "network_hash": config_hash_of_network(config),
            "state_shapes": state_shapes(state)}
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
        meta = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
        _check_compatible(meta["meta"], config, step, state_shapes(like))
        return _restore_state(manager, step, like)

    return _first_readable(manager, steps, restore)


def _first_readable(manager: ocp.CheckpointManager, steps: list[int], restore):
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


def load_policy(run_dir: str | os.PathLike[str], *, which: str = "latest",
                step: int | None = None):
    """(config, network params, iteration) of a training run's checkpoint, for players and the
    USI engine: `step`, else the latest good one or the best by evaluation (`which="best"`).

    The config is the one stored WITH that checkpoint (what its network was trained with), never
    the run directory's config.yaml, which a later session may have changed.
    """
    directory = Path(run_dir) / CHECKPOINT_DIR
    if not directory.is_dir():
        raise CheckpointError(f"'{run_dir}' is not a training run directory (no checkpoints)")
    manager = ocp.CheckpointManager(directory.resolve(), options=ocp.CheckpointManagerOptions(
        read_only=True, best_fn=_best_metric, best_mode="max"), item_names=("state", "meta"))
    try:
        if step is None and which == "latest":
            candidates = sorted(manager.all_steps(), reverse=True)
            if not candidates:
                raise CheckpointError(f"no checkpoint in '{run_dir}'")
        else:
            if step is None:
                step = manager.best_step()
                if step is None:
                    raise CheckpointError(f"no evaluated checkpoint in '{run_dir}' to call best")
            if step not in manager.all_steps():
                raise CheckpointError(f"no checkpoint {step} in '{run_dir}' "
                                      f"(there are {sorted(manager.all_steps())})")
            candidates = [step]

        def restore(step):
            config = stored_config(manager, step)
            state = _restore_state(manager, step, _on_one_device(config))
            return config, state.params, int(state.iteration)

        return _first_readable(manager, candidates, restore)
    finally:
        manager.close()


def stored_config(manager: ocp.CheckpointManager, step: int) -> Config:
    """The config saved with checkpoint `step`."""
    meta = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
    return config_from_dict(meta["config"])


def _on_one_device(config: Config):
    """An abstract TrainState of `config`, placed on this process's first device, whatever
    devices wrote the checkpoint (a pod's checkpoint on a laptop: the sharding in the
    checkpoint's metadata names devices this machine may lack)."""
    from shogi_jax import iteration as it  # the trainer imports this module

    here = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    return jax.tree_util.tree_map(
        lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=here),
        jax.eval_shape(lambda: it.init_train_state(config, it.make_trainer(config))))


def restore_best(manager: ocp.CheckpointManager, like) -> tuple[float, object] | None:
    """(BEST_METRIC, network params) of the best evaluated checkpoint, or None when none was
    evaluated (or it cannot be read: evaluation then starts without a best opponent)."""
    step = manager.best_step()
    if step is None:
        return None
    try:
        state = _restore_state(manager, step, like)
    except Exception as error:  # noqa: BLE001 (a damaged best: go on without it)
        print(f"warning: the best checkpoint {step} is unreadable ({error}); evaluation goes on "
              "without it", file=sys.stderr)
        return None
    return float(manager.metrics(step)[BEST_METRIC]), state.params
