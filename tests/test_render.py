"""SVG pictures of positions, read back as XML through their data-* attributes and checked against
cshogi's boards over random playouts: every piece on its square, both hands, the side to move, the
last move and the arrows; promoted pieces red, White's turned; the Latin letters; the font carried
inside; bad input named; atomic saves."""
from __future__ import annotations

import functools
import math
import os
import random
import xml.etree.ElementTree as ET
from typing import NamedTuple

import jax.numpy as jnp
import pytest
from conftest import stack_states

import shogi_jax as sj
from shogi_jax.notation.sfen import sfen_position
from shogi_jax.reports import board_font
from shogi_jax.reports.render import CELL, PROMOTED_COLOR, game_of, position_svg, save_svg
from shogi_jax.rules.state import STARTPOS_SFEN, empty_state

cshogi = pytest.importorskip("cshogi")

SVG = "{http://www.w3.org/2000/svg}"
WHITE_OFFSET = cshogi.WPAWN - cshogi.BPAWN  # cshogi's piece codes: White's are Black's + 16
NUM_POSITIONS = 30
# The characters diagrams write, by SFEN letter: an independent reference for the drawing.
KANJI = {"P": "歩", "L": "香", "N": "桂", "S": "銀", "G": "金", "B": "角", "R": "飛", "K": "玉",
         "+P": "と", "+L": "杏", "+N": "圭", "+S": "全", "+B": "馬", "+R": "龍"}
FILE_LABELS = {str(file): file for file in range(1, 10)}
RANK_LABELS = dict(zip("一二三四五六七八九", "abcdefghi"))  # kanji -> USI rank


class Playout(NamedTuple):
    sfen: str  # the position reached
    last_usi: str  # the move that reached it
    last_move: int  # the same, as cshogi's move


@functools.lru_cache(maxsize=None)
def random_positions() -> tuple[Playout, ...]:
    """NUM_POSITIONS games of 20-120 random legal plies from a fixed seed (fewer where a game
    ends sooner)."""
    rng = random.Random(20240501)
    positions = []
    for _ in range(NUM_POSITIONS):
        board = cshogi.Board()
        last = None
        for _ in range(rng.randint(20, 120)):
            moves = list(board.legal_moves)
            if not moves:
                break
            last = rng.choice(moves)
            board.push(last)
        positions.append(Playout(board.sfen(), cshogi.move_to_usi(last), last))
    return tuple(positions)


def board_of(sfen: str):
    board = cshogi.Board()
    board.set_sfen(sfen)
    return board


def expected_pieces(board) -> dict[str, str]:
    """USI square -> SFEN letters of every piece on cshogi's board (a White piece's code is its
    Black twin's + WHITE_OFFSET)."""
    return {cshogi.SQUARE_NAMES[sq]: (cshogi.PIECE_SYMBOLS[piece - WHITE_OFFSET]
                                      if piece >= cshogi.WPAWN
                                      else cshogi.PIECE_SYMBOLS[piece].upper())
            for sq, piece in enumerate(board.pieces) if piece}


def expected_hands(board) -> dict[tuple[str, str], int]:
    return {(side, letter.upper()): count
            for side, counts in zip("bw", board.pieces_in_hand)
            for letter, count in zip(cshogi.HAND_PIECE_SYMBOLS, counts) if count}


def drawn_pieces(svg) -> dict[str, str]:
    return {g.get("data-square"): g.get("data-piece") for g in svg.iter(f"{SVG}g")
            if g.get("data-square")}


def drawn_hands(svg) -> dict[tuple[str, str], int]:
    return {(g.get("data-hand"), g.get("data-piece")): int(g.get("data-count"))
            for g in svg.iter(f"{SVG}g") if g.get("data-hand")}


def groups_with(svg, attribute: str) -> list:
    return [g for g in svg.iter(f"{SVG}g") if g.get(attribute) is not None]


