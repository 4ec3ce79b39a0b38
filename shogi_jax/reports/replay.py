"""Games as the page's viewer replays them: the data embedded per game, the static markup of a
viewer (a board drawn by `render.position_svg`, the move list, the result) and the viewer's
script and style.

Every position is computed here, in Python: the rules engine replays the game
(`record_board`, the same replay the KIF and CSA writers read), each described move is applied
to the position before it, and the SFEN of every ply is embedded. The script only parses those
SFENs and draws them, so the browser shows exactly what Python computed. The Japanese move list
is the project's KIF writer's own text (`notation.kif.kif_moves` reads it out of the KIF).

The data of one game (JSON, under its id in the page's "games"):

    black, white   the players' names
    result         "black_win", "white_win" or "draw"
    termination    how it ended (record_board.TERMINATIONS), or null when the source does not say
    ending         the KIF's closing move ("詰み", "投了", "持将棋", ...)
    summary        the KIF's last line ("まで63手で先手の勝ち")
    plies          P + 1 entries for P moves: {"sfen"} for the start, then per move
                   {"usi": "7g7f", "ja": "７六歩(77)", "sfen": the position after it}; any entry
                   may carry "value" (a float in [-1, 1] for the side to move there, e.g. a
                   network's) and "top_moves" ([[usi, probability], ...], best first), which the
                   viewer shows when present (the moves as arrows, as `render` draws them);
                   `reports.analysis` fills them for network players
    links          {"kif": ..., "csa": ...}: relative links to the game's files, when there are

The page's JSON: {"format": FORMAT, "board": the drawing's geometry, colours and words (taken
from `shogi_jax.reports.render`, in the lettering the page was made with), "games": {id: game}}.
The page's style holds the board font (`board_font`) once, for every board and the move lists.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Hashable, Mapping, Sequence
from importlib import resources
from typing import Optional

import jax
import numpy as np

from shogi_jax.notation.kif import kif_moves
from shogi_jax.notation.record_board import BLACK, GameRecord, Position, RecordMove
from shogi_jax.notation.sfen import HAND_ORDER, parse_sfen, to_sfen
from shogi_jax.notation.usi import RANK_LETTERS
from shogi_jax.reports import ReportError, board_font, render
from shogi_jax.reports.html import Markup, element, join, json_script
from shogi_jax.reports.lettering import lettering_for
from shogi_jax.rules.board import (
    EMPTY,
    HAND_LETTERS,
    NUM_RANKS,
    OPP_OFFSET,
    OWN_OFFSET,
    PIECE_NAMES,
    flip_board_np,
)
from shogi_jax.rules.state import empty_state

FORMAT = 2  # the embedded data's version, for readers of the page (a browser test, a script)
DATA_ID = "shogi-report-data"  # the <script type="application/json"> holding it
MAX_EMBEDDED_GAMES = 200  # more games are listed with links to their files, not embedded
BOARD_PIXELS = 480.0  # the board's width on the page
RESULT_WORDS = {"black_win": "{black} (Black) wins", "white_win": "{white} (White) wins",
                "draw": "Draw"}


# --- which games are embedded -------------------------------------------------------------------


def embedded_sample(groups: Sequence[Sequence[Hashable]]) -> set:
    """The keys of the games to embed, at most MAX_EMBEDDED_GAMES: the first game of every group
    (a pairing, an opponent), then the second of every group, and so on. Deterministic, and
    every group is shown as long as there is room."""
    chosen, depth = [], 0
    while len(chosen) < MAX_EMBEDDED_GAMES and any(depth < len(group) for group in groups):
        chosen += [group[depth] for group in groups if depth < len(group)]
        depth += 1
    return set(chosen[:MAX_EMBEDDED_GAMES])


# --- positions after every ply ------------------------------------------------------------------


def _square_index(square: tuple[int, int]) -> int:
    """(file, rank) -> index of Position.board (file-major, rank 1 first)."""
    file, rank = square
    return NUM_RANKS * (file - 1) + rank - 1


def position_after(position: Position, move: RecordMove) -> Position:
    """The position after `move`, as the replay described it (the piece that moved, its capture
    and promotion): its piece leaves the source square (a drop: the hand), a captured piece goes
    to the mover's hand unpromoted, and the other side is to move. The rules engine judged the
    move legal; this only places the pieces."""
    board, hands, mover = position.board.copy(), position.hands.copy(), move.color
    if move.is_drop:
        hands[mover, HAND_LETTERS.index(move.piece)] -= 1
    else:
        board[_square_index(move.source)] = EMPTY
    if move.captured is not None:
        hands[mover, HAND_LETTERS.index(move.captured.lstrip("+"))] += 1
    kind = "+" + move.piece if move.promotes else move.piece
    board[_square_index(move.to)] = PIECE_NAMES.index(kind) + (OWN_OFFSET, OPP_OFFSET)[mover]
    return Position(board, hands, 1 - mover)


@functools.cache
def _blank_state():
    return jax.device_get(empty_state())


def position_sfen(position: Position, move_number: int) -> str:
    """The SFEN of a Position, written by `sfen.to_sfen` (the one SFEN writer), which reads a
    State: that keeps the board and hands in the mover's frame, hence the flip for White."""
    black_to_move = position.color == BLACK
    state = _blank_state()._replace(
        board=position.board if black_to_move else flip_board_np(position.board),
        hand=position.hands if black_to_move else position.hands[::-1],
        color=np.int32(position.color), ply=np.int32(move_number - 1))
    return to_sfen(state)


