"""The run directory's files without training: a new run, a resumed session (metrics truncated to
the checkpoint, the wall clock continued, the config history appended), how --resume auto
decides, and the silent directory of the processes that do not write."""
from __future__ import annotations

import json

import pytest
import yaml

from shogi_jax.host.settings import ConfigError
from shogi_jax.play.network import CHECKPOINT_DIR
from shogi_jax.train.config import load_config
from shogi_jax.train.run_directory import (
    CONFIG_FILE,
    CONFIG_HISTORY,
    METRICS_FILE,
    RESUME_AUTO,
    TENSORBOARD_DIR,
    RunDirectory,
    SessionStart,
    check_resumable,
    create_run_dir,
    latest_config,
    prepare_run_dir,
    read_metrics,
)

SMOKE = "configs/smoke.yaml"


def _session(path, config, resumed_from, iterations, wall_seconds=None, changes=()):
    run = RunDirectory(path)
    assert run.begin_session(config, resumed_from=resumed_from) == list(changes)
    for iteration in iterations:
        record = {"loss/total": 0.5 * iteration, "odd": float("nan")}
        record["perf/wall_seconds"] = (wall_seconds or {}).get(iteration, run.wall_seconds())
        run.write_metrics(iteration, 10 * iteration, record)
    return run


def test_a_new_run_then_a_resumed_session(tmp_path):
    config = load_config(SMOKE)
    path = tmp_path / "run"
    create_run_dir(path, config)
    assert load_config(path / CONFIG_FILE) == config
    with pytest.raises(ConfigError, match="already exists and is not empty; continue that run "
                                          "with --resume, or choose a new --run-dir"):
        create_run_dir(path, config)
    with pytest.raises(ConfigError, match="no checkpoints"):
        check_resumable(path)

    # A first session writes iterations 1..4 (the last two past its last checkpoint, at 2).
    _session(path, config, None, [1, 2, 3, 4], wall_seconds={1: 10.0, 2: 20.0, 3: 30.0,
                                                              4: 40.0}).close()
    first = read_metrics(path)
    assert [r["iteration"] for r in first] == [1, 2, 3, 4]
    assert first[0]["env_steps"] == 10 and first[0]["odd"] == "nan"  # JSON has no NaN

    # Resumed from the checkpoint at 2 with another learning rate: 3 and 4 are dropped, the
    # clock goes on from 20 s, and the change is told.
    resumed = load_config(SMOKE, ["ppo.learning_rate=1e-4"])
    run = _session(path, resumed, 2, [3], changes=[("ppo.learning_rate", 3e-4, 1e-4)])
    run.close()
    records = read_metrics(path)
    assert [r["iteration"] for r in records] == [1, 2, 3]
    assert records[:2] == first[:2]
    assert 20.0 <= records[2]["perf/wall_seconds"] < 20.0 + run.session_seconds() + 1
    history = list(yaml.safe_load_all((path / CONFIG_HISTORY).read_text()))
    assert len(history) == 2
    assert "resumed from iteration 2" in (path / CONFIG_HISTORY).read_text()
    assert latest_config(path) == resumed  # what a resume without --config continues with
    assert any((path / TENSORBOARD_DIR).iterdir())
    assert all(json.loads(line) for line in (path / METRICS_FILE).read_text().splitlines())


def test_a_process_that_does_not_write_leaves_the_directory_alone(tmp_path):
    run = RunDirectory(tmp_path, writes=False)
    run.begin_session(load_config(SMOKE), resumed_from=None)
    run.write_metrics(1, 10, {"loss/total": 1.0})
    run.write_evaluation_games(1, [])
    run.close()
    assert not any(tmp_path.iterdir())


def _files(path):
    """{path: bytes} of every file under `path`."""
    return {file: file.read_bytes() for file in sorted(path.rglob("*")) if file.is_file()}


def test_resume_auto_starts_where_there_is_no_run(tmp_path):
    config = load_config(SMOKE)
    (tmp_path / "empty").mkdir()
    for path in (tmp_path / "missing", tmp_path / "empty"):
        assert prepare_run_dir(path, config, resume=RESUME_AUTO) is SessionStart.NEW_RUN
        assert load_config(path / CONFIG_FILE) == config
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("not a run")
    with pytest.raises(ConfigError, match="holds no run"):
        prepare_run_dir(stray, config, resume=RESUME_AUTO)


def test_resume_auto_resumes_where_a_checkpoint_is_complete(tmp_path):
    config = load_config(SMOKE)
    create_run_dir(tmp_path, config)
    # A save cut short leaves only Orbax's temporary name: not a checkpoint to resume from.
    (tmp_path / CHECKPOINT_DIR / "3.orbax-checkpoint-tmp-1").mkdir(parents=True)
    assert prepare_run_dir(tmp_path, config, resume=RESUME_AUTO) is SessionStart.START_AGAIN
    with pytest.raises(ConfigError, match="no checkpoints .*--resume auto starts that run again"):
        prepare_run_dir(tmp_path, config, resume=True)
    (tmp_path / CHECKPOINT_DIR / "2").mkdir()
    other = load_config(SMOKE, ["ppo.learning_rate=1e-4"])  # a resume may change settings
    assert prepare_run_dir(tmp_path, other, resume=RESUME_AUTO) is SessionStart.RESUME
    assert prepare_run_dir(tmp_path, other, resume=True) is SessionStart.RESUME


def test_resume_auto_starts_again_only_the_same_run_and_refusing_changes_nothing(tmp_path):
    """A run stopped before its first checkpoint (here: with a metric record that a kill -9
    left) starts again with its own config, wherever its directory is named from; another
    config is refused naming every key that differs, and no file changes."""
    config = load_config(SMOKE)
    create_run_dir(tmp_path, config)
    _session(tmp_path, config, None, [1]).close()
    before = _files(tmp_path)
    other = load_config(SMOKE, ["ppo.learning_rate=1e-4", "env.max_plies=6"])
    with pytest.raises(ConfigError) as refused:
        prepare_run_dir(tmp_path, other, resume=RESUME_AUTO)
    assert str(refused.value) == (
        f"--resume auto: '{tmp_path}' holds a run stopped before its first checkpoint with "
        "other settings (env.max_plies: run 64, this command 6; ppo.learning_rate: run 0.0003, "
        "this command 0.0001); run the command it began with, or choose a new --run-dir")
    assert _files(tmp_path) == before
    elsewhere = load_config(SMOKE, [f"train.run_dir={tmp_path}", "distributed.devices=1",
                                    "train.compilation_cache_dir=null"])
    assert prepare_run_dir(tmp_path, elsewhere, resume=RESUME_AUTO) is SessionStart.START_AGAIN
    assert _files(tmp_path) == before

    _session(tmp_path, elsewhere, 0, [1], changes=[
        ("distributed.devices", 0, 1),
        ("train.compilation_cache_dir", config.train.compilation_cache_dir, None),
        ("train.run_dir", "runs/smoke", str(tmp_path))]).close()
    assert [r["iteration"] for r in read_metrics(tmp_path)] == [1]  # the old record dropped
    history = (tmp_path / CONFIG_HISTORY).read_text()
    assert "--- # started again (stopped before its first checkpoint), " in history
