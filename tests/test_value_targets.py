"""The value heads' targets: gumbel_az's bootstrapped targets (a target on every ply) and PPO's
value discount, against hand-worked cases and numpy references."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from shogi_jax.host.settings import ConfigError
from shogi_jax.train import gumbel_az, ppo
from shogi_jax.train.config import config_from_dict
from shogi_jax.train.updates import ppo_targets

# One game slot: the game ends at t=2, won by its mover (reward +1); a new game goes on to the
# rollout's end at t=3. root_value_t: the search's value of s_t for its mover.
REWARD = np.array([[0.0], [0.0], [1.0], [0.0]], np.float32)
DONE = np.array([[False], [False], [True], [False]])
ROOT_VALUE = np.array([[0.2], [-0.4], [0.6], [0.1]], np.float32)


@pytest.mark.parametrize("td_lambda, expected", [
    # lambda 1: the outcome, signed for each mover; the going game's last ply its own value.
    (1.0, [1.0, -1.0, 1.0, 0.1]),
    # lambda 0: the next ply's root value, negated (the next mover is the opponent).
    (0.0, [0.4, -0.6, 1.0, 0.1]),
    # lambda 1/2: t=1: -(0.5 x 0.6 + 0.5 x 1) = -0.8; t=0: -(0.5 x -0.4 + 0.5 x -0.8) = 0.6.
    (0.5, [0.6, -0.8, 1.0, 0.1]),
])
def test_bootstrapped_targets_by_hand(td_lambda, expected):
    target = gumbel_az.bootstrapped_targets(jnp.asarray(REWARD), jnp.asarray(DONE),
                                            jnp.asarray(ROOT_VALUE), td_lambda=td_lambda)
    np.testing.assert_allclose(np.asarray(target)[:, 0], expected, rtol=1e-6)


def _lambda_return_reference(reward, done, root_value, td_lambda):
    """Per ply, the explicit lambda-weighted sum of its n-step returns: n plies ahead the
    root value signed (-1)^n, until the game's end (its outcome) or the rollout's last ply (its
    root value) takes the remaining weight lambda^K."""
    steps, games = reward.shape
    target = np.zeros_like(reward)
    for b in range(games):
        for t in range(steps):
            if done[t, b]:
                target[t, b] = reward[t, b]
                continue
            total, weight, k = 0.0, 1.0, 1
            while True:
                u = t + k
                if u == steps:  # past the rollout: ply T-1's own root value
                    total += weight * (-1) ** (k - 1) * root_value[steps - 1, b]
                    break
                if done[u, b]:
                    total += weight * (-1) ** k * ((1 - td_lambda) * root_value[u, b]
                                                   + td_lambda * reward[u, b])
                    break
                total += weight * (1 - td_lambda) * (-1) ** k * root_value[u, b]
                weight *= td_lambda
                k += 1
            target[t, b] = total
    return target


@pytest.mark.parametrize("td_lambda", [0.0, 0.7, 1.0])
def test_bootstrapped_targets_match_the_lambda_return_reference(td_lambda):
    rng = np.random.default_rng(1)
    done = rng.random((30, 5)) < 0.15
    reward = np.where(done, rng.choice([-1.0, 0.0, 1.0], size=done.shape), 0.0).astype(np.float32)
    root_value = rng.uniform(-1, 1, size=done.shape).astype(np.float32)
    target = gumbel_az.bootstrapped_targets(jnp.asarray(reward), jnp.asarray(done),
                                            jnp.asarray(root_value), td_lambda=td_lambda)
    np.testing.assert_allclose(np.asarray(target),
                               _lambda_return_reference(reward, done, root_value, td_lambda),
                               rtol=1e-5, atol=1e-6)


def test_a_wdl_head_refuses_bootstrapped_targets():
    with pytest.raises(ConfigError, match="value_target.*value_head"):
        config_from_dict({"algorithm": "gumbel_az", "model": {"value_head": "wdl"}})
    config = config_from_dict({"algorithm": "gumbel_az", "model": {"value_head": "wdl"},
                               "gumbel_az": {"value_target": "outcome"}})
    assert config.gumbel_az.value_target == "outcome"


def _transitions(rng, steps=12, games=3):
    terminated = rng.random((steps, games)) < 0.2
    reward = np.where(terminated, rng.choice([-1.0, 1.0], size=terminated.shape), 0.0)
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return ppo.Transition(
        observation=None, legal_action_mask=None, action=None, log_prob=None,
        value=f32(rng.uniform(-1, 1, (steps, games))), reward=f32(reward),
        shaping=f32(rng.normal(scale=0.1, size=(steps, games))),
        terminated=jnp.asarray(terminated), truncated=jnp.zeros((steps, games), bool),
        next_value=f32(rng.uniform(-1, 1, (steps, games))))


def test_ppo_value_targets_use_the_value_discount_and_the_policy_its_own():
    transitions = _transitions(np.random.default_rng(2))
    config = config_from_dict({"ppo": {"gamma": 0.99, "gae_lambda": 0.95, "value_gamma": 1.0,
                                       "value_lambda": 0.8},
                               "reward_shaping": {"material_weight": 0.02}})
    targets = ppo_targets(config, transitions)
    common = dict(value=transitions.value, next_value=transitions.next_value,
                  terminated=transitions.terminated, truncated=transitions.truncated)
    _, returns = ppo.compute_gae(transitions.reward, gamma=1.0, gae_lambda=0.8, **common)
    advantages, _ = ppo.compute_gae(transitions.reward + transitions.shaping, gamma=0.99,
                                    gae_lambda=0.95, **common)
    np.testing.assert_allclose(np.asarray(targets.target_return), np.asarray(returns), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(targets.advantage), np.asarray(advantages), rtol=1e-6)
    # Unset, the value's discount is the policy's (the targets runs had before the keys came).
    same = config_from_dict({"ppo": {"gamma": 0.99, "gae_lambda": 0.95}})
    assert same.ppo.value_discount == (0.99, 0.95)
    _, plain = ppo.compute_gae(transitions.reward, gamma=0.99, gae_lambda=0.95, **common)
    np.testing.assert_allclose(np.asarray(ppo_targets(same, transitions).target_return),
                               np.asarray(plain), rtol=1e-6)


def test_the_value_head_reads_model_value_planes():
    import jax

    from shogi_jax.play.model import ModelConfig, make_model

    for planes in (2, 8):
        model = make_model(ModelConfig(blocks=1, channels=8, value_hidden=16,
                                       value_planes=planes))
        params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 9, 9, 94), bool))["params"]
        assert params["Conv_3"]["kernel"].shape == (1, 1, 8, planes)
        assert params["Dense_0"]["kernel"].shape == (81 * planes, 16)


def test_layer_norm_keeps_the_value_head_alive_where_its_relus_went_dark():
    """The failure seen in a gumbel_az run: the value convolution's outputs all negative, so
    every ReLU is dark and the value one constant. Pushed there by hand (bias -10), the plain
    head gives one value for every position; with value_layer_norm the values still differ."""
    import jax

    import shogi_jax as sj
    from shogi_jax.play.model import ModelConfig, make_model

    states = [sj.init(), sj.from_sfen("4k4/9/4G4/9/4L4/9/9/9/K8 b - 11"),
              sj.from_sfen("4k4/4s4/9/9/9/9/9/4G4/4K4 b R2p 1")]
    observation = jnp.stack([sj.observe(s) for s in states])
    for layer_norm, distinct in ((False, 1), (True, len(states))):
        model = make_model(ModelConfig(blocks=1, channels=8, value_hidden=16,
                                       value_layer_norm=layer_norm))
        params = model.init(jax.random.PRNGKey(0), observation)
        params["params"]["Conv_3"]["bias"] = jnp.full_like(params["params"]["Conv_3"]["bias"],
                                                           -10.0)
        _, values = model.apply(params, observation)
        assert len(np.unique(np.asarray(values))) == distinct, layer_norm
