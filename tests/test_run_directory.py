"""The run directory's files without training: a new run, a resumed session (metrics truncated to
the checkpoint, the wall clock continued, the config history appended), and the silent
directory of the processes that do not write."""
from __future__ import annotations

import json

import pytest
import yaml

from shogi_jax.host.settings import ConfigError
from shogi_jax.train.config import load_config
from shogi_jax.train.run_directory import (
    CONFIG_FILE,
    CONFIG_HISTORY,
    METRICS_FILE,
    TENSORBOARD_DIR,
    RunDirectory,
    check_resumable,
    create_run_dir,
    read_metrics,
)

SMOKE = "configs/smoke.yaml"


def _session(path, config, resumed_from, iterations, wall_seconds=None):
    run = RunDirectory(path)
    run.begin_session(config, resumed_from=resumed_from)
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

    # Resumed from the checkpoint at 2: 3 and 4 are dropped, the clock goes on from 20 s.
    run = _session(path, config, 2, [3])
    run.close()
    records = read_metrics(path)
    assert [r["iteration"] for r in records] == [1, 2, 3]
    assert records[:2] == first[:2]
    assert 20.0 <= records[2]["perf/wall_seconds"] < 20.0 + run.session_seconds() + 1
    history = list(yaml.safe_load_all((path / CONFIG_HISTORY).read_text()))
    assert len(history) == 2
    assert "resumed from iteration 2" in (path / CONFIG_HISTORY).read_text()
    assert any((path / TENSORBOARD_DIR).iterdir())
    assert all(json.loads(line) for line in (path / METRICS_FILE).read_text().splitlines())


def test_a_process_that_does_not_write_leaves_the_directory_alone(tmp_path):
    run = RunDirectory(tmp_path, writes=False)
    run.begin_session(load_config(SMOKE), resumed_from=None)
    run.write_metrics(1, 10, {"loss/total": 1.0})
    run.write_evaluation_games(1, [])
    run.close()
    assert not any(tmp_path.iterdir())
