"""SVG pictures of positions (host side), as Japanese diagrams draw them: Black (sente) at the
bottom, files 9..1 across the top, ranks 一..九 down the right, White's pieces upside down,
promoted pieces red, Black's hand at the bottom right and White's at the top left, the side to
move underneath; optionally the last move highlighted and arrows for candidate moves (a policy's
top moves) labelled with their probabilities. The text is in the package's font (`board_font`),
carried inside the SVG: no Japanese font is needed to read it, nor kanji with pieces="latin".

Everything drawn carries data-* attributes, so a test (or any tool) reads the picture back as XML
instead of comparing pixels. Squares are USI names ("7g"), pieces SFEN letters (upper case Black,
lower case White, "+" promoted), sides "b" and "w":
  <svg data-side-to-move="b">
  <g data-square="7g" data-piece="+B">                         a piece on the board
  <g data-hand="w" data-piece="P" data-count="3">               a kind of piece in a hand
  <g data-last-move="7g7f" data-from="7g" data-to="7f">          (no data-from for a drop)
  <g data-move="8h2b+" data-probability="0.42" data-from="8h" data-to="2b">   an arrow

A position is an SFEN, or a State of one game, which is drawn from its SFEN (`to_sfen`): one
drawing path, and drawing an SFEN runs no JAX at all.
"""
from __future__ import annotations

import math
import numbers
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from shogi_jax.host.paths import write_text_atomically
from shogi_jax.notation.record_board import BLACK, WHITE, Position
from shogi_jax.notation.sfen import hand_pieces, one_game, parse_sfen, to_sfen
from shogi_jax.notation.usi import parse_usi, square_text
from shogi_jax.reports import board_font
from shogi_jax.reports.lettering import Lettering, lettering_for
from shogi_jax.rules.board import (
    HAND_LETTERS,
    NUM_FILES,
    NUM_HAND_TYPES,
    NUM_RANKS,
    NUM_SQUARES,
    flip_square,
)
from shogi_jax.rules.state import COLOR_NAMES, State

SIDE_LETTERS = "bw"  # SFEN's side to move, by color: the data-* attributes name sides so too

# Geometry, in SVG user units; `size` scales the whole picture.
CELL = 40.0  # one square
LABEL = 20.0  # the row of file numbers above the board, the column of rank kanji to its right
GAP = 8.0
HAND_WIDTH = 60.0  # a hand: a piece one CELL wide and its count beside it
STATUS_HEIGHT = 30.0  # the line naming the side to move, under the board
BOARD_SIZE = NUM_FILES * CELL
BOARD_LEFT = GAP + HAND_WIDTH + GAP  # White's hand sits left of the board
BOARD_TOP = GAP + LABEL
BLACK_HAND_LEFT = BOARD_LEFT + BOARD_SIZE + LABEL + GAP
WIDTH = BLACK_HAND_LEFT + HAND_WIDTH + GAP
HEIGHT = BOARD_TOP + BOARD_SIZE + STATUS_HEIGHT
HAND_SLOTS = NUM_HAND_TYPES + 1  # a side's name, then one slot per kind of piece it may hold

PIECE_FONT_SIZE = 0.62 * CELL
NARROW_PIECE_FONT_SIZE = 0.44 * CELL  # a name of two characters ("+P"), to fit on its piece
SMALL_FONT_SIZE = 0.4 * CELL
# Text is placed by its baseline; a CJK glyph's middle sits about 0.36 em above it, and setting the
# baseline from that centres the glyph in every renderer (dominant-baseline is not everywhere).
GLYPH_MIDDLE = 0.36
# A koma: a pentagon pointing to the far side, as fractions of CELL around the square's centre.
PIECE_OUTLINE = ((0.0, -0.42), (0.3, -0.3), (0.36, 0.42), (-0.36, 0.42), (-0.3, -0.3))
STAR_POINTS = (3, 6)  # the hoshi: dots where the lines after files/ranks 3 and 6 cross

FONT_FAMILY = (f"'{board_font.FAMILY}', 'Noto Serif CJK JP', 'Hiragino Mincho ProN', 'Yu Mincho', "
               "'MS Mincho', serif")  # the package's font first: it has every character drawn
