"""`python -m shogi_jax.usi --checkpoint RUN_DIR`: a USI engine, so a trained network plays in
ordinary Shogi GUIs and tournament runners (`--player random|greedy` serves the baselines).

The engine answers on stdout; diagnostics go to stderr or, for the GUI, `info string`. A move is
one network evaluation (no search), so every `go` is answered at once, whatever the clock; `go
infinite` and `go ponder` hold the answer until `stop` / `ponderhit`, as the protocol asks.
Malformed or illegal input never stops it: it says why in an `info string` and keeps serving.
GUIs start an engine as one executable without arguments: `--write-launcher PATH` writes one.
`--pretrained` plays the network shipped with the package (shogi_jax/pretrained: how it was made).
"""
from __future__ import annotations

import argparse
import functools
import math
import os
import shlex
import stat
import sys
import time
from pathlib import Path
from typing import Callable, Optional, TextIO

import jax
import numpy as np

import shogi_jax as sj
from shogi_jax.evaluation.players import greedy_act, random_act
from shogi_jax.ppo import masked_log_softmax
from shogi_jax.rules.legal import legal_moves
from shogi_jax.rules.state import STARTPOS_SFEN

ENGINE_AUTHOR = "the shogi_jax team"
# The GUI or tournament runner ends games (its move limit, its clock); our own limit only bounds
# the ply counter.
USI_MAX_PLIES = 1 << 30
MAX_CENTIPAWNS = 30000
CENTIPAWNS_PER_LOGIT = 600  # dlshogi's scale: value (as a win rate) -> centipawns
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "shogi_jax" / "xla"
# The network shipped with the package: a training run directory holding its final checkpoint.
PRETRAINED_RUN = Path(__file__).resolve().parent / "pretrained" / "cpu_60min"


class UsiError(ValueError):
    """Input the engine cannot use; the message goes to the GUI as an `info string`."""


_legal_moves = jax.jit(legal_moves)


def playable(state: sj.State) -> sj.State:
    """`state` with its real legal moves: a position our rules call over (fourfold repetition,
    move limit, a possible impasse declaration not made) may still be played on by a GUI."""
    if not (bool(state.terminated) or bool(state.truncated)):
        return state
    mask, _ = _legal_moves(state.board, state.hand)
    return state._replace(legal_action_mask=mask, terminated=np.bool_(False),
                          truncated=np.bool_(False))


