"""Batch-minor evaluation: rules written over a trailing lane axis, called per game, vmapped whole.

`jax.vmap` puts the batch axis first, so a bitboard of a batch would be uint32[B, 9] and every file
shift would work on 9-element rows. The rules heavy on bitboards are therefore written over arrays
with a trailing lane axis (uint32[9, L]: one contiguous vector per file across games) and wrapped
with `lane_function`: a function of one game (L = 1) whose vmap runs the core over the batch in
the lane layout. Nested vmaps and vmaps with unbatched arguments work (the unbatched ones are
broadcast).

How the batch becomes lanes depends on the backend (`shogi_jax.rules.platform`):
- CPU: chunks of LANE_CHUNK games, one after another (a `lax.map`), so that the core's many
  intermediate sets stay in cache.
- GPU/TPU: the whole batch as one set of lanes, no loop over games: each of the core's kernels
  runs once over all B games, so the kernel count per step does not grow with the batch.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

from shogi_jax.rules.bitboards import fusion_boundaries, materialize
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
        outputs = by_platform(*games, cpu=lambda *g: _in_chunks(core, g, LANE_CHUNK),
                              accelerator=lambda *g: _whole_batch(core, g))
        # A buffer of its own: a consumer that reads each output word several times (unpacking
        # bits) must not recompute the whole core into its fusion.
        outputs = materialize(outputs)
        return outputs, jax.tree_util.tree_map(lambda _: True, outputs)

    return functools.wraps(core)(one_game)