def test_random_positions_match_cshogi():
    seen = {"promoted": 0, "black hand": 0, "white hand": 0, "white to move": 0}
    for sfen, _, _ in random_positions():
        board = board_of(sfen)
        svg = ET.fromstring(position_svg(sfen))
        pieces, hands = drawn_pieces(svg), drawn_hands(svg)
        assert pieces == expected_pieces(board), sfen
        assert hands == expected_hands(board), sfen
        assert svg.get("data-side-to-move") == "bw"[board.turn], sfen
        assert svg.find(f"{SVG}title").text == sfen
        assert len(pieces) + sum(hands.values()) == 40, sfen
        seen["promoted"] += any(piece.startswith("+") for piece in pieces.values())
        seen["black hand"] += any(side == "b" for side, _ in hands)
        seen["white hand"] += any(side == "w" for side, _ in hands)
        seen["white to move"] += board.turn == cshogi.WHITE
    assert all(seen.values()), seen  # the playouts reach every case checked above


def test_pieces_are_their_kanji_promoted_red_and_whites_turned():
    for sfen, _, _ in random_positions()[:10]:
        svg = ET.fromstring(position_svg(sfen))
        for g in groups_with(svg, "data-square"):
            piece, text = g.get("data-piece"), g.find(f"{SVG}text")
            assert text.text == KANJI[piece.upper()]
            assert (text.get("fill") == PROMOTED_COLOR) == piece.startswith("+")
            assert ("rotate(180" in (g.get("transform") or "")) == piece.islower()
        for entry in groups_with(svg, "data-hand"):
            piece = entry.find(f"{SVG}g")  # the piece; its count stands upright beside it
            assert piece.find(f"{SVG}text").text == KANJI[entry.get("data-piece")]
            turned = "rotate(180" in (piece.get("transform") or "")
            assert turned == (entry.get("data-hand") == "w")


def test_latin_pieces_are_sfens_letters():
    for sfen, _, _ in random_positions()[:10]:
        kanji, latin = (ET.fromstring(position_svg(sfen, pieces=pieces))
                        for pieces in ("kanji", "latin"))
        for g in groups_with(latin, "data-square"):
            piece, text = g.get("data-piece"), g.find(f"{SVG}text")
            assert text.text == piece.upper()  # "P", "+B": a horse is +B, a dragon +R
            assert (text.get("fill") == PROMOTED_COLOR) == piece.startswith("+")
            assert float(text.get("font-size")) < 0.62 * CELL if piece.startswith("+") else (
                float(text.get("font-size")) == 0.62 * CELL)
        for entry in groups_with(latin, "data-hand"):
            assert entry.find(f"{SVG}g/{SVG}text").text == entry.get("data-piece")
        # The same picture apart from the words: the ranks a..i, the sides in English.
        assert drawn_pieces(latin) == drawn_pieces(kanji)
        assert drawn_hands(latin) == drawn_hands(kanji)
        labels = [t.text for t in latin.iter(f"{SVG}text")]
        assert [label for label in labels if label in "abcdefghi"] == list("abcdefghi")
        assert "☗Black" in labels and "☖White" in labels
        mover = "bw".index(sfen.split()[1])
        assert labels[-1] == ("☗Black to move", "☖White to move")[mover]  # under the board
        assert not any(ord(char) > 0x3000 for label in labels for char in label)  # no kanji


def test_the_font_travels_inside_the_svg():
    svg = ET.fromstring(position_svg(STARTPOS_SFEN))
    [style] = svg.iter(f"{SVG}style")
    assert style.text == board_font.font_face_css()
    assert svg.get("font-family").startswith(f"'{board_font.FAMILY}'")
    bare = ET.fromstring(position_svg(STARTPOS_SFEN, embed_font=False))
    assert not list(bare.iter(f"{SVG}style")) and bare.get("font-family") == svg.get("font-family")


def test_board_is_drawn_black_at_the_bottom():
    # The attributes name the squares; here the squares are where a diagram puts them: file 9 at
    # the left, rank a (一) at the top, under their labels; Black's hand right, White's left.
    for sfen, _, _ in random_positions()[:10]:
        svg = ET.fromstring(position_svg(sfen))
        columns, rows = {}, {}
        for g in groups_with(svg, "data-square"):
            text = g.find(f"{SVG}text")
            file, rank = g.get("data-square")
            columns.setdefault(int(file), set()).add(float(text.get("x")))
            rows.setdefault(rank, set()).add(float(text.get("y")))
        assert all(len(xs) == 1 for xs in columns.values())
        assert all(len(ys) == 1 for ys in rows.values())
        assert sorted(columns, key=lambda file: min(columns[file]), reverse=True) == sorted(columns)
        assert sorted(rows, key=lambda rank: min(rows[rank])) == sorted(rows)
        for label in svg.findall(f"{SVG}text"):  # the board's labels; hands' counts lie deeper
            if FILE_LABELS.get(label.text) in columns:
                assert float(label.get("x")) in columns[FILE_LABELS[label.text]]
            if RANK_LABELS.get(label.text) in rows:
                assert abs(float(label.get("y")) - min(rows[RANK_LABELS[label.text]])) < CELL / 2
        board_xs = set().union(*columns.values())
        for entry in groups_with(svg, "data-hand"):
            x = float(entry.find(f"{SVG}g/{SVG}text").get("x"))
            assert x > max(board_xs) if entry.get("data-hand") == "b" else x < min(board_xs)