BOARD_COLOR = "#f2d08a"
HAND_COLOR = "#ead9b0"
PIECE_COLOR = "#fdf1d3"
INK = "#1a1a1a"
PROMOTED_COLOR = "#c8102e"  # promoted pieces are written in red, as on real pieces
HIGHLIGHT_COLOR = "#ffe066"
ARROW_COLOR = "#1565c0"


def piece_font_size(name: str) -> float:
    """The size of a piece's name: one character fills the piece, two are set smaller."""
    return PIECE_FONT_SIZE if len(name) == 1 else NARROW_PIECE_FONT_SIZE


class Move(NamedTuple):
    """A move as drawn: its USI text and its squares on the absolute board (Black's frame)."""

    usi: str
    source: int | None  # None for a drop
    to: int


class Arrow(NamedTuple):
    move: Move  # played by the side to move
    probability: float  # in [0, 1]


def game_of(states: State, index) -> State:
    """Game `index` (an int; a tuple for several batch axes) of a batched State (leaves
    [*batch, ...]); ValueError when the index leaves more than one game."""
    return one_game(states, index)


def position_svg(position: str | State, *, last_move: str | None = None,
                 arrows=(), size: float = 480.0, pieces: str = "kanji",
                 embed_font: bool = True) -> str:
    """A standalone SVG document (UTF-8 text) of one position.

    position: an SFEN ("sfen " prefix allowed, move number optional), or a State of one game
      (`game_of` picks one from a batch). ValueError names a malformed SFEN's fault.
    last_move: the USI move that led here ("7g7f", "P*5e", "8h2b+"), played by the side not to
      move: its destination (and source, for a board move) is highlighted. The destination must
      hold that side's piece: a move given with the position before it is refused.
    arrows: (usi_move, probability) pairs (or a mapping move -> probability) for moves of the side
      to move, e.g. a policy's top moves: an arrow from the source (a drop: from that piece in the
      hand) to the destination, labelled "42%", thicker the likelier. A board move must start
      from the mover's piece, a drop be of a piece the mover holds; legality is not checked.
    size: the picture's width in pixels (its height follows).
    pieces: "kanji" (歩 ... 龍, ranks 一..九) or "latin" (P ... K, +P ... +R, ranks a..i), see
      `lettering.LETTERINGS`.
    embed_font: carry the font (`board_font`, 28 kB) in a <style>; False leaves it to the page
      showing the picture (the report holds `board_font.font_face_css()` once for all boards).
    """
    words = lettering_for(pieces)
    if isinstance(size, bool) or not isinstance(size, numbers.Real) or not 0 < size < math.inf:
        raise ValueError(f"size {size!r} must be a positive number of pixels")
    sfen = _sfen_of(position)
    board, hands, color, _ = parse_sfen(sfen)
    board_position = Position(board, hands, color)
    last = None if last_move is None else _checked_last_move(board_position, last_move)
    checked_arrows = _checked_arrows(board_position, arrows)

    root = ET.Element("svg", {
        "xmlns": "http://www.w3.org/2000/svg", "version": "1.1",
        "width": _number(size), "height": _number(size * HEIGHT / WIDTH),
        "viewBox": f"0 0 {_number(WIDTH)} {_number(HEIGHT)}",
        "font-family": FONT_FAMILY, "data-side-to-move": SIDE_LETTERS[color],
    })
    ET.SubElement(root, "title").text = sfen
    if embed_font:
        ET.SubElement(root, "style").text = board_font.font_face_css()
    _draw_board(root, last, words)
    _draw_pieces(root, board_position, words)
    for side in (BLACK, WHITE):
        _draw_hand(root, hands, side, words, to_move=side == color)
    _text(root, words.to_move[color], BOARD_LEFT + BOARD_SIZE / 2,
          BOARD_TOP + BOARD_SIZE + STATUS_HEIGHT / 2, SMALL_FONT_SIZE, fill=INK)
    # The likeliest arrow last, so that it lies on top of the others.
    for arrow in sorted(checked_arrows, key=lambda arrow: arrow.probability):
        _draw_arrow(root, hands, color, arrow)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode") + "\n")


