"""How a player's games ended: W / D / L, score, and how the wins, draws and losses came (mate,
resignation, declaration, repetition, move limit, the opponent's illegal move or time), per
opponent, from a USI runner's CSA records or from our tournaments' games logs.

    python -m cshogi.cli trained.sh random.sh --games 400 --name1 trained --name2 random \\
        --csa usi_vs_random.csa --multi-csa
    python scripts/usi_results.py usi_vs_*.csa --player trained
    python scripts/usi_results.py runs/ablation/round_robin --player base --all-opponents
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shogi_jax.arena.csa_results import player_endings, record_endings, summary_markdown
from shogi_jax.notation.records import read_games


def endings_of(sources: list[str], player: str):
    """The player's endings from CSA files, tournament directories and games.jsonl[.gz] files."""
    logs = [source for source in sources
            if Path(source).is_dir() or source.endswith((".jsonl", ".jsonl.gz"))]
    csa = [source for source in sources if source not in logs]
    return player_endings(csa, player) + record_endings(read_games(logs), player)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[3:]))
    parser.add_argument("records", nargs="+",
                        help="CSA files (multi-game files too; .csa.gz), tournament "
                             "directories or their games.jsonl[.gz]")
    parser.add_argument("--player", required=True, help="the player's name in the records")
    parser.add_argument("--all-opponents", action="store_true",
                        help="one row for all opponents together")
    args = parser.parse_args(argv)
    try:
        endings = endings_of(args.records, args.player)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not endings:
        print(f"error: {args.player!r} plays no game in {', '.join(args.records)}",
              file=sys.stderr)
        return 2
    if args.all_opponents:
        endings = [ending._replace(opponent="all") for ending in endings]
    print(summary_markdown(args.player, endings), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
