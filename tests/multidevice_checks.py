"""Runs in a subprocess started by tests/test_scale.py with 8 fake CPU devices (XLA_FLAGS must
be set before JAX starts, so not inside the pytest process). Prints one JSON object of
measurements for the test to assert on, one key a part:

    python tests/multidevice_checks.py                   # every part, in one process
    python tests/multidevice_checks.py gumbel_az pool    # those parts only

Parts: train (PPO training on 1 and on 8 devices), match, gumbel_az (search self-play training
and a search player's match), pool (PPO with an opponent pool), staggered (games staggered
before training), collectives (what XLA puts between the devices). One process for all: the
rules' and the network's programs, and JAX's start, are shared. Everything but the collectives
is compiled with the pipeline of the process's environment (conftest's cheaper one in the
tests); the collectives are counted in XLA's full pipeline, the program an accelerator gets.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from program_text import collectives

import shogi_jax as sj
from shogi_jax.arena.match import PLIES_PER_CHUNK, play_match, play_plies, start_states
from shogi_jax.host import parallel
from shogi_jax.host.settings import ConfigError
from shogi_jax.play.players import Player
from shogi_jax.play.search import SearchSettings
from shogi_jax.rules.state import STARTPOS_SFEN
from shogi_jax.train import budget
from shogi_jax.train.config import load_config
from shogi_jax.train.iteration import make_train_step
from shogi_jax.train.state import (
    init_sharded_train_state,
    init_train_state,
    make_trainer,
    sharded_init,
)

SMOKE = Path(__file__).resolve().parent.parent / "configs" / "smoke.yaml"
ITERATIONS = 3
TRAIN_OVERRIDES = ["env.max_plies=12"]  # games end inside the run
# A small search, games that end inside the rollout (so value targets exist), with material in
# its evaluations (a traced weight every device gets).
AZ_OVERRIDES = TRAIN_OVERRIDES + ["algorithm=gumbel_az", "gumbel_az.simulations=4",
                                  "gumbel_az.max_considered_actions=4",
                                  "gumbel_az.material_weight=0.5"]
# One game in 2 against a pool member that changes every iteration: 16 games, 2 a device.
POOL_OVERRIDES = TRAIN_OVERRIDES + ["env.num_games=16", "pool.share=0.5", "pool.size=2",
                                    "pool.add_every_iterations=1", "pool.sampling=rating"]
RULES_BATCH = 2048  # games for the sharded step and observe (256 per device)


def train_on(devices: int, overrides=TRAIN_OVERRIDES):
    """ITERATIONS smoke iterations on the first `devices` devices: (final state, metrics)."""
    config = load_config(SMOKE, overrides)
    mesh = parallel.make_mesh(devices)
    trainer = make_trainer(config)
    state = init_sharded_train_state(config, trainer, mesh)
    step = make_train_step(config, trainer, mesh)
    records = []
    for _ in range(ITERATIONS):
        state, metrics = step(state, budget.clock(config))
        records.append({name: float(np.asarray(value)[0]) for name, value in metrics.items()})
    return state, records


def check_train(overrides=TRAIN_OVERRIDES) -> dict:
    one_state, one_metrics = train_on(1, overrides)
    eight_state, eight_metrics = train_on(8, overrides)
    param_diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(
        jax.tree_util.tree_leaves(one_state.params), jax.tree_util.tree_leaves(eight_state.params)))
    board_equal = bool(np.array_equal(np.asarray(one_state.games.board),
                                      np.asarray(eight_state.games.board)))
    uneven = load_config(SMOKE, ["env.num_games=12"])
    try:
        init_sharded_train_state(uneven, make_trainer(uneven), parallel.make_mesh(8))
        uneven_error = None
    except ConfigError as error:
        uneven_error = str(error)
    return {
        "uneven_error": uneven_error,
        "devices": jax.device_count(),
        "games_devices": len(eight_state.games.board.sharding.device_set),
        "params_devices": len(jax.tree_util.tree_leaves(eight_state.params)[0].sharding.device_set),
        "params_replicated": jax.tree_util.tree_leaves(eight_state.params)[0].sharding
        .is_fully_replicated,
        "max_param_diff": param_diff,
        "max_param": max(float(np.max(np.abs(np.asarray(a))))
                         for a in jax.tree_util.tree_leaves(one_state.params)),
        "boards_equal": board_equal,
        "one": one_metrics, "eight": eight_metrics,
        "counters_one": [int(one_state.games_finished)] + np.asarray(one_state.results).tolist(),
        "counters_eight": [int(eight_state.games_finished)]
        + np.asarray(eight_state.results).tolist(),
    }


def check_match() -> dict:
    greedy, random = Player("greedy", "greedy"), Player("random", "random")
    played = {}
    for devices in (1, 8):
        games = play_match(greedy, None, random, None, games=16, key=jax.random.PRNGKey(5),
                           max_plies=64, opening_plies=2, mesh=parallel.make_mesh(devices))
        played[devices] = games
    return {
        "moves_equal": played[1].moves == played[8].moves,
        "outcomes_equal": bool(np.array_equal(played[1].outcome, played[8].outcome)),
        "plies": sum(len(m) for m in played[8].moves),
        "mesh_for_16_games": parallel.mesh_for_batch(16, parallel.make_mesh(8)).size,
        "mesh_for_12_games": parallel.mesh_for_batch(12, parallel.make_mesh(8)).size,
    }


def check_search_match() -> dict:
    """A search player (an untrained smoke network) against random, on 1 and on 8 devices."""
    config = load_config(SMOKE)
    params = init_train_state(config, make_trainer(config)).params
    searcher = Player("search", "search", config.model,
                      search=SearchSettings(simulations=4, max_considered_actions=4, max_plies=24))
    played = {devices: play_match(searcher, params, Player("random", "random"), None, games=8,
                                  key=jax.random.PRNGKey(6), max_plies=24, opening_plies=2,
                                  mesh=parallel.make_mesh(devices))
              for devices in (1, 8)}
    return {"moves_equal": played[1].moves == played[8].moves,
            "plies": sum(len(m) for m in played[8].moves)}


def check_staggered_init() -> dict:
    """Games staggered by random plies before training: on 8 devices each device plays its own
    (no custom partitioning in the program, whose key in the persistent compilation cache would
    then change in every process), and they are the games of one device."""
    config = load_config(SMOKE, ["env.stagger_plies=4"])
    trainer = make_trainer(config)
    init = sharded_init(config, trainer, parallel.make_mesh(8))
    games = {devices: init_sharded_train_state(config, trainer, parallel.make_mesh(devices)).games
             for devices in (1, 8)}
    return {"custom_partitionings": init.lower().as_text().count("CustomSPMDPartitioning"),
            "games_equal": all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(
                jax.tree_util.tree_leaves(games[1]), jax.tree_util.tree_leaves(games[8]))),
            "plies": np.asarray(games[8].ply).tolist()}


def _compiled_collectives(function, *args, mesh) -> dict:
    """Collectives in XLA's program of jit(function) for arguments placed on `mesh`."""
    return dict(collectives(jax.jit(function).lower(*args).compile().as_text()))


