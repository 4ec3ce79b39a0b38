"""The training host loop: `train(config)` compiles the iteration once, then calls it and writes
what it returns (metrics, evaluation games, checkpoints). Everything else happens on the device
inside one jitted call (see `shogi_jax.train.iteration`). `python -m shogi_jax.train` is its command
line (`shogi_jax.cli.train`).
"""
from __future__ import annotations

import signal
import sys
import time

import jax
import numpy as np
from jax.experimental import multihost_utils

from shogi_jax.host import parallel
from shogi_jax.host.compilation_cache import keep_compiled_programs
from shogi_jax.host.progress import progress_bar
from shogi_jax.host.settings import ConfigError, config_to_dict
from shogi_jax.host.signals import StopRequest
from shogi_jax.train import budget, checkpoint, tracking
from shogi_jax.train.config import Config
from shogi_jax.train.iteration import make_train_step
from shogi_jax.train.periodic import TrainingEvaluator
from shogi_jax.train.run_directory import RunDirectory, SessionStart
from shogi_jax.train.state import TrainState, env_steps, init_sharded_train_state, make_trainer


class NonFiniteLoss(RuntimeError):
    pass


def train(config: Config, *, start: SessionStart = SessionStart.NEW_RUN, quiet: bool = False,
          stop: StopRequest | None = None) -> TrainState:
    """Runs `config` to train.iterations in config.train.run_dir (as `prepare_run_dir` left it),
    saving checkpoints on the way and at the end; `start` says how the session begins there
    (RESUME: from the latest good checkpoint). Returns the final state (on device).

    stop: the caller's stop request, installed from its first moment (None: one is installed
    for this call). A stop requested before the first iteration ends the session there, with
    nothing saved; a run already at train.iterations returns at once, writing nothing. In a job
    of several processes, install it before jax.distributed.initialize (as the command line
    does): JAX's preemption notifier then takes SIGTERM, and this one sees the rest."""
    own_stop = stop is None
    if own_stop:  # several processes: SIGTERM is JAX's preemption notice (parallel.StopAgreement)
        stop = StopRequest(StopRequest.SIGNALS if jax.process_count() == 1
                           else (signal.SIGINT,)).install()
    try:
        return _train(config, start, stop, quiet=quiet)
    finally:
        if own_stop:
            stop.restore()


