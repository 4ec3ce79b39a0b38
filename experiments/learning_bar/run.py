"""The learning bar end to end, on the CPU:
  1. train configs/cpu.yaml for at most 60 minutes of wall clock (--seed);
  2. our tournament CLI: the final checkpoint against uniform random and greedy-material,
     --bar-games (400) a pairing, colours alternated, 4 random opening plies, max_plies 512;
  3. the same checkpoint through our USI engine against the random and greedy USI engines,
     driven by cshogi's client (usi_bar.py here), usi_games (400) each, and, where it is
     installed, against Fairy-Stockfish at Skill Level 0 with 50 ms a move, --fsf-games (200);
  4. its place on the ladder of real engines (docs/ladder.md): a gauntlet against the rungs
     around it (random, greedy, Fairy-Stockfish at depth 1 with Skill Level -5, -4 and -3),
     --ladder-games (100) each under the ladder's rules, rated with the ladder's own games
     (scripts/ladder_elo.py; where Fairy-Stockfish is installed); the raw policy (argmax);
  5. the Elo curve of the evaluations during training (PNG), and the HTML reports of the run
     and of the tournament.
The USI games' engine plays with the three play-time tactics by default (--usi-args="--mate-in-
one --avoid-mate-in-one --material-lookahead"). Fairy-Stockfish at 50 ms a move is weaker on a
busy machine: run the bar alone. To repeat exactly the same training on any machine, replace the
time limit by the iteration count the documented run reached:
--train-limit="--set train.iterations=993" (README.md here). A quick try:
--train-limit="--set train.iterations=2 --set evaluation.every_iterations=1" --bar-games 4
/tmp/bar_try 2. Needs pip install -e ".[test]"; Fairy-Stockfish: apt-get install fairy-stockfish.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from driver import PYTHON, Runner, absolute

from shogi_jax.cli import exit_codes

HERE = Path(__file__).resolve().parent
FSF = "/usr/games/fairy-stockfish"
TRAIN_LIMIT = "--set train.time_limit_minutes=60 --set train.iterations=100000"
USI_ARGS = "--mate-in-one --avoid-mate-in-one --material-lookahead"
LADDER_RUNGS = ("random", "greedy", "fairy_skill-5_d1", "fairy_skill-4_d1", "fairy_skill-3_d1")


def bar_tournament_yaml(run: Path, out: Path, games: int) -> str:
    return "\n".join([
        "players:",
        "  - {name: random, kind: random}",
        "  - {name: greedy, kind: greedy}",
        (f"  - {{name: trained, kind: policy, run_dir: {run}, checkpoint: latest, "
         "temperature: 0.0}"),
        f"games_per_pairing: {games}", "random_opening_plies: 4", "max_plies: 512",
        "impasse: true", "anchor: random", "seed: 0", f"output_dir: {out}/tournament"]) + "\n"


def ladder_yaml(run: Path, out: Path, fsf: str, games: int, seed: int) -> str:
    """The rungs' names and settings are configs/ladder.yaml's."""
    lines = ["pairing: gauntlet", "players:",
             (f"  - {{name: trained, kind: policy, run_dir: {run}, checkpoint: latest, "
              "temperature: 0.0}"),
             "  - {name: random, kind: random}", "  - {name: greedy, kind: greedy}"]
    for skill in (-5, -4, -3):
        lines += [f"  - {{name: fairy_skill{skill}_d1, kind: usi, command: {fsf},",
                  f'     options: ["Threads=1", "Skill Level={skill}"], depth: 1}}']
    lines += [f"games_per_pairing: {games}", "random_opening_plies: 4", "max_plies: 320",
              "impasse: true", "anchor: random", f"seed: {seed}", f"output_dir: {out}/ladder"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", nargs="?", default="runs/learning_bar",
                        help="the training run (default runs/learning_bar; relative to the "
                             "repository root); the measurements go to RUN_DIR/bar")
    parser.add_argument("usi_games", nargs="?", type=int, default=400)
    parser.add_argument("--bar-games", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0, help="train.seed and the ladder's seed")
    parser.add_argument("--train-limit", default=TRAIN_LIMIT,
                        help=f'settings that bound training, last (default "{TRAIN_LIMIT}")')
    parser.add_argument("--fsf", default=FSF, help=f"Fairy-Stockfish (default {FSF})")
    parser.add_argument("--fsf-games", type=int, default=200)
    parser.add_argument("--ladder-games", type=int, default=100)
    parser.add_argument("--usi-args", default=USI_ARGS,
                        help=f'our USI engine\'s arguments (default "{USI_ARGS}")')
    parser.add_argument("--dry-run", action="store_true",
                        help="print the commands, run none, write nothing")
    args = parser.parse_args(argv)
    for name in ("usi_games", "bar_games", "fsf_games", "ladder_games"):
        if getattr(args, name) < 0:
            parser.error(f"{name.replace('_', '-')} must be 0 or more, got {getattr(args, name)}")
    train_limit = shlex.split(args.train_limit)
    if len(train_limit) % 2 or any(flag != "--set" for flag in train_limit[::2]):
        parser.error(f"--train-limit must be --set KEY=VALUE pairs, got {args.train_limit!r}")

    runner = Runner(args.dry_run)
    run = absolute(args.run_dir)
    out = run / "bar"  # absolute: cshogi starts each engine as one command, from anywhere

    runner.run([PYTHON, "-m", "shogi_jax.train", "--config", "configs/cpu.yaml", "--run-dir", run,
                "--quiet", "--set", f"train.seed={args.seed}",
                "--set", "evaluation.every_iterations=150",
                "--set", "checkpoint.every_iterations=150", *train_limit],
               ok=(exit_codes.FINISHED, exit_codes.STOPPED))  # its time limit ends it: "stopped"

    runner.write(out / "tournament.yaml", bar_tournament_yaml(run, out, args.bar_games))
    runner.run([PYTHON, "-m", "shogi_jax.tournament", "--config", out / "tournament.yaml",
                "--quiet"])

    runner.run([PYTHON, HERE / "usi_bar.py", run, out, "--usi-games", args.usi_games,
                "--fsf", args.fsf, "--fsf-games", args.fsf_games,
                f"--usi-args={args.usi_args}"])

    if os.access(args.fsf, os.X_OK):
        runner.write(out / "ladder.yaml",
                     ladder_yaml(run, out, args.fsf, args.ladder_games, args.seed))
        if runner.dry_run:  # a rerun places the network trained now
            runner.say(f"# would remove {out}/ladder")
        else:
            shutil.rmtree(out / "ladder", ignore_errors=True)
        runner.run([PYTHON, "-m", "shogi_jax.tournament", "--config", out / "ladder.yaml",
                    "--quiet"])
        runner.run([PYTHON, "scripts/ladder_elo.py", out / "ladder",
                    "docs/ladder_games/ladder_pass2_low.jsonl.gz", "--order", *LADDER_RUNGS,
                    "--players", "trained"], tee=True, write_to=out / "ladder_elo.md")
        runner.run([PYTHON, "scripts/usi_results.py", out / "ladder", "--player", "trained"],
                   write_to=out / "ladder_elo.md", append=True)
    else:
        print(f"no Fairy-Stockfish at {args.fsf}: the ladder gauntlet is left out",
              file=sys.stderr)

    runner.run([PYTHON, "scripts/plot_elo.py", run, "--output", out / "elo.png",
                "--x", "minutes"])
    runner.run([PYTHON, "-m", "shogi_jax.report", run, "--output", out / "run_report.html"])
    runner.run([PYTHON, "-m", "shogi_jax.report", out / "tournament"])
    runner.say(f"tournament: {out}/tournament/results.md; USI: {out}/usi_results.md; "
               f"Elo curve: {out}/elo.png")
    runner.say(f"on the ladder: {out}/ladder_elo.md")
    runner.say(f"pages to look at: {out}/run_report.html, {out}/tournament/report.html")


if __name__ == "__main__":
    main()