def check_collectives() -> dict:
    """What XLA puts between the 8 devices: nothing for the rules; for a training iteration,
    only all-reduces (counted), per PPO update."""
    mesh = parallel.make_mesh(8)
    by_game = parallel.split_over_games(mesh)
    games = jax.tree_util.tree_map(
        lambda x: jax.ShapeDtypeStruct((RULES_BATCH,) + x.shape, x.dtype, sharding=by_game),
        sj.init())
    actions = jax.ShapeDtypeStruct((RULES_BATCH,), jnp.int32, sharding=by_game)
    step = parallel.on_own_games(jax.vmap(sj.step), mesh)
    observe = parallel.on_own_games(jax.vmap(sj.observe), mesh)

    config = load_config(SMOKE, TRAIN_OVERRIDES)  # the program check_train ran
    trainer = make_trainer(config)
    abstract_state = jax.eval_shape(lambda: init_train_state(config, trainer))
    iteration = make_train_step(config, trainer, mesh).lower(abstract_state,
                                                              budget.clock(config)).compile()

    greedy, random = Player("greedy", "greedy"), Player("random", "random")
    match_games, _ = start_states([STARTPOS_SFEN], 16, max_plies=64, impasse=True)
    match_games = jax.device_put(match_games, by_game)
    first_is_black = jax.device_put(jnp.arange(16) % 2 == 0, by_game)
    match_chunk = play_plies.lower(  # as check_match played it
        greedy, random, None, None, match_games, first_is_black, jax.random.PRNGKey(0),
        jax.random.PRNGKey(1), plies=PLIES_PER_CHUNK, opening_plies=2, max_plies=64,
        impasse=True, mesh=mesh)
    return {
        "step": _compiled_collectives(step, games, actions, mesh=mesh),
        "observe": _compiled_collectives(observe, games, mesh=mesh),
        "iteration": dict(collectives(iteration.as_text())),
        "updates_per_iteration": config.ppo.epochs * config.ppo.minibatches,
        "match_chunk": dict(collectives(match_chunk.compile().as_text())),
    }


PARTS = {
    "train": check_train,
    "match": check_match,
    "gumbel_az": lambda: {"train": check_train(AZ_OVERRIDES),
                          "search_match": check_search_match()},
    "pool": lambda: {"train": check_train(POOL_OVERRIDES)},
    "staggered": check_staggered_init,
    "collectives": check_collectives,
}


def main(parts) -> dict:
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise SystemExit(f"unknown parts {unknown}; expected some of {sorted(PARTS)}")
    measured = {}
    for part in parts:
        if part == "collectives":
            jax.config.update("jax_disable_most_optimizations", False)
        measured[part] = PARTS[part]()
    return measured


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:] or list(PARTS))))
