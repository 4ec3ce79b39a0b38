"""The pure functions of PPO for a two-player zero-sum game played by one network on both sides.

Every transition is seen from the side that moved: `value` is V(s_t) for the mover at t, `reward`
goes to the mover at t, and `next_value` is V(s_{t+1}) for the side to move at t+1, which is the
opponent. Whatever is worth +x to one side is worth -x to the other, so values and advantages
carried from t+1 back to t change sign.

Shapes: T rollout steps, B games, N = T * B flattened samples, A = `NUM_ACTIONS` (2187) actions.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import chex
import jax
import jax.numpy as jnp
import optax

from shogi_jax.play import wdl
from shogi_jax.play.policy import entropy, masked_log_softmax


class Transition(NamedTuple):
    """One rollout step for B games; every field is [T, B, ...] in a stacked rollout."""

    observation: jax.Array        # bool[T, B, 9, 9, C]
    legal_action_mask: jax.Array  # bool[T, B, A]
    action: jax.Array             # int32[T, B]
    log_prob: jax.Array           # float32[T, B]  log pi_old(action)
    value: jax.Array              # float32[T, B]  V(s_t) for the side to move at t
    reward: jax.Array             # float32[T, B]  reward to the side that moved at t
    # float32[T, B]: the shaping term of that ply for its mover (shaping.potential_difference;
    # 0 without shaping): it enters the policy's advantages, never the value targets.
    shaping: jax.Array
    terminated: jax.Array         # bool[T, B]     s_{t+1} ended the game by the rules
    truncated: jax.Array          # bool[T, B]     s_{t+1} ended the game at the move limit (a draw)
    # float32[T, B]: V(s_{t+1}) for the side to move at t+1 (the opponent), computed on s_{t+1}
    # before any auto-reset.
    next_value: jax.Array
    # float32[T, B, 3]: the win/draw/loss probabilities of s_{t+1} for its mover, likewise
    # (a wdl value head only; None otherwise).
    next_wdl: Optional[jax.Array] = None
    # bool[T, B]: the learner made this move (False on a pool member's moves in the pool games;
    # None without a pool: every move is the learner's).
    trains: Optional[jax.Array] = None
    # bool[T, B]: a tactic chose this move (expert iteration: the policy imitates it instead of
    # taking PPO's surrogate on it; None: the policy chose every move).
    expert: Optional[jax.Array] = None


class PPOBatch(NamedTuple):
    """A minibatch of N flattened samples: the targets `ppo_loss` fits."""

    action: jax.Array             # int32[N]
    old_log_prob: jax.Array       # float32[N]
    old_value: jax.Array          # float32[N]
    advantage: jax.Array          # float32[N]
    target_return: jax.Array      # float32[N]
    legal_action_mask: jax.Array  # bool[N, A]
    target_wdl: Optional[jax.Array] = None  # float32[N, 3] (a wdl value head only)
    trains: Optional[jax.Array] = None      # bool[N]: the learner's moves (None: all are)
    expert: Optional[jax.Array] = None      # bool[N]: a tactic's moves (None: none are)


def compute_gae(reward, value, next_value, terminated, truncated, *, gamma, gae_lambda):
    """Generalised advantage estimation with the opponent's values negated.

    reward, value, next_value: float[T, B]; terminated, truncated: bool[T, B].
    Returns (advantages, returns), both float32[T, B]:

        delta_t = r_t + gamma * (1 - terminated_t) * (-next_value_t) - value_t
        A_t = delta_t + gamma * gae_lambda * (1 - terminated_t) * (1 - truncated_t) * (-A_{t+1})
        A_T = 0,  returns = A + value

    A truncated game is cut (no advantage flows back from the next game) but its last state is
    still bootstrapped through next_value, since the move limit is not part of the value's world.
    """
    chex.assert_rank(reward, 2)
    chex.assert_equal_shape([reward, value, next_value, terminated, truncated])
    reward, value, next_value = (jnp.asarray(x, jnp.float32) for x in (reward, value, next_value))
    alive = 1.0 - jnp.asarray(terminated, jnp.float32)
    same_game = alive * (1.0 - jnp.asarray(truncated, jnp.float32))
    delta = reward - gamma * alive * next_value - value

    def backward(next_advantage, step):
        delta_t, same_game_t = step
        advantage = delta_t - gamma * gae_lambda * same_game_t * next_advantage
        return advantage, advantage

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(value[0]), (delta, same_game), reverse=True)
    return advantages, advantages + value


def wdl_returns(reward, next_wdl, terminated, truncated, *, gamma, gae_lambda):
    """The lambda-returns of `compute_gae` as win/draw/loss distributions: the targets of a wdl
    value head. reward: float[T, B] (non-zero only on a ply that ends a game); next_wdl:
    float[T, B, 3], the W/D/L probabilities of s_{t+1} for its mover; terminated, truncated:
    bool[T, B]. Returns float32[T, B, 3]:

        q_t = one-hot(result of the game for the mover at t)              if terminated_t
            = (1 - gamma) x DRAW + gamma x swap(m_t)                        otherwise
        m_t = (1 - lambda) x next_wdl_t + lambda x q_{t+1}    in the same game
            = next_wdl_t                     at the move limit and after the last ply

    (swap: the next mover's win is this mover's loss). A drawn ending (fourfold repetition, a
    drawn impasse) is its own class; the discount moves the distant future towards a draw. The
    expected P(win) - P(loss) of q_t is compute_gae's return when values are P(win) - P(loss)
    and the rewards only the results.
    """
    chex.assert_rank([reward, next_wdl], [2, 3])
    chex.assert_equal_shape([reward, terminated, truncated])
    chex.assert_equal_shape_prefix([reward, next_wdl], 2)
    next_wdl = jnp.asarray(next_wdl, jnp.float32)
    outcome = wdl.outcome_distribution(reward)
    same_game = ~(jnp.asarray(terminated) | jnp.asarray(truncated))
    draw = wdl.outcome_distribution(jnp.zeros(()))

    def backward(next_target, step):
        outcome_t, next_wdl_t, terminated_t, same_game_t = step
        ahead = jnp.where(same_game_t[:, None],
                          (1.0 - gae_lambda) * next_wdl_t + gae_lambda * next_target, next_wdl_t)
        target = jnp.where(terminated_t[:, None], outcome_t,
                           (1.0 - gamma) * draw + gamma * wdl.for_the_opponent(ahead))
        return target, target

    _, targets = jax.lax.scan(backward, next_wdl[-1],
                              (outcome, next_wdl, jnp.asarray(terminated), same_game),
                              reverse=True)
    return targets


def approx_kl(log_ratio, trains=None):
    """float32[]: the low-variance estimator of KL(old || new), mean((r - 1) - log r), from
    log_ratio = new_log_prob - old_log_prob (float[N]); non-negative term by term. The mean is
    over the samples that train (`mean_over`)."""
    log_ratio = jnp.asarray(log_ratio, jnp.float32)
    return mean_over(jnp.expm1(log_ratio) - log_ratio, trains)


def mean_over(x, trains=None):
    """float32[]: the mean of x[N] over the samples that train (bool[N]; None: all of them)."""
    if trains is None:
        return jnp.mean(x)
    weight = jnp.asarray(trains, jnp.float32)
    return jnp.sum(weight * x) / jnp.maximum(jnp.sum(weight), 1.0)


def standardize(advantage, trains=None):
    """float32[N]: mean 0, standard deviation 1 over the minibatch's training samples (1e-8
    guards a constant one)."""
    mean = mean_over(advantage, trains)
    std = jnp.sqrt(mean_over(jnp.square(advantage - mean), trains))
    return (advantage - mean) / (std + 1e-8)


def value_loss(values, old_value, target_return, value_clip_eps, trains=None):
    """float32[]: 0.5 * mean squared error, or PPO2's pessimistic clipped version when
    value_clip_eps is a float (the new value may move at most value_clip_eps from old_value)."""
    squared = jnp.square(values - target_return)
    if value_clip_eps is not None:
        clipped = old_value + jnp.clip(values - old_value, -value_clip_eps, value_clip_eps)
        squared = jnp.maximum(squared, jnp.square(clipped - target_return))
    return 0.5 * mean_over(squared, trains)


def ppo_loss(logits, values, batch, *, clip_eps, value_clip_eps, value_coef, entropy_coef,
             normalize_advantages, wdl_logits=None, imitation_coef=0.0,
             imitation_over_all=False):
    """The clipped PPO objective on a minibatch.

    logits: float[N, A] (any float dtype; computed in float32); values: float[N];
    batch: PPOBatch of N samples. value_clip_eps None means an unclipped value loss;
    normalize_advantages is a Python bool. With wdl_logits (float[N, 3], a wdl value head) the
    value loss is the cross-entropy to batch.target_wdl instead of the squared error. With
    batch.trains, every mean (and the advantages' normalisation) is over the learner's own
    moves only. With batch.expert, the surrogate, the entropy and the statistics leave a
    tactic's moves out, and those moves are imitated instead: the loss adds the mean
    cross-entropy over them, or with imitation_over_all its sum over all the learner's
    samples. Returns (loss float32[], metrics: dict of float32[]): "loss/policy",
    "loss/value", "loss/entropy", "loss/total",
    "ppo/approx_kl", "ppo/clip_fraction" (fraction of samples with |ratio - 1| > clip_eps);
    with batch.expert also "loss/imitation" (the mean cross-entropy -log pi(action) over the
    tactic's moves) and "expert/share" (their share of the learner's samples).

        loss = policy_loss + value_coef * value_loss - entropy_coef * entropy
               + imitation_coef * imitation
    """
    chex.assert_rank([logits, values], [2, 1])
    chex.assert_equal_shape([logits, batch.legal_action_mask])
    chex.assert_equal_shape([values, batch.action, batch.old_log_prob, batch.old_value,
                             batch.advantage, batch.target_return])
    chex.assert_equal_shape_prefix([logits, values], 1)
    old_log_prob, old_value, advantage, target_return = (
        jax.lax.stop_gradient(jnp.asarray(x, jnp.float32))
        for x in (batch.old_log_prob, batch.old_value, batch.advantage, batch.target_return))
    values = jnp.asarray(values, jnp.float32)
    log_probs = masked_log_softmax(logits, batch.legal_action_mask)
    new_log_prob = jnp.take_along_axis(log_probs, batch.action[:, None], axis=-1)[:, 0]
    log_ratio = new_log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    trains = batch.trains
    learner = jnp.ones(values.shape, bool) if trains is None else jnp.asarray(trains, bool)
    if batch.expert is not None:
        imitated = learner & batch.expert
        trains = learner & ~batch.expert  # the policy's own moves: the surrogate's samples
    if normalize_advantages:
        advantage = standardize(advantage, trains)

    surrogate = jnp.minimum(ratio * advantage,
                            jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantage)
    policy_loss = -mean_over(surrogate, trains)
    # The value learns every learner position, whoever chose its move.
    value_samples = None if batch.trains is None else learner
    if wdl_logits is None:
        v_loss = value_loss(values, old_value, target_return, value_clip_eps, value_samples)
    else:
        chex.assert_equal_shape([wdl_logits, batch.target_wdl])
        v_loss = mean_over(wdl.cross_entropy(wdl_logits, batch.target_wdl), value_samples)
    mean_entropy = mean_over(entropy(log_probs, batch.legal_action_mask), trains)
    loss = policy_loss + value_coef * v_loss - entropy_coef * mean_entropy
    expert_metrics = {}
    if batch.expert is not None:
        imitation_sum = jnp.sum(jnp.where(imitated, -new_log_prob, 0.0))
        imitation = imitation_sum / jnp.maximum(jnp.sum(imitated), 1)
        # imitation_over_all: each expert move weighs like any one of the learner's samples.
        weighted = (imitation_sum / jnp.maximum(jnp.sum(learner), 1) if imitation_over_all
                    else imitation)
        loss = loss + imitation_coef * weighted
        expert_metrics = {"loss/imitation": imitation, "expert/share": mean_over(
            jnp.asarray(batch.expert, jnp.float32), learner)}
    log_ratio, ratio = jax.lax.stop_gradient(log_ratio), jax.lax.stop_gradient(ratio)
    metrics = {
        "loss/policy": policy_loss,
        "loss/value": v_loss,
        "loss/entropy": mean_entropy,
        "loss/total": loss,
        "ppo/approx_kl": approx_kl(log_ratio, trains),
        "ppo/clip_fraction": mean_over(
            (jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32), trains),
        **expert_metrics,
    }
    return loss, metrics


def warmup_schedule(*, learning_rate, warmup_steps):
    """optax.Schedule over optimizer updates: a linear warm-up from 0 to learning_rate over
    warmup_steps (none at 0), then constant. The decay is the budget's
    (`budget.learning_rate_decay`), applied to the updates this schedule's rate makes."""
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
    if warmup_steps == 0:
        return optax.constant_schedule(learning_rate)
    return optax.join_schedules([optax.linear_schedule(0.0, learning_rate, warmup_steps),
                                 optax.constant_schedule(learning_rate)], [warmup_steps])


def _clipped_adam(learning_rate, max_grad_norm):
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(learning_rate))


def make_optimizer(schedule, *, max_grad_norm):
    """Global-norm gradient clipping then Adam, under `optax.inject_hyperparams` so the state
    carries the learning rate: see `applied_learning_rate`. schedule: an optax.Schedule or float."""
    return optax.inject_hyperparams(_clipped_adam, static_args="max_grad_norm")(
        learning_rate=schedule, max_grad_norm=max_grad_norm)


def skipped_update_state(new_state, old_state):
    """The state of an optimizer built by `make_optimizer` after an update that was computed
    but not applied (ppo.target_kl): Adam's moments and step count stay those of `old_state`,
    while the schedule's count moves on as in `new_state`: the warm-up counts update slots."""
    return new_state._replace(inner_state=old_state.inner_state)


def applied_learning_rate(opt_state):
    """float32[]: the learning rate of the latest update made with this state (schedule(0) before
    any), read from the state of an optimizer built by `make_optimizer`."""
    return opt_state.hyperparams["learning_rate"]
