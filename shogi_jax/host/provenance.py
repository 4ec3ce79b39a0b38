"""Where a run's numbers came from: the package versions, Python, the commit (and whether the tree
had uncommitted changes), the devices and processes, and XLA_FLAGS. Each training session records
it in its run directory (PROVENANCE_FILE, one line a session) and in every checkpoint's metadata;
the run report shows it. Read once a process: none of it changes while the process runs."""
from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Optional

import jax

# The distributions whose versions decide what a run computes, by their PyPI names.
PACKAGES = ("shogi_jax", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "mctx", "chex",
            "numpy")
PROVENANCE_FILE = "provenance.jsonl"  # in a run directory: one record per training session
_SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the checkout, when run from one


def _version(package: str) -> Optional[str]:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*arguments: str) -> Optional[str]:
    """A git command's output in the source checkout; None where there is no checkout (an
    installed wheel: its folder may sit inside some other repository, whose commit is not ours)
    or no git."""
    if not (_SOURCE_ROOT / ".git").exists():
        return None
    try:
        done = subprocess.run(["git", "-C", str(_SOURCE_ROOT), *arguments], capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.cache
def provenance() -> dict:
    """This process's provenance, a JSON-ready dict. `commit` and `dirty` are None outside a git
    checkout. Starts JAX's backend (it asks for the devices): call it after
    jax.distributed.initialize."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    devices = jax.devices()
    return {
        "packages": {package: _version(package) for package in PACKAGES},
        "python": platform.python_version(),
        "commit": commit,
        "dirty": None if status is None else bool(status),
        "platform": devices[0].platform,
        "device_kind": devices[0].device_kind,
        "devices": len(devices),
        "processes": jax.process_count(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "host": platform.node(),
    }
