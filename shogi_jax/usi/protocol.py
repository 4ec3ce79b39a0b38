"""The USI protocol, written against a `Mover`: this module imports only the standard library
(no JAX, no rules), so the whole command loop runs and is tested with a fake mover.

The engine answers on stdout; diagnostics go to the GUI as `info string`. A move is one network
evaluation, or a search sized by the mover to the `go` limits (nodes, movetime, byoyomi); `go
infinite` and `go ponder` hold the answer until `stop` / `ponderhit`, as the protocol asks.
Malformed or illegal input never stops it: it says why in an `info string` and keeps serving.
"""
from __future__ import annotations

import math
import time
from typing import Callable, NamedTuple, Optional, Protocol, TextIO

ENGINE_AUTHOR = "the shogi_jax team"
MAX_CENTIPAWNS = 30000
CENTIPAWNS_PER_LOGIT = 600  # dlshogi's scale: value (as a win rate) -> centipawns
NO_POSITION = "no position was set (send 'position startpos' first)"


class UsiError(ValueError):
    """Input the engine cannot use; the message goes to the GUI as an `info string`."""


class Answer(NamedTuple):
    """A mover's answer to `go`: the move ("resign", "win" or a USI move), the value in [-1, 1]
    for the side to move (None: no estimate), and for a search its deepest line and its nodes."""

    move: str
    value: Optional[float] = None
    depth: int = 1
    nodes: int = 1


class Mover(Protocol):
    """What the protocol needs from the side that knows the game (`usi.mover.PlayerMover`
    in the engine, a fake in the tests)."""

    name: str  # the engine's `id name`
    options: tuple[str, ...]  # which of OPTIONS it offers (the others are refused)

    def prepare(self) -> None:
        """Gets ready to answer `go` at once (compiles); called at every `isready`."""

    def set_temperature(self, temperature: float) -> None:
        """0 plays the most likely move; T > 0 samples (a finite number >= 0, checked here)."""

    def set_seed(self, seed: int) -> None:
        """Seeds the sampled and baseline moves (0 <= seed <= 2**31 - 1, checked here)."""

    def set_position(self, base: str, moves: list[str]) -> None:
        """base: "startpos" or an SFEN's four fields; moves: USI moves played from it. Raises
        `UsiError` (and then holds no position) for a bad SFEN or an illegal move."""

    def clear(self) -> None:
        """Forgets the position (a new game)."""

    def best_move(self, info: Callable[[str], None],
                  limits: dict[str, int]) -> Optional[Answer]:
        """The answer for the position held, or None when none is. `info` sends remarks to the
        GUI; `limits` are the numbers of the `go` command (see `parse_go`)."""


# The options a mover may offer, as the handshake announces them.
OPTIONS = {"Temperature": "option name Temperature type string default 0",
           "Seed": "option name Seed type spin default 0 min 0 max 2147483647"}
GO_LIMITS = ("depth", "nodes", "movetime", "byoyomi", "btime", "wtime", "binc", "winc")


def parse_go(arguments: list[str]) -> dict[str, int]:
    """The numbers of a `go` command: {"depth": 3} for `go depth 3`, {"btime": 0, "wtime": 0,
    "byoyomi": 1000} for a byoyomi clock; words without a number (ponder, infinite) are left out."""
    limits = {}
    for name, value in zip(arguments, arguments[1:]):
        if name in GO_LIMITS:
            if not value.isdigit():
                raise UsiError(f"go {name}: {value!r} is not a whole number")
            limits[name] = int(value)
    return limits


def centipawns(value: float) -> int:
    """The value head's [-1, 1] as centipawns: its win rate (v + 1) / 2 on dlshogi's logistic
    scale, clipped to +-MAX_CENTIPAWNS."""
    value = min(max(value, -1.0), 1.0)
    if abs(value) >= 1.0:
        return int(math.copysign(MAX_CENTIPAWNS, value))
    return int(max(-MAX_CENTIPAWNS, min(MAX_CENTIPAWNS,
                                        round(2 * CENTIPAWNS_PER_LOGIT * math.atanh(value)))))