def ply_sfens(record: GameRecord, start_sfen: str) -> list[str]:
    """The SFEN of the start and of the position after every move of a replayed game (P + 1
    for P moves), move numbers counted on from the start's."""
    first_number = parse_sfen(start_sfen)[3]
    positions = [record.start]
    for move in record.moves:
        positions.append(position_after(positions[-1], move))
    return [position_sfen(position, first_number + ply) for ply, position in enumerate(positions)]


# --- one game's data and markup -----------------------------------------------------------------


def viewer_game(record: GameRecord, start_sfen: str, kif: str, *, result: str,
                termination: Optional[str], links: Mapping[str, str] = (),
                source: str = "KIF") -> dict:
    """The data of one game (see the module's docstring) from its replay, its start and its
    KIF text (written by `notation.kif`; `source` names it in errors)."""
    try:
        written = kif_moves(kif)
    except ValueError as error:
        raise ReportError(f"{source}: {error}") from None
    if len(written.moves) != len(record.moves):
        raise ReportError(f"{source}: {len(written.moves)} moves written for "
                          f"{len(record.moves)} played")
    sfens = ply_sfens(record, start_sfen)
    plies = [{"sfen": sfens[0]}] + [{"usi": move.usi, "ja": ja, "sfen": sfen}
                                    for move, ja, sfen in zip(record.moves, written.moves,
                                                              sfens[1:])]
    return {"black": record.black, "white": record.white, "result": result,
            "termination": termination, "ending": written.ending, "summary": written.summary,
            "plies": plies, "links": dict(links)}


def result_text(game: Mapping) -> str:
    """"random (Black) wins by checkmate", "Draw by move limit", "Draw" in words."""
    words = RESULT_WORDS[game["result"]].format(black=game["black"], white=game["white"])
    if game["termination"]:
        words += " by " + game["termination"].replace("_", " ")
    return words


def _static_board(sfen: str, pieces: str) -> Markup:
    """`render.position_svg` of the start, shown before (or without) the script. Inline SVG in
    HTML needs neither the XML declaration nor the namespace (the parser supplies it); leaving
    the namespace's address out keeps the page free of any http reference. The font is the
    page's (VIEWER_CSS), not carried by every board."""
    svg = render.position_svg(sfen, size=BOARD_PIXELS, pieces=pieces, embed_font=False)
    svg = svg[svg.index("<svg"):].replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)
    return Markup(svg.strip())


def record_links(links: Mapping[str, str]) -> Markup:
    """Links to a game's record files ({"kif": href, "csa": href}), named KIF and CSA."""
    return join(part for kind, href in links.items()
                for part in (element("a", {"href": href}, kind.upper()), Markup(" ")))


CONTROLS = (("first", "|◀", "first position (Home)"), ("back", "◀", "back one move (Left)"),
            ("play", "play", "play / pause"), ("step", "▶", "forward one move (Right)"),
            ("last", "▶|", "last position (End)"))


