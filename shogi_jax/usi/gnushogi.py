"""`python -m shogi_jax.engines.gnushogi`: GNU Shogi (Debian package `gnushogi`) as a USI engine,
so it plays in our tournaments (player kind `usi`), cshogi's runner and GUIs.

GNU Shogi speaks its own xboard-like protocol. For each `go` the adapter sets up the position in
GNU Shogi's board editor and asks for a move, so GNU Shogi never sees the game's history: its own
threefold-repetition rule (USI and our rules use fourfold) cannot stop a game, and any start
position works. The editor always gives the first move to Black, so a position with White to move
is handed over from White's side (the board turned, the colours swapped; the mover's frame of our
rules) and the answer turned back.

Limits: `go depth N` sets GNU Shogi's search depth (1..29); `go movetime N` and `go byoyomi N`
start it with N ms per move rounded to whole seconds (at least 1: its clock counts seconds; it
often takes about three times that: use depth for a rung of known strength). Without either it
plays on its default clock (300 s for 40 moves). GNU Shogi is restarted when the limit changes.
"""
from __future__ import annotations

import argparse
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from typing import Callable, Optional

import numpy as np

from shogi_jax.host.compilation_cache import keep_compiled_programs
from shogi_jax.notation.usi import RANK_LETTERS, usi_to_action
from shogi_jax.rules.board import HAND_LETTERS, NUM_RANKS, OPP_OFFSET, OWN_OFFSET, PIECE_NAMES
from shogi_jax.usi.mover import PositionMover
from shogi_jax.usi.protocol import Answer, UsiError, serve

DEFAULT_BINARY = "/usr/games/gnushogi"
MAX_DEPTH = 29
ANSWER_SECONDS = 30.0  # past the time it was given, a silent GNU Shogi is a failure
# Its move, as it announces it: "12. ... 8h2b+ 299980" (number, dots, move, score).
_MOVE_LINE = re.compile(r"^\s*\d+\.\s+\.\.\.\s+(\S+)")


def editor_lines(board: np.ndarray, hand: np.ndarray) -> list[str]:
    """GNU Shogi's board-editor input for a position in the mover's frame (board int[81] in our
    rules' codes, hand int[2, 7] with row 0 the mover's): the mover's pieces as Black's."""
    lines = ["edit", "#"]  # "#" clears the board; the editor starts with Black's pieces
    for side, offset in ((0, OWN_OFFSET), (1, OPP_OFFSET)):
        if side == 1:
            lines.append("c")  # the other colour's pieces follow
        for sq, code in enumerate(board):
            if code and (code < OPP_OFFSET) == (side == 0):
                name = PIECE_NAMES[code - offset]  # "S", "+S"
                file, rank = divmod(sq, NUM_RANKS)
                lines.append(f"{name[-1].lower()}{file + 1}{RANK_LETTERS[rank]}"
                             f"{'+' if name[0] == '+' else ''}")
        for column, count in enumerate(hand[side]):
            lines += [f"{HAND_LETTERS[column].lower()}*"] * int(count)  # the editor's spelling
    return lines + ["."]


def turned(move: str) -> str:
    """A move's text seen from the other side: every square rotated 180 degrees."""
    def rotate(square):
        return f"{10 - int(square[1])}{RANK_LETTERS[8 - RANK_LETTERS.index(square[2])]}"

    return re.sub(r"([1-9])([a-i])", rotate, move)


class GnuShogi:
    """The gnushogi process: `move(board, hand, depth=, seconds=)` -> its move in that (mover's
    frame) position, in the same frame; restarted when the limit changes or after a failure."""

    def __init__(self, binary: str = DEFAULT_BINARY):
        self.binary = binary
        self.limit: Optional[tuple] = None  # (depth, seconds) it was started with
        self._process: Optional[subprocess.Popen] = None
        self._lines: queue.Queue = queue.Queue()

    def start(self, depth: Optional[int], seconds: Optional[int]) -> None:
        """A fresh process with this limit. The depth is set once: it outlives `new`, and a
        depth together with a time per move makes it ignore the time."""
        self.close()
        command = [self.binary] + ([str(seconds)] if seconds else [])
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.limit = (depth, seconds)
        self._lines = queue.Queue()
        threading.Thread(target=self._read, args=(self._process.stdout, self._lines),
                         daemon=True).start()
        if depth:
            self._send(["depth", str(min(depth, MAX_DEPTH))])

    def _send(self, lines: list[str]) -> None:
        self._process.stdin.write("".join(line + "\n" for line in lines))
        self._process.stdin.flush()

    @staticmethod
    def _read(stream, lines: queue.Queue) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            try:
                process.stdin.write("quit\n")
                process.stdin.flush()
                process.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait()

    def move(self, board: np.ndarray, hand: np.ndarray, *, depth: Optional[int],
             seconds: Optional[int]) -> Optional[str]:
        """Its move for the mover (as Black) in this position, or None when it gives none (it
        resigns, or thinks the game over)."""
        if (self._process is None or self._process.poll() is not None
                or self.limit != (depth, seconds)):
            self.start(depth, seconds)
        while not self._lines.empty():  # leftovers of the last game ("mates!" and the like)
            self._lines.get_nowait()
        self._send(["new", *editor_lines(board, hand), "force", "go"])
        # Its default clock gives a move up to 300 s for 40 moves.
        deadline = time.monotonic() + ANSWER_SECONDS + (
            3 * seconds if seconds else 0 if depth else 300)
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                self.close()
                return None
            if line is None:
                self._process = None
                return None
            found = _MOVE_LINE.match(line)
            if found:
                return found[1]
            if "resign" in line.lower() or "mates" in line.lower():
                return None


class GnuShogiMover(PositionMover):
    """The protocol's `Mover` for GNU Shogi: the position kept by our rules (which check the
    GUI's moves), the move chosen by GNU Shogi. `isready` compiles our rules only: GNU Shogi
    itself starts at the first `go` (its limit comes with it)."""

    options = ()

    def __init__(self, binary: str = DEFAULT_BINARY):
        super().__init__()
        self.name = "GNU Shogi 1.4.2 (shogi_jax USI adapter)"
        self.engine = GnuShogi(binary)

    def set_temperature(self, temperature: float) -> None:
        raise UsiError("GNU Shogi takes no Temperature")

    def set_seed(self, seed: int) -> None:
        raise UsiError("GNU Shogi takes no Seed")

    def choose(self, state, info: Callable[[str], None],
               limits: dict[str, int]) -> Answer:
        milliseconds = limits.get("movetime") or limits.get("byoyomi")
        seconds = max(1, round(milliseconds / 1000)) if milliseconds else None
        move = self.engine.move(np.asarray(state.board), np.asarray(state.hand),
                                depth=limits.get("depth"), seconds=seconds)
        if move is None:
            info("GNU Shogi gave no move")
            return Answer("resign")
        move = turned(move) if int(state.color) == 1 else move
        try:
            usi_to_action(state, move)
        except ValueError as error:
            info(f"GNU Shogi's move is refused by our rules: {error}")
        return Answer(move)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shogi_jax.engines.gnushogi",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=shutil.which("gnushogi") or DEFAULT_BINARY,
                        help="the gnushogi program (default: on PATH, else %(default)s)")
    args = parser.parse_args(argv)
    if not shutil.which(args.binary):
        print(f"error: {args.binary} not found; install it with: apt-get install gnushogi",
              file=sys.stderr)
        return 2
    keep_compiled_programs()
    mover = GnuShogiMover(args.binary)
    try:
        serve(mover, sys.stdin, sys.stdout)
    finally:
        mover.engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
