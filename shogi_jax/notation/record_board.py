"""A finished game as the KIF and CSA writers need it (host side): replayed by the rules engine
(the start read by `sfen.from_sfen`, each move by `usi.usi_to_action` and played by `step`), every
move described from the board it was played on (the piece that moved, its squares, capture,
promotion), and its result checked against its termination. Malformed or illegal input raises
ValueError naming the fault; a move in a game is named by its text and its index in the move list.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import numpy as np

from shogi_jax.notation.sfen import absolute_position, from_sfen
from shogi_jax.notation.usi import from_square_np, usi_to_action
from shogi_jax.rules.board import (
    DROP_PLANE_OFFSET, EMPTY, HAND_LETTERS, NUM_RANKS, NUM_SQUARES, OPP_OFFSET, OWN_OFFSET,
    PIECE_NAMES, PROMOTION_PLANE_OFFSET, flip_square,
)
from shogi_jax.rules.state import COLOR_NAMES, START_BOARD, TERMINATION_NAMES
from shogi_jax.rules.step import step

BLACK, WHITE = 0, 1
RESULTS = ("black_win", "white_win", "draw")
TERMINATIONS = TERMINATION_NAMES[1:]  # the rules' reasons; "none" is spelled None here

# A record replays every move it is given: no move limit, and no impasse declaration ends it
# (that one did is the termination's claim). A move after a fourfold repetition, which ends
# every game, is refused: the game is over.
_NO_MOVE_LIMIT = int(np.iinfo(np.int32).max)
_play = jax.jit(functools.partial(step, max_plies=_NO_MOVE_LIMIT, impasse=False))

Square = tuple[int, int]  # (file 1..9, rank 1..9); rank 1 is White's back rank (USI rank 'a')


class Piece(NamedTuple):
    color: int  # BLACK or WHITE
    kind: str  # its name in PIECE_NAMES: "S", "+S", "K"


class Position(NamedTuple):
    """A position in Black's frame, as `sfen.parse_sfen` gives it."""

    board: np.ndarray  # int32[81] codes: Black's pieces 1..14, White's 15..28
    hands: np.ndarray  # int32[2, 7] by color, columns P L N S B R G
    color: int  # side to move

    def piece(self, square: Square) -> Piece | None:
        code = int(self.board[NUM_RANKS * (square[0] - 1) + square[1] - 1])
        if code == EMPTY:
            return None
        color = BLACK if code < OPP_OFFSET else WHITE
        return Piece(color, PIECE_NAMES[code - (OWN_OFFSET, OPP_OFFSET)[color]])


class RecordMove(NamedTuple):
    usi: str
    color: int  # the side that played it
    piece: str  # kind before the move ("S", "+S"); for a drop, the kind dropped
    source: Square | None  # None for a drop
    to: Square
    promotes: bool
    may_promote: bool  # promotion was a legal choice here (KIF writes 不成 when it is declined)
    captured: str | None  # kind of the captured piece as it stood on the board, None if none

    @property
    def is_drop(self) -> bool:
        return self.source is None


class GameRecord(NamedTuple):
    start: Position
    moves: list[RecordMove]
    final: Position  # the position after the last move
    winner: int | None  # BLACK, WHITE or None for a draw
    termination: str | None


def _square(sq: int, color: int) -> Square:
    """(file, rank) of square `sq` of `color`'s frame."""
    sq = sq if color == BLACK else flip_square(sq)
    return sq // NUM_RANKS + 1, sq % NUM_RANKS + 1


def _describe(state, usi: str, action: int) -> RecordMove:
    """The legal `action` of the side to move in `state` (one game), read off its board."""
    color, board = int(state.color), np.asarray(state.board)
    plane, to = divmod(action, NUM_SQUARES)
    if plane >= DROP_PLANE_OFFSET:
        return RecordMove(usi, color, HAND_LETTERS[plane - DROP_PLANE_OFFSET], None,
                          _square(to, color), False, False, None)
    source, captured = from_square_np(board, action), int(board[to])
    promotes = plane >= PROMOTION_PLANE_OFFSET
    # Promotion was a choice when the rules allow the move both ways.
    may_promote = promotes or bool(np.asarray(state.legal_action_mask)[
        action + PROMOTION_PLANE_OFFSET * NUM_SQUARES])
    return RecordMove(usi, color, PIECE_NAMES[board[source] - OWN_OFFSET], _square(source, color),
                      _square(to, color), promotes, may_promote,
                      PIECE_NAMES[captured - OPP_OFFSET] if captured != EMPTY else None)


def game_record(start_sfen: str, usi_moves, *, black: str, white: str, result: str,
                termination: str | None) -> GameRecord:
    """Check a finished game's description and replay its moves; what both record writers need.

    `usi_moves` are the moves played (an illegal action that ended the game is not among them).
    The winner must fit the termination, judged at the position after the last move: checkmate,
    no_legal_moves and illegal_action lose for the side to move there, impasse_declaration wins
    for it, repetition_draw and move_limit are draws, perpetual_check loses for either side. With
    no termination a decisive result is a resignation by the side to move, and a draw is a game
    stopped without a rules result. The claims themselves (that it is mate, or a repetition) are
    the rules engine's; they are not judged again here."""
    for role, name in (("black", black), ("white", white)):
        if not isinstance(name, str) or "\n" in name or "\r" in name:
            raise ValueError(f"{role} name {name!r} must be a string on one line")
    if result not in RESULTS:
        raise ValueError(f"result {result!r} must be one of {RESULTS}")
    if termination is not None and termination not in TERMINATIONS:
        raise ValueError(f"termination {termination!r} must be None or one of {TERMINATIONS}")
    if isinstance(usi_moves, str):
        raise ValueError("usi_moves must be a list of USI strings, got one string")

    state = from_sfen(start_sfen, max_plies=_NO_MOVE_LIMIT, impasse=False)
    start = Position(*absolute_position(state))
    moves = []
    for index, usi in enumerate(usi_moves):
        try:
            action = usi_to_action(state, usi)
        except ValueError as error:
            raise ValueError(f"move at index {index}: {error}") from None
        moves.append(_describe(state, usi, action))
        state = _play(state, action)
    final = Position(*absolute_position(state))

    winner = {"black_win": BLACK, "white_win": WHITE, "draw": None}[result]
    to_move = final.color
    if termination == "perpetual_check":
        if winner is None:
            raise ValueError("result 'draw' does not fit termination 'perpetual_check': the side "
                             "that checked throughout loses")
        return GameRecord(start, moves, final, winner, termination)
    if termination in ("checkmate", "no_legal_moves", "illegal_action") or (
            termination is None and winner is not None):
        expected = 1 - to_move
    elif termination == "impasse_declaration":
        expected = to_move
    else:  # repetition_draw, move_limit, or a game stopped as a draw
        expected = None
    if winner != expected:
        wanted = "draw" if expected is None else ("black_win", "white_win")[expected]
        raise ValueError(f"result {result!r} does not fit termination {termination!r}: "
                         f"{COLOR_NAMES[to_move]} is to move after the last move, so the result "
                         f"must be {wanted!r}")
    return GameRecord(start, moves, final, winner, termination)


def is_standard_start(position: Position) -> bool:
    """Whether `position` is the standard start with Black to move (KIF 平手, CSA PI)."""
    return (position.color == BLACK and np.array_equal(position.board, START_BOARD)
            and not position.hands.any())
