"""A USI engine run as a subprocess, from the GUI's side: start it, agree on options, ask for a
move, and notice when it crashes, hangs or breaks the protocol.

Host code only (no JAX). One process plays one game at a time; a match runs several side by side.
A reader thread turns the engine's stdout into a queue of lines, so every wait has a deadline
and a silent engine costs its timeout, never the tournament. Its stderr goes to a log file (or
nowhere), never into a pipe nobody reads (a full pipe would stall the engine).
"""
from __future__ import annotations

import os
import queue
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

_END = None  # put on the queue when stdout closes (the process ended)


class EngineFailure(RuntimeError):
    """The engine cannot go on: `reason` is "crash", "timeout" or "protocol"; the message says
    what happened, with the engine's name."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class MoveLimit:
    """How long the engine may think: exactly one of a search depth, a node count, a fixed time
    per move (`go movetime`, which Fairy-Stockfish and our adapter honour) or a byoyomi (`go
    btime 0 wtime 0 byoyomi N`, what GUIs and cshogi's runner send)."""

    depth: Optional[int] = None
    nodes: Optional[int] = None
    movetime_ms: Optional[int] = None
    byoyomi_ms: Optional[int] = None

    def __post_init__(self):
        given = [name for name in ("depth", "nodes", "movetime_ms", "byoyomi_ms")
                 if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"a move limit takes exactly one of depth, nodes, movetime_ms, "
                             f"byoyomi_ms (got {', '.join(given) or 'none'})")
        if getattr(self, given[0]) <= 0:
            raise ValueError(f"{given[0]} must be > 0, got {getattr(self, given[0])}")

    def go_command(self) -> str:
        if self.depth is not None:
            return f"go depth {self.depth}"
        if self.nodes is not None:
            return f"go nodes {self.nodes}"
        if self.movetime_ms is not None:
            return f"go movetime {self.movetime_ms}"
        return f"go btime 0 wtime 0 byoyomi {self.byoyomi_ms}"

    def thinking_seconds(self) -> float:
        """The time the limit itself grants (0 for depth and nodes)."""
        return (self.movetime_ms or self.byoyomi_ms or 0) / 1000


class UsiClient:
    """One engine process. `command` is the program and its arguments (a string is split like a
    shell would); `options` are sent as `setoption` after the handshake."""

    def __init__(self, command: str | Sequence[str], options: Mapping[str, object] = (), *,
                 name: str = "engine", startup_timeout: float = 60.0,
                 stderr_path: Optional[os.PathLike] = None):
        self.command = shlex.split(command) if isinstance(command, str) else list(command)
        self.options = dict(options)
        self.name = name
        self.startup_timeout = startup_timeout
        self.stderr_path = stderr_path
        self.engine_name: Optional[str] = None  # from its `id name`
        self._process: Optional[subprocess.Popen] = None
        self._lines: queue.Queue = queue.Queue()

    # --- the process ---------------------------------------------------------------------------

    def start(self) -> "UsiClient":
        """Starts the process and completes the handshake (usi/usiok, options, isready/readyok)."""
        self.close()
        stderr = open(self.stderr_path, "ab") if self.stderr_path else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                text=True, encoding="utf-8", errors="replace", bufsize=1)
        except OSError as error:
            raise EngineFailure("crash", f"{self.name}: cannot start {self.command[0]!r}: "
                                         f"{error}") from None
        finally:
            if stderr is not subprocess.DEVNULL:
                stderr.close()
        self._lines = queue.Queue()
        threading.Thread(target=self._read, args=(self._process.stdout, self._lines),
                         daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        self.send("usi")
        _, lines = self._wait_for("usiok", deadline, "the handshake (usi)")
        for line in lines:
            if line.startswith("id name "):
                self.engine_name = line[len("id name "):].strip()
        for option, value in self.options.items():
            self.send(f"setoption name {option} value {value}")
        self.ready(deadline)
        return self

    @staticmethod
    def _read(stream, lines: queue.Queue) -> None:
        for line in stream:
            lines.put(line.rstrip("\r\n"))
        lines.put(_END)

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def close(self, grace: float = 2.0) -> None:
        """Asks the engine to quit, then kills it if it has not after `grace` seconds."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            try:
                process.stdin.write("quit\n")
                process.stdin.flush()
            except OSError:
                pass
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def restart(self) -> "UsiClient":
        self.close(grace=0.0)
        return self.start()

    # --- the protocol --------------------------------------------------------------------------

    def send(self, line: str) -> None:
        if not self.alive():
            raise EngineFailure("crash", f"{self.name}: the engine has exited"
                                         f"{self._exit_text()}")
        try:
            self._process.stdin.write(line + "\n")
            self._process.stdin.flush()
        except OSError as error:
            raise EngineFailure("crash", f"{self.name}: cannot write to the engine ({error})"
                                         f"{self._exit_text()}") from None

    def _exit_text(self) -> str:
        code = self._process.poll() if self._process is not None else None
        return f" (exit code {code})" if code is not None else ""

    def _wait_for(self, keyword: str, deadline: float, waiting_for: str) -> tuple[str, list[str]]:
        """(the first line whose first word is `keyword`, the lines before it); EngineFailure on
        a timeout or an exit."""
        before = []
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise EngineFailure("timeout", f"{self.name}: no answer to {waiting_for} in "
                                               "time") from None
            if line is _END:
                if self._process is not None:
                    self._process.wait()
                raise EngineFailure("crash", f"{self.name}: the engine exited during "
                                             f"{waiting_for}{self._exit_text()}")
            if line.split()[:1] == [keyword]:
                return line, before
            before.append(line)

    def ready(self, deadline: float) -> None:
        self.send("isready")
        self._wait_for("readyok", deadline, "isready")

    def new_game(self) -> None:
        """`usinewgame`, and a ready check so a slow reset is not charged to the first move."""
        self.send("usinewgame")
        self.ready(time.monotonic() + self.startup_timeout)

    def request_move(self, start_sfen: str, moves: Sequence[str], limit: MoveLimit) -> None:
        """Sends the position and `go`; the answer is collected by `read_move`, so several
        engines can think at once."""
        position = ("position startpos" if start_sfen == "startpos"
                    else f"position sfen {start_sfen}")
        self.send(position + (" moves " + " ".join(moves) if moves else ""))
        self.send(limit.go_command())

    def read_move(self, deadline: float) -> str:
        """The move of the `bestmove` answer (USI text, or "resign" / "win")."""
        return self.read_move_and_info(deadline)[0]

    def read_move_and_info(self, deadline: float) -> tuple[str, list[str]]:
        """(the move of the `bestmove` answer, the lines the engine printed before it since the
        last answer read: its `info` lines with depth, score and principal variation)."""
        line, before = self._wait_for("bestmove", deadline, "go")
        words = line.split()
        if len(words) < 2:
            raise EngineFailure("protocol", f"{self.name}: 'bestmove' without a move")
        return words[1], before

    def game_over(self, result: str) -> None:
        """`gameover win|lose|draw` (from this engine's side); a dead engine is left alone."""
        if self.alive():
            try:
                self.send(f"gameover {result}")
            except EngineFailure:
                pass