def _train(config: Config, start: SessionStart, stop: StopRequest, *, quiet: bool) -> TrainState:
    keep_compiled_programs(config.train.compilation_cache_dir)  # before anything compiles
    tracking.import_wandb(config.tracking)  # a missing wandb is refused before anything is made
    main_process = parallel.is_main_process()
    quiet = quiet or not main_process  # one voice for the whole job
    run = RunDirectory(config.train.run_dir, writes=main_process)
    try:
        mesh = parallel.make_mesh(config.distributed.devices)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    trainer = make_trainer(config)
    state = init_sharded_train_state(config, trainer, mesh)
    manager = checkpoint.open_manager(run.path, config)
    agreed = parallel.StopAgreement(stop)
    bar, tracker, failed = None, tracking.Tracker(), False
    try:
        best = None
        if start is SessionStart.RESUME:
            state = checkpoint.restore_latest(manager, state, config)  # onto this run's mesh
            best = checkpoint.restore_best(manager, state)
        first = int(state.iteration)
        # Said even with --quiet: where a session begins, and what it changed, matter.
        if first >= config.train.iterations:
            if main_process:
                total = config.train.iterations
                reached = (f"finished {first} of {total} iterations" if first == total else
                           f"reached iteration {first}, past train.iterations = {total}")
                print(f"the run already {reached}; raise train.iterations with --set to "
                      "continue", file=sys.stderr)
            return state
        if main_process and start is not SessionStart.NEW_RUN:
            print(f"resumed from iteration {first}" if start is SessionStart.RESUME else
                  f"no checkpoint in {run.path} yet: the run starts again", file=sys.stderr)
        if _stopped_before_iterating(agreed, first, main_process):
            return state
        changes = run.begin_session(
            config, resumed_from=None if start is SessionStart.NEW_RUN else first)
        if main_process and changes:
            print("settings changed from the run's latest config:\n" + "\n".join(
                f"  {key}: {old!r} -> {new!r}" for key, old, new in changes), file=sys.stderr)
        tracker = tracking.Tracker.start(config.tracking, config_to_dict(config), run.path,
                                         writes=main_process)
        evaluator = (TrainingEvaluator(config, best, mesh=mesh)
                     if config.evaluation.every_iterations else None)

        started = time.perf_counter()
        if not quiet:  # tens of seconds on a CPU, minutes for a big model: say what is going on
            print("compiling the iteration ...", file=sys.stderr)
        train_step = make_train_step(config, trainer, mesh).lower(
            state, budget.clock(config)).compile()
        parallel.wait_for_all_processes("compiled the iteration")
        if not quiet:
            print(f"compiled the iteration in {time.perf_counter() - started:.1f} s on "
                  f"{mesh.size} device(s), {jax.process_count()} process(es)", file=sys.stderr)
        if _stopped_before_iterating(agreed, first, main_process):
            return state

        per_dispatch = config.train.iterations_per_dispatch
        bar = progress_bar(config.train.iterations, initial=first, disable=quiet,
                           desc=TRAINING_STAGE)
        for _ in range((config.train.iterations - first) // per_dispatch):
            started = time.perf_counter()
            state, metrics = train_step(state, budget.clock(config, _time_spent(config, run)))
            metrics = jax.device_get(metrics)  # waits for the dispatch
            steps_per_second = env_steps(config, per_dispatch) / (time.perf_counter() - started)
            done = int(state.iteration)
            if not all(np.isfinite(np.asarray(metrics["loss/total"]))):
                raise NonFiniteLoss(f"the loss is not finite at iteration {done}; stopped without "
                                    "saving (the last good checkpoint is kept)")
            evaluation = None
            if evaluator and _reached_multiple(done, per_dispatch,
                                               config.evaluation.every_iterations):
                _show_stage(bar, f"evaluating at {done}")  # the bar stands still meanwhile
                evaluation = _evaluate(evaluator, state.params, done, warn=main_process)
                if evaluation and not quiet:
                    bar.write(evaluator.last_summary, file=sys.stderr)
            for iteration, record in _iteration_records(metrics, done):
                record["perf/env_steps_per_second"] = steps_per_second
                record["perf/wall_seconds"] = run.wall_seconds()
                if iteration == done and evaluation:
                    record.update(evaluation)
                run.write_metrics(iteration, env_steps(config, iteration), record)
                tracker.log_metrics(iteration, env_steps(config, iteration), record)
            if evaluation:
                run.write_evaluation_games(done, evaluator.last_games)
            _check_time_limit(stop, config, run)
            stopping = agreed.reached()  # at the same iteration on every process
            if (_reached_multiple(done, per_dispatch, config.checkpoint.every_iterations)
                    or done == config.train.iterations or stopping or evaluation):
                # A device copy: the next call donates (and so deletes) the state's buffers
                # while the asynchronous save may still be reading them.
                _show_stage(bar, f"saving {done}")
                checkpoint.save(manager, parallel.snapshot(state), config, evaluation=evaluation)
                run.sync()  # the metrics up to the checkpoint, also on an object store
                if config.tracking.logs_checkpoints:  # W&B copies a complete checkpoint
                    manager.wait_until_finished()
                    tracker.log_checkpoint(manager.directory / str(done), done,
                                           env_steps(config, done), evaluation)
            _show_stage(bar, TRAINING_STAGE)
            bar.update(per_dispatch)
            bar.set_postfix(steps=f"{env_steps(config, done):,}", sps=f"{steps_per_second:,.0f}",
                            games=int(state.games_finished))
            if stopping:
                if main_process:
                    print(f"\n{stop.requested}: saved iteration {done}; resume with --resume",
                          file=sys.stderr)
                break
    except BaseException:
        failed = True
        raise
    finally:
        if bar is not None:
            bar.close()
        run.close()
        manager.wait_until_finished()
        manager.close()
        # After a failure the state's buffers may be donated: it is not read.
        tracker.finish(failed=failed,
                       finished=not failed and int(state.iteration) >= config.train.iterations)
    return state


TRAINING_STAGE = "training"  # the progress bar's label while iterations run


def _show_stage(bar, stage: str) -> None:
    """Labels the progress bar with what the loop is doing (evaluating, saving, training)."""
    if getattr(bar, "desc", None) != stage:  # a disabled (quiet) tqdm has no desc yet
        bar.set_description_str(stage)


def _stopped_before_iterating(agreed: parallel.StopAgreement, first: int,
                              main_process: bool) -> bool:
    """A stop requested before the session's first iteration (while it restored or compiled):
    there is nothing new to save, and the run stays where it was."""
    if not agreed.reached():
        return False
    if main_process:
        print(f"{agreed.stop.requested} before the session's first iteration: nothing to save; "
              f"the run stays at iteration {first}", file=sys.stderr)
    return True


def _reached_multiple(done: int, per_dispatch: int, every: int) -> bool:
    """Whether the dispatch that ended at iteration `done` passed a multiple of `every`."""
    return done // every > (done - per_dispatch) // every


def _iteration_records(metrics: dict, done: int):
    """(iteration, {name: value}) for each iteration of a dispatch that ended at `done`: the
    metrics come with a leading axis of train.iterations_per_dispatch."""
    per_dispatch = len(metrics["loss/total"])
    for k in range(per_dispatch):
        yield done - per_dispatch + 1 + k, {name: float(np.asarray(values)[k])
                                            for name, values in metrics.items()}


def _check_time_limit(stop: StopRequest, config: Config, run: RunDirectory) -> None:
    """train.time_limit_minutes counts this session's wall clock (not earlier sessions')."""
    limit = config.train.time_limit_minutes
    if limit and not stop.requested and run.session_seconds() >= 60 * limit:
        stop.requested = f"time limit ({limit:g} min)"


def _time_spent(config: Config, run: RunDirectory) -> np.float32:
    """The share of train.time_limit_minutes the run has used (budget.time_share), the same on
    every process: process 0's clock, sent beside the iteration's own collectives (a key per
    iteration in the coordination service would pile up)."""
    if not config.train.time_limit_minutes:
        return np.float32(0)
    share = np.float32(budget.time_share(config, run.wall_seconds()))
    return np.float32(multihost_utils.broadcast_one_to_all(share))


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
