"""Batch-minor evaluation: rules written over a trailing lane axis, called per game, vmapped whole.

`jax.vmap` puts the batch axis first, so a bitboard of a batch is uint32[B, 9] and every file shift
works on 9-element rows. The rules heavy on bitboards are therefore written over arrays with a
trailing lane axis (uint32[9, L]: one contiguous vector per file across the batch) and wrapped
with `lane_function`: a function of one game (L = 1) whose vmap is a single call over all B games
with the batch moved to the last axis. Nested vmaps and vmaps with unbatched arguments work (the
unbatched ones are broadcast).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

from shogi_jax.rules.bitboards import materialize


def lane_function(core):
    """core(*arrays with a trailing lane axis) -> pytree of arrays with a trailing lane axis.

    Returns f(*arrays of one game) -> the outputs of one game; `jax.vmap(f)` runs `core` once over
    the batch in the lane layout.
    """

    @custom_vmap
    def one_game(*args):
        outputs = core(*(jnp.asarray(x)[..., None] for x in args))
        return jax.tree_util.tree_map(lambda y: y[..., 0], outputs)

    @one_game.def_vmap
    def batched(axis_size, in_batched, *args):
        lanes = [jnp.moveaxis(x, 0, -1) if is_batched
                 else jnp.broadcast_to(jnp.asarray(x)[..., None], jnp.shape(x) + (axis_size,))
                 for x, is_batched in zip(args, in_batched)]
        # A buffer of its own: a consumer that reads each output word several times (unpacking
        # bits) must not recompute the whole core into its fusion.
        outputs = materialize(core(*lanes))
        return (jax.tree_util.tree_map(lambda y: jnp.moveaxis(y, -1, 0), outputs),
                jax.tree_util.tree_map(lambda _: True, outputs))

    return functools.wraps(core)(one_game)