def save_svg(position: str | State, path, **options) -> None:
    """Writes `position_svg(position, **options)` to `path` atomically: the picture is written to
    a temporary file in the same directory and renamed over `path`, so `path` holds either its
    old contents or the whole new picture, never a part. Bad input raises before anything is
    written."""
    write_text_atomically(path, position_svg(position, **options))


# --- reading the input --------------------------------------------------------------------------


def _sfen_of(position) -> str:
    if isinstance(position, State):
        shape = np.shape(position.board)
        if shape != (NUM_SQUARES,):
            raise ValueError(f"a batch of games (board shape {shape}): draw one, "
                             "game_of(states, index)")
        return to_sfen(position)
    if isinstance(position, str):
        return position
    raise ValueError(f"position must be an SFEN string or a State of one game, got "
                     f"{type(position).__name__}")


def _read_move(usi, mover: int, what: str) -> Move:
    """USI move `usi` played by `mover`; ValueError naming `what` and the move when the text is
    malformed."""
    try:
        action, source = parse_usi(usi, mover)
    except ValueError as error:
        raise ValueError(f"{what}: {error}") from None
    to = action % NUM_SQUARES
    # parse_usi answers in the mover's frame (White's squares rotated); the picture is Black's.
    absolute = (lambda sq: sq) if mover == BLACK else flip_square
    return Move(usi.strip(), None if source == NUM_SQUARES else absolute(source), absolute(to))


def _file_rank(sq: int) -> tuple[int, int]:
    return sq // NUM_RANKS + 1, sq % NUM_RANKS + 1


def _checked_last_move(position: Position, usi) -> Move:
    """The last move, played by the side not to move; its piece must stand where it went."""
    mover = 1 - position.color
    move = _read_move(usi, mover, "last_move")
    piece = position.piece(_file_rank(move.to))
    if piece is None or piece.color != mover:
        raise ValueError(f"last_move {usi!r}: {square_text(move.to)} holds no "
                         f"{COLOR_NAMES[mover]} piece; give the position after the move")
    return move


def _checked_arrows(position: Position, arrows) -> list[Arrow]:
    """The arrows, for moves of the side to move: each starts from the mover's piece, on the
    board or in hand, and has a probability in [0, 1]."""
    mover = position.color
    items = arrows.items() if isinstance(arrows, Mapping) else arrows
    checked = []
    for item in items:
        try:
            usi, probability = item
        except (TypeError, ValueError):
            raise ValueError(f"arrow {item!r} is not a (usi_move, probability) pair") from None
        move = _read_move(usi, mover, "arrow")
        try:
            chance = float(probability)
        except (TypeError, ValueError):
            raise ValueError(f"arrow {usi!r}: probability {probability!r} is not a number") \
                from None
        if not 0.0 <= chance <= 1.0:  # NaN fails too
            raise ValueError(f"arrow {usi!r}: probability {probability!r} is outside [0, 1]")
        if move.source is None:
            letter = move.usi[0]
            if not position.hands[mover, HAND_LETTERS.index(letter)]:
                raise ValueError(f"arrow {usi!r}: {COLOR_NAMES[mover]} (to move) has no "
                                 f"{letter} in hand")
        else:
            piece = position.piece(_file_rank(move.source))
            if piece is None or piece.color != mover:
                raise ValueError(f"arrow {usi!r}: {square_text(move.source)} holds no "
                                 f"{COLOR_NAMES[mover]} piece ({COLOR_NAMES[mover]} is to move)")
        checked.append(Arrow(move, chance))
    return checked


# --- drawing ------------------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _square_centre(sq: int) -> tuple[float, float]:
    """The centre of absolute square `sq`: file 9 on the left, rank 1 (a) at the top."""
    file, rank = _file_rank(sq)
    return BOARD_LEFT + (NUM_FILES - file + 0.5) * CELL, BOARD_TOP + (rank - 0.5) * CELL


def _hand_slot_centre(side: int, slot: int) -> tuple[float, float]:
    """Slot 0 holds the side's name, slots 1.. its pieces: Black's hand grows up from the bottom
    right of the board, White's down from the top left (each side's hand nearest its player)."""
    if side == BLACK:
        return BLACK_HAND_LEFT + CELL / 2, BOARD_TOP + BOARD_SIZE - (slot + 0.5) * CELL
    return GAP + CELL / 2, BOARD_TOP + (slot + 0.5) * CELL


