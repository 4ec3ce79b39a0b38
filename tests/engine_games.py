"""What the engine-match tests share: our fault-injecting USI engine, and games replayed by cshogi
(each move asserted legal)."""
from __future__ import annotations

import sys
from pathlib import Path

import cshogi

FAULT_ENGINE = (sys.executable, str(Path(__file__).parent / "engines" / "fault_engine.py"))


def replay(start_sfen, moves):
    """cshogi's board after the moves, each asserted legal there."""
    board = cshogi.Board(start_sfen)
    for number, usi in enumerate(moves):
        assert usi in {cshogi.move_to_usi(m) for m in board.legal_moves}, (number, usi)
        board.push_usi(usi)
    return board
