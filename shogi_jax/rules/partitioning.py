"""Games split over devices: each device runs the rules' batched core on its own games.

A user who shards a batch of games over devices (`NamedSharding(mesh, P("data"))`) and calls
`jax.jit(jax.vmap(step))` leaves the partitioning to XLA, which cannot see inside the lane core
that the games are independent. The CPU program's fusion boundaries are conditionals whose
predicate (a word of the first game) must be the same on every device, and its chunk loop slices
the batch along the axis the devices split: XLA gathered games across devices for both.

`lower_by_games` lowers a batched primitive as a custom partitioning (`jax.experimental.
custom_partitioning`): every operand and output has the games first, so each device runs the
primitive, in the form chosen for the backend, on the games it holds, and nothing crosses devices.
On one device, inside `shard_map` (the trainer's `on_own_games`) and in a `jax.export`, the
lowering is the primitive's own.
"""
from __future__ import annotations

import math
from typing import Callable

# JAX gives a lowering the devices only where a primitive of this set is in the jaxpr (a public
# hook for primitives that lower to a custom partitioning would remove this import).
from jax._src import dispatch
from jax.experimental.custom_partitioning import custom_partitioning
from jax.extend.core import Primitive
from jax.interpreters import mlir
from jax.sharding import NamedSharding, PartitionSpec

from shogi_jax.rules.platform import forced_program, program_form


def lower_by_games(over_batch: Primitive, flat_over_batch: Callable) -> None:
    """Registers the lowering of `over_batch` (operands and outputs [B, ...]): each device runs
    flat_over_batch(*games, out_avals=...) on its own games."""
    # The per-device computation, a primitive so that the partitioning's traced function holds
    # no constants (custom_partitioning refuses them); in the form chosen when it was traced.
    on_device = Primitive(f"{over_batch.name}_on_device")
    on_device.multiple_results = True
    on_device.def_abstract_eval(lambda *avals, out_avals, form: over_batch.abstract_eval(
        *avals, out_avals=out_avals)[0])

    def on_device_lowering(*games, out_avals, form):
        with forced_program(form):
            return flat_over_batch(*games, out_avals=out_avals)

    mlir.register_lowering(on_device, mlir.lower_fun(on_device_lowering, multiple_results=True))

    def run(form, out_avals, *games):
        return on_device.bind(*games, out_avals=out_avals, form=form)

    def partition(form, out_avals, mesh, operands, results):
        games = _games_sharding(mesh, operands)
        return (mesh, lambda *local: run(form, out_avals, *local), [games] * len(results),
                (games,) * len(operands))

    partitioned = custom_partitioning(run, static_argnums=(0, 1))
    partitioned.def_partition(partition, sharding_rule=_sharding_rule)  # for Shardy (JAX's default)
    by_games = mlir.lower_fun(
        lambda *games, out_avals: partitioned(program_form(), out_avals, *games),
        multiple_results=True)
    whole = mlir.lower_fun(flat_over_batch, multiple_results=True)

    def lowering(ctx, *games, out_avals):
        # jax.export cannot serialize a custom partitioning: an export gets the core as it is.
        exporting = ctx.module_context.lowering_parameters.for_export
        return (whole if exporting else by_games)(ctx, *games, out_avals=out_avals)

    mlir.register_lowering(over_batch, lowering)
    dispatch.prim_requires_devices_during_lowering.add(over_batch)


def _games_sharding(mesh, operands) -> NamedSharding:
    """Operands and outputs split over the mesh axes the first operand's games (its leading axis)
    are split over; whole on every device where those axes do not divide the games evenly."""
    spec = getattr(operands[0].sharding, "spec", ())
    axes = spec[0] if len(spec) else None
    names = () if axes is None else (axes,) if isinstance(axes, str) else tuple(axes)
    if operands[0].shape[0] % math.prod(mesh.shape[name] for name in names):
        axes = None
    return NamedSharding(mesh, PartitionSpec(axes))


def _sharding_rule(form, out_avals, mesh, operand_types, result_types):
    """Shardy's rule: one `games` factor leads every operand and output; the other dimensions
    (a game's board, hand, planes) stay whole."""
    del form, out_avals, mesh
    whole = []

    def factors(prefix, types):
        tensors = []
        for i, tensor in enumerate(types):
            names = [f"{prefix}{i}_{d}" for d in range(1, len(tensor.shape))]
            whole.extend(names)
            tensors.append(" ".join(["games", *names]))
        return ", ".join(tensors)

    rule = f"{factors('in', operand_types)} -> {factors('out', result_types)}"
    return rule, {"need_replication_factors": tuple(whole)}
