"""`python -m shogi_jax.train --config configs/NAME.yaml`: self-play PPO training.

The host loop is thin: it validates the config, creates the run directory (config, metrics,
TensorBoard events), compiles the iteration once, then calls it and writes what it returns.
Everything else happens on the device inside one jitted call (see `shogi_jax.iteration`).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

from shogi_jax import checkpoint, parallel
from shogi_jax import iteration as it
from shogi_jax.config import ConfigError, config_reference, config_yaml, load_config, save_config
from shogi_jax.evaluation.periodic import TrainingEvaluator
from shogi_jax.evaluation.tournament import game_records, kif_text, replayed
from shogi_jax.interrupt import StopRequest
from shogi_jax.metrics import METRICS_FILE, MetricsWriter, progress_bar

CONFIG_FILE = "config.yaml"  # the config the run began with
CONFIG_HISTORY = "config_history.yaml"  # every session's config, appended
EVAL_GAMES_DIR = "eval_games"  # the games of each evaluation during training, as KIF


_EPILOG = """\
Run directory: config.yaml (the resolved config the run began with), config_history.yaml (every
session's config, appended once a resume is accepted), metrics.jsonl, tensorboard/,
eval_games/iteration_N/*.kifu (every evaluation game), checkpoints/N
(Orbax: the whole train state and its config; the latest checkpoint.keep_latest and the best by
eval/elo kept). Players and the USI engine use the config stored with the checkpoint.

Preemption: SIGTERM or SIGINT finishes the current iteration, saves, waits for the save and exits
0; continue with --resume. A save cut short (kill -9) is never taken for a checkpoint; a damaged
latest checkpoint is reported and the one before it used. A NaN/Inf loss stops with exit code 1
and saves nothing. Exit codes: 0 done, 1 non-finite loss, 2 bad config / run dir / checkpoint.

Every config key (section.key = default  # meaning [constraint]), settable in the YAML file or
with --set:
""" + "\n".join("  " + line for line in config_reference())


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m shogi_jax.train", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example:\n  python -m shogi_jax.train --config configs/cpu.yaml "
               "--set ppo.learning_rate=1e-4 --run-dir runs/try1\n\n" + _EPILOG)
    parser.add_argument("--config", required=True, help="YAML config (see configs/)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a config value by its dotted key (repeatable)")
    parser.add_argument("--run-dir", help="run directory (overrides train.run_dir); must not "
                                          "exist yet or be empty")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --run-dir (or train.run_dir) from its latest "
                             "good checkpoint; train.iterations is the total to reach")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def prepare_run_dir(run_dir: Path) -> None:
    """Creates the run directory; refuses one that already holds anything (never overwrite)."""
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise ConfigError(f"run directory '{run_dir}' already exists and is not empty; "
                          "choose a new --run-dir")
    run_dir.mkdir(parents=True, exist_ok=True)


def record_session(run_dir: Path, config, *, resumed_from: int | None) -> None:
    """Appends this session's resolved config to the run's CONFIG_HISTORY (one YAML document per
    session; earlier ones are never rewritten). config.yaml stays the config the run began with;
    each checkpoint stores the config it was written with."""
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    how = "new run" if resumed_from is None else f"resumed from iteration {resumed_from}"
    with open(run_dir / CONFIG_HISTORY, "a", encoding="utf-8") as history:
        history.write(f"--- # {how}, {when}\n{config_yaml(config)}")


def train(config, *, resume: bool = False, quiet: bool = False) -> it.TrainState:
    """Runs `config` to train.iterations in config.train.run_dir (which must be ready), saving
    checkpoints on the way and at the end; with `resume`, continues from the latest good
    checkpoint there. Returns the final state (on device)."""
    run_dir = Path(config.train.run_dir)
    process_started = time.perf_counter()
    main_process = parallel.is_main_process()
    quiet = quiet or not main_process  # one voice for the whole job
    try:
        mesh = parallel.make_mesh(config.distributed.devices)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    trainer = it.make_trainer(config)
    state = it.init_sharded_train_state(config, trainer, mesh)
    manager = checkpoint.open_manager(run_dir, config)
    best, wall_before = None, 0.0
    if resume:
        state = checkpoint.restore_latest(manager, state, config)  # onto this run's mesh
        if main_process:
            truncate_metrics(run_dir, int(state.iteration))
        wall_before = _last_wall_seconds(run_dir)
        best = checkpoint.restore_best(manager, state)
        if main_process:  # even with --quiet: which checkpoint a run continues from matters
            print(f"resumed from iteration {int(state.iteration)}", file=sys.stderr)
    if main_process:
        record_session(run_dir, config, resumed_from=int(state.iteration) if resume else None)
    evaluate_every = config.evaluation.every_iterations
    evaluator = TrainingEvaluator(config, best, mesh=mesh) if evaluate_every else None
    started = time.perf_counter()
    train_step = it.make_train_step(config, trainer, mesh).lower(state).compile()
    compile_seconds = time.perf_counter() - started
    parallel.wait_for_all_processes("compiled the iteration")
    if not quiet:
        print(f"compiled the iteration in {compile_seconds:.1f} s on {mesh.size} device(s), "
              f"{jax.process_count()} process(es)", file=sys.stderr)
    per_dispatch = config.train.iterations_per_dispatch
    every = config.checkpoint.every_iterations
    first = int(state.iteration)
    writer = (MetricsWriter(run_dir, purge_from=first + 1 if resume else None) if main_process
              else _NoMetrics())
    bar = progress_bar(config.train.iterations, initial=first, disable=quiet)
    stop = StopRequest().install()
    try:
        for _ in range((config.train.iterations - first) // per_dispatch):
            started = time.perf_counter()
            state, metrics = train_step(state)
            metrics = jax.device_get(metrics)  # waits for the dispatch
            seconds = time.perf_counter() - started
            done = int(state.iteration)
            if not all(np.isfinite(np.asarray(metrics["loss/total"]))):
                raise NonFiniteLoss(f"the loss is not finite at iteration {done}; stopped without "
                                    "saving (the last good checkpoint is kept)")
            steps_per_second = it.env_steps(config, per_dispatch) / seconds
            evaluation = None
            if evaluator and _reached_multiple(done, per_dispatch, evaluate_every):
                evaluation = _evaluate(evaluator, state.params, done, warn=main_process)
            for k in range(per_dispatch):
                iteration = done - per_dispatch + 1 + k
                record = {name: float(np.asarray(values)[k]) for name, values in metrics.items()}
                record["perf/env_steps_per_second"] = steps_per_second
                # Wall clock of the whole run so far (compilation, evaluation, earlier sessions).
                record["perf/wall_seconds"] = wall_before + time.perf_counter() - process_started
                if iteration == done and evaluation:
                    record.update(evaluation)
                writer.write(iteration, it.env_steps(config, iteration), record)
            if evaluation and main_process:
                write_evaluation_games(run_dir, done, evaluator.last_games, writer)
            limit = config.train.time_limit_minutes
            if (limit and not stop.requested
                    and time.perf_counter() - process_started >= 60 * limit):
                stop.requested = f"time limit ({limit:g} min)"
            # Every process stops at the same iteration (saving is a collective).
            if parallel.any_process(stop.requested is not None) and not stop.requested:
                stop.requested = "another process's stop request"
            if (_reached_multiple(done, per_dispatch, every) or done == config.train.iterations
                    or stop.requested or evaluation):
                # A device copy: the next call donates (and so deletes) the state's buffers
                # while the asynchronous save may still be reading them.
                checkpoint.save(manager, parallel.snapshot(state), config,
                                evaluation=evaluation)
            bar.update(per_dispatch)
            bar.set_postfix(steps=f"{it.env_steps(config, done):,}", sps=f"{steps_per_second:,.0f}",
                            games=int(state.games_finished))
            if stop.requested:
                if main_process:
                    print(f"\n{stop.requested}: saved iteration {done}; resume with --resume",
                          file=sys.stderr)
                break
    finally:
        stop.restore()
        bar.close()
        writer.close()
        manager.wait_until_finished()
        manager.close()
    return state


def _reached_multiple(done: int, per_dispatch: int, every: int) -> bool:
    """Whether the dispatch that ended at iteration `done` passed a multiple of `every`."""
    return done // every > (done - per_dispatch) // every


def write_evaluation_games(run_dir: Path, iteration: int, games, writer) -> None:
    """EVAL_GAMES_DIR/iteration_NNNNNN/vs_OPPONENT_KKK.kifu for every game of an evaluation, and
    its first game against each opponent as TensorBoard text."""
    directory = run_dir / EVAL_GAMES_DIR / f"iteration_{iteration:06d}"
    directory.mkdir(parents=True, exist_ok=True)
    named = [(opponent, number, record) for opponent, match in games
             for number, record in enumerate(game_records(match, "current", opponent))]
    replays = replayed([record for _, _, record in named])  # every game replayed at once
    for (opponent, number, _), replay in zip(named, replays):
        text = kif_text(replay, event=f"shogi_jax evaluation at iteration {iteration}")
        (directory / f"vs_{opponent}_{number:03d}.kifu").write_text(text, encoding="utf-8")
        if number == 0:
            writer.text(f"eval/game_vs_{opponent}", text, iteration)


def _evaluate(evaluator: TrainingEvaluator, params, iteration: int, *,
              warn: bool = True) -> dict[str, float] | None:
    """The evaluation metrics, or None (with a warning) when evaluation fails: training goes on."""
    try:
        return evaluator.evaluate(params, iteration)
    except Exception as error:  # noqa: BLE001 (an evaluation bug must not end a long run)
        if warn:
            print(f"\nwarning: evaluation at iteration {iteration} failed "
                  f"({type(error).__name__}: {error}); training goes on", file=sys.stderr)
        return None


class _NoMetrics:
    """The metrics writer of processes other than 0: process 0 writes the (global) metrics."""

    def write(self, iteration, env_steps, record):
        pass

    def text(self, tag, text, iteration):
        pass

    def close(self):
        pass


class NonFiniteLoss(RuntimeError):
    pass


def truncate_metrics(run_dir: Path, last_iteration: int) -> None:
    """Drops metric records past the checkpoint a run resumes from (they will be redone)."""
    path = run_dir / METRICS_FILE
    if path.exists():
        kept = [line for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line)["iteration"] <= last_iteration]
        path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def _last_wall_seconds(run_dir: Path) -> float:
    path = run_dir / METRICS_FILE
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] \
        if path.exists() else []
    return json.loads(lines[-1]).get("perf/wall_seconds", 0.0) if lines else 0.0


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config, args.overrides)
        if args.run_dir:
            config = dataclasses.replace(
                config, train=dataclasses.replace(config.train, run_dir=args.run_dir))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    distributed = config.distributed
    if distributed.initialize:  # before anything touches a device
        try:
            parallel.initialize(coordinator_address=distributed.coordinator_address,
                                num_processes=distributed.num_processes,
                                process_id=distributed.process_id)
        except ValueError as error:
            print(f"error: distributed.initialize: {error}", file=sys.stderr)
            return 2
    run_dir = Path(config.train.run_dir)
    refused = None
    if parallel.is_main_process():  # one process checks and prepares the (shared) run directory
        try:
            if args.resume:  # nothing is written before the checkpoint accepts the config
                if not (run_dir / checkpoint.CHECKPOINT_DIR).is_dir():
                    raise ConfigError(f"--resume: no checkpoints in '{run_dir}'")
            else:
                prepare_run_dir(run_dir)
                save_config(config, run_dir / CONFIG_FILE)
        except ConfigError as error:
            refused = error
    if parallel.broadcast_from_main(refused is not None):
        print(f"error: {refused or 'process 0 refused the run directory (see its output)'}",
              file=sys.stderr)
        return 2
    try:
        state = train(config, resume=args.resume, quiet=args.quiet)
    except (checkpoint.CheckpointError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except NonFiniteLoss as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not parallel.is_main_process():
        return 0
    results = np.asarray(state.results)
    print(f"done: {int(state.iteration)} iterations, "
          f"{it.env_steps(config, int(state.iteration)):,} env steps, "
          f"{int(state.games_finished)} games (Black {results[0]}, White {results[1]}, "
          f"draws {results[2]}); run directory {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
