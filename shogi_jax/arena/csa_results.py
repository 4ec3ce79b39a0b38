"""How a player's games ended, from CSA records written by a USI match runner (cshogi's
`python -m cshogi.cli ... --csa FILE --multi-csa`, shogiarena, a CSA server) or from our
tournaments' games logs (games.jsonl): its wins, draws and losses, and for each the way the game
ended, from the player's side.

A record's last line is a CSA special move (%TORYO, %KACHI, %SENNICHITE, ...); its result is the
parser's (cshogi.CSA). %TORYO ("resigns") is also what runners write when a side is checkmated
and cannot move, so a %TORYO game is replayed: a final position with no legal move is a mate,
otherwise a resignation.
"""
from __future__ import annotations

import collections
import gzip
import os
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import cshogi
import cshogi.CSA

WIN, DRAW, LOSS = "win", "draw", "loss"
# How a game ended, by its CSA special move, from the winner's side (draws: for both).
ENDINGS = {
    "%TORYO": "resignation",  # or mate: see `ending_of`
    "%KACHI": "declaration",  # entering king (nyugyoku) declared by the winner
    "%SENNICHITE": "repetition",  # fourfold repetition, a draw
    "%JISHOGI": "move limit",  # the runner's move limit, a draw
    "%ILLEGAL_MOVE": "illegal move",  # by the loser
    "%+ILLEGAL_ACTION": "illegal move",
    "%-ILLEGAL_ACTION": "illegal move",
    "%TIME_UP": "time up",  # the loser's clock
}
MATE = "mate"
# Our tournaments' terminations (shogi_jax.arena.match.END_NAMES) in the words of ENDINGS.
TERMINATIONS = {
    "checkmate": MATE,
    "no_legal_moves": "no legal move",  # the loser's (not a check): a loss in Shogi too
    "repetition_draw": "repetition",
    "perpetual_check": "perpetual check",  # the checking side loses
    "impasse_declaration": "declaration",
    "move_limit": "move limit",
    "illegal_action": "illegal move",  # by the loser (an engine's)
    "resignation": "resignation",
    "time_up": "time up",
    "disconnection": "disconnection",
}


class Ending(NamedTuple):
    """One game from the player's side."""

    result: str  # WIN, DRAW or LOSS
    how: str  # a value of ENDINGS, or MATE
    opponent: str
    plies: int


def ending_of(endgame: str, sfen: str, moves: Sequence[int]) -> str:
    """How a game with CSA special move `endgame` ended (ValueError for one not in ENDINGS)."""
    if endgame not in ENDINGS:
        raise ValueError(f"unknown CSA ending {endgame!r} (known: {', '.join(ENDINGS)})")
    if endgame == "%TORYO":
        board = cshogi.Board(sfen)
        for move in moves:
            board.push(move)
        if board.is_game_over():  # cshogi: the side to move has no legal move
            return MATE
    return ENDINGS[endgame]


def player_endings(paths: Iterable[str | os.PathLike[str]], player: str) -> list[Ending]:
    """Every game of `player` (its name in the records' N+ / N- lines) in the CSA files,
    multi-game files included, gzipped ones (.csa.gz, as docs keeps them) too. ValueError naming
    the file when a game does not have the player, or a result the parser cannot read."""
    endings = []
    for path in paths:
        if str(path).endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as text:
                parsed = cshogi.CSA.Parser.parse_str(text.read())
        else:
            parsed = cshogi.CSA.Parser.parse_file(str(path))
        for number, game in enumerate(parsed, 1):
            if player not in game.names:
                raise ValueError(f"{path} game {number}: {player!r} does not play in it "
                                 f"(players: {', '.join(game.names)})")
            side = game.names.index(player)  # 0: Black (N+), 1: White (N-)
            if game.win == cshogi.DRAW:
                result = DRAW
            elif game.win in (cshogi.BLACK_WIN, cshogi.WHITE_WIN):
                result = WIN if (game.win == cshogi.BLACK_WIN) == (side == 0) else LOSS
            else:
                raise ValueError(f"{path} game {number}: no result ({game.win!r})")
            try:
                how = ending_of(game.endgame, game.sfen, game.moves)
            except ValueError as error:
                raise ValueError(f"{path} game {number}: {error}") from None
            endings.append(Ending(result, how, game.names[1 - side], len(game.moves)))
    return endings


def record_endings(records: Iterable[dict], player: str) -> list[Ending]:
    """`player`'s games among tournament records (games.jsonl lines: black, white, result
    black_win / white_win / draw, termination, moves); games without the player are skipped.
    ValueError naming the game for a result or termination not known."""
    endings = []
    for record in records:
        missing = [key for key in ("black", "white", "result", "termination", "moves")
                   if key not in record]
        if missing:
            raise ValueError(f"game {record.get('game')}: not a tournament record (no "
                             f"{', '.join(missing)})")
        if player not in (record["black"], record["white"]):
            continue
        side = "black" if record["black"] == player else "white"
        opponent = record["white" if side == "black" else "black"]
        if record["result"] == "draw":
            result = DRAW
        elif record["result"] in ("black_win", "white_win"):
            result = WIN if record["result"] == f"{side}_win" else LOSS
        else:
            raise ValueError(f"game {record.get('game')}: no result ({record['result']!r})")
        if record["termination"] not in TERMINATIONS:
            raise ValueError(f"game {record.get('game')}: unknown termination "
                             f"{record['termination']!r} (known: {', '.join(TERMINATIONS)})")
        endings.append(Ending(result, TERMINATIONS[record["termination"]], opponent,
                              len(record["moves"])))
    return endings


def summary_rows(endings: Sequence[Ending]) -> list[dict]:
    """Per opponent (in order of first appearance): games, W / D / L, score (wins plus half
    the draws, over games) and Counters of how the wins, draws and losses came."""
    by_opponent = collections.defaultdict(list)
    for ending in endings:
        by_opponent[ending.opponent].append(ending)
    rows = []
    for opponent, games in by_opponent.items():
        counts = {result: collections.Counter(game.how for game in games if game.result == result)
                  for result in (WIN, DRAW, LOSS)}
        wins, draws, losses = (sum(counts[result].values()) for result in (WIN, DRAW, LOSS))
        rows.append({"opponent": opponent, "games": len(games), "wins": wins, "draws": draws,
                     "losses": losses, "score": (wins + draws / 2) / len(games),
                     "how": counts})
    return rows


def _how_text(counter: collections.Counter) -> str:
    return ", ".join(f"{count} {how}" for how, count in counter.most_common()) or "—"


def summary_markdown(player: str, endings: Sequence[Ending]) -> str:
    """A markdown table: one row per opponent, with how the wins, draws and losses came."""
    lines = [f"{player}'s games, by opponent:", "",
             "| opponent | games | W / D / L | score | wins by | draws by | losses by |",
             "|---|---:|---|---:|---|---|---|"]
    for row in summary_rows(endings):
        lines.append(f"| {row['opponent']} | {row['games']} | {row['wins']} / {row['draws']} / "
                     f"{row['losses']} | {row['score']:.3f} | {_how_text(row['how'][WIN])} | "
                     f"{_how_text(row['how'][DRAW])} | {_how_text(row['how'][LOSS])} |")
    return "\n".join(lines) + "\n"