def viewer_html(game_id: str, game: Mapping, title: str, *, open_: bool = False,
                pieces: str = "kanji") -> Markup:
    """The markup of one game's viewer: a <details> (open if open_) headed by its title and
    result, the start's board (its pieces in `lettering.LETTERINGS[pieces]`), the buttons, the move
    list (USI and Japanese) and its links. The script finds it by data-game and takes it over."""
    plies = game["plies"]
    moves = element("ol", {"class": "moves"}, join(
        element("li", {"data-ply": ply},
                element("span", {"class": "usi"}, entry["usi"]), " ",
                element("span", {"class": "ja"}, entry["ja"]))
        for ply, entry in enumerate(plies[1:], 1)))
    buttons = join(element("button", {"type": "button", "data-action": action, "title": tip},
                           label) for action, label, tip in CONTROLS)
    links = record_links(game["links"])
    ending = f"{result_text(game)} ({game['ending']}: {game['summary']})"
    body = element("div", {"class": "viewer"},
                   element("div", {"class": "board", "data-ply": 0},
                           _static_board(plies[0]["sfen"], pieces)),
                   element("div", {"class": "side"},
                           element("div", {"class": "controls"}, buttons,
                                   element("span", {"class": "ply"}, f"0 / {len(plies) - 1}")),
                           element("p", {"class": "analysis", "hidden": True}),
                           moves,
                           element("p", {"class": "result", "data-result": game["result"],
                                         "data-termination": game["termination"]}, ending),
                           element("p", {"class": "links"}, links) if links else ""))
    return element("details", {"class": "game", "id": game_id, "data-game": game_id,
                               "open": open_},
                   element("summary", {}, f"{title} — {result_text(game)}"), body)


def board_style(pieces: str = "kanji") -> dict:
    """What the script draws a board with: `shogi_jax.reports.render`'s geometry, colours and the
    words it writes (`lettering.LETTERINGS[pieces]`), so both pictures look alike and carry the
    same data-* attributes."""
    words = lettering_for(pieces)
    return {
        "size": BOARD_PIXELS, "width": render.WIDTH, "height": render.HEIGHT,
        "cell": render.CELL, "label": render.LABEL, "gap": render.GAP,
        "handWidth": render.HAND_WIDTH, "handSlots": render.HAND_SLOTS,
        "statusHeight": render.STATUS_HEIGHT, "boardLeft": render.BOARD_LEFT,
        "boardTop": render.BOARD_TOP, "boardSize": render.BOARD_SIZE,
        "blackHandLeft": render.BLACK_HAND_LEFT, "smallFontSize": render.SMALL_FONT_SIZE,
        "glyphMiddle": render.GLYPH_MIDDLE,
        "pieceOutline": render.PIECE_OUTLINE, "starPoints": render.STAR_POINTS,
        "fontFamily": render.FONT_FAMILY, "boardColor": render.BOARD_COLOR,
        "handColor": render.HAND_COLOR, "pieceColor": render.PIECE_COLOR, "ink": render.INK,
        "promotedColor": render.PROMOTED_COLOR, "highlightColor": render.HIGHLIGHT_COLOR,
        "arrowColor": render.ARROW_COLOR,
        "pieceNames": dict(words.pieces),
        "pieceFontSizes": {kind: render.piece_font_size(name)
                           for kind, name in words.pieces.items()},
        "rankLabels": words.ranks, "handNames": words.hands, "toMove": words.to_move,
        "rankLetters": RANK_LETTERS, "sideLetters": render.SIDE_LETTERS, "handOrder": HAND_ORDER,
    }


def viewer_data(games: Mapping[str, dict], pieces: str = "kanji") -> Markup:
    """The <script type="application/json"> the viewer reads: the board's style (its pieces in
    `lettering.LETTERINGS[pieces]`) and the games by id."""
    return json_script(DATA_ID, {"format": FORMAT, "board": board_style(pieces),
                                 "games": dict(games)})


def _viewer_file(name: str) -> str:
    """A file of viewer/, read from the installed package (package data, not the source tree)."""
    viewer = resources.files(__package__).joinpath("viewer")
    return viewer.joinpath(name).read_text(encoding="utf-8")


# Each starts on a line of its own inside its <style> or <script> element. The Japanese moves are
# written in the board font, as the boards are; elsewhere it follows the page's own fonts, for
# the characters those lack (the endings' kanji on a Latin-only machine).
VIEWER_CSS = ("\n" + board_font.font_face_css() + "\n"
              + f"details.game {{ font-family: system-ui, sans-serif, '{board_font.FAMILY}'; }}\n"
              + f".viewer ol.moves .ja {{ font-family: '{board_font.FAMILY}', serif; }}\n"
              + _viewer_file("viewer.css"))
# The viewer: ShogiViewer's pure functions (parseSfen, moveSquares, boardSvg) draw a position
# from its SFEN as shogi_jax.reports.render does, from the style the page embeds; start() takes
# over every viewer on the page. Plain ES2017, no library, nothing fetched. The last line starts
# it on the page's data, named here so that DATA_ID is written once.
VIEWER_JS = ("\n" + _viewer_file("viewer.js")
             + f'if (typeof document !== "undefined") ShogiViewer.start(document, '
               f"{json.dumps(DATA_ID)});\n")
