"""Squares, piece codes, directions and the mover's frame.

Everything in `shogi_jax.rules` works in the frame of the side to move ("the mover"): the board is
rotated 180 degrees when White moves, so every rule is written once, for a mover playing "up".

Squares: `sq = 9 * f + r` with `f = file - 1` and `r = rank - 1`, rank 1 being the far side (pgx's
layout). As a plane, `board.reshape(9, 9)[f, r]`. For White the USI square is `80 - sq`.

Board codes (int32): 0 empty, 1..14 the mover's pieces (piece type + 1), 15..28 the opponent's
(piece type + 15). Piece types follow pgx: P L N S B R G K +P +L +N +S +B(horse) +R(dragon).
Hands: int32[2, 7], row 0 the mover, columns P L N S B R G.
"""
from __future__ import annotations

import numpy as np

NUM_FILES = 9
NUM_RANKS = 9
NUM_SQUARES = 81
NUM_PIECE_TYPES = 14
NUM_HAND_TYPES = 7

PAWN, LANCE, KNIGHT, SILVER, BISHOP, ROOK, GOLD, KING = range(8)
PRO_PAWN, PRO_LANCE, PRO_KNIGHT, PRO_SILVER, HORSE, DRAGON = range(8, 14)
PIECE_NAMES = ("P", "L", "N", "S", "B", "R", "G", "K", "+P", "+L", "+N", "+S", "+B", "+R")
HAND_LETTERS = "".join(PIECE_NAMES[:NUM_HAND_TYPES])  # "PLNSBRG": hand columns are types 0..6

EMPTY = 0
OWN_OFFSET = 1  # code of the mover's piece of type t: t + OWN_OFFSET
OPP_OFFSET = 15  # code of the opponent's piece of type t: t + OPP_OFFSET
NUM_CODES = 29

# The promotion zone is the far three ranks, r in {0, 1, 2}, in the mover's frame.
ZONE_RANKS = 3

# Move directions (df, dr) in the mover's frame; pgx's order. "Up" is toward rank 1, "Left" toward
# higher file numbers. 8 and 9 are the knight's jumps.
DIRECTIONS = (
    (0, -1),  # 0 Up
    (1, -1),  # 1 UpLeft
    (-1, -1),  # 2 UpRight
    (1, 0),  # 3 Left
    (-1, 0),  # 4 Right
    (0, 1),  # 5 Down
    (1, 1),  # 6 DownLeft
    (-1, 1),  # 7 DownRight
    (1, -2),  # 8 Up2Left (knight)
    (-1, -2),  # 9 Up2Right (knight)
)
NUM_DIRECTIONS = 10
NUM_LINE_DIRECTIONS = 8  # directions 0..7 are lines a slider can run along

# Pin lines: a pinned piece may move only along the line through its king.
LINE_VERTICAL, LINE_HORIZONTAL, LINE_DIAG_UPLEFT, LINE_DIAG_UPRIGHT, LINE_NONE = range(5)
DIRECTION_LINE = (
    LINE_VERTICAL, LINE_DIAG_UPLEFT, LINE_DIAG_UPRIGHT, LINE_HORIZONTAL, LINE_HORIZONTAL,
    LINE_VERTICAL, LINE_DIAG_UPRIGHT, LINE_DIAG_UPLEFT, LINE_NONE, LINE_NONE,
)

_GOLD_STEPS = (0, 1, 2, 3, 4, 5)
# Directions in which each piece type moves exactly one square (or jumps, for the knight).
STEP_DIRECTIONS = {
    PAWN: (0,), LANCE: (), KNIGHT: (8, 9), SILVER: (0, 1, 2, 6, 7), BISHOP: (), ROOK: (),
    GOLD: _GOLD_STEPS, KING: tuple(range(8)), PRO_PAWN: _GOLD_STEPS, PRO_LANCE: _GOLD_STEPS,
    PRO_KNIGHT: _GOLD_STEPS, PRO_SILVER: _GOLD_STEPS, HORSE: (0, 3, 4, 5), DRAGON: (1, 2, 6, 7),
}
# Directions in which each piece type slides any distance. Disjoint from its step directions.
SLIDE_DIRECTIONS = {
    t: () for t in range(NUM_PIECE_TYPES)
} | {LANCE: (0,), BISHOP: (1, 2, 6, 7), ROOK: (0, 3, 4, 5), HORSE: (1, 2, 6, 7),
     DRAGON: (0, 3, 4, 5)}

PROMOTES_TO = {PAWN: PRO_PAWN, LANCE: PRO_LANCE, KNIGHT: PRO_KNIGHT, SILVER: PRO_SILVER,
               BISHOP: HORSE, ROOK: DRAGON}
# A captured piece goes to hand as its unpromoted type; hand column = that type (P L N S B R G).
HAND_TYPE = (PAWN, LANCE, KNIGHT, SILVER, BISHOP, ROOK, GOLD, -1,
             PAWN, LANCE, KNIGHT, SILVER, BISHOP, ROOK)
MAX_HAND = (18, 4, 4, 4, 2, 2, 4)
# How many far ranks a piece could never move from: it must promote on arriving there, and is
# never dropped (nor set up) there.
DEAD_RANKS = {PAWN: 1, LANCE: 1, KNIGHT: 2}

# Action encoding (pgx / dlshogi 27 x 81): action = plane * 81 + to.
NUM_MOVE_DIRECTIONS = NUM_DIRECTIONS
PROMOTION_PLANE_OFFSET = 10  # planes 10..19: the same direction, promoting
DROP_PLANE_OFFSET = 20  # planes 20..26: drop of hand type P L N S B R G
NUM_ACTION_PLANES = 27
NUM_ACTIONS = NUM_ACTION_PLANES * NUM_SQUARES  # 2187


def flip_square(sq):
    """The same square seen from the other side (a 180-degree rotation)."""
    return NUM_SQUARES - 1 - sq


def flip_board_np(board: np.ndarray) -> np.ndarray:
    """int[81] board of one side's frame -> the other side's frame (rotate, swap owners)."""
    rotated = board[::-1]
    return np.where(rotated == EMPTY, EMPTY,
                    np.where(rotated < OPP_OFFSET, rotated + (OPP_OFFSET - OWN_OFFSET),
                             rotated - (OPP_OFFSET - OWN_OFFSET))).astype(board.dtype)
