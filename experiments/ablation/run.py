"""Where the learning time goes: each row trains configs/cpu.yaml with one change for the same
wall clock from one seed, then one round robin of all rows' final networks (raw policy, argmax)
with rungs of the ladder (docs/ladder.md) around their strength. What it found: README.md here.

Rows:
  today    configs/cpu.yaml at --baseline-rev (d23ddf9: the shaping before it was potential-
           based, no staggered starts), from a git worktree of that commit
  base     no shaping, no staggered starts: none of the fixes
  shaping  + potential-based material shaping (cpu.yaml's weights)
  stagger  + staggered starts (128 plies)
  wdl      + the win/draw/loss value head
  gamma1   + gamma 1 (no discount)
  pool     + an opponent pool (one game in 4; a member joins every 25 iterations; 8 kept)
  all      + all of the above but gamma
  fixes    + shaping, staggered starts and the W/D/L head (placed by the gauntlet phase)
  az       configs/cpu_az.yaml (gumbel_az) with 4 simulations and 4 considered root moves
  az8      az with 8 simulations and 8 considered root moves   (placed by the gauntlet phase)
  az16     az with 16 simulations and 16 considered root moves (placed by the gauntlet phase)

Equal wall clock, any machine: a row trains a fixed number of iterations, not minutes, so its
network is the same on a slow, fast or busy machine (training is deterministic; an interrupted
row resumes from its checkpoint to the same result). "30 minutes" is --iterations (498) of
cpu.yaml. Rows whose iteration costs differ (the pool's extra forward passes, az's search) get
the iterations that fit the same wall clock, from their env steps/s relative to `base`,
measured on a quiet machine in one run (phase speed; OUT_DIR/speed.md). The opponents are
ladder rungs limited by depth, never time, so the round robin is load-independent too.

Phases: speed, train, keep, play (the default), gauntlet. Two shells with disjoint --rows and
--phases train train side by side; then --phases play. A row added after the round robin:
--rows fixes --phases train keep gauntlet plays it against the rungs and --gauntlet-opponents.

Across machines: OUT_DIR is scratch. Phase keep copies speed.json, each row's config, metrics
(gzipped) and latest checkpoint and the tournaments' games into --keep (this folder by
default); train and play restore from there what OUT_DIR lacks. Checkpoints are never tracked
by git (.gitignore): a row kept without one is trained again (to the same network).
"""
from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from driver import PYTHON, REPO, Runner, absolute, read_jsonl

ALL_ROWS = ("today", "base", "shaping", "stagger", "wdl", "gamma1", "pool", "all", "fixes",
            "az", "az8", "az16")
PHASES = ("speed", "train", "keep", "play", "gauntlet")
NO_FIXES = ["--set", "reward_shaping.material_weight=0", "--set", "env.stagger_plies=0"]
POOL = ["--set", "pool.share=0.25", "--set", "pool.add_every_iterations=25",
        "--set", "pool.size=8"]
ROW_SETTINGS = {
    "today": [],
    "base": NO_FIXES,
    "shaping": ["--set", "env.stagger_plies=0"],
    "stagger": ["--set", "reward_shaping.material_weight=0"],
    "wdl": NO_FIXES + ["--set", "model.value_head=wdl"],
    "gamma1": NO_FIXES + ["--set", "ppo.gamma=1.0"],
    "pool": NO_FIXES + POOL,
    "all": ["--set", "model.value_head=wdl"] + POOL,
    "fixes": ["--set", "model.value_head=wdl"],
    "az": ["--set", "gumbel_az.simulations=4", "--set", "gumbel_az.max_considered_actions=4"],
    "az8": ["--set", "gumbel_az.simulations=8", "--set", "gumbel_az.max_considered_actions=8"],
    "az16": ["--set", "gumbel_az.simulations=16",
             "--set", "gumbel_az.max_considered_actions=16"],
}
RUNGS = ("random", "greedy", "fairy_skill-5_d1", "fairy_skill-4_d1")
LADDER_GAMES = "docs/ladder_games/ladder_pass2_low.jsonl.gz"


def row_config(row: str) -> str:
    return "configs/cpu_az.yaml" if row.startswith("az") else "configs/cpu.yaml"


def costs_differ(row: str) -> bool:
    """Rows whose iteration costs more or less than base's (the others differ from base only
    in the targets they learn, the start plies or a 3-way value output)."""
    return row in ("pool", "all") or row.startswith("az")


