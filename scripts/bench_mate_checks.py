"""What the play-time mate checks cost: `winning_actions` (the mates in one of a position, every
legal move stepped) against stepping all 2,187 actions (its former form), and a policy player's
move with `mate_in_one` and `avoid_mate_in_one`, then also `material_lookahead`, then also
`avoid_mate_in_three`, against the raw network's, in ms a move.

Positions: every 5th position of the shipped network's games against random, greedy and
Fairy-Stockfish (docs/ladder_games/cpu_60min_gauntlet.jsonl.gz), its own turns, first N. The two
mate checks must agree on every position (the script stops otherwise). A move is timed over the
positions one game at a time (B=1, the USI engine's case) and in batches of B games (a
tournament's), compilation apart.

    python scripts/bench_mate_checks.py                  # 256 positions, B = 1 and 8
    python scripts/bench_mate_checks.py --positions 64 --batches 1
"""
from __future__ import annotations

import argparse
import functools
import gzip
import json
import sys
import time
from pathlib import Path

import cshogi
import jax
import jax.numpy as jnp
import numpy as np
from bench_common import compile_timed, machine_info, machine_line, markdown_table

import shogi_jax as sj
from shogi_jax.play.network import PRETRAINED_RUN, load_network
from shogi_jax.play.players import Player
from shogi_jax.play.tactics import Tactics, winning_actions

ROOT = Path(__file__).resolve().parents[1]
GAMES = ROOT / "docs" / "ladder_games" / "cpu_60min_gauntlet.jsonl.gz"
AGENT = "cpu_60min"
EVERY = 5


def positions(count: int) -> list[str]:
    """SFENs of the network's turns in its gauntlet games, every EVERY-th ply."""
    found = []
    with gzip.open(GAMES, "rt") as lines:
        for line in lines:
            game = json.loads(line)
            ours = cshogi.BLACK if game["black"] == AGENT else cshogi.WHITE
            board = cshogi.Board(game["start_sfen"])
            for ply, move in enumerate(game["moves"]):
                if ply % EVERY == 0 and board.turn == ours:
                    found.append(board.sfen())
                    if len(found) == count:
                        return found
                board.push_usi(move)
    return found


def every_action_wins(state: sj.State):
    """bool[2187]: `winning_actions` the former way, all 2,187 actions stepped (243 at a time)."""
    mover = state.color

    def won(actions):
        after = jax.vmap(sj.step, in_axes=(None, 0))(state, actions)
        return after.terminated & (after.rewards[:, mover] > 0)

    chunks = jnp.arange(sj.NUM_ACTIONS, dtype=jnp.int32).reshape(-1, 243)
    wins = jax.lax.map(won, chunks).reshape(sj.NUM_ACTIONS)
    return wins & state.legal_action_mask & ~(state.terminated | state.truncated)


def stack(states):
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *states)


def ms_a_position(jitted, calls, positions_a_call: int) -> float:
    """Milliseconds a position of `jitted` over `calls` (a list of argument tuples, each of
    `positions_a_call` positions), compilation apart."""
    compiled, _ = compile_timed(jitted, *calls[0])
    started = time.perf_counter()
    for arguments in calls:
        jax.block_until_ready(compiled(*arguments))
    return (time.perf_counter() - started) * 1000 / (len(calls) * positions_a_call)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--positions", type=int, default=256)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args(argv)
    print(machine_line(machine_info()), flush=True)
    sfens = positions(args.positions)
    states = [sj.from_sfen(sfen) for sfen in sfens]
    print(f"{len(states)} positions of {GAMES.name}", flush=True)

    checks = {"legal moves only (winning_actions)": functools.partial(
                  winning_actions, max_plies=sj.DEFAULT_MAX_PLIES, impasse=True),
              "all 2,187 actions (former)": every_action_wins}
    answers, check_ms = {}, {}
    for name, check in checks.items():
        batched = jax.jit(jax.vmap(check))
        answers[name] = np.asarray(batched(stack(states)))
        # One position at a time: the case of a player's move (a tournament vmaps these).
        check_ms[name] = ms_a_position(jax.jit(check), [(state,) for state in states], 1)
        print(f"{name}: {check_ms[name]:.1f} ms a position", flush=True)
    first, second = answers.values()
    if not np.array_equal(first, second):
        print("the two mate checks disagree", file=sys.stderr)
        return 1
    legal_only, former = check_ms.values()
    print(f"both find the same {int(first.sum())} mates in one; legal moves only is "
          f"{legal_only / former:.2f} of the former's time ({former / legal_only:.1f}x)",
          flush=True)

    model, params, _ = load_network(str(PRETRAINED_RUN))
    players = {"raw network": Player("raw", "policy", model),
               "mate_in_one": Player("m", "policy", model,
                                     tactics=Tactics(mate_in_one=True)),
               "mate_in_one + avoid_mate_in_one": Player(
                   "a", "policy", model,
                   tactics=Tactics(mate_in_one=True, avoid_mate_in_one=True)),
               "+ material_lookahead": Player(
                   "l", "policy", model,
                   tactics=Tactics(mate_in_one=True, avoid_mate_in_one=True,
                                   material_lookahead=True)),
               "+ avoid_mate_in_three": Player(
                   "t", "policy", model,
                   tactics=Tactics(mate_in_one=True, avoid_mate_in_one=True,
                                   material_lookahead=True, avoid_mate_in_three=True))}
    rows = []
    for batch in args.batches:
        groups = [stack(states[i:i + batch]) for i in range(0, len(states) - batch + 1, batch)]
        calls = [(params, group, jax.random.split(jax.random.PRNGKey(k), batch))
                 for k, group in enumerate(groups)]
        timings = {}
        for name, player in players.items():
            move = jax.jit(jax.vmap(player.act, in_axes=(None, 0, 0)))
            timings[name] = ms_a_position(move, calls, batch)
            print(f"B={batch} {name}: {timings[name]:.1f} ms a move", flush=True)
        raw = timings["raw network"]
        rows.append([str(batch)] + [f"{timings[name]:.1f}" for name in players]
                    + [f"{timings[name] / raw:.1f}x" for name in list(players)[1:]])
    print()
    print("\n".join(markdown_table(
        ["B", *(f"{name} ms a move" for name in players),
         *(f"{name} / raw" for name in list(players)[1:])], rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
