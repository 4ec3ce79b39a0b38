"""scripts/bench_common.py: the timing helpers on a fake clock (warm-up not counted, the median,
state carried from call to call), the machine record and its line, and the figures' formats."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
try:
    import bench_common
finally:
    sys.path.pop(0)


@pytest.fixture
def clock(monkeypatch):
    """A fake perf_counter that moves only when `clock.advance(seconds)` is called."""
    class Clock:
        now = 0.0

        def advance(self, seconds):
            self.now += seconds

    fake = Clock()
    monkeypatch.setattr(bench_common, "time", SimpleNamespace(perf_counter=lambda: fake.now))
    return fake


def test_median_iteration_seconds_skips_the_warm_up_and_carries_the_state(clock):
    durations = iter([100.0, 3.0, 1.0, 2.0])  # the warm-up call compiles: 100 s, not counted
    seen = []

    def step(state):
        seen.append(state)
        clock.advance(next(durations))
        return state + 1, {"loss": 0.0}

    assert bench_common.median_iteration_seconds(step, 0, repeats=3) == 2.0
    assert seen == [0, 1, 2, 3]


def test_median_seconds_and_compile_timed(clock):
    durations = iter([50.0, 4.0, 1.0, 9.0])

    def call(x):
        clock.advance(next(durations))
        return x

    assert bench_common.median_seconds(call, 7, repeats=3) == 4.0

    class Jitted:  # what compile_timed needs of a jitted function: lower(...).compile()
        def lower(self, *args):
            assert args == (1, 2)
            return self

        def compile(self):
            clock.advance(12.5)
            return "compiled"

    assert bench_common.compile_timed(Jitted(), 1, 2) == ("compiled", 12.5)


def test_machine_info_and_its_line():
    info = bench_common.machine_info()
    assert {"cpu", "cpu_count", "devices", "device_kind", "date", "python", "jax", "jaxlib", "pgx",
            "shogi_jax", "git_revision"} <= set(info)
    assert info["devices"] and info["cpu_count"] >= 1
    line = bench_common.machine_line(info)
    assert line.startswith(f"{info['cpu']} ({info['cpu_count']} cores), devices ")
    assert f"jax {info['jax']}" in line and "shogi_jax at " in line


def test_formats():
    assert bench_common.mib(None) == "-"
    assert bench_common.mib(3 * (1 << 20) // 2) == "1.5"
    assert bench_common.mib(2_000 * (1 << 20), 0) == "2,000"
    assert bench_common.human_bytes(7 * 1024 + 10) == "7.0 KiB"
    assert bench_common.human_bytes(int(14.1 * (1 << 20))) == "14.1 MiB"
    assert bench_common.peak_rss_bytes() > 1 << 20
    assert bench_common.markdown_table(["batch", "steps/s"], [[1, "2,206"]]) == [
        "| batch | steps/s |", "|---:|---:|", "| 1 | 2,206 |"]
