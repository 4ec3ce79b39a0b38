"""Many devices, many hosts: JAX's own runtime, one `data` mesh axis over every device.

The game batch (the B training games, the G games of a match) is split over the axis; parameters,
optimizer state, PRNG keys and counters are replicated on every device. XLA inserts the
collectives itself (the gradient mean, the metric sums), so the training iteration is the same
program on 1 device or on a pod slice, and its results do not depend on the device count (random
numbers are drawn by position in the global array, `jax_threefry_partitionable`).

Several processes (hosts) join through `jax.distributed.initialize` (config `distributed`):
explicit coordinator/num_processes/process_id, or JAX's auto-detection on Cloud TPU and Slurm.
Every process runs the same host loop and stops where the others do (StopAgreement);
only process 0 writes logs and prints.
"""
from __future__ import annotations

import itertools
import math
import os
import signal
from typing import Any, Optional

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from shogi_jax.host.signals import StopRequest

DATA_AXIS = "data"


def initialize(*, coordinator_address: Optional[str], num_processes: Optional[int],
               process_id: Optional[int]) -> None:
    """Joins the other processes of a multi-host job (before anything touches a device).

    Unset values come from the environment ($JAX_COORDINATOR_ADDRESS, read by JAX, and
    $JAX_NUM_PROCESSES / $JAX_PROCESS_ID, read here: one launch script for every host), else
    from JAX's detection of Cloud TPU or Slurm.
    """
    num_processes = _from_environment("JAX_NUM_PROCESSES", num_processes)
    process_id = _from_environment("JAX_PROCESS_ID", process_id)
    if num_processes is not None and process_id is not None and not (
            0 <= process_id < num_processes):
        raise ValueError(f"process id {process_id} is not in [0, {num_processes}) "
                         "(distributed.process_id / $JAX_PROCESS_ID)")
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes, process_id=process_id)


def _from_environment(name: str, value: Optional[int]) -> Optional[int]:
    if value is not None or not os.environ.get(name):
        return value
    try:
        return int(os.environ[name])
    except ValueError:
        raise ValueError(f"${name} must be an integer, got {os.environ[name]!r}") from None


def is_main_process() -> bool:
    """Process 0 writes metrics, TensorBoard events, the config and the console output."""
    return jax.process_index() == 0


def make_mesh(devices: int = 0) -> Mesh:
    """A one-axis mesh over the first `devices` devices of the job (0: all, of every process)."""
    available = jax.devices()
    count = devices or len(available)
    if count > len(available):
        raise ValueError(f"distributed.devices = {devices}, but only {len(available)} "
                         "devices are available")
    return Mesh(np.array(available[:count]), (DATA_AXIS,))


def mesh_for_batch(batch: int, mesh: Optional[Mesh] = None) -> Mesh:
    """The mesh that splits `batch` games evenly: `mesh` (default: every device) or, in a
    single process, its first gcd(batch, devices) devices."""
    mesh = mesh or make_mesh()
    if batch % mesh.size == 0:
        return mesh
    if jax.process_count() > 1:
        raise ValueError(f"{batch} games cannot be split evenly over {mesh.size} devices "
                         f"({jax.process_count()} processes): use a multiple of {mesh.size}")
    return Mesh(mesh.devices[:math.gcd(batch, mesh.size)], (DATA_AXIS,))


def platform_of(mesh: Optional[Mesh]) -> str:
    """The platform ("cpu", "gpu", "tpu") a function placed on `mesh` is compiled for; without
    a mesh, that of the default device."""
    return mesh.devices.flat[0].platform if mesh is not None else jax.default_backend()


