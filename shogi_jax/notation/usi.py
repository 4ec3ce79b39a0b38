"""Actions <-> USI move text (e.g. 7g7f, 8h2b+, P*5e), and the squares of that text (file 1-9,
rank a-i). Host side."""
from __future__ import annotations

import jax
import numpy as np

from shogi_jax.rules import tables
from shogi_jax.rules.attacks import king_safety, sides_of
from shogi_jax.rules.board import (
    DEAD_RANKS,
    DIRECTIONS,
    DROP_PLANE_OFFSET,
    EMPTY,
    HAND_LETTERS,
    NUM_ACTIONS,
    NUM_DIRECTIONS,
    NUM_RANKS,
    NUM_SQUARES,
    OPP_OFFSET,
    OWN_OFFSET,
    PAWN,
    PIECE_NAMES,
    PROMOTES_TO,
    PROMOTION_PLANE_OFFSET,
    SLIDE_DIRECTIONS,
    STEP_DIRECTIONS,
    ZONE_RANKS,
    flip_square,
)
from shogi_jax.rules.state import COLOR_NAMES

RANK_LETTERS = "abcdefghi"  # ranks 1..9


def square_text(sq: int, color: int = 0) -> str:
    """USI text of square `sq` of `color`'s frame (0: Black's, the absolute board), e.g. "7g"."""
    sq = sq if color == 0 else flip_square(sq)
    return f"{sq // NUM_RANKS + 1}{RANK_LETTERS[sq % NUM_RANKS]}"


def _parse_square(text: str, usi: str, color: int) -> int:
    if len(text) != 2 or text[0] not in "123456789" or text[1] not in RANK_LETTERS:
        raise ValueError(f"bad USI move {usi!r}: {text!r} is not a square (file 1-9, rank a-i)")
    sq = NUM_RANKS * (int(text[0]) - 1) + RANK_LETTERS.index(text[1])
    return sq if color == 0 else flip_square(sq)


def action_to_usi(state, action: int) -> str:
    """The USI text of `action` for the side to move in `state` (one game)."""
    action = int(action)
    if not 0 <= action < NUM_ACTIONS:
        raise ValueError(f"action {action} is outside 0..{NUM_ACTIONS - 1}")
    source = NUM_SQUARES
    if action // NUM_SQUARES < DROP_PLANE_OFFSET:
        source = from_square_np(np.asarray(state.board), action)
        if source == NUM_SQUARES:
            raise ValueError(f"action {action} has no piece to move in this position")
    return move_to_usi(int(state.color), action, source)


def move_to_usi(color: int, action: int, source: int) -> str:
    """The USI text of `action` played by `color` from mover-frame square `source` (ignored for
    drops): for moves recorded on the device, where the board is no longer at hand."""
    plane, to = divmod(int(action), NUM_SQUARES)
    if plane >= DROP_PLANE_OFFSET:
        return f"{HAND_LETTERS[plane - DROP_PLANE_OFFSET]}*{square_text(to, color)}"
    promotion = "+" if plane >= PROMOTION_PLANE_OFFSET else ""
    return f"{square_text(int(source), color)}{square_text(to, color)}{promotion}"


def parse_usi(usi: str, color: int) -> tuple[int, int]:
    """(action, source) of USI move text `usi` played by `color`, read from the text alone: the
    squares' geometry gives the direction plane, the promotion plane and the drop plane, without
    a board. `source` is the square the piece leaves (mover's frame), NUM_SQUARES for a drop.
    ValueError naming the move when the text is malformed or no piece could ever move so."""
    if not isinstance(usi, str):
        raise ValueError(f"USI move must be a string, got {type(usi).__name__}")
    text = usi.strip()
    if len(text) == 4 and text[1] == "*":
        if text[0] not in HAND_LETTERS:
            raise ValueError(f"bad USI move {usi!r}: {text[0]!r} is not a droppable piece "
                             f"(one of {HAND_LETTERS})")
        to = _parse_square(text[2:], usi, color)
        return (DROP_PLANE_OFFSET + HAND_LETTERS.index(text[0])) * NUM_SQUARES + to, NUM_SQUARES
    if len(text) in (4, 5) and (len(text) == 4 or text[4] == "+"):
        source = _parse_square(text[:2], usi, color)
        to = _parse_square(text[2:4], usi, color)
        df, dr = to // NUM_RANKS - source // NUM_RANKS, to % NUM_RANKS - source % NUM_RANKS
        direction = _direction_of(df, dr)
        if direction is None:
            raise ValueError(f"bad USI move {usi!r}: no piece moves from {text[:2]} to {text[2:4]}")
        plane = direction + (PROMOTION_PLANE_OFFSET if len(text) == 5 else 0)
        return plane * NUM_SQUARES + to, source
    raise ValueError(f"bad USI move {usi!r}: expected e.g. '7g7f', '8h2b+' or 'P*5e'")


