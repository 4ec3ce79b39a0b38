"""The prepared device run: train a config for a fixed wall-clock budget on the lent
accelerator, then pack the run (its config, metrics and latest checkpoint) into ONE file that
comes back from the device machine, for the ladder here.

    python scripts/device_train.py --out "$OUT" [--config configs/gpu.yaml] [--minutes 8]
    tar -xzf run.tar.gz -C runs/       # here: runs/device_run, a run directory like any other
    python -m shogi_jax.tournament --config ...   # a player whose run_dir names runs/device_run

The budget is train.time_limit_minutes (the schedules decay over it: shogi_jax.train.budget);
train.iterations is raised so the clock, not the count, ends the run. Only the latest
checkpoint is kept (checkpoint.keep_latest 1), and the pack must fit what a device call brings
back (16 MiB a file): a larger one is refused by name, with the run left in place under --out's
work folder. Exit codes: 0 packed, 1 training failed, 2 refused (bad arguments, too large).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from shogi_jax.cli import exit_codes

RETURN_LIMIT_BYTES = 16 * 2**20  # the device tool brings files of at most 16 MiB back
RUN_NAME = "device_run"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="the folder run.tar.gz is written to "
                                                     "($OUT on the device machine)")
    parser.add_argument("--config", default="configs/gpu.yaml")
    parser.add_argument("--minutes", type=float, default=8.0,
                        help="wall-clock training budget, compile included (default 8)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="passed on to the training command")
    parser.add_argument("--limit-bytes", type=int, default=RETURN_LIMIT_BYTES,
                        help="refuse a pack larger than this (default 16 MiB)")
    return parser.parse_args(argv)


def pack(run_dir: Path, destination: Path, limit_bytes: int) -> int:
    """Writes run_dir as RUN_NAME/ into destination (a .tar.gz), through a temporary name so a
    cut-short write is never taken for a pack. Returns its size; raises ValueError (naming the
    size and the limit) when it is over limit_bytes, leaving no file behind."""
    partial = destination.with_name(destination.name + ".partial")
    with tarfile.open(partial, "w:gz") as archive:
        archive.add(run_dir, arcname=RUN_NAME)
    size = partial.stat().st_size
    if size > limit_bytes:
        partial.unlink()
        raise ValueError(f"the packed run is {size:,} bytes, over the {limit_bytes:,} a device "
                         "call brings back: train a smaller network (model.blocks, "
                         "model.channels) or fewer games (env.num_games)")
    partial.replace(destination)
    return size


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    if args.minutes <= 0:
        print(f"error: --minutes must be > 0, got {args.minutes}", file=sys.stderr)
        return 2
    if not Path(args.config).is_file():
        print(f"error: no config file {args.config}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="device_train_"))
    run_dir = work / RUN_NAME
    sets = [f"train.time_limit_minutes={args.minutes}", "train.iterations=1000000",
            "checkpoint.keep_latest=1", *args.overrides]
    command = [sys.executable, "-m", "shogi_jax.train", "--config", args.config, "--run-dir",
               str(run_dir), "--quiet", *[a for s in sets for a in ("--set", s)]]
    print("$ " + " ".join(command), flush=True)
    done = subprocess.run(command, check=False)
    # Its time limit ends the run: training exits "stopped, resumable" then.
    if done.returncode not in (exit_codes.FINISHED, exit_codes.STOPPED):
        print(f"error: training exited {done.returncode}; the run is in {run_dir}",
              file=sys.stderr)
        return 1 if done.returncode != 2 else 2
    try:
        size = pack(run_dir, out / "run.tar.gz", args.limit_bytes)
    except ValueError as error:
        print(f"error: {error}; the run is in {run_dir}", file=sys.stderr)
        return 2
    print(f"packed {run_dir} into {out / 'run.tar.gz'} ({size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
