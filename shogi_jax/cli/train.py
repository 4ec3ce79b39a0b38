"""`python -m shogi_jax.train --config FILE`: self-play training (PPO or Gumbel AlphaZero).

Validates the config, creates the run directory (or checks the one to resume) before anything
compiles, then runs `shogi_jax.train.train`.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from shogi_jax.cli import exit_codes
from shogi_jax.cli.exit_codes import EXIT_CODE_HELP
from shogi_jax.host import parallel
from shogi_jax.host.settings import ConfigError
from shogi_jax.play.network import CheckpointError
from shogi_jax.train.config import config_reference, load_config
from shogi_jax.train.loop import NonFiniteLoss, train
from shogi_jax.train.run_directory import check_resumable, create_run_dir
from shogi_jax.train.state import env_steps

_EPILOG = """\
Run directory: config.yaml (the resolved config the run began with), config_history.yaml (every
session's config, appended once a resume is accepted), metrics.jsonl, tensorboard/,
eval_games/iteration_N/*.kifu (every evaluation game), checkpoints/N
(Orbax: the whole train state and its config; the latest checkpoint.keep_latest and the best
kept: a network replaces the best by beating it head to head in the evaluation). Players and the
USI engine use the config stored with the checkpoint. eval/elo is ladder Elo (docs/ladder.md).

Preemption: SIGTERM or SIGINT (or train.time_limit_minutes) finishes the current iteration,
saves, waits for the save and exits 75; continue with --resume. A save cut short (kill -9) is
never taken for a checkpoint; a damaged latest checkpoint is reported and the one before it
used. A NaN/Inf loss stops with exit code 1 and saves nothing.
""" + EXIT_CODE_HELP + """

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
                                          "exist yet or be empty, unless --resume continues it")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --run-dir (or train.run_dir) from its latest "
                             "good checkpoint; train.iterations is the total to reach")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config, args.overrides)
        if args.run_dir:
            config = dataclasses.replace(
                config, train=dataclasses.replace(config.train, run_dir=args.run_dir))
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
    refused = None
    if parallel.is_main_process():  # one process checks and prepares the (shared) run directory
        try:
            if args.resume:  # nothing is written before the checkpoint accepts the config
                check_resumable(config.train.run_dir)
            else:
                create_run_dir(config.train.run_dir, config)
        except ConfigError as error:
            refused = error
    if parallel.broadcast_from_main(refused is not None):
        print(f"error: {refused or 'process 0 refused the run directory (see its output)'}",
              file=sys.stderr)
        return exit_codes.REFUSED
    try:
        state = train(config, resume=args.resume, quiet=args.quiet)
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
    print(f"{reached} iterations, {env_steps(config, iteration):,} env steps, "
          f"{int(state.games_finished)} games (Black {results[0]}, White {results[1]}, "
          f"draws {results[2]}); run directory {config.train.run_dir}"
          + ("" if finished else f"; continue with --resume (exit code {code})"))
    return code
