"""pgx's own AlphaZero example (train.py here, adapted: README.md) trained on
`shogi_jax.make("shogi")` for a wall-clock budget, then placed on the ladder of real engines
(docs/ladder.md), as the learning bar places our trainer's network:
  1. train.py for --minutes (60: the learning bar's budget) from seed --seed, its checkpoints
     and log.jsonl in RUN_DIR/checkpoints;
  2. its last checkpoint warmed up as a USI engine (usi_engine.py here: XLA's compiled programs
     kept on disk, so the tournament's engines start within its handshake timeout);
  3. a gauntlet under the ladder's rules (configs/ladder.yaml: 4 random opening plies, 320
     plies): the network (its argmax, or its search with --engine-simulations) against the
     --rungs (random, greedy, Fairy-Stockfish at depth 1 with Skill Level -5 and -4),
     --ladder-games each, our tournament CLI refereeing;
  4. its ladder Elo from those games and the ladder's own (scripts/ladder_elo.py).
A smoke run: --minutes 4 --ladder-games 4 --rungs random greedy. Needs pip install -e
".[pgx_az,test]"; the Fairy-Stockfish rungs: apt-get install fairy-stockfish.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from driver import PYTHON, Runner, absolute

HERE = Path(__file__).resolve().parent
FSF = "/usr/games/fairy-stockfish"
RUNGS = ("random", "greedy", "fairy_skill-5_d1", "fairy_skill-4_d1")
FAIRY_SKILL = {"fairy_skill-5_d1": -5, "fairy_skill-4_d1": -4, "fairy_skill-3_d1": -3}
LADDER_ORDER = ("random", "greedy", *FAIRY_SKILL)  # weakest first, as configs/ladder.yaml
LADDER_GAMES = "docs/ladder_games/ladder_pass2_low.jsonl.gz"  # the low rungs' own games
PLAYER = "pgx_az"


def ladder_yaml(engine: str, rungs, fsf: str, games: int, seed: int, out: Path) -> str:
    """A gauntlet of the network against `rungs`, whose names and settings are
    configs/ladder.yaml's. The engine's `depth 1` only bounds the wait for its move."""
    lines = ["pairing: gauntlet", "players:",
             f"  - {{name: {PLAYER}, kind: usi, command: {json.dumps(engine)}, depth: 1,",
             "     move_timeout: 120}"]
    for rung in rungs:
        if rung in FAIRY_SKILL:
            lines += [f"  - {{name: {rung}, kind: usi, command: {fsf},",
                      f'     options: ["Threads=1", "Skill Level={FAIRY_SKILL[rung]}"], depth: 1}}']
        else:
            lines.append(f"  - {{name: {rung}, kind: {rung}}}")
    lines += [f"games_per_pairing: {games}", "random_opening_plies: 4", "max_plies: 320",
              "impasse: true", "anchor: random", f"seed: {seed}", f"output_dir: {out}"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", nargs="?", default="runs/pgx_alphazero",
                        help="where everything goes (default runs/pgx_alphazero; relative to "
                             "the repository root)")
    parser.add_argument("--minutes", type=float, default=60.0,
                        help="train.py's wall-clock budget (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="train.py's seed and the gauntlet's")
    parser.add_argument("--train-args", default="",
                        help="more KEY=VALUE settings for train.py, last (e.g. "
                             '"num_simulations=16 selfplay_batch_size=64")')
    parser.add_argument("--engine-simulations", type=int, default=0,
                        help="0 (default): the network's argmax on the ladder; N: its search")
    parser.add_argument("--rungs", nargs="+", default=list(RUNGS),
                        help=f"the gauntlet's opponents (default {' '.join(RUNGS)})")
    parser.add_argument("--ladder-games", type=int, default=100,
                        help="games against each rung (even; default 100)")
    parser.add_argument("--fsf", default=FSF, help=f"Fairy-Stockfish (default {FSF})")
    parser.add_argument("--skip-training", action="store_true",
                        help="place the checkpoints already in RUN_DIR/checkpoints")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the commands, run none, write nothing")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error(f"--minutes must be more than 0, got {args.minutes}")
    if args.ladder_games < 2 or args.ladder_games % 2:
        parser.error(f"--ladder-games must be even and at least 2, got {args.ladder_games}")
    if args.engine_simulations < 0:
        parser.error(f"--engine-simulations must be 0 or more, got {args.engine_simulations}")
    unknown = [rung for rung in args.rungs if rung not in LADDER_ORDER]
    if unknown:
        parser.error(f"--rungs: unknown {unknown[0]!r} ({', '.join(LADDER_ORDER)})")
    if (not args.dry_run and any(rung in FAIRY_SKILL for rung in args.rungs)
            and not os.access(args.fsf, os.X_OK)):
        parser.error(f"no Fairy-Stockfish at {args.fsf} (apt-get install fairy-stockfish, or "
                     "--rungs random greedy)")
    train_args = shlex.split(args.train_args)
    if any("=" not in word for word in train_args):
        parser.error(f"--train-args must be KEY=VALUE words, got {args.train_args!r}")

    runner = Runner(args.dry_run)
    run = absolute(args.run_dir)  # absolute: the tournament starts the engine from anywhere
    checkpoints = run / "checkpoints"

    if not args.skip_training:
        if not runner.dry_run and any(checkpoints.glob("*.ckpt")):
            parser.error(f"{checkpoints} has checkpoints already: another RUN_DIR, or "
                         "--skip-training to place them")
        # train.py imports its network.py from its own folder: run it as a script.
        runner.run([PYTHON, HERE / "train.py", f"seed={args.seed}",
                    f"time_budget_minutes={args.minutes:g}", "max_num_iters=1000000",
                    f"ckpt_dir={checkpoints}", *train_args])

    engine = [PYTHON, HERE / "usi_engine.py", checkpoints]
    if args.engine_simulations:
        engine += ["--simulations", str(args.engine_simulations)]
    runner.run([*engine, "--warm-up"])
    runner.write(run / "ladder.yaml",
                 ladder_yaml(shlex.join(map(str, engine)), args.rungs, args.fsf,
                             args.ladder_games, args.seed, run / "ladder"))
    if runner.dry_run:  # a rerun places the network trained now
        runner.say(f"# would remove {run}/ladder")
    else:
        shutil.rmtree(run / "ladder", ignore_errors=True)
    runner.run([PYTHON, "-m", "shogi_jax.tournament", "--config", run / "ladder.yaml",
                "--quiet"])
    rated = [rung for rung in LADDER_ORDER if rung in args.rungs]
    if rated[1:]:  # the Elo needs a rated rung above random
        runner.run([PYTHON, "scripts/ladder_elo.py", run / "ladder", LADDER_GAMES,
                    "--order", *rated, "--players", PLAYER], tee=True,
                   write_to=run / "ladder_elo.md")
    runner.say(f"training log: {checkpoints}/log.jsonl; games and results: {run}/ladder "
               f"(results.md); ladder Elo: {run}/ladder_elo.md")


if __name__ == "__main__":
    main()
