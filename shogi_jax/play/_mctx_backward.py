"""mctx's backup, batched by hand: the one place shogi_jax reaches into mctx's private modules.

mctx calls its module's `backward` by name (`mctx._src.search.backward`) and offers no argument
for it, so `mctx_with_batched_backward` swaps ours in while a search is traced. An mctx search
that took its backup function as an argument, or batched its backup itself, would remove this
module. tests/test_search.py checks the result against mctx's own backup, bit for bit.
"""
from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import mctx
from mctx._src import search as mctx_search


def batched_backward(tree: mctx.Tree, leaf_index) -> mctx.Tree:
    """mctx's backup of a new leaf's value to the root, over the whole batch at once: the same
    updates in the same order as `mctx._src.search.backward` (bit for bit, tests/test_search.py).

    mctx writes its backup for one game and vmaps it. A vmapped `while_loop` whose condition
    differs between games masks the whole carry with a select on every step, and mctx's carry is
    the whole tree: six float32[B, N, A] arrays (N = simulations + 1, A = 2187) and the
    embeddings, copied once per ply of every backup, which makes a batched search quadratic in
    its simulations (docs/benchmarks.md). Here the loop is batched by hand: it runs while any
    game climbs, each step gathers and scatters one entry per game, and a game already at the
    root writes back what is there."""
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
def mctx_with_batched_backward():
    """mctx's search, while traced inside this block, backs up with `batched_backward`."""
    if not callable(getattr(mctx_search, "backward", None)):
        raise RuntimeError(f"mctx {getattr(mctx, '__version__', '?')} has no "
                           "mctx._src.search.backward to replace: pin mctx as pyproject.toml does")
    mctx_backward = mctx_search.backward
    mctx_search.backward = batched_backward
    try:
        yield
    finally:
        mctx_search.backward = mctx_backward
