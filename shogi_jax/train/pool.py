"""The opponent pool: frozen earlier networks that a share of the self-play games is played against
(config `pool`, algorithm ppo).

Pure self-play chases its own tail: a policy that beats its latest self can forget how to beat
older ones, and a trick that works on itself (walking the king in to declare) goes unpunished.
So `pool.share` of the B games pit the learner against a network from the pool, which holds up
to P earlier parameter sets on the device (a ring: every `add_every_iterations` iterations the
current network overwrites the oldest). Each iteration one pool member is drawn to play all the
pool games of that rollout:
  - `recency`: the newer a member, the likelier (weights 1, 2, ..., n by age);
  - `rating`: prioritised fictitious self-play (AlphaStar): weights (1 - s)^2 where s is the
    learner's score against that member so far (Laplace-smoothed), so the members it does not
    yet beat are played most;
  - `uniform`.
Only the learner's moves train; the member's moves are part of its environment. A pool game that
outlives the rollout meets the next iteration's member for its remaining moves.

Shapes: P pool slots; the parameters carry a leading [P] axis.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from shogi_jax.train.config import POOL_SAMPLING


class Pool(NamedTuple):
    """Frozen networks and the learner's results against each; replicated on every device."""

    params: Any               # the network's parameters, each leaf with a leading [P] axis
    added_at: jax.Array       # int32[P] the iteration a slot was filled at; -1 while empty
    games: jax.Array          # float32[P] pool games finished against each slot's network
    learner_points: jax.Array  # float32[P] the learner's points in them (win 1, draw 1/2)


def new_pool(params, size: int) -> Pool:
    """A pool of `size` slots holding the initial network in slot 0 (added at iteration 0), so
    there is always a member to draw; the other slots are empty (copies, never drawn)."""
    return Pool(
        params=jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (size,) + x.shape), params),
        added_at=jnp.full((size,), -1, jnp.int32).at[0].set(0),
        games=jnp.zeros((size,), jnp.float32), learner_points=jnp.zeros((size,), jnp.float32))


def learner_score(pool: Pool):
    """float32[P]: the learner's score against each slot's member, (points + 1) / (games + 2)
    (Laplace's rule: 1/2 before any game)."""
    return (pool.learner_points + 1.0) / (pool.games + 2.0)


def draw_weights(pool: Pool, sampling: str):
    """float32[P]: the probability of each slot's member being drawn (0 for empty slots)."""
    filled = pool.added_at >= 0
    if sampling == "recency":
        # 1 for the oldest member, n for the newest.
        older = (pool.added_at[None, :] < pool.added_at[:, None]) & filled[None, :]
        weights = jnp.sum(older, axis=1).astype(jnp.float32) + 1.0
    elif sampling == "rating":
        weights = jnp.square(1.0 - learner_score(pool)) + 1e-3
    elif sampling == "uniform":
        weights = jnp.ones(pool.added_at.shape, jnp.float32)
    else:
        raise ValueError(f"unknown pool sampling {sampling!r}; expected one of {POOL_SAMPLING}")
    weights = jnp.where(filled, weights, 0.0)
    return weights / jnp.sum(weights)


def draw_member(key, pool: Pool, sampling: str):
    """int32[]: the slot whose network plays this iteration's pool games."""
    weights = draw_weights(pool, sampling)
    return jax.random.categorical(key, jnp.log(jnp.maximum(weights, 1e-30))).astype(jnp.int32)


def member_params(pool: Pool, slot):
    return jax.tree_util.tree_map(lambda x: x[slot], pool.params)


def record_results(pool: Pool, slot, games, learner_points) -> Pool:
    """The pool after `games` (float32[]) more finished games against `slot`, in which the
    learner made `learner_points`."""
    return pool._replace(games=pool.games.at[slot].add(games),
                         learner_points=pool.learner_points.at[slot].add(learner_points))


def add_member(pool: Pool, params, iteration, every: int) -> Pool:
    """After iteration number `iteration` (int32[], counted from 1): every `every` iterations
    the current `params` join the pool, in the slot after the last one written (the oldest once
    the ring is full), with a clean record. Branch-free: the pool is unchanged otherwise."""
    size = pool.added_at.shape[0]
    joins = iteration % every == 0
    slot = (iteration // every) % size  # slot 0 holds the initial network until the ring wraps

    def write(stack, leaf):
        return jnp.where(joins, stack.at[slot].set(leaf), stack)

    return Pool(params=jax.tree_util.tree_map(write, pool.params, params),
                added_at=write(pool.added_at, iteration),
                games=write(pool.games, 0.0), learner_points=write(pool.learner_points, 0.0))
