"""Checkpoints: bit-exact resume, fallback past a damaged checkpoint, named errors for a missing
checkpoint or another network shape."""
from __future__ import annotations

import shutil
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import metrics_a_resume_keeps

from shogi_jax.cli import exit_codes
from shogi_jax.cli import train as train_cli
from shogi_jax.play.network import (
    BEST_METRIC,
    BEST_RANK_METRIC,
    CHECKPOINT_DIR,
    NEW_BEST_METRIC,
    load_network,
)
from shogi_jax.train import checkpoint, run_directory
from shogi_jax.train.config import load_config, save_config
from shogi_jax.train.run_directory import read_metrics
from shogi_jax.train.state import init_train_state, make_trainer

SMOKE = "configs/smoke.yaml"
COMMON = ["--config", SMOKE, "--quiet", "--set", "checkpoint.every_iterations=1",
          "--set", "env.max_plies=6"]


def _run(run_dir, *extra):
    return train_cli.main(COMMON + ["--run-dir", str(run_dir), *extra])


def _final_state(run_dir, overrides=()):
    config = load_config(run_dir / run_directory.CONFIG_FILE, overrides)
    like = init_train_state(config, make_trainer(config))
    manager = checkpoint.open_manager(run_dir, config)
    try:
        return checkpoint.restore_latest(manager, like, config)
    finally:
        manager.close()


def _copy_of_straight(runs, destination):
    """A copy of the 4-iteration run to damage or resume differently."""
    shutil.copytree(runs / "straight", destination)
    return destination


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoints")
    assert _run(root / "straight", "--set", "train.iterations=4") == 0
    assert _run(root / "split", "--set", "train.iterations=2") == 0
    assert _run(root / "split", "--set", "train.iterations=4", "--resume") == 0
    return root


