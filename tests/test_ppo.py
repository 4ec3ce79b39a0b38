"""PPO's pure functions against plain numpy references written independently of the JAX code."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from shogi_jax import NUM_ACTIONS
from shogi_jax.play.policy import entropy, masked_log_softmax, sample_actions
from shogi_jax.train.ppo import (
    PPOBatch,
    applied_learning_rate,
    approx_kl,
    compute_gae,
    make_optimizer,
    ppo_loss,
    warmup_schedule,
    wdl_returns,
)

LOWEST = np.finfo(np.float32).min


# ---------------------------------------------------------------- numpy references

def gae_reference(reward, value, next_value, terminated, truncated, gamma, gae_lambda):
    """Per game, walking back in time; each step's advantage is in its own mover's frame."""
    steps, games = reward.shape
    advantages = np.zeros((steps, games))
    for b in range(games):
        later = 0.0  # the advantage of the step after, for the opponent
        for t in reversed(range(steps)):
            if terminated[t, b]:
                advantage = reward[t, b] - value[t, b]
            else:
                advantage = reward[t, b] - gamma * next_value[t, b] - value[t, b]
                if not truncated[t, b]:
                    advantage -= gamma * gae_lambda * later
            advantages[t, b] = advantage
            later = advantage
    return advantages, advantages + value


def log_softmax_reference(logits, mask):
    """float64 log-probabilities over legal entries; illegal entries are nan (never read)."""
    logits = np.asarray(logits, np.float64)
    out = np.full(logits.shape, np.nan)
    for index in np.ndindex(logits.shape[:-1]):
        legal = np.nonzero(mask[index])[0]
        z = logits[index][legal]
        out[index + (legal,)] = z - z.max() - np.log(np.sum(np.exp(z - z.max())))
    return out


def entropy_reference(logits, mask):
    log_p = log_softmax_reference(logits, mask)
    return -np.nansum(np.exp(log_p) * log_p, axis=-1)


def approx_kl_reference(log_ratio):
    log_ratio = np.asarray(log_ratio, np.float64)
    return np.mean(np.exp(log_ratio) - 1.0 - log_ratio)


def ppo_loss_reference(logits, values, batch, clip_eps, value_clip_eps, value_coef, entropy_coef,
                       normalize_advantages):
    log_p = log_softmax_reference(logits, batch["legal_action_mask"])
    n = len(values)
    new_log_prob = log_p[np.arange(n), batch["action"]]
    log_ratio = new_log_prob - batch["old_log_prob"]
    ratio = np.exp(log_ratio)
    adv = batch["advantage"].astype(np.float64)
    if normalize_advantages:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    policy = -np.mean(np.minimum(ratio * adv, np.clip(ratio, 1 - clip_eps, 1 + clip_eps) * adv))
    err = (values - batch["target_return"]) ** 2
    if value_clip_eps is not None:
        old = batch["old_value"]
        clipped = old + np.clip(values - old, -value_clip_eps, value_clip_eps)
        err = np.maximum(err, (clipped - batch["target_return"]) ** 2)
    value_loss = 0.5 * np.mean(err)
    ent = np.mean(entropy_reference(logits, batch["legal_action_mask"]))
    return {
        "loss/policy": policy,
        "loss/value": value_loss,
        "loss/entropy": ent,
        "loss/total": policy + value_coef * value_loss - entropy_coef * ent,
        "ppo/approx_kl": approx_kl_reference(log_ratio),
        "ppo/clip_fraction": np.mean(np.abs(ratio - 1) > clip_eps),
    }


def random_mask(rng, shape, legal_per_row):
    """bool[..., A] with exactly `legal_per_row` legal actions in every row."""
    mask = np.zeros(shape, bool)
    for index in np.ndindex(shape[:-1]):
        mask[index + (rng.choice(shape[-1], legal_per_row, replace=False),)] = True
    return mask


# ---------------------------------------------------------------- GAE

def gae(reward, value, next_value, terminated, truncated, gamma, gae_lambda):
    advantages, returns = compute_gae(
        jnp.asarray(reward, jnp.float32), jnp.asarray(value, jnp.float32),
        jnp.asarray(next_value, jnp.float32), jnp.asarray(terminated), jnp.asarray(truncated),
        gamma=gamma, gae_lambda=gae_lambda)
    assert advantages.dtype == returns.dtype == jnp.float32
    return np.asarray(advantages), np.asarray(returns)


def test_gae_two_steps_by_hand():
    # X moves at t=0 (V=0.2), then Y mates at t=1 (V=0.5, reward +1). gamma = lambda = 1.
    #   delta_1 = 1 - 0.5 = 0.5 (terminated: no bootstrap)       A_1 = 0.5 = 1 - V_1,   R_1 = +1
    #   delta_0 = 0 + (-0.5) - 0.2 = -0.7                        A_0 = -0.7 + (-0.5) = -1.2
    #   so A_0 = -(1) - V_0 and R_0 = -1: X lost.  next_value[1] (0.3) is ignored after a mate.
    advantages, returns = gae(
        reward=[[0.0], [1.0]], value=[[0.2], [0.5]], next_value=[[0.5], [0.3]],
        terminated=[[False], [True]], truncated=[[False], [False]], gamma=1.0, gae_lambda=1.0)
    np.testing.assert_allclose(advantages[:, 0], [-1.2, 0.5], rtol=1e-6)
    np.testing.assert_allclose(returns[:, 0], [-1.0, 1.0], rtol=1e-6)


def hand_built_trajectory():
    """T=6, B=3; colours alternate every step in every game.

    game 0: Black/White/Black/White, White mates at t=3 (+1); a new game t=4..5 still running.
    game 1: truncated at the move limit after t=1 (s_2 bootstrapped: next_value 0.4); a new
            game t=2..5 still running.
    game 2: the mover at t=2 loses by the rules (-1, e.g. perpetual check); a new game in which
            the mover at t=5 mates.
    Inside a game next_value[t] = value[t+1]; after a terminal it is a junk value that must be
    ignored (9.0); at the rollout's end it is the bootstrap.
    """
    value = np.array([[0.1, 0.0, 0.2], [-0.2, 0.3, -0.1], [0.3, 0.0, 0.4],
                      [0.6, -0.1, 0.0], [0.0, 0.2, 0.3], [0.05, -0.3, 0.7]])
    next_value = np.array([[-0.2, 0.3, -0.1], [0.3, 0.4, 0.4], [0.6, -0.1, 9.0],
                           [9.0, 0.2, 0.3], [0.05, -0.3, 0.7], [0.2, 0.5, 9.0]])
    reward = np.zeros((6, 3))
    reward[3, 0], reward[2, 2], reward[5, 2] = 1.0, -1.0, 1.0
    terminated = np.zeros((6, 3), bool)
    terminated[3, 0] = terminated[2, 2] = terminated[5, 2] = True
    truncated = np.zeros((6, 3), bool)
    truncated[1, 1] = True
    return reward, value, next_value, terminated, truncated


def test_gae_hand_built_monte_carlo_returns():
    # gamma = lambda = 1 telescopes: each return is the game's outcome for that step's mover, with
    # the sign alternating backwards through the colours; a running or truncated game
    # ends in the bootstrap value, negated for the side that did not move into it.
    reward, value, next_value, terminated, truncated = hand_built_trajectory()
    advantages, returns = gae(reward, value, next_value, terminated, truncated, 1.0, 1.0)
    expected = np.array([
        # game 0: mate at t=3, then bootstrap 0.2 for the side to move after t=5
        [-1.0, 1.0, -1.0, 1.0, 0.2, -0.2],
        # game 1: truncated state worth 0.4 to the mover at t=2, then bootstrap 0.5
        [0.4, -0.4, 0.5, -0.5, 0.5, -0.5],
        # game 2: mover at t=2 lost; mover at t=5 mated
        [-1.0, 1.0, -1.0, 1.0, -1.0, 1.0],
    ]).T
    np.testing.assert_allclose(returns, expected, atol=1e-6)
    np.testing.assert_allclose(advantages, expected - value, atol=1e-6)


@pytest.mark.parametrize("gamma, gae_lambda", [(0.99, 0.95), (1.0, 1.0), (0.9, 0.0)])
def test_gae_hand_built_matches_reference(gamma, gae_lambda):
    data = hand_built_trajectory()
    advantages, returns = gae(*data, gamma, gae_lambda)
    ref_advantages, ref_returns = gae_reference(*data, gamma, gae_lambda)
    np.testing.assert_allclose(advantages, ref_advantages, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(returns, ref_returns, rtol=1e-5, atol=1e-6)
    reward, value, next_value, _, _ = data
    # The mate and the truncation cut the recursion: one-step TD errors there.
    assert advantages[3, 0] == pytest.approx(1.0 - value[3, 0], abs=1e-6)
    assert advantages[1, 1] == pytest.approx(-gamma * 0.4 - value[1, 1], abs=1e-6)
    # The loser of the mate sees the winner's advantage negated.
    expected_loser = -gamma * next_value[2, 0] - value[2, 0] - gamma * gae_lambda * advantages[3, 0]
    assert advantages[2, 0] == pytest.approx(expected_loser, abs=1e-6)


@pytest.mark.parametrize("gamma, gae_lambda", [(0.99, 0.95), (0.97, 0.8)])
def test_gae_random_matches_reference(gamma, gae_lambda):
    rng = np.random.default_rng(0)
    shape = (16, 8)
    data = (rng.normal(size=shape), rng.uniform(-1, 1, shape), rng.uniform(-1, 1, shape),
            rng.random(shape) < 0.15, rng.random(shape) < 0.1)
    data = tuple(x.astype(np.float32) if x.dtype == np.float64 else x for x in data)
    advantages, returns = gae(*data, gamma, gae_lambda)
    ref_advantages, ref_returns = gae_reference(*data, gamma, gae_lambda)
    np.testing.assert_allclose(advantages, ref_advantages, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(returns, ref_returns, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- win/draw/loss targets

def wdl_returns_reference(reward, next_wdl, terminated, truncated, gamma, gae_lambda):
    """Per game, walking back: each target a W/D/L distribution for its own mover."""
    steps, games = reward.shape
    targets = np.zeros((steps, games, 3))
    for b in range(games):
        later = next_wdl[-1, b]  # nothing after the rollout: the last position's own estimate
        for t in reversed(range(steps)):
            if terminated[t, b]:
                target = np.eye(3)[1 - int(np.sign(reward[t, b]))]  # +1 W, 0 D, -1 L
            else:
                ahead = next_wdl[t, b] if truncated[t, b] else (
                    (1 - gae_lambda) * next_wdl[t, b] + gae_lambda * later)
                target = (1 - gamma) * np.array([0.0, 1.0, 0.0]) + gamma * ahead[::-1]
            targets[t, b] = target
            later = target
    return targets


def random_wdl_rollout(rng, shape):
    """Results only where a game ends (draws among them), W/D/L estimates of every next state."""
    terminated = rng.random(shape) < 0.2
    truncated = ~terminated & (rng.random(shape) < 0.1)
    reward = np.where(terminated, rng.choice([-1.0, 0.0, 1.0], size=shape), 0.0)
    next_wdl = rng.dirichlet(np.ones(3), size=shape)
    return (reward.astype(np.float32), next_wdl.astype(np.float32), terminated, truncated)


def test_wdl_returns_by_hand():
    # One game: Black moves (t=0), White moves (t=1), Black's move draws by repetition (t=2);
    # then a new game's first ply (t=3) runs past the rollout.
    reward = np.zeros((4, 1), np.float32)
    terminated = np.array([[False], [False], [True], [False]])
    truncated = np.zeros((4, 1), bool)
    next_wdl = np.array([[[0.1, 0.3, 0.6]], [[0.5, 0.2, 0.3]], [[0.9, 0.05, 0.05]],
                         [[0.2, 0.5, 0.3]]], np.float32)
    targets = np.asarray(wdl_returns(reward, next_wdl, terminated, truncated, gamma=1.0,
                                     gae_lambda=1.0))
    np.testing.assert_allclose(targets[:3, 0], np.tile([0.0, 1.0, 0.0], (3, 1)))  # a draw all along
    np.testing.assert_allclose(targets[3, 0], [0.3, 0.5, 0.2])  # the opponent's view, swapped
    # Black mates instead: Black's plies win, White's loses.
    mate = np.array([[0.0], [0.0], [1.0], [0.0]], np.float32)
    targets = np.asarray(wdl_returns(mate, next_wdl, terminated, truncated, gamma=1.0,
                                     gae_lambda=1.0))
    np.testing.assert_allclose(targets[:3, 0], [[1, 0, 0], [0, 0, 1], [1, 0, 0]])


@pytest.mark.parametrize("gamma, gae_lambda", [(0.99, 0.95), (1.0, 1.0), (0.9, 0.0)])
def test_wdl_returns_match_the_reference_and_gae_in_expectation(gamma, gae_lambda):
    reward, next_wdl, terminated, truncated = random_wdl_rollout(np.random.default_rng(3),
                                                                 (16, 8))
    targets = np.asarray(wdl_returns(reward, next_wdl, terminated, truncated, gamma=gamma,
                                     gae_lambda=gae_lambda))
    np.testing.assert_allclose(targets, wdl_returns_reference(
        reward, next_wdl, terminated, truncated, gamma, gae_lambda), atol=1e-5)
    np.testing.assert_allclose(targets.sum(-1), 1.0, atol=1e-5)
    assert (targets >= 0).all()
    # P(win) - P(loss) of the targets is GAE's return with values P(win) - P(loss): a ply's
    # value is the one its predecessor saw as next_value, unless a new game began there.
    next_value = next_wdl[..., 0] - next_wdl[..., 2]
    value = np.random.default_rng(4).uniform(-1, 1, reward.shape).astype(np.float32)
    same_game = ~(terminated | truncated)
    value[1:] = np.where(same_game[:-1], next_value[:-1], value[1:])
    _, returns = gae(reward, value, next_value, terminated, truncated, gamma, gae_lambda)
    np.testing.assert_allclose(targets[..., 0] - targets[..., 2], returns, atol=1e-5)


def test_ppo_loss_with_a_wdl_head_fits_the_distribution_by_cross_entropy():
    rng = np.random.default_rng(6)
    logits, values, batch = random_batch(rng, 32, 10)
    wdl_logits = rng.normal(size=(32, 3)).astype(np.float32)
    target_wdl = rng.dirichlet(np.ones(3), size=32).astype(np.float32)
    ppo_batch = to_ppo_batch(batch)._replace(target_wdl=jnp.asarray(target_wdl))
    options = dict(LOSS_OPTIONS, value_clip_eps=None, normalize_advantages=True)
    _, metrics = ppo_loss(jnp.asarray(logits), jnp.asarray(values), ppo_batch,
                          wdl_logits=jnp.asarray(wdl_logits), **options)
    log_p = wdl_logits - np.log(np.exp(wdl_logits).sum(-1, keepdims=True))
    expected = -(target_wdl * log_p).sum(-1).mean()
    assert float(metrics["loss/value"]) == pytest.approx(expected, rel=1e-5)
    reference = ppo_loss_reference(logits, values, batch, **options)
    assert float(metrics["loss/policy"]) == pytest.approx(reference["loss/policy"], rel=1e-4)
    assert float(metrics["loss/total"]) == pytest.approx(
        reference["loss/policy"] + 0.5 * expected - 0.01 * reference["loss/entropy"], rel=1e-4)


# ---------------------------------------------------------------- masked log-softmax, entropy, KL

def test_masked_log_softmax():
    rng = np.random.default_rng(1)
    mask = random_mask(rng, (4, NUM_ACTIONS), 7)
    logits = rng.normal(scale=3.0, size=(4, NUM_ACTIONS)).astype(np.float32)
    logits[~mask] = 1e4  # illegal logits are never read, however large
    log_p = np.asarray(masked_log_softmax(jnp.asarray(logits), jnp.asarray(mask)))
    assert log_p.dtype == np.float32
    assert np.all(np.isfinite(log_p))
    assert np.all(log_p[~mask] == LOWEST)
    np.testing.assert_allclose(np.sum(np.exp(log_p) * mask, axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(log_p[mask], log_softmax_reference(logits, mask)[mask],
                               rtol=1e-5, atol=1e-6)


def test_masked_log_softmax_bfloat16_logits_give_float32():
    rng = np.random.default_rng(2)
    mask = random_mask(rng, (3, NUM_ACTIONS), 5)
    logits = jnp.asarray(rng.normal(size=(3, NUM_ACTIONS)), jnp.bfloat16)
    log_p = masked_log_softmax(logits, jnp.asarray(mask))
    assert log_p.dtype == jnp.float32
    reference = log_softmax_reference(np.asarray(logits.astype(jnp.float32)), mask)
    np.testing.assert_allclose(np.asarray(log_p)[mask], reference[mask], rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(log_p)[~mask] == LOWEST)


def test_entropy_matches_reference():
    rng = np.random.default_rng(3)
    mask = random_mask(rng, (5, NUM_ACTIONS), 3)  # almost everything masked
    logits = rng.normal(scale=2.0, size=(5, NUM_ACTIONS)).astype(np.float32)
    result = entropy(masked_log_softmax(jnp.asarray(logits), jnp.asarray(mask)), jnp.asarray(mask))
    assert result.dtype == jnp.float32 and result.shape == (5,)
    np.testing.assert_allclose(np.asarray(result), entropy_reference(logits, mask), rtol=1e-5)

    def mean_entropy(z):
        return jnp.mean(entropy(masked_log_softmax(z, mask), mask))

    grad = np.asarray(jax.grad(mean_entropy)(jnp.asarray(logits)))
    assert np.all(np.isfinite(grad)) and np.all(grad[~mask] == 0)


@pytest.mark.parametrize("k", [1, 2, 5, 40])
def test_entropy_uniform_is_log_k(k):
    mask = np.zeros((1, NUM_ACTIONS), bool)
    mask[0, np.arange(k) * 37] = True
    log_p = masked_log_softmax(jnp.zeros((1, NUM_ACTIONS)), jnp.asarray(mask))
    assert float(entropy(log_p, jnp.asarray(mask))[0]) == pytest.approx(math.log(k), abs=1e-6)


def test_approx_kl():
    rng = np.random.default_rng(4)
    log_ratio = rng.normal(scale=0.3, size=256).astype(np.float32)
    kl = approx_kl(jnp.asarray(log_ratio))
    assert kl.dtype == jnp.float32 and kl.shape == ()
    assert float(kl) == pytest.approx(approx_kl_reference(log_ratio), rel=1e-5)
    assert float(kl) >= 0.0
    assert float(approx_kl(jnp.zeros(8))) == 0.0
    for scale in (1e-4, 1e-2, 1.0, 3.0):
        assert float(approx_kl(jnp.asarray(rng.normal(scale=scale, size=64), jnp.float32))) >= 0.0


# ---------------------------------------------------------------- PPO loss

def random_batch(rng, n, legal_per_row):
    mask = random_mask(rng, (n, NUM_ACTIONS), legal_per_row)
    logits = rng.normal(scale=2.0, size=(n, NUM_ACTIONS)).astype(np.float32)
    action = np.array([rng.choice(np.nonzero(row)[0]) for row in mask], np.int32)
    new_log_prob = log_softmax_reference(logits, mask)[np.arange(n), action]
    old_value = rng.uniform(-1, 1, n).astype(np.float32)
    batch = {
        "action": action,
        # Spread of 0.3 in log-ratio: some samples in the clip range, some outside.
        "old_log_prob": (new_log_prob + rng.normal(scale=0.3, size=n)).astype(np.float32),
        "old_value": old_value,
        "advantage": (rng.normal(scale=2.0, size=n) + 0.5).astype(np.float32),
        "target_return": rng.uniform(-1, 1, n).astype(np.float32),
        "legal_action_mask": mask,
    }
    values = (old_value + rng.normal(scale=0.4, size=n)).astype(np.float32)
    return logits, values, batch


def to_ppo_batch(batch):
    return PPOBatch(**{k: jnp.asarray(v) for k, v in batch.items()})


LOSS_OPTIONS = dict(clip_eps=0.2, value_coef=0.5, entropy_coef=0.01)


@pytest.mark.parametrize("value_clip_eps", [None, 0.2])
@pytest.mark.parametrize("normalize_advantages", [False, True])
def test_ppo_loss_matches_reference(value_clip_eps, normalize_advantages):
    rng = np.random.default_rng(5)
    logits, values, batch = random_batch(rng, 64, 20)
    options = dict(LOSS_OPTIONS, value_clip_eps=value_clip_eps,
                   normalize_advantages=normalize_advantages)
    loss, metrics = ppo_loss(jnp.asarray(logits), jnp.asarray(values), to_ppo_batch(batch),
                             **options)
    reference = ppo_loss_reference(logits, values, batch, **options)
    assert 0.0 < reference["ppo/clip_fraction"] < 1.0  # the data exercises both branches
    assert set(metrics) == set(reference)
    for key, expected in reference.items():
        assert metrics[key].dtype == jnp.float32 and metrics[key].shape == ()
        assert float(metrics[key]) == pytest.approx(expected, rel=1e-4, abs=1e-6), key
    assert float(loss) == float(metrics["loss/total"])


@pytest.mark.parametrize("value_clip_eps", [None, 0.2])
def test_ppo_loss_over_the_learners_moves_is_the_loss_of_those_samples_alone(value_clip_eps):
    """A pool game's member moves (trains False) take no part: every metric equals the loss
    computed on the learner's samples only (normalised advantages included)."""
    rng = np.random.default_rng(11)
    logits, values, batch = random_batch(rng, 48, 12)
    trains = rng.random(48) < 0.6
    options = dict(LOSS_OPTIONS, value_clip_eps=value_clip_eps, normalize_advantages=True)
    full = to_ppo_batch(batch)._replace(trains=jnp.asarray(trains))
    _, masked = ppo_loss(jnp.asarray(logits), jnp.asarray(values), full, **options)
    subset = jax.tree_util.tree_map(lambda x: x[trains], to_ppo_batch(batch))
    _, alone = ppo_loss(jnp.asarray(logits[trains]), jnp.asarray(values[trains]), subset,
                        **options)
    assert masked.keys() == alone.keys()
    for name in masked:
        assert float(masked[name]) == pytest.approx(float(alone[name]), rel=1e-5, abs=1e-7), name


