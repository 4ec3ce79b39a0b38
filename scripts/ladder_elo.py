"""Elo of a ladder from the games of one or more tournament directories (their games.jsonl).

    python scripts/ladder_elo.py tournaments/ladder [tournaments/net_gauntlet ...] \
        --order random greedy fairy_skill-5_d1 ...

The rungs (--order, weakest first; default: every player, ordered by the tournaments' joint
Davidson fit) are rated along the chain of neighbours: each step is the Elo difference of the
two neighbours' games alone, from their score with draws as half points (match_elo: the
cutechess-cli convention; the weakest rung, random, can only draw, never win), and a rung's Elo
is the sum of the steps below it (random = 0), its error the steps' errors added in quadrature.
Every other player (a network placed by a gauntlet against some rungs) gets the performance
rating of its games against the rated rungs. Players with the same name in several sources are
the same player.
"""
from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from shogi_jax.arena.elo import CI95_Z, match_elo, performance_rating
from shogi_jax.arena.standings import Standings, elo_of
from shogi_jax.notation.records import read_games


def pair_games(games: list[dict], first: str, second: str) -> tuple[int, int, int]:
    """(wins, draws, losses) of `second` against `first` over `games`."""
    between = [g for g in games if {g["black"], g["white"]} == {first, second}]
    pair = Standings.of_records((first, second), between)
    return int(pair.wins[1, 0]), int(pair.draws[0, 1]), int(pair.wins[0, 1])


def signed(value: float) -> str:
    if not math.isfinite(value):
        return "+inf" if value > 0 else "-inf"
    return f"{round(value):+d}" if round(value) else "0"  # never "-0"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directories", nargs="+",
                        help="tournament output directories or games.jsonl[.gz] files")
    parser.add_argument("--order", nargs="+", help="the ladder's rungs, weakest first (Elo 0)")
    parser.add_argument("--players", nargs="+",
                        help="the players off the ladder to rate (default: every other player)")
    args = parser.parse_args(argv)
    try:
        games = read_games(args.directories)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    names = sorted({game[side] for game in games for side in ("black", "white")})
    if args.order:
        unknown = [name for name in args.order if name not in names]
        if len(unknown) == len(args.order):
            raise SystemExit(f"error: no player of --order has games: {', '.join(unknown)}")
        if unknown:  # a ladder still being played (or a misspelt name)
            print(f"warning: no games yet for {', '.join(unknown)}", file=sys.stderr)
        order = args.order
    else:
        fit = elo_of(Standings.of_records(names, games), names[0])
        order = [name for _, name in sorted(zip(fit.ratings, fit.names))]
    print(f"{len(games)} games from {', '.join(map(str, args.directories))}\n")

    print("| neighbours | games | W-D-L (upper's) | score | Elo step | 95% CI |")
    print("|---|---:|---|---:|---:|---|")
    rating, variance = {order[0]: 0.0}, {order[0]: 0.0}
    for lower, upper in zip(order, order[1:]):
        won, drawn, lost = pair_games(games, lower, upper)
        if won + drawn + lost == 0:
            print(f"| {lower} / {upper} | 0 | — | — | — | no games |")
            continue
        step = match_elo(won, drawn, lost)
        print(f"| {lower} / {upper} | {step.games} | {won}-{drawn}-{lost} | {step.score:.3f} | "
              f"{signed(step.elo)} | [{signed(step.ci95_low)}, {signed(step.ci95_high)}] |")
        if lower in rating and math.isfinite(step.elo):  # a shut-out leaves those above unrated
            rating[upper] = rating[lower] + step.elo
            variance[upper] = variance[lower] + step.stderr ** 2

    print(f"\n| rung | Elo ({order[0]} = 0) | +- 95% |")
    print("|---|---:|---:|")
    for name in order:
        if name in rating:
            print(f"| {name} | {round(rating[name])} | {CI95_Z * math.sqrt(variance[name]):.0f} |")
        else:
            print(f"| {name} | — | — |")

    others = [name for name in names if name not in order]
    if args.players:
        missing = [name for name in args.players if name not in names]
        if missing:
            raise SystemExit(f"error: no games of --players {', '.join(missing)}")
        others = [name for name in args.players if name not in order]
    if others:
        print("\n| player | Elo (performance against the rungs) | +- 95% (its games) | games |")
        print("|---|---:|---:|---:|")
    for name in others:
        against = {rung: pair_games(games, rung, name) for rung in rating}
        rungs = [rung for rung, result in against.items() if result != (0, 0, 0)]
        results = np.array([against[rung] for rung in rungs]).reshape(-1, 3)
        if not rungs:
            print(f"| {name} | — | played no rated rung | 0 |")
            continue
        try:
            elo, stderr = performance_rating([rating[rung] for rung in rungs], *results.T)
            print(f"| {name} | {round(elo)} | {CI95_Z * stderr:.0f} | {results.sum()} |")
        except ValueError as error:
            print(f"| {name} | — | {error} | {results.sum()} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
