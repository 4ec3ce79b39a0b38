"""`python -m shogi_jax.usi --checkpoint RUN_DIR`: a USI engine, so a trained network plays in
ordinary Shogi GUIs and tournament runners (`--pretrained` serves the network shipped with the
package, `--player random|greedy` the baselines; `--simulations N` makes a network search).

The engine answers on stdout; diagnostics go to stderr or, for the GUI, `info string`. The
protocol is `usi/protocol.py`, the position and the moves `usi/mover.py`.
GUIs start an engine as one executable without arguments: `--write-launcher PATH` writes one.
How the shipped network was made: shogi_jax/pretrained/README.md.
"""
from __future__ import annotations

import argparse
import math
import os
import shlex
import stat
import sys
from pathlib import Path

from shogi_jax.host.compilation_cache import keep_compiled_programs
from shogi_jax.host.paths import absolute
from shogi_jax.play.network import PRETRAINED_RUN, CheckpointError, load_network
from shogi_jax.play.players import Player, settings_refused
from shogi_jax.play.search import SearchSettings
from shogi_jax.play.tactics import TACTIC_HELP, Tactics
from shogi_jax.usi.mover import USI_MAX_PLIES, PlayerMover
from shogi_jax.usi.protocol import serve


class LauncherError(ValueError):
    pass


def write_launcher(path: Path, engine_arguments: list[str]) -> None:
    """A one-file executable that starts this engine with these arguments (GUIs and cshogi's
    runner start an engine by path, without arguments). `.bat`/`.cmd` names get a Windows one;
    written inside WSL, it starts the engine in this Linux distribution through `wsl.exe`, so a
    Windows GUI can register it."""
    # The entry shim's name, not this module's: launchers outlive refactors.
    command = [str(Path(sys.executable).absolute()), "-m", "shogi_jax.usi", *engine_arguments]
    if path.suffix.lower() in (".bat", ".cmd"):
        if os.name != "nt":
            distribution = os.environ.get("WSL_DISTRO_NAME")
            if not distribution:
                raise LauncherError(f"{path}: a Windows launcher written on Linux must come from "
                                    "WSL (WSL_DISTRO_NAME is not set); write a .sh launcher")
            # wsl.exe passes the words after -e to the Linux program as they are.
            command = ["wsl.exe", "-d", distribution, "-e", *command]
        quoted = " ".join(f'"{a}"' for a in command)
        path.write_text(f"@echo off\r\n{quoted} %*\r\n", newline="")
    else:
        path.write_text(f"#!/bin/sh\nexec {shlex.join(command)} \"$@\"\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


# The search's settings that the engine's flags set, by SearchSettings' field name.
_SEARCH_FLAGS = {"simulations": "--simulations", "max_considered_actions": "--considered",
                 "value_scale": "--value-scale"}


def _tactic_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m shogi_jax.usi",
        description=" ".join(__doc__.split("\n\n")[0].split()),  # the whole first paragraph
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Examples:\n"
               "  python -m shogi_jax.usi --checkpoint runs/cpu\n"
               "  python -m shogi_jax.usi --player greedy\n"
               "  python -m shogi_jax.usi --checkpoint runs/cpu --write-launcher shogi_jax.sh\n"
               "  python -m shogi_jax.usi --pretrained --write-launcher /mnt/c/shogi/shogi_jax.bat"
               "   (inside WSL)\n"
               "  python -m shogi_jax.usi --pretrained --simulations 128   (searching)\n"
               "USI options: Temperature (0 plays the network's most likely move; not used by a "
               "search), Seed.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", metavar="RUN_DIR", help="a training run directory")
    source.add_argument("--player", choices=("random", "greedy"), help="a baseline player")
    source.add_argument("--pretrained", action="store_true",
                        help="the network shipped with the package (configs/cpu.yaml trained for "
                             "the 60-minute learning bar; see shogi_jax/pretrained/README.md)")
    parser.add_argument("--which", choices=("latest", "best"),
                        help="with --checkpoint: the run's latest good checkpoint (default) or "
                             "its best evaluated one")
    parser.add_argument("--step", type=int,
                        help="with --checkpoint: a given checkpoint (iteration) instead")
    parser.add_argument("--temperature", type=float, default=0.0,
                        help="0 plays the argmax; T > 0 samples from softmax(logits / T)")
    parser.add_argument("--seed", type=int, default=0, help="for sampled and baseline moves")
    parser.add_argument("--simulations", type=int, metavar="N",
                        help="the network searches (Gumbel MuZero over the rules) with up to N "
                             "simulations a move, fewer when `go nodes` or the time given asks")
    parser.add_argument("--considered", type=int, default=SearchSettings.max_considered_actions,
                        metavar="K",
                        help="with --simulations: root moves in sequential halving "
                             "(default %(default)s)")
    parser.add_argument("--value-scale", type=float, default=SearchSettings.value_scale,
                        metavar="S",
                        help="with --simulations: weight of the searched values against the "
                             "network's prior (default %(default)s, mctx's)")
    for name, help_text in TACTIC_HELP.items():
        parser.add_argument(_tactic_flag(name), action="store_true",
                            help=f"a network (searching or not): {help_text}")
    parser.add_argument("--write-launcher", metavar="PATH", type=Path,
                        help="write an executable that starts this engine with these options "
                             "(for GUI registration) and exit")
    args = parser.parse_args(argv)
    if args.pretrained:
        if args.step is not None or args.which is not None:
            parser.error("--pretrained is one checkpoint: --step and --which go with --checkpoint")
        args.checkpoint = str(PRETRAINED_RUN)
    if args.temperature < 0 or not math.isfinite(args.temperature):
        parser.error("--temperature must be a number >= 0")
    if args.player and (args.step is not None or args.which is not None):
        parser.error(f"--player {args.player} plays no checkpoint: --step and --which go with "
                     "--checkpoint")
    kind = args.player or ("search" if args.simulations is not None else "policy")
    searching = ["--simulations"] if args.simulations is not None else []
    tactics = [_tactic_flag(name) for name in TACTIC_HELP if getattr(args, name)]
    if settings_refused(kind, search=searching, tactics=tactics):
        flags = searching + tactics
        parser.error(f"--player {args.player} has no network: {', '.join(flags)} "
                     f"{'goes' if len(flags) == 1 else 'go'} with --checkpoint or --pretrained")
    if kind == "search":
        try:
            SearchSettings(simulations=args.simulations, max_considered_actions=args.considered,
                           value_scale=args.value_scale)
        except ValueError as error:  # its message names the setting: name the flag instead
            key, _, requirement = str(error).partition(" ")
            parser.error(f"{_SEARCH_FLAGS.get(key, key)} {requirement}")
    if args.step is not None and args.which is not None:
        parser.error("--step names a checkpoint: --which does not go with it")
    args.which = args.which or "latest"
    return args