def test_ppo_loss_value_clipping_changes_value_loss():
    rng = np.random.default_rng(6)
    logits, values, batch = random_batch(rng, 32, 10)
    losses = [float(ppo_loss(jnp.asarray(logits), jnp.asarray(values), to_ppo_batch(batch),
                             value_clip_eps=clip, normalize_advantages=False,
                             **LOSS_OPTIONS)[1]["loss/value"]) for clip in (None, 0.05)]
    assert losses[1] > losses[0]  # the pessimistic max can only raise it


def test_ppo_loss_gradient_finite_with_many_masked_actions():
    rng = np.random.default_rng(7)
    logits, values, batch = random_batch(rng, 16, 2)
    logits = logits * 50.0  # near-deterministic policies
    ppo_batch = to_ppo_batch(batch)
    options = dict(LOSS_OPTIONS, value_clip_eps=0.2, normalize_advantages=True)

    def loss_fn(z, v, advantage, target_return, old_value, old_log_prob):
        targets = ppo_batch._replace(advantage=advantage, target_return=target_return,
                                     old_value=old_value, old_log_prob=old_log_prob)
        return ppo_loss(z, v, targets, **options)[0]

    args = (jnp.asarray(logits), jnp.asarray(values), ppo_batch.advantage,
            ppo_batch.target_return, ppo_batch.old_value, ppo_batch.old_log_prob)
    grads = jax.grad(loss_fn, argnums=tuple(range(6)))(*args)
    grad_logits, grad_values, *grad_targets = (np.asarray(g) for g in grads)
    assert np.all(np.isfinite(grad_logits)) and np.all(np.isfinite(grad_values))
    assert np.all(grad_logits[~batch["legal_action_mask"]] == 0)
    assert np.any(grad_logits != 0) and np.any(grad_values != 0)
    for g in grad_targets:  # targets sit under stop_gradient
        assert np.all(g == 0)

    bf16_grad = jax.grad(loss_fn)(jnp.asarray(logits, jnp.bfloat16), *args[1:])
    assert bf16_grad.dtype == jnp.bfloat16
    assert np.all(np.isfinite(np.asarray(bf16_grad, np.float32)))


