"""Elo of a ladder from the games of one or more tournament directories (their games.jsonl):
one maximum-likelihood fit over every game (random = 0 unless --anchor), and for each pair of
neighbours on the ladder the Elo difference with its 95% interval from their games alone.

    python scripts/ladder_elo.py tournaments/ladder [tournaments/net_gauntlet ...] \
        --order random greedy fairy_skill-5_d1 ...

Players with the same name in several directories are the same player (a network placed on the
ladder by a gauntlet against some rungs joins the ladder's own games). --order gives the ladder's
order for the neighbour table (default: by the joint rating).
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

from shogi_jax.evaluation.tournament import GAMES_LOG, Standings, elo_of


def read_games(sources) -> list[dict]:
    """The games of tournament directories (their games.jsonl) or of games.jsonl files (.gz
    too: docs/ladder_games keeps the measured ladders' games)."""
    games = []
    for source in sources:
        path = Path(source) / GAMES_LOG if Path(source).is_dir() else Path(source)
        if not path.is_file():
            raise SystemExit(f"error: {path} does not exist (not a tournament directory?)")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            games += [json.loads(line) for line in lines if line.strip()]
    return games


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directories", nargs="+",
                        help="tournament output directories or games.jsonl[.gz] files")
    parser.add_argument("--anchor", default="random", help="Elo 0 (default: random)")
    parser.add_argument("--order", nargs="+", help="the ladder's order, weakest first")
    args = parser.parse_args(argv)
    games = read_games(args.directories)
    names = sorted({game[side] for game in games for side in ("black", "white")})
    if args.anchor not in names:
        raise SystemExit(f"error: the anchor {args.anchor!r} played no game here")
    fit = elo_of(Standings.of_records(names, games), args.anchor)
    rating = dict(zip(fit.names, fit.ratings))
    order = args.order or sorted(names, key=rating.get)
    unknown = [name for name in order if name not in names]
    if unknown:
        raise SystemExit(f"error: --order names players without games: {', '.join(unknown)}")
    print(f"{len(games)} games from {', '.join(args.directories)}\n")
    print(f"| player | Elo ({args.anchor} = 0) | 95% CI | games |")
    print("|---|---:|---|---:|")
    played = Standings.of_records(names, games).games().sum(1)
    for name in order:
        k = fit.names.index(name)
        print(f"| {name} | {fit.ratings[k]:.0f} | [{fit.ci95_low[k]:.0f}, {fit.ci95_high[k]:.0f}]"
              f" | {played[names.index(name)]} |")
    print("\n| neighbours | games | W-D-L (upper's) | Elo difference | 95% CI |")
    print("|---|---:|---|---:|---|")
    for lower, upper in zip(order, order[1:]):
        between = [g for g in games if {g["black"], g["white"]} == {lower, upper}]
        if not between:
            print(f"| {lower} / {upper} | 0 | — | — | — |")
            continue
        pair = Standings.of_records((lower, upper), between)
        pair_fit = elo_of(pair, lower)
        wins, losses, draws = pair.wins[1, 0], pair.wins[0, 1], pair.draws[0, 1]
        print(f"| {lower} / {upper} | {len(between)} | {wins}-{draws}-{losses} | "
              f"{pair_fit.ratings[1]:.0f} | [{pair_fit.ci95_low[1]:.0f}, "
              f"{pair_fit.ci95_high[1]:.0f}] |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
