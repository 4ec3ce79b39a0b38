"""The exit codes of every command line, one meaning each, so that a scheduler (Kubernetes, xpk,
Slurm, a shell loop) can tell a finished job from one to restart.

docs/cloud.md shows them as a table; `EXIT_CODE_HELP` is the same table for the commands' help.
"""
from __future__ import annotations

FINISHED = 0  # the run reached its iterations; the tournament played every game
FAILED = 1  # it failed (a non-finite loss, an unexpected error): restarting will not help
REFUSED = 2  # bad input (config, run directory, checkpoint): nothing was changed
# Stopped cleanly by SIGTERM, SIGINT or a time limit, with everything saved: run it again with
# --resume. sysexits.h's EX_TEMPFAIL ("try again later"), which no other failure here returns.
STOPPED = 75

EXIT_CODE_HELP = (f"Exit codes: {FINISHED} finished; {STOPPED} stopped (SIGTERM, SIGINT or a time "
                  f"limit) with everything saved, continue with --resume; {REFUSED} refused "
                  f"input, nothing changed; {FAILED} failure.")