def test_ppo_loss_clip_fraction_and_policy_loss_by_hand():
    # Two legal actions with equal logits: new log-prob = log 0.5 for every sample, so
    # old_log_prob = log 0.5 - log r sets the ratio r directly.
    ratios = np.array([1.0, 1.1, 1.3, 0.7])
    mask = np.zeros((4, NUM_ACTIONS), bool)
    mask[:, [10, 20]] = True
    batch = PPOBatch(
        action=jnp.full(4, 20, jnp.int32),
        old_log_prob=jnp.asarray(np.log(0.5) - np.log(ratios), jnp.float32),
        old_value=jnp.zeros(4), advantage=jnp.asarray([1.0, 1.0, 1.0, -1.0]),
        target_return=jnp.zeros(4), legal_action_mask=jnp.asarray(mask))
    _, metrics = ppo_loss(jnp.zeros((4, NUM_ACTIONS)), jnp.zeros(4), batch, clip_eps=0.2,
                          value_clip_eps=None, value_coef=0.5, entropy_coef=0.0,
                          normalize_advantages=False)
    # |r - 1| = 0, 0.1, 0.3, 0.3 -> two of four beyond 0.2.
    assert float(metrics["ppo/clip_fraction"]) == pytest.approx(0.5)
    # min(r A, clip(r) A): 1, 1.1, min(1.3, 1.2) = 1.2, min(-0.7, -0.8) = -0.8; mean 0.625.
    assert float(metrics["loss/policy"]) == pytest.approx(-0.625, abs=1e-6)
    assert float(metrics["loss/entropy"]) == pytest.approx(math.log(2), abs=1e-6)
    assert float(metrics["loss/value"]) == 0.0


