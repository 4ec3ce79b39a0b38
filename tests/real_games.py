"""Positions of real games for tests: the shipped network's gauntlet against the ladder's rungs
(docs/ladder_games/cpu_60min_gauntlet.jsonl.gz), walked with cshogi."""
from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import cshogi

GAUNTLET_GAMES = Path(__file__).parent.parent / "docs/ladder_games/cpu_60min_gauntlet.jsonl.gz"


def gauntlet_positions() -> Iterator[tuple[cshogi.Board, int, str]]:
    """(board, ply, the move played there) for every position of every game, in file order. The
    board is the game's own and moves on after the caller's turn: keep `board.sfen()`, not it."""
    with gzip.open(GAUNTLET_GAMES, "rt") as lines:
        for line in lines:
            game = json.loads(line)
            board = cshogi.Board(game["start_sfen"])
            for ply, move in enumerate(game["moves"]):
                yield board, ply, move
                board.push_usi(move)


def found_and_other(found: Callable[[cshogi.Board], object], count: int, other_count: int, *,
                    every: int, offset: int) -> list[str]:
    """SFENs: the first `count` positions where `found(board)` holds, then the first
    `other_count` positions where it does not at plies with `ply % every == offset`."""
    hits, others = [], []
    for board, ply, _ in gauntlet_positions():
        if found(board):
            if len(hits) < count:
                hits.append(board.sfen())
        elif ply % every == offset and len(others) < other_count:
            others.append(board.sfen())
        if len(hits) == count and len(others) == other_count:
            return hits + others
    raise AssertionError("not enough positions in the gauntlet games")