def build_mover(args) -> PlayerMover:
    if args.player:
        return PlayerMover(Player(f"shogi_jax {args.player}", args.player))
    model, params, iteration = load_network(args.checkpoint, which=args.which,
                                                       step=args.step)
    name = f"shogi_jax {absolute(args.checkpoint).name} it{iteration}"
    tactics = Tactics(**{name: getattr(args, name) for name in TACTIC_HELP})
    if args.simulations is None:
        name = "".join(c if c.isascii() and c.isprintable() else "_" for c in name)
        return PlayerMover(Player(name, "policy", model, tactics=tactics), params)
    name = "".join(c if c.isascii() and c.isprintable() else "_"
                   for c in f"{name} gumbel{args.simulations}")
    settings = SearchSettings(simulations=args.simulations, max_considered_actions=args.considered,
                              value_scale=args.value_scale, max_plies=USI_MAX_PLIES)
    return PlayerMover(Player(name, "search", model, search=settings, tactics=tactics),
                       params)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.write_launcher:
        if args.checkpoint:  # a GUI would only see an engine that dies at once
            try:
                load_network(args.checkpoint, which=args.which, step=args.step)
            except CheckpointError as error:
                print(f"error: no launcher written: {error}", file=sys.stderr)
                return 2
        if args.player:
            forwarded = ["--player", args.player]
        elif args.pretrained:
            forwarded = ["--pretrained"]
        else:
            forwarded = ["--checkpoint", str(absolute(args.checkpoint))] + (
                ["--which", args.which] if args.step is None else ["--step", str(args.step)])
        forwarded += ["--temperature", repr(args.temperature), "--seed", str(args.seed)]
        if args.simulations is not None:
            forwarded += ["--simulations", str(args.simulations),
                          "--considered", str(args.considered),
                          "--value-scale", repr(args.value_scale)]
        forwarded += [_tactic_flag(name) for name in TACTIC_HELP if getattr(args, name)]
        try:
            write_launcher(args.write_launcher, forwarded)
        except LauncherError as error:
            print(f"error: no launcher written: {error}", file=sys.stderr)
            return 2
        print(f"wrote {args.write_launcher}: register it in the GUI as the engine")
        return 0
    keep_compiled_programs()  # GUIs start an engine for each game, tournaments after a failure
    try:
        mover = build_mover(args)
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    mover.set_seed(args.seed)
    mover.set_temperature(args.temperature)
    serve(mover, sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
