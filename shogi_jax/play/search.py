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

import contextlib
import functools
from dataclasses import dataclass

import chex
import jax
import jax.numpy as jnp
import mctx
from mctx._src import search as mctx_search

import shogi_jax as sj
from shogi_jax.play.policy import masked_log_softmax
from shogi_jax.rules.material import material_balance
from shogi_jax.rules.state import DEFAULT_MAX_PLIES


@dataclass(frozen=True)
class SearchSettings:
    """How a search player searches (hashable: part of the compiled program's identity)."""

    simulations: int = 32  # network evaluations per move, each one new node of the tree
    max_considered_actions: int = 16  # root actions sampled for sequential halving
    gumbel_scale: float = 1.0  # 0: no sampling (the prior's top actions, then the best by Q)
    # How far the searched values move the prior: sigma(q) = (50 + max visits) * value_scale * q
    # with q rescaled to [0, 1] over the root's actions (mctx's completed-by-mix-value transform).
    # mctx's default 0.1 caps that at ~6 logits at 32 simulations, so the prior's plan holds and
    # the values mostly break ties among the moves it likes. Against a real engine that plays
    # far better than 1.0, where the values (trained on shaped, discounted returns) override the
    # prior: the shipped network searching scored 0.57 against Fairy-Stockfish Skill -5 at depth
    # 1 with 0.1 and 0.273 with 1.0, its raw policy 0.482 (docs/benchmarks.md). The price: the
    # sharp prior can outvote a mate in one the search found (12 of 30 hand-made mates in one
    # played at 0.1, 30 of 30 at 1.0); a player's `Tactics.mate_in_one` plays those.
    value_scale: float = 0.1
    # The rules the search simulates: those of the games it plays (a move limit changes which
    # positions are draws).
    max_plies: int = DEFAULT_MAX_PLIES
    impasse: bool = True
    # The share of a position's value that comes from material instead of the value head:
    # (1 - w) x value + w x tanh(material balance / MATERIAL_VALUE_POINTS), for the side to move.
    # 0 (the default) is the network alone, as in training. Measured at 0.5 with 128
    # simulations: no gain over 0 (docs/benchmarks.md, "A search that sees material").
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


def _evaluate(model, settings: SearchSettings, params, states: sj.State):
    """(prior float32[B, A], value float32[B]) for the side to move: the prior is the network's
    masked log-softmax, illegal actions at the float32 floor (probability exactly 0, also inside
    the tree, where mctx masks nothing); the value the network's, blended with the material
    balance by `settings.material_weight`."""
    logits, value = model.apply(params, jax.vmap(sj.observe)(states))
    if settings.material_weight:
        material = jnp.tanh(jax.vmap(material_balance)(states) / MATERIAL_VALUE_POINTS)
        value = (1.0 - settings.material_weight) * value + settings.material_weight * material
    return masked_log_softmax(logits, states.legal_action_mask), value


def root_output(model, settings: SearchSettings, params, states: sj.State) -> mctx.RootFnOutput:
    logits, value = _evaluate(model, settings, params, states)
    return mctx.RootFnOutput(prior_logits=logits, value=value, embedding=states)


def recurrent_fn(model, settings: SearchSettings):
    """mctx's recurrent function: the rules' step and the network's view of the new position."""
    step = functools.partial(sj.step, max_plies=settings.max_plies, impasse=settings.impasse)

    def recurrent(params, key, action, states: sj.State):
        del key  # the rules are deterministic
        mover = states.color  # int32[B]
        after = jax.vmap(step)(states, action)
        logits, value = _evaluate(model, settings, params, after)
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


