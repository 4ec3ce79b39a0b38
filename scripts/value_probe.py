"""Does a network's value (one evaluation, no search) tell who wins? On the fixed value set
(scripts/data/value_probe.jsonl.gz: positions 3 to 60 plies before the end of decisive games
between real engines), against counting material on the same positions:

- AUC: the chance that a position the side to move went on to win gets a higher value than one
  it went on to lose, ties counted half (0.5 is a coin, 1 a perfect ranking);
- right sign: the share of positions whose value has the result's sign (a value of exactly 0
  counts half), over all positions and over those within 10 plies of the end.

The rival is material (`shogi_jax.rules.material.material_balance` for the side to move: pawn 1,
lance 3, knight 4, silver 5, gold 6, bishop 8, rook 10, promoted minors 6, horse 10, dragon 12,
pieces in hand alike); the difference network - material comes with a paired bootstrap 95%
interval over the positions.

    python scripts/value_probe.py --pretrained
    python scripts/value_probe.py --run-dir runs/cpu --which best --json value.json
"""
from __future__ import annotations

import argparse
import sys
import time

import jax
import numpy as np
from bench_common import markdown_table
from probe_common import (
    add_network_arguments,
    add_set_arguments,
    auc,
    map_positions,
    network_from_arguments,
    network_outputs,
    paired_bootstrap,
    print_header,
    read_set,
    right_sign_share,
    write_json,
)

from shogi_jax.rules.material import material_balance

NEAR_END = 10  # plies: "near the end"
PLY_BANDS = ((3, 10), (11, 20), (21, 40), (41, 60))


def material_outputs(states):
    return {"material": jax.vmap(material_balance)(states)}


def figures(scores, results, plies_to_end) -> dict:
    """AUC and right-sign shares of one scorer."""
    near = plies_to_end <= NEAR_END
    return {"auc": auc(scores, results), "right_sign": right_sign_share(scores, results),
            "right_sign_near_end": right_sign_share(scores, results, near)}


def compare(value, material, results, plies_to_end, *, seed: int) -> dict:
    """The figures of the network and of material, their difference with paired bootstrap
    intervals, and the AUC by band of plies to the end."""
    near = plies_to_end <= NEAR_END
    network, counting = (figures(s, results, plies_to_end) for s in (value, material))
    difference = {name: network[name] - counting[name] for name in network}
    intervals = {
        "auc": paired_bootstrap(auc, value, material, results, seed=seed),
        "right_sign": paired_bootstrap(right_sign_share, value, material, results, seed=seed),
        "right_sign_near_end": paired_bootstrap(right_sign_share, value[near], material[near],
                                                results[near], seed=seed)}
    bands = []
    for low, high in PLY_BANDS:
        inside = (plies_to_end >= low) & (plies_to_end <= high)
        if len(set(results[inside].tolist())) == 2:
            bands.append({"plies": [low, high], "positions": int(inside.sum()),
                          "network_auc": auc(value[inside], results[inside]),
                          "material_auc": auc(material[inside], results[inside])})
    uneven = material != 0
    return {"network": network, "material": counting, "difference": difference,
            "difference_95": intervals, "bands": bands,
            "material_uneven_share": float(uneven.mean()),
            "material_right_sign_uneven": right_sign_share(material, results, uneven),
            "material_right_sign_uneven_near_end": right_sign_share(material, results,
                                                                    uneven & near)}


def report(found: dict, positions: int, near: int) -> list[str]:
    def cells(name):
        row = found[name]
        return [f"{row['auc']:.3f}", f"{100 * row['right_sign']:.1f}%",
                f"{100 * row['right_sign_near_end']:.1f}%"]

    spans = found["difference_95"]
    difference = found["difference"]
    rows = [["network", *cells("network")], ["material", *cells("material")],
            ["network - material",
             f"{difference['auc']:+.3f} [{spans['auc'][0]:+.3f}, {spans['auc'][1]:+.3f}]",
             *(f"{100 * difference[k]:+.1f} [{100 * spans[k][0]:+.1f}, {100 * spans[k][1]:+.1f}]"
               for k in ("right_sign", "right_sign_near_end"))]]
    lines = markdown_table(["", "AUC", f"right sign ({positions})",
                            f"right sign, <= {NEAR_END} plies to the end ({near})"], rows)
    lines += ["", "(differences: network minus material, paired bootstrap 95% interval; "
              "a value or balance of exactly 0 counts half a right sign)",
              f"material is uneven in {100 * found['material_uneven_share']:.1f}% of positions; "
              f"there its sign is right in {100 * found['material_right_sign_uneven']:.1f}% "
              f"({100 * found['material_right_sign_uneven_near_end']:.1f}% within {NEAR_END} "
              "plies of the end)", ""]
    lines += markdown_table(["plies to the end", "positions", "network AUC", "material AUC"],
                            [[f"{b['plies'][0]}-{b['plies'][1]}", b["positions"],
                              f"{b['network_auc']:.3f}", f"{b['material_auc']:.3f}"]
                             for b in found["bands"]])
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_network_arguments(parser)
    add_set_arguments(parser, "value_probe.jsonl.gz")
    parser.add_argument("--seed", type=int, default=0, help="the bootstrap's seed")
    args = parser.parse_args(argv)
    started = time.monotonic()
    meta, rows = read_set(args.set, args.limit)
    network, name = network_from_arguments(parser, args)
    print_header("value probe: the network's value against material", args.set, meta,
                 len(rows), network, name)
    sfens = [row["sfen"] for row in rows]
    results = np.array([row["result"] for row in rows])
    plies_to_end = np.array([row["plies_to_end"] for row in rows])
    if len(set(results.tolist())) < 2:
        parser.error("the positions chosen hold only won or only lost positions: no AUC "
                     "(a larger --limit?)")
    network_fn, material_fn = network_outputs(network), jax.jit(material_outputs)
    outputs = map_positions(lambda states: {**network_fn(states), **material_fn(states)},
                            sfens)
    found = compare(outputs["value"], outputs["material"], results, plies_to_end, seed=args.seed)
    print("\n".join(report(found, len(rows), int((plies_to_end <= NEAR_END).sum()))))
    seconds = time.monotonic() - started
    print(f"\n# {len(rows)} positions in {seconds:.1f} s (loading and compiling included)")
    write_json(args.json, {"probe": "value", "set": str(args.set), "set_meta": meta,
                           "positions": len(rows), "network": name,
                           "iteration": network.iteration, "seconds": round(seconds, 1),
                           **found})
    return 0


if __name__ == "__main__":
    sys.exit(main())
