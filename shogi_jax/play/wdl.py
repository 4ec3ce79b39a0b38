"""The win/draw/loss value head's arithmetic (`model.value_head: wdl`), shared by the network,
PPO and Gumbel AlphaZero.

The head gives three logits per position, for the side to move: it wins, the game is drawn, it
loses (WDL order, as in Leela Chess Zero). The scalar value every other part reads (GAE, the
search, the players) is P(win) - P(loss), in [-1, 1] like the tanh head's. Trained with
cross-entropy, the head learns how often a position is drawn, which a scalar 0 cannot tell apart
from an even fight: the rules report draws (fourfold repetition, the move limit in evaluation,
a drawn impasse), and the targets keep them as their own class.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

WIN, DRAW, LOSS = 0, 1, 2
NUM_OUTCOMES = 3


def value_of(wdl_logits):
    """float32[...]: P(win) - P(loss) from float[..., 3] logits."""
    probabilities = jax.nn.softmax(jnp.asarray(wdl_logits, jnp.float32), axis=-1)
    return probabilities[..., WIN] - probabilities[..., LOSS]


def outcome_distribution(outcome):
    """float32[..., 3]: the one-hot W/D/L of a result for the side it is counted for
    (float[...]: +1 won, 0 drawn, -1 lost)."""
    outcome = jnp.asarray(outcome, jnp.float32)
    return jnp.stack([outcome > 0, outcome == 0, outcome < 0], axis=-1).astype(jnp.float32)


def for_the_opponent(distribution):
    """float[..., 3]: the same outcomes seen from the other side (win and loss swapped)."""
    return distribution[..., ::-1]


def cross_entropy(wdl_logits, target):
    """float32[...]: -sum target x log softmax(logits) over the three outcomes."""
    log_probabilities = jax.nn.log_softmax(jnp.asarray(wdl_logits, jnp.float32), axis=-1)
    return -jnp.sum(jax.lax.stop_gradient(target) * log_probabilities, axis=-1)
