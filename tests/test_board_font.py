"""The board font: it holds exactly the glyphs of board_font.CHARACTERS, and CHARACTERS is what
the code writes, both ways: every character outside ASCII in a string of shogi_jax/reports, its
viewer's script and the KIF writer, and no other; every text a board (both letterings, both
pictures: render's and the viewer's words) or a KIF move list and ending draws is in it. The
page carries the font and lets it load. In Chromium: tests/test_browser.py."""
from __future__ import annotations

import ast
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from shogi_jax.notation.kif import kif_from_record
from shogi_jax.notation.record_board import (
    BLACK,
    TERMINATIONS,
    WHITE,
    GameRecord,
    Position,
    RecordMove,
)
from shogi_jax.notation.sfen import parse_sfen
from shogi_jax.reports import board_font, html, render, replay
from shogi_jax.reports.lettering import LETTERINGS
from shogi_jax.rules.board import HAND_LETTERS, PIECE_NAMES
from shogi_jax.rules.state import STARTPOS_SFEN

ROOT = Path(__file__).resolve().parents[1]
# Where the text of boards and move lists is written; board_font.py itself only lists it.
PYTHON_SOURCES = [path for path in sorted((ROOT / "shogi_jax/reports").glob("*.py"))
                  if path.name != "board_font.py"] + [ROOT / "shogi_jax/notation/kif.py"]
SCRIPT = ROOT / "shogi_jax/reports/viewer/viewer.js"
# Every kind on the board and in both hands, promoted pieces of both sides.
EVERY_PIECE = "l+N1g3+Rl/1ks1g4/1+Ppp+S2p1/p7p/9/P1P+b2P1P/1P1PPP3/2G1K1S2/+LNS2G1NL w B2Pnp 40"
MAX_FONT_BYTES = 40_000


def string_literals(path: Path) -> str:
    """The strings of a Python file (f-strings' literal parts too), docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return "".join(node.value for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and isinstance(node.value, str)
                   and id(node) not in docstrings)


def beyond_ascii(text: str) -> set[str]:
    """The characters of `text` outside printable ASCII, control characters left out."""
    return {char for char in text if char not in board_font.ASCII and ord(char) >= 0x20}


def test_the_font_holds_exactly_the_listed_characters():
    data = board_font.font_bytes()
    assert data[:4] == b"wOF2" and len(data) < MAX_FONT_BYTES
    font = TTFont(io.BytesIO(data))
    assert set(font.getBestCmap()) == set(map(ord, board_font.CHARACTERS))
    assert len(board_font.CHARACTERS) == len(set(board_font.CHARACTERS))


def test_the_listed_characters_are_those_the_code_writes():
    written = set().union(*(beyond_ascii(string_literals(path)) for path in PYTHON_SOURCES))
    written |= beyond_ascii(SCRIPT.read_text(encoding="utf-8"))
    listed = beyond_ascii(board_font.CHARACTERS)
    assert not written - listed, f"add to CHARACTERS: {''.join(sorted(written - listed))}"
    assert not listed - written, f"no longer written: {''.join(sorted(listed - written))}"


def svg_text(svg: str) -> str:
    tree = ET.fromstring(svg)
    return "".join(element.text or "" for element in tree.iter()
                   if element.tag.endswith("}text") or element.tag.endswith("}title"))


@pytest.mark.parametrize("pieces", list(LETTERINGS))
def test_every_word_on_a_board_is_in_the_font(pieces):
    drawn = "".join(svg_text(render.position_svg(
        sfen, pieces=pieces, last_move=last, arrows=arrows, embed_font=False))
        for sfen, last, arrows in [(STARTPOS_SFEN, None, [("7g7f", 0.42), ("2g2f", 0.001)]),
                                   (EVERY_PIECE, "P*7f", [("N*5e", 0.5)]),
                                   (EVERY_PIECE.replace(" w ", " b "), None, [])])
    style = replay.board_style(pieces)  # what the viewer's script writes
    drawn += "".join([*style["pieceNames"].values(), *style["rankLabels"], *style["handNames"],
                      *style["toMove"]])
    assert set(drawn) <= set(board_font.CHARACTERS), set(drawn) - set(board_font.CHARACTERS)


def _record(moves: list[RecordMove], start: Position, winner, termination) -> GameRecord:
    return GameRecord("black", "white", start, moves, start._replace(color=len(moves) % 2),
                      winner, termination)


def test_every_kif_move_and_ending_is_in_the_font():
    """Every kind moved to every square, dropped, promoted, declining to promote, and to the
    square of the move before (同); every ending; a start that is not the standard one."""
    moves = []
    for kind in PIECE_NAMES:
        for file in range(1, 10):
            for rank in range(1, 10):
                for drop, promotes, may_promote in ((False, False, False), (False, True, True),
                                                    (False, False, True), (True, False, False)):
                    if drop and kind not in HAND_LETTERS:
                        continue
                    move = RecordMove("", len(moves) % 2, kind, None if drop else (5, 5),
                                      (file, rank), promotes, may_promote, None)
                    moves += [move, move]  # the second is written 同
    standard = Position(*parse_sfen(STARTPOS_SFEN)[:3])
    other = Position(*parse_sfen(EVERY_PIECE)[:3])
    texts = []
    for winner in (BLACK, WHITE, None):
        for termination in (*TERMINATIONS, None):
            for start in (standard, other):
                try:
                    texts.append(kif_from_record(_record(moves, start, winner, termination)))
                except KeyError:  # a draw does not end by checkmate, nor a win by repetition
                    continue
    assert len(texts) > 30 and "同　" in texts[0] and "不成" in texts[0] and "打" in texts[0]
    written = set("".join(texts)) - {"\n"}
    assert written <= set(board_font.CHARACTERS), written - set(board_font.CHARACTERS)


def test_the_page_carries_the_font_and_lets_it_load():
    assert board_font.font_face_css() in replay.VIEWER_CSS
    assert f"'{board_font.FAMILY}'" in replay.VIEWER_CSS.split("}", 1)[1]  # text falls back to it
    assert "font-src data:" in html.CONTENT_SECURITY_POLICY
    face = board_font.font_face_css()
    assert "url(data:font/woff2;base64," in face and "http" not in face
