"""scripts/bench_match.py runs end to end on a tiny size (slow tier: it compiles four matches)."""
from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_the_match_benchmark_prints_both_ways_of_acting_and_their_ratio():
    done = subprocess.run([sys.executable, "scripts/bench_match.py", "--policy-games", "4",
                           "--search-games", "4", "--simulations", "4", "--repeats", "1"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][1:]  # no header
    assert [row.split("|")[1].strip() for row in rows] == ["policy", "search 4 sims"], done.stdout
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1] == "4"
        fast, simple, ratio = (float(c.replace(",", "").rstrip("x")) for c in cells[2:])
        assert fast > 0 and simple > 0
        assert ratio == pytest.approx(fast / simple, rel=0.02)
