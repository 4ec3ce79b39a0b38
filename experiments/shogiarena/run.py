"""A small match under shogiarena (pip; tournaments, SPRT and SPSA for USI engines, offline):
our USI engine (the shipped network, through a launcher) against Fairy-Stockfish at Skill
Level 0, or against our engine's greedy player (--opponent greedy). What it printed and the
quirks: README.md here.

Install (shogiarena in its own venv, so the project's environment is not touched):
  python3 -m venv /work/venv-arena && /work/venv-arena/bin/pip install shogiarena  # 1.3.2 tried
  apt-get install -y fairy-stockfish                                                # /usr/games
  pip install -e ".[test]"   # this project (and cshogi, for the check at the end), in --python

OUT_DIR gets the launcher, the engine and tournament YAMLs, the openings and shogiarena's run
directory (OUT_DIR/run: games, logs, results/). Then shogiarena's summary, and our check of every
game (check_games.py here).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from driver import Runner

HERE = Path(__file__).resolve().parent
VENV_ARENA = "/work/venv-arena/bin/shogiarena"
# Openings (USI moves from the start position); each is played twice, colours swapped.
OPENINGS = ["7g7f 3c3d", "2g2f 8c8d", "7g7f 8c8d", "5g5f 3c3d", "2g2f 3c3d"]


def engine_yaml(name: str, path: Path, out: Path) -> str:
    return (f'name: "{name}"\nengine_path: "{path}"\nworking_directory: "{out}"\n'
            "handshake_timeout: 300   # the first start compiles the network and the rules\n")


def fairy_yaml(name: str, fairy_stockfish: str, skill: int) -> str:
    return (f'name: "{name}"\nengine_path: "{fairy_stockfish}"\noptions:\n  Threads: 1\n'
            f'  Hash: 16\n  "Skill Level": {skill}\n')


def tournament_yaml(out: Path, opponent: str, opponent_name: str, games: int,
                    byoyomi_ms: int) -> str:
    return f"""experiment_name: "shogi_jax_vs_{opponent}"
engines:                     # the names here are the ones in the results (else "<yaml>@<hash>")
  - name: "shogi_jax-pretrained"
    engine_path: "{out}/shogi_jax_pretrained.yaml"
  - name: "{opponent_name}"
    engine_path: "{out}/opponent.yaml"
tournament:
  scheduler: "round_robin"
  games_per_pair: {games}
  num_parallel: 1
rules:
  time_control:
    time_ms: 0               # byoyomi only: shogiarena wants the main time given, as 0
    byoyomi_ms: {byoyomi_ms}
  initial_positions:
    type: "file"
    source: "{out}/openings.txt"
    source_format: "usi_line"
    flip_policy: "pair_both"
    selection_policy: "without_replacement"
  repetition_occurrences_to_draw: 4   # sennichite: the fourth occurrence
  adjudication:
    max_plies: 320
    # The default (true) sets "MaxMovesToDraw|Draw_Ply" to max_plies and fails to start an engine
    # that offers neither (ours, Fairy-Stockfish): "did not expose options: MaxMovesToDraw,
    # Draw_Ply".
    sync_max_plies_with_engine: false
dashboard:
  enabled: false
logging:
  usi_transcript: true
"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", help="where everything is written (relative to the current "
                                        "directory)")
    parser.add_argument("--shogiarena", default=None,
                        help=f"the shogiarena command (default {VENV_ARENA} where it is, else "
                             "shogiarena on PATH)")
    parser.add_argument("--python", default="python",
                        help="the Python that runs our engine and the check (default python)")
    parser.add_argument("--fairy-stockfish", default="/usr/games/fairy-stockfish")
    parser.add_argument("--games", type=int, default=10,
                        help="even, at most 10: each of the 5 openings with both colours")
    parser.add_argument("--byoyomi-ms", type=int, default=300)
    parser.add_argument("--fsf-skill", type=int, default=0)
    parser.add_argument("--opponent", choices=("fairy_stockfish", "greedy"),
                        default="fairy_stockfish")
    parser.add_argument("--arena-dry-run", action="store_true",
                        help="shogiarena only checks the configuration and the schedule")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the commands, run none, write nothing")
    args = parser.parse_args(argv)
    if args.games < 2 or args.games > 2 * len(OPENINGS) or args.games % 2:
        parser.error(f"--games must be even, from 2 to {2 * len(OPENINGS)}; got {args.games}")
    if args.byoyomi_ms < 1:
        parser.error(f"--byoyomi-ms must be at least 1, got {args.byoyomi_ms}")
    shogiarena = args.shogiarena or (VENV_ARENA if os.access(VENV_ARENA, os.X_OK)
                                     else "shogiarena")

    runner = Runner(args.dry_run)
    # absolute: shogiarena starts each engine from its own directory
    out = Path(args.out_dir).expanduser().resolve()
    if not args.dry_run:
        out.mkdir(parents=True, exist_ok=True)

    # Our engine as one executable without arguments (README "GUI registration"); run from the
    # repository root, so python -m shogi_jax works even when not installed.
    runner.run([args.python, "-m", "shogi_jax.usi", "--pretrained", "--write-launcher",
                out / "shogi_jax_pretrained.sh"])
    runner.write(out / "shogi_jax_pretrained.yaml",
                 engine_yaml("shogi_jax-pretrained", out / "shogi_jax_pretrained.sh", out))
    if args.opponent == "greedy":
        # Our engine against itself: the greedy-material player (no network) as the opponent.
        runner.run([args.python, "-m", "shogi_jax.usi", "--player", "greedy",
                    "--write-launcher", out / "shogi_jax_greedy.sh"])
        opponent_name = "shogi_jax-greedy"
        runner.write(out / "opponent.yaml",
                     engine_yaml(opponent_name, out / "shogi_jax_greedy.sh", out))
    else:
        opponent_name = f"fairy-stockfish-skill{args.fsf_skill}"
        runner.write(out / "opponent.yaml",
                     fairy_yaml(opponent_name, args.fairy_stockfish, args.fsf_skill))
    runner.write(out / "openings.txt", "\n".join(OPENINGS) + "\n")
    runner.write(out / "tournament.yaml",
                 tournament_yaml(out, args.opponent, opponent_name, args.games,
                                 args.byoyomi_ms))

    # --output-dir: shogiarena's other files (instances/) go under OUT_DIR, not into the
    # current directory.
    log = runner.run([shogiarena, "--output-dir", out / "arena_output", "run", "tournament",
                      out / "tournament.yaml", "--run-dir", out / "run", "--no-resume",
                      *(["--dry-run"] if args.arena_dry_run else [])],
                     tee=True, write_to=out / "arena.log", with_stderr=True)
    if args.arena_dry_run:
        return
    runner.run([shogiarena, "results", "summary", out / "run"], tee=True,
               write_to=out / "summary.txt")
    if not runner.dry_run:
        print((out / "run" / "results" / "summary_btd.json").read_text())
        print("shogiarena warnings/errors about our engine:")
        ours = [line for line in log.splitlines()
                if ("WARNING" in line or "ERROR" in line) and "shogi_jax" in line.lower()]
        print("\n".join(ours) or "  none")
    runner.run([args.python, HERE / "check_games.py", out / "run"])


if __name__ == "__main__":
    main()
