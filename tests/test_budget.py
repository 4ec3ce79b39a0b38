"""The run's budget and the schedules on it (shogi_jax.train.budget), against hand-worked
numbers: the share spent by iterations or by time, the learning rate's decay, the shaping anneal,
the warm-up, and the decay reaching the applied updates of a real optimizer."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from shogi_jax.host.settings import ConfigError
from shogi_jax.train import budget
from shogi_jax.train.config import config_from_dict
from shogi_jax.train.ppo import make_optimizer, warmup_schedule
from shogi_jax.train.state import Trainer
from shogi_jax.train.updates import minibatch_updates


def config_of(**train):
    return config_from_dict({"train": {"iterations": 200, **train},
                             "reward_shaping": {"material_weight": 0.2}})


@pytest.mark.parametrize("iteration, time_spent, expected", [
    (0, 0.0, 0.0), (50, 0.0, 0.25), (50, 0.5, 0.5), (150, 0.5, 0.75), (200, 0.0, 1.0),
    (400, 0.0, 1.0), (0, 1.7, 1.0)])
def test_the_share_spent_is_the_nearer_of_iterations_and_time(iteration, time_spent, expected):
    spent = budget.share_spent(budget.clock(config_of(), time_spent), jnp.int32(iteration))
    assert float(spent) == pytest.approx(expected)


def test_time_share_counts_minutes_of_the_limit():
    assert budget.time_share(config_of(), 5_000.0) == 0.0  # no time limit
    limited = config_of(time_limit_minutes=60.0)
    assert budget.time_share(limited, 900.0) == pytest.approx(0.25)
    assert budget.time_share(limited, 7_200.0) == 1.0


@pytest.mark.parametrize("kind, spent, expected", [
    ("constant", 0.7, 1.0), ("linear", 0.0, 1.0), ("linear", 0.25, 0.75), ("linear", 1.0, 0.0),
    # (1 + cos(pi / 4)) / 2 = 0.85355339
    ("cosine", 0.0, 1.0), ("cosine", 0.25, 0.85355339), ("cosine", 0.5, 0.5),
    ("cosine", 1.0, 0.0)])
def test_learning_rate_decay_by_hand(kind, spent, expected):
    assert float(budget.learning_rate_decay(kind, jnp.float32(spent))) == pytest.approx(
        expected, abs=1e-7)


def test_an_unknown_schedule_is_named():
    with pytest.raises(ValueError, match="exponential"):
        budget.learning_rate_decay("exponential", 0.5)


@pytest.mark.parametrize("steps, expected", [(0, 0.2), (500, 0.1), (1000, 0.0), (5000, 0.0)])
def test_shaping_anneals_linearly_over_env_steps(steps, expected):
    config = config_from_dict({"reward_shaping": {"material_weight": 0.2,
                                                  "anneal_env_steps": 1000}})
    assert float(budget.shaping_weight(config, jnp.float32(steps), 0.9)) == pytest.approx(expected)


@pytest.mark.parametrize("spent, expected", [(0.0, 0.2), (0.25, 0.1), (0.5, 0.0), (1.0, 0.0)])
def test_shaping_anneals_over_a_share_of_the_budget(spent, expected):
    config = config_from_dict({"reward_shaping": {"material_weight": 0.2, "anneal_budget": 0.5}})
    weight = budget.shaping_weight(config, jnp.float32(10**9), jnp.float32(spent))
    assert float(weight) == pytest.approx(expected)


@pytest.mark.parametrize("anneal, steps, spent, expected", [
    ({}, 10**6, 1.0, 0.5),                                   # no anneal: constant
    ({"anneal_env_steps": 1000}, 250, 0.9, 0.375),           # 0.5 x (1 - 250 / 1000)
    ({"anneal_budget": 0.5}, 10**9, 0.1, 0.4),               # 0.5 x (1 - 0.1 / 0.5)
    ({"anneal_budget": 0.5}, 0, 0.75, 0.0)])
def test_gumbel_az_material_in_the_search_anneals_as_the_shaping_does(anneal, steps, spent,
                                                                       expected):
    config = config_from_dict({"algorithm": "gumbel_az", "gumbel_az": {"material_weight": 0.5},
                               "reward_shaping": anneal})
    weight = budget.search_material_weight(config, jnp.float32(steps), jnp.float32(spent))
    assert float(weight) == pytest.approx(expected)
    # At 0 the search computes no material at all (None), whatever the anneal.
    off = config_from_dict({"algorithm": "gumbel_az", "reward_shaping": anneal})
    assert budget.search_material_weight(off, jnp.float32(steps), jnp.float32(spent)) is None


def test_shaping_without_an_anneal_is_constant():
    assert float(budget.shaping_weight(config_of(), jnp.float32(10**6), 1.0)) == pytest.approx(0.2)


def test_two_anneal_ends_are_refused_by_name():
    with pytest.raises(ConfigError, match="anneal_budget.*anneal_env_steps"):
        config_from_dict({"reward_shaping": {"anneal_budget": 0.5, "anneal_env_steps": 100}})


@pytest.mark.parametrize("warmup_steps, expected", [
    (0, {0: 1e-3, 7: 1e-3}), (10, {0: 0.0, 5: 0.5e-3, 10: 1e-3, 500: 1e-3})])
def test_warm_up_schedule(warmup_steps, expected):
    schedule = warmup_schedule(learning_rate=1e-3, warmup_steps=warmup_steps)
    for step, lr in expected.items():
        assert float(schedule(step)) == pytest.approx(lr, rel=1e-6, abs=1e-12), step
    with pytest.raises(ValueError, match="warmup_steps"):
        warmup_schedule(learning_rate=1e-3, warmup_steps=-1)


def test_the_decay_scales_the_applied_updates_exactly():
    """Adam's step is linear in its learning rate: updates made at rate 0.1 with lr_decay 0.25
    move w exactly as plain Adam at rate 0.025 does, and the logged rate is 0.025."""
    config = config_from_dict({"env": {"num_games": 2, "rollout_length": 4},
                               "ppo": {"epochs": 1, "minibatches": 2, "learning_rate": 0.1}})
    schedule = warmup_schedule(learning_rate=0.1, warmup_steps=0)
    trainer = Trainer(model=None, optimizer=make_optimizer(schedule, max_grad_norm=10.0),
                      schedule=schedule)
    params = {"w": jnp.float32(1.0)}

    def loss_of(params, observation, minibatch):
        return jnp.square(params["w"] - 3.0), {}

    observation = jnp.zeros((4, 2, 1), jnp.bool_)  # [T, B, ...]: only its shape is used
    samples = jnp.zeros((4, 2), jnp.float32)
    decayed, _, metrics = minibatch_updates(
        config, trainer, params, trainer.optimizer.init(params), observation, samples, loss_of,
        jax.random.PRNGKey(0), platform="cpu", lr_decay=jnp.float32(0.25))
    plain = optax.chain(optax.clip_by_global_norm(10.0), optax.adam(0.025))
    w, state = params, plain.init(params)
    for _ in range(2):
        grads = jax.grad(lambda p: loss_of(p, None, None)[0])(w)
        updates, state = plain.update(grads, state, w)
        w = optax.apply_updates(w, updates)
    np.testing.assert_allclose(float(decayed["w"]), float(w["w"]), rtol=1e-6)
    assert float(metrics["optim/learning_rate"]) == pytest.approx(0.025)
