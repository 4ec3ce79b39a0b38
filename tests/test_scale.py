"""Scale-out with JAX's own runtime: the same iteration on 1 or 8 (fake CPU) devices, checkpoints
moving between device counts, and two processes training together through jax.distributed (gloo
collectives on loopback). Several devices need XLA_FLAGS before JAX starts, so those parts run in
subprocesses; the 1-device references run here."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from shogi_jax.cli import exit_codes
from shogi_jax.cli import train as train_cli
from shogi_jax.play.network import load_network
from shogi_jax.train.run_directory import read_metrics

ROOT = Path(__file__).resolve().parent.parent
SMOKE = str(ROOT / "configs" / "smoke.yaml")
COMMON = ["--config", SMOKE, "--quiet", "--set", "checkpoint.every_iterations=1",
          "--set", "env.max_plies=6"]  # games end inside the run: outcomes are counted
TIMEOUT = 420  # seconds for any one subprocess (a hung collective must fail, not stall CI)


def _devices_env(count: int) -> dict:
    return dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={count}")


def _train_subprocess(run_dir, *extra, devices: int, environment=None):
    return subprocess.Popen(
        [sys.executable, "-m", "shogi_jax.train", *COMMON, "--run-dir", str(run_dir), *extra],
        cwd=ROOT, env=dict(_devices_env(devices), **(environment or {})),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process, timeout: int = TIMEOUT, returncode: int = 0) -> tuple[str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"subprocess timed out after {timeout} s:\n{err[-3000:]}")
    assert process.returncode == returncode, err[-3000:]
    return out, err


def _assert_same_training(records, reference):
    """Metrics of two runs of the same config and seed: game counts equal, floats close."""
    assert [r["iteration"] for r in records] == [r["iteration"] for r in reference]
    for got, want in zip(records, reference):
        for name, value in want.items():
            if name.startswith("games/") or name in ("iteration", "env_steps"):
                assert got[name] == value, (got["iteration"], name)
            elif name.startswith(("loss/", "ppo/approx_kl", "optim/grad_norm", "rollout/")):
                assert got[name] == pytest.approx(value, rel=1e-3, abs=1e-6), (
                    got["iteration"], name)


@pytest.fixture(scope="module")
def multidevice():
    """tests/multidevice_checks.py's measurements, made on 8 fake CPU devices in one process
    (every part: PPO, gumbel_az and pool training, matches, staggered games, collectives)."""
    process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "multidevice_checks.py")],
                               cwd=ROOT, env=_devices_env(8), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    out, _ = _finish(process, timeout=4 * TIMEOUT)
    return json.loads(out.strip().splitlines()[-1])


def _assert_eight_devices_trained_like_one(train):
    """check_train's measurements: the same training on 8 devices as on 1."""
    assert train["devices"] == 8
    assert "env.num_games = 12 cannot be split evenly over 8 devices" in train["uneven_error"]
    # The games really are split over the 8 devices; the parameters are replicated on all.
    assert train["games_devices"] == 8 and train["params_devices"] == 8
    assert train["params_replicated"]
    # Same global batch and seed: the same games and the same parameters up to summation order.
    assert train["boards_equal"]
    assert train["max_param_diff"] < 1e-5 * max(1.0, train["max_param"])
    assert train["counters_one"] == train["counters_eight"]
    assert train["counters_one"][0] > 0  # games did finish, so the counting was exercised
    for one, eight in zip(train["one"], train["eight"]):
        assert one.keys() == eight.keys()
        for name in one:
            assert eight[name] == pytest.approx(one[name], rel=1e-4, abs=1e-6), name


@pytest.mark.slow  # the 8-device subprocess: ~3 minutes on 2 cores
def test_eight_devices_train_like_one_device(multidevice):
    _assert_eight_devices_trained_like_one(multidevice["train"])


