"""One training iteration, jitted whole: self-play rollout, targets, E x M minibatch updates.

B games (`env.num_games`) are played side by side for T plies (`env.rollout_length`) with the
current network choosing every move for both sides; finished games restart from the start position
at once (auto-reset). `algorithm: ppo`: the policy samples the moves, GAE gives the targets of PPO
updates. `algorithm: gumbel_az`: a Gumbel MuZero search over the rules plays the moves, its
improved policy and the games' outcomes are the targets (`gumbel_az`). Both share the skeleton:
the games, the tallies, the minibatches and the optimizer. Everything, counters included, lives
in `TrainState`; the host loop only calls the iteration and logs what it returns.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

import shogi_jax as sj
from shogi_jax.host import parallel
from shogi_jax.play import wdl
from shogi_jax.train import budget, pool
from shogi_jax.train.config import Config
from shogi_jax.train.pool import Pool
from shogi_jax.train.rollout import PoolTally, rollout, search_rollout
from shogi_jax.train.state import (
    RESULT_NAMES,
    Trainer,
    TrainState,
    train_state_shardings,
)
from shogi_jax.train.updates import az_update, ppo_targets, ppo_update, scan_or_unroll


def train_iteration(config: Config, trainer: Trainer, state: TrainState,
                    budget_clock: budget.Clock | None = None, mesh: Mesh | None = None, *,
                    platform: str | None = None):
    """TrainState -> (TrainState, metrics: dict of float32[] for this iteration). budget_clock:
    the budget and the share of its time limit gone (default: `config`'s, no time gone); `mesh`:
    the devices the games are split over (None: one device); `platform`: the one the iteration
    is compiled for (default: that of `mesh`'s devices, or of the default device)."""
    platform = platform or parallel.platform_of(mesh)
    key, rollout_key, update_key = jax.random.split(state.key, 3)
    spent = budget.share_spent(budget_clock or budget.clock(config), state.iteration)
    lr_decay = budget.learning_rate_decay(config.ppo.lr_schedule, spent)
    env_steps = state.iteration.astype(jnp.float32) * (config.env.num_games
                                                       * config.env.rollout_length)
    if config.algorithm == "gumbel_az":
        material = budget.search_material_weight(config, env_steps, spent)
        games, transitions, tallies = search_rollout(config, trainer.model, state.params,
                                                     state.games, rollout_key, mesh, material)
        params, opt_state, metrics = az_update(config, trainer, state.params, state.opt_state,
                                               transitions, update_key, platform=platform,
                                               lr_decay=lr_decay)
        metrics["rollout/mean_value"] = jnp.mean(transitions.root_value)
        if material is not None:
            metrics["az/material_weight"] = material
        if transitions.expert is not None:
            metrics["expert/share"] = jnp.mean(transitions.expert.astype(jnp.float32))
    else:
        weight = budget.shaping_weight(config, env_steps, spent)
        opponent_params = member = None
        if state.pool is not None:
            # A key of its own (folded from the rollout's), so runs without a pool draw what
            # they drew before the pool existed.
            member = pool.draw_member(jax.random.fold_in(rollout_key, 1), state.pool,
                                      config.pool.sampling)
            opponent_params = pool.member_params(state.pool, member)
        games, transitions, tallies, pool_tally = rollout(
            config, trainer.model, state.params, state.games, rollout_key, weight, mesh,
            opponent_params)
        params, opt_state, metrics = ppo_update(config, trainer, state.params, state.opt_state,
                                                transitions, ppo_targets(config, transitions),
                                                update_key, platform=platform, lr_decay=lr_decay)
        if state.pool is not None:
            new_pool, pool_metrics = _pool_after(config, state.pool, member, pool_tally, params,
                                                 state.iteration + 1)
            metrics.update(pool_metrics)
        metrics["rollout/mean_value"] = jnp.mean(transitions.value)
        metrics["shaping/material_weight"] = weight
        if transitions.next_wdl is not None:
            metrics["rollout/mean_draw_probability"] = jnp.mean(
                transitions.next_wdl[..., wdl.DRAW])
    metrics["train/budget_spent"] = spent
    finished = jnp.sum(tallies.finished)
    results = jnp.sum(tallies.results, axis=0)
    reasons = jnp.sum(tallies.reasons, axis=0)
    metrics.update({
        "games/finished": finished.astype(jnp.float32),
        "games/mean_length": (jnp.sum(tallies.plies) / jnp.maximum(finished, 1)).astype(
            jnp.float32),
        "rollout/mean_reward": jnp.mean(transitions.reward),
    })
    metrics.update({f"games/{name}": results[i].astype(jnp.float32)
                    for i, name in enumerate(RESULT_NAMES)})
    metrics.update({f"games/{name}": reasons[code].astype(jnp.float32)
                    for code, name in enumerate(sj.TERMINATION_NAMES) if code != sj.NOT_TERMINATED})
    state = TrainState(
        params=params, opt_state=opt_state, games=games, key=key,
        iteration=state.iteration + 1, games_finished=state.games_finished + finished,
        results=state.results + results, reasons=state.reasons + reasons,
        pool=new_pool if state.pool is not None else None)
    return state, metrics


def _pool_after(config: Config, before: Pool, member, pool_tally: PoolTally, params,
                iteration):
    """(the pool after this iteration, its metrics): the member's record updated with the
    learner's results, then the new network added if this iteration is one to add at."""
    finished = jnp.sum(pool_tally.finished)
    points = jnp.sum(pool_tally.learner_points)
    after = pool.record_results(before, member, finished, points)
    metrics = {
        "pool/members": jnp.sum(before.added_at >= 0).astype(jnp.float32),
        "pool/member_age": (iteration - 1 - before.added_at[member]).astype(jnp.float32),
        "pool/games_finished": finished,
        "pool/learner_points": points,
        # Over every game against this member so far, smoothed as rating-based drawing sees it.
        "pool/member_score": pool.learner_score(after)[member],
    }
    return pool.add_member(after, params, iteration, config.pool.add_every_iterations), metrics


def make_train_step(config: Config, trainer: Trainer, mesh: Mesh | None = None):
    """A jitted function: (TrainState, budget.Clock) -> (TrainState, metrics with a leading axis
    of train.iterations_per_dispatch iterations). The clock (`budget.clock`) tells the budget
    and the share of train.time_limit_minutes gone before the call, at run time: configs that
    differ only in train.iterations share one program.
    The input state's buffers are donated. With a mesh, the state keeps its shardings and the
    metrics come back replicated (global sums)."""
    per_dispatch = config.train.iterations_per_dispatch
    # The platform of the devices it runs on, not the process's default backend: a CPU mesh in a
    # GPU process gets the CPU's unrolled updates, and the other way round.
    platform = parallel.platform_of(mesh)

    def run(state, budget_clock):
        return scan_or_unroll(
            lambda s, _: train_iteration(config, trainer, s, budget_clock, mesh,
                                         platform=platform),
            state, None, length=per_dispatch, platform=platform)

    if mesh is None:
        return jax.jit(run, donate_argnums=0)
    shardings = train_state_shardings(config, trainer, mesh)
    return jax.jit(run, donate_argnums=0, in_shardings=(shardings, parallel.replicated(mesh)),
                   out_shardings=(shardings, parallel.replicated(mesh)))
