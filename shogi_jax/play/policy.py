"""Policy functions over the 2187 actions, shared by the players, the search, training and the
reports: log-probabilities masked to the legal actions, their entropy, and masked sampling.

A = `NUM_ACTIONS` (2187) actions; any leading batch shape.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def masked_log_softmax(logits, legal_action_mask):
    """float32[..., A] log-probabilities over the legal actions; illegal entries are exactly
    `finfo(float32).min` (finite, so no inf - inf = NaN downstream and no NaN gradients).

    logits: float[..., A] of any float dtype (computed in float32); legal_action_mask: bool[..., A].
    """
    lowest = jnp.finfo(jnp.float32).min
    masked = jnp.where(legal_action_mask, jnp.asarray(logits, jnp.float32), lowest)
    # Re-masking pins illegal entries to `lowest` even when legal logits are huge.
    return jnp.where(legal_action_mask, jax.nn.log_softmax(masked, axis=-1), lowest)


def entropy(log_probs, legal_action_mask):
    """float32[...]: -sum p log p over the legal actions of float32[..., A] log-probabilities."""
    terms = jnp.where(legal_action_mask, jnp.exp(log_probs) * log_probs, 0.0)
    return -jnp.sum(terms, axis=-1)


def sample_actions(key, logits, legal_action_mask):
    """Masked categorical sampling: never an illegal action while a row has a legal one.

    logits: float[..., A]; legal_action_mask: bool[..., A].
    Returns (action int32[...], log_prob float32[...]) with log_prob = log pi(action).
    """
    log_probs = masked_log_softmax(logits, legal_action_mask)
    action = jax.random.categorical(key, log_probs, axis=-1).astype(jnp.int32)
    log_prob = jnp.take_along_axis(log_probs, action[..., None], axis=-1)[..., 0]
    return action, log_prob
