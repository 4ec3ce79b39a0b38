"""The train state and what a run is built from: the network, the optimizer and its schedule,
the games in flight (started together or staggered), and their placement over devices.

Everything training needs, counters included, lives in `TrainState`, on device; the host loop
only calls the iteration and logs what it returns.
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

import shogi_jax as sj
from shogi_jax.host import parallel
from shogi_jax.host.settings import ConfigError
from shogi_jax.play import policy
from shogi_jax.play.model import make_model
from shogi_jax.rules.state import State, select_games
from shogi_jax.train import pool, ppo
from shogi_jax.train.config import Config
from shogi_jax.train.pool import Pool

NUM_REASONS = len(sj.TERMINATION_NAMES)
RESULT_NAMES = ("black_wins", "white_wins", "draws")


class TrainState(NamedTuple):
    """Everything training needs, on device; the single source of truth for every counter.

    Env steps are not stored: every iteration plays exactly B x T of them, so they are
    `iteration * num_games * rollout_length` (see `env_steps`).
    """

    params: Any
    opt_state: Any
    games: State  # [B] games in flight, each from its mover's view
    key: jax.Array  # uint32[2] PRNG key, split at each iteration
    iteration: jax.Array  # int32[] iterations completed
    games_finished: jax.Array  # int32[] games ended since the start of training
    results: jax.Array  # int32[3] finished games: Black wins, White wins, draws
    reasons: jax.Array  # int32[NUM_REASONS] finished games by termination code
    pool: Pool | None = None  # the opponent pool (pool.share > 0), replicated


def env_steps(config: Config, iteration: int) -> int:
    """Env steps (plies, all games together) after `iteration` iterations."""
    return iteration * config.env.num_games * config.env.rollout_length


class Trainer(NamedTuple):
    """The pieces a run is built from: the network, the optimizer and its warm-up schedule."""

    model: Any
    optimizer: optax.GradientTransformation
    schedule: optax.Schedule


def make_trainer(config: Config) -> Trainer:
    ppo_config = config.ppo
    updates_per_iteration = ppo_config.epochs * ppo_config.minibatches
    schedule = ppo.warmup_schedule(
        learning_rate=ppo_config.learning_rate,
        warmup_steps=ppo_config.warmup_iterations * updates_per_iteration)
    return Trainer(make_model(config.model),
                   ppo.make_optimizer(schedule, max_grad_norm=ppo_config.max_grad_norm),
                   schedule)


def start_position(config: Config) -> State:
    return sj.init(max_plies=config.env.max_plies, impasse=config.env.impasse)


def staggered_games(config: Config, games: State, key, mesh: Mesh | None = None) -> State:
    """B games played on by uniformly random moves, game b for plies[b] ~ U{0 .. N-1} plies
    (N = env.stagger_plies; a game that ends meanwhile restarts from the start position).

    Without it all B games start together and stay in step until the first ones end: an
    iteration's batch then holds the same phase of every game (the openings, then the early
    middle games, ...), for the first ~16 iterations of cpu.yaml. These plies are not trained
    on, but they count in the length (games/mean_length) of each slot's first game. With `mesh`,
    each device steps its own games."""
    num_games, spread = games.legal_action_mask.shape[0], config.env.stagger_plies
    count_key, move_key = jax.random.split(key)
    plies = jax.random.randint(count_key, (num_games,), 0, spread)  # int32[B]
    step, _ = rules_on_own_games(config, mesh)
    start = start_position(config)
    uniform = jnp.zeros(games.legal_action_mask.shape, jnp.float32)  # logits of equal moves

    def ply(games, t_and_key):
        t, ply_key = t_and_key
        action, _ = policy.sample_actions(ply_key, uniform, games.legal_action_mask)
        after = step(games, action)
        after = select_games(after.terminated | after.truncated, start, after)
        return select_games(t < plies, after, games), None

    return jax.lax.scan(ply, games, (jnp.arange(spread), jax.random.split(move_key, spread)))[0]


def init_train_state(config: Config, trainer: Trainer, mesh: Mesh | None = None) -> TrainState:
    """Fresh parameters (seeded by train.seed), optimizer state and B games at the start
    (each played on by `staggered_games` when env.stagger_plies is set; with `mesh`, each
    device plays its own)."""
    key = jax.random.PRNGKey(config.train.seed)
    params_key, key = jax.random.split(key)
    start = start_position(config)
    params = trainer.model.init(params_key, sj.observe(start)[None])
    games = jax.tree_util.tree_map(
        lambda x: jnp.broadcast_to(x, (config.env.num_games,) + x.shape), start)
    if config.env.stagger_plies:
        stagger_key, key = jax.random.split(key)
        games = staggered_games(config, games, stagger_key, mesh)
    return TrainState(
        params=params, opt_state=trainer.optimizer.init(params), games=games, key=key,
        iteration=jnp.int32(0), games_finished=jnp.int32(0),
        results=jnp.zeros(len(RESULT_NAMES), jnp.int32),
        reasons=jnp.zeros(NUM_REASONS, jnp.int32),
        pool=pool.new_pool(params, config.pool.size) if config.pool.share > 0 else None)


def rules_on_own_games(config: Config, mesh: Mesh | None):
    """(step, observe) of B games under the training games' rules, each device on its own."""
    step = parallel.on_own_games(jax.vmap(functools.partial(
        sj.step, max_plies=config.env.max_plies, impasse=config.env.impasse)), mesh)
    return step, parallel.on_own_games(jax.vmap(sj.observe), mesh)


def train_state_shardings(config: Config, trainer: Trainer, mesh: Mesh):
    """The TrainState's shardings on `mesh`: games split over the data axis, the rest
    replicated."""
    abstract = jax.eval_shape(lambda: init_train_state(config, trainer))
    return parallel.train_state_shardings(mesh, abstract)


def init_sharded_train_state(config: Config, trainer: Trainer, mesh: Mesh) -> TrainState:
    """init_train_state, made directly in place on `mesh` (every process computes only its own
    shards; the values do not depend on the mesh)."""
    if config.env.num_games % mesh.size:
        raise ConfigError(f"env.num_games = {config.env.num_games} cannot be split evenly over "
                          f"{mesh.size} devices: use a multiple of {mesh.size}, or set "
                          "distributed.devices")
    return sharded_init(config, trainer, mesh)()


def sharded_init(config: Config, trainer: Trainer, mesh: Mesh):
    """The jitted init_train_state whose train state is placed on `mesh`."""
    return jax.jit(lambda: init_train_state(config, trainer, mesh),
                   out_shardings=train_state_shardings(config, trainer, mesh))
