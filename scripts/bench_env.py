"""Environment throughput: shogi_jax against pgx's shogi, uniformly random legal moves in batch.

What is measured
----------------
For each engine and batch size B, one jitted function plays `num_steps` plies in every one of the B
games, inside a `jax.lax.fori_loop`. Each loop iteration is one *game-step* per game:

1. pick a uniformly random legal action per game (the shared picker below);
2. step the batch: `jax.vmap(sj.step)` for shogi_jax, `jax.vmap(env.step)` for pgx;
3. compute the observation: `jax.vmap(sj.observe)` for shogi_jax; pgx computes its observation
   inside `step` (it is `state.observation`). Both engines add the observation's sum into a carried
   checksum that the loop returns, so XLA cannot drop the work;
4. auto-reset finished games (`terminated | truncated`) to the start position with a `jnp.where`
   tree-map against a batch of start states made once, outside the loop, and passed in.

Both engines end games at 512 plies (shogi_jax `DEFAULT_MAX_PLIES`; pgx `MAX_TERMINATION_STEPS`).
pgx's `step` ignores its key for shogi, so it is called without one.

The random picker is the same for both engines and deliberately cheap, so the numbers measure the
rules rather than the RNG (`jax.random.categorical` over 2187 actions is slow on CPU): per game one
random uint32 word per step (`jax.random.bits`), hashed with each action id (a multiply / xor-shift
mix in uint32), illegal actions set to 0 (legal ones forced non-zero), then `argmax`. Its own cost
is measured separately: the picker alone in the same kind of loop on a fixed mask.

Reported per engine and batch size
----------------------------------
* steps/s: game-steps per second, `B * num_steps / seconds`, the median over the timed calls;
* shogi_jax / pgx: the ratio of the two steps/s at the same batch size;
* compile s: tracing + lowering + XLA compilation of the loop (`jit(...).lower(...).compile()`),
  i.e. what the first call pays on top of running;
* peak RSS: the process's peak resident set size (`resource.getrusage`). Each (engine, batch size)
  runs in its own fresh Python process, so the number belongs to that measurement alone (it includes
  the interpreter, jax, the compiled program and the buffers);
* state bytes: the size of the batched state (all array leaves; pgx's includes its observation).

Timing: compile; a warm-up call of 1 step; calibration calls with a growing step count until one
takes a fifth of `--seconds`; then up to TIMED_CALLS timed calls whose `num_steps` (a traced
argument, so no recompilation) is chosen so that together they take about `--seconds` (a single
call of one step where one step is slower than that). Each call continues from the states (and
key) the previous one left. At small batch sizes the timed calls span whole games (random games
mostly run to the 512-ply limit); at large ones they cover only the first plies of each game, so
those numbers are for opening positions ("games ended" in the progress lines shows which).

Usage
-----
    python scripts/bench_env.py --quick              # batch 1, 64, 1024; a few minutes on 2 cores
    python scripts/bench_env.py                      # batch 1, 64, 1024, 4096
    python scripts/bench_env.py --batch-sizes 4096 --engines shogi_jax --seconds 5 --json out.json

The markdown table printed at the end is meant for docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from bench_common import (
    compile_timed,
    human_bytes,
    machine_info,
    machine_line,
    markdown_table,
    mib,
    peak_rss_bytes,
    timed,
)

import shogi_jax as sj
from shogi_jax.rules.state import select_games

ENGINES = ("shogi_jax", "pgx")
PICKER = "picker"
DEFAULT_BATCH_SIZES = (1, 64, 1024, 4096)
QUICK_BATCH_SIZES = (1, 64, 1024)
DEFAULT_SECONDS = 3.0  # target timed seconds per (engine, batch size), over TIMED_CALLS calls
QUICK_SECONDS = 1.5

NUM_ACTIONS = 2187  # both engines use pgx's (dlshogi's) 27 x 81 action encoding
# Hash constants (golden-ratio increment and murmur3's fmix32 multipliers).
HASH_ID_MULTIPLIER = 0x9E3779B1
HASH_MIX_1 = 0x85EBCA6B
HASH_MIX_2 = 0xC2B2AE35
HASH_SHIFT_1 = 16
HASH_SHIFT_2 = 13
# The picker-only loop plays on a fixed mask with every PICKER_MASK_STRIDE-th action legal
# (81 legal actions, about a middle-game count; the picker's cost does not depend on the mask).
PICKER_MASK_STRIDE = 27

TIMED_CALLS = 3  # --seconds is split over this many timed calls; steps/s is their median
CALIBRATION_FRACTION = 0.2  # the calibration call aims at this fraction of --seconds
MAX_TIMED_STEPS = 1_000_000  # upper bound on num_steps of one call (guards a mis-estimate)
TIMER_RESOLUTION_S = 1e-9  # floor for a measured duration before dividing by it
SEED = 0
RESULT_PREFIX = "BENCH_RESULT "  # a worker's last stdout line: this prefix + JSON


# --------------------------------------------------------------------------------------------
# The measurement (runs in a worker process: one engine, one batch size)
# --------------------------------------------------------------------------------------------

def pick_actions(key, legal_action_mask):
    """One uniformly random legal action per game: int32[B] from bool[B, NUM_ACTIONS].

    One random uint32 word per game, mixed with each action id; illegal actions score 0 and legal
    ones at least 1, and argmax takes the best. Cheap: one `random.bits` of shape [B] per step.
    """
    batch, num_actions = legal_action_mask.shape
    word = jax.random.bits(key, (batch,), jnp.uint32)
    ids = jnp.arange(num_actions, dtype=jnp.uint32)
    h = (word[:, None] ^ (ids * jnp.uint32(HASH_ID_MULTIPLIER))) * jnp.uint32(HASH_MIX_1)
    h = h ^ (h >> HASH_SHIFT_1)
    h = h * jnp.uint32(HASH_MIX_2)
    h = h ^ (h >> HASH_SHIFT_2)
    score = jnp.where(legal_action_mask, h | jnp.uint32(1), jnp.uint32(0))
    return jnp.argmax(score, axis=1).astype(jnp.int32)


def make_engine(engine, batch):
    """(start_batch, step_and_observe) for `engine`.

    step_and_observe(state, action) -> (state, observation), both batched.
    """
    if engine == "shogi_jax":
        start = jax.jit(jax.vmap(lambda _: sj.init()))(jnp.arange(batch))
        step, observe = jax.vmap(sj.step), jax.vmap(sj.observe)

        def step_and_observe(state, action):
            state = step(state, action)
            return state, observe(state)

    elif engine == "pgx":
        # The one import not at the top, so that only the worker measuring pgx loads it: importing
        # pgx adds ~33 MiB to a process (it would count in shogi_jax's peak RSS) and starts JAX's
        # backends (on a GPU host that would take the device in a driver, e.g. bench_gpu's).
        import pgx

        env = pgx.make("shogi")
        keys = jax.random.split(jax.random.PRNGKey(SEED), batch)
        start = jax.jit(jax.vmap(env.init))(keys)
        step = jax.vmap(env.step)  # pgx shogi ignores the step key; it is left at None

        def step_and_observe(state, action):
            state = step(state, action)
            return state, state.observation

    else:
        raise ValueError(f"unknown engine {engine!r}")
    return start, step_and_observe


def make_engine_loop(step_and_observe):
    """run(state, fresh, key, num_steps) -> (state, key, obs_checksum, games_finished)."""
    def run(state, fresh, key, num_steps):
        def body(_, carry):
            state, key, checksum, finished = carry
            key, sub = jax.random.split(key)
            action = pick_actions(sub, state.legal_action_mask)
            state, obs = step_and_observe(state, action)
            checksum = checksum + jnp.sum(obs, dtype=jnp.float32)
            done = state.terminated | state.truncated
            finished = finished + jnp.sum(done, dtype=jnp.int32)
            return select_games(done, fresh, state), key, checksum, finished

        init = (state, key, jnp.float32(0), jnp.int32(0))
        return jax.lax.fori_loop(0, num_steps, body, init)

    return jax.jit(run)


def make_picker_loop():
    """run(mask, key, num_steps) -> (key, action_checksum): the picker alone on a fixed mask."""
    def run(mask, key, num_steps):
        def body(_, carry):
            key, checksum = carry
            key, sub = jax.random.split(key)
            return key, checksum + jnp.sum(pick_actions(sub, mask))

        return jax.lax.fori_loop(0, num_steps, body, (key, jnp.int32(0)))

    return jax.jit(run)


def tree_nbytes(tree):
    return int(sum(x.nbytes for x in jax.tree_util.tree_leaves(tree)))


def measure(engine, batch, target_seconds):
    """Compile, warm up, calibrate and time one (engine, batch size); a JSON-able dict."""
    key = jax.random.PRNGKey(SEED)
    if engine == PICKER:
        ids = np.arange(NUM_ACTIONS)
        state = jnp.asarray(np.broadcast_to(ids % PICKER_MASK_STRIDE == 0, (batch, NUM_ACTIONS)))
        loop = make_picker_loop()

        def arguments(state, key, num_steps):
            return state, key, jnp.int32(num_steps)

        def carried(state, out):  # (state, key) for the next call; the mask stays fixed
            return state, out[0]

    else:
        state, step_and_observe = make_engine(engine, batch)
        fresh = state
        loop = make_engine_loop(step_and_observe)

        def arguments(state, key, num_steps):
            return state, fresh, key, jnp.int32(num_steps)

        def carried(state, out):
            return out[0], out[1]

    state_bytes = tree_nbytes(state)

    compiled, compile_s = compile_timed(loop, *arguments(state, key, 1))
    memory = compiled.memory_analysis()
    temp_bytes = getattr(memory, "temp_size_in_bytes", None) if memory is not None else None

    def run(state, key, num_steps):
        out = compiled(*arguments(state, key, num_steps))
        return (*carried(state, out), out)

    warm_s, (state, key, _) = timed(run, state, key, 1)  # the first run pays one-off costs
    # Calibrate: grow num_steps until a call takes CALIBRATION_FRACTION of the target; fixed
    # per-call overhead only makes the estimate cautious.
    probe_target = CALIBRATION_FRACTION * target_seconds
    probe_steps = 1
    while True:
        probe_s, (state, key, _) = timed(run, state, key, probe_steps)
        if probe_s >= probe_target or probe_steps >= MAX_TIMED_STEPS:
            break
        grow = math.ceil(probe_steps * probe_target / max(probe_s, TIMER_RESOLUTION_S))
        probe_steps = min(MAX_TIMED_STEPS, max(2 * probe_steps, grow))
    seconds_per_step = probe_s / probe_steps
    call_seconds = target_seconds / TIMED_CALLS
    num_steps = int(min(MAX_TIMED_STEPS, max(1, round(call_seconds / seconds_per_step))))

    # TIMED_CALLS calls of about target/TIMED_CALLS seconds each, or fewer when one step alone
    # is slower than that: at least one call, and no new call once `target_seconds` is spent.
    call_times, games_finished, checksum = [], 0, 0.0
    while len(call_times) < TIMED_CALLS and (not call_times or sum(call_times) < target_seconds):
        seconds, (state, key, out) = timed(run, state, key, num_steps)
        call_times.append(seconds)
        if engine != PICKER:
            games_finished += int(out[3])
            checksum += float(out[2])
    median_s = statistics.median(call_times)

    result = {
        "engine": engine,
        "batch": batch,
        "num_steps": num_steps,  # per timed call
        "timed_calls": len(call_times),
        "seconds": sum(call_times),
        "steps_per_s": batch * num_steps / median_s,
        "steps_per_s_each": [batch * num_steps / t for t in call_times],
        "seconds_per_batch_step": median_s / num_steps,
        "compile_s": compile_s,
        "warmup_s": warm_s,
        "state_bytes": state_bytes,
        "xla_temp_bytes": temp_bytes,
        "peak_rss_bytes": peak_rss_bytes(),
    }
    if engine != PICKER:
        result["games_finished"] = games_finished  # games that ended during the timed calls
        result["obs_checksum"] = checksum
    return result


def worker_main(spec):
    engine, batch, seconds = spec.split(":")
    result = measure(engine, int(batch), float(seconds))
    print(RESULT_PREFIX + json.dumps(result), flush=True)


# --------------------------------------------------------------------------------------------
# The driver: one worker process per measurement, then the report
# --------------------------------------------------------------------------------------------

def run_worker(engine, batch, seconds):
    """Run one measurement in a fresh interpreter; its result dict, or one with an 'error'."""
    command = [sys.executable, os.path.abspath(__file__), "--worker", f"{engine}:{batch}:{seconds}"]
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    tail = "\n".join(proc.stderr.strip().splitlines()[-20:])
    return {"engine": engine, "batch": batch, "error": f"exit {proc.returncode}\n{tail}"}


def fmt_rate(x):
    return "-" if x is None else f"{x:,.0f}"


def describe(result):
    """One progress line for a finished measurement."""
    name = f"{result['engine']:>9} B={result['batch']:<5}"
    if "error" in result:
        return f"{name} FAILED: {result['error']}"
    line = (f"{name} {fmt_rate(result['steps_per_s']):>11} steps/s  "
            f"({result['timed_calls']} x {result['num_steps']} steps, {result['seconds']:.2f} s)  "
            f"compile {result['compile_s']:.1f} s  state {result['state_bytes']:,} B  "
            f"peak RSS {mib(result['peak_rss_bytes'])} MiB")
    if "games_finished" in result:
        line += f"  {result['games_finished']} games ended"
    return line


def figure(results, engine, batch, name):
    """The figure `name` of (engine, batch) in `results`; None where not measured or failed."""
    return next((r.get(name) for r in results if (r["engine"], r["batch"]) == (engine, batch)),
                None)


def rival_ratio(results, batch):
    """shogi_jax's steps/s over pgx's at `batch`; None where either is missing."""
    ours, theirs = (figure(results, e, batch, "steps_per_s") for e in ENGINES)
    return ours / theirs if ours and theirs else None


def markdown(info, results, batch_sizes, engines, command):
    """The report for docs/benchmarks.md."""
    def get(engine, batch, name):
        return figure(results, engine, batch, name)

    both = all(e in engines for e in ENGINES)
    header = (["batch"] + [f"{e} steps/s" for e in engines] + (["shogi_jax / pgx"] if both else [])
              + [f"{e} compile s" for e in engines] + [f"{e} peak RSS MiB" for e in engines]
              + [f"{e} state" for e in engines])
    rows = []
    for batch in batch_sizes:
        ratio = rival_ratio(results, batch)
        compile_s = [get(e, batch, "compile_s") for e in engines]
        rows.append([batch] + [fmt_rate(get(e, batch, "steps_per_s")) for e in engines]
                    + (["-" if ratio is None else f"{ratio:.1f}x"] if both else [])
                    + ["-" if c is None else f"{c:.1f}" for c in compile_s]
                    + [mib(get(e, batch, "peak_rss_bytes")) for e in engines]
                    + [human_bytes(get(e, batch, "state_bytes")) for e in engines])
    picker_rows = []
    for batch in batch_sizes:
        per_step = get(PICKER, batch, "seconds_per_batch_step")
        engine_steps = [get(e, batch, "seconds_per_batch_step") for e in engines]
        picker_rows.append(
            [batch, fmt_rate(get(PICKER, batch, "steps_per_s")),
             "-" if per_step is None else f"{per_step * 1e6:,.1f}"]  # seconds to µs
            + [f"{100 * per_step / s:.1f}%" if per_step and s else "-" for s in engine_steps])

    lines = [
        f"Machine: {machine_line(info)}.",
        "",
        f"`{command}`: uniformly random legal moves, step + legal mask + observation, "
        "auto-reset at game end; steps/s = games x plies per second. Compile = trace + lower + "
        "XLA compile of the jitted loop; peak RSS = the measuring process's peak (a fresh process "
        "per cell); state = the batched state's arrays.",
        "",
        *markdown_table(header, rows),
        "",
        "The random picker alone (one `random.bits` word per game, hash, mask, argmax), "
        "and its share of each engine's time per batch step:",
        "",
        *markdown_table(["batch", "picker steps/s", "picker µs / batch step"]
                        + [f"share of {e} step" for e in engines], picker_rows),
    ]
    failed = [r for r in results if "error" in r]
    if failed:
        lines += [""] + [f"FAILED {r['engine']} batch {r['batch']}: "
                         f"{r['error'].splitlines()[-1] if r['error'] else ''}" for r in failed]
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", default=None,
                        help="comma-separated batch sizes (default 1,64,1024,4096; "
                             "with --quick 1,64,1024)")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated subset of: " + ", ".join(ENGINES))
    parser.add_argument("--seconds", type=float, default=None,
                        help=f"target timed seconds per measurement (default {DEFAULT_SECONDS}; "
                             f"with --quick {QUICK_SECONDS})")
    parser.add_argument("--quick", action="store_true",
                        help="smaller batches and shorter timed calls (a few minutes on 2 cores)")
    parser.add_argument("--no-picker", action="store_true",
                        help="skip measuring the random picker alone")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: ENGINE:BATCH:SECONDS
    args = parser.parse_args(argv)

    if args.batch_sizes is None:
        sizes = QUICK_BATCH_SIZES if args.quick else DEFAULT_BATCH_SIZES
    else:
        sizes = tuple(int(b) for b in args.batch_sizes.split(",") if b.strip())
    if not sizes or min(sizes) < 1:
        parser.error("--batch-sizes must be positive integers")
    args.batch_sizes = sizes
    args.engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    unknown = set(args.engines) - set(ENGINES)
    if unknown or not args.engines:
        parser.error(f"--engines: choose from {', '.join(ENGINES)} (got {', '.join(unknown)})")
    if args.seconds is None:
        args.seconds = QUICK_SECONDS if args.quick else DEFAULT_SECONDS
    if not (args.seconds > 0 and math.isfinite(args.seconds)):
        parser.error("--seconds must be positive")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        worker_main(args.worker)
        return 0

    info = machine_info()
    print(f"# {machine_line(info)}")
    print(f"# batch sizes {list(args.batch_sizes)}, engines {list(args.engines)}, "
          f"about {args.seconds:g} s timed per measurement, each in a fresh process",
          flush=True)

    results = []
    started = time.perf_counter()
    measured = ([] if args.no_picker else [PICKER]) + list(args.engines)
    for batch in args.batch_sizes:
        for engine in measured:
            result = run_worker(engine, batch, args.seconds)
            results.append(result)
            print(describe(result), flush=True)
        ratio = rival_ratio(results, batch)
        if ratio is not None:
            print(f"{'':>9} B={batch:<5} shogi_jax / pgx = {ratio:.1f}x", flush=True)
    total_s = time.perf_counter() - started

    shown = sys.argv[1:]
    if "--json" in shown:  # the output path is of no interest in the report
        at = shown.index("--json")
        shown = shown[:at] + shown[at + 2:]
    shown = [a for a in shown if not a.startswith("--json=")]
    command = " ".join(["python", "scripts/bench_env.py"] + shown)
    report = markdown(info, results, args.batch_sizes, args.engines, command)
    print(f"\n# total {total_s:.0f} s\n")
    print(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "seconds_target": args.seconds,
                       "batch_sizes": list(args.batch_sizes), "engines": list(args.engines),
                       "total_s": total_s, "results": results}, f, indent=2)
        print(f"\n# results written to {args.json}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
