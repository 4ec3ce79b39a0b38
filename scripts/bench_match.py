"""Match speed: plies of a match between two on-device players, each player acting only on the
games it moves in (`by_mover`, what matches play) against both acting on every game and the
mover's action kept (the simple path, the rival), in game-plies per second.

Pairings, all with the shipped 60-minute network (shogi_jax/pretrained/cpu_60min):
  - policy: its raw policy (argmax) against itself, G games, a chunk of 16 plies a call (as
    tournaments and the evaluation during training play);
  - search: a Gumbel MuZero search of S simulations against the raw policy, G games, one ply a
    call (as matches with a searching player play).
Each call starts from the games after 4 random opening plies; game-plies per second = G x plies
a call / the median time of a call, compilation apart.

    python scripts/bench_match.py                         # policy G=400; search S=32, G=64
    python scripts/bench_match.py --pairings search --search-games 64 400 --simulations 128
"""
from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
from bench_common import compile_timed, machine_info, machine_line, markdown_table, median_seconds

from shogi_jax.arena.match import PLIES_PER_CHUNK, play_plies, start_states
from shogi_jax.play.network import PRETRAINED_RUN, load_network
from shogi_jax.play.players import Player
from shogi_jax.play.search import SearchSettings
from shogi_jax.rules.state import STARTPOS_SFEN

OPENING_PLIES = 4
MAX_PLIES = 320


def _players(pairing: str, simulations: int):
    model, params, _ = load_network(str(PRETRAINED_RUN))
    policy = Player("policy", "policy", model=model)
    if pairing == "policy":
        return policy, policy, params, PLIES_PER_CHUNK
    search = Player("search", "search", model=model, search=SearchSettings(
        simulations=simulations, max_plies=MAX_PLIES))
    return search, policy, params, 1


def _opened_games(first, second, params, games: int):
    """The G games after OPENING_PLIES random plies (colour pairs share them)."""
    state, _ = start_states([STARTPOS_SFEN], games, max_plies=MAX_PLIES, impasse=True)
    first_is_black = jnp.arange(games) % 2 == 0
    state, _, _ = play_plies(first, second, params, params, state, first_is_black,
                             jax.random.PRNGKey(0), jax.random.PRNGKey(1), plies=OPENING_PLIES,
                             opening_plies=OPENING_PLIES, max_plies=MAX_PLIES, impasse=True)
    return state, first_is_black


def measure(pairing: str, games: int, simulations: int, repeats: int) -> tuple[float, float]:
    """Game-plies per second of `pairing` at G games: (by mover, everywhere), from the same
    opened games."""
    first, second, params, plies = _players(pairing, simulations)
    state, first_is_black = _opened_games(first, second, params, games)
    return tuple(_rate(pairing, first, second, params, plies, state, first_is_black, by_mover,
                       repeats) for by_mover in (True, False))


def _rate(pairing, first, second, params, plies, state, first_is_black, by_mover: bool,
          repeats: int) -> float:
    games = first_is_black.shape[0]
    arguments = (params, params, state, first_is_black, jax.random.PRNGKey(2),
                 jax.random.PRNGKey(3))

    def chunk(first_params, second_params, state, first_is_black, opening_key, key):
        return play_plies(first, second, first_params, second_params, state, first_is_black,
                          opening_key, key, plies=plies, opening_plies=OPENING_PLIES,
                          max_plies=MAX_PLIES, impasse=True, by_mover=by_mover)

    compiled, compile_seconds = compile_timed(jax.jit(chunk), *arguments)
    seconds = median_seconds(compiled, *arguments, repeats=repeats)
    rate = games * plies / seconds
    way = "by mover" if by_mover else "everywhere"
    print(f"{pairing:>7} G={games:<5} {way:>10}: {rate:>9,.0f} game-plies/s "
          f"({seconds * 1000:,.0f} ms a call of {plies} plies, compiled in "
          f"{compile_seconds:.0f} s)", flush=True)
    return rate


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairings", nargs="+", choices=("policy", "search"),
                        default=["policy", "search"])
    parser.add_argument("--policy-games", type=int, nargs="+", default=[400])
    parser.add_argument("--search-games", type=int, nargs="+", default=[64])
    parser.add_argument("--simulations", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(machine_line(machine_info()), flush=True)
    rows = []
    for pairing in args.pairings:
        for games in (args.policy_games if pairing == "policy" else args.search_games):
            if games <= 0 or games % 2:
                parser.error(f"games must be even and > 0, got {games}")
            fast, simple = measure(pairing, games, args.simulations, args.repeats)
            label = pairing if pairing == "policy" else f"search {args.simulations} sims"
            rows.append([label, str(games), f"{fast:,.0f}", f"{simple:,.0f}",
                         f"{fast / simple:.2f}x"])
    print()
    print("\n".join(markdown_table(
        ["pairing", "G", "by mover: game-plies/s", "everywhere: game-plies/s", "ratio"], rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
