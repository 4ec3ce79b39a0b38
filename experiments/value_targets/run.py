"""Issue 52's value targets, measured: each row trains configs/cpu.yaml (PPO) or
configs/cpu_az.yaml (gumbel_az) with one change for a fixed number of iterations from seed 0,
then asks its final network's value who wins engine games (scripts/value_probe.py, counting
material as the reference) and plays the evaluation games of training.

    python experiments/value_targets/run.py runs/value_targets                  # every row
    python experiments/value_targets/run.py runs/value_targets --rows ppo_today value_gamma1
    python experiments/value_targets/run.py runs/value_targets --dry-run        # the commands

Training is counted in iterations, so a row trains to the same network on any machine, however
loaded; the rows' speed (their wall seconds per iteration) is read from their metrics.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from driver import PYTHON, Runner, absolute  # noqa: E402

PPO, AZ = "configs/cpu.yaml", "configs/cpu_az.yaml"
# name: (base config, overrides). The PPO rows add one change at a time to the row above.
VALUE_HEAD = ["model.value_planes=8", "model.value_layer_norm=true"]
NO_MATERIAL = ["gumbel_az.material_weight=0"]  # cpu_az.yaml before 2026-12-08
ROWS = {
    "ppo_today": (PPO, []),
    # The value predicts the game's result (gamma 1), from 8 normalised planes.
    "ppo_value": (PPO, ["ppo.value_gamma=1.0", *VALUE_HEAD]),
    "ppo_value_mate": (PPO, ["ppo.value_gamma=1.0", *VALUE_HEAD, "expert.mate_in_one=true"]),
    # Today's cpu.yaml (which has the value settings above) with mates in one in self-play,
    # found by stepping only the checks (rules/checks.py).
    "cpu_mate": (PPO, ["expert.mate_in_one=true"]),
    # The same, each mate weighing like one ordinary sample in the imitation loss.
    "cpu_mate_all": (PPO, ["expert.mate_in_one=true", "expert.imitation_mean=all"]),
    # Mates on a quarter of the plies: is the material play lost to mates on every ply?
    "cpu_mate_quarter": (PPO, ["expert.mate_in_one=true", "expert.mate_share=0.25"]),
    # The schedules on the run's budget: the rate and the shaping both decay to 0 by its end.
    "ppo_value_decay": (PPO, ["ppo.value_gamma=1.0", *VALUE_HEAD, "ppo.lr_schedule=linear",
                              "reward_shaping.anneal_env_steps=0",
                              "reward_shaping.anneal_budget=1.0"]),
    # gumbel_az's value: the old head and targets, bootstrapped targets alone, then each with
    # the normalised head. These rows, and az_today and az_caps, are cpu_az.yaml as it was before
    # it took material in its search (NO_MATERIAL).
    "az_bootstrap": (AZ, [*NO_MATERIAL, "gumbel_az.value_target=bootstrap",
                          "gumbel_az.value_lambda=1.0"]),
    "az_outcome_ln": (AZ, [*NO_MATERIAL, "gumbel_az.value_target=outcome", *VALUE_HEAD]),
    "az_bootstrap_ln": (AZ, [*NO_MATERIAL, "gumbel_az.value_target=bootstrap",
                             "gumbel_az.value_lambda=1.0", *VALUE_HEAD]),
    "az_mate": (AZ, ["expert.mate_in_one=true"]),
    # Playout-cap randomization: a quarter of the plies searched with 8 simulations (and
    # giving policy targets), the rest with 2. Compared with cpu_az.yaml as it was (az_today) at
    # equal wall clock: az_caps trains EQUAL_TIME["az_caps"] times az_today's iterations.
    "az_today": (AZ, [*NO_MATERIAL]),
    "az_caps": (AZ, [*NO_MATERIAL, "gumbel_az.cheap_simulations=2",
                     "gumbel_az.full_search_share=0.25"]),
    # Material in the self-play search's evaluations (gumbel_az's counterpart of PPO's shaping):
    # half of each searched value (today's cpu_az.yaml), constant, or falling to 0 by the end.
    "az_material": (AZ, ["gumbel_az.material_weight=0.5"]),
    "az_material_anneal": (AZ, ["gumbel_az.material_weight=0.5",
                                "reward_shaping.anneal_budget=1.0"]),
    # On az_material: each rollout's samples used twice (sample reuse), and policy-surprise
    # weighting (half the policy loss's weight by KL(search target || policy)).
    "az_material_epochs2": (AZ, ["gumbel_az.material_weight=0.5", "ppo.epochs=2"]),
    "az_material_surprise": (AZ, ["gumbel_az.material_weight=0.5",
                                  "gumbel_az.surprise_weight=0.5"]),
}
# What each row's final network is asked: who wins (the value), mates in one and Fairy-Stockfish's
# move (the raw policy; mates also by the 128-simulation search), all without play-time tactics
# (docs/benchmarks.md#measuring-learning). {script: its extra arguments}
PROBES = {"value_probe": [], "mate_probe": ["--simulations", "128"], "top1_agreement": []}
PPO_ITERATIONS = 250   # about 11 minutes of cpu.yaml alone on the learning bar's machine
AZ_ITERATIONS = 100    # about 8 minutes of cpu_az.yaml there
# Rows trained for more iterations than their base, to match a row's wall clock: the ratio of
# their env steps a second (medians of iterations 3-12, alone; README).
EQUAL_TIME = {"az_caps": 1.44}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="the folder the rows' run directories go in")
    parser.add_argument("--rows", nargs="+", choices=sorted(ROWS), default=list(ROWS),
                        help="the rows to run (default: all)")
    parser.add_argument("--ppo-iterations", type=int, default=PPO_ITERATIONS)
    parser.add_argument("--az-iterations", type=int, default=AZ_ITERATIONS)
    parser.add_argument("--phases", nargs="+", choices=("train", "probe"),
                        default=["train", "probe"])
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    runner = Runner(args.dry_run)
    out = absolute(args.out)
    for row in args.rows:
        config, overrides = ROWS[row]
        iterations = args.az_iterations if config == AZ else args.ppo_iterations
        iterations = round(iterations * EQUAL_TIME.get(row, 1.0))
        run_dir = out / row
        if "train" in args.phases:
            sets = [f"train.iterations={iterations}", "evaluation.every_iterations="
                    f"{iterations // 2}", f"checkpoint.every_iterations={iterations // 5}",
                    *overrides]
            # A row already begun (stopped, or trained to fewer iterations) continues.
            resume = ["--resume"] if (run_dir / "checkpoints").is_dir() else []
            runner.run([PYTHON, "-m", "shogi_jax.train", "--config", config, "--run-dir",
                        run_dir, "--quiet", *resume, *[a for s in sets for a in ("--set", s)]])
        if "probe" in args.phases:
            for probe, extra in PROBES.items():
                runner.run([PYTHON, f"scripts/{probe}.py", "--run-dir", run_dir, *extra, "--json",
                            out / f"{row}_{probe}.json"], tee=True,
                           write_to=out / f"{row}_{probe}.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