def split_over_games(mesh: Mesh) -> NamedSharding:
    """Arrays whose leading axis is the game batch: one slice of games per device."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def on_own_games(function, mesh: Optional[Mesh], *, shared: int = 0, check_vma: bool = True):
    """`function` of game batches, run by each device of `mesh` on its own slice of games
    (`shard_map` over the data axis). Its first `shared` arguments (parameters, say) are the same
    on every device; every other argument and every output has the game axis first.

    XLA's partitioner gathers games across devices wherever it cannot see that a computation is
    per game (the rules' lane core did until it was partitioned by games itself). Here a device
    never sees another's games, whatever `function` does: the program holds no collective.
    Without a mesh, or on one device, `function` itself. check_vma=False for code that JAX's
    check of per-device values rejects although it is per-game (mctx starts its tree descent's
    loop from constants).
    """
    if mesh is None or mesh.size == 1:
        return function
    games = PartitionSpec(DATA_AXIS)

    def run(*args):
        in_specs = (PartitionSpec(),) * shared + (games,) * (len(args) - shared)
        return jax.shard_map(function, mesh=mesh, in_specs=in_specs, out_specs=games,
                             check_vma=check_vma)(*args)

    return run


def train_state_shardings(mesh: Mesh, state) -> Any:
    """A TrainState-shaped tree of shardings: the games in flight split over the data axis,
    everything else replicated."""
    whole = replicated(mesh)
    shardings = jax.tree_util.tree_map(lambda _: whole, state)
    games = jax.tree_util.tree_map(lambda _: split_over_games(mesh), state.games)
    return shardings._replace(games=games)


def snapshot(tree) -> Any:
    """A copy of `tree` on the same devices with the same shardings, which the next
    (buffer-donating) training call cannot delete while a checkpoint is still being written."""
    return jax.tree_util.tree_map(lambda x: jax.device_put(x, x.sharding, may_alias=False), tree)


def to_host(x) -> np.ndarray:
    """The whole of a (possibly multi-process) array as numpy, on every process."""
    if x.is_fully_addressable or x.is_fully_replicated:
        return np.asarray(x)
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


# Host-level agreement goes through JAX's coordination service (key-value store and barriers),
# never through a device collective: CPU (gloo) collectives give up after 30 s when one process
# reaches its first collective long before another (say, while the other still compiles). What it
# holds must not grow with the calls: barriers reuse their names, keys are deleted after use.
_HOST_TIMEOUT_MS = 30 * 60 * 1000
_broadcasts = itertools.count()


def _coordination():
    return ocp.multihost.get_jax_distributed_client()


def wait_for_all_processes(what: str) -> None:
    """A barrier (e.g. after compiling, before the first collective)."""
    if jax.process_count() > 1:
        _coordination().wait_at_barrier(f"shogi_jax/{what}", _HOST_TIMEOUT_MS)


def broadcast_from_main(value: int) -> int:
    """Process 0's integer, on every process."""
    if jax.process_count() == 1:
        return int(value)
    # A name of its own (the same on every process), so no process reads a previous value.
    client, key = _coordination(), f"shogi_jax/broadcast/{next(_broadcasts)}"
    if is_main_process():
        client.key_value_set(key, str(int(value)))
    value = int(client.blocking_key_value_get(key, _HOST_TIMEOUT_MS))
    wait_for_all_processes("broadcast read")
    if is_main_process():
        client.key_value_delete(key)
    return value


STOP_ELSEWHERE = "SIGTERM or another process's stop request"


class StopAgreement:
    """Whether to stop now, asked at the same points in the same order on every process: a stop
    requested on any process stops all of them at the same point (saving is a collective).

    Several processes agree through JAX's preemption sync point. Once jax.distributed has
    started, JAX's preemption notifier holds SIGTERM (it replaces our handler): a SIGTERM to any
    process becomes a notice every process hears, and JAX, holding each process at its next
    point meanwhile, picks the first point none has reached. Every other stop (SIGINT, a time
    limit, a SIGTERM caught before jax.distributed started) is made that same notice by raising
    SIGTERM here: one protocol, whose few keys are written once per stop, never per point.
    One process: the request itself, at once.
    """

    def __init__(self, stop: StopRequest):
        self.stop = stop
        self._points = 0  # the sync point's step: one more at each point, on every process
        self._noticed = False

    def reached(self) -> bool:
        if jax.process_count() == 1:
            return self.stop.requested is not None
        if self.stop.requested is not None and not self._noticed:
            self._noticed = True
            signal.raise_signal(signal.SIGTERM)  # JAX's notifier's handler, not ours
        self._points += 1
        if not multihost_utils.reached_preemption_sync_point(self._points):
            return False
        if self.stop.requested is None:
            self.stop.requested = STOP_ELSEWHERE
        return True