class Mover:
    """Chooses a move for one position: a network (argmax, or a sample at a temperature) or a
    baseline player. All device functions are compiled by `compile()` (called at `isready`)."""

    def __init__(self, kind: str, model=None, params=None, name: str = ""):
        self.kind = kind
        self.name = name or f"shogi_jax {kind}"
        self.temperature = 0.0
        self._params = params
        self._rng = np.random.default_rng(0)
        self._key = jax.random.PRNGKey(0)
        if kind == "policy":
            def evaluate(params, state):
                logits, value = model.apply(params, sj.observe(state)[None])  # [1, 2187], [1]
                return masked_log_softmax(logits[0], state.legal_action_mask), value[0]
            self._evaluate = jax.jit(evaluate)
        else:
            self._act = jax.jit(random_act if kind == "random" else greedy_act)
        self.compiled = False

    def seed(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._key = jax.random.PRNGKey(seed)

    def compile(self, state: sj.State) -> None:
        """Runs every device function once (XLA compiles on the first call)."""
        jax.block_until_ready(_legal_moves(state.board, state.hand))
        if self.kind == "policy":
            jax.block_until_ready(self._evaluate(self._params, state))
        else:
            jax.block_until_ready(self._act(None, state, self._key))
        self.compiled = True

    def choose(self, state: sj.State) -> tuple[int, Optional[int]]:
        """(action, score in centipawns for the mover or None) for a position with a legal move."""
        if self.kind != "policy":
            self._key, key = jax.random.split(self._key)
            return int(self._act(None, state, key)), None
        log_probs, value = self._evaluate(self._params, state)
        log_probs = np.asarray(log_probs, np.float64)
        legal = np.asarray(state.legal_action_mask)
        if self.temperature == 0:
            action = int(np.argmax(np.where(legal, log_probs, -np.inf)))
        else:
            scaled = np.where(legal, log_probs / self.temperature, -np.inf)
            probs = np.exp(scaled - scaled.max())
            action = int(self._rng.choice(len(probs), p=probs / probs.sum()))
        return action, centipawns(float(value))


def centipawns(value: float) -> int:
    """The value head's [-1, 1] as centipawns: its win rate (v + 1) / 2 on dlshogi's logistic
    scale, clipped to +-MAX_CENTIPAWNS."""
    value = min(max(value, -1.0), 1.0)
    if abs(value) >= 1.0:
        return int(math.copysign(MAX_CENTIPAWNS, value))
    return int(max(-MAX_CENTIPAWNS, min(MAX_CENTIPAWNS,
                                        round(2 * CENTIPAWNS_PER_LOGIT * math.atanh(value)))))


class GamePosition:
    """The position the GUI last set, kept between `position` commands: a command that extends
    the previous one (the usual case, one or two moves more) only plays the new moves."""

    def __init__(self):
        self._step = jax.jit(functools.partial(sj.step, max_plies=USI_MAX_PLIES, impasse=True))
        self.base: Optional[str] = None
        self.moves: list[str] = []
        self.state: Optional[sj.State] = None

    def clear(self) -> None:
        self.base, self.moves, self.state = None, [], None

    def set(self, tokens: list[str]) -> sj.State:
        """tokens: what follows `position`: `startpos|sfen <4 fields> [moves m1 m2 ...]`."""
        if "moves" in tokens:
            split = tokens.index("moves")
            head, moves = tokens[:split], tokens[split + 1:]
        else:
            head, moves = tokens, []
        if head == ["startpos"]:
            base = "startpos"
        elif head[:1] == ["sfen"] and len(head) > 1:
            base = " ".join(head[1:])
        else:
            raise UsiError("bad position command: expected 'position startpos [moves ...]' or "
                           "'position sfen <sfen> [moves ...]'")
        # Invalid until the whole command is applied: a bad move leaves no half-set position.
        previous = (self.base, self.moves, self.state)
        self.clear()
        if previous[0] == base and previous[2] is not None and moves[:len(previous[1])] == \
                previous[1]:
            state, done = previous[2], len(previous[1])
        else:
            try:
                state = sj.from_sfen(STARTPOS_SFEN if base == "startpos" else base,
                                     max_plies=USI_MAX_PLIES)
            except ValueError as error:
                raise UsiError(str(error)) from None
            done = 0
        for number, move in enumerate(moves[done:], start=done + 1):
            if bool(state.terminated) or bool(state.truncated):
                reason = sj.TERMINATION_NAMES[int(state.termination)]
                # Declaring is optional and a GUI may judge repetition itself: play on then.
                if int(state.termination) not in (sj.REPETITION_DRAW, sj.MOVE_LIMIT,
                                                  sj.IMPASSE_DECLARATION):
                    raise UsiError(f"move {number} ({move}): the game is already over "
                                   f"({reason})")
                state = playable(state)
            try:
                action = sj.usi_to_action(state, move)
            except ValueError as error:
                raise UsiError(f"move {number}: {error}") from None
            state = self._step(state, action)
        self.base, self.moves, self.state = base, list(moves), state
        return state


class UsiEngine:
    """The protocol: one `handle(line)` per input line; writes its answers through `write`."""

    def __init__(self, mover: Mover, write: Callable[[str], None]):
        self.mover = mover
        self.write = write
        self.position = GamePosition()
        self.position_error: Optional[str] = None
        self.held_move: Optional[str] = None  # the answer to `go infinite|ponder`, until stop

    def info(self, text: str) -> None:
        self.write("info string " + " ".join(str(text).split()))

    def handle(self, line: str) -> bool:
        """Processes one input line; False after `quit`."""
        tokens = line.split()
        if not tokens:
            return True
        command, arguments = tokens[0], tokens[1:]
        if command == "quit":
            return False
        handler = getattr(self, "_cmd_" + command, None)
        if handler is None:
            self.info(f"unknown command '{command}' (ignored)")
            return True
        try:
            handler(arguments)
        except UsiError as error:
            self.info(f"error: {error}")
        except Exception as error:  # noqa: BLE001 (serve on; the GUI sees why)
            self.info(f"error: {command}: {type(error).__name__}: {error}")
        return True

    def _cmd_usi(self, arguments) -> None:
        self.write(f"id name {self.mover.name}")
        self.write(f"id author {ENGINE_AUTHOR}")
        self.write("option name Temperature type string default 0")
        self.write("option name Seed type spin default 0 min 0 max 2147483647")
        self.write("usiok")

    def _cmd_setoption(self, arguments) -> None:
        if arguments[:1] != ["name"]:
            raise UsiError("bad setoption: expected 'setoption name <id> [value <x>]'")
        if "value" in arguments:
            split = arguments.index("value")
            name, value = " ".join(arguments[1:split]), " ".join(arguments[split + 1:])
        else:
            name, value = " ".join(arguments[1:]), ""
        if name == "Temperature":
            try:
                temperature = float(value)
            except ValueError:
                raise UsiError(f"option Temperature: {value!r} is not a number") from None
            if not (math.isfinite(temperature) and temperature >= 0):
                raise UsiError(f"option Temperature: {value!r} must be a number >= 0")
            self.mover.temperature = temperature
        elif name == "Seed":
            if not value.isdigit() or int(value) > 2147483647:
                raise UsiError(f"option Seed: {value!r} is not an integer in 0..2147483647")
            self.mover.seed(int(value))
        elif name.startswith("USI_"):
            return  # standard GUI options (USI_Hash, USI_Ponder): nothing to set here
        else:
            raise UsiError(f"unknown option '{name}' (ignored)")

    def _cmd_isready(self, arguments) -> None:
        if not self.mover.compiled:
            start = sj.from_sfen(STARTPOS_SFEN, max_plies=USI_MAX_PLIES)
            self.mover.compile(start)
            self.position.set(["startpos", "moves", "7g7f"])  # compiles the step
            self.position.clear()
        self.write("readyok")

    def _cmd_usinewgame(self, arguments) -> None:
        self.position.clear()
        self.held_move = None

    def _cmd_position(self, arguments) -> None:
        try:
            self.position.set(arguments)
            self.position_error = None
        except UsiError as error:
            self.position_error = str(error)
            raise

    def _cmd_go(self, arguments) -> None:
        if arguments[:1] == ["mate"]:
            self.write("checkmate notimplemented")
            return
        start = time.perf_counter()
        bestmove, score = self._best_move()
        if score is not None:
            elapsed = int(1000 * (time.perf_counter() - start))
            self.write(f"info depth 1 seldepth 1 time {elapsed} nodes 1 score cp {score} "
                       f"pv {bestmove}")
        if "infinite" in arguments or "ponder" in arguments:
            self.held_move = bestmove
        else:
            self.write(f"bestmove {bestmove}")

    def _best_move(self) -> tuple[str, Optional[int]]:
        state = self.position.state
        if state is None:
            self.info("cannot move: " + (self.position_error or "no position was set "
                                         "(send 'position startpos' first)"))
            return "resign", None
        termination = int(state.termination)
        if termination == sj.IMPASSE_DECLARATION:
            return "win", None
        if termination in (sj.CHECKMATE, sj.NO_LEGAL_MOVES):
            return "resign", None
        if termination == sj.PERPETUAL_CHECK and float(state.rewards[int(state.color)]) < 0:
            self.info("the side to move has checked perpetually")
        state = playable(state)
        if not np.asarray(state.legal_action_mask).any():
            return "resign", None
        action, score = self.mover.choose(state)
        return sj.action_to_usi(state, action), score

    def _release_held(self) -> None:
        if self.held_move is not None:
            self.write(f"bestmove {self.held_move}")
            self.held_move = None

    def _cmd_stop(self, arguments) -> None:
        self._release_held()

    def _cmd_ponderhit(self, arguments) -> None:
        self._release_held()

    def _cmd_gameover(self, arguments) -> None:
        if arguments and arguments[0] not in ("win", "lose", "draw"):
            raise UsiError(f"bad gameover result {arguments[0]!r} (win, lose or draw)")
        self.held_move = None
        self.position.clear()


def serve(mover: Mover, lines: TextIO, output: TextIO) -> None:
    """Reads USI commands until `quit` or end of input."""
    def write(text: str) -> None:
        output.write(text + "\n")
        output.flush()

    engine = UsiEngine(mover, write)
    for line in lines:
        if not engine.handle(line):
            break


class LauncherError(ValueError):
    pass


def write_launcher(path: Path, engine_arguments: list[str]) -> None:
    """A one-file executable that starts this engine with these arguments (GUIs and cshogi's
    runner start an engine by path, without arguments). `.bat`/`.cmd` names get a Windows one;
    written inside WSL, it starts the engine in this Linux distribution through `wsl.exe`, so a
    Windows GUI can register it."""
    python = str(Path(sys.executable).absolute())
    command = [python, "-m", "shogi_jax.usi", *engine_arguments]
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
        command = shlex.join([python, "-m", "shogi_jax.usi", *engine_arguments])
        path.write_text(f"#!/bin/sh\nexec {command} \"$@\"\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


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
               "USI options: Temperature (0 plays the network's most likely move), Seed.")
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
    if args.step is not None and args.which is not None:
        parser.error("--step names a checkpoint: --which does not go with it")
    args.which = args.which or "latest"
    return args


def build_mover(args) -> Mover:
    if args.player:
        return Mover(args.player)
    from shogi_jax import checkpoint
    from shogi_jax.model import make_model

    config, params, iteration = checkpoint.load_policy(args.checkpoint, which=args.which,
                                                       step=args.step)
    name = f"shogi_jax {Path(args.checkpoint).resolve().name} it{iteration}"
    return Mover("policy", make_model(config.model), params,
                 name="".join(c if c.isascii() and c.isprintable() else "_" for c in name))


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.write_launcher:
        if args.checkpoint:  # a GUI would only see an engine that dies at once
            from shogi_jax.checkpoint import CheckpointError, load_policy

            try:
                load_policy(args.checkpoint, which=args.which, step=args.step)
            except CheckpointError as error:
                print(f"error: no launcher written: {error}", file=sys.stderr)
                return 2
        if args.player:
            forwarded = ["--player", args.player]
        elif args.pretrained:
            forwarded = ["--pretrained"]
        else:
            forwarded = ["--checkpoint", str(Path(args.checkpoint).resolve())] + (
                ["--which", args.which] if args.step is None else ["--step", str(args.step)])
        forwarded += ["--temperature", repr(args.temperature), "--seed", str(args.seed)]
        try:
            write_launcher(args.write_launcher, forwarded)
        except LauncherError as error:
            print(f"error: no launcher written: {error}", file=sys.stderr)
            return 2
        print(f"wrote {args.write_launcher}: register it in the GUI as the engine")
        return 0
    # Engines are restarted often (many GUIs start one per game): keep compiled XLA programs.
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        jax.config.update("jax_compilation_cache_dir", str(DEFAULT_CACHE_DIR))
    from shogi_jax.checkpoint import CheckpointError

    try:
        mover = build_mover(args)
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    mover.seed(args.seed)
    mover.temperature = args.temperature
    serve(mover, sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
