"""scripts/bench_gpu.py at a small batch on the CPU: the budget honoured, bad arguments named;
(slow) every cell measured, and a cell whose worker dies for memory recorded while the run goes
on."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "bench_gpu.py"
# So many games that allocating their states fails: XLA aborts the worker process (on the CPU as
# it would for pgx at 65536 on a small GPU), or raises, depending on which buffer fails first.
TOO_MANY_GAMES = 2 ** 27


def _run(tmp_path, *arguments, timeout=600):
    out = tmp_path / "cells.jsonl"
    process = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), *arguments],
                             cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert process.returncode == 0, process.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    return process.stdout, records


def _cell_keys(records):
    return [(r["kind"], r.get("engine"), r.get("form"), r.get("batch")) for r in records
            if r["kind"] != "machine"]


@pytest.mark.slow
def test_every_cell_is_measured_and_one_out_of_memory_is_recorded_while_the_run_goes_on(
        tmp_path):
    """pytest -m slow tests/test_bench_gpu.py (about 90 s): every cell at batch 8 is measured;
    each cell at TOO_MANY_GAMES fails, by an exception the worker records or by the worker dying
    (pgx: XLA aborts), and every cell after it is still measured."""
    stdout, records = _run(tmp_path, "--batch-sizes", f"8,{TOO_MANY_GAMES}", "--seconds", "0.2",
                           "--train-config", "configs/smoke.yaml", "--train-iterations", "1")
    cells = [r for r in records if r["kind"] != "machine"]
    assert _cell_keys(records) == [
        ("env", "shogi_jax", "accelerator", 8), ("env", "shogi_jax", "accelerator", TOO_MANY_GAMES),
        ("env", "pgx", None, 8), ("env", "pgx", None, TOO_MANY_GAMES),
        ("train", None, None, None),
        ("env", "shogi_jax", "cpu", 8), ("env", "shogi_jax", "cpu", TOO_MANY_GAMES)]
    for record in cells:
        if record.get("batch") == TOO_MANY_GAMES:
            assert "error" in record and any(
                sign in record["error"] for sign in ("RESOURCE_EXHAUSTED", "Out of memory",
                                                     "worker died")), record
        else:
            assert "error" not in record and record["steps_per_s"] > 0, record
    assert any("worker died" in r.get("error", "") for r in cells)  # and the run went on
    assert f"| {TOO_MANY_GAMES} | failed | failed | failed |" in stdout
    assert f"env pgx B={TOO_MANY_GAMES}: " in stdout
    measured = [r for r in cells if r.get("batch") != TOO_MANY_GAMES]
    assert all(r["steps_per_s"] > 0 and r["compile_s"] > 0 for r in measured)
    # Each worker started (again after one died) describes the machine.
    machines = [r for r in records if r["kind"] == "machine"]
    assert machines and all(m["devices"] == ["cpu:0"] and m["jax"] and m["pgx"] for m in machines)
    [train] = [r for r in cells if r["kind"] == "train"]
    assert train["games"] == 8 and train["timed_iterations"] == 1 and train["program_bytes"] > 0
    # The summary: a row per batch size with the ratio to pgx, and the training line.
    assert "| 8 | " in stdout and "x | " in stdout
    assert "Training, configs/smoke.yaml (8 games x 8 plies" in stdout


def test_the_budget_stops_the_run_and_names_the_cells_not_reached(tmp_path):
    stdout, records = _run(tmp_path, "--batch-sizes", "8", "--train-config", "",
                           "--budget-seconds", "2", timeout=120)
    cells = [r for r in records if r["kind"] != "machine"]
    assert len(cells) == 3  # accelerator form, pgx, CPU form: none finished in 2 s
    assert "cut off at the budget of 2 s" in cells[0]["error"]
    assert all(r["error"] == "not reached within the budget" for r in cells[1:])
    assert "| 8 | not reached | not reached | not reached |" in stdout


def test_bad_arguments_are_refused_with_the_option_named(tmp_path):
    for arguments, message in ((["--batch-sizes", "64,8"], "--batch-sizes must ascend"),
                               (["--batch-sizes", "a"], "--batch-sizes must be integers"),
                               (["--train-config", "configs/nope.yaml"], "no such file"),
                               (["--budget-seconds", "0"], "--budget-seconds must be positive")):
        process = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "x"),
                                  *arguments], cwd=ROOT, capture_output=True, text=True)
        assert process.returncode == 2 and message in process.stderr, (arguments, process.stderr)
        assert not (tmp_path / "x").exists()