def _text(parent, text: str, x: float, y: float, font_size: float, **attributes):
    """Text centred on (x, y)."""
    element = ET.SubElement(parent, "text", {
        "x": _number(x), "y": _number(y + GLYPH_MIDDLE * font_size),
        "font-size": _number(font_size), "text-anchor": "middle", **attributes})
    element.text = text
    return element


def _draw_board(root, last_move: Move | None, words: Lettering) -> None:
    ET.SubElement(root, "rect", {
        "x": _number(BOARD_LEFT), "y": _number(BOARD_TOP), "width": _number(BOARD_SIZE),
        "height": _number(BOARD_SIZE), "fill": BOARD_COLOR})
    if last_move is not None:  # under the lines, so the grid stays whole
        group = ET.SubElement(root, "g", {"data-last-move": last_move.usi,
                                          **_square_attributes(last_move)})
        for sq in (last_move.to,) if last_move.source is None else (last_move.source,
                                                                    last_move.to):
            x, y = _square_centre(sq)
            ET.SubElement(group, "rect", {
                "x": _number(x - CELL / 2), "y": _number(y - CELL / 2), "width": _number(CELL),
                "height": _number(CELL), "fill": HIGHLIGHT_COLOR, "data-square": square_text(sq)})
    lines = [f"M{_number(BOARD_LEFT + i * CELL)} {_number(BOARD_TOP)}v{_number(BOARD_SIZE)}"
             f"M{_number(BOARD_LEFT)} {_number(BOARD_TOP + i * CELL)}h{_number(BOARD_SIZE)}"
             for i in range(NUM_FILES + 1)]
    ET.SubElement(root, "path", {"d": "".join(lines), "stroke": INK, "stroke-width": "1",
                                 "fill": "none"})
    for across in STAR_POINTS:
        for down in STAR_POINTS:
            ET.SubElement(root, "circle", {
                "cx": _number(BOARD_LEFT + across * CELL), "cy": _number(BOARD_TOP + down * CELL),
                "r": _number(0.06 * CELL), "fill": INK})
    for file in range(NUM_FILES, 0, -1):
        _text(root, str(file), BOARD_LEFT + (NUM_FILES - file + 0.5) * CELL, GAP + LABEL / 2,
              SMALL_FONT_SIZE, fill=INK)
    for rank, label in enumerate(words.ranks, start=1):
        _text(root, label, BOARD_LEFT + BOARD_SIZE + LABEL / 2,
              BOARD_TOP + (rank - 0.5) * CELL, SMALL_FONT_SIZE, fill=INK)


def _draw_piece(parent, kind: str, side: int, x: float, y: float, attributes: dict,
                words: Lettering):
    """A koma of `kind` (a name of PIECE_NAMES, "+B") centred on (x, y); White's turned 180
    degrees to face Black, as across a real board."""
    group = ET.SubElement(parent, "g", attributes)
    if side == WHITE:
        group.set("transform", f"rotate(180 {_number(x)} {_number(y)})")
    outline = " ".join(f"{_number(x + dx * CELL)},{_number(y + dy * CELL)}"
                       for dx, dy in PIECE_OUTLINE)
    ET.SubElement(group, "polygon", {"points": outline, "fill": PIECE_COLOR, "stroke": INK,
                                     "stroke-width": "0.8"})
    _text(group, words.pieces[kind], x, y + 0.03 * CELL, piece_font_size(words.pieces[kind]),
          fill=PROMOTED_COLOR if kind.startswith("+") else INK)
    return group


def _draw_pieces(root, position: Position, words: Lettering) -> None:
    for sq in range(NUM_SQUARES):
        piece = position.piece(_file_rank(sq))
        if piece is not None:
            letters = piece.kind if piece.color == BLACK else piece.kind.lower()
            _draw_piece(root, piece.kind, piece.color, *_square_centre(sq),
                        {"data-square": square_text(sq), "data-piece": letters}, words)


