"""The accelerator measurement: env and training throughput on a GPU (or TPU), in one run of at
most 9 minutes, prepared for the day one is lent.

Cells, measured in this order (the figures that matter most first):
  1. env, shogi_jax in the accelerator form (whole-batch lanes), B = 1024, 4096, 16384, 65536;
  2. env, pgx's shogi, the same batch sizes (the rival, in the same run);
  3. train, the full jitted iteration of configs/gpu.yaml (its env.num_games games);
  4. env, shogi_jax with the CPU form forced (chunks of 256 games in a loop), the same sizes.
The env cells are scripts/bench_env.py's measurement (random legal moves, step + observation,
auto-reset; steps/s = games x plies per second), the form forced with
shogi_jax.rules.platform.forced_program. Every cell also reports its compile seconds and memory:
the compiled program's own bytes (XLA's memory analysis: arguments, outputs, temporaries) and the
device's peak bytes in use so far in the worker process (batch sizes ascend, so that is the
largest cell's). For env cells XLA's figure is the loop's temporaries (`xla_temp_bytes`, beside
`state_bytes`); for the training cell the whole program (`program_bytes`).

Robust by construction:
- one JSON line per finished cell, written and flushed at once, so a timeout keeps what finished;
- the cells run in a worker process: a cell that raises (pgx out of memory at 65536, say) is
  recorded as an error and the worker goes on; a worker that dies (killed for memory, a crash) is
  recorded against its cell and a fresh worker takes the remaining cells;
- at --budget-seconds (default 540) the worker is stopped, and every cell not measured gets a
  "not reached" line.
At the end a markdown summary (for docs/benchmarks.md) is printed.

    python scripts/bench_gpu.py [--out bench_gpu.jsonl] [--budget-seconds 540]
    python scripts/bench_gpu.py --batch-sizes 8 --seconds 0.2 --train-config configs/smoke.yaml
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, TextIO

import bench_env  # the env cells are bench_env's measurement: the same loop, picker and timing
import jax
from bench_common import (
    compile_timed,
    machine_info,
    machine_line,
    markdown_table,
    median_iteration_seconds,
    mib,
)

from shogi_jax.rules.platform import forced_program
from shogi_jax.train import budget
from shogi_jax.train.config import load_config
from shogi_jax.train.iteration import make_train_step
from shogi_jax.train.state import env_steps, init_train_state, make_trainer

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BATCH_SIZES = (1024, 4096, 16384, 65536)
DEFAULT_BUDGET_SECONDS = 540.0  # the whole run, 9 minutes
DEFAULT_ENV_SECONDS = 2.0  # timed seconds per env cell
DEFAULT_TRAIN_ITERATIONS = 3  # timed iterations after the warm-up one
CELL_PREFIX = "CELL "  # a worker's stdout line: this prefix + one JSON object
STDERR_TAIL_LINES = 15

ACCELERATOR_FORM, CPU_FORM = "accelerator", "cpu"


# --------------------------------------------------------------------------------------------
# Cells
# --------------------------------------------------------------------------------------------

def plan_cells(batch_sizes: Sequence[int], train_config: Optional[str],
               train_overrides: Sequence[str]) -> list[dict]:
    """The cells in measuring order (see the module docstring)."""
    cells = [{"kind": "env", "engine": "shogi_jax", "form": ACCELERATOR_FORM, "batch": b}
             for b in batch_sizes]
    cells += [{"kind": "env", "engine": "pgx", "batch": b} for b in batch_sizes]
    if train_config:
        cells.append({"kind": "train", "config": train_config,
                      "overrides": list(train_overrides)})
    cells += [{"kind": "env", "engine": "shogi_jax", "form": CPU_FORM, "batch": b}
              for b in batch_sizes]
    return cells


def cell_name(cell: dict) -> str:
    if cell["kind"] == "train":
        return f"train {cell['config']}"
    form = f" ({cell['form']} form)" if "form" in cell else ""
    return f"env {cell['engine']}{form} B={cell['batch']}"


# --------------------------------------------------------------------------------------------
# The worker: measures cells in turn, one CELL line each
# --------------------------------------------------------------------------------------------

def _device_memory() -> dict:
    """The first device's peak bytes in use so far (None where the backend keeps no stats)."""
    stats = jax.devices()[0].memory_stats() or {}
    return {"device_peak_bytes": stats.get("peak_bytes_in_use"),
            "device_bytes_limit": stats.get("bytes_limit")}


def _program_bytes(compiled) -> Optional[int]:
    memory = compiled.memory_analysis()
    if memory is None:
        return None
    return int(memory.argument_size_in_bytes + memory.output_size_in_bytes
               + memory.temp_size_in_bytes - memory.alias_size_in_bytes)