def parse_position(arguments: list[str]) -> tuple[str, list[str]]:
    """What follows `position`: `startpos|sfen <4 fields> [moves m1 m2 ...]` -> (base, moves)."""
    if "moves" in arguments:
        split = arguments.index("moves")
        head, moves = arguments[:split], arguments[split + 1:]
    else:
        head, moves = arguments, []
    if head == ["startpos"]:
        return "startpos", moves
    if head[:1] == ["sfen"] and len(head) > 1:
        return " ".join(head[1:]), moves
    raise UsiError("bad position command: expected 'position startpos [moves ...]' or "
                   "'position sfen <sfen> [moves ...]'")


class UsiEngine:
    """The protocol: one `handle(line)` per input line; writes its answers through `write`."""

    def __init__(self, mover: Mover, write: Callable[[str], None]):
        self.mover = mover
        self.write = write
        self.position_error: Optional[str] = None  # why the last `position` was refused
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
        for option in self.mover.options:
            self.write(OPTIONS[option])
        self.write("usiok")

    def _cmd_setoption(self, arguments) -> None:
        if arguments[:1] != ["name"]:
            raise UsiError("bad setoption: expected 'setoption name <id> [value <x>]'")
        if "value" in arguments:
            split = arguments.index("value")
            name, value = " ".join(arguments[1:split]), " ".join(arguments[split + 1:])
        else:
            name, value = " ".join(arguments[1:]), ""
        if name in OPTIONS and name not in self.mover.options:
            raise UsiError(f"option {name} is not offered by {self.mover.name} (ignored)")
        if name == "Temperature":
            try:
                temperature = float(value)
            except ValueError:
                raise UsiError(f"option Temperature: {value!r} is not a number") from None
            if not (math.isfinite(temperature) and temperature >= 0):
                raise UsiError(f"option Temperature: {value!r} must be a number >= 0")
            self.mover.set_temperature(temperature)
        elif name == "Seed":
            if not value.isdigit() or int(value) > 2147483647:
                raise UsiError(f"option Seed: {value!r} is not an integer in 0..2147483647")
            self.mover.set_seed(int(value))
        elif name.startswith("USI_"):
            return  # standard GUI options (USI_Hash, USI_Ponder): nothing to set here
        else:
            raise UsiError(f"unknown option '{name}' (ignored)")

    def _cmd_isready(self, arguments) -> None:
        self.mover.prepare()
        self.write("readyok")

    def _cmd_usinewgame(self, arguments) -> None:
        self.mover.clear()
        self.held_move = None

    def _cmd_position(self, arguments) -> None:
        # A malformed command leaves the position as it was; a refused SFEN or move clears it.
        try:
            self.mover.set_position(*parse_position(arguments))
            self.position_error = None
        except UsiError as error:
            self.position_error = str(error)
            raise

    def _cmd_go(self, arguments) -> None:
        if arguments[:1] == ["mate"]:
            self.write("checkmate notimplemented")
            return
        start = time.perf_counter()
        answer = self.mover.best_move(self.info, parse_go(arguments))
        if answer is None:
            self.info("cannot move: " + (self.position_error or NO_POSITION))
            answer = Answer("resign")
        bestmove = answer.move
        if answer.value is not None:
            elapsed = int(1000 * (time.perf_counter() - start))
            self.write(f"info depth {answer.depth} seldepth {answer.depth} time {elapsed} "
                       f"nodes {answer.nodes} nps {1000 * answer.nodes // max(elapsed, 1)} "
                       f"score cp {centipawns(answer.value)} pv {bestmove}")
        if "infinite" in arguments or "ponder" in arguments:
            self.held_move = bestmove
        else:
            self.write(f"bestmove {bestmove}")

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
        self.mover.clear()


def serve(mover: Mover, lines: TextIO, output: TextIO) -> None:
    """Reads USI commands until `quit` or end of input."""
    def write(text: str) -> None:
        output.write(text + "\n")
        output.flush()

    engine = UsiEngine(mover, write)
    for line in lines:
        if not engine.handle(line):
            break
