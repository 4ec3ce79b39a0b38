"""Actions <-> USI move text (e.g. 7g7f, 8h2b+, P*5e). Host side."""
from __future__ import annotations

import numpy as np

from shogi_jax.rules import tables
from shogi_jax.rules.board import (
    DIRECTIONS, DROP_PLANE_OFFSET, EMPTY, OPP_OFFSET, NUM_ACTIONS, NUM_DIRECTIONS, NUM_SQUARES,
    PROMOTION_PLANE_OFFSET, flip_square,
)

_DROP_LETTERS = "PLNSBRG"
_RANK_LETTERS = "abcdefghi"


def _square_text(mover_sq: int, color: int) -> str:
    sq = mover_sq if color == 0 else flip_square(mover_sq)
    return f"{sq // 9 + 1}{_RANK_LETTERS[sq % 9]}"


def _parse_square(text: str, usi: str, color: int) -> int:
    if len(text) != 2 or text[0] not in "123456789" or text[1] not in _RANK_LETTERS:
        raise ValueError(f"bad USI move {usi!r}: {text!r} is not a square (file 1-9, rank a-i)")
    sq = 9 * (int(text[0]) - 1) + _RANK_LETTERS.index(text[1])
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
        return f"{_DROP_LETTERS[plane - DROP_PLANE_OFFSET]}*{_square_text(to, color)}"
    promotion = "+" if plane >= PROMOTION_PLANE_OFFSET else ""
    return f"{_square_text(int(source), color)}{_square_text(to, color)}{promotion}"


def usi_to_action(state, usi: str) -> int:
    """The action of USI move `usi` for the side to move; ValueError naming the move and the
    reason when it is malformed or illegal in this position."""
    if not isinstance(usi, str):
        raise ValueError(f"USI move must be a string, got {type(usi).__name__}")
    color = int(state.color)
    text = usi.strip()
    if len(text) == 4 and text[1] == "*":
        if text[0] not in _DROP_LETTERS:
            raise ValueError(f"bad USI move {usi!r}: {text[0]!r} is not a droppable piece "
                             f"(one of {_DROP_LETTERS})")
        to = _parse_square(text[2:], usi, color)
        action = (DROP_PLANE_OFFSET + _DROP_LETTERS.index(text[0])) * NUM_SQUARES + to
    elif len(text) in (4, 5) and (len(text) == 4 or text[4] == "+"):
        source = _parse_square(text[:2], usi, color)
        to = _parse_square(text[2:4], usi, color)
        df, dr = to // 9 - source // 9, to % 9 - source % 9
        direction = _direction_of(df, dr)
        if direction is None:
            raise ValueError(f"bad USI move {usi!r}: no piece moves from {text[:2]} to {text[2:4]}")
        plane = direction + (PROMOTION_PLANE_OFFSET if len(text) == 5 else 0)
        action = plane * NUM_SQUARES + to
        board = np.asarray(state.board)
        if board[source] == EMPTY:
            raise ValueError(f"illegal USI move {usi!r}: there is no piece on {text[:2]}")
        if board[source] >= OPP_OFFSET:
            raise ValueError(f"illegal USI move {usi!r}: the piece on {text[:2]} is not yours")
        if int(from_square_np(board, action)) != source:
            raise ValueError(f"illegal USI move {usi!r}: the path from {text[:2]} is blocked")
    else:
        raise ValueError(f"bad USI move {usi!r}: expected e.g. '7g7f', '8h2b+' or 'P*5e'")
    if bool(state.terminated) or bool(state.truncated):
        raise ValueError(f"illegal USI move {usi!r}: the game is over")
    if not bool(np.asarray(state.legal_action_mask)[action]):
        raise ValueError(f"illegal USI move {usi!r} in this position")
    return action


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
