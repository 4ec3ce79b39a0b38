"""Run directories, tournaments and reports on an object store, against a real S3 server on
127.0.0.1 (moto's server mode, started here): every file goes through the path layer
(`shogi_jax.host.paths`), checkpoints through the local mirror (`host.checkpoint_mirror`), and a
store that cannot be served is refused before anything is written, never turned into a folder."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SMOKE = str(ROOT / "configs" / "smoke.yaml")
BUCKET = "shogi-jax-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A moto S3 server holding BUCKET; yields the environment that points clients at it (this
    process's too, while the module runs). Stopped at the end."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    environment = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "test",
                   "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_MAX_ATTEMPTS": "1",
                   "SHOGI_JAX_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.time() < deadline, "moto did not start"
                time.sleep(0.2)
        import boto3
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        import s3fs
        s3fs.S3FileSystem.clear_instance_cache()  # one made before these variables were set
        yield environment
    server.terminate()
    server.wait(timeout=30)


def _listing(prefix: str) -> list[str]:
    """Every object under s3://BUCKET/prefix, as keys relative to it."""
    import s3fs
    files = s3fs.S3FileSystem(skip_instance_cache=True).find(f"{BUCKET}/{prefix}")
    return sorted(name[len(f"{BUCKET}/{prefix}/"):] for name in files)


def _python(*argv, store, cwd, timeout=600):
    return subprocess.run([sys.executable, *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **store})


def test_a_path_that_cannot_be_served_is_refused_naming_why(store, tmp_path, monkeypatch):
    from shogi_jax.cli import report as report_cli
    from shogi_jax.cli import train as train_cli
    from shogi_jax.host import paths
    monkeypatch.chdir(tmp_path)
    # A scheme nobody serves, a bucket that does not exist: exit 2, and no folder made of them.
    assert train_cli.main(["--config", SMOKE, "--run-dir", "ftp://host/run"]) == 2
    assert train_cli.main(["--config", SMOKE, "--run-dir", f"s3://{BUCKET}-missing/run"]) == 2
    assert report_cli.main([f"s3://{BUCKET}-missing/run"]) == 2
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(paths.PathNotServed, match=r"ftp:// is not served"):
        paths.served_path("ftp://host/run", what="train.run_dir")
    with pytest.raises(paths.PathNotServed, match=rf"no bucket s3://{BUCKET}-missing"):
        paths.served_path(f"s3://{BUCKET}-missing/run", what="train.run_dir")
    # No client library: named, with the command that installs it.
    real_find_spec = paths.importlib.util.find_spec
    monkeypatch.setattr(paths.importlib.util, "find_spec",
                        lambda name: None if name == "gcsfs" else real_find_spec(name))
    with pytest.raises(paths.PathNotServed, match=r"gs:// needs the gcsfs package \(pip install "
                                                  r"gcsfs"):
        paths.served_path("gs://bucket/run", what="train.run_dir")


