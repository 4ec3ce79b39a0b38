"""Game records in KIF, the Kakinoki format Japanese GUIs read (host side).

The text is meant to be saved as UTF-8 under a `.kifu` name: it starts with the line
`#KIF version=2.0 encoding=UTF-8`, which modern GUIs honour, while Kakinoki's convention (and
cshogi 1.1.0's `KIF.Parser.parse_file`, which ignores that line) picks the encoding by the file
name alone: `.kifu` UTF-8, `.kif` Shift_JIS (cp932).

The reader at the end reads back what this writer writes (the numbered move lines, the closing
move, the last line), not every KIF a GUI may save.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import NamedTuple

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
from shogi_jax.notation.usi import RANK_LETTERS
from shogi_jax.rules.board import HAND_LETTERS, PIECE_NAMES

_MOVE_NAMES = dict(zip(PIECE_NAMES, "歩 香 桂 銀 角 飛 金 玉 と 成香 成桂 成銀 馬 龍".split()))
# The board diagram gives every piece one character: promoted lance, knight, silver are 杏 圭 全.
DIAGRAM_NAMES = dict(_MOVE_NAMES, **{"+L": "杏", "+N": "圭", "+S": "全"})
_FILE_NUMERALS = "１２３４５６７８９"
KANJI_NUMBERS = ("", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二",
                  "十三", "十四", "十五", "十六", "十七", "十八")
SIDE_NAMES = ("先手", "後手")


def to_kif(start_sfen: str, usi_moves: list[str], *, black: str, white: str, result: str,
           termination: str | None = None, event: str | None = None,
           start_time: str | None = None, mark_non_promotion: bool = True,
           note: str | None = None) -> str:
    """The KIF text of one finished game.

    start_sfen: the start position; the standard one is written `手合割：平手`, any other as a
      board diagram (with `後手番` when White moves first). Moves are numbered from 1 either way.
    usi_moves: the moves played, e.g. ["7g7f", "8h2b+", "P*5e"]; ValueError names a malformed or
      illegal one and its index.
    result: "black_win", "white_win" or "draw"; termination: one of `record_board.TERMINATIONS`
      or None (see `record_board.game_record` for how they must fit together).
    start_time: written verbatim as 開始日時, e.g. "2024/05/01 12:00:00".
    mark_non_promotion: write 不成 when a piece could promote and did not (Kakinoki GUIs read it;
      cshogi 1.1.0's KIF parser does not and silently drops such a move: pass False for it).
    note: why the game ended, in words (e.g. an engine's illegal move), as a comment line (*).
    """
    record = game_record(start_sfen, usi_moves, black=black, white=white, result=result,
                         termination=termination)
    return kif_from_record(record, event=event, start_time=start_time,
                           mark_non_promotion=mark_non_promotion, note=note)


def kif_from_record(record: GameRecord, *, event: str | None = None,
                    start_time: str | None = None, mark_non_promotion: bool = True,
                    note: str | None = None) -> str:
    """The KIF text of a game as `record_board.game_record` (or `game_records`, for many games
    at once) makes it; the rest as `to_kif`."""
    for field, value in (("event", event), ("start_time", start_time), ("note", note)):
        if value is not None and (not isinstance(value, str) or "\n" in value or "\r" in value):
            raise ValueError(f"{field} {value!r} must be a string on one line")
    lines = ["#KIF version=2.0 encoding=UTF-8"]
    if start_time is not None:
        lines.append(f"開始日時：{start_time}")
    if event is not None:
        lines.append(f"棋戦：{event}")
    if is_standard_start(record.start):
        lines.append("手合割：平手")
    else:
        lines += _board_diagram(record.start)
    lines += [f"先手：{record.black}", f"後手：{record.white}", "手数----指手---------消費時間--"]
    previous_to = None
    for number, move in enumerate(record.moves, start=1):
        lines.append(f"{number:>4} {_move_text(move, previous_to, mark_non_promotion)}")
        previous_to = move.to
    played = len(record.moves)
    if note:
        lines.append(f"*{note}")
    final_line, summary = _ending(record)
    lines.append(f"{played + 1:>4} {final_line}")
    lines.append(f"まで{played}手で{summary}")
    return "\n".join(lines) + "\n"


def _move_text(move: RecordMove, previous_to, mark_non_promotion: bool) -> str:
    """`７六歩(77)`, `同　角成(88)`, `５五角打`, `２三銀不成(34)`."""
    if move.to == previous_to:
        where = "同　"
    else:
        where = _FILE_NUMERALS[move.to[0] - 1] + KANJI_NUMBERS[move.to[1]]
    name = _MOVE_NAMES[move.piece]
    if move.is_drop:
        return f"{where}{name}打"
    if move.promotes:
        suffix = "成"
    else:
        suffix = "不成" if move.may_promote and mark_non_promotion else ""
    return f"{where}{name}{suffix}({move.source[0]}{move.source[1]})"


def _ending(record: GameRecord) -> tuple[str, str]:
    """(the special move closing the list, the summary after `まで N手で`)."""
    termination, winner = record.termination, record.winner
    if winner is None:
        return {"repetition_draw": ("千日手", "千日手"), "move_limit": ("持将棋", "持将棋"),
                None: ("中断", "中断")}[termination]
    side = SIDE_NAMES[winner]
    if termination == "checkmate":
        return "詰み", f"{side}の勝ち"
    if termination == "impasse_declaration":
        return "入玉勝ち", f"{side}の入玉勝ち"
    if termination == "time_up":
        return "切れ負け", f"{side}の勝ち"
    if termination in ("perpetual_check", "illegal_action", "disconnection"):
        # The special move speaks for the side to move: it won or lost by the other's foul.
        final_line = "反則勝ち" if winner == record.final.color else "反則負け"
        return final_line, f"{side}の反則勝ち"
    return "投了", f"{side}の勝ち"  # no_legal_moves, or a resignation


def _board_diagram(position: Position) -> list[str]:
    """The BOD diagram of a start position, as Kakinoki GUIs (and cshogi) write it."""
    rows = []
    for rank in range(1, 10):
        cells = ""
        for file in range(9, 0, -1):
            piece = position.piece((file, rank))
            if piece is None:
                cells += " ・"
            else:
                cells += (" " if piece.color == BLACK else "v") + DIAGRAM_NAMES[piece.kind]
        rows.append(f"|{cells}|{KANJI_NUMBERS[rank]}")
    border = "+---------------------------+"
    lines = [f"後手の持駒：{_hand_text(position.hands, WHITE)}", "  ９ ８ ７ ６ ５ ４ ３ ２ １",
             border, *rows, border, f"先手の持駒：{_hand_text(position.hands, BLACK)}"]
    if position.color == WHITE:
        lines.append("後手番")
    return lines


def _hand_text(hands, color: int) -> str:
    pieces = [_MOVE_NAMES[kind] + (KANJI_NUMBERS[n] if n > 1 else "")
              for kind, n in hand_pieces(hands, color)]
    return "　".join(pieces) or "なし"


# --- reading the writer's text ------------------------------------------------------------------


class KifMoves(NamedTuple):
    """What a KIF written by `kif_from_record` says after its header."""

    moves: list[str]  # the move texts, "７六歩(77)", "同　角成(88)", "５五角打"
    ending: str  # the closing move: "詰み", "投了", "持将棋", ...
    summary: str  # the last line: "まで63手で先手の勝ち"


# A numbered line: "   1 ７六歩(77)"; ASCII digits only ([0-9], as \d also takes "９").
_NUMBERED_LINE = re.compile(r" *([0-9]+) (\S.*)")


def kif_moves(kif: str) -> KifMoves:
    """The numbered lines of a KIF (moves 1..P, then the closing move P + 1) and its last line.
    ValueError when the numbering is broken or there is no closing move."""
    lines = kif.rstrip("\n").split("\n")
    numbered = [match.groups() for match in map(_NUMBERED_LINE.fullmatch, lines) if match]
    if not numbered or [int(number) for number, _ in numbered] != list(
            range(1, len(numbered) + 1)):
        raise ValueError("its moves are not numbered 1, 2, ... up to a closing move")
    texts = [text.strip() for _, text in numbered]
    return KifMoves(texts[:-1], texts[-1], lines[-1].strip())


def usi_of_kif_move(text: str, previous_to: str | None) -> str:
    """The USI of a KIF move text as `kif_from_record` writes it: "７六歩(77)" -> "7g7f",
    "５五角打" -> "B*5e", and "同　角成(88)" (to the square of the last move, `previous_to`,
    e.g. "2b") -> "8h2b+". ValueError for text it does not read."""
    if text.startswith("同"):
        if previous_to is None:
            raise ValueError(f"{text!r}: 同 (same square) with no move before it")
        to, rest = previous_to, text[1:].lstrip("\u3000 ")
    else:
        file = unicodedata.normalize("NFKC", text[:1])  # a full-width digit, "７" -> "7"
        rank = KANJI_NUMBERS.index(text[1:2]) if text[1:2] in KANJI_NUMBERS[1:10] else 0
        if not ("1" <= file <= "9" and rank):
            raise ValueError(f"{text!r}: no destination square")
        to, rest = f"{file}{RANK_LETTERS[rank - 1]}", text[2:]
    if rest.endswith("打"):
        letters = [letter for letter in HAND_LETTERS if DIAGRAM_NAMES[letter] == rest[:-1]]
        if not letters:
            raise ValueError(f"{text!r}: no piece to drop")
        return f"{letters[0]}*{to}"
    board_move = re.fullmatch(r"(.+)\(([1-9])([1-9])\)", rest)
    if board_move is None:
        raise ValueError(f"{text!r}: no source square")
    written, file, rank = board_move.groups()
    # 成 at the end promotes ("銀成"); 不成 declines; 成香 and the like name promoted pieces.
    promotes = written.endswith("成") and not written.endswith("不成")
    return f"{file}{RANK_LETTERS[int(rank) - 1]}{to}{'+' if promotes else ''}"


def usi_of_kif_moves(texts: Sequence[str]) -> list[str]:
    """The USI of a game's move texts (`KifMoves.moves`), each 同 read against the move before.
    ValueError naming the move's number."""
    moves, previous_to = [], None
    for ply, text in enumerate(texts, 1):
        try:
            moves.append(usi_of_kif_move(text, previous_to))
        except ValueError as error:
            raise ValueError(f"move {ply}: {error}") from None
        previous_to = moves[-1][2:4]  # "7g7f+", "P*5e": the destination is characters 2-3
    return moves


def result_of_summary(summary: str) -> str:
    """The result a KIF's last line states: the side named in it ("先手の勝ち") won; a line
    naming no side ("千日手", "持将棋", "中断") is a draw."""
    named = [side for side, name in enumerate(SIDE_NAMES) if name in summary]
    return ("black_win", "white_win")[named[0]] if len(named) == 1 else "draw"
