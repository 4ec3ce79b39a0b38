"""The pure functions of Gumbel AlphaZero (Danihelka et al., 2022) for self-play by one network.

A Gumbel MuZero search (`shogi_jax.play.search`) chooses every self-play move. The network
then learns
  - its policy from the search's improved policy (softmax of the prior logits plus the completed
    Q-values, mctx's `action_weights`): cross-entropy over the legal actions;
  - its value from the game's outcome for the side to move: squared error.
A rollout of T plies holds the outcome only of the games that end within it. With
`value_target: outcome` a ply whose game goes on past the rollout has no value target (`known`
False), as in pgx's AlphaZero example: at 32 plies a rollout, only 5-7% of the plies got one and
the value learned nothing (docs/findings.md). With `value_target: bootstrap` (the default) every
ply gets one: the outcome where the game ends within the rollout, otherwise the search's root
values ahead in the same game, mixed TD(lambda)-style (`bootstrapped_targets`).

Shapes: T rollout steps, B games, N = T * B flattened samples, A = `NUM_ACTIONS` (2187) actions.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import chex
import jax
import jax.numpy as jnp

from shogi_jax.play import wdl
from shogi_jax.play.policy import entropy, masked_log_softmax


class SearchTransition(NamedTuple):
    """One self-play ply for B games; every field is [T, B, ...] in a stacked rollout."""

    observation: jax.Array        # bool[T, B, 9, 9, C]
    legal_action_mask: jax.Array  # bool[T, B, A]
    policy_target: jax.Array      # float32[T, B, A] the search's improved policy (0 on illegal)
    action: jax.Array             # int32[T, B] the move played
    root_value: jax.Array         # float32[T, B] the search's value of s_t for its mover
    reward: jax.Array             # float32[T, B] the result for the side that moved at t
    done: jax.Array               # bool[T, B] the game ended on this ply (rules or move limit)
    # bool[T, B]: a tactic chose this move and its one-hot policy target (expert iteration);
    # None without expert.
    expert: Optional[jax.Array] = None
    # bool[T, B]: the policy target is one to learn (a full search's, or an expert's), not a
    # cheap search's (playout caps); None without playout caps: every ply's is.
    policy_known: Optional[jax.Array] = None


class AZBatch(NamedTuple):
    """A minibatch of N flattened samples: the targets `az_loss` fits."""

    policy_target: jax.Array      # float32[N, A]
    value_target: jax.Array       # float32[N]
    value_known: jax.Array        # bool[N]
    legal_action_mask: jax.Array  # bool[N, A]
    policy_known: Optional[jax.Array] = None  # bool[N]: the policy target counts; None: all do


def outcome_targets(reward, done):
    """The outcome of each ply's game for the side to move at that ply.

    reward: float[T, B], the result for the side that moved at t (non-zero only on a ply that
    ends a game); done: bool[T, B]. Returns (target float32[T, B], known bool[T, B]):

        target_t = reward_t                 if done_t
                 = -target_{t+1}            otherwise (the next mover is the opponent)
        known_t  = done_t or known_{t+1},   known_T = False

    A game cut by the move limit is a draw by the rules: its plies get target 0, known.
    """
    chex.assert_rank(reward, 2)
    chex.assert_equal_shape([reward, done])
    reward = jnp.asarray(reward, jnp.float32)

    def backward(carry, step):
        next_target, next_known = carry
        reward_t, done_t = step
        target = jnp.where(done_t, reward_t, -next_target)
        known = done_t | next_known
        return (target, known), (target, known)

    no_outcome = (jnp.zeros_like(reward[0]), jnp.zeros_like(done[0]))
    _, (targets, known) = jax.lax.scan(backward, no_outcome, (reward, done), reverse=True)
    return targets, known


def bootstrapped_targets(reward, done, root_value, *, td_lambda):
    """A value target for every ply: the outcome where the game ends within the rollout,
    otherwise the search's root values of the later plies of the same game, TD(lambda)-mixed.

    reward, root_value: float[T, B] (root_value_t: the search's value of s_t for its mover);
    done: bool[T, B]. Returns float32[T, B]:

        target_t = reward_t                                                 if done_t
                 = -((1 - lambda) x root_value_{t+1} + lambda x target_{t+1})    otherwise
        target_{T-1} = root_value_{T-1}   (not done: the rollout's last ply has nothing ahead)

    At lambda = 1 a ply's target is the outcome, or the root value of its game's last ply in
    the rollout (signed for this ply's mover); at lambda = 0 the next ply's root value. The
    search backs terminal rewards up undiscounted, and so does this target. A game cut by the
    move limit is a draw by the rules (target 0 on its last ply).
    """
    chex.assert_rank(reward, 2)
    chex.assert_equal_shape([reward, done, root_value])
    reward, root_value = (jnp.asarray(x, jnp.float32) for x in (reward, root_value))

    def backward(carry, step):
        next_target, next_root_value = carry
        reward_t, done_t, root_value_t = step
        ahead = (1.0 - td_lambda) * next_root_value + td_lambda * next_target
        target = jnp.where(done_t, reward_t, -ahead)
        return (target, root_value_t), target

    # Seen from ply T-1: "-ahead" is then its own root value.
    last = -root_value[-1]
    _, targets = jax.lax.scan(backward, (last, last), (reward, done, root_value), reverse=True)
    return targets


def az_loss(logits, values, batch: AZBatch, *, value_coef, wdl_logits=None, surprise_weight=0.0):
    """The Gumbel AlphaZero loss on a minibatch.

    logits: float[N, A] (any float dtype; computed in float32); values: float[N]; batch: AZBatch
    of N samples. Returns (loss float32[], metrics: dict of float32[]):
    "loss/policy" (cross-entropy to the improved policy), "loss/value" (0.5 * mean squared error
    over the samples with a known outcome), "loss/total", "az/policy_kl" (KL(target || policy)),
    "az/target_entropy", "az/value_known" (share of samples with an outcome), "az/policy_known"
    (share of samples whose policy target counts: all but playout caps' cheap searches; the
    policy loss and its metrics are means over those). With wdl_logits
    (float[N, 3], a wdl value head) the value loss is the cross-entropy to the outcome's
    win/draw/loss class over the samples with a known outcome.

    Policy-surprise weighting (KataGo's, with the current policy in place of the self-play
    prior): with surprise_weight s > 0, sample i's cross-entropy weighs
        (1 - s) + s * KL_i / mean(KL)      (KL_i = KL(target_i || policy_i), not differentiated)
    so the weights average 1 over the samples that teach the policy, and the positions where
    the search most disagrees with the policy teach it more; metric "az/surprise_max_weight".

        loss = policy_loss + value_coef * value_loss
    """
    chex.assert_rank([logits, values], [2, 1])
    chex.assert_equal_shape([logits, batch.legal_action_mask, batch.policy_target])
    chex.assert_equal_shape([values, batch.value_target, batch.value_known])
    target = jax.lax.stop_gradient(jnp.asarray(batch.policy_target, jnp.float32))
    log_probs = masked_log_softmax(logits, batch.legal_action_mask)
    # The target is 0 on illegal actions, where log_probs is the float32 floor: leave them out.
    cross_entropy = -jnp.sum(jnp.where(batch.legal_action_mask, target * log_probs, 0.0), axis=-1)
    target_entropy = entropy(jnp.log(jnp.maximum(target, 1e-30)), batch.legal_action_mask & (
        target > 0))
    if batch.policy_known is None:
        policy_known = jnp.ones_like(cross_entropy)
    else:  # playout caps: only full searches (and expert moves) teach the policy
        policy_known = jnp.asarray(batch.policy_known, jnp.float32)
    policy_count = jnp.maximum(jnp.sum(policy_known), 1.0)
    policy_kl = cross_entropy - target_entropy  # float32[N]
    weight = policy_known
    if surprise_weight:
        surprise = jax.lax.stop_gradient(jnp.maximum(policy_kl, 0.0))
        mean_surprise = jnp.sum(policy_known * surprise) / policy_count
        weight = policy_known * ((1.0 - surprise_weight)
                                 + surprise_weight * surprise / jnp.maximum(mean_surprise, 1e-8))
    policy_loss = jnp.sum(weight * cross_entropy) / policy_count

    known = jnp.asarray(batch.value_known, jnp.float32)
    if wdl_logits is None:
        per_sample = 0.5 * jnp.square(jnp.asarray(values, jnp.float32) - jax.lax.stop_gradient(
            jnp.asarray(batch.value_target, jnp.float32)))
    else:
        per_sample = wdl.cross_entropy(wdl_logits, wdl.outcome_distribution(batch.value_target))
    value_loss = jnp.sum(known * per_sample) / jnp.maximum(jnp.sum(known), 1.0)
    loss = policy_loss + value_coef * value_loss
    metrics = {
        "loss/policy": policy_loss,
        "loss/value": value_loss,
        "loss/total": loss,
        "az/policy_kl": jnp.sum(policy_known * policy_kl) / policy_count,
        "az/target_entropy": jnp.sum(policy_known * target_entropy) / policy_count,
        "az/value_known": jnp.mean(known),
        "az/policy_known": jnp.mean(policy_known),
    }
    if surprise_weight:
        metrics["az/surprise_max_weight"] = jnp.max(weight)
    return loss, metrics
