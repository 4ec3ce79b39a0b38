"""Game records in CSA standard format V2.2, the computer-shogi exchange format (host side).

The text is ASCII but for names and the event; save it as UTF-8. Its first line,
`'CSA encoding=UTF-8`, is a comment to V2.2 readers and the encoding declaration of V3.0 (whose
readers otherwise assume Shift_JIS); cshogi's `CSA.Parser.parse_file` needs `encoding="utf-8"`
where the locale's encoding is another.
"""
from __future__ import annotations

from shogi_jax.notation.record_board import (
    BLACK,
    WHITE,
    GameRecord,
    Position,
    RecordMove,
    game_record,
    is_standard_start,
)
from shogi_jax.notation.sfen import hand_pieces
from shogi_jax.rules.board import PIECE_NAMES

_CSA_NAMES = dict(zip(PIECE_NAMES, "FU KY KE GI KA HI KI OU TO NY NK NG UM RY".split()))
_SIGNS = "+-"  # by color


def to_csa(start_sfen: str, usi_moves: list[str], *, black: str, white: str, result: str,
           termination: str | None = None, event: str | None = None,
           note: str | None = None) -> str:
    """The CSA V2.2 text of one finished game.

    start_sfen: the start position; the standard one is written `PI`, any other as a full board
      (P1..P9), hands (P+, P-) and the side to move (+ or -).
    usi_moves: the moves played, e.g. ["7g7f", "8h2b+", "P*5e"]; ValueError names a malformed or
      illegal one and its index.
    result: "black_win", "white_win" or "draw"; termination: one of `record_board.TERMINATIONS`
      or None (see `record_board.game_record` for how they must fit together). The game ends with
      the special move of that termination, after a comment line naming it and one with the
      `note` (why it ended, in words), if any.
    """
    record = game_record(start_sfen, usi_moves, black=black, white=white, result=result,
                         termination=termination)
    return csa_from_record(record, event=event, note=note)


def csa_from_record(record: GameRecord, *, event: str | None = None,
                    note: str | None = None) -> str:
    """The CSA V2.2 text of a game as `record_board.game_record` (or `game_records`, for many
    games at once) makes it; the rest as `to_csa`."""
    for field, value in (("event", event), ("note", note)):
        if value is not None and (not isinstance(value, str) or "\n" in value or "\r" in value):
            raise ValueError(f"{field} {value!r} must be a string on one line")
    lines = ["'CSA encoding=UTF-8", "V2.2", f"N+{record.black}", f"N-{record.white}"]
    if event is not None:
        lines.append(f"$EVENT:{event}")
    if is_standard_start(record.start):
        lines += ["PI", "+"]
    else:
        lines += _position_lines(record.start)
    lines += [_move_text(move) for move in record.moves]
    if record.termination is not None:
        lines.append(f"'termination: {record.termination}")
    if note:
        lines.append(f"'{note}")
    lines.append(_special_move(record))
    return "\n".join(lines) + "\n"


def _move_text(move: RecordMove) -> str:
    """`+7776FU`, `-0055KA`; the piece named is the one standing on the square after the move."""
    source = "00" if move.is_drop else f"{move.source[0]}{move.source[1]}"
    piece = "+" + move.piece if move.promotes else move.piece
    return f"{_SIGNS[move.color]}{source}{move.to[0]}{move.to[1]}{_CSA_NAMES[piece]}"


def _special_move(record: GameRecord) -> str:
    """The special move that ends the game, read from the side to move after the last move."""
    termination, winner = record.termination, record.winner
    if termination in ("perpetual_check", "disconnection"):
        # V2.2 has no code for either: a foul by the side that kept checking, or that failed.
        return f"%{_SIGNS[1 - winner]}ILLEGAL_ACTION"
    return {
        "checkmate": "%TORYO",  # %TSUMI is for problem records; the mated side resigns
        "no_legal_moves": "%TORYO",
        "repetition_draw": "%SENNICHITE",
        "impasse_declaration": "%KACHI",  # the side to move declares and wins
        "move_limit": "%JISHOGI",  # V2.2 has no %MAX_MOVES (it is V3.0's)
        "illegal_action": "%ILLEGAL_MOVE",  # the side to move loses by an illegal move
        "resignation": "%TORYO",
        "time_up": "%TIME_UP",  # the side to move ran out of time
        None: "%TORYO" if winner is not None else "%CHUDAN",
    }[termination]


def _position_lines(position: Position) -> list[str]:
    """P1..P9 (file 9 first), then each side's hand as `00` squares, then the side to move."""
    lines = []
    for rank in range(1, 10):
        cells = ""
        for file in range(9, 0, -1):
            piece = position.piece((file, rank))
            cells += " * " if piece is None else _SIGNS[piece.color] + _CSA_NAMES[piece.kind]
        lines.append(f"P{rank}{cells}")
    for color in (BLACK, WHITE):
        hand = "".join(("00" + _CSA_NAMES[kind]) * n
                       for kind, n in hand_pieces(position.hands, color))
        if hand:
            lines.append(f"P{_SIGNS[color]}{hand}")
    lines.append(_SIGNS[position.color])
    return lines
