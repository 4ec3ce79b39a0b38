"""Expert iteration inside self-play (config `expert`): PPO's loss imitates a tactic's moves
instead of taking the surrogate on them, against a numpy reference; a compiled rollout (PPO's,
and gumbel_az's search rollout) plays the mates in one cshogi finds, marked as the expert's."""
from __future__ import annotations

import cshogi
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from mate_positions import BLACK_MATES, WHITE_MATES, mates_in_one

import shogi_jax as sj
from shogi_jax.train import ppo
from shogi_jax.train.config import load_config
from shogi_jax.train.rollout import rollout, search_rollout
from shogi_jax.train.state import init_train_state, make_trainer

OPTIONS = dict(clip_eps=0.2, value_clip_eps=None, value_coef=0.5, entropy_coef=0.01,
               normalize_advantages=True)


def _batch(rng, samples=10, actions=7, expert=None):
    legal = rng.random((samples, actions)) < 0.7
    legal[:, 0] = True
    action = np.array([rng.choice(np.flatnonzero(row)) for row in legal], np.int32)
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return ppo.PPOBatch(
        action=jnp.asarray(action), old_log_prob=f32(rng.normal(-1.5, 0.3, samples)),
        old_value=f32(rng.uniform(-1, 1, samples)), advantage=f32(rng.normal(size=samples)),
        target_return=f32(rng.uniform(-1, 1, samples)), legal_action_mask=jnp.asarray(legal),
        expert=None if expert is None else jnp.asarray(expert))


def test_the_loss_imitates_the_experts_moves_and_takes_the_surrogate_on_the_others():
    rng = np.random.default_rng(0)
    expert = np.array([True, False, False, True, False, False, False, True, False, False])
    batch = _batch(rng, expert=expert)
    logits = jnp.asarray(rng.normal(size=(10, 7)), jnp.float32)
    values = jnp.asarray(rng.uniform(-1, 1, 10), jnp.float32)
    loss, metrics = ppo.ppo_loss(logits, values, batch, imitation_coef=0.7, **OPTIONS)

    own = ~expert
    # The surrogate, entropy and statistics of the policy's own moves: the plain loss on them.
    subset = jax.tree_util.tree_map(lambda x: x[own], batch._replace(expert=None))
    _, on_own = ppo.ppo_loss(logits[own], values[own], subset, **OPTIONS)
    for name in ("loss/policy", "loss/entropy", "ppo/approx_kl", "ppo/clip_fraction"):
        assert float(metrics[name]) == pytest.approx(float(on_own[name]), rel=1e-5), name
    # The value learns every position.
    expected_value = 0.5 * np.mean(np.square(np.asarray(values) - np.asarray(batch.target_return)))
    assert float(metrics["loss/value"]) == pytest.approx(expected_value, rel=1e-5)
    # Imitation: the mean -log pi(action) over the expert's moves (softmax over legal moves).
    masked = np.where(np.asarray(batch.legal_action_mask), np.asarray(logits), -np.inf)
    log_pi = masked - np.log(np.sum(np.exp(masked), axis=-1, keepdims=True))
    chosen = log_pi[np.arange(10), np.asarray(batch.action)]
    imitation = -np.mean(chosen[expert])
    assert float(metrics["loss/imitation"]) == pytest.approx(imitation, rel=1e-5)
    assert float(metrics["expert/share"]) == pytest.approx(0.3)
    total = (float(on_own["loss/policy"]) + 0.5 * expected_value
             - 0.01 * float(on_own["loss/entropy"]) + 0.7 * imitation)
    assert float(loss) == pytest.approx(total, rel=1e-5)
    # Over all the samples: the cross-entropies' sum over the expert's moves / 10 samples.
    over_all, _ = ppo.ppo_loss(logits, values, batch, imitation_coef=0.7,
                               imitation_over_all=True, **OPTIONS)
    assert float(over_all) == pytest.approx(total - 0.7 * imitation - 0.7 * np.sum(chosen[expert])
                                            / 10, rel=1e-5)


def test_without_expert_moves_the_loss_is_unchanged():
    rng = np.random.default_rng(1)
    batch = _batch(rng)
    logits = jnp.asarray(rng.normal(size=(10, 7)), jnp.float32)
    values = jnp.asarray(rng.uniform(-1, 1, 10), jnp.float32)
    plain, _ = ppo.ppo_loss(logits, values, batch, **OPTIONS)
    none_marked, metrics = ppo.ppo_loss(logits, values, batch._replace(
        expert=jnp.zeros(10, bool)), imitation_coef=1.0, **OPTIONS)
    assert float(none_marked) == pytest.approx(float(plain), rel=1e-6)
    assert float(metrics["loss/imitation"]) == 0.0 and float(metrics["expert/share"]) == 0.0


