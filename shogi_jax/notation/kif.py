"""Game records in KIF, the Kakinoki format Japanese GUIs read (host side).

The text is meant to be saved as UTF-8 under a `.kifu` name: it starts with the line
`#KIF version=2.0 encoding=UTF-8`, which modern GUIs honour, while Kakinoki's convention (and
cshogi 1.1.0's `KIF.Parser.parse_file`, which ignores that line) picks the encoding by the file
name alone: `.kifu` UTF-8, `.kif` Shift_JIS (cp932).
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