def batched_backward(tree: mctx.Tree, leaf_index) -> mctx.Tree:
    """mctx's backup of a new leaf's value to the root, over the whole batch at once: the same
    updates in the same order as `mctx._src.search.backward` (bit for bit, tests/test_search.py).

    mctx writes its backup for one game and vmaps it. A vmapped `while_loop` whose condition
    differs between games masks the whole carry with a select on every step, and mctx's carry is
    the whole tree: six float32[B, N, A] arrays (N = simulations + 1, A = 2187) and the
    embeddings, copied once per ply of every backup. That makes a search quadratic in its
    simulations (at B = 16 and 256 simulations, ~9x slower per simulation than at 32; at B = 1
    XLA keeps it in place). Here the loop is batched by hand: it runs while any game climbs,
    each step gathers and scatters one entry per game, and a game already at the root writes
    back what is there."""
    rows = jnp.arange(leaf_index.shape[0])  # [B]
    root = mctx.Tree.ROOT_INDEX

    def climbing(loop_state):
        _, _, index = loop_state
        return jnp.any(index != root)

    def one_ply_up(loop_state):
        tree, leaf_value, index = loop_state  # leaf_value float32[B], index int32[B]
        active = index != root  # bool[B]: the games still below their root
        parent = jnp.where(active, tree.parents[rows, index], root)
        action = jnp.where(active, tree.action_from_parent[rows, index], 0)
        count = tree.node_visits[rows, parent]
        reward = tree.children_rewards[rows, parent, action]
        climbed = reward + tree.children_discounts[rows, parent, action] * leaf_value
        parent_value = tree.node_values[rows, parent]  # float32[B], before this backup
        child_value = tree.children_values[rows, parent, action]
        children_visits = tree.children_visits[rows, parent, action]

        def where_active(new, old):
            return jnp.where(active, new, old)

        tree = tree.replace(
            node_values=tree.node_values.at[rows, parent].set(where_active(
                (parent_value * count + climbed) / (count + 1.0), parent_value)),
            node_visits=tree.node_visits.at[rows, parent].set(where_active(count + 1, count)),
            children_values=tree.children_values.at[rows, parent, action].set(
                where_active(tree.node_values[rows, index], child_value)),
            children_visits=tree.children_visits.at[rows, parent, action].set(
                where_active(children_visits + 1, children_visits)))
        return tree, where_active(climbed, leaf_value), where_active(parent, index)

    leaf_index = jnp.asarray(leaf_index, jnp.int32)
    tree, _, _ = jax.lax.while_loop(
        climbing, one_ply_up, (tree, tree.node_values[rows, leaf_index], leaf_index))
    return tree


@contextlib.contextmanager
def _mctx_with_batched_backward():
    """mctx's search, while traced inside this block, backs up with `batched_backward`: mctx
    calls its module's `backward` by name and offers no argument for it."""
    if not callable(getattr(mctx_search, "backward", None)):
        raise RuntimeError(f"mctx {getattr(mctx, '__version__', '?')} has no "
                           "mctx._src.search.backward to replace: pin mctx as pyproject.toml does")
    mctx_backward = mctx_search.backward
    mctx_search.backward = batched_backward
    try:
        yield
    finally:
        mctx_search.backward = mctx_backward


def _loop_within(budget):
    """mctx's simulation loop, stopped after `budget` (int32[], traced) simulations: one compiled
    program for every budget up to the tree's size. Sequential halving then stops in the phase it
    reached, and the move is the best of the most visited actions (mctx's own final choice)."""
    def loop(lower, upper, body, init):
        return jax.lax.fori_loop(lower, jnp.minimum(upper, budget), body, init)

    return loop


def search(model, settings: SearchSettings, params, states: sj.State, key,
           budget=None, *, mctx_backup: bool = False) -> mctx.PolicyOutput:
    """Gumbel MuZero over a batch of B games (every field of `states` with the batch axis
    first), `settings.simulations` simulations, or `budget` (int32[], at most that) when given.
    The output's `action` int32[B] is the move to play, `action_weights` float32[B, A] the
    improved policy (the training target of Gumbel AlphaZero), `search_tree` the tree.
    `mctx_backup` backs up with mctx's own vmapped loop instead of `batched_backward`: the
    reference the tests check it against, quadratic in the simulations."""
    chex.assert_rank(states.legal_action_mask, 2)  # [B, A]
    with contextlib.nullcontext() if mctx_backup else _mctx_with_batched_backward():
        return mctx.gumbel_muzero_policy(
            params=params, rng_key=key, root=root_output(model, settings, params, states),
            recurrent_fn=recurrent_fn(model, settings), num_simulations=settings.simulations,
            invalid_actions=~states.legal_action_mask,
            max_num_considered_actions=settings.max_considered_actions,
            gumbel_scale=settings.gumbel_scale,
            qtransform=functools.partial(mctx.qtransform_completed_by_mix_value,
                                         value_scale=settings.value_scale),
            loop_fn=jax.lax.fori_loop if budget is None else _loop_within(budget))


def search_one_game(model, settings: SearchSettings, params, state: sj.State, key,
                    budget=None) -> mctx.PolicyOutput:
    """`search` of ONE game (fields without the batch axis): the output's batch axis has size 1."""
    return search(model, settings, params, jax.tree_util.tree_map(lambda x: x[None], state), key,
                  budget)


def tree_depth(parents) -> int:
    """The deepest node's distance from the root, from a tree's `parents` int[N] (host numpy,
    -1 for the root and unvisited nodes; mctx adds nodes in order, a parent before its child)."""
    depth = [0] * len(parents)
    for node, parent in enumerate(parents):
        if node and parent >= 0:
            depth[node] = depth[int(parent)] + 1
    return max(depth)