@pytest.mark.slow
def test_a_rollout_plays_the_mates_in_one_and_marks_them():
    """Two hand-made mates in one (one per colour, cshogi-checked) and two start positions, one
    ply: the mates are played (and the games won by their movers), whatever the fresh network
    samples; the start positions' moves are the policy's own."""
    config = load_config("configs/smoke.yaml", ["expert.mate_in_one=true", "env.num_games=4",
                                                "env.rollout_length=1", "ppo.minibatches=1"])
    trainer = make_trainer(config)
    state = init_train_state(config, trainer)
    start = sj.init(max_plies=config.env.max_plies)
    starts = [sj.from_sfen(BLACK_MATES[0]), sj.from_sfen(WHITE_MATES[0]), start, start]
    games = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *starts)
    done = jax.jit(lambda params, games, key: rollout(config, trainer.model, params, games, key,
                                                       jnp.float32(0.0)))(
        state.params, games, jax.random.PRNGKey(0))
    transitions = done.transitions
    np.testing.assert_array_equal(np.asarray(transitions.expert)[0], [True, True, False, False])
    for b, (sfen, mate) in enumerate((BLACK_MATES, WHITE_MATES)):
        board = cshogi.Board(sfen)
        assert mates_in_one(board) == [mate]
        assert sj.action_to_usi(starts[b], int(transitions.action[0, b])) == mate
    np.testing.assert_array_equal(np.asarray(transitions.reward)[0], [1.0, 1.0, 0.0, 0.0])
    # The played move's log-probability is the policy's, for the ratio.
    logits, _ = trainer.model.apply(state.params, jax.vmap(sj.observe)(games))
    log_pi = jax.vmap(lambda lg, m: jax.nn.log_softmax(jnp.where(m, lg, -jnp.inf)))(
        logits, games.legal_action_mask)
    expected = np.take_along_axis(np.asarray(log_pi), np.asarray(transitions.action[0])[:, None],
                                  axis=1)[:, 0]
    np.testing.assert_allclose(np.asarray(transitions.log_prob)[0], expected, rtol=1e-5,
                               atol=1e-6)


@pytest.mark.slow
def test_a_search_rollout_plays_the_mates_in_one_and_learns_them_as_its_policy_target():
    """gumbel_az with 2 simulations a move (too few to find a mate among 16 considered moves by
    search alone): the mates are played and their policy target is one-hot on the mate; the
    start positions keep the search's own move and improved policy."""
    config = load_config("configs/smoke.yaml", [
        "algorithm=gumbel_az", "expert.mate_in_one=true", "gumbel_az.simulations=2",
        "env.num_games=4", "env.rollout_length=1", "ppo.minibatches=1"])
    trainer = make_trainer(config)
    state = init_train_state(config, trainer)
    start = sj.init(max_plies=config.env.max_plies)
    starts = [sj.from_sfen(BLACK_MATES[0]), sj.from_sfen(WHITE_MATES[0]), start, start]
    games = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *starts)
    _, transitions, _ = jax.jit(lambda params, games, key: search_rollout(
        config, trainer.model, params, games, key))(state.params, games, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(np.asarray(transitions.expert)[0], [True, True, False, False])
    target = np.asarray(transitions.policy_target)[0]  # [B, A]
    for b, (_, mate) in enumerate((BLACK_MATES, WHITE_MATES)):
        action = int(transitions.action[0, b])
        assert sj.action_to_usi(starts[b], action) == mate
        np.testing.assert_array_equal(np.flatnonzero(target[b]), [action])
        assert target[b, action] == 1.0
    np.testing.assert_array_equal(np.asarray(transitions.reward)[0], [1.0, 1.0, 0.0, 0.0])
    # The start positions: the search's improved policy over several legal moves.
    for b in (2, 3):
        assert np.isclose(target[b].sum(), 1.0) and (target[b] > 0).sum() > 1
        assert not target[b, ~np.asarray(starts[b].legal_action_mask)].any()


@pytest.mark.slow
def test_a_mate_share_plays_the_found_mates_on_that_share_of_the_plies():
    """expert.mate_share 0.5 over 32 games that each have a mate in one: about half of them
    (binomial, far outside +-3.5 sd fails) play it and are marked; the others are the policy's
    own samples and are not marked."""
    config = load_config("configs/smoke.yaml", [
        "expert.mate_in_one=true", "expert.mate_share=0.5", "env.num_games=32",
        "env.rollout_length=1", "ppo.minibatches=1"])
    trainer = make_trainer(config)
    state = init_train_state(config, trainer)
    starts = [sj.from_sfen((BLACK_MATES, WHITE_MATES)[b % 2][0]) for b in range(32)]
    games = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *starts)
    done = jax.jit(lambda params, games, key: rollout(config, trainer.model, params, games, key,
                                                       jnp.float32(0.0)))(
        state.params, games, jax.random.PRNGKey(0))
    expert = np.asarray(done.transitions.expert)[0]
    assert 6 <= expert.sum() <= 26, expert
    for b in range(32):
        played = sj.action_to_usi(starts[b], int(done.transitions.action[0, b]))
        if expert[b]:
            assert played == (BLACK_MATES, WHITE_MATES)[b % 2][1]
    # The unmarked games won only where the fresh policy happened to sample the mate.
    rewards = np.asarray(done.transitions.reward)[0]
    assert (rewards[expert] == 1.0).all()
