"""What the learning probes (scripts/value_probe.py, top1_agreement.py, mate_probe.py) and the
generator of their position sets (probe_positions.py) share: the sets' file format, the network a
probe measures, positions turned into batched States and evaluated in fixed-size chunks, and the
figures (AUC, right signs, a paired bootstrap).

A set is a gzipped JSONL file under scripts/data: its first line {"meta": {...}} says how it was
made, every other line is one position ({"sfen": ..., ...}). The scripts are run as `python
scripts/X.py`, which puts scripts/ on sys.path, so they import this module as `probe_common`.
"""
from __future__ import annotations

import argparse
import functools
import gzip
import io
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from bench_common import machine_info, machine_line

import shogi_jax as sj
from shogi_jax.arena.elo import wilson_interval
from shogi_jax.notation.sfen import position_state, sfen_position
from shogi_jax.notation.usi import parse_usi
from shogi_jax.play.model import make_model
from shogi_jax.play.network import PRETRAINED_RUN, WHICH, CheckpointError, Network, load_network
from shogi_jax.play.search import SearchSettings, search
from shogi_jax.rules.state import DEFAULT_MAX_PLIES

DATA = Path(__file__).resolve().parent / "data"
CHUNK = 128  # positions a jitted call: one compiled program for any set size


# --- the sets ------------------------------------------------------------------------------------


def write_set(path: Path, meta: dict, rows: list[dict]) -> None:
    """A set file: gzip with no timestamp, so the same rows give the same bytes."""
    text = "".join(json.dumps(line, separators=(",", ":")) + "\n"
                   for line in [{"meta": meta}, *rows])
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
        packed.write(text.encode("utf-8"))


