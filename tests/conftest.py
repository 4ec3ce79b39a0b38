"""Shared fixtures: compiled functions are built once per session (compile time matters on 2 cores),
and XLA compiles with its cheaper pipeline (see below).

The session also shares one persistent XLA compilation cache, a fresh temporary directory, with
every process it starts (the environment variable is inherited): the train CLI tests and their
subprocesses compile the same small iteration many times, and a cache hit replaces ~20 s of
compilation on 2 cores with a file read. The cache only skips recompiling identical programs.
"""
from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import shogi_jax as sj

# Tests check behaviour, not speed, and most of their time is XLA compiling a program they then
# run briefly: XLA's cheaper compilation (fewer optimization passes; the same semantics) cuts the
# suite's time by about a quarter. Inherited by the processes tests start;
# JAX_DISABLE_MOST_OPTIMIZATIONS=0 restores the full pipeline.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
jax.config.update("jax_disable_most_optimizations",
                  os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] not in ("0", "false", "False"))

if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _cache_dir = tempfile.mkdtemp(prefix="shogi_jax_test_xla_cache_")
    atexit.register(shutil.rmtree, _cache_dir, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache_dir
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])

CHUNK = 64  # fixed batch size for batched calls, so each function compiles once


def stack_states(states):
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *states)


def unstack_state(batch, i):
    return jax.tree_util.tree_map(lambda x: x[i], batch)


class Batched:
    """Runs `step` over any number of (state, action) pairs in fixed-size chunks."""

    def __init__(self, **step_options):
        self._step = jax.jit(jax.vmap(functools.partial(sj.step, **step_options)))

    def step(self, batch, actions):
        """batch: State with leading dim N; actions int[N] -> State with leading dim N."""
        n = int(np.asarray(actions).shape[0])
        outs = []
        for start in range(0, n, CHUNK):
            idx = np.arange(start, min(start + CHUNK, n))
            pad = np.concatenate([idx, np.full(CHUNK - len(idx), idx[-1])])
            part = jax.tree_util.tree_map(lambda x: x[pad], batch)
            out = self._step(part, jnp.asarray(np.asarray(actions)[pad], jnp.int32))
            outs.append(jax.tree_util.tree_map(lambda x: x[: len(idx)], out))
        return jax.tree_util.tree_map(lambda *xs: jnp.concatenate(xs), *outs)


@pytest.fixture(scope="session")
def batched():
    return Batched()


@pytest.fixture(scope="session")
def batched_no_impasse():
    return Batched(impasse=False)


def legal_usi_set(state) -> set[str]:
    """Our legal moves of one (non-terminal) state as USI strings."""
    mask = np.asarray(state.legal_action_mask)
    return {sj.action_to_usi(state, a) for a in np.nonzero(mask)[0]}


def metrics_a_resume_keeps(records):
    """The metric records that a resumed run must reproduce exactly: all but the timings and the
    budget's share (a split run's first session had a smaller budget, so its share differs while
    its constant rate, and so every update, does not)."""
    return [{k: v for k, v in r.items() if not k.startswith("perf/") and k != "train/budget_spent"}
            for r in records]


def save_untrained_smoke_run(run_dir):
    """A real training run directory (config + one Orbax checkpoint) of the untrained smoke
    network, for policy players and the USI engine."""
    from shogi_jax.train import checkpoint
    from shogi_jax.train.config import load_config, save_config
    from shogi_jax.train.state import init_train_state, make_trainer

    config = load_config("configs/smoke.yaml", [f"train.run_dir={run_dir}"])
    save_config(config, run_dir / "config.yaml")
    manager = checkpoint.open_manager(run_dir, config)
    checkpoint.save(manager, jax.device_get(init_train_state(config, make_trainer(config))),
                    config)
    manager.close()
    return run_dir


# A smoke run evaluated after every iteration (4 games an opponent, 24 plies; random, greedy and
# the best, no engine: the same run wherever Fairy-Stockfish is installed or not), 2 iterations
# then resumed to 3: its metrics, evaluation games (KIF), TensorBoard and checkpoints (1, 2, 3; 1
# is the first best). Shared by the evaluation and report tests, which only read it.
EVALUATED_RUN = ["--config", "configs/smoke.yaml", "--quiet", "--set", "env.max_plies=6",
                 "--set", "checkpoint.every_iterations=100",
                 "--set", "evaluation.every_iterations=1", "--set", "evaluation.games=4",
                 "--set", "evaluation.max_plies=24", "--set", "evaluation.engine_rungs=[]"]


@pytest.fixture(scope="session")
def evaluated_run(tmp_path_factory):
    from shogi_jax.cli import train as train_cli

    run_dir = tmp_path_factory.mktemp("evaluated") / "run"
    assert train_cli.main(EVALUATED_RUN + ["--run-dir", str(run_dir),
                                           "--set", "train.iterations=2"]) == 0
    assert train_cli.main(EVALUATED_RUN + ["--run-dir", str(run_dir),
                                           "--set", "train.iterations=3", "--resume"]) == 0
    return run_dir
