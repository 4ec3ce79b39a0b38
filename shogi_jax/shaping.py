"""Optional reward shaping: a small material term that anneals to zero (config `reward_shaping`).

The game result stays the objective: the term is off by default, and when on it falls linearly to
zero by `anneal_env_steps`, so late training optimises the true result alone. By default a promoted
piece counts as its unpromoted type, so only captures change material: when promotions scored,
self-play learned to march pawns into the promotion zone and win by impasse declaration, which
does not carry over to real opponents (docs/benchmarks.md, "Toward the learning bar").
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from shogi_jax.rules.board import NUM_PIECE_TYPES, OPP_OFFSET, OWN_OFFSET
from shogi_jax.rules.state import State

# (Module constants are numpy: a jnp array here would start the XLA backend at import, before
# jax.distributed.initialize can run.)
# Points by piece type (P L N S B R G K +P +L +N +S +B +R); pieces in hand count like unpromoted.
PIECE_POINTS = np.array([1, 3, 4, 5, 8, 10, 6, 0, 6, 6, 6, 6, 10, 12], np.float32)
# The same with promoted pieces at their unpromoted value: promoting gains nothing.
CAPTURE_POINTS = np.concatenate([PIECE_POINTS[:8], PIECE_POINTS[:6]])
HAND_POINTS = PIECE_POINTS[:7]  # hand columns P L N S B R G


def material_balance(state: State, count_promotions: bool = True):
    """float32[]: the mover's material minus the opponent's, board and hands. Without
    `count_promotions` a promoted piece is worth its unpromoted type."""
    board = state.board
    types = jnp.arange(NUM_PIECE_TYPES)
    points = PIECE_POINTS if count_promotions else CAPTURE_POINTS
    own = jnp.sum((board[:, None] == types + OWN_OFFSET) * points)
    opponent = jnp.sum((board[:, None] == types + OPP_OFFSET) * points)
    hands = state.hand.astype(jnp.float32) @ HAND_POINTS  # [2]: mover, opponent
    return own - opponent + hands[0] - hands[1]


def material_weight(base_weight: float, anneal_env_steps: int, env_steps):
    """float32[]: the shaping weight after `env_steps`: constant when anneal_env_steps is 0,
    otherwise falling linearly from base_weight to 0 at anneal_env_steps."""
    if anneal_env_steps == 0:
        return jnp.float32(base_weight)
    remaining = 1.0 - env_steps.astype(jnp.float32) / anneal_env_steps
    return jnp.float32(base_weight) * jnp.clip(remaining, 0.0, 1.0)


def material_reward(before: State, after: State, weight, count_promotions: bool = True):
    """float32[]: weight x the material the mover gained with its move. `after` is seen from the
    next mover, so its balance enters with a minus sign."""
    return weight * (-material_balance(after, count_promotions)
                     - material_balance(before, count_promotions))
