"""Runs in a subprocess started by tests/test_scale.py with 8 fake CPU devices (XLA_FLAGS must
be set before JAX starts). A user's code, not the trainer's: a batch of games sharded over the
devices with NamedSharding(mesh, P("data")), then plain `jax.jit(jax.vmap(step))`,
`jax.jit(jax.vmap(observe))` and the pgx Env's step and observe. Prints one JSON object of
measurements: for each function, the collectives in its compiled program, whether its outputs
are split like its inputs, and whether they equal those of one device.

    python tests/sharded_rules_checks.py
"""
from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from program_text import collectives

import shogi_jax as sj
from shogi_jax.env import EnvState
from shogi_jax.rules.platform import forced_program

GAMES = 256  # 32 a device: enough lanes for the CPU program's fusion boundaries (quicker compiles)
PLIES = 30  # random legal plies before the positions checked
ILLEGAL_AT = 10  # the ply at which the first games play an illegal action (and end)
ENDED = 4  # games that end so, and games that play an illegal action in the step checked


def random_actions(rng, games, illegal: int):
    """A random legal action for each game (any action for a finished game); the first
    `illegal` games play an illegal one instead."""
    mask = np.asarray(games.legal_action_mask)
    actions = np.array([rng.choice(np.flatnonzero(row)) for row in mask], np.int32)
    for game in range(illegal):
        actions[game] = np.flatnonzero(~mask[game])[0] if not mask[game].all() else -1
    return jnp.asarray(actions)


def played_games(step, rng):
    """GAMES games after PLIES random plies on one device; the first ENDED ended illegally."""
    games = jax.vmap(lambda _: sj.init())(jnp.arange(GAMES))
    for ply in range(PLIES):
        games = step(games, random_actions(rng, games, ENDED if ply == ILLEGAL_AT else 0))
    return games


def _equal(got, want) -> bool:
    return all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(
        jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)))


def measure(function, sharded_arguments, reference, by_game) -> dict:
    """jit(function) of the games split over 8 devices: collectives in its program, outputs split
    like the games, results equal to `reference` (one device's)."""
    compiled = jax.jit(function).lower(*sharded_arguments).compile()
    got = compiled(*sharded_arguments)
    return {
        "collectives": dict(collectives(compiled.as_text())),
        "split_like_inputs": all(leaf.sharding.is_equivalent_to(by_game, leaf.ndim)
                                 for leaf in jax.tree_util.tree_leaves(got)),
        "equal": _equal(got, reference),
    }


def env_states(games, observations) -> EnvState:
    """The Env's states of `games` (player 0 Black in each)."""
    return EnvState(current_player=games.color, observation=observations, rewards=games.rewards,
                    terminated=games.terminated, truncated=games.truncated,
                    legal_action_mask=games.legal_action_mask, _step_count=games.ply,
                    _player_order=jnp.tile(jnp.int32([0, 1]), (GAMES, 1)), _x=games)


def check_rules() -> dict:
    mesh = Mesh(np.array(jax.devices()), ("data",))
    by_game = NamedSharding(mesh, PartitionSpec("data"))
    rng = np.random.default_rng(0)
    step, observe = jax.jit(jax.vmap(sj.step)), jax.jit(jax.vmap(sj.observe))
    games = played_games(step, rng)
    actions = random_actions(rng, games, ENDED + 2)  # 2 more games end now
    # One device's results (the accelerator form's are the same: tests/test_platform.py).
    stepped, observed = step(games, actions), observe(games)
    on_devices = jax.device_put((games, actions), by_game)
    results = {}
    for form in ("auto", "accelerator"):
        with forced_program(form):
            results[f"step_{form}"] = measure(jax.vmap(sj.step), on_devices, stepped, by_game)
            results[f"observe_{form}"] = measure(jax.vmap(sj.observe), on_devices[:1], observed,
                                                 by_game)
    # 2048 games (the CPU program's chunks of 256): each device's games in chunks of their own.
    many, many_observed = jax.tree_util.tree_map(lambda x: jnp.tile(x, (8,) + (1,) * (x.ndim - 1)),
                                                 (games, observed))
    results["observe_2048"] = measure(jax.vmap(sj.observe), (jax.device_put(many, by_game),),
                                      many_observed, by_game)
    # A batch of batches (the rules' second vmap): games [GAMES / 4, 4], the outer axis split.
    nested, nested_observed = jax.tree_util.tree_map(
        lambda x: x.reshape((GAMES // 4, 4) + x.shape[1:]), (games, observed))
    results["observe_nested"] = measure(jax.vmap(jax.vmap(sj.observe)),
                                        (jax.device_put(nested, by_game),), nested_observed,
                                        by_game)

    env = sj.make("shogi")
    states = env_states(games, observed)
    results["env_step"] = measure(jax.vmap(env.step), jax.device_put((states, actions), by_game),
                                  jax.jit(jax.vmap(env.step))(states, actions), by_game)
    results["env_observe"] = measure(jax.vmap(env.observe), (jax.device_put(states, by_game),),
                                     observed, by_game)

    # 12 games on 8 devices (an uneven split, only possible inside jit): whole on each device.
    def uneven(games):
        return jax.vmap(sj.observe)(jax.lax.with_sharding_constraint(games, by_game))

    twelve = jax.tree_util.tree_map(lambda x: x[:12], games)
    results["uneven_equal"] = _equal(jax.jit(uneven)(twelve), observed[:12])
    # An export of the sharded program (custom partitionings cannot be serialized): the core
    # unpartitioned, as before.
    exported = jax.export.export(jax.jit(jax.vmap(sj.observe)), platforms=("cuda",))(
        jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=by_game),
                               games))
    results["exported_devices"] = exported.nr_devices
    # What the step checked covers: games that end by an illegal action, games that had ended.
    results["ended_illegally"] = int(np.sum(np.asarray(stepped.termination) == sj.ILLEGAL_ACTION))
    results["playing"] = int(np.sum(np.asarray(stepped.termination) == sj.NOT_TERMINATED))
    results["devices"] = jax.device_count()
    return results


if __name__ == "__main__":
    print(json.dumps(check_rules()))
