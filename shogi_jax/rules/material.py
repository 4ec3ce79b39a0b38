"""Material: the points of each piece, one table for every user (reward shaping, the greedy
player, the search's optional material value, the tactics' static exchange).

Points by piece type, P L N S B R G K +P +L +N +S +B +R: the usual values (pawn 1, rook 10,
dragon 12); pieces in hand count as their unpromoted type.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from shogi_jax.rules.board import NUM_PIECE_TYPES, OPP_OFFSET, OWN_OFFSET
from shogi_jax.rules.state import State

# (Module constants are numpy: a jnp array here would start the XLA backend at import, before
# jax.distributed.initialize can run.)
PIECE_POINTS = np.array([1, 3, 4, 5, 8, 10, 6, 0, 6, 6, 6, 6, 10, 12], np.float32)
# The same with promoted pieces at their unpromoted type's points: promoting gains nothing.
UNPROMOTED_POINTS = np.concatenate([PIECE_POINTS[:8], PIECE_POINTS[:6]])
HAND_POINTS = PIECE_POINTS[:7]  # hand columns P L N S B R G
# float32[OPP_OFFSET + 14]: by board code, the points of capturing what the square holds (0 for
# an empty square and the mover's own pieces).
CAPTURED_POINTS_BY_CODE = np.concatenate([np.zeros(OPP_OFFSET, np.float32), PIECE_POINTS])
assert PIECE_POINTS.sum() == 83 and UNPROMOTED_POINTS.sum() == 68


def material_balance(state: State, count_promotions: bool = True):
    """float32[]: the mover's material minus the opponent's, board and hands. Without
    `count_promotions` a promoted piece is worth its unpromoted type."""
    board = state.board
    types = jnp.arange(NUM_PIECE_TYPES)
    points = PIECE_POINTS if count_promotions else UNPROMOTED_POINTS
    own = jnp.sum((board[:, None] == types + OWN_OFFSET) * points)
    opponent = jnp.sum((board[:, None] == types + OPP_OFFSET) * points)
    hands = state.hand.astype(jnp.float32) @ HAND_POINTS  # [2]: mover, opponent
    return own - opponent + hands[0] - hands[1]
