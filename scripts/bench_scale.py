"""Scaling: training env steps/s of one config's jitted iteration on 1, 2, 4, 8 devices.

The same global batch (env.num_games games x env.rollout_length plies) is split over the first N
devices of a `data` mesh (shogi_jax.host.parallel); parameters are replicated and XLA adds the
gradient all-reduce. The reference is the same program on 1 device, measured in the same run;
the ratio is speed-up over 1 device (ideal: N).

On a CPU-only machine the script asks XLA for 8 fake CPU devices
(--xla_force_host_platform_device_count=8): they share the machine's cores, so this checks the
sharded program and its overhead, not a speed-up. On a GPU/TPU host the real devices are used.

    python scripts/bench_scale.py --config configs/cpu.yaml [--devices 1 2 4 8] [--repeats 3]
"""
from __future__ import annotations

import os
import sys

if "jax" not in sys.modules and "--xla_force_host_platform_device_count" not in os.environ.get(
        "XLA_FLAGS", ""):
    # Before JAX starts: 8 CPU devices (harmless on GPU/TPU hosts, where those are used instead).
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_force_host_platform_device_count=8").strip()

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_common import compile_timed, machine_info, machine_line, median_iteration_seconds  # noqa: E402

from shogi_jax import parallel  # noqa: E402
from shogi_jax.train import budget
from shogi_jax.train.config import load_config  # noqa: E402
from shogi_jax.train.iteration import make_train_step  # noqa: E402
from shogi_jax.train.state import env_steps, init_sharded_train_state, make_trainer  # noqa: E402


def measure(config, devices: int, repeats: int) -> tuple[float, float]:
    """(env steps/s: median over `repeats` iterations after the first, compile seconds)."""
    mesh = parallel.make_mesh(devices)
    trainer = make_trainer(config)
    state = init_sharded_train_state(config, trainer, mesh)
    compiled, compile_seconds = compile_timed(make_train_step(config, trainer, mesh), state,
                                              budget.clock(config))
    step = lambda state: compiled(state, budget.clock(config))  # noqa: E731
    steps = env_steps(config, config.train.iterations_per_dispatch)
    return steps / median_iteration_seconds(step, state, repeats), compile_seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/cpu.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE")
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    config = load_config(args.config, args.overrides)
    available = jax.device_count()
    counts = [n for n in args.devices if n <= available]
    print(f"# {machine_line(machine_info())}")
    print(f"# config {args.config} {' '.join(args.overrides)}: {config.env.num_games} games x "
          f"{config.env.rollout_length} plies per iteration, {config.model.blocks} x "
          f"{config.model.channels} network, {config.ppo.epochs} epoch(s) x "
          f"{config.ppo.minibatches} minibatches")
    print("| devices | games per device | env steps/s | vs 1 device | ideal | compile s |")
    print("|---|---|---|---|---|---|")
    reference = None
    for n in counts:
        if config.env.num_games % n:
            print(f"| {n} | - | (env.num_games {config.env.num_games} does not split over {n}) "
                  "| | | |")
            continue
        sps, compile_seconds = measure(config, n, args.repeats)
        reference = reference or (sps if n == 1 else None)
        ratio = f"{sps / reference:.2f}x" if reference else "-"
        print(f"| {n} | {config.env.num_games // n} | {sps:,.0f} | {ratio} | {n}x | "
              f"{compile_seconds:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
