"""scripts/bench_engine_match.py runs end to end on a tiny size against our greedy USI engine
(slow tier: it compiles a match and starts engine processes)."""
from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_the_engine_match_benchmark_prints_both_ways_of_starting_games_and_their_ratio():
    done = subprocess.run([sys.executable, "scripts/bench_engine_match.py", "--players", "policy",
                           "--engines", "greedy", "--games", "4", "--concurrency", "2",
                           "--max-plies", "24"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][1:]  # no header
    assert len(rows) == 1, done.stdout
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert cells[:4] == ["policy", "greedy_usi", "4", "2"]
    fast, calls_in_step, simple, calls_as_free, ratio = (
        float(c.replace(",", "").rstrip("x")) for c in cells[4:])
    assert fast > 0 and simple > 0
    assert ratio == pytest.approx(fast / simple, rel=0.02)
    # 4 games of 24 plies, 2 at once, half the 20 plies after the opening the device's: about
    # 20 calls in step (the warm-up's are not counted); started as free, games of both colours
    # share every tick and the device is called on nearly each.
    assert calls_in_step < calls_as_free