def test_a_store_that_does_not_answer_is_refused_before_anything_is_written(store, tmp_path):
    closed = {**store, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{_free_port()}"}
    result = _python("-m", "shogi_jax.train", "--config", SMOKE, "--run-dir",
                     f"s3://{BUCKET}/unreachable", store=closed, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"--run-dir 's3://{BUCKET}/unreachable': the store cannot be reached" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_mirror_uploads_complete_steps_only_and_the_store_is_the_truth(store, tmp_path):
    from shogi_jax.host.checkpoint_mirror import (
        COMMIT_FILE,
        CheckpointMirror,
        complete_steps,
        readable_checkpoints,
    )
    from shogi_jax.host.paths import as_path
    remote = as_path(f"s3://{BUCKET}/mirror/checkpoints")
    writer = CheckpointMirror(remote, tmp_path / "writer")
    writer.local.mkdir()
    for step in (1, 2):  # what Orbax leaves: a step directory, nested items, its own mark
        (writer.local / str(step) / "state").mkdir(parents=True)
        (writer.local / str(step) / "state" / "data").write_text(f"arrays {step}")
        (writer.local / str(step) / COMMIT_FILE).write_text("Orbax's own words")
    writer.push()
    assert set(complete_steps(remote)) == {1, 2}
    assert _listing("mirror/checkpoints") == [f"{s}/{n}" for s in (1, 2)
                                              for n in (COMMIT_FILE, "state/data")]
    # An upload cut short (no mark) is not a checkpoint, for a reader or for a resume.
    (remote / "3" / "state").mkdir(parents=True)
    (remote / "3" / "state" / "data").write_text("half")
    assert set(complete_steps(remote)) == {1, 2}
    with readable_checkpoints(remote) as readable:
        assert sorted(p.name for p in Path(readable).iterdir()) == ["1", "2"]
        assert (Path(readable) / "2" / "state" / "data").read_text() == "arrays 2"
    # Orbax's retention dropped step 1 and a new step 3 was saved: the store follows, the
    # half-written 3 replaced.
    import shutil
    shutil.rmtree(writer.local / "1")
    (writer.local / "3" / "state").mkdir(parents=True)
    (writer.local / "3" / "state" / "data").write_text("arrays 3")
    writer.push()
    assert set(complete_steps(remote)) == {2, 3}
    assert (remote / "3" / "state" / "data").read_text() == "arrays 3"
    assert (remote / "3" / COMMIT_FILE).read_text() != "Orbax's own words"  # a token of ours
    # Another machine's mirror (empty) fetches the store's steps; a stale local step goes.
    elsewhere = CheckpointMirror(remote, tmp_path / "elsewhere")
    (elsewhere.local / "7").mkdir(parents=True)
    elsewhere.pull()
    assert sorted(p.name for p in elsewhere.local.iterdir()) == ["2", "3"]
    assert (elsewhere.local / "3" / "state" / "data").read_text() == "arrays 3"


@pytest.mark.slow  # two training sessions, a tournament and a USI engine: ~3 minutes on 2 cores
def test_a_run_on_s3_trains_stops_resumes_and_is_played_and_reported(store, tmp_path,
                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)  # the commands run here too: nothing may land here
    run = f"s3://{BUCKET}/runs/smoke"
    train = ["-m", "shogi_jax.train", "--config", SMOKE, "--run-dir", run, "--resume", "auto",
             "--quiet", "--set", "env.max_plies=6", "--set", "checkpoint.every_iterations=1",
             "--set", "train.iterations=1000"]
    process = subprocess.Popen([sys.executable, *train], cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, **store})
    deadline = time.time() + 400
    while not any(name.endswith("commit_success.txt") and name.count("/") == 2
                  for name in _listing("runs/smoke")):
        assert process.poll() is None and time.time() < deadline, process.stderr.read()[-2000:]
        time.sleep(1)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 75, err[-2000:]
    stopped_at = int(out.split("stopped: ")[1].split()[0])
    files = _listing("runs/smoke")
    assert {"config.yaml", "config_history.yaml", "metrics.jsonl", "provenance.jsonl",
            f"checkpoints/{stopped_at}/commit_success.txt"} <= set(files)
    assert any(name.startswith("tensorboard/events.out.tfevents") for name in files)
    # The same command line finishes the run from the store's checkpoint.
    finish = [*train[:-1], f"train.iterations={stopped_at + 2}"]
    result = _python(*finish, store=store, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"resumed from iteration {stopped_at}" in result.stderr
    from shogi_jax.host.paths import as_path
    metrics = [json.loads(line) for line in
               as_path(f"{run}/metrics.jsonl").read_text().splitlines()]
    assert [record["iteration"] for record in metrics] == list(range(1, stopped_at + 3))
    assert list(tmp_path.iterdir()) == []  # nothing local, no "s3:" folder

    # A tournament from the remote checkpoint, written to the store (here, in this process).
    from shogi_jax.cli import report as report_cli
    from shogi_jax.cli import tournament as tournament_cli
    config = tmp_path.parent / "remote_tournament.yaml"
    config.write_text(f"players:\n  - {{name: random, kind: random}}\n"
                      f"  - {{name: smoke, kind: policy, run_dir: '{run}'}}\n"
                      f"games_per_pairing: 2\nmax_plies: 20\n"
                      f"output_dir: s3://{BUCKET}/tournaments/t1\n")
    assert tournament_cli.main(["--config", str(config), "--quiet"]) == 0
    tournament = _listing("tournaments/t1")
    assert {"tournament.yaml", "games.jsonl", "results.json", "games/00002.kifu"} <= set(tournament)
    results = json.loads(as_path(f"s3://{BUCKET}/tournaments/t1/results.json").read_text())
    assert results["complete"] and results["games"] == 2
    assert f"step: {stopped_at + 2}" in as_path(
        f"s3://{BUCKET}/tournaments/t1/tournament.yaml").read_text()  # pinned to its checkpoint

    # The USI engine plays from the remote checkpoint.
    engine = subprocess.run(
        [sys.executable, "-m", "shogi_jax.usi", "--checkpoint", run], cwd=tmp_path, text=True,
        input="usi\nisready\nposition startpos\ngo btime 1000 wtime 1000\n", timeout=300,
        capture_output=True, env={**os.environ, **store})
    assert f"id name shogi_jax smoke it{stopped_at + 2}" in engine.stdout, engine.stderr[-2000:]
    assert "readyok" in engine.stdout and "\nbestmove " in engine.stdout

    # Reports of both: the run's written on the store beside it, the tournament's here.
    assert report_cli.main([run, "--no-analysis"]) == 0
    assert "report.html" in _listing("runs/smoke")
    page = tmp_path.parent / "t1.html"
    assert report_cli.main([f"s3://{BUCKET}/tournaments/t1", "--output", str(page),
                            "--no-analysis"]) == 0
    assert "smoke" in page.read_text()
    assert list(tmp_path.iterdir()) == []
