"""Gumbel MuZero search (Danihelka et al., 2022) over our own rules, with `mctx`.

The model of the search is exact: the recurrent function is the rules' `step`, the network only
gives the prior (policy logits, illegal actions masked) and the value of the positions it reaches.
A position the rules call over (checkmate, declaration, repetition, move limit) is a leaf: the
edge into it carries the result for the side that moved there (`reward`), its value is 0 and the
search does not look past it (`discount` 0). Every other edge is between the two players:
`discount` -1, as in pgx's AlphaZero example, so values stay from the view of the side to move.

`search` works on a batch of games (the batch axis first). `search_one_game` is one game, for
the players' `act(params, state, key)` convention (vmapped by matches); both compile to the same
batched program. The play-time checks of a search player's move (`shogi_jax.play.tactics`) are the
player's, outside the search: training never sees them.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import chex
import jax
import jax.numpy as jnp
import mctx

import shogi_jax as sj
from shogi_jax.play._mctx_backward import mctx_with_batched_backward
from shogi_jax.play.policy import masked_log_softmax
from shogi_jax.rules.material import material_balance
from shogi_jax.rules.state import DEFAULT_MAX_PLIES


@dataclass(frozen=True)
class SearchSettings:
    """How a search player searches (hashable: part of the compiled program's identity)."""

    simulations: int = 32  # network evaluations per move, each one new node of the tree
    max_considered_actions: int = 16  # root actions sampled for sequential halving
    gumbel_scale: float = 1.0  # 0: no sampling (the prior's top actions, then the best by Q)
    # How far the searched values move the prior (mctx's completed-by-mix-value transform):
    # mctx's 0.1 keeps the prior's plan and lets the values break ties, which plays better
    # against real engines than letting them override it (docs/findings.md).
    value_scale: float = 0.1
    # The rules the search simulates: those of the games it plays (a move limit changes which
    # positions are draws).
    max_plies: int = DEFAULT_MAX_PLIES
    impasse: bool = True
    # The share of a position's value that comes from material instead of the value head:
    # (1 - w) x value + w x tanh(material balance / MATERIAL_VALUE_POINTS), for the side to move.
    # 0 (the default) is the network alone, as in training (docs/findings.md).
    material_weight: float = 0.0

    def __post_init__(self):
        if self.simulations < 1:
            raise ValueError(f"simulations must be >= 1, got {self.simulations}")
        if self.max_considered_actions < 1:
            raise ValueError(f"max_considered_actions must be >= 1, got "
                             f"{self.max_considered_actions}")
        # Negated so that NaN, which compares false with everything, is refused too.
        if not self.value_scale > 0:
            raise ValueError(f"value_scale must be > 0, got {self.value_scale}")
        if not self.gumbel_scale >= 0:
            raise ValueError(f"gumbel_scale must be >= 0, got {self.gumbel_scale}")
        if not 0 <= self.material_weight <= 1:
            raise ValueError(f"material_weight must be in [0, 1], got {self.material_weight}")


# Material points (rules.material.PIECE_POINTS: pawn 1, rook 10) at which the material value reaches
# tanh(1) = 0.76: a rook up is most of a won game against the engines these networks meet.
MATERIAL_VALUE_POINTS = 10.0


def _evaluate(model, settings: SearchSettings, params, states: sj.State, material_weight=None):
    """(prior float32[B, A], value float32[B]) for the side to move: the prior is the network's
    masked log-softmax, illegal actions at the float32 floor (probability exactly 0, also inside
    the tree, where mctx masks nothing); the value the network's, blended with the material
    balance by `material_weight` (float32[], traced: gumbel_az's annealed self-play search), or
    by `settings.material_weight` when it is None."""
    logits, value = model.apply(params, jax.vmap(sj.observe)(states))
    weight = settings.material_weight if material_weight is None else material_weight
    if material_weight is not None or weight:  # a traced weight is blended whatever its value
        material = jnp.tanh(jax.vmap(material_balance)(states) / MATERIAL_VALUE_POINTS)
        value = (1.0 - weight) * value + weight * material
    return masked_log_softmax(logits, states.legal_action_mask), value


def root_output(model, settings: SearchSettings, params, states: sj.State,
                material_weight=None) -> mctx.RootFnOutput:
    logits, value = _evaluate(model, settings, params, states, material_weight)
    return mctx.RootFnOutput(prior_logits=logits, value=value, embedding=states)


def recurrent_fn(model, settings: SearchSettings, material_weight=None):
    """mctx's recurrent function: the rules' step and the network's view of the new position
    (its value blended with material as `_evaluate` says)."""
    step = functools.partial(sj.step, max_plies=settings.max_plies, impasse=settings.impasse)

    def recurrent(params, key, action, states: sj.State):
        del key  # the rules are deterministic
        mover = states.color  # int32[B]
        after = jax.vmap(step)(states, action)
        logits, value = _evaluate(model, settings, params, after, material_weight)
        over = after.terminated | after.truncated  # bool[B]
        # The result for the side that just moved (non-zero only on the ply that ends the game).
        reward = jnp.take_along_axis(after.rewards, mover[:, None], axis=1)[:, 0]
        output = mctx.RecurrentFnOutput(
            reward=reward,
            discount=jnp.where(over, 0.0, -1.0),
            prior_logits=logits,
            value=jnp.where(over, 0.0, value))
        return output, after

    return recurrent


def _loop_within(budget):
    """mctx's simulation loop, stopped after `budget` (int32[], traced) simulations: one compiled
    program for every budget up to the tree's size. Sequential halving then stops in the phase it
    reached, and the move is the best of the most visited actions (mctx's own final choice)."""
    def loop(lower, upper, body, init):
        return jax.lax.fori_loop(lower, jnp.minimum(upper, budget), body, init)

    return loop


def search(model, settings: SearchSettings, params, states: sj.State, key,
           budget=None, material_weight=None) -> mctx.PolicyOutput:
    """Gumbel MuZero over a batch of B games (every field of `states` with the batch axis
    first), `settings.simulations` simulations, or `budget` (int32[], at most that) when given.
    The output's `action` int32[B] is the move to play, `action_weights` float32[B, A] the
    improved policy (the training target of Gumbel AlphaZero), `search_tree` the tree. The
    backup is mctx's, batched (`_mctx_backward`). `material_weight` (float32[], may be traced):
    the share of every evaluated position's value taken from material, in place of
    `settings.material_weight`."""
    chex.assert_rank(states.legal_action_mask, 2)  # [B, A]
    with mctx_with_batched_backward():
        return mctx.gumbel_muzero_policy(
            params=params, rng_key=key,
            root=root_output(model, settings, params, states, material_weight),
            recurrent_fn=recurrent_fn(model, settings, material_weight),
            num_simulations=settings.simulations,
            invalid_actions=~states.legal_action_mask,
            max_num_considered_actions=settings.max_considered_actions,
            gumbel_scale=settings.gumbel_scale,
            qtransform=functools.partial(mctx.qtransform_completed_by_mix_value,
                                         value_scale=settings.value_scale),
            loop_fn=jax.lax.fori_loop if budget is None else _loop_within(budget))


def search_one_game(model, settings: SearchSettings, params, state: sj.State, key,
                    budget=None, material_weight=None) -> mctx.PolicyOutput:
    """`search` of ONE game (fields without the batch axis): the output's batch axis has size 1."""
    return search(model, settings, params, jax.tree_util.tree_map(lambda x: x[None], state), key,
                  budget, material_weight)


def tree_depth(parents) -> int:
    """The deepest node's distance from the root, from a tree's `parents` int[N] (host numpy,
    -1 for the root and unvisited nodes; mctx adds nodes in order, a parent before its child)."""
    depth = [0] * len(parents)
    for node, parent in enumerate(parents):
        if node and parent >= 0:
            depth[node] = depth[int(parent)] + 1
    return max(depth)