@pytest.mark.slow
def test_eight_devices_train_gumbel_az_like_one_device(multidevice):
    """algorithm: gumbel_az: each device searches its own games with each game's own key, so
    the self-play games, targets and parameters are those of one device; and a search player's
    match is the same on 8 devices as on 1."""
    train = multidevice["gumbel_az"]["train"]
    _assert_eight_devices_trained_like_one(train)
    assert "loss/policy" in train["one"][0] and "az/value_known" in train["one"][0]
    assert max(record["az/value_known"] for record in train["one"]) > 0
    assert max(record["az/material_weight"] for record in train["one"]) == pytest.approx(0.5)
    # A search player's match split over the devices: the same games.
    match = multidevice["gumbel_az"]["search_match"]
    assert match["moves_equal"] and match["plies"] > 8


@pytest.mark.slow
def test_eight_devices_train_with_an_opponent_pool_like_one_device(multidevice):
    """pool.share 0.5: every other game against a pool member drawn each iteration (the pool
    replicated, the pool games picked by each device among its own): the same games, pool
    records and parameters as on one device."""
    train = multidevice["pool"]["train"]
    _assert_eight_devices_trained_like_one(train)
    assert max(record["pool/games_finished"] for record in train["one"]) > 0


@pytest.mark.slow  # the 8-device subprocess: ~3 minutes on 2 cores
def test_match_games_split_over_devices_are_the_same_games(multidevice):
    match = multidevice["match"]
    assert match["moves_equal"] and match["outcomes_equal"]
    assert match["plies"] > 16
    # 16 games split over all 8 devices; 12 games over the 4 that divide them evenly.
    assert (match["mesh_for_16_games"], match["mesh_for_12_games"]) == (8, 4)


@pytest.mark.slow  # the 8-device subprocess: ~3 minutes on 2 cores
def test_each_device_steps_and_observes_only_its_own_games(multidevice):
    """Compiled for 8 devices: the rules and a match hold no collective at all; a training
    iteration holds only all-reduces: the game tallies once, and per PPO update the gradient
    (with the loss metrics) and the advantages' mean and variance. A device that gathered
    another's games (an all-gather) or every sample (no gradient all-reduce) fails this."""
    counted = multidevice["collectives"]
    assert counted["step"] == {} and counted["observe"] == {}
    assert counted["match_chunk"] == {}
    assert set(counted["iteration"]) == {"all-reduce"}, counted["iteration"]
    updates = counted["updates_per_iteration"]
    assert 1 + updates <= counted["iteration"]["all-reduce"] <= 1 + 3 * updates


@pytest.mark.slow
def test_each_device_staggers_its_own_games_before_training(multidevice):
    staggered = multidevice["staggered"]
    assert staggered["custom_partitionings"] == 0  # the trainer's programs: its own shard_map
    assert staggered["games_equal"]
    assert len(set(staggered["plies"])) > 1  # the games were staggered


@pytest.fixture(scope="module")
def sharded_rules():
    """tests/sharded_rules_checks.py's measurements: a user's games split over 8 fake CPU
    devices, stepped and observed by plain jit(vmap(...))."""
    process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "sharded_rules_checks.py")],
                               cwd=ROOT, env=_devices_env(8), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    out, _ = _finish(process)
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow  # the 8-device subprocess: ~1 minute on 2 cores
@pytest.mark.parametrize("function", [
    "step_auto", "observe_auto", "step_accelerator", "observe_accelerator", "observe_2048",
    "observe_nested", "env_step", "env_observe"])
def test_games_a_user_splits_over_devices_are_each_computed_on_their_own_device(sharded_rules,
                                                                               function):
    """jax.jit(jax.vmap(step)) (and observe, the Env's step and observe; in the CPU and the
    accelerator program) of games split over 8 devices: no collective, each output split like
    the games, the results those of one device."""
    measured = sharded_rules[function]
    assert measured["collectives"] == {}
    assert measured["split_like_inputs"]
    assert measured["equal"]


