"""Optional reward shaping: potential-based, on material (config `reward_shaping`).

The potential of a position is Phi(s) = w x the mover's material balance, and the term added to
a ply's reward is Ng, Harada and Russell's (1999) F = gamma x Phi'(s') - Phi(s), written for
alternating movers (s' is seen from the opponent, so Phi' = -Phi(s')) and with Phi = 0 on a
position that ended the game. Added along a finished game the terms telescope: with lambda = 1
their GAE is -Phi(s_t), which depends on the position alone, so they change no move's worth and
cannot change which policy is best. The value head never sees them: its targets are the
unshaped returns, in the tanh head's [-1, 1]; only the policy's advantages carry the shaping
(`updates.ppo_targets`): a capture is credited when it is made, not when the game ends.

The weight falls linearly to zero by `anneal_env_steps` or by a share of the run's budget
(`budget.shaping_weight`). By default a promoted piece counts as
its unpromoted type, so only captures change material: when promotions scored, self-play learned
to win by impasse declaration, which does not carry over to real opponents (docs/findings.md).
"""
from __future__ import annotations

import jax.numpy as jnp

from shogi_jax.rules.material import material_balance
from shogi_jax.rules.state import State


def potential_difference(before: State, after: State, weight, gamma: float,
                         count_promotions: bool = True):
    """float32[]: F = gamma x (-Phi(after)) - Phi(before) for the mover of `before`, with
    Phi = weight x material_balance and Phi = 0 once `after` ended the game (terminated; a game
    cut at the move limit is not over in the value's world, so its last position keeps Phi).
    `after` is seen from the next mover, hence the minus sign. At gamma = 1, a ply that changes
    no material scores 0 and a capture scores weight x the material it gained."""
    phi_after = jnp.where(after.terminated, 0.0,
                          weight * material_balance(after, count_promotions))
    return -gamma * phi_after - weight * material_balance(before, count_promotions)
