"""One process of a 2-process job, started twice by tests/test_scale.py: what the host-level
agreement (parallel.StopAgreement, broadcast_from_main, wait_for_all_processes) leaves in JAX's
coordination service after many calls. Prints one JSON object for the test to assert on.

    python tests/coordination_checks.py PROCESS_ID PORT CALLS
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time

from shogi_jax.host import parallel
from shogi_jax.host.signals import StopRequest

SIGINT_AT = 3  # process 1 is sent SIGINT after this many agreement points
POINT_SECONDS = 0.1
MAX_POINTS = 600  # never agreed: the test fails instead of waiting forever


def main(process_id: int, port: int, calls: int) -> dict:
    stop = StopRequest().install()  # before jax.distributed starts, as the command line does
    parallel.initialize(coordinator_address=f"localhost:{port}", num_processes=2,
                        process_id=process_id)
    agreed = parallel.StopAgreement(stop)
    broadcasts = [parallel.broadcast_from_main(10 * call + process_id) for call in range(calls)]
    for _ in range(calls):
        parallel.wait_for_all_processes("a check")
    points = 0
    while not agreed.reached() and points < MAX_POINTS:
        time.sleep(POINT_SECONDS)  # an iteration
        points += 1
        if process_id == 1 and points == SIGINT_AT:
            os.kill(os.getpid(), signal.SIGINT)  # one host's Ctrl-C
    parallel.wait_for_all_processes("checked")  # every process's keys are written
    client = parallel._coordination()
    return {"stopped_after": points, "requested": stop.requested, "broadcasts": broadcasts,
            "ours": client.key_value_dir_get("shogi_jax/"),
            "preemption_counters": client.key_value_dir_get("PREEMPTION_CURRENT_COUNTER/")}


if __name__ == "__main__":
    print(json.dumps(main(*map(int, sys.argv[1:]))))
