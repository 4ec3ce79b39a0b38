"""Weights & Biases tracking (shogi_jax/train/tracking.py): off by default, refused without wandb
before anything is written, a W&B failure never ends training, and, for real in W&B's offline
mode, what a stopped then resumed run wrote: its config, every metrics record, each checkpoint
as an artifact, one run id across sessions."""
from __future__ import annotations

import base64
import hashlib
import json
import struct
import sys
from pathlib import Path

import pytest

from shogi_jax.cli import exit_codes
from shogi_jax.cli import train as train_cli
from shogi_jax.host.settings import ConfigError, config_to_dict
from shogi_jax.play.network import NEW_BEST_METRIC
from shogi_jax.train import tracking
from shogi_jax.train.config import load_config
from shogi_jax.train.run_directory import read_metrics

SMOKE = "configs/smoke.yaml"


def test_tracking_is_off_by_default_and_then_needs_no_wandb(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    config = load_config(SMOKE)
    assert config.tracking.wandb is False
    assert tracking.import_wandb(config.tracking) is None
    tracker = tracking.Tracker.start(config.tracking, {}, tmp_path, writes=True)
    tracker.log_metrics(1, 64, {"loss/total": 1.0})
    tracker.finish(finished=True)
    assert list(tmp_path.iterdir()) == []  # no run id written


def test_checkpoints_become_artifacts_only_where_w_and_b_tracks():
    assert load_config(SMOKE, ["tracking.wandb=true"]).tracking.logs_checkpoints
    assert not load_config(SMOKE, ["tracking.wandb=true", "tracking.wandb_checkpoints=false"]
                           ).tracking.logs_checkpoints
    assert not load_config(SMOKE).tracking.logs_checkpoints  # wandb_checkpoints alone: off


@pytest.mark.parametrize("override, message", [
    ("tracking.wandb=maybe", "tracking.wandb: expected bool"),
    ("tracking.wandb_project=me/shogi", "tracking.wandb_project"),
    ("tracking.wandb_project=''", "tracking.wandb_project"),
    ("tracking.wandb_entity=a:b", "tracking.wandb_entity"),
    ("tracking.wandb_checkpoint=false", "unknown config key 'tracking.wandb_checkpoint'"),
])
def test_bad_tracking_settings_are_refused_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(SMOKE, [override])


def test_tracking_without_wandb_is_refused_before_anything_is_written(monkeypatch, tmp_path,
                                                                      capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)
    run_dir = tmp_path / "run"
    argv = ["--config", SMOKE, "--run-dir", str(run_dir), "--quiet",
            "--set", "tracking.wandb=true"]
    assert train_cli.main(argv) == exit_codes.REFUSED
    error = capsys.readouterr().err
    assert "tracking.wandb" in error and tracking.WANDB_INSTALL in error
    assert not run_dir.exists()


def test_a_run_directory_keeps_one_run_id(tmp_path):
    first = tracking.run_id(tmp_path)
    assert len(first) == 8 and first.isalnum() and first.islower()
    assert (tmp_path / tracking.RUN_ID_FILE).read_text() == first + "\n"
    assert tracking.run_id(tmp_path) == first
    (tmp_path / "other").mkdir()
    assert tracking.run_id(tmp_path / "other") != first  # another run, another id


class _FailingRun:
    """A W&B run whose every call fails, as a network or service failure would."""

    id = "failing"

    def __init__(self):
        self.calls = 0

    def log(self, *args, **kwargs):
        self.calls += 1
        raise ConnectionError("W&B is unreachable")

    finish = mark_preempting = log


def test_a_wandb_failure_is_said_once_and_training_goes_on(capsys):
    run = _FailingRun()
    tracker = tracking.Tracker(wandb=object(), run=run)
    tracker.log_metrics(1, 64, {"loss/total": 1.0})
    tracker.log_metrics(2, 128, {"loss/total": 0.5})
    tracker.finish(finished=True)
    error = capsys.readouterr().err
    assert error.count("warning: W&B logging failed (ConnectionError: W&B is unreachable)") == 1
    assert run.calls == 1  # off after the first failure


class _RecordingRun:
    id = "abc"

    def __init__(self):
        self.logged = []

    def log(self, record, step):
        self.logged.append(step)

    def log_artifact(self, artifact, aliases):
        raise AssertionError("no artifact from a bucket")


def test_checkpoints_in_a_bucket_are_not_artifacts_and_the_metrics_go_on(capsys):
    run = _RecordingRun()
    tracker = tracking.Tracker(wandb=object(), run=run)
    for iteration in (1, 2):
        tracker.log_checkpoint("gs://bucket/run/checkpoints/1", iteration, 64 * iteration)
        tracker.log_metrics(iteration, 64 * iteration, {"loss/total": 1.0})
    assert run.logged == [1, 2]
    error = capsys.readouterr().err
    assert error.count("checkpoints stay in gs://bucket/run/checkpoints/1 and are not W&B "
                       "artifacts") == 1


def test_a_wandb_that_cannot_start_leaves_the_session_untracked(monkeypatch, tmp_path, capsys):
    wandb = pytest.importorskip("wandb", reason=tracking.WANDB_INSTALL)

    def refuse(**settings):
        raise wandb.errors.UsageError("api_key not configured (no-tty)")

    monkeypatch.setattr(wandb, "init", refuse)
    config = load_config(SMOKE, ["tracking.wandb=true"])
    tracker = tracking.Tracker.start(config.tracking, config_to_dict(config), tmp_path,
                                     writes=True)
    tracker.log_metrics(1, 64, {"loss/total": 1.0})  # nothing to log to, and no error
    tracker.finish(finished=True)
    assert "warning: W&B start failed (UsageError: api_key not configured" in (
        capsys.readouterr().err)


# --- W&B's offline files, read back ----------------------------------------------------------

_BLOCK = 32768  # the .wandb file is a LevelDB log: 32 KiB blocks of chunks
_FILE_HEADER = 7  # b":W&B", a 2-byte magic, a version byte
_CHUNK_HEADER = 7  # CRC32, a 2-byte length, a type: 1 whole, 2 first, 3 middle, 4 last
_WHOLE, _LAST = 1, 4


def wandb_records(path: Path):
    """The records of a run's .wandb file (protobuf `Record`s), in order."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    position, pending = _FILE_HEADER, b""
    while position + _CHUNK_HEADER <= len(data):
        if _BLOCK - position % _BLOCK < _CHUNK_HEADER:  # a block's tail too short for a chunk
            position += _BLOCK - position % _BLOCK
            continue
        _crc, length, kind = struct.unpack("<IHB", data[position:position + _CHUNK_HEADER])
        position += _CHUNK_HEADER
        pending += data[position:position + length]
        position += length
        if kind in (_WHOLE, _LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def _offline_session(path: Path) -> dict:
    """What one session wrote: its run, config, history rows by step, artifacts and exit."""
    session = {"history": {}, "artifacts": [], "preempting": False, "exit_code": None}
    for record in wandb_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            session["run"] = record.run
            session["config"] = {item.key: json.loads(item.value_json)
                                 for item in record.run.config.update}
        elif kind == "history":
            row = {"/".join(item.nested_key) or item.key: json.loads(item.value_json)
                   for item in record.history.item}
            session["history"][record.history.step.num] = row
        elif kind == "artifact":
            session["artifacts"].append(record.artifact)
        elif kind == "preempting":
            session["preempting"] = True
        elif kind == "exit":
            session["exit_code"] = record.exit.exit_code
    return session


def _file_digest(path: Path) -> str:
    """W&B's manifest digest of a file: its MD5, base64."""
    return base64.b64encode(hashlib.md5(path.read_bytes()).digest()).decode()


@pytest.mark.slow
def test_an_offline_run_holds_the_config_metrics_and_checkpoints_of_every_session(
        monkeypatch, tmp_path):
    pytest.importorskip("wandb", reason=tracking.WANDB_INSTALL)
    wandb_dir = tmp_path / "wandb"
    for name, value in {"WANDB_MODE": "offline", "WANDB_DIR": wandb_dir,
                        "WANDB_DATA_DIR": tmp_path / "wandb_data",
                        "WANDB_CACHE_DIR": tmp_path / "wandb_cache",
                        "WANDB_CONFIG_DIR": tmp_path / "wandb_config"}.items():
        monkeypatch.setenv(name, str(value))
    run_dir = tmp_path / "tracked"
    # Session 1 runs 2 iterations in one dispatch, then its time limit stops it (the SIGTERM
    # path: save, exit 75); session 2 resumes to 4. Each evaluates and saves at its end.
    first = ["--config", SMOKE, "--run-dir", str(run_dir), "--quiet",
             "--set", "tracking.wandb=true", "--set", "train.iterations=4",
             "--set", "train.iterations_per_dispatch=2", "--set", "train.time_limit_minutes=1e-6",
             "--set", "evaluation.every_iterations=2", "--set", "evaluation.games=2",
             "--set", "evaluation.max_plies=16", "--set", "evaluation.engine_rungs=[]"]
    assert train_cli.main(first) == exit_codes.STOPPED
    second = ["--run-dir", str(run_dir), "--resume", "--quiet",
              "--set", "train.time_limit_minutes=0"]
    assert train_cli.main(second) == exit_codes.FINISHED

    run_id = (run_dir / tracking.RUN_ID_FILE).read_text().strip()
    files = sorted(wandb_dir.glob("wandb/offline-run-*/run-*.wandb"))
    assert [path.name for path in files] == [f"run-{run_id}.wandb"] * 2  # one run, two sessions
    sessions = [_offline_session(path) for path in files]

    for session, limit in zip(sessions, (1e-6, 0)):
        assert session["run"].run_id == run_id
        assert session["run"].project == "shogi_jax"
        assert session["run"].display_name == "tracked"
        logged = {key: value for key, value in session["config"].items() if key != "_wandb"}
        expected = config_to_dict(load_config(SMOKE, [
            "train.iterations=4", "train.iterations_per_dispatch=2",
            f"train.time_limit_minutes={limit}", "evaluation.every_iterations=2",
            "evaluation.games=2", "evaluation.max_plies=16", "evaluation.engine_rungs=[]",
            "tracking.wandb=true", f"train.run_dir={run_dir}"]))
        assert logged == expected

    # Every metrics.jsonl record, at its iteration, under the same names with the same values.
    history = {**sessions[0]["history"], **sessions[1]["history"]}
    assert sorted(sessions[0]["history"]) == [1, 2] and sorted(sessions[1]["history"]) == [3, 4]
    records = read_metrics(run_dir)
    assert [record["iteration"] for record in records] == [1, 2, 3, 4]
    for record in records:
        row = history[record["iteration"]]
        logged = {name: row[name] for name in record if name != "iteration"}
        assert logged == {name: value for name, value in record.items() if name != "iteration"}
    assert "eval/elo" in history[2] and "eval/elo" in history[4]
    assert "eval/elo" not in history[1]

    # Each saved checkpoint, once, as a version of the run's model artifact: its files byte for
    # byte (the MD5s W&B took) and its aliases.
    artifacts = sessions[0]["artifacts"] + sessions[1]["artifacts"]
    assert [json.loads(artifact.metadata)["iteration"] for artifact in artifacts] == [2, 4]
    for artifact, iteration in zip(artifacts, (2, 4)):
        assert (artifact.name, artifact.type) == (f"checkpoint-{run_id}", "model")
        directory = run_dir / "checkpoints" / str(iteration)
        on_disk = {str(path.relative_to(directory)): _file_digest(path)
                   for path in directory.rglob("*") if path.is_file()}
        assert {entry.path: entry.digest for entry in artifact.manifest.contents} == on_disk
        assert "state" in {Path(path).parts[0] for path in on_disk}
        best = history[iteration][NEW_BEST_METRIC] == 1
        assert sorted(artifact.aliases) == sorted(["latest", f"iteration-{iteration}"]
                                                  + (["best"] if best else []))
    assert "best" in artifacts[0].aliases  # the first evaluation makes the first best

    # The stop marks the W&B run preempted (to be resumed); the finished session closes it.
    assert (sessions[0]["preempting"], sessions[0]["exit_code"]) == (True, 1)
    assert (sessions[1]["preempting"], sessions[1]["exit_code"]) == (False, 0)
