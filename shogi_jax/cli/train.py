"""`python -m shogi_jax.train --config FILE`: self-play training (PPO or Gumbel AlphaZero).

Catches stop signals first, then validates the config, creates the run directory (or checks
the one to resume) before anything compiles, then runs `shogi_jax.train.train`.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from shogi_jax.cli import exit_codes
from shogi_jax.cli.exit_codes import EXIT_CODE_HELP
from shogi_jax.host import parallel
from shogi_jax.host.checkpoint_mirror import needs_mirror
from shogi_jax.host.paths import served_path
from shogi_jax.host.settings import ConfigError, apply_overrides, config_to_dict
from shogi_jax.host.signals import StopRequest
from shogi_jax.play.network import CheckpointError
from shogi_jax.train import tracking
from shogi_jax.train.config import Config, config_from_dict, config_reference, load_config
from shogi_jax.train.loop import NonFiniteLoss, train
from shogi_jax.train.run_directory import (
    RESUME_AUTO,
    SessionStart,
    latest_config,
    prepare_run_dir,
)
from shogi_jax.train.state import env_steps

_EPILOG = """\
Run directory: config.yaml (the resolved config the run began with), config_history.yaml (every
session's config, appended once a resume is accepted), metrics.jsonl, tensorboard/,
eval_games/iteration_N/*.kifu (every evaluation game), wandb_run_id (tracking.wandb: the W&B
run every session logs to, resume="allow"), checkpoints/N
(Orbax: the whole train state and its config; the latest checkpoint.keep_latest and the best
kept: a network replaces the best by beating it head to head in the evaluation). Players and the
USI engine use the config stored with the checkpoint. eval/elo is ladder Elo (docs/ladder.md).

Resume: without --config, a resume continues with the run's latest config (the last entry of
config_history.yaml), --set applied on top; with --config, that file and --set are the
session's whole config, as when the run began. Either way every setting that differs from the
run's latest config is printed (key: old -> new). A run that already reached train.iterations
says so and exits 0, changing nothing.

Preemption: SIGTERM or SIGINT (or train.time_limit_minutes) finishes the current iteration,
saves, waits for the save and exits 75; continue with --resume. They are caught as soon as
Python has loaded the program (before it reads the config): one that comes while the run
directory is made or the iteration compiles exits 75 before the first iteration, with nothing
new to save. A save cut short (kill -9) is never taken for a checkpoint; a damaged latest
checkpoint is reported and the one before it used. A NaN/Inf loss stops with exit code 1 and
saves nothing.

A scheduler repeats one command line with --resume auto: it starts the run, resumes it from
its latest checkpoint, or starts again a run stopped before its first checkpoint (whose config
must match: a difference is refused, naming the keys, and nothing changes); exit 0 means
finished.

""" + EXIT_CODE_HELP + """

Every config key (section.key = default  # meaning [constraint]), settable in the YAML file or
with --set:
""" + "\n".join("  " + line for line in config_reference())


def _resume_value(text: str) -> str:
    if text != RESUME_AUTO:
        raise argparse.ArgumentTypeError(f"expected nothing or '{RESUME_AUTO}', got '{text}'")
    return text


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m shogi_jax.train", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Examples:\n  python -m shogi_jax.train --config configs/cpu.yaml "
               "--set ppo.learning_rate=1e-4 --run-dir runs/try1\n"
               "  python -m shogi_jax.train --run-dir runs/try1 --resume "
               "--set train.iterations=200\n"
               "  python -m shogi_jax.train --config configs/cpu.yaml --run-dir runs/job "
               "--resume auto   # a scheduler's one command line\n\n" + _EPILOG)
    parser.add_argument("--config", help="YAML config (see configs/); needed to start a run, "
                                         "optional on a resume (see Resume below)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a config value by its dotted key (repeatable)")
    parser.add_argument("--run-dir", help="run directory (overrides train.run_dir); must not "
                                          "exist yet or be empty, unless --resume continues it")
    parser.add_argument("--resume", nargs="?", const=True, default=False, type=_resume_value,
                        metavar="auto",
                        help="continue the run in --run-dir (or train.run_dir) from its latest "
                             "good checkpoint; train.iterations is the total to reach. "
                             "--resume auto: resume where a checkpoint exists, else start")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def session_config(args: argparse.Namespace) -> Config:
    """This session's config: --config's file, or on a resume without it the run's latest config
    (read from --run-dir); --set applied on top, then --run-dir. Refuses a run directory this
    machine cannot serve (PathNotServed), before anything is written."""
    if args.run_dir:
        served_path(args.run_dir, what="--run-dir")
    if args.config:
        config = load_config(args.config, args.overrides)
    elif not args.resume:
        raise ConfigError("--config is required to start a run (a --resume without it "
                          "continues with the run's own config)")
    elif not args.run_dir:
        raise ConfigError("--resume without --config needs --run-dir: the run's config is read "
                          "from its directory")
    else:
        latest = latest_config(args.run_dir)
        if latest is None:
            raise ConfigError(f"--resume without --config: '{args.run_dir}' holds no run to take "
                              "the config from; start one with --config")
        config = config_from_dict(apply_overrides(config_to_dict(latest), args.overrides))
    if args.run_dir:
        config = dataclasses.replace(
            config, train=dataclasses.replace(config.train, run_dir=args.run_dir))
    else:
        served_path(config.train.run_dir, what="train.run_dir")
    if config.distributed.initialize and needs_mirror(config.train.run_dir):
        raise ConfigError(f"train.run_dir '{config.train.run_dir}': a multi-process job writes "
                          "one checkpoint from every process, which Orbax does only to a local "
                          "or shared filesystem or gs://, not through the local mirror this "
                          "store needs")
    return config


def main(argv=None) -> int:
    # Caught from the first moment: a signal while the config loads, the run directory is made
    # or the iteration compiles stops the session at its next safe point (exit 75), never midway.
    # In a job of several processes JAX's preemption notifier takes SIGTERM over once
    # jax.distributed starts (see parallel.StopAgreement).
    stop = StopRequest().install()
    try:
        return _main(parse_args(argv), stop)
    finally:
        stop.restore()


def _main(args: argparse.Namespace, stop: StopRequest) -> int:
    try:
        config = session_config(args)
        tracking.import_wandb(config.tracking)  # tracking without wandb: refused, nothing made
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return exit_codes.REFUSED
    distributed = config.distributed
    if distributed.initialize:  # before anything touches a device
        try:
            parallel.initialize(coordinator_address=distributed.coordinator_address,
                                num_processes=distributed.num_processes,
                                process_id=distributed.process_id)
        except ValueError as error:
            print(f"error: distributed.initialize: {error}", file=sys.stderr)
            return exit_codes.REFUSED
    starts = list(SessionStart)
    refused, decided = None, -1  # process 0's decision: an index into starts, -1 refused
    if parallel.is_main_process():  # one process checks and prepares the (shared) run directory
        try:  # on a resume nothing is written before the checkpoint accepts the config
            decided = starts.index(prepare_run_dir(config.train.run_dir, config,
                                                   resume=args.resume))
        except ConfigError as error:
            refused = error
    decided = parallel.broadcast_from_main(decided)
    if decided < 0:
        print(f"error: {refused or 'process 0 refused the run directory (see its output)'}",
              file=sys.stderr)
        return exit_codes.REFUSED
    try:
        state = train(config, start=starts[decided], quiet=args.quiet, stop=stop)
    except (CheckpointError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return exit_codes.REFUSED
    except NonFiniteLoss as error:
        print(f"error: {error}", file=sys.stderr)
        return exit_codes.FAILED
    iteration = int(state.iteration)
    finished = iteration >= config.train.iterations
    code = exit_codes.FINISHED if finished else exit_codes.STOPPED
    if not parallel.is_main_process():
        return code
    results = np.asarray(state.results)
    reached = (f"done: {iteration}" if finished
               else f"stopped: {iteration} of {config.train.iterations}")
    # Before its first checkpoint a run is started again by --resume auto (--resume refuses).
    again = "--resume" if iteration else f"--resume {RESUME_AUTO}"
    print(f"{reached} iterations, {env_steps(config, iteration):,} env steps, "
          f"{int(state.games_finished)} games (Black {results[0]}, White {results[1]}, "
          f"draws {results[2]}); run directory {config.train.run_dir}"
          + ("" if finished else f"; continue with {again} (exit code {code})"))
    return code