def test_start_position():
    text = position_svg(STARTPOS_SFEN)
    svg = ET.fromstring(text)
    pieces = drawn_pieces(svg)
    assert len(pieces) == 40 and not drawn_hands(svg)
    assert sum(piece.isupper() for piece in pieces.values()) == 20
    assert pieces["5i"] == "K" and pieces["5a"] == "k" and pieces["8h"] == "B"
    assert pieces["2b"] == "b" and pieces["7g"] == "P"
    assert svg.get("data-side-to-move") == "b" and "先手番" in text and "後手番" not in text
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert [label for label in labels if label in FILE_LABELS] == list("987654321")
    assert [label for label in labels if label in RANK_LABELS] == list(RANK_LABELS)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')


def state_of(sfen: str):
    """A State of `sfen` with the fields `to_sfen` reads (board, hand, color, ply), as `from_sfen`
    sets them, without judging the position: that compiles the legal-move generator, ~40 s on two
    busy cores (test_state_from_from_sfen_draws_as_its_sfen runs the real one, marked slow)."""
    board, hand, color, ply = sfen_position(sfen)
    return empty_state()._replace(board=jnp.asarray(board), hand=jnp.asarray(hand),
                                  color=jnp.int32(color), ply=jnp.int32(ply))


def check_states_draw_as_their_sfens(sfens, make_state):
    states = [make_state(sfen) for sfen in sfens]
    for sfen, state in zip(sfens, states):
        assert position_svg(state) == position_svg(sfen)
    batch = stack_states(states)
    for index, sfen in enumerate(sfens):
        assert position_svg(game_of(batch, index)) == position_svg(sfen)
    with pytest.raises(ValueError, match="game_of"):
        position_svg(batch)


def test_state_draws_as_its_sfen():
    # Both sides to move: the State keeps White's board turned, which to_sfen undoes.
    sfens = [playout.sfen for playout in random_positions()[:4]]
    assert {sfen.split()[1] for sfen in sfens} == {"b", "w"}
    check_states_draw_as_their_sfens(sfens, state_of)


@pytest.mark.slow
def test_state_from_from_sfen_draws_as_its_sfen():
    check_states_draw_as_their_sfens([playout.sfen for playout in random_positions()[:4]],
                                     sj.from_sfen)


def test_last_move_is_highlighted():
    drops = 0
    for sfen, usi, move in random_positions():
        svg = ET.fromstring(position_svg(sfen, last_move=usi))
        [highlight] = groups_with(svg, "data-last-move")
        to = cshogi.SQUARE_NAMES[cshogi.move_to(move)]
        squares = [to] if cshogi.move_is_drop(move) else [
            cshogi.SQUARE_NAMES[cshogi.move_from(move)], to]
        assert highlight.get("data-last-move") == usi and highlight.get("data-to") == to
        assert highlight.get("data-from") == (None if len(squares) == 1 else squares[0])
        assert sorted(r.get("data-square") for r in highlight.iter(f"{SVG}rect")) == sorted(squares)
        drops += cshogi.move_is_drop(move)
    assert 0 < drops < NUM_POSITIONS  # both kinds of move were highlighted
    assert not groups_with(ET.fromstring(position_svg(STARTPOS_SFEN)), "data-last-move")


