"""The game state of one Shogi game (vmap it for a batch) and the start position."""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from shogi_jax.rules.board import (
    BISHOP,
    EMPTY,
    GOLD,
    KING,
    KNIGHT,
    LANCE,
    NUM_ACTIONS,
    NUM_FILES,
    NUM_HAND_TYPES,
    NUM_RANKS,
    NUM_SQUARES,
    OWN_OFFSET,
    PAWN,
    ROOK,
    SILVER,
    flip_board_np,
)

# Positions remembered for repetition: the last HISTORY_LENGTH plies (a ring buffer).
HISTORY_LENGTH = 512
DEFAULT_MAX_PLIES = 512
COLOR_NAMES = ("Black", "White")  # State.color 0 (sente) and 1 (gote)

# Why a game ended (State.termination).
NOT_TERMINATED = 0
CHECKMATE = 1  # the mover is in check with no legal move: the mover loses
NO_LEGAL_MOVES = 2  # not in check, no legal move: the mover loses
REPETITION_DRAW = 3  # the same position for the fourth time: a draw
PERPETUAL_CHECK = 4  # fourfold repetition with one side checking throughout: that side loses
IMPASSE_DECLARATION = 5  # the mover meets the 27-point rule at the start of its turn and wins
MOVE_LIMIT = 6  # max_plies reached: a draw, `truncated` set
ILLEGAL_ACTION = 7  # the mover played an illegal action and loses
TERMINATION_NAMES = ("none", "checkmate", "no_legal_moves", "repetition_draw", "perpetual_check",
                     "impasse_declaration", "move_limit", "illegal_action")


class State(NamedTuple):
    """One game. Boards are in the mover's frame (see `shogi_jax.rules.board`)."""

    board: jnp.ndarray  # int32[81] piece codes, mover's frame
    hand: jnp.ndarray  # int32[2, 7] pieces in hand; row 0 the mover; columns P L N S B R G
    color: jnp.ndarray  # int32[] side to move: 0 Black (sente), 1 White (gote)
    ply: jnp.ndarray  # int32[] plies played since the start (or since the SFEN position)
    legal_action_mask: jnp.ndarray  # bool[2187]; all True once the game is over (softmax-safe)
    in_check: jnp.ndarray  # bool[] the mover is in check
    terminated: jnp.ndarray  # bool[] the game ended by the rules
    truncated: jnp.ndarray  # bool[] the game ended at the move limit (a draw)
    rewards: jnp.ndarray  # float32[2] by color, non-zero only on the step that ends the game
    termination: jnp.ndarray  # int32[] reason code, NOT_TERMINATED while playing
    repetitions: jnp.ndarray  # int32[] earlier occurrences of this position (0..3)
    hash_history: jnp.ndarray  # uint32[HISTORY_LENGTH, 2] position hashes by ply % HISTORY_LENGTH
    check_history: jnp.ndarray  # bool[HISTORY_LENGTH] whether that position had the mover in check

    def __repr__(self) -> str:
        """A text board where the notation layer has set one (`print(state)`), else the fields."""
        if _text_view is not None:
            return _text_view(self)
        fields = ", ".join(f"{name}={value!r}" for name, value in self._asdict().items())
        return f"State({fields})"


# How `print(state)` shows a position: the notation layer, which knows SFEN and board diagrams,
# sets it when imported (`shogi_jax.notation.sfen`), so the rules need not import it.
_text_view: Callable[[State], str] | None = None


def set_text_view(view: Callable[[State], str]) -> None:
    global _text_view
    _text_view = view


def empty_state() -> State:
    """A State with every field at its shape and dtype, before the position is set."""
    return State(
        board=jnp.zeros(NUM_SQUARES, jnp.int32),
        hand=jnp.zeros((2, NUM_HAND_TYPES), jnp.int32),
        color=jnp.int32(0),
        ply=jnp.int32(0),
        legal_action_mask=jnp.zeros(NUM_ACTIONS, jnp.bool_),
        in_check=jnp.bool_(False),
        terminated=jnp.bool_(False),
        truncated=jnp.bool_(False),
        rewards=jnp.zeros(2, jnp.float32),
        termination=jnp.int32(NOT_TERMINATED),
        repetitions=jnp.int32(0),
        hash_history=jnp.zeros((HISTORY_LENGTH, 2), jnp.uint32),
        check_history=jnp.zeros(HISTORY_LENGTH, jnp.bool_),
    )


def select_games(where, if_true, if_false):
    """Per game, the whole game (every field) from `if_true` where `where` (bool[*batch]) holds,
    else from `if_false`. Leaves have the batch axes first; `if_true` may also be one unbatched
    game (a start position), broadcast to every game. Every reset and freeze of finished games
    goes through here."""
    def select(new, old):
        return jnp.where(where.reshape(where.shape + (1,) * (old.ndim - where.ndim)), new, old)

    return jax.tree_util.tree_map(select, if_true, if_false)


STARTPOS_SFEN = "lnsgkgsnl/1r5b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL b - 1"


def _start_board() -> np.ndarray:
    """int32[81]: the board of STARTPOS_SFEN (a test checks they agree), Black to move. Each side's
    half is the other's seen from the other side, so one half is written and flipped."""
    half = np.full((NUM_FILES, NUM_RANKS), EMPTY, np.int32)  # [f, r]; r = 8 is Black's back rank
    back_rank = np.array([LANCE, KNIGHT, SILVER, GOLD, KING, GOLD, SILVER, KNIGHT, LANCE])
    half[:, 8] = back_rank + OWN_OFFSET
    half[7, 7], half[1, 7] = BISHOP + OWN_OFFSET, ROOK + OWN_OFFSET  # bishop 8h, rook 2h
    half[:, 6] = PAWN + OWN_OFFSET
    return half.reshape(NUM_SQUARES) + flip_board_np(half.reshape(NUM_SQUARES))


START_BOARD = _start_board()