def read_set(path: Path, limit: int | None = None) -> tuple[dict, list[dict]]:
    """(meta, rows) of a set file, the first `limit` rows (the generator shuffles them, so any
    prefix is a fair sample). SystemExit naming the file when it is missing or not a set."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            records = [json.loads(line) for line in lines if line.strip()]
    except FileNotFoundError:
        raise SystemExit(f"error: the position set {path} does not exist "
                         "(python scripts/probe_positions.py makes it)") from None
    except (OSError, EOFError, json.JSONDecodeError) as error:
        raise SystemExit(f"error: {path} is not a position set ({error})") from None
    if not records or "meta" not in records[0] or any("sfen" not in r for r in records[1:]):
        raise SystemExit(f"error: {path} is not a position set (a meta line, then positions)")
    rows = records[1:]
    if limit is not None:
        if limit < 1:
            raise SystemExit(f"error: --limit must be >= 1, got {limit}")
        rows = rows[:limit]
    return records[0]["meta"], rows


# --- the network ---------------------------------------------------------------------------------


def add_network_arguments(parser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run-dir", metavar="RUN",
                        help="a training run directory: its checkpoint (--which, --step)")
    source.add_argument("--pretrained", action="store_true",
                        help="the shipped network (shogi_jax/pretrained/cpu_60min, as "
                             "`python -m shogi_jax.usi --pretrained`)")
    parser.add_argument("--which", choices=WHICH, default=None,
                        help="with --run-dir: the latest checkpoint (default) or the best by "
                             "evaluation")
    parser.add_argument("--step", type=int, metavar="N",
                        help="with --run-dir: checkpoint N")


def network_from_arguments(parser, args) -> tuple[Network, str]:
    """(the network, its name for the header); a parser error naming what is wrong."""
    if args.pretrained and (args.which is not None or args.step is not None):
        parser.error("--pretrained is one checkpoint: --which and --step go with --run-dir")
    run_dir = PRETRAINED_RUN if args.pretrained else Path(args.run_dir)
    try:
        network = load_network(run_dir, which=args.which or "latest", step=args.step)
    except CheckpointError as error:
        parser.exit(1, f"{parser.prog}: error: {error}\n")
    name = "the shipped network (pretrained/cpu_60min)" if args.pretrained else str(run_dir)
    return network, name


def print_header(title: str, set_path: Path, meta: dict, count: int, network: Network | None = None,
                 network_name: str = "") -> None:
    """The lines every probe starts with: what it measures, on which machine and code, which
    set (and how it was made) and which network."""
    print(f"# {title}")
    print(f"# machine: {machine_line(machine_info())}")
    print(f"# set: {set_path.name}: {count} positions (made {meta.get('date', '?')} at "
          f"{meta.get('commit', '?')}; {meta.get('how', '')})")
    if network is not None:
        model = network.model
        print(f"# network: {network_name}, iteration {network.iteration} ({model.blocks} x "
              f"{model.channels}, {model.value_head} value head)")
    sys.stdout.flush()


# --- positions as States, evaluated in chunks ----------------------------------------------------


@functools.partial(jax.jit, static_argnames="max_plies")
def _states(boards, hands, colors, plies, max_plies):
    make = functools.partial(position_state, max_plies=max_plies, impasse=True)
    return jax.vmap(make)(boards, hands, colors, plies)


def positions_in_chunks(sfens: list[str], chunk: int = CHUNK, max_plies: int = DEFAULT_MAX_PLIES):
    """Yields (State with a batch axis of `chunk`, the positions' indices int[chunk], count): the
    positions in order, `chunk` at a time, the last chunk padded with copies of its last position
    (only the first `count` are real). The rules are the games' (impasse on, `max_plies`)."""
    fields = [sfen_position(sfen) for sfen in sfens]
    boards, hands, colors, plies = (np.asarray(column, np.int32) for column in zip(*fields))
    for start in range(0, len(sfens), chunk):
        index = np.arange(start, min(start + chunk, len(sfens)))
        padded = np.concatenate([index, np.full(chunk - len(index), index[-1])])
        yield (_states(boards[padded], hands[padded], colors[padded], plies[padded], max_plies),
               padded, len(index))


def map_positions(fn, sfens: list[str], *columns, chunk: int | None = None,
                  progress: str | None = None) -> dict[str, np.ndarray]:
    """{name: array[N, ...]}: `fn(states, *columns' entries) -> {name: array[chunk, ...]}`
    (jitted by the caller) over all positions, chunk by chunk, the padding dropped. `columns`
    are arrays [N, ...] of per-position inputs (an action a position, say). The chunk is CHUNK,
    or the power of two that holds a smaller set (a slice runs no padding). With `progress`, a
    line on stderr after each chunk, so named."""
    chunk = chunk or min(CHUNK, 1 << max(len(sfens) - 1, 0).bit_length())
    parts, started, done = [], time.monotonic(), 0
    for states, index, count in positions_in_chunks(sfens, chunk):
        found = fn(states, *(np.asarray(column)[index] for column in columns))
        parts.append({name: np.asarray(value)[:count] for name, value in found.items()})
        done += count
        if progress:
            print(f"  {progress}: {done}/{len(sfens)} positions, "
                  f"{time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def actions_of(sfens: list[str], moves: list[str]) -> np.ndarray:
    """int32[N]: the action of each USI move for the side to move of its position (read from
    the text; whether it is legal is the caller's check, against the legal action mask)."""
    return np.array([parse_usi(move, sfen_position(sfen)[2])[0]
                     for sfen, move in zip(sfens, moves)], np.int32)


def network_outputs(network: Network):
    """A jitted fn(states) -> {"value": float32[B], "policy_move": int32[B] (the argmax of the
    legal moves' logits)}: one network evaluation a position, no search."""
    model = make_model(network.model)

    @jax.jit
    def outputs(states):
        logits, value = model.apply(network.params, jax.vmap(sj.observe)(states))
        masked = jnp.where(states.legal_action_mask, logits, jnp.finfo(jnp.float32).min)
        return {"value": value, "policy_move": jnp.argmax(masked, axis=-1).astype(jnp.int32)}

    return outputs


def add_set_arguments(parser, default_set: str) -> None:
    """--set (default scripts/data/DEFAULT_SET), --limit and --json: every probe's."""
    parser.add_argument("--set", type=Path, default=DATA / default_set,
                        help=f"the position set (default scripts/data/{default_set})")
    parser.add_argument("--limit", type=int, metavar="N", help="the set's first N positions")
    parser.add_argument("--json", metavar="OUT", help="also write the figures as JSON to OUT")


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_search_arguments(parser) -> None:
    parser.add_argument("--simulations", type=_at_least_one, metavar="N",
                        help="also the Gumbel search's move at N simulations (the search "
                             "player's other settings at their defaults)")
    parser.add_argument("--seed", type=int, default=0, help="the search's random seed")


def search_moves(network: Network, simulations: int, *, seed: int):
    """A fn(states, index) -> {"search_move": int32[B]}: the move of the network's Gumbel search
    (`play.search.search`, default settings but `simulations`, no play-time tactics), its key
    the seed folded with the chunk's first position's index."""
    model = make_model(network.model)
    settings = SearchSettings(simulations=simulations)
    base = jax.random.key(seed)

    @jax.jit
    def moves(states, index):
        key = jax.random.fold_in(base, index[0])
        return {"search_move": search(model, settings, network.params, states, key).action}

    return moves


# --- the figures ---------------------------------------------------------------------------------


def auc(scores, results) -> float:
    """The probability that a won position (result > 0) scores higher than a lost one, ties
    counted half: the Mann-Whitney U over (wins x losses) pairs, from average ranks."""
    scores = np.asarray(scores, np.float64)
    won = np.asarray(results) > 0
    wins, losses = int(won.sum()), int((~won).sum())
    if not wins or not losses:
        raise ValueError(f"an AUC needs won and lost positions (got {wins} won, {losses} lost)")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    below = np.cumsum(counts) - counts  # scores lower than each distinct score
    average_rank = below + (counts + 1) / 2  # 1-based ranks, ties sharing their mean
    rank_sum = average_rank[inverse][won].sum()
    return float((rank_sum - wins * (wins + 1) / 2) / (wins * losses))


def sign_hits(scores, results) -> np.ndarray:
    """float[N]: 1 where a score has the result's sign, 0 where the opposite, 1/2 where it is 0
    (a score that says nothing is a coin's guess)."""
    product = np.sign(np.asarray(scores, np.float64)) * np.sign(results)
    return np.where(product > 0, 1.0, np.where(product < 0, 0.0, 0.5))


def right_sign_share(scores, results, where=None) -> float:
    """The share of positions (those where `where` is True, when given) whose score has the
    result's sign, a score of 0 counted half (`sign_hits`)."""
    hits = sign_hits(scores, results)
    if where is not None:
        hits = hits[np.asarray(where, bool)]
    return float(hits.mean()) if hits.size else float("nan")


def paired_bootstrap(statistic, first, second, results, *, resamples: int = 1000,
                     seed: int = 0) -> tuple[float, float]:
    """A 95% interval of statistic(first, results) - statistic(second, results) over `resamples`
    resamplings of the positions (the same positions for both: a paired difference)."""
    rng = np.random.default_rng(seed)
    first, second, results = (np.asarray(a) for a in (first, second, results))
    differences = []
    for _ in range(resamples):
        pick = rng.integers(0, len(results), len(results))
        try:
            differences.append(statistic(first[pick], results[pick])
                               - statistic(second[pick], results[pick]))
        except ValueError:  # a resample with one outcome only: no AUC
            continue
    return tuple(float(q) for q in np.percentile(differences, [2.5, 97.5]))


def share_with_interval(hits) -> dict:
    """{"share", "hits", "low", "high"}: the share of True in bool[N] `hits` and its 95% Wilson
    interval."""
    hits = np.asarray(hits, bool)
    low, high = wilson_interval(int(hits.sum()), hits.size)
    return {"share": float(hits.mean()), "hits": int(hits.sum()), "low": low, "high": high}


def write_json(path: str | None, figures: dict) -> None:
    """`figures` (with the machine) as JSON to `path`, when one was given."""
    if path is None:
        return
    buffer = io.StringIO()
    json.dump({"machine": machine_info(), **figures}, buffer, indent=1)
    Path(path).write_text(buffer.getvalue() + "\n", encoding="utf-8")
