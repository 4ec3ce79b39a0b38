"""Does a network see a mate in one? On the fixed mate set (scripts/data/mate_in_one.jsonl.gz:
positions of engine games where the side to move can mate at once, each with all its mating
moves), the share where the network's argmax move (policy alone, no play-time tactics) mates,
and with --simulations N the share where its Gumbel search's move does, each with its 95%
interval; a uniformly random legal move's and the greedy player's expected shares for reference.

A move mates when it is among the set's mating moves: all of them, found with our rules and with
cshogi alike when the set was made (scripts/probe_positions.py).

    python scripts/mate_probe.py --pretrained --simulations 128
    python scripts/mate_probe.py --run-dir runs/cpu --which best --json mates.json
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

import shogi_jax as sj
from shogi_jax.play.players import capture_points


def one_position_references(state, mates):
    """(random's, greedy's) chance to mate in ONE position whose mating actions are bool[A]
    `mates`."""
    legal = state.legal_action_mask
    points = jnp.where(legal, capture_points(state), -1.0)
    greedy = legal & (points == jnp.max(points))
    return jnp.sum(mates) / jnp.sum(legal), jnp.sum(greedy & mates) / jnp.sum(greedy)


@jax.jit
def references(states, mates):
    """{"random": f32[B], "greedy": f32[B], "listed_legal": bool[B] (every listed mate is a legal
    action)} of positions with mating actions bool[B, A] `mates`."""
    random, greedy = jax.vmap(one_position_references)(states, mates)
    listed_legal = jnp.all(~mates | states.legal_action_mask, axis=-1)
    return {"random": random, "greedy": greedy, "listed_legal": listed_legal}


def mates_mask(rows: list[dict]) -> np.ndarray:
    """bool[N, A]: the set's mating moves of each position as actions."""
    mask = np.zeros((len(rows), sj.NUM_ACTIONS), bool)
    for i, row in enumerate(rows):
        mask[i, actions_of([row["sfen"]] * len(row["mates"]), row["mates"])] = True
    return mask


def report(found: dict) -> list[str]:
    def cell(entry):
        return (f"{entry['hits']} / {found['positions']}: {100 * entry['share']:.1f}% "
                f"[{100 * entry['low']:.1f}, {100 * entry['high']:.1f}]")

    rows = [["network, policy argmax", cell(found["policy"])]]
    if "search" in found:
        rows.append([f"network, search {found['simulations']} simulations", cell(found["search"])])
    rows += [["greedy (expected)", f"{100 * found['greedy']:.1f}%"],
             ["uniform random legal move (expected)", f"{100 * found['random']:.1f}%"]]
    lines = markdown_table(["player", "mates in one (95% interval)"], rows)
    split = found["by_engine_move"]
    lines += ["", f"Where the game's engine played the mate ({split['played']['positions']} "
                  f"positions) the policy mates in {100 * split['played']['policy']:.1f}%; "
                  f"where it missed it ({split['missed']['positions']}), "
                  f"{100 * split['missed']['policy']:.1f}%."]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_network_arguments(parser)
    add_search_arguments(parser)
    add_set_arguments(parser, "mate_in_one.jsonl.gz")
    args = parser.parse_args(argv)
    started = time.monotonic()
    meta, rows = read_set(args.set, args.limit)
    if any("mates" not in row for row in rows):
        parser.error(f"{args.set} has positions without their mating moves ('mates')")
    network, name = network_from_arguments(parser, args)
    print_header("mates in one: does the network play them?", args.set, meta, len(rows),
                 network, name)
    sfens = [row["sfen"] for row in rows]
    mates = mates_mask(rows)
    network_fn = network_outputs(network)
    outputs = map_positions(lambda states, mates: {**network_fn(states),
                                                   **references(states, mates)}, sfens, mates)
    if not outputs["listed_legal"].all() or not mates.any(axis=1).all():
        bad = int(np.argmin(outputs["listed_legal"] & mates.any(axis=1)))
        raise SystemExit(f"error: {rows[bad]['sfen']}: its mates {rows[bad]['mates']} are not "
                         "legal moves here")

    def mating(actions):
        return mates[np.arange(len(actions)), actions]

    hits = {"policy": mating(outputs["policy_move"])}
    if args.simulations is not None:
        searched = map_positions(search_moves(network, args.simulations, seed=args.seed), sfens,
                                 np.arange(len(sfens), dtype=np.int32), progress="search")
        hits["search"] = mating(searched["search_move"])
    played = np.array([bool(row.get("played_mates")) for row in rows])
    found = {"positions": len(rows), **{k: share_with_interval(v) for k, v in hits.items()},
             "greedy": float(outputs["greedy"].mean()), "random": float(outputs["random"].mean()),
             "by_engine_move": {
                 label: {"positions": int(where.sum()),
                         **{k: float(v[where].mean()) if where.any() else float("nan")
                            for k, v in hits.items()}}
                 for label, where in (("played", played), ("missed", ~played))}}
    if args.simulations is not None:
        found["simulations"], found["seed"] = args.simulations, args.seed
    print("\n".join(report(found)))
    seconds = time.monotonic() - started
    print(f"\n# {len(rows)} positions in {seconds:.1f} s (loading and compiling included)")
    write_json(args.json, {"probe": "mate_in_one", "set": str(args.set), "set_meta": meta,
                           "network": name, "iteration": network.iteration,
                           "seconds": round(seconds, 1), **found})
    return 0


if __name__ == "__main__":
    sys.exit(main())
