"""Observation planes from the side to move's perspective: float32[9, 9, 94] ([f, r, plane]).

Planes (documented in docs/observation.md):
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
    opponent_attacks_by_direction, own_attacks_by_direction, sides_of,
)
from shogi_jax.rules.bitboards import unpack
from shogi_jax.rules.board import NUM_PIECE_TYPES, OPP_OFFSET, OWN_OFFSET
from shogi_jax.rules.lanes import lane_function
from shogi_jax.rules.state import State

HAND_THRESHOLDS = (8, 4, 4, 4, 2, 2, 4)  # P L N S B R G
NUM_OBSERVATION_PLANES = 2 * NUM_PIECE_TYPES + 2 * sum(HAND_THRESHOLDS) + 1 + 3 + 3 + 3  # 94


def _hand_planes(counts):
    """float32[28]: one value per (piece, threshold) for hand counts int32[7]."""
    return jnp.concatenate([
        (counts[piece] >= jnp.arange(1, limit + 1)).astype(jnp.float32)
        for piece, limit in enumerate(HAND_THRESHOLDS)])


def _thresholds(counts, levels=3):
    return jnp.stack([counts >= k for k in range(1, levels + 1)], axis=-1)  # [9, 9, levels]


def _attack_counts_lanes(board81):
    """int32[9, 9, L] each: how many of the mover's and of the opponent's pieces attack a square.

    Each attacker reaches a square from one direction: summing over directions counts them.
    """
    sides = sides_of(board81.reshape(9, 9, -1))
    own = own_attacks_by_direction(sides, sides.occupied)  # [10, 9, L]
    opponent = opponent_attacks_by_direction(sides, sides.occupied)
    return (jnp.sum(unpack(own), axis=0, dtype=jnp.int32),
            jnp.sum(unpack(opponent), axis=0, dtype=jnp.int32))


_attack_counts = lane_function(_attack_counts_lanes)


def observe(state: State):
    """float32[9, 9, 94] planes for the mover (see the module docstring)."""
    board = state.board.reshape(9, 9)
    types = jnp.arange(NUM_PIECE_TYPES)
    own = board[..., None] == types + OWN_OFFSET
    opponent = board[..., None] == types + OPP_OFFSET
    own_attacks, opponent_attacks = _attack_counts(state.board)
    scalars = jnp.concatenate([
        _hand_planes(state.hand[0]), _hand_planes(state.hand[1]),
        state.in_check[None].astype(jnp.float32),
        (state.repetitions >= jnp.arange(1, 4)).astype(jnp.float32),
    ])
    return jnp.concatenate([
        own.astype(jnp.float32), opponent.astype(jnp.float32),
        jnp.broadcast_to(scalars, (9, 9, scalars.shape[0])),
        _thresholds(own_attacks).astype(jnp.float32),
        _thresholds(opponent_attacks).astype(jnp.float32),
    ], axis=-1)