def test_resume_is_bit_exact(runs):
    straight, split = _final_state(runs / "straight"), _final_state(runs / "split")
    assert int(straight.iteration) == int(split.iteration) == 4
    for a, b in zip(jax.tree_util.tree_leaves(straight), jax.tree_util.tree_leaves(split)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert (metrics_a_resume_keeps(read_metrics(runs / "straight"))
            == metrics_a_resume_keeps(read_metrics(runs / "split")))
    assert [r["iteration"] for r in read_metrics(runs / "split")] == [1, 2, 3, 4]


def test_a_damaged_latest_checkpoint_is_skipped(runs, tmp_path, capsys):
    damaged = _copy_of_straight(runs, tmp_path / "damaged")
    latest = damaged / CHECKPOINT_DIR / "4"
    for path in (latest / "state").rglob("*"):
        if path.is_file():
            path.write_bytes(b"garbage")
    state = _final_state(damaged)
    assert int(state.iteration) == 3
    assert "checkpoint 4" in capsys.readouterr().err


def test_resume_needs_a_checkpoint(tmp_path, capsys):
    assert _run(tmp_path / "empty", "--resume") == 2
    assert "no checkpoints" in capsys.readouterr().err


def _files(run_dir):
    """{path: bytes} of every file in a run directory."""
    return {path: path.read_bytes() for path in sorted(run_dir.rglob("*")) if path.is_file()}


def test_another_network_shape_is_named_and_the_run_is_left_untouched(runs, tmp_path, capsys):
    other = _copy_of_straight(runs, tmp_path / "other")
    before = _files(other)
    assert _run(other, "--resume", "--set", "model.channels=16",
                "--set", "train.iterations=5") == 2
    assert "model.channels: checkpoint 8, config 16" in capsys.readouterr().err
    assert _files(other) == before  # a refused resume changes no file
    model, params, _ = load_network(other)
    assert model.channels == 8


def test_a_finished_run_says_so_and_changes_nothing(runs, tmp_path, capsys):
    finished = _copy_of_straight(runs, tmp_path / "finished")
    before = _files(finished)
    for resume in (["--resume"], ["--resume", "auto"]):
        assert train_cli.main(["--run-dir", str(finished), "--quiet", *resume]) == 0
        printed = capsys.readouterr()
        assert ("the run already finished 4 of 4 iterations; raise train.iterations with --set "
                "to continue") in printed.err
        assert printed.out.startswith("done: 4 iterations")
    assert _files(finished) == before  # no config history entry


@pytest.mark.slow
def test_a_resume_keeps_the_runs_settings_unless_a_config_is_given(runs, tmp_path, capsys):
    """The "straight" run began with env.max_plies=6 (smoke.yaml: 64). Resumed without --config
    it keeps that, takes --set on top, and prints what changed; resumed with --config, the file
    is the session's config again, and the settings it changes back are printed."""
    import yaml

    run_dir = _copy_of_straight(runs, tmp_path / "kept")
    assert train_cli.main(["--run-dir", str(run_dir), "--resume", "--quiet", "--set",
                           "ppo.learning_rate=1e-4", "--set", "train.iterations=5"]) == 0
    assert ("resumed from iteration 4\nsettings changed from the run's latest config:\n"
            "  ppo.learning_rate: 0.0003 -> 0.0001\n  train.iterations: 4 -> 5\n"
            in capsys.readouterr().err)
    latest = list(yaml.safe_load_all((run_dir / run_directory.CONFIG_HISTORY).read_text()))[-1]
    assert latest["env"]["max_plies"] == 6 and latest["ppo"]["learning_rate"] == 1e-4
    fifth = read_metrics(run_dir)[-1]
    assert fifth["iteration"] == 5 and fifth["games/mean_length"] == 6
    assert fifth["optim/learning_rate"] == pytest.approx(1e-4)

    assert _run(run_dir, "--resume", "--set", "train.iterations=6") == 0
    assert ("settings changed from the run's latest config:\n  ppo.learning_rate: 0.0001 -> "
            "0.0003\n  train.iterations: 5 -> 6\n" in capsys.readouterr().err)
    assert read_metrics(run_dir)[-1]["optim/learning_rate"] == pytest.approx(3e-4)


def test_players_use_the_config_stored_with_the_checkpoint(runs, tmp_path):
    """Even with config.yaml edited by hand to another network, the checkpoint loads with the
    config it was trained with."""
    other = _copy_of_straight(runs, tmp_path / "edited")
    edited = load_config(other / run_directory.CONFIG_FILE, ["model.channels=16"])
    save_config(edited, other / run_directory.CONFIG_FILE)
    model, params, iteration = load_network(other)
    assert model.channels == 8 and iteration == 4
    kernel = jax.tree_util.tree_leaves(params)[0]
    assert 8 in kernel.shape and 16 not in kernel.shape


def test_a_resume_appends_its_config_to_the_history_and_keeps_config_yaml(runs):
    """The "split" run: 2 iterations, then resumed to 4."""
    import yaml

    split = runs / "split"
    assert load_config(split / run_directory.CONFIG_FILE).train.iterations == 2  # as it began
    history = (split / run_directory.CONFIG_HISTORY).read_text()
    assert [s["train"]["iterations"] for s in yaml.safe_load_all(history)] == [2, 4]
    assert "--- # new run, " in history and "--- # resumed from iteration 2, " in history


def test_sigterm_saves_and_exits_cleanly_then_resumes(tmp_path, capsys):
    import signal
    import subprocess
    import sys
    import time

    run_dir = tmp_path / "preempted"
    command = [sys.executable, "-m", "shogi_jax.train", *COMMON, "--run-dir", str(run_dir),
               "--set", "train.iterations=1000", "--set", "checkpoint.every_iterations=100000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = run_dir / "metrics.jsonl"
    deadline = time.time() + 300
    while not (metrics.exists() and metrics.read_text().count("\n") >= 2):
        assert process.poll() is None and time.time() < deadline
        time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=300)
    assert process.returncode == exit_codes.STOPPED, err  # not "finished": a scheduler restarts it
    assert "SIGTERM: saved iteration" in err
    assert out.startswith("stopped: ") and "continue with --resume" in out and "done" not in out
    saved = _final_state(run_dir)
    assert int(saved.iteration) >= 2  # periodic saves were off: this one came from the signal
    assert [r["iteration"] for r in read_metrics(run_dir)][-1] == int(saved.iteration)
    assert _run(run_dir, "--resume", "--set", f"train.iterations={int(saved.iteration) + 1}") == 0
    assert int(_final_state(run_dir).iteration) == int(saved.iteration) + 1
    # Said even with --quiet: which checkpoint a run continued from.
    assert f"resumed from iteration {int(saved.iteration)}" in capsys.readouterr().err


@pytest.mark.slow
def test_sigterm_before_the_first_iteration_exits_75_and_the_same_command_goes_on(tmp_path,
                                                                                 capsys):
    """One command line with --resume auto, as a scheduler repeats it: SIGTERM as soon as the
    run directory appears (the state is being made, the iteration compiled) stops it with exit
    code 75 and no checkpoint; the same command starts the run again and finishes it; once more,
    it says the run is finished and changes nothing."""
    import signal
    import subprocess
    import sys
    import time

    run_dir = tmp_path / "early"
    argv = [*COMMON, "--run-dir", str(run_dir), "--resume", "auto"]
    process = subprocess.Popen([sys.executable, "-m", "shogi_jax.train", *argv],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (run_dir / run_directory.CONFIG_FILE).exists():
        assert process.poll() is None and time.time() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=300)
    assert process.returncode == exit_codes.STOPPED, err
    assert ("SIGTERM before the session's first iteration: nothing to save; the run stays at "
            "iteration 0") in err
    assert out.startswith("stopped: 0 of 2 iterations") and "continue with --resume auto" in out
    assert not run_directory.has_checkpoint(run_dir)

    assert train_cli.main(argv) == exit_codes.FINISHED
    assert "the run starts again" in capsys.readouterr().err
    assert [r["iteration"] for r in read_metrics(run_dir)] == [1, 2]
    assert int(_final_state(run_dir).iteration) == 2

    before = _files(run_dir)
    assert train_cli.main(argv) == exit_codes.FINISHED
    printed = capsys.readouterr()
    assert ("the run already finished 2 of 2 iterations; raise train.iterations with --set to "
            "continue") in printed.err
    assert printed.out.startswith("done: 2 iterations")
    assert _files(run_dir) == before  # no config history entry, no metrics, no checkpoint


@pytest.mark.slow
def test_kill_9_during_a_save_never_leaves_a_checkpoint_taken_for_good(tmp_path):
    """SIGKILL while Orbax is writing a checkpoint (its files half there in a temporary
    directory): the resumed run starts from the last complete checkpoint, and the next save of
    the same iteration replaces the leftover."""
    import os
    import signal
    import subprocess
    import sys
    import time

    run_dir = tmp_path / "killed"
    directory = run_dir / CHECKPOINT_DIR
    command = [sys.executable, "-m", "shogi_jax.train", *COMMON, "--run-dir", str(run_dir),
               "--set", "train.iterations=100000"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    partial = None
    try:
        while partial is None:
            assert process.poll() is None and time.time() < deadline
            entries = list(os.scandir(directory)) if directory.is_dir() else []
            for entry in entries:
                # A save in progress (after a complete one): files already written under a
                # temporary name.
                if ("tmp" in entry.name and any(e.name.isdigit() for e in entries)
                        and any(p.is_file() for p in Path(entry.path).rglob("*"))):
                    partial = entry.name
                    break
            else:
                time.sleep(0.0005)
                continue
            process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    partial_step = int(partial.split(".")[0])
    complete = sorted(int(name) for name in os.listdir(directory) if name.isdigit())
    assert complete and max(complete) < partial_step, (partial, complete)

    config = load_config(run_dir / run_directory.CONFIG_FILE)
    manager = checkpoint.open_manager(run_dir, config)
    assert partial_step not in manager.all_steps()
    manager.close()
    resumed_from = int(_final_state(run_dir).iteration)
    assert resumed_from == max(complete)
    target = partial_step + 1
    assert _run(run_dir, "--resume", "--set", f"train.iterations={target}") == 0
    assert int(_final_state(run_dir).iteration) == target
    assert [r["iteration"] for r in read_metrics(run_dir)] == list(range(1, target + 1))


@pytest.mark.slow
def test_a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(runs, tmp_path, capsys):
    diverging = _copy_of_straight(runs, tmp_path / "diverging")
    # Adam steps of size ~1e30 overflow the activations: the loss is NaN at once.
    assert _run(diverging, "--resume", "--set", "ppo.learning_rate=1e30",
                "--set", "train.iterations=6") == 1
    assert "the loss is not finite at iteration 5" in capsys.readouterr().err
    assert int(_final_state(diverging).iteration) == 4
    assert [r["iteration"] for r in read_metrics(diverging)] == [1, 2, 3, 4]
    kept = sorted(int(p.name) for p in (diverging / CHECKPOINT_DIR).iterdir()
                  if p.name.isdigit())
    assert kept[-1] == 4


def test_another_games_in_flight_shape_is_named(runs, tmp_path, capsys):
    other = _copy_of_straight(runs, tmp_path / "other_games")
    assert _run(other, "--resume", "--set", "env.num_games=4", "--set", "ppo.minibatches=1",
                "--set", "train.iterations=5") == 2
    err = capsys.readouterr().err
    assert "does not fit this config" in err and "env.num_games: checkpoint 8, config 4" in err
    assert ".games.board: checkpoint int32[8, 81], config int32[4, 81]" in err


def test_the_best_evaluated_checkpoint_outlives_the_latest_n(tmp_path):
    config = load_config(SMOKE, ["checkpoint.keep_latest=1"])
    state = jax.device_get(init_train_state(config, make_trainer(config)))
    manager = checkpoint.open_manager(tmp_path, config)
    for step, elo in ((1, 5.0), (2, 40.0), (3, None), (4, -3.0), (5, None)):
        evaluation = None if elo is None else {BEST_METRIC: elo, "eval/other": 1.0}
        checkpoint.save(manager, state._replace(iteration=np.int32(step)), config,
                        evaluation=evaluation)
        manager.wait_until_finished()
    assert sorted(manager.all_steps()) == [2, 5]  # the best, and the latest one
    assert manager.best_step() == 2
    best = checkpoint.restore_best(manager, state)
    assert best.elo == best.rank == 40.0
    assert jax.tree_util.tree_structure(best.params) == jax.tree_util.tree_structure(state.params)
    manager.close()
    _, _, step = load_network(tmp_path, which="best")
    assert step == 2


def test_of_equal_elos_the_first_stays_the_best(tmp_path):
    """Runs from before the best's rank (a new best had to have a higher Elo): a resumed run's
    best opponent and the report's "best" network are the checkpoint that made the best, not a
    later equal one."""
    config = load_config(SMOKE, ["checkpoint.keep_latest=1"])
    state = jax.device_get(init_train_state(config, make_trainer(config)))
    manager = checkpoint.open_manager(tmp_path, config)
    for step, new_best in ((1, 1.0), (2, 0.0), (3, 0.0)):  # all draws: Elo 0 each time
        checkpoint.save(manager, state._replace(iteration=np.int32(step)), config, evaluation={
            BEST_METRIC: 0.0, NEW_BEST_METRIC: new_best})
        manager.wait_until_finished()
    assert sorted(manager.all_steps()) == [1, 3]
    assert manager.best_step() == 1
    assert checkpoint.restore_best(manager, state).elo == 0.0
    manager.close()
    assert load_network(tmp_path, which="best").iteration == 1


def test_the_best_is_the_last_new_best_whatever_the_elos(tmp_path):
    """The evaluator replaces the best when the current network beats it head to head, so a new
    best may have a lower Elo than the one it replaced: each new best ranks one above it
    (BEST_RANK_METRIC), and that is the checkpoint kept and loaded as best. An old run resumed
    (its bests ranked by Elo, 1741 here) goes on the same way."""
    config = load_config(SMOKE, ["checkpoint.keep_latest=1"])
    state = jax.device_get(init_train_state(config, make_trainer(config)))
    manager = checkpoint.open_manager(tmp_path, config)
    for step, elo, new_best, rank in ((1, 1741.0, 1.0, None), (2, 503.0, 1.0, 1742.0),
                                      (3, 900.0, 0.0, 1742.0), (4, 480.0, 1.0, 1743.0),
                                      (5, 950.0, 0.0, 1743.0)):
        evaluation = {BEST_METRIC: elo, NEW_BEST_METRIC: new_best}
        if rank is not None:
            evaluation[BEST_RANK_METRIC] = rank
        checkpoint.save(manager, state._replace(iteration=np.int32(step)), config,
                        evaluation=evaluation)
        manager.wait_until_finished()
    assert sorted(manager.all_steps()) == [4, 5]
    best = checkpoint.restore_best(manager, state)
    assert (manager.best_step(), best.elo, best.rank) == (4, 480.0, 1743.0)
    manager.close()
    assert load_network(tmp_path, which="best").iteration == 4


def test_no_readable_checkpoint_is_a_clear_error(runs, tmp_path, capsys):
    damaged = _copy_of_straight(runs, tmp_path / "all_damaged")
    for path in (damaged / CHECKPOINT_DIR).rglob("*"):
        if path.is_file() and "state" in path.parts:
            path.write_bytes(b"garbage")
    assert _run(damaged, "--resume", "--set", "train.iterations=5") == 2
    err = capsys.readouterr().err
    assert "error: no readable checkpoint in" in err and "tried [4, 3, 2]" in err
