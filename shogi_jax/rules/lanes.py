"""Batch-minor evaluation: rules written over a trailing lane axis, called per game, vmapped whole.

`jax.vmap` puts the batch axis first, so a bitboard of a batch would be uint32[B, 9] and every file
shift would work on 9-element rows. The rules heavy on bitboards are therefore written over arrays
with a trailing lane axis (uint32[9, L]: one contiguous vector per file across games) and wrapped
with `lane_function`: a function of one game (L = 1) whose vmap runs the core over the batch in
the lane layout, in chunks of LANE_CHUNK games (a `lax.map`) so that its many intermediate sets
stay in cache. Nested vmaps and vmaps with unbatched arguments work (the unbatched ones are
broadcast).
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

from shogi_jax.rules.bitboards import fusion_boundaries, materialize

# Games per chunk: uint32[9, 256] sets are 9 KiB, so a few hundred live ones fit in L2.
LANE_CHUNK = 256
# Below this many lanes, fusion boundaries cost more (one conditional each on CPU) than the
# recomputation they save.
MIN_LANES_FOR_BOUNDARIES = 32


def lane_function(core):
    """core(*arrays with a trailing lane axis) -> pytree of arrays with a trailing lane axis.

    Returns f(*arrays of one game) -> the outputs of one game; `jax.vmap(f)` runs `core` over the
    batch in the lane layout.
    """

    @custom_vmap
    def one_game(*args):
        with fusion_boundaries(False):
            outputs = core(*(jnp.asarray(x)[..., None] for x in args))
        return jax.tree_util.tree_map(lambda y: y[..., 0], outputs)

    @one_game.def_vmap
    def batched(axis_size, in_batched, *args):
        games = [x if is_batched else jnp.broadcast_to(x, (axis_size,) + jnp.shape(x))
                 for x, is_batched in zip(args, in_batched)]
        chunk = min(axis_size, LANE_CHUNK)
        num_chunks = math.ceil(axis_size / chunk)
        padding = num_chunks * chunk - axis_size

        def to_lanes(x):  # [B, ...] -> [num_chunks, ..., chunk]
            x = jnp.pad(x, [(0, padding)] + [(0, 0)] * (x.ndim - 1))  # padded games: empty boards
            return jnp.moveaxis(x.reshape((num_chunks, chunk) + x.shape[1:]), 1, -1)

        def run_chunk(chunk_args):
            with fusion_boundaries(chunk >= MIN_LANES_FOR_BOUNDARIES):
                return core(*chunk_args)

        outputs = jax.lax.map(run_chunk, [to_lanes(x) for x in games])
        # A buffer of its own: a consumer that reads each output word several times (unpacking
        # bits) must not recompute the whole core into its fusion.
        outputs = materialize(jax.tree_util.tree_map(
            lambda y: jnp.moveaxis(y, -1, 1).reshape((num_chunks * chunk,) + y.shape[1:-1])[
                :axis_size], outputs))
        return outputs, jax.tree_util.tree_map(lambda _: True, outputs)

    return functools.wraps(core)(one_game)
