"""The run's budget and the schedules defined on it: the learning rate's decay and the shaping
anneal follow the share of the budget spent, so a run limited by time decays as one limited by
iterations does.

The budget is `train.iterations`, or `train.time_limit_minutes` of wall clock where that is set:
whichever is nearer its end. A time-limited run's share counts the whole run's wall clock (every
session, as `perf/wall_seconds` does), so a resumed run carries on with its decay; its stop
counts this session's (loop._check_time_limit).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from shogi_jax.train.config import LR_SCHEDULES, Config


class Clock(NamedTuple):
    """The budget as the compiled iteration is told it, at run time: not compiled in, so a
    resume that raises train.iterations runs the program already compiled (and kept in the
    compilation cache). Both float32[]."""

    iterations: jax.Array  # train.iterations: the budget in iterations
    time_spent: jax.Array  # the share of train.time_limit_minutes gone (0 without a limit)


def clock(config: Config, time_spent: float = 0.0) -> Clock:
    """The Clock of `config`'s budget, `time_spent` (`time_share`) of its time limit gone."""
    return Clock(np.float32(config.train.iterations), np.float32(time_spent))


def share_spent(budget_clock: Clock, iteration):
    """float32[] in [0, 1]: the share of the run's budget spent when `iteration` (int32[]) is
    about to start: the larger of iteration / train.iterations and the share of
    train.time_limit_minutes gone (both from `budget_clock`)."""
    by_iterations = (jnp.asarray(iteration, jnp.float32)
                     / jnp.asarray(budget_clock.iterations, jnp.float32))
    spent = jnp.maximum(by_iterations, jnp.asarray(budget_clock.time_spent, jnp.float32))
    return jnp.clip(spent, 0.0, 1.0)


def time_share(config: Config, wall_seconds: float) -> float:
    """The share of train.time_limit_minutes that `wall_seconds` of the run make (0 without a
    time limit)."""
    limit = config.train.time_limit_minutes
    return min(wall_seconds / (60.0 * limit), 1.0) if limit else 0.0


def learning_rate_decay(kind: str, spent):
    """float32[]: the factor on ppo.learning_rate after the share `spent` of the budget: 1 for
    "constant", 1 - spent for "linear", (1 + cos(pi x spent)) / 2 for "cosine" (0 at the end)."""
    if kind not in LR_SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {kind!r}; expected one of {LR_SCHEDULES}")
    spent = jnp.asarray(spent, jnp.float32)
    if kind == "constant":
        return jnp.ones_like(spent)
    if kind == "linear":
        return 1.0 - spent
    return 0.5 * (1.0 + jnp.cos(jnp.pi * spent))


def anneal_remaining(config: Config, env_steps, spent):
    """float32[] in [0, 1]: what remains of the training-time material signals (PPO's shaping,
    gumbel_az's material in the search): falling linearly to 0 by reward_shaping.anneal_budget
    (a share of the budget) or by reward_shaping.anneal_env_steps, 1 when neither is set.
    env_steps: float32[] played so far; spent: the budget's share (`share_spent`)."""
    shaping = config.reward_shaping
    if shaping.anneal_budget is not None:
        remaining = 1.0 - jnp.asarray(spent, jnp.float32) / shaping.anneal_budget
    elif shaping.anneal_env_steps:
        remaining = 1.0 - jnp.asarray(env_steps, jnp.float32) / shaping.anneal_env_steps
    else:
        return jnp.float32(1.0)
    return jnp.clip(remaining, 0.0, 1.0)


def shaping_weight(config: Config, env_steps, spent):
    """float32[]: reward_shaping's material weight now (PPO), annealed (`anneal_remaining`)."""
    return jnp.float32(config.reward_shaping.material_weight) * anneal_remaining(
        config, env_steps, spent)


def search_material_weight(config: Config, env_steps, spent):
    """float32[] or None: the share of gumbel_az's self-play search evaluations taken from the
    material balance now (gumbel_az.material_weight, annealed as `anneal_remaining` says), or
    None where it is 0: the search then evaluates with the network alone and computes no
    material."""
    if not config.gumbel_az.material_weight:
        return None
    return jnp.float32(config.gumbel_az.material_weight) * anneal_remaining(
        config, env_steps, spent)