def _hand_slots(hands, side: int) -> dict[str, tuple[int, int]]:
    """letter -> (slot, count) of each kind `side` holds, in SFEN's order (rook first)."""
    return {letter: (slot, count)
            for slot, (letter, count) in enumerate(hand_pieces(hands, side), start=1)}


def _draw_hand(root, hands, side: int, words: Lettering, *, to_move: bool) -> None:
    left = _hand_slot_centre(side, 0)[0] - CELL / 2
    top = min(_hand_slot_centre(side, 0)[1], _hand_slot_centre(side, HAND_SLOTS - 1)[1]) - CELL / 2
    ET.SubElement(root, "rect", {
        "x": _number(left), "y": _number(top), "width": _number(HAND_WIDTH),
        "height": _number(HAND_SLOTS * CELL), "fill": HAND_COLOR, "rx": _number(0.1 * CELL)})
    name_y = _hand_slot_centre(side, 0)[1]
    _text(root, words.hands[side], left + HAND_WIDTH / 2, name_y,
          SMALL_FONT_SIZE, fill=INK, **({"font-weight": "bold"} if to_move else {}))
    for letter, (slot, count) in _hand_slots(hands, side).items():
        x, y = _hand_slot_centre(side, slot)
        entry = ET.SubElement(root, "g", {"data-hand": SIDE_LETTERS[side], "data-piece": letter,
                                          "data-count": str(count)})
        _draw_piece(entry, letter, side, x, y, {}, words)
        if count > 1:  # diagrams write a count only for two or more
            _text(entry, str(count), x + CELL / 2 + (HAND_WIDTH - CELL) / 2, y, SMALL_FONT_SIZE,
                  fill=INK)


def _percent(probability: float) -> str:
    if 0 < probability < 0.005:
        return "<1%"  # not "0%": the move has some chance
    return f"{probability:.0%}"


def _square_attributes(move: Move) -> dict[str, str]:
    """data-from (not for a drop) and data-to: the USI names of the move's squares."""
    return ({} if move.source is None else {"data-from": square_text(move.source)}) | {
        "data-to": square_text(move.to)}


def _draw_arrow(root, hands, mover: int, arrow: Arrow) -> None:
    """An arrow from the move's source (a drop: the piece in the mover's hand) to its
    destination, its width and opacity growing with the probability, labelled halfway along."""
    move, probability = arrow
    if move.source is None:
        start = _hand_slot_centre(mover, _hand_slots(hands, mover)[move.usi[0]][0])
    else:
        start = _square_centre(move.source)
    end = _square_centre(move.to)
    group = ET.SubElement(root, "g", {"data-move": move.usi,
                                      "data-probability": repr(probability),
                                      **_square_attributes(move)})
    # The shape fades with the probability; the label stays opaque, to be read.
    shape = ET.SubElement(group, "g", {"fill": ARROW_COLOR,
                                       "opacity": _number(0.45 + 0.45 * probability)})
    length = math.dist(start, end)
    along = ((end[0] - start[0]) / length, (end[1] - start[1]) / length)
    across = (-along[1], along[0])
    width = CELL * (0.06 + 0.14 * probability)
    head_length, head_half_width = 0.35 * CELL, width / 2 + 0.12 * CELL
    # The shaft stops where the head begins, so the two do not overlap and darken.
    neck = (end[0] - along[0] * head_length, end[1] - along[1] * head_length)
    ET.SubElement(shape, "line", {
        "x1": _number(start[0]), "y1": _number(start[1]), "x2": _number(neck[0]),
        "y2": _number(neck[1]), "stroke": ARROW_COLOR, "stroke-width": _number(width),
        "stroke-linecap": "round"})
    head = [end, *((neck[0] + sign * across[0] * head_half_width,
                    neck[1] + sign * across[1] * head_half_width) for sign in (1, -1))]
    ET.SubElement(shape, "polygon",
                  {"points": " ".join(f"{_number(x)},{_number(y)}" for x, y in head)})
    middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
    # A white halo under the label keeps it readable over pieces and other arrows.
    _text(group, _percent(probability), *middle, SMALL_FONT_SIZE, fill=ARROW_COLOR,
          stroke="white", **{"stroke-width": _number(0.08 * CELL), "paint-order": "stroke",
                             "font-weight": "bold"})