def usi_to_action(state, usi: str) -> int:
    """The action of USI move `usi` for the side to move; ValueError naming the move and the
    reason when it is malformed or illegal in this position."""
    color = int(state.color)
    action, source = parse_usi(usi, color)
    if source < NUM_SQUARES:
        where = usi.strip()[:2]
        board = np.asarray(state.board)
        if board[source] == EMPTY:
            raise ValueError(f"illegal USI move {usi!r}: there is no piece on {where}")
        if board[source] >= OPP_OFFSET:
            raise ValueError(f"illegal USI move {usi!r}: the piece on {where} is "
                             f"{COLOR_NAMES[1 - color]}'s, not yours ({COLOR_NAMES[color]} is to "
                             "move)")
        if int(from_square_np(board, action)) != source:
            raise ValueError(f"illegal USI move {usi!r}: the path from {where} is blocked")
    if bool(state.terminated) or bool(state.truncated):
        raise ValueError(f"illegal USI move {usi!r}: the game is over")
    if not bool(np.asarray(state.legal_action_mask)[action]):
        raise ValueError(f"illegal USI move {usi!r}: {_why_illegal(state, action)}")
    return action


def _why_illegal(state, action: int) -> str:
    """Why the rules refuse `action` (its mask bit is off), for a drop or for a move of the
    mover's own piece along a clear path: the first rule it breaks, read off the board (mover's
    frame); the king's safety when it breaks no other."""
    board, hand, color = np.asarray(state.board), np.asarray(state.hand), int(state.color)
    mover = COLOR_NAMES[color]
    plane, to = divmod(action, NUM_SQUARES)
    far = to % NUM_RANKS + 1  # the rank of `to` counted from the mover's far side
    if plane >= DROP_PLANE_OFFSET:
        piece = plane - DROP_PLANE_OFFSET
        kind, where = HAND_LETTERS[piece], square_text(to, color)
        if not hand[0, piece]:
            return f"{mover} has no {kind} in hand"
        if board[to] != EMPTY:
            return f"{where} is occupied"
        if far <= DEAD_RANKS.get(piece, 0):
            return f"a {kind} dropped on {where} could never move"
        own_pawn = PAWN + OWN_OFFSET
        if piece == PAWN and (board.reshape(-1, NUM_RANKS)[to // NUM_RANKS] == own_pawn).any():
            return f"{mover} already has an unpromoted pawn on file {where[0]} (nifu)"
        placed = board.copy()
        placed[to] = piece + OWN_OFFSET
        if piece != PAWN or bool(mover_in_check(placed)):
            return f"it leaves {mover}'s king in check"  # a drop that does not block a check
        return "a pawn drop may not give checkmate (uchifuzume)"
    source = from_square_np(board, action)
    piece = int(board[source]) - OWN_OFFSET
    kind, direction = PIECE_NAMES[piece], plane % NUM_DIRECTIONS
    reaches = direction in SLIDE_DIRECTIONS[piece] or (  # a step is one square, or a knight's jump
        direction in STEP_DIRECTIONS[piece] and tables.REVERSE_RAY[direction, to, 0] == source)
    if not reaches or EMPTY < board[to] < OPP_OFFSET:
        return f"the {kind} on {square_text(source, color)} cannot reach {square_text(to, color)}"
    if plane >= PROMOTION_PLANE_OFFSET:
        if piece not in PROMOTES_TO or min(far, source % NUM_RANKS + 1) > ZONE_RANKS:
            return f"the {kind} cannot promote on this move"
    elif far <= DEAD_RANKS.get(piece, 0):
        return f"the {kind} must promote on {square_text(to, color)}"
    return f"it leaves {mover}'s king in check"


@jax.jit
def mover_in_check(board81):
    """bool[]: whether the side to move is in check on one board (int32[81], its frame)."""
    return king_safety(sides_of(board81.reshape(9, 9, 1))).num_checkers[0] > 0


def from_square_np(board: np.ndarray, action: int) -> int:
    ray = tables.REVERSE_RAY[(action // NUM_SQUARES) % NUM_DIRECTIONS, action % NUM_SQUARES]
    on_ray = np.append(board, EMPTY)[ray]
    hits = np.nonzero(on_ray != EMPTY)[0]
    return int(ray[hits[0]]) if len(hits) else NUM_SQUARES


def _direction_of(df: int, dr: int):
    """The direction index of a move by (df, dr) squares, or None when no piece moves so."""
    for d, (vf, vr) in enumerate(DIRECTIONS):
        if d >= 8:
            if (df, dr) == (vf, vr):
                return d
            continue
        for k in range(1, 9):
            if (df, dr) == (k * vf, k * vr):
                return d
    return None