@pytest.mark.slow
def test_sharded_rules_cover_ended_games_uneven_splits_and_export(sharded_rules):
    assert sharded_rules["devices"] == 8
    # The step checked: 4 games already over (passed through), 2 that play an illegal action.
    assert sharded_rules["ended_illegally"] == 6 and sharded_rules["playing"] > 200
    # 12 games over 8 devices: not split (each device holds them all), the same results.
    assert sharded_rules["uneven_equal"]
    # A jax.export of games split over 8 devices still works.
    assert sharded_rules["exported_devices"] == 8


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Here, on 1 device: a straight 4-iteration run (the reference) and a 2-iteration one."""
    root = tmp_path_factory.mktemp("scale")
    assert train_cli.main(COMMON + ["--run-dir", str(root / "one_straight"),
                                    "--set", "train.iterations=4"]) == 0
    assert train_cli.main(COMMON + ["--run-dir", str(root / "one_half"),
                                    "--set", "train.iterations=2"]) == 0
    return root


@pytest.mark.slow
def test_checkpoints_move_between_eight_devices_and_one(runs):
    reference = read_metrics(runs / "one_straight")
    # Written on 8 devices, resumed here on 1.
    _finish(_train_subprocess(runs / "eight_then_one", "--set", "train.iterations=2", devices=8))
    assert train_cli.main(COMMON + ["--run-dir", str(runs / "eight_then_one"), "--resume",
                                    "--set", "train.iterations=4"]) == 0
    _assert_same_training(read_metrics(runs / "eight_then_one"), reference)
    # Written on 1 device, resumed on 8.
    shutil.copytree(runs / "one_half", runs / "one_then_eight")
    _finish(_train_subprocess(runs / "one_then_eight", "--resume", "--set", "train.iterations=4",
                              devices=8))
    _assert_same_training(read_metrics(runs / "one_then_eight"), reference)
    # An 8-device checkpoint as a player here (the USI engine's and tournaments' loader).
    shutil.copytree(runs / "one_then_eight", runs / "eight_only")
    _, params, iteration = load_network(runs / "eight_only")
    assert iteration == 4
    _, reference_params, _ = load_network(runs / "one_straight")
    for got, want in zip(jax.tree_util.tree_leaves(params),
                         jax.tree_util.tree_leaves(reference_params)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-6)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start_two_processes(run_dir, *extra):
    """Both processes of a 2-host job (2 CPU devices each) on loopback, started."""
    port = _free_port()
    # Process 0 is told everything on its command line; process 1 (like a job script would) gets
    # its coordinator, process count and id from the environment.
    return [
        _train_subprocess(run_dir, "--set", "distributed.initialize=true",
                          "--set", f"distributed.coordinator_address=localhost:{port}",
                          "--set", "distributed.num_processes=2",
                          "--set", "distributed.process_id=0", *extra, devices=2),
        _train_subprocess(run_dir, "--set", "distributed.initialize=true", *extra, devices=2,
                          environment={"JAX_COORDINATOR_ADDRESS": f"localhost:{port}",
                                       "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "1"})]


def _two_processes(run_dir, *extra):
    """Both processes of a 2-host job, run to their end; (stdout, stderr) each."""
    return [_finish(p) for p in _start_two_processes(run_dir, *extra)]


def test_two_processes_agree_on_a_stop_and_leave_no_key_per_call():
    """tests/coordination_checks.py in both processes of a job: 20 broadcasts, 20 barriers, then
    agreement points until one process's SIGINT stops both."""
    port, calls = _free_port(), 20
    script = [sys.executable, str(ROOT / "tests" / "coordination_checks.py")]
    processes = [subprocess.Popen([*script, str(process), str(port), str(calls)], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for process in (0, 1)]
    first, second = [json.loads(_finish(p)[0].strip().splitlines()[-1]) for p in processes]
    # The same point on both, after process 1's SIGINT (at point 3), within the notice's delay.
    assert first["stopped_after"] == second["stopped_after"]
    assert 3 <= first["stopped_after"] < 100
    assert second["requested"] == "SIGINT"
    assert first["requested"] == "SIGTERM or another process's stop request"
    assert first["broadcasts"] == second["broadcasts"] == [10 * call for call in range(calls)]
    # Nothing of ours stays; JAX's sync point wrote one counter per process for the one stop.
    assert first["ours"] == second["ours"] == []
    assert [key for key, _ in first["preemption_counters"]] == [
        "PREEMPTION_CURRENT_COUNTER/0", "PREEMPTION_CURRENT_COUNTER/1"]


@pytest.mark.slow
def test_two_processes_train_together_stop_together_and_resume(runs):
    """A 2-host job, in three sessions:
    1. it trains 2 iterations: one checkpoint each, written once; process 0 alone speaks;
    2. resumed with a far budget, it meets a preemption of one host (SIGTERM to process 1
       alone): both stop after the same iteration, save it as one checkpoint and exit 75;
    3. the same command line with --resume auto finishes the run.
    Its metrics (both hosts' games summed) are those of the 1-device run."""
    run_dir = runs / "two_processes"
    (out0, _), (out1, _) = _two_processes(run_dir, "--set", "train.iterations=2")
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()
                  if p.name.isdigit()) == ["1", "2"]
    assert "done: 2 iterations, 128 env steps" in out0
    # One voice: process 0 prints the summary and writes the metrics; process 1 is silent (but
    # for the gloo library's own connection lines, printed from C++).
    assert [line for line in out1.splitlines() if not line.startswith("[Gloo]")] == []

    # A time limit far away: process 0's clock reaches process 1 every iteration.
    command = ["--resume", "auto", "--set", "train.iterations=1000",
               "--set", "checkpoint.every_iterations=100000",
               "--set", "train.time_limit_minutes=600"]
    processes = _start_two_processes(run_dir, *command)
    metrics = run_dir / "metrics.jsonl"
    deadline = time.time() + TIMEOUT
    while metrics.read_text().count("\n") < 4:  # iterations 3 and 4 done in this session
        assert all(p.poll() is None for p in processes) and time.time() < deadline
        time.sleep(0.2)
    processes[1].send_signal(signal.SIGTERM)
    (out0, err0), _ = [_finish(p, returncode=exit_codes.STOPPED) for p in processes]
    saved = [int(p.name) for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit()]
    stopped_at = max(saved)
    assert stopped_at >= 4 and [s for s in saved if s > 2] == [stopped_at]  # the stop's save
    assert f"SIGTERM or another process's stop request: saved iteration {stopped_at}" in err0
    assert f"stopped: {stopped_at} of 1000 iterations" in out0  # after gloo's lines
    assert [r["iteration"] for r in read_metrics(run_dir)][-1] == stopped_at
    _, _, iteration = load_network(run_dir)  # complete: it loads
    assert iteration == stopped_at

    finish = ["--set", f"train.iterations={stopped_at + 1}"]
    (out0, err0), _ = [_finish(p) for p in _start_two_processes(run_dir, *command, *finish)]
    assert f"resumed from iteration {stopped_at}" in err0
    assert f"done: {stopped_at + 1} iterations" in out0
    # The schedules of the smoke config do not depend on the budget (a constant rate, no
    # shaping), so the three sessions' iterations are those of one straight run.
    reference = read_metrics(runs / "one_straight")
    _assert_same_training(read_metrics(run_dir)[:len(reference)], reference)


def test_importing_the_entry_points_leaves_the_backend_for_jax_distributed():
    # jax.distributed.initialize must come before anything starts the XLA backend; a module
    # constant made with jnp would start it at import.
    code = ("import shogi_jax.train, shogi_jax.usi, shogi_jax.tournament\n"
            "from shogi_jax.train.config import load_config\n"
            f"load_config({SMOKE!r})\n"
            "from jax._src import xla_bridge\n"
            "print(xla_bridge.backends_are_initialized())")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"


def test_a_bad_process_id_from_the_environment_is_named(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "shogi_jax.train", *COMMON, "--run-dir", str(tmp_path / "run"),
         "--set", "distributed.initialize=true", "--set", "distributed.num_processes=2"],
        cwd=ROOT, env=dict(os.environ, JAX_COORDINATOR_ADDRESS="localhost:1",
                           JAX_PROCESS_ID="two"),
        capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 2
    assert "$JAX_PROCESS_ID must be an integer, got 'two'" in done.stderr
