"""Impasse (nyugyoku) declaration by the CSA 27-point rule, judged for the mover."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from shogi_jax.rules.board import (
    BISHOP,
    DRAGON,
    EMPTY,
    HORSE,
    KING,
    OPP_OFFSET,
    OWN_OFFSET,
    ROOK,
    ZONE_RANKS,
)

MIN_PIECES_IN_ZONE = 10
POINTS_NEEDED = (28, 27)  # Black, White
_HAND_POINTS = np.array([1, 1, 1, 1, 5, 5, 1], np.int32)  # P L N S B R G


def can_declare(board81, hand, color, in_check):
    """bool[]: the mover may declare a win: king in the far three ranks, not in check, at least 10
    other own pieces there, and points (rook/bishop 5, others 1; zone pieces plus hand) of at
    least 28 for Black, 27 for White."""
    board = board81.reshape(9, 9)
    in_zone = jnp.arange(9)[None, :] < ZONE_RANKS
    own = (board != EMPTY) & (board < OPP_OFFSET)
    king_in_zone = jnp.any(in_zone & (board == KING + OWN_OFFSET))
    others = own & in_zone & (board != KING + OWN_OFFSET)
    big = ((board == BISHOP + OWN_OFFSET) | (board == ROOK + OWN_OFFSET)
           | (board == HORSE + OWN_OFFSET) | (board == DRAGON + OWN_OFFSET))
    points = jnp.sum(jnp.where(others, jnp.where(big, 5, 1), 0)) + jnp.sum(hand[0] * _HAND_POINTS)
    needed = jnp.where(color == 0, POINTS_NEEDED[0], POINTS_NEEDED[1])
    return (king_in_zone & ~in_check & (jnp.sum(others) >= MIN_PIECES_IN_ZONE)
            & (points >= needed))
