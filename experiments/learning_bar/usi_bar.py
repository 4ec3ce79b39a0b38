"""A trained run through our USI engine under cshogi's runner (`python -m cshogi.cli`: cshogi
referees every move): --usi-games (400) games against our random and greedy USI engines and,
where it is installed, --fsf-games (200) against Fairy-Stockfish at Skill Level 0 with 50 ms a
move (byoyomi; ours has 1 s); then how each game ended (scripts/usi_results.py: mate,
resignation, declaration, repetition, ...) in OUT_DIR/usi_results.md. The USI part of the
learning bar (run.py here).

Fairy-Stockfish at 50 ms a move is weaker on a busy machine: play its games alone
(--fsf-games 0 leaves them out). Engine arguments go in one string with an equals sign:
--usi-args="--mate-in-one --simulations 32".
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from driver import PYTHON, Runner, absolute

FSF = "/usr/games/fairy-stockfish"
# The engine of the bar: Skill Level 0, 50 ms a move (experiments/learning_bar/bar_on_ladder.yaml
# places the same engine on the ladder; tests/test_config.py checks they agree).
FSF_OPTIONS = "Skill Level:0,Threads:1"
FSF_BYOYOMI = ["--byoyomi", "1000", "50"]


def usi_bar(runner: Runner, run: Path, out: Path, *, usi_games: int, fsf: str, fsf_games: int,
            usi_args: list[str]) -> None:
    if not runner.dry_run:
        out.mkdir(parents=True, exist_ok=True)
    runner.run([PYTHON, "-m", "shogi_jax.usi", "--checkpoint", run, *usi_args,
                "--write-launcher", out / "trained.sh"])
    for player in ("random", "greedy"):
        runner.run([PYTHON, "-m", "shogi_jax.usi", "--player", player,
                    "--write-launcher", out / f"{player}.sh"])
    if runner.dry_run:  # cshogi appends: a rerun must not count old games
        runner.say(f"# would remove {out}/usi_vs_*.csa")
    else:
        for old in out.glob("usi_vs_*.csa"):
            old.unlink()
    for opponent in ("random", "greedy"):
        runner.run([PYTHON, "-m", "cshogi.cli", out / "trained.sh", out / f"{opponent}.sh",
                    "--games", usi_games, "--keep-process", "--time", "600000", "--draw", "512",
                    "--name1", "trained", "--name2", opponent,
                    "--csa", out / f"usi_vs_{opponent}.csa", "--multi-csa"],
                   tail=7, write_to=out / f"usi_vs_{opponent}.txt")
    if fsf_games > 0 and os.access(fsf, os.X_OK):
        runner.run([PYTHON, "-m", "cshogi.cli", out / "trained.sh", fsf,
                    "--options2", FSF_OPTIONS, "--games", fsf_games, "--keep-process",
                    *FSF_BYOYOMI, "--draw", "512", "--name1", "trained",
                    "--name2", "fairy_skill0_50ms", "--csa", out / "usi_vs_fairy_skill0_50ms.csa",
                    "--multi-csa"], tail=7, write_to=out / "usi_vs_fairy_skill0_50ms.txt")
    elif fsf_games > 0:
        print(f"no Fairy-Stockfish at {fsf} (apt-get install fairy-stockfish): its games are "
              "left out", file=sys.stderr)
    records = sorted(out.glob("usi_vs_*.csa")) or [out / "usi_vs_*.csa"]
    runner.run([PYTHON, "scripts/usi_results.py", *records, "--player", "trained"],
               tee=True, write_to=out / "usi_results.md")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="the trained run (its latest checkpoint plays)")
    parser.add_argument("out_dir", help="launchers, CSA records and results go here")
    parser.add_argument("--usi-games", type=int, default=400)
    parser.add_argument("--fsf-games", type=int, default=200)
    parser.add_argument("--fsf", default=FSF, help=f"Fairy-Stockfish (default {FSF})")
    parser.add_argument("--usi-args", default="",
                        help='our USI engine\'s arguments, e.g. --usi-args="--mate-in-one"')
    parser.add_argument("--dry-run", action="store_true",
                        help="print the commands, run none, write nothing")
    args = parser.parse_args(argv)
    run = absolute(args.run_dir)
    if not args.dry_run and not run.is_dir():
        parser.error(f"run_dir {run} is not a directory")
    for name in ("usi_games", "fsf_games"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be 0 or more, "
                         f"got {getattr(args, name)}")
    # absolute: cshogi starts each engine as one command, from anywhere
    usi_bar(Runner(args.dry_run), run, absolute(args.out_dir), usi_games=args.usi_games,
            fsf=args.fsf, fsf_games=args.fsf_games, usi_args=shlex.split(args.usi_args))


if __name__ == "__main__":
    main()