# ---------------------------------------------------------------- schedules and optimizer

def test_make_optimizer_logs_learning_rate_and_matches_plain_chain():
    schedule = warmup_schedule(learning_rate=1e-2, warmup_steps=4)
    optimizer = make_optimizer(schedule, max_grad_norm=1.0)
    plain = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))
    params = {"w": jnp.asarray([1.0, -2.0, 3.0])}
    state, plain_state = optimizer.init(params), plain.init(params)
    assert float(applied_learning_rate(state)) == pytest.approx(0.0)
    rng = np.random.default_rng(8)
    for step in range(3):
        grads = {"w": jnp.asarray(rng.normal(scale=10.0, size=3), jnp.float32)}  # norm > 1: clipped
        updates, state = optimizer.update(grads, state, params)
        plain_updates, plain_state = plain.update(grads, plain_state, params)
        np.testing.assert_allclose(np.asarray(updates["w"]), np.asarray(plain_updates["w"]),
                                   rtol=1e-6)
        # The rate applied by update `step` is schedule(step) = 1e-2 * step / 4 (warming up).
        assert float(applied_learning_rate(state)) == pytest.approx(1e-2 * step / 4)


# ---------------------------------------------------------------- sampling

def test_sample_actions_frequencies_match_softmax():
    rng = np.random.default_rng(9)
    draws, rows, actions = 20_000, 3, 64
    mask = random_mask(rng, (rows, actions), 4)
    logits = rng.normal(scale=1.5, size=(rows, actions)).astype(np.float32)
    logits[~mask] = 50.0  # tempting, but illegal
    keys = jax.random.split(jax.random.key(0), draws)
    sample = jax.jit(jax.vmap(sample_actions, in_axes=(0, None, None)))
    action, log_prob = (np.asarray(x) for x in sample(keys, jnp.asarray(logits), jnp.asarray(mask)))
    assert action.dtype == np.int32 and action.shape == (draws, rows)
    assert log_prob.dtype == np.float32
    assert np.all(np.take_along_axis(mask[None], action[..., None], axis=-1))
    reference = log_softmax_reference(logits, mask)
    for row in range(rows):
        frequencies = np.bincount(action[:, row], minlength=actions) / draws
        np.testing.assert_allclose(frequencies, np.nan_to_num(np.exp(reference[row])), atol=0.015)
        np.testing.assert_allclose(log_prob[:, row], reference[row, action[:, row]], rtol=1e-5,
                                   atol=1e-6)


