"""Plots the evaluation curve of one or more training runs from their metrics.jsonl: the ladder Elo
(random = 0, 95% confidence band; the dashed lines are the anchors, the rungs it played) and the
win rates against random and greedy, by wall-clock minutes and env steps. The same figures are in
each run's TensorBoard events (eval/*). Runs from before the ladder scale show their own fit.

    python scripts/plot_elo.py runs/cpu --output docs/elo_cpu.png
    python scripts/plot_elo.py runs/a runs/b --labels "shaping" "no shaping" --output cmp.png
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shogi_jax.arena.ladder import RUNGS
from shogi_jax.reports import ReportError
from shogi_jax.reports.metrics import (
    ELO,
    ELO_CI95_HIGH,
    ELO_CI95_LOW,
    MINUTES,
    OWN_FIT_GREEDY_ELO,
    anchors,
    number,
    on_ladder_scale,
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
    anchored, own_fit = set(), False
    for run_dir, label in zip(args.run_dirs, labels):
        records = evaluation_records(run_dir)
        x = [r[args.x] for r in records]

        def column(key):  # NaN where a chart cannot draw (an interval's open end)
            return [float("nan") if number(r.get(key)) is None else r[key] for r in records]

        line, = elo_axis.plot(x, column(ELO), marker="o", label=label)
        elo_axis.fill_between(x, column(ELO_CI95_LOW), column(ELO_CI95_HIGH),
                              color=line.get_color(), alpha=0.15)
        for opponent, style in (("random", ":"), ("greedy", "-")):
            rate_axis.plot(x, column(win_rate_key(opponent)), style,
                           color=line.get_color(), label=f"{label}: wins vs {opponent}")
        if on_ladder_scale(records[-1]):
            anchored.update(anchors(records))
        elif OWN_FIT_GREEDY_ELO in records[-1]:
            own_fit = True
            elo_axis.axhline(records[-1][OWN_FIT_GREEDY_ELO], color="grey", linestyle="--",
                             linewidth=1, label=f"{label}: greedy (own fit)")
    for name in sorted(anchored, key=lambda name: RUNGS[name].elo):
        elo_axis.axhline(RUNGS[name].elo, color="grey", linestyle="--", linewidth=1,
                         label=f"anchor {name} {RUNGS[name].elo:.0f}")
    x_label = "training minutes (wall clock)" if args.x == MINUTES else "env steps"
    scale = ("evaluation Elo (own fit, random = 0; dashed: greedy)" if own_fit else
             "ladder Elo (random = 0; dashed: " + ", ".join(
                 f"{name} {RUNGS[name].elo:.0f}" for name in RUNGS if name in anchored) + ")")
    elo_axis.set(xlabel=x_label, ylabel=scale, title="Elo over training (95% CI)")
    rate_axis.set(xlabel=x_label, ylabel="win rate (draws are not wins)", ylim=(0, 1.02),
                  title="wins against the baselines")
    rate_axis.axhline(0.6, color="grey", linestyle="--", linewidth=1, label="60% of the games")
    rate_axis.axhline(0.95, color="grey", linestyle=":", linewidth=1, label="95% of the games")
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
