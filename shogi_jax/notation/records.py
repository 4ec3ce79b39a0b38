"""Game records: the lines of a games.jsonl log (tournaments, ladders, evaluation games), read by
one reader with one rule for damage, and replayed into what the KIF and CSA writers take.

A record is a mapping with RECORD_FIELDS (black, white: player names; start_sfen; moves: USI
moves; result: black_win, white_win or draw; termination: how it ended), plus "game" (its
number) in a tournament's log and an optional "note".
"""
from __future__ import annotations

import gzip
import json
import os
from typing import Optional

from shogi_jax.host.paths import as_path
from shogi_jax.notation import record_board
from shogi_jax.notation.kif import kif_from_record

GAMES_LOG = "games.jsonl"  # one line per finished game, appended as games end
RECORD_FIELDS = ("black", "white", "start_sfen", "moves", "result", "termination")


class GamesLogError(ValueError):
    """A games log that cannot be read: missing, or a line that is not a game record."""


def read_games_log(path: str | os.PathLike[str]) -> list[dict]:
    """The records of a games.jsonl file (.gz too), in file order. A damaged LAST line is a game
    cut short while it was written (a kill) and is left out; any other line that is not JSON or
    lacks a RECORD_FIELDS entry is a GamesLogError naming the file and the line."""
    path = as_path(path)
    try:
        data = path.read_bytes()
        lines = (gzip.decompress(data) if path.suffix == ".gz" else data).decode(
            "utf-8").splitlines()
    except FileNotFoundError:
        raise GamesLogError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise GamesLogError(f"{path} is not readable: {error}") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise GamesLogError(f"{path} line {number} is not JSON") from None
        missing = [name for name in RECORD_FIELDS
                   if not isinstance(record, dict) or name not in record]
        if missing:
            raise GamesLogError(f"{path} line {number} is not a game record (no "
                                f"{', '.join(missing)})")
        records.append(record)
    return records


def read_games(sources) -> list[dict]:
    """The game records of tournament directories (their GAMES_LOG) or of games.jsonl files
    (.gz too: measured games are kept gzipped), in the order given. GamesLogError naming a
    source that is neither."""
    games = []
    for source in sources:
        path = as_path(source) / GAMES_LOG if as_path(source).is_dir() else as_path(source)
        if not path.is_file():
            raise GamesLogError(f"{path} does not exist (not a tournament directory?)")
        games += read_games_log(path)
    return games


def replayed(records: list[dict]) -> list[record_board.GameRecord]:
    """The games of game records (RECORD_FIELDS) replayed, all at once, into what the
    KIF and CSA writers read."""
    return record_board.game_records([record_board.FinishedGame(
        record["start_sfen"], record["moves"], record["black"], record["white"],
        record["result"], record["termination"]) for record in records])


def kif_text(game: record_board.GameRecord, event: str, note: Optional[str] = None) -> str:
    """The KIF of one game (see `replayed`). UTF-8 KIF goes by the .kifu name (readers take .kif
    as Shift_JIS). Declined promotions are left unmarked, which every reader takes as no
    promotion; cshogi's reader skips lines with the optional 不成 mark."""
    return kif_from_record(game, event=event, mark_non_promotion=False, note=note)