def test_sample_actions_full_action_space_never_illegal():
    rng = np.random.default_rng(10)
    mask = random_mask(rng, (2, NUM_ACTIONS), 3)
    logits = rng.normal(size=(2, NUM_ACTIONS)).astype(np.float32)
    logits[~mask] = 1e4
    keys = jax.random.split(jax.random.key(1), 2_000)
    action, log_prob = jax.vmap(sample_actions, in_axes=(0, None, None))(
        keys, jnp.asarray(logits, jnp.bfloat16), jnp.asarray(mask))
    action = np.asarray(action)
    assert np.all(np.take_along_axis(mask[None], action[..., None], axis=-1))
    assert np.all(np.isfinite(np.asarray(log_prob))) and np.all(np.asarray(log_prob) <= 0)


def test_minibatches_deal_every_ply_of_every_game_once():
    from shogi_jax.train.updates import minibatch_plies

    length, num_games, minibatches = 8, 5, 4
    plies = np.asarray(minibatch_plies(jax.random.PRNGKey(3), length, num_games, minibatches))
    assert plies.shape == (minibatches, length // minibatches, num_games)
    for game in range(num_games):
        assert sorted(plies[:, :, game].ravel()) == list(range(length))
    # Games are shuffled independently (not one order shared by all games).
    assert any((plies[:, :, g] != plies[:, :, 0]).any() for g in range(1, num_games))
    again = np.asarray(minibatch_plies(jax.random.PRNGKey(4), length, num_games, minibatches))
    assert (again != plies).any()


def test_target_kl_skips_the_update_that_trips_it_and_the_warm_up_still_counts():
    """E=1 x M=4 updates of one parameter w with a stop metric of |w - w0| (how far the updates
    have moved it): the first update (metric 0) is applied, the second sees a metric above the
    target and is skipped with all that follow. The logged skips are [0, 1, 1, 1]; w is one
    Adam step from w0; Adam's step count stays 1 while the schedule's count reaches 4."""
    from shogi_jax.train.config import config_from_dict
    from shogi_jax.train.state import Trainer
    from shogi_jax.train.updates import minibatch_updates

    config = config_from_dict({"env": {"num_games": 2, "rollout_length": 4},
                               "ppo": {"epochs": 1, "minibatches": 4}})
    schedule = warmup_schedule(learning_rate=0.1, warmup_steps=0)
    trainer = Trainer(model=None, optimizer=make_optimizer(schedule, max_grad_norm=10.0),
                      schedule=schedule)
    w0 = 1.0
    params = {"w": jnp.float32(w0)}

    def loss_of(params, observation, minibatch):
        moved = jnp.abs(params["w"] - w0)
        return jnp.square(params["w"] - 3.0), {"moved": moved}

    observation = jnp.zeros((4, 2, 1), jnp.bool_)  # [T, B, ...]: only its shape is used
    samples = jnp.zeros((4, 2), jnp.float32)
    new_params, opt_state, metrics = minibatch_updates(
        config, trainer, params, trainer.optimizer.init(params), observation, samples, loss_of,
        jax.random.PRNGKey(0), platform="cpu", stop_metric="moved", stop_above=1e-6)
    assert float(metrics["optim/updates_skipped"]) == pytest.approx(3 / 4)
    assert float(metrics["moved"]) == pytest.approx(3 * 0.1 / 4, rel=1e-5)  # 0, then 0.1 x 3
    # Adam's first step moves w by the learning rate (0.1, towards 3).
    assert float(new_params["w"]) == pytest.approx(w0 + 0.1, rel=1e-5)
    assert int(opt_state.count) == 4
    inner_counts = [int(x) for x in jax.tree_util.tree_leaves(opt_state.inner_state)
                    if jnp.issubdtype(x.dtype, jnp.integer)]
    assert inner_counts == [1]
    # Without a target every update is applied.
    _, opt_state, metrics = minibatch_updates(
        config, trainer, params, trainer.optimizer.init(params), observation, samples, loss_of,
        jax.random.PRNGKey(0), platform="cpu")
    assert float(metrics["optim/updates_skipped"]) == 0.0
    assert [int(x) for x in jax.tree_util.tree_leaves(opt_state.inner_state)
            if jnp.issubdtype(x.dtype, jnp.integer)] == [4]


def test_shapes_that_do_not_fit_are_refused_at_trace_time():
    """chex assertions at the boundaries: GAE's [T, B] inputs, the loss's minibatch, the model."""
    from shogi_jax.play.model import ModelConfig, make_model

    reward, value, next_value, terminated, truncated = hand_built_trajectory()
    with pytest.raises(AssertionError, match="shape"):  # one value too few
        gae(reward, value[:, :2], next_value, terminated, truncated, 1.0, 1.0)
    logits, values, batch = random_batch(np.random.default_rng(1), 8, 4)
    with pytest.raises(AssertionError):  # values of another minibatch size
        ppo_loss(jnp.asarray(logits), jnp.asarray(values[:7]), to_ppo_batch(batch),
                 value_clip_eps=None, normalize_advantages=False, **LOSS_OPTIONS)
    model = make_model(ModelConfig(blocks=1, channels=8, squeeze_excitation=False,
                                   value_hidden=8, dtype="float32"))
    with pytest.raises(AssertionError):  # planes without the batch axis
        model.init(jax.random.PRNGKey(0), jnp.zeros((9, 9, 94), bool))
