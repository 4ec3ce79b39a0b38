"""Provenance: what a run records about the software and machine that produced it, checked
against the sources it reads (the installed metadata, git, JAX); and that a training session
writes it to its run directory and checkpoints, and the run report shows it."""
from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path

import jax
import orbax.checkpoint as ocp
import pytest

from shogi_jax.host.provenance import PACKAGES, PROVENANCE_FILE, provenance
from shogi_jax.play.network import CHECKPOINT_DIR, ITEM_NAMES, stored_meta

ROOT = Path(__file__).resolve().parent.parent


def test_provenance_names_the_versions_the_commit_and_the_devices():
    record = provenance()
    assert set(record["packages"]) == set(PACKAGES)
    assert record["packages"]["jax"] == jax.__version__
    assert record["packages"]["flax"] == importlib.metadata.version("flax")
    assert record["python"] == platform.python_version()
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True)
    if head.returncode == 0:  # a checkout (CI's clean clone is one)
        assert record["commit"] == head.stdout.strip() and isinstance(record["dirty"], bool)
    assert record["devices"] == len(jax.devices()) and record["processes"] == 1
    assert record["device_kind"] == jax.devices()[0].device_kind
    assert record["xla_flags"] == os.environ.get("XLA_FLAGS", "")
    json.dumps(record)  # JSON-ready, for the run directory and the checkpoints' metadata


@pytest.mark.slow  # the evaluated run (a session fixture the evaluation's tests share)
def test_each_session_records_its_provenance_in_the_run_and_its_checkpoints(evaluated_run):
    sessions = [json.loads(line) for line in
                (evaluated_run / PROVENANCE_FILE).read_text().splitlines()]
    assert [s["session"] for s in sessions] == ["new run", "resumed from iteration 2"]
    for session in sessions:
        assert {k: v for k, v in session.items() if k not in ("session", "time")} == provenance()
    manager = ocp.CheckpointManager(evaluated_run / CHECKPOINT_DIR, item_names=ITEM_NAMES)
    try:
        assert stored_meta(manager, manager.latest_step())["provenance"] == provenance()
    finally:
        manager.close()
