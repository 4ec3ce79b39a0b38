"""scripts/bench_search.py runs end to end on a tiny size (slow tier: it compiles two searches)."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_the_search_benchmark_prints_both_engines_and_their_ratio():
    done = subprocess.run([sys.executable, "scripts/bench_search.py", "--batches", "2",
                           "--simulations", "4", "--repeats", "1"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    row = [line for line in done.stdout.splitlines() if line.startswith("| 2 |")]
    assert len(row) == 1, done.stdout
    cells = [cell.strip() for cell in row[0].strip("|").split("|")]
    ours, theirs, ratio = (float(c.replace(",", "").rstrip("x")) for c in cells[1:])
    assert ours > 0 and theirs > 0
    assert ratio == pytest.approx(ours / theirs, rel=0.06)
    assert re.search(r"shogi_jax B=2 .* simulations/s", done.stdout)
