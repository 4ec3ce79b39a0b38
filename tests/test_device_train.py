"""scripts/device_train.py, the prepared device run: the pack that comes back (one file, under
the size a device call returns, never half-written), bad arguments named, and one short CPU run
end to end whose unpacked run directory loads as a network."""
from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import device_train  # noqa: E402

from shogi_jax.play.network import load_network  # noqa: E402


def _run_dir(path: Path) -> Path:
    (path / "checkpoints" / "3").mkdir(parents=True)
    (path / "config.yaml").write_text("model: {}\n")
    (path / "checkpoints" / "3" / "state").write_bytes(bytes(range(256)) * 40)
    return path


def test_a_pack_holds_the_run_under_one_name(tmp_path):
    run = _run_dir(tmp_path / "somewhere")
    size = device_train.pack(run, tmp_path / "run.tar.gz", limit_bytes=2**20)
    assert size == (tmp_path / "run.tar.gz").stat().st_size
    with tarfile.open(tmp_path / "run.tar.gz") as archive:
        names = set(archive.getnames())
    assert {"device_run/config.yaml", "device_run/checkpoints/3/state"} <= names
    assert not list(tmp_path.glob("*.partial"))


def test_a_pack_over_the_limit_is_refused_and_leaves_nothing(tmp_path):
    run = _run_dir(tmp_path / "somewhere")
    with pytest.raises(ValueError, match=r"over the 100 a device call brings back"):
        device_train.pack(run, tmp_path / "run.tar.gz", limit_bytes=100)
    assert list(tmp_path.iterdir()) == [run]


@pytest.mark.parametrize("argv, named", [
    (["--minutes", "0"], "--minutes must be > 0"),
    (["--config", "configs/no_such.yaml"], "no config file configs/no_such.yaml")])
def test_bad_arguments_are_named(tmp_path, argv, named, capsys):
    assert device_train.main(["--out", str(tmp_path / "out"), *argv]) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.slow
def test_a_short_cpu_run_packs_a_network_that_loads(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "device_train.py"), "--out", str(out),
         "--config", "configs/smoke.yaml", "--minutes", "0.05", "--set",
         "checkpoint.every_iterations=1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    with tarfile.open(out / "run.tar.gz") as archive:
        archive.extractall(tmp_path / "back", filter="data")
    network = load_network(tmp_path / "back" / device_train.RUN_NAME)
    assert network.iteration >= 1
