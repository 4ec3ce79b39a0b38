"""How often does a network pick Fairy-Stockfish's move? On the fixed top-1 set
(scripts/data/top1.jsonl.gz: positions of every phase of engine games, each with Fairy-Stockfish's
move from a deep search), the share of positions where the network's argmax move (policy alone)
is that move, with its 95% interval; with --simulations N also its Gumbel search's move.

References from the same run: a uniformly random legal move's expected agreement (1 / the
number of legal moves, averaged) and the greedy player's (`play.players`: the most valuable
capture, ties drawn uniformly; expected over its draw), overall and by phase of the game.

    python scripts/top1_agreement.py --pretrained
    python scripts/top1_agreement.py --run-dir runs/cpu --simulations 128 --json top1.json
"""
from __future__ import annotations

import argparse
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from bench_common import markdown_table
from probe_common import (
    actions_of,
    add_network_arguments,
    add_search_arguments,
    add_set_arguments,
    map_positions,
    network_from_arguments,
    network_outputs,
    print_header,
    read_set,
    search_moves,
    share_with_interval,
    write_json,
)

from shogi_jax.play.players import capture_points

PHASES = (("moves 1-30", 1, 30), ("moves 31-80", 31, 80), ("moves 81+", 81, 10**6))


def one_position_references(state, best):
    """(random's, greedy's) chance of playing action `best` in ONE position: 1 / #legal, and
    [best among greedy's most valuable captures] / their number."""
    legal = state.legal_action_mask
    points = jnp.where(legal, capture_points(state), -1.0)
    greedy = legal & (points == jnp.max(points))
    return (1.0 / jnp.sum(legal), greedy[best] / jnp.sum(greedy))


@jax.jit
def references(states, best):
    """{"legal_best": bool[B] (the engine's move is legal here), "random": f32[B], "greedy":
    f32[B]} for actions `best` int32[B]."""
    random, greedy = jax.vmap(one_position_references)(states, best)
    legal_best = jnp.take_along_axis(states.legal_action_mask, best[:, None], axis=1)[:, 0]
    return {"legal_best": legal_best, "random": random, "greedy": greedy}


def report(found: dict, phases: list[dict]) -> list[str]:
    def cell(entry):
        return (f"{100 * entry['share']:.1f}% [{100 * entry['low']:.1f}, "
                f"{100 * entry['high']:.1f}]")

    rows = [["network, policy argmax", cell(found["policy"])]]
    if "search" in found:
        rows.append([f"network, search {found['simulations']} simulations",
                     cell(found["search"])])
    rows += [["greedy (expected)", f"{100 * found['greedy']:.1f}%"],
             ["uniform random legal move (expected)", f"{100 * found['random']:.1f}%"]]
    lines = markdown_table(["player", f"agrees with Fairy-Stockfish ({found['positions']} "
                                      "positions; 95% interval)"], rows)
    header = ["phase", "positions", "policy", *(["search"] if "search" in found else []),
              "greedy", "random"]
    lines += ["", *markdown_table(header, [
        [p["phase"], p["positions"], f"{100 * p['policy']:.1f}%",
         *([f"{100 * p['search']:.1f}%"] if "search" in p else []),
         f"{100 * p['greedy']:.1f}%", f"{100 * p['random']:.1f}%"] for p in phases])]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_network_arguments(parser)
    add_search_arguments(parser)
    add_set_arguments(parser, "top1.jsonl.gz")
    args = parser.parse_args(argv)
    started = time.monotonic()
    meta, rows = read_set(args.set, args.limit)
    if any("best" not in row for row in rows):
        parser.error(f"{args.set} has positions without Fairy-Stockfish's move ('best')")
    network, name = network_from_arguments(parser, args)
    print_header("top-1 agreement with Fairy-Stockfish's deep move", args.set, meta, len(rows),
                 network, name)
    sfens = [row["sfen"] for row in rows]
    best = actions_of(sfens, [row["best"] for row in rows])
    network_fn = network_outputs(network)
    outputs = map_positions(lambda states, best: {**network_fn(states),
                                                  **references(states, best)}, sfens, best)
    if not outputs["legal_best"].all():
        bad = int(np.argmin(outputs["legal_best"]))
        raise SystemExit(f"error: the set's move {rows[bad]['best']} is illegal by our rules in "
                         f"{rows[bad]['sfen']}")
    hits = {"policy": outputs["policy_move"] == best}
    if args.simulations is not None:
        searched = map_positions(search_moves(network, args.simulations, seed=args.seed), sfens,
                                 np.arange(len(sfens), dtype=np.int32), progress="search")
        hits["search"] = searched["search_move"] == best
    found = {"positions": len(rows), **{k: share_with_interval(v) for k, v in hits.items()},
             "greedy": float(outputs["greedy"].mean()), "random": float(outputs["random"].mean())}
    if args.simulations is not None:
        found["simulations"], found["seed"] = args.simulations, args.seed
    moves = np.array([int(row["sfen"].split()[3]) for row in rows])
    phases = []
    for phase, low, high in PHASES:
        inside = (moves >= low) & (moves <= high)
        if inside.any():
            phases.append({"phase": phase, "positions": int(inside.sum()),
                           **{k: float(v[inside].mean()) for k, v in hits.items()},
                           "greedy": float(outputs["greedy"][inside].mean()),
                           "random": float(outputs["random"][inside].mean())})
    print("\n".join(report(found, phases)))
    seconds = time.monotonic() - started
    print(f"\n# {len(rows)} positions in {seconds:.1f} s (loading and compiling included)")
    write_json(args.json, {"probe": "top1", "set": str(args.set), "set_meta": meta,
                           "network": name, "iteration": network.iteration,
                           "seconds": round(seconds, 1), **found, "phases": phases})
    return 0


if __name__ == "__main__":
    sys.exit(main())
