"""How a player's games under a USI match runner ended: W / D / L, score, and how the wins,
draws and losses came (mate, resignation, declaration, repetition, move limit, the opponent's
illegal move or time), per opponent, from the runner's CSA records.

    python -m cshogi.cli trained.sh random.sh --games 400 --name1 trained --name2 random \\
        --csa usi_vs_random.csa --multi-csa
    python scripts/usi_results.py usi_vs_*.csa --player trained
"""
from __future__ import annotations

import argparse
import sys

from shogi_jax.evaluation.csa_results import player_endings, summary_markdown


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[3:]))
    parser.add_argument("records", nargs="+", help="CSA files (multi-game files too)")
    parser.add_argument("--player", required=True, help="the player's name in the records")
    args = parser.parse_args(argv)
    try:
        endings = player_endings(args.records, args.player)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary_markdown(args.player, endings), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
