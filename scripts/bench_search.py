"""Search speed: Gumbel MuZero (mctx) over shogi_jax's rules against the same search over pgx's
shogi, in simulations per second at B games searched together.

For each engine, one jitted `mctx.gumbel_muzero_policy` over a batch of B positions (the start
position after 8 random plies per game), the recurrent function being the engine's own step and
observation fed to the same network shape (the shipped 60-minute network's: 2 residual blocks of
32 channels; its trained weights for shogi_jax, an untrained copy of that shape over pgx's 119
observation planes: the speed does not depend on the weights). pgx's recurrent function is its
AlphaZero example's (reward of the player who moved, discount -1, 0 at the end). Simulations per
second = B x simulations / the median time of a search, compilation apart.

`mctx_backup` (opt-in) is shogi_jax's search with mctx's own vmapped backup instead of the
batched one (`shogi_jax.play._mctx_backward`, as tests/mctx_reference.py swaps it back): what
the batched backup buys.

    python scripts/bench_search.py                        # B = 1, 64, 1024; 32 simulations
    python scripts/bench_search.py --batches 1 64 --simulations 128 --engines shogi_jax
    python scripts/bench_search.py --batches 1 16 64 --simulations 256 \
        --engines shogi_jax mctx_backup pgx
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from unittest import mock

import jax
import jax.numpy as jnp
import mctx
from bench_common import compile_timed, machine_info, machine_line, markdown_table, median_seconds
from mctx._src import search as mctx_search

import shogi_jax as sj
from shogi_jax.play import _mctx_backward
from shogi_jax.play.model import make_model
from shogi_jax.play.network import PRETRAINED_RUN, load_network
from shogi_jax.play.players import uniform_choice
from shogi_jax.play.policy import masked_log_softmax
from shogi_jax.play.search import SearchSettings, search

ENGINES = ("shogi_jax", "mctx_backup", "pgx")
DEFAULT_ENGINES = ("shogi_jax", "pgx")
OPENING_PLIES = 8


def _random_positions(step, first, batch: int, key):
    """`batch` games each `OPENING_PLIES` uniformly random plies from `first` (batched)."""
    states = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (batch,) + x.shape), first)
    choose, play = jax.jit(jax.vmap(uniform_choice)), jax.jit(jax.vmap(step))
    for ply in range(OPENING_PLIES):
        keys = jax.random.split(jax.random.fold_in(key, ply), batch)
        states = play(states, choose(keys, states.legal_action_mask))
    return states


def shogi_jax_search(batch: int, simulations: int, key, mctx_backup: bool = False):
    """(jitted search of a batch, its arguments): ours, the shipped network; with `mctx_backup`,
    traced with mctx's own backup in place of the batched one."""
    model, params, _ = load_network(str(PRETRAINED_RUN))
    model = make_model(model)
    settings = SearchSettings(simulations=simulations)
    states = _random_positions(sj.step, sj.init(), batch, key)

    def backup():  # entered while the search is traced, which is when mctx's backup is chosen
        return (mock.patch.object(_mctx_backward, "batched_backward", mctx_search.backward)
                if mctx_backup else contextlib.nullcontext())

    def searched(params, states, key):
        with backup():
            return search(model, settings, params, states, key).action

    run = jax.jit(searched)
    return run, (params, states, key)


def pgx_search(batch: int, simulations: int, key):
    """(jitted search of a batch, its arguments): pgx's shogi, the same network shape."""
    # Imported here, so that a run measuring only shogi_jax does not load pgx.
    import pgx

    settings = SearchSettings(simulations=simulations)  # ours: the same search settings
    model, _, _ = load_network(str(PRETRAINED_RUN))
    model = make_model(model)
    env = pgx.make("shogi")
    first = env.init(key)
    params = model.init(key, first.observation[None])
    states = _random_positions(env.step, first, batch, key)

    def evaluate(params, states):
        logits, value = model.apply(params, states.observation)
        return masked_log_softmax(logits, states.legal_action_mask), value

    def recurrent(params, key, action, states):
        del key
        mover = states.current_player
        after = jax.vmap(env.step)(states, action)
        logits, value = evaluate(params, after)
        over = after.terminated | after.truncated
        reward = after.rewards[jnp.arange(after.rewards.shape[0]), mover]
        output = mctx.RecurrentFnOutput(reward=reward, discount=jnp.where(over, 0.0, -1.0),
                                        prior_logits=logits, value=jnp.where(over, 0.0, value))
        return output, after

    def run(params, states, key):
        logits, value = evaluate(params, states)
        root = mctx.RootFnOutput(prior_logits=logits, value=value, embedding=states)
        return mctx.gumbel_muzero_policy(
            params, key, root, recurrent, num_simulations=settings.simulations,
            invalid_actions=~states.legal_action_mask,
            max_num_considered_actions=settings.max_considered_actions,
            gumbel_scale=settings.gumbel_scale,
            qtransform=functools.partial(mctx.qtransform_completed_by_mix_value,
                                         value_scale=settings.value_scale)).action

    return jax.jit(run), (params, states, key)


BUILDERS = {"shogi_jax": shogi_jax_search,
            # ours, backing up with mctx's own vmapped loop
            "mctx_backup": functools.partial(shogi_jax_search, mctx_backup=True),
            "pgx": pgx_search}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024])
    parser.add_argument("--simulations", type=int, default=32)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(DEFAULT_ENGINES))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(machine_line(machine_info()), flush=True)
    rows = []
    for batch in args.batches:
        rates = {}
        for engine in args.engines:
            run, arguments = BUILDERS[engine](batch, args.simulations, jax.random.PRNGKey(0))
            compiled, compile_seconds = compile_timed(run, *arguments)
            seconds = median_seconds(compiled, *arguments, repeats=args.repeats)
            rates[engine] = batch * args.simulations / seconds
            print(f"{engine:>9} B={batch:<5} {rates[engine]:>10,.0f} simulations/s "
                  f"({seconds * 1000:.0f} ms a search, compiled in {compile_seconds:.0f} s)",
                  flush=True)
        ratio = (f"{rates['shogi_jax'] / rates['pgx']:.1f}x"
                 if {"shogi_jax", "pgx"} <= rates.keys() else "—")
        rows.append([str(batch)] + [f"{rates[e]:,.0f}" for e in args.engines] + [ratio])
    print()
    print("\n".join(markdown_table(
        ["B"] + [f"{e} simulations/s" for e in args.engines] + ["shogi_jax / pgx"], rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