def speed_row(row: str) -> str:
    return "pool" if row == "all" else row  # all costs what pool costs


def words(text: str) -> list[str]:
    return text.split()


class Ablation:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.out = absolute(args.out_dir)
        self.keep = absolute(args.keep)
        self.runner = Runner(args.dry_run)

    # --- training ---------------------------------------------------------------------------

    def train_row(self, row: str, run: Path, iterations: int, log: Path, *,
                  fresh_log: bool = False) -> None:
        """Trains ROW (new, or resumed from its latest checkpoint) to ITERATIONS in RUN."""
        here, env = REPO, None
        if row == "today":
            here = self.out / "baseline_worktree"
            if not here.is_dir():
                self.runner.run(["git", "worktree", "add", "--detach", here,
                                 self.args.baseline_rev])
            env = {"PYTHONPATH": str(here)}
        resume = ["--resume"] if (run / "config.yaml").is_file() else []
        if fresh_log and not self.runner.dry_run:
            log.write_text("")
        self.runner.run(
            [PYTHON, "-m", "shogi_jax.train", "--config", row_config(row), "--run-dir", run,
             *resume, "--quiet", "--set", f"train.seed={self.args.seed}",
             "--set", f"train.iterations={iterations}", "--set", "train.time_limit_minutes=0",
             "--set", "evaluation.every_iterations=0", "--set", "checkpoint.every_iterations=25",
             *ROW_SETTINGS[row]], cwd=here, env=env, append_to=log)

    def restore_row(self, row: str) -> None:
        """Copies ROW from --keep into OUT_DIR when OUT_DIR lacks it and --keep has its
        checkpoint (an earlier machine trained it); metrics come back unzipped."""
        kept, run = self.keep / row, self.out / row
        if run.exists() or not (kept / "checkpoints").is_dir():
            return
        self.runner.say(f"== {row}: restored from {kept}")
        if self.runner.dry_run:
            return
        shutil.copytree(kept, run)
        zipped = run / "metrics.jsonl.gz"
        if zipped.is_file():
            with gzip.open(zipped, "rb") as source, open(run / "metrics.jsonl", "wb") as dest:
                shutil.copyfileobj(source, dest)
            zipped.unlink()

    def last_iteration(self, run: Path) -> int:
        """Of a run directory's metrics, 0 when it has none."""
        metrics = run / "metrics.jsonl"
        return read_jsonl(metrics)[-1]["iteration"] if metrics.is_file() else 0

    def speed_file(self) -> Path:
        own = self.out / "speed.json"
        if own.is_file() or not (self.keep / "speed.json").is_file():
            return own
        if not self.runner.dry_run:
            shutil.copy(self.keep / "speed.json", own)
            return own
        return self.keep / "speed.json"

    def row_iterations(self, row: str) -> int:
        """The row's budget: --iterations, scaled by its measured speed where it differs."""
        if not costs_differ(row):
            return self.args.iterations
        path, measured = self.speed_file(), speed_row(row)
        if not path.is_file():
            sys.exit(f"{path} is missing: run --phases speed (quiet machine) before training "
                     f"row {row}")
        speed = json.loads(path.read_text())
        if measured not in speed or "base" not in speed:
            sys.exit(f"{path} has no speed of {measured} and base: run --rows base {measured} "
                     "--phases speed")
        base, this = speed["base"], speed[measured]
        # Equal wall clock: --iterations of base take iterations * base_steps / base_sps
        # seconds, and ROW runs relative_to_base times base's env steps/s (one run, one machine).
        seconds_in_base_steps = self.args.iterations * base["env_steps_per_iteration"]
        return round(seconds_in_base_steps * this["relative_to_base"]
                     / this["env_steps_per_iteration"])

    def phase_speed(self) -> None:
        rows = sorted({"base"} | {speed_row(r) for r in self.args.rows if costs_differ(r)})
        if rows == ["base"]:
            return
        n = self.args.speed_iterations
        self.runner.say(f"== speed of {' '.join(rows)} ({n} iterations each; needs a quiet "
                        "machine)")
        for row in rows:
            run = self.out / "speed" / row
            if not self.runner.dry_run:
                shutil.rmtree(run, ignore_errors=True)
            self.train_row(row, run, n, self.out / f"speed_{row}.log", fresh_log=True)
        if self.runner.dry_run:
            self.runner.say(f"# would write {self.out}/speed.json and speed.md from the runs")
            return
        path = self.out / "speed.json"
        speed = json.loads(path.read_text()) if path.is_file() else {}
        # Machines differ by 3x: a row's budget rests on its speed relative to base measured in
        # the same run; rows measured in an earlier run keep the ratio stored then.
        for row in rows:
            metrics = read_jsonl(self.out / "speed" / row / "metrics.jsonl")
            steady = metrics[2:]  # the first iterations pay for the checkpoint and warm-up
            speed[row] = {
                "env_steps_per_second": statistics.median(
                    m["perf/env_steps_per_second"] for m in steady),
                "env_steps_per_iteration": metrics[0]["env_steps"] // metrics[0]["iteration"],
                "iterations_measured": len(steady)}
        for row in rows:
            speed[row]["relative_to_base"] = (speed[row]["env_steps_per_second"]
                                              / speed["base"]["env_steps_per_second"])
        path.write_text(json.dumps(speed, indent=1) + "\n")
        lines = [("| row | env steps / iteration | env steps/s (median) | relative to base "
                  "(same run) |"), "|---|---:|---:|---:|"]
        lines += [f"| {row} | {s['env_steps_per_iteration']:,} | "
                  f"{s['env_steps_per_second']:,.0f} | {s['relative_to_base']:.3f} |"
                  for row, s in speed.items()]
        (self.out / "speed.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))

    def phase_train(self) -> None:
        for row in self.args.rows:
            run = self.out / row
            self.restore_row(row)
            iterations = self.row_iterations(row)
            done = self.last_iteration(run)
            if done >= iterations:
                self.runner.say(f"== {row}: {iterations} iterations, done")
                continue
            self.runner.say(f"== {row} from iteration {done} to {iterations}")
            self.train_row(row, run, iterations, self.out / f"{row}.log")
            if not self.runner.dry_run:
                print(*(self.out / f"{row}.log").read_text().splitlines()[-1:], sep="")

    # --- keeping ----------------------------------------------------------------------------

    def phase_keep(self) -> None:
        dry = self.runner.dry_run
        if not dry:
            self.keep.mkdir(parents=True, exist_ok=True)
            for name in ("speed.json", "speed.md"):
                if (self.out / name).is_file():
                    shutil.copy(self.out / name, self.keep / name)
        for row in self.args.rows:
            run = self.out / row
            # Orbax names a finished checkpoint by its iteration alone (one being written has a
            # suffix).
            steps = sorted(int(p.name) for p in (run / "checkpoints").glob("*")
                           if p.name.isdigit()) if (run / "checkpoints").is_dir() else []
            if not steps:
                continue
            self.runner.say(f"== keep {row} at iteration {steps[-1]} in {self.keep / row}")
            if dry:
                continue
            staging = self.keep / f".{row}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            (staging / "checkpoints").mkdir(parents=True)
            shutil.copy(run / "config.yaml", staging)
            with open(run / "metrics.jsonl", "rb") as source, \
                    gzip.open(staging / "metrics.jsonl.gz", "wb") as dest:
                shutil.copyfileobj(source, dest)
            if (run / "config_history.yaml").is_file():
                shutil.copy(run / "config_history.yaml", staging)
            shutil.copytree(run / "checkpoints" / str(steps[-1]),
                            staging / "checkpoints" / str(steps[-1]))
            shutil.rmtree(self.keep / row, ignore_errors=True)
            staging.rename(self.keep / row)  # never a half-copied row under its name
        # The tournaments so far (their configs and games; a resume replays nothing else), also
        # while they play: a line cut short by the copy is replayed on resume.
        for directory in [self.out / "round_robin", *sorted(self.out.glob("gauntlet_*"))]:
            if not (directory / "tournament.yaml").is_file():
                continue
            self.runner.say(f"== keep {directory.name} in {self.keep / directory.name}")
            if dry:
                continue
            staging = self.keep / f".{directory.name}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            shutil.copy(directory / "tournament.yaml", staging)
            if (directory / "results.md").is_file():
                shutil.copy(directory / "results.md", staging)
            with open(directory / "games.jsonl", "rb") as source, \
                    gzip.open(staging / "games.jsonl.gz", "wb") as dest:
                shutil.copyfileobj(source, dest)
            shutil.rmtree(self.keep / directory.name, ignore_errors=True)
            staging.rename(self.keep / directory.name)

    # --- tournaments ------------------------------------------------------------------------

    def rows_table(self, rows: list[str]) -> str:
        """Iterations, env steps and wall clock of each row given."""
        lines = ["| row | settings | iterations | env steps | wall clock (s, as measured) |",
                 "|---|---|---:|---:|---:|"]
        for row in rows:
            metrics = self.out / row / "metrics.jsonl"
            if not metrics.is_file():
                if self.runner.dry_run:
                    continue
                sys.exit(f"row {row} has no {metrics}: train it first")
            last, budget = read_jsonl(metrics)[-1], self.row_iterations(row)
            if last["iteration"] < budget:
                sys.exit(f"row {row} reached {last['iteration']} of its {budget} iterations: "
                         "train it first")
            settings = " ".join(ROW_SETTINGS[row]) or "(the config as shipped)"
            lines.append(f"| {row} | {settings} | {last['iteration']} | "
                         f"{int(last['env_steps']):,} | {last['perf/wall_seconds']:,.0f} |")
        return "\n".join(lines) + "\n"

    def tournament_yaml(self, pairing: str, name: str, placed: list[str], others: list[str],
                        searching: list[str]) -> str:
        """PAIRING (round_robin: all pairs; gauntlet: the first player against each other), its
        output NAME under OUT_DIR, and the players: the PLACED rows first, the rungs of
        configs/ladder.yaml around a 30-minute network, the OTHER rows, then ROW_search32 for
        each row of SEARCHING."""
        def policy(row):
            return f"  - {{name: {row}, kind: policy, run_dir: {self.out / row}, temperature: 0.0}}"
        lines = ["pairing: " + pairing, "players:"]
        lines += [policy(row) for row in placed]
        lines += ["  - {name: random, kind: random}", "  - {name: greedy, kind: greedy}"]
        for skill in (-5, -4):
            lines += [(f"  - {{name: fairy_skill{skill}_d1, kind: usi, "
                       "command: /usr/games/fairy-stockfish,"),
                      f'     options: ["Threads=1", "Skill Level={skill}"], depth: 1}}']
        lines += [policy(row) for row in others]
        lines += [f"  - {{name: {row}_search32, kind: search, run_dir: {self.out / row}, "
                  "simulations: 32}" for row in searching]
        lines += [f"games_per_pairing: {self.args.games}", "random_opening_plies: 4",
                  "max_plies: 320           # as on the ladder", "impasse: true",
                  "anchor: random", f"seed: {self.args.seed}", "concurrency: 0",
                  f"output_dir: {self.out / name}"]
        return "\n".join(lines) + "\n"

    def play_tournament(self, name: str) -> None:
        """Plays OUT_DIR/NAME.yaml into OUT_DIR/NAME; continues it where OUT_DIR/NAME (or, on a
        new machine, what phase keep kept of it) holds games already."""
        directory, kept = self.out / name, self.keep / name
        if not directory.exists() and (kept / "tournament.yaml").is_file():
            self.runner.say(f"== {name}: restored from {kept}")
            if not self.runner.dry_run:
                directory.mkdir(parents=True)
                shutil.copy(kept / "tournament.yaml", directory)
                with gzip.open(kept / "games.jsonl.gz", "rb") as source, \
                        open(directory / "games.jsonl", "wb") as dest:
                    shutil.copyfileobj(source, dest)
        if (directory / "tournament.yaml").is_file():
            self.runner.run([PYTHON, "-m", "shogi_jax.tournament", "--resume", "--output-dir",
                             directory, "--quiet"])
        else:
            self.runner.run([PYTHON, "-m", "shogi_jax.tournament", "--config",
                             self.out / f"{name}.yaml", "--quiet"])

    def ladder_elo(self, names: list[str]) -> None:
        """Every row played so far on the ladder's scale (OUT_DIR/ladder_elo.md), from the round
        robin's and the gauntlets' games with the ladder's own between its rungs."""
        sources = [d for d in [self.out / "round_robin", *sorted(self.out.glob("gauntlet_*"))]
                   if (d / "games.jsonl").is_file()]
        players = set()
        for source in sources:
            for game in read_jsonl(source / "games.jsonl"):
                players |= {game["black"], game["white"]}
        if self.runner.dry_run:  # the tournaments to be played are not there yet
            sources += [self.out / name for name in names if self.out / name not in sources]
            players |= {"ROWS..."}
        self.runner.run([PYTHON, "scripts/ladder_elo.py", *sources, LADDER_GAMES,
                         "--order", *RUNGS, "--players", *sorted(players - set(RUNGS))],
                        write_to=self.out / "ladder_elo.md")

    def phase_play(self) -> None:
        rows = self.args.rows
        for row in rows:
            self.restore_row(row)
        searching = [row for row in self.args.search_rows if row in rows]
        table = self.rows_table(rows)
        self.runner.write(self.out / "rows.md", table)
        if not self.runner.dry_run:
            print(table, end="")
        self.runner.write(self.out / "round_robin.yaml",
                          self.tournament_yaml("round_robin", "round_robin", [], rows,
                                               searching))
        self.play_tournament("round_robin")
        self.ladder_elo(["round_robin"])
        self.runner.say(f"rows: {self.out}/rows.md; round robin: "
                        f"{self.out}/round_robin/results.md; on the ladder: "
                        f"{self.out}/ladder_elo.md")

    def phase_gauntlet(self) -> None:
        """Rows trained after the round robin join it by a gauntlet each: against the rungs
        (their place on the ladder) and the rows of --gauntlet-opponents (head to head)."""
        for row in [*self.args.rows, *self.args.gauntlet_opponents]:
            self.restore_row(row)
        table = self.rows_table(self.args.rows)
        self.runner.write(self.out / "rows_gauntlet.md", table)
        if not self.runner.dry_run:
            print(table, end="")
        for row in self.args.rows:
            self.runner.write(self.out / f"gauntlet_{row}.yaml",
                              self.tournament_yaml("gauntlet", f"gauntlet_{row}", [row],
                                                   self.args.gauntlet_opponents, []))
            self.play_tournament(f"gauntlet_{row}")
        self.ladder_elo([f"gauntlet_{row}" for row in self.args.rows])
        self.runner.say(f"gauntlets: {self.out}/gauntlet_*/results.md; on the ladder: "
                        f"{self.out}/ladder_elo.md")

    def main(self) -> None:
        if not self.runner.dry_run:
            self.out.mkdir(parents=True, exist_ok=True)
        for phase in PHASES:  # in this order, whatever the order given
            if phase in self.args.phases:
                getattr(self, f"phase_{phase}")()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", nargs="?", default="runs/ablation",
                        help="scratch directory for the rows and tournaments (default "
                             "runs/ablation; relative to the repository root)")
    parser.add_argument("--rows", nargs="+",
                        default=["today", "base", "shaping", "stagger", "wdl", "gamma1",
                                 "pool", "all", "az"],
                        help="the rows (default: the round robin's nine)")
    parser.add_argument("--phases", nargs="+", default=["speed", "train", "keep", "play"],
                        help=f"of {', '.join(PHASES)} (default: speed train keep play)")
    parser.add_argument("--iterations", type=int, default=498,
                        help="base's iterations: the rows' equal wall clock (default 498)")
    parser.add_argument("--speed-iterations", type=int, default=12)
    parser.add_argument("--games", type=int, default=64, help="games a pairing (default 64)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-rev", default="d23ddf9",
                        help="the commit row `today` trains at (default d23ddf9)")
    parser.add_argument("--search-rows", nargs="*", default=["today", "az"],
                        help="rows that also play searching, 32 simulations, as ROW_search32 "
                             "(default: today az)")
    parser.add_argument("--gauntlet-opponents", nargs="+",
                        default=["today", "base", "shaping", "wdl", "all"])
    parser.add_argument("--keep", default="experiments/ablation",
                        help="where phase keep copies what the ablation needs to go on "
                             "elsewhere (default experiments/ablation)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the commands, run none, write nothing")
    args = parser.parse_args(argv)
    for name, values, allowed in (("--rows", args.rows, ALL_ROWS),
                                  ("--search-rows", args.search_rows, ALL_ROWS),
                                  ("--gauntlet-opponents", args.gauntlet_opponents, ALL_ROWS),
                                  ("--phases", args.phases, PHASES)):
        unknown = [v for v in values if v not in allowed]
        if unknown:
            parser.error(f"{name}: unknown {', '.join(map(repr, unknown))} "
                         f"(one of: {' '.join(allowed)})")
    for name in ("iterations", "speed_iterations", "games"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, "
                         f"got {getattr(args, name)}")
    return args


if __name__ == "__main__":
    Ablation(parse_args()).main()
