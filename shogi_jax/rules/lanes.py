"""Batch-minor evaluation: rules written over a trailing lane axis, called per game, vmapped whole.

`jax.vmap` puts the batch axis first, so a bitboard of a batch would be uint32[B, 9] and every file
shift would work on 9-element rows. The rules heavy on bitboards are therefore written over arrays
with a trailing lane axis (uint32[9, L]: one contiguous vector per file across games) and wrapped
with `lane_function`: a function of one game (L = 1) whose vmap runs the core over the batch in
the lane layout. Vmaps with unbatched arguments work (the unbatched ones are broadcast), and
nested vmaps merge their batch axes into one set of lanes.

How the batch becomes lanes depends on the backend (`shogi_jax.rules.platform`):
- CPU: chunks of LANE_CHUNK games, one after another (a `lax.map`), so that the core's many
  intermediate sets stay in cache.
- GPU/TPU: the whole batch as one set of lanes, no loop over games: each of the core's kernels
  runs once over all B games, so the kernel count per step does not grow with the batch.
"""
from __future__ import annotations

import functools
import math

import chex
import jax
import jax.numpy as jnp
from jax.extend.core import Primitive
from jax.interpreters import batching, mlir

from shogi_jax.rules.bitboards import fusion_boundaries, materialize
from shogi_jax.rules.partitioning import lower_by_games
from shogi_jax.rules.platform import by_platform

# Games per chunk on the CPU: uint32[9, 256] sets are 9 KiB, so a few hundred live ones fit in L2.
LANE_CHUNK = 256
# Below this many lanes, fusion boundaries cost more (one conditional each on CPU) than the
# recomputation they save.
MIN_LANES_FOR_BOUNDARIES = 32


def _in_chunks(core, games, chunk: int):
    """The CPU form: core over [B, ...] games in chunks of `chunk` lanes; outputs [B, ...]."""
    axis_size = games[0].shape[0]
    chunk = min(axis_size, chunk)
    num_chunks = math.ceil(axis_size / chunk)
    padding = num_chunks * chunk - axis_size

    def to_lanes(x):  # [B, ...] -> [num_chunks, ..., chunk]
        x = jnp.pad(x, [(0, padding)] + [(0, 0)] * (x.ndim - 1))  # padded games: empty boards
        return jnp.moveaxis(x.reshape((num_chunks, chunk) + x.shape[1:]), 1, -1)

    def run_chunk(chunk_args):
        with fusion_boundaries(chunk >= MIN_LANES_FOR_BOUNDARIES):
            return core(*chunk_args)

    outputs = jax.lax.map(run_chunk, [to_lanes(x) for x in games])
    return jax.tree_util.tree_map(
        lambda y: jnp.moveaxis(y, -1, 1).reshape((num_chunks * chunk,) + y.shape[1:-1])[
            :axis_size], outputs)


def _whole_batch(core, games):
    """The accelerator form: core over all [B, ...] games as one set of B lanes."""
    axis_size = games[0].shape[0]
    with fusion_boundaries(axis_size >= MIN_LANES_FOR_BOUNDARIES):
        outputs = core(*(jnp.moveaxis(x, 0, -1) for x in games))
    return jax.tree_util.tree_map(lambda y: jnp.moveaxis(y, -1, 0), outputs)


