"""What the scripts/bench_*.py share: the machine a figure was measured on, timing a jitted call
(compilation apart, results waited for, the median of repeated calls) and byte counts for tables.

The scripts are run as `python scripts/bench_X.py`, which puts scripts/ on sys.path, so they import
this module as `bench_common`. Importing it starts no JAX backend (jax.devices() does, in
machine_info), so a driver process that only starts workers can import it too.
"""
from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import jax

KIB, MIB = 1 << 10, 1 << 20


def machine_info() -> dict:
    """The machine, library versions and code revision of a run, JSON-able (this starts JAX's
    backend)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass

    def version(package):
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    try:  # which shogi_jax code was measured ("-dirty": uncommitted changes in the tree)
        revision = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
            cwd=Path(__file__).resolve().parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        revision = None
    devices = jax.devices()
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "devices": [str(d) for d in devices],
        "device_kind": devices[0].device_kind,
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": version("jaxlib"),
        "pgx": version("pgx"),
        "shogi_jax": version("shogi_jax"),
        "git_revision": revision,
    }


def machine_line(info: dict) -> str:
    """machine_info as one sentence, for a '# ' header line and a report's 'Machine: ' line."""
    return (f"{info['cpu']} ({info['cpu_count']} cores), devices {', '.join(info['devices'])} "
            f"({info['device_kind']}); {info['date']}; jax {info['jax']}, pgx {info['pgx']}, "
            f"Python {info['python']}; shogi_jax at {info['git_revision'] or 'unknown revision'}")


def timed(fn, *args):
    """(seconds, result) of one call fn(*args), its arrays waited for (jax.block_until_ready)."""
    started = time.perf_counter()
    result = jax.block_until_ready(fn(*args))
    return time.perf_counter() - started, result


def compile_timed(jitted, *args):
    """(compiled, seconds): trace, lower and XLA-compile `jitted` for `args`, i.e. what its first
    call pays on top of running."""
    started = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    return compiled, time.perf_counter() - started


def median_seconds(fn, *args, repeats: int) -> float:
    """Median seconds of `repeats` calls fn(*args), after one untimed warm-up call (which compiles
    a jitted fn)."""
    timed(fn, *args)
    return statistics.median(timed(fn, *args)[0] for _ in range(repeats))


def median_iteration_seconds(step, state, repeats: int) -> float:
    """Median seconds of `repeats` calls `state, metrics = step(state)`, each continuing from the
    state the last one left, after one untimed warm-up call."""
    durations = []
    for _ in range(repeats + 1):
        seconds, (state, _) = timed(step, state)
        durations.append(seconds)
    return statistics.median(durations[1:])


def peak_rss_bytes() -> int:
    """This process's peak resident set size."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS, KiB on Linux
    return int(rss if sys.platform == "darwin" else rss * KIB)


def mib(nbytes, digits: int = 1) -> str:
    """'1,933.7' (MiB), or '-' for no figure."""
    return "-" if nbytes is None else f"{nbytes / MIB:,.{digits}f}"


def human_bytes(nbytes) -> str:
    """'7.0 KiB', '14.1 MiB': for sizes that span several orders of magnitude."""
    if nbytes is None:
        return "-"
    return f"{nbytes / KIB:,.1f} KiB" if nbytes < MIB else f"{mib(nbytes)} MiB"


def markdown_table(header, rows) -> list[str]:
    """The lines of a markdown table of figures (columns aligned right)."""
    def line(cells):
        return "| " + " | ".join(map(str, cells)) + " |"

    return [line(header), "|" + "---:|" * len(header)] + [line(row) for row in rows]