def measure_env(cell: dict, seconds: float) -> dict:
    with forced_program(cell.get("form", "auto")):
        return bench_env.measure(cell["engine"], cell["batch"], seconds)


def measure_train(cell: dict, iterations: int) -> dict:
    config = load_config(ROOT / cell["config"] if not os.path.isabs(cell["config"])
                         else cell["config"], cell["overrides"])
    trainer = make_trainer(config)
    state = init_train_state(config, trainer)
    compiled, compile_s = compile_timed(make_train_step(config, trainer), state,
                                        budget.clock(config))
    seconds = median_iteration_seconds(lambda state: compiled(state, budget.clock(config)), state,
                                       iterations)
    steps = env_steps(config, config.train.iterations_per_dispatch)
    return {"games": config.env.num_games, "rollout_length": config.env.rollout_length,
            "model": f"{config.model.blocks}x{config.model.channels} {config.model.dtype}",
            "updates": f"{config.ppo.epochs}x{config.ppo.minibatches}",
            "timed_iterations": iterations, "steps_per_s": steps / seconds,
            "seconds_per_iteration": seconds,
            "compile_s": compile_s, "program_bytes": _program_bytes(compiled)}


def worker_main(cells: list[dict], seconds: float, train_iterations: int) -> None:
    def emit(record: dict) -> None:
        print(CELL_PREFIX + json.dumps(record), flush=True)

    emit({"kind": "machine", **machine_info()})
    for cell in cells:
        started = time.perf_counter()
        try:
            if cell["kind"] == "env":
                result = measure_env(cell, seconds)
            else:
                result = measure_train(cell, train_iterations)
        except Exception as error:  # a failed cell is a result too; the next cell still runs
            result = {"error": f"{type(error).__name__}: {str(error)[:2000]}"}
        emit({**cell, **result, **_device_memory(),
              "cell_seconds": time.perf_counter() - started})


# --------------------------------------------------------------------------------------------
# The driver: workers, the budget, the lines
# --------------------------------------------------------------------------------------------

def _worker_command(cells: list[dict], args) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cells),
            "--seconds", str(args.seconds), "--train-iterations", str(args.train_iterations)]


def _lines_of(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)  # end of stream


def run_cells(cells: list[dict], command_for: Callable[[list[dict]], list[str]],
              budget_seconds: float, write: Callable[[dict], None]) -> None:
    """Measures `cells` with workers started by `command_for(remaining cells)`, writing one
    record per cell (measured, failed or not reached) and the machine records, within
    `budget_seconds` in all."""
    deadline = time.monotonic() + budget_seconds
    remaining = list(cells)
    environment = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false")  # real peak figures
    while remaining:
        worker = subprocess.Popen(command_for(remaining), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, cwd=ROOT, env=environment)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_lines_of, args=(worker.stdout, lines), daemon=True).start()
        errors: list[str] = []
        threading.Thread(target=lambda: errors.extend(worker.stderr), daemon=True).start()
        timed_out = False
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                timed_out = True
                break
            if line is None:
                break
            if line.startswith(CELL_PREFIX):
                record = json.loads(line[len(CELL_PREFIX):])
                write(record)
                if record.get("kind") != "machine":
                    remaining.pop(0)
        if timed_out:
            worker.kill()
        returncode = worker.wait()
        if timed_out or time.monotonic() >= deadline:
            if remaining:
                write({**remaining[0], "error": f"cut off at the budget of {budget_seconds:g} s"})
            for cell in remaining[1:]:
                write({**cell, "error": "not reached within the budget"})
            return
        if remaining:  # the worker died inside remaining[0]
            tail = "".join(errors[-STDERR_TAIL_LINES:]).strip()
            write({**remaining.pop(0),
                   "error": f"worker died (exit {returncode}) in this cell: {tail[-2000:]}"})


def _rate(record: Optional[dict]) -> str:
    if record is None:
        return "-"
    if "error" in record:
        return "failed" if "budget" not in record["error"] else "not reached"
    return f"{record['steps_per_s']:,.0f}"


