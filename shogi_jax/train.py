"""`python -m shogi_jax.train --config configs/NAME.yaml`: self-play PPO training.

The host loop is thin: it validates the config, creates the run directory (config, metrics,
TensorBoard events), compiles the iteration once, then calls it and writes what it returns.
Everything else happens on the device inside one jitted call (see `shogi_jax.iteration`).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import jax
import numpy as np

from shogi_jax import iteration as it
from shogi_jax.config import ConfigError, load_config, save_config
from shogi_jax.metrics import MetricsWriter, progress_bar

CONFIG_FILE = "config.yaml"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m shogi_jax.train", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example:\n  python -m shogi_jax.train --config configs/cpu.yaml "
               "--set ppo.learning_rate=1e-4 --run-dir runs/try1")
    parser.add_argument("--config", required=True, help="YAML config (see configs/)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a config value by its dotted key (repeatable)")
    parser.add_argument("--run-dir", help="run directory (overrides train.run_dir); must not "
                                          "exist yet or be empty")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def prepare_run_dir(run_dir: Path) -> None:
    """Creates the run directory; refuses one that already holds anything (never overwrite)."""
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise ConfigError(f"run directory '{run_dir}' already exists and is not empty; "
                          "choose a new --run-dir")
    run_dir.mkdir(parents=True, exist_ok=True)


def train(config, *, quiet: bool = False) -> it.TrainState:
    """Runs `config` to the end in config.train.run_dir (which must be ready). Returns the final
    state (on device)."""
    run_dir = Path(config.train.run_dir)
    trainer = it.make_trainer(config)
    state = it.init_train_state(config, trainer)
    started = time.perf_counter()
    train_step = it.make_train_step(config, trainer).lower(state).compile()
    compile_seconds = time.perf_counter() - started
    if not quiet:
        print(f"compiled the iteration in {compile_seconds:.1f} s", file=sys.stderr)
    per_dispatch = config.train.iterations_per_dispatch
    writer = MetricsWriter(run_dir)
    bar = progress_bar(config.train.iterations, disable=quiet)
    try:
        for _ in range(config.train.iterations // per_dispatch):
            started = time.perf_counter()
            state, metrics = train_step(state)
            metrics = jax.device_get(metrics)  # waits for the dispatch
            seconds = time.perf_counter() - started
            done = int(state.iteration)
            steps_per_second = it.env_steps(config, per_dispatch) / seconds
            for k in range(per_dispatch):
                iteration = done - per_dispatch + 1 + k
                record = {name: float(np.asarray(values)[k]) for name, values in metrics.items()}
                record["perf/env_steps_per_second"] = steps_per_second
                writer.write(iteration, it.env_steps(config, iteration), record)
            bar.update(per_dispatch)
            bar.set_postfix(steps=f"{it.env_steps(config, done):,}", sps=f"{steps_per_second:,.0f}",
                            games=int(state.games_finished))
    finally:
        bar.close()
        writer.close()
    return state


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config, args.overrides)
        if args.run_dir:
            config = dataclasses.replace(
                config, train=dataclasses.replace(config.train, run_dir=args.run_dir))
        run_dir = Path(config.train.run_dir)
        prepare_run_dir(run_dir)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    save_config(config, run_dir / CONFIG_FILE)
    state = train(config, quiet=args.quiet)
    results = np.asarray(state.results)
    print(f"done: {int(state.iteration)} iterations, "
          f"{it.env_steps(config, int(state.iteration)):,} env steps, "
          f"{int(state.games_finished)} games (Black {results[0]}, White {results[1]}, "
          f"draws {results[2]}); run directory {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