def test_arrows_carry_their_moves_and_probabilities():
    rng = random.Random(7)
    probabilities, labels = (0.42, 0.3, 0.004, 0.0), ["42%", "30%", "<1%", "0%"]
    drops = 0
    for sfen, _, _ in random_positions():
        board = board_of(sfen)
        moves = list(board.legal_moves)
        if not moves:
            continue
        # A drop among them when there is one, so drop arrows (from the hand) are drawn too.
        dropping = [m for m in moves if cshogi.move_is_drop(m)][:1]
        chosen = dropping + rng.sample([m for m in moves if m not in dropping],
                                       min(len(moves) - len(dropping), 4 - len(dropping)))
        arrows = [(cshogi.move_to_usi(m), p) for m, p in zip(chosen, probabilities)]
        svg = ET.fromstring(position_svg(sfen, arrows=arrows))
        drawn = {g.get("data-move"): g for g in groups_with(svg, "data-move")}
        assert sorted(drawn) == sorted(usi for usi, _ in arrows)
        for move, (usi, probability), label in zip(chosen, arrows, labels):
            arrow = drawn[usi]
            assert float(arrow.get("data-probability")) == probability
            assert arrow.get("data-to") == cshogi.SQUARE_NAMES[cshogi.move_to(move)]
            assert arrow.get("data-from") == (None if cshogi.move_is_drop(move) else
                                              cshogi.SQUARE_NAMES[cshogi.move_from(move)])
            assert [t.text for t in arrow.iter(f"{SVG}text")] == [label]
            drops += cshogi.move_is_drop(move)
        assert position_svg(sfen, arrows=dict(arrows)) == position_svg(sfen, arrows=arrows)
    assert drops


@pytest.mark.parametrize("options,fault", [
    (dict(last_move="7g"), "last_move: bad USI move '7g'"),
    (dict(last_move="7g7f"), "last_move '7g7f': 7f holds no White piece"),  # given before it
    (dict(arrows=[("7z7f", 0.5)]), "bad USI move '7z7f'"),
    (dict(arrows=[("7g5f", 0.5)]), "no piece moves from 7g to 5f"),
    (dict(arrows=[("5e5d", 0.5)]), "arrow '5e5d': 5e holds no Black piece"),
    (dict(arrows=[("P*5e", 0.5)]), "arrow 'P*5e': Black (to move) has no P in hand"),
    (dict(arrows=[("7g7f", 1.5)]), "arrow '7g7f': probability 1.5 is outside [0, 1]"),
    (dict(arrows=[("7g7f", -0.1)]), "probability -0.1 is outside [0, 1]"),
    (dict(arrows=[("7g7f", math.nan)]), "probability nan is outside [0, 1]"),
    (dict(arrows=[("7g7f", "high")]), "probability 'high' is not a number"),
    (dict(arrows=["7g7f"]), "arrow '7g7f' is not a (usi_move, probability) pair"),
    (dict(size=0), "size 0 must be a positive number"),
    (dict(pieces="western"), "pieces 'western' must be one of kanji, latin"),
])
def test_bad_options_are_named(options, fault):
    with pytest.raises(ValueError) as error:
        position_svg(STARTPOS_SFEN, **options)
    assert fault in str(error.value)


@pytest.mark.parametrize("position,fault", [
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL x - 1", "side to move 'x'"),
    ("lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1 b - 1", "8 ranks"),
    (42, "position must be an SFEN string or a State of one game, got int"),
])
def test_bad_position_is_named(position, fault):
    with pytest.raises(ValueError) as error:
        position_svg(position)
    assert fault in str(error.value)
    if isinstance(position, str):
        assert position in str(error.value)


def test_save_svg_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "position.svg"
    sfen, usi, _ = random_positions()[0]
    save_svg(sfen, path, last_move=usi)
    assert os.listdir(tmp_path) == ["position.svg"]
    assert drawn_pieces(ET.parse(path).getroot()) == expected_pieces(board_of(sfen))
    saved = path.read_bytes()
    assert saved.decode("utf-8") == position_svg(sfen, last_move=usi)

    with pytest.raises(ValueError, match="side to move"):  # bad input: nothing written
        save_svg(STARTPOS_SFEN.replace(" b ", " x "), path)

    def interrupted(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", interrupted)  # a write that fails at the last step
    with pytest.raises(OSError, match="disk full"):
        save_svg(STARTPOS_SFEN, path)
    monkeypatch.undo()
    assert path.read_bytes() == saved and os.listdir(tmp_path) == ["position.svg"]

    save_svg(STARTPOS_SFEN, str(path))  # replaces the old picture, a str path as well
    assert len(drawn_pieces(ET.parse(path).getroot())) == 40
    assert os.listdir(tmp_path) == ["position.svg"]