def summary(records: Iterable[dict], batch_sizes: Sequence[int]) -> str:
    """A markdown report of the records: one row per batch size, the training line, failures."""
    records = list(records)
    env = {(r["engine"], r.get("form"), r["batch"]): r for r in records if r.get("kind") == "env"}
    machine = next((r for r in records if r.get("kind") == "machine"), None)
    rows = []
    for batch in batch_sizes:
        acc = env.get(("shogi_jax", ACCELERATOR_FORM, batch))
        cpu = env.get(("shogi_jax", CPU_FORM, batch))
        rival = env.get(("pgx", None, batch))

        def ratio(a, b):
            ok = all(r is not None and "error" not in r for r in (a, b))
            return f"{a['steps_per_s'] / b['steps_per_s']:.1f}x" if ok else "-"

        def compile_s(r):
            return f"{r['compile_s']:.1f}" if r is not None and "compile_s" in r else "-"

        def program(r):
            return mib(r.get("xla_temp_bytes"), 0) if r is not None else "-"

        rows.append([batch, _rate(acc), _rate(cpu), _rate(rival), ratio(acc, rival),
                     ratio(acc, cpu), f"{compile_s(acc)} / {compile_s(cpu)} / {compile_s(rival)}",
                     f"{program(acc)} / {program(rival)}"])
    lines = [f"Machine: {machine_line(machine) if machine else 'not recorded'}.", "",
             *markdown_table(["batch", "accelerator form steps/s", "CPU form steps/s",
                              "pgx steps/s", "accelerator / pgx", "accelerator / CPU form",
                              "compile s (acc / CPU / pgx)", "XLA temp MiB (acc / pgx)"], rows)]
    for r in records:
        if r.get("kind") == "train" and "error" not in r:
            lines += ["", f"Training, {r['config']} ({r['games']} games x {r['rollout_length']} "
                          f"plies, {r['model']}, {r['updates']} updates): "
                          f"{r['steps_per_s']:,.0f} env steps/s ({r['seconds_per_iteration']:.2f} "
                          f"s per iteration, median of {r['timed_iterations']}), compile "
                          f"{r['compile_s']:.1f} s, program {mib(r['program_bytes'], 0)} MiB."]
    peaks = [r["device_peak_bytes"] for r in records if r.get("device_peak_bytes")]
    if peaks:
        lines += ["", f"Device peak memory in use: {mib(max(peaks), 0)} MiB."]
    failed = [r for r in records if "error" in r and r.get("kind") != "machine"]
    lines += [f"- {cell_name(r)}: {r['error'].splitlines()[0][:300]}" for r in failed]
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", default=",".join(map(str, DEFAULT_BATCH_SIZES)),
                        help="comma-separated env batch sizes, ascending (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=DEFAULT_ENV_SECONDS,
                        help="timed seconds per env cell (default %(default)s)")
    parser.add_argument("--train-config", default="configs/gpu.yaml",
                        help="the training cell's config ('' for none; default %(default)s)")
    parser.add_argument("--train-set", dest="train_overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="overrides for the training config")
    parser.add_argument("--train-iterations", type=int, default=DEFAULT_TRAIN_ITERATIONS,
                        help="timed training iterations after a warm-up (default %(default)s)")
    parser.add_argument("--budget-seconds", type=float, default=DEFAULT_BUDGET_SECONDS,
                        help="the whole run's limit (default %(default)s)")
    parser.add_argument("--out", default="bench_gpu.jsonl",
                        help="JSON lines, one per cell, appended (default %(default)s)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: the cells, as JSON
    args = parser.parse_args(argv)
    try:
        args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    except ValueError:
        parser.error(f"--batch-sizes must be integers, got {args.batch_sizes!r}")
    if not args.batch_sizes or min(args.batch_sizes) < 1:
        parser.error("--batch-sizes must be positive integers")
    if args.batch_sizes != sorted(args.batch_sizes):
        parser.error("--batch-sizes must ascend (the device's peak memory is read per cell)")
    for name in ("seconds", "budget_seconds"):
        if not getattr(args, name) > 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if args.train_iterations < 1:
        parser.error("--train-iterations must be at least 1")
    if args.train_config and not args.worker and not (ROOT / args.train_config).is_file() \
            and not Path(args.train_config).is_file():
        parser.error(f"--train-config: no such file: {args.train_config}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker_main(json.loads(args.worker), args.seconds, args.train_iterations)
        return 0
    cells = plan_cells(args.batch_sizes, args.train_config, args.train_overrides)
    records: list[dict] = []
    print(f"# {len(cells)} cells, budget {args.budget_seconds:g} s; lines appended to "
          f"{args.out}", flush=True)
    with open(args.out, "a") as out:
        def write(record: dict, out: TextIO = out) -> None:
            records.append(record)
            out.write(json.dumps(record) + "\n")
            out.flush()
            if record.get("kind") != "machine":
                figure = (record["error"].splitlines()[0][:200] if "error" in record
                          else f"{record['steps_per_s']:,.0f} steps/s, compile "
                               f"{record['compile_s']:.1f} s")
                print(f"{cell_name(record)}: {figure}", flush=True)

        run_cells(cells, lambda remaining: _worker_command(remaining, args),
                  args.budget_seconds, write)
    print()
    print(summary(records, args.batch_sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
