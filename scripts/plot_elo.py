"""Plots the evaluation curve of one or more training runs from their metrics.jsonl: Elo (random =
0, 95% confidence band) and the win / draw rates against random and greedy, by wall-clock minutes
and env steps. The same figures are in each run's TensorBoard events (eval/*).

    python scripts/plot_elo.py runs/cpu --output docs/elo_cpu.png
    python scripts/plot_elo.py runs/a runs/b --labels "shaping" "no shaping" --output cmp.png
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shogi_jax.reports import ReportError
from shogi_jax.reports.metrics import (
    ELO,
    ELO_CI95_HIGH,
    ELO_CI95_LOW,
    GREEDY_ELO,
    MINUTES,
    timed_records,
    win_rate_key,
)
from shogi_jax.reports.metrics import (
    evaluation_records as evaluations,
)


def evaluation_records(run_dir: Path) -> list[dict]:
    """The metrics records of a run that carry an evaluation, in iteration order, each with the
    wall-clock minutes of the run up to it (`minutes`, see `timed_records`); exits naming the
    fault when there are none."""
    try:
        records = evaluations(timed_records(run_dir))
    except ReportError as error:
        raise SystemExit(f"error: {error}") from None
    if not records:
        raise SystemExit(f"error: {run_dir} has no evaluation records "
                         "(evaluation.every_iterations)")
    return records


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", type=Path)
    parser.add_argument("--labels", nargs="+", help="one per run (default: directory names)")
    parser.add_argument("--output", type=Path, required=True, help="PNG to write")
    parser.add_argument("--x", choices=(MINUTES, "env_steps"), default=MINUTES)
    args = parser.parse_args(argv)
    labels = args.labels or [d.name for d in args.run_dirs]
    if len(labels) != len(args.run_dirs):
        parser.error("give one label per run directory")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (elo_axis, rate_axis) = plt.subplots(1, 2, figsize=(12, 4.5))
    for run_dir, label in zip(args.run_dirs, labels):
        records = evaluation_records(run_dir)
        x = [r[args.x] for r in records]
        line, = elo_axis.plot(x, [r[ELO] for r in records], marker="o", label=label)
        elo_axis.fill_between(x, [r[ELO_CI95_LOW] for r in records],
                              [r[ELO_CI95_HIGH] for r in records],
                              color=line.get_color(), alpha=0.15)
        for opponent, style in (("random", ":"), ("greedy", "-")):
            rate_axis.plot(x, [r[win_rate_key(opponent)] for r in records], style,
                           color=line.get_color(), label=f"{label}: wins vs {opponent}")
        if GREEDY_ELO in records[-1]:
            elo_axis.axhline(records[-1][GREEDY_ELO], color="grey", linestyle="--",
                             linewidth=1)
    x_label = "training minutes (wall clock)" if args.x == MINUTES else "env steps"
    elo_axis.set(xlabel=x_label, ylabel="evaluation Elo (own fit, random = 0; dashed: greedy)",
                 title="Elo over training (95% CI)")
    rate_axis.set(xlabel=x_label, ylabel="win rate (draws are not wins)", ylim=(0, 1.02),
                  title="wins against the baselines")
    rate_axis.axhline(0.6, color="grey", linestyle="--", linewidth=1)
    rate_axis.axhline(0.95, color="grey", linestyle=":", linewidth=1)
    for axis in (elo_axis, rate_axis):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