def lane_function(core):
    """core(*arrays with a trailing lane axis) -> pytree of arrays with a trailing lane axis.

    Returns f(*arrays of one game) -> the outputs of one game; `jax.vmap(f)` runs `core` over the
    batch in the lane layout, in the form chosen for the backend.

    f is a primitive of its own (not `jax.custom_batching.custom_vmap`): its batching rule sees
    every operand with its batch axis, while the constants `core` uses stay inside its lowering.
    custom_vmap instead hands its closed-over constants to the rule as operands and refuses them
    batched, which a `lax.cond` with a batched predicate does to every operand: pgx-style code
    that steps games inside a cond under vmap (pgx's auto_reset) failed with an AssertionError.
    """
    primitive = Primitive(f"shogi_lanes_{core.__name__}")
    primitive.multiple_results = True
    # The same core over a leading batch axis of games (what `primitive` becomes under vmap). A
    # primitive too, so that a second vmap (a batch of batches: each game's 128 replies, checked
    # for mates, in a batch of games) merges its axis into this one and the core still runs in
    # the lane layout; vmapping the computation instead batches the core with the batch axis in
    # front, which is much slower on the CPU (docs/findings.md).
    over_batch = Primitive(f"shogi_lanes_{core.__name__}_over_batch")
    over_batch.multiple_results = True

    def one_game(*args):
        with fusion_boundaries(False):
            outputs = core(*(jnp.asarray(x)[..., None] for x in args))
        return jax.tree_util.tree_map(lambda y: y[..., 0], outputs)

    def flat_one_game(*args, out_tree, out_avals):
        del out_avals
        leaves, tree = jax.tree_util.tree_flatten(one_game(*args))
        assert tree == out_tree, (tree, out_tree)
        return leaves

    def flat_over_batch(*games, out_avals):
        """Every operand [B, ...]: the outputs [B, ...] of the core in the backend's form."""
        outputs = by_platform(*games, cpu=lambda *g: _in_chunks(core, g, LANE_CHUNK),
                              accelerator=lambda *g: _whole_batch(core, g))
        # A buffer of its own: a consumer that reads each output word several times (unpacking
        # bits) must not recompute the whole core into its fusion.
        leaves = jax.tree_util.tree_leaves(materialize(outputs))
        # Each output: the one-game output with the batch axis in front.
        chex.assert_shape(leaves, [(games[0].shape[0],) + aval.shape for aval in out_avals])
        return leaves

    def leading(args, dims):
        """The operands with the vmapped axis in front (unbatched ones broadcast)."""
        axis_size = next(x.shape[d] for x, d in zip(args, dims) if d is not None)
        return [jnp.moveaxis(x, d, 0) if d is not None
                else jnp.broadcast_to(x, (axis_size,) + jnp.shape(x))
                for x, d in zip(args, dims)]

    def batched(args, dims, *, out_tree, out_avals):
        del out_tree  # the outputs keep one_game's order
        leaves = over_batch.bind(*leading(args, dims), out_avals=out_avals)
        return leaves, [0] * len(leaves)

    def batched_twice(args, dims, *, out_avals):
        games = leading(args, dims)  # [outer, inner, ...]
        outer, inner = games[0].shape[:2]
        leaves = over_batch.bind(*(x.reshape((outer * inner,) + x.shape[2:]) for x in games),
                                 out_avals=out_avals)
        return [y.reshape((outer, inner) + y.shape[1:]) for y in leaves], [0] * len(leaves)

    primitive.def_impl(flat_one_game)
    primitive.def_abstract_eval(lambda *avals, out_tree, out_avals: list(out_avals))
    mlir.register_lowering(primitive, mlir.lower_fun(flat_one_game, multiple_results=True))
    batching.primitive_batchers[primitive] = batched
    over_batch.def_impl(flat_over_batch)
    over_batch.def_abstract_eval(lambda *avals, out_avals: [
        jax.core.ShapedArray((avals[0].shape[0],) + aval.shape, aval.dtype)
        for aval in out_avals])
    # Under jit, each device runs the core on its own games (games split over devices are
    # never gathered).
    lower_by_games(over_batch, flat_over_batch)
    batching.primitive_batchers[over_batch] = batched_twice

    @functools.wraps(core)
    def call(*args):
        args = [jnp.asarray(x) for x in args]
        shapes = jax.eval_shape(one_game, *args)
        out_avals = tuple(jax.core.ShapedArray(leaf.shape, leaf.dtype)
                          for leaf in jax.tree_util.tree_leaves(shapes))
        out_tree = jax.tree_util.tree_structure(shapes)
        leaves = primitive.bind(*args, out_tree=out_tree, out_avals=out_avals)
        return jax.tree_util.tree_unflatten(out_tree, leaves)

    return call
