"""Observation planes from the side to move's perspective: bool[9, 9, 94] ([f, r, plane]).

Every plane is a yes/no feature (counts are given as thresholds), so the planes are booleans, as
in pgx; a network casts them to its compute dtype. Planes (documented in docs/observation.md):
  0-13   mover's pieces by type (P L N S B R G K +P +L +N +S +B +R)
  14-27  opponent's pieces by type
  28-55  mover's hand as thresholds: P >= 1..8, L/N/S >= 1..4, B/R >= 1..2, G >= 1..4
  56-83  opponent's hand, the same
  84     mover in check
  85-87  position seen before >= 1, 2, 3 times (fourfold repetition is near)
  88-90  squares the mover attacks with >= 1, 2, 3 pieces
  91-93  squares the opponent attacks with >= 1, 2, 3 pieces
"""
from __future__ import annotations

import jax.numpy as jnp

from shogi_jax.rules.attacks import (
    opponent_attacks_by_direction,
    own_attacks_by_direction,
    sides_of,
)
from shogi_jax.rules.bitboards import unpack
from shogi_jax.rules.board import NUM_PIECE_TYPES, OPP_OFFSET, OWN_OFFSET
from shogi_jax.rules.lanes import lane_function
from shogi_jax.rules.state import State

HAND_THRESHOLDS = (8, 4, 4, 4, 2, 2, 4)  # P L N S B R G
NUM_OBSERVATION_PLANES = 2 * NUM_PIECE_TYPES + 2 * sum(HAND_THRESHOLDS) + 1 + 3 + 3 + 3  # 94


def _hand_planes(counts):
    """bool[28]: one value per (piece, threshold) for hand counts int32[7]."""
    return jnp.concatenate([counts[piece] >= jnp.arange(1, limit + 1)
                            for piece, limit in enumerate(HAND_THRESHOLDS)])


def _at_least(sets):
    """uint32[3, 9, L]: squares in at least 1, 2 and 3 of `sets` (uint32[n, 9, L]), counted
    bitwise (no unpacking)."""
    one = two = three = jnp.zeros_like(sets[0])
    for members in sets:
        three = three | (two & members)
        two = two | (one & members)
        one = one | members
    return jnp.stack([one, two, three])


def _attack_sets_lanes(board81):
    """uint32[6, 9, L]: squares the mover, then the opponent, attacks with >= 1, 2, 3 pieces.

    A square is reached by at most one piece per direction, so counting the directional attack
    sets that hold a square counts its attackers.
    """
    sides = sides_of(board81.reshape(9, 9, -1))
    return jnp.concatenate([_at_least(own_attacks_by_direction(sides, sides.occupied)),
                            _at_least(opponent_attacks_by_direction(sides, sides.occupied))])


_attack_sets = lane_function(_attack_sets_lanes)  # one game: int32[81] -> uint32[6, 9]


def observe(state: State):
    """bool[9, 9, 94] planes for the mover (see the module docstring)."""
    board = state.board.reshape(9, 9)
    types = jnp.arange(NUM_PIECE_TYPES)
    own = board[..., None] == types + OWN_OFFSET
    opponent = board[..., None] == types + OPP_OFFSET
    scalars = jnp.concatenate([
        _hand_planes(state.hand[0]), _hand_planes(state.hand[1]), state.in_check[None],
        state.repetitions >= jnp.arange(1, 4),
    ])
    return jnp.concatenate([
        own, opponent, jnp.broadcast_to(scalars, (9, 9, scalars.shape[0])),
        # Bitboards move between layouts, not planes: 54 words a game instead of 486 booleans.
        jnp.moveaxis(unpack(_attack_sets(state.board)[..., None])[..., 0], 0, -1),
    ], axis=-1)
