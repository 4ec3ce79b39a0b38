"""algorithm: gumbel_az (search-improved self-play): its targets and loss against hand-worked
cases and numpy references, and one compiled search rollout + update, checked against cshogi.

The rollout starts from two hand-made mates in one (one for each colour, cshogi-checked, with
few enough legal moves that the search visits every one) and two games from the start position,
so a decisive result goes through the rollout, the targets and the tallies with the right sign
for the right mover.
"""
from __future__ import annotations

import cshogi
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from mate_positions import BLACK_MATES, WHITE_MATES, mates_in_one

import shogi_jax as sj
from shogi_jax.host.settings import ConfigError
from shogi_jax.train import gumbel_az
from shogi_jax.train.config import load_config
from shogi_jax.train.rollout import search_moves, search_rollout
from shogi_jax.train.state import init_train_state, make_trainer, start_position
from shogi_jax.train.updates import az_update

# The full tier (python -m pytest -m ""): this module compiles gumbel_az rollouts and updates.
pytestmark = pytest.mark.slow

SMOKE = "configs/smoke.yaml"
SAMPLED_PLIES = 2
STEP = jax.jit(sj.step)
AZ_OVERRIDES = ["algorithm=gumbel_az", "gumbel_az.simulations=16",
                "gumbel_az.max_considered_actions=16", f"gumbel_az.sampled_plies={SAMPLED_PLIES}",
                "env.rollout_length=6", "env.num_games=4"]


# --- targets and loss -------------------------------------------------------------------------

def test_outcome_targets_by_hand():
    # One game slot: a game won by the side that moves at t=2 (reward +1 to it), a new game
    # drawn at the move limit at t=4, then a game still going at the end of the rollout.
    reward = np.array([[0.0], [0.0], [1.0], [0.0], [0.0], [0.0]], np.float32)
    done = np.array([[False], [False], [True], [False], [True], [False]])
    target, known = gumbel_az.outcome_targets(jnp.asarray(reward), jnp.asarray(done))
    # t=1 is the loser's move, t=0 the winner's; the draw's plies are worth 0 to both.
    np.testing.assert_array_equal(np.asarray(target)[:, 0], [1.0, -1.0, 1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(np.asarray(known)[:, 0], [True, True, True, True, True, False])


def _outcome_reference(reward, done):
    """Per game slot, walking forward: each ply's game's last reward, signed for the mover."""
    steps, games = reward.shape
    target, known = np.zeros_like(reward), np.zeros_like(done)
    for b in range(games):
        for t in range(steps):
            end = next((u for u in range(t, steps) if done[u, b]), None)
            if end is not None:
                known[t, b] = True
                target[t, b] = reward[end, b] * (-1) ** (end - t)
    return target, known


def test_outcome_targets_match_the_reference():
    rng = np.random.default_rng(0)
    done = rng.random((40, 7)) < 0.15
    reward = np.where(done, rng.choice([-1.0, 0.0, 1.0], size=done.shape), 0.0).astype(np.float32)
    target, known = gumbel_az.outcome_targets(jnp.asarray(reward), jnp.asarray(done))
    expected_target, expected_known = _outcome_reference(reward, done)
    np.testing.assert_array_equal(np.asarray(known), expected_known)
    np.testing.assert_array_equal(np.asarray(target), expected_target)


def _batch(rng, samples=6, actions=12):
    legal = rng.random((samples, actions)) < 0.5
    legal[:, 0] = True
    weights = np.where(legal, rng.random((samples, actions)), 0.0)
    weights = (weights / weights.sum(1, keepdims=True)).astype(np.float32)
    return gumbel_az.AZBatch(
        policy_target=jnp.asarray(weights),
        value_target=jnp.asarray(rng.choice([-1.0, 0.0, 1.0], samples).astype(np.float32)),
        value_known=jnp.asarray(np.arange(samples) % 3 != 0),
        legal_action_mask=jnp.asarray(legal))


def test_az_loss_matches_a_numpy_reference():
    rng = np.random.default_rng(1)
    batch = _batch(rng)
    logits = rng.normal(size=batch.policy_target.shape).astype(np.float32) * 3
    values = rng.uniform(-1, 1, batch.value_target.shape).astype(np.float32)
    loss, metrics = gumbel_az.az_loss(jnp.asarray(logits), jnp.asarray(values), batch,
                                      value_coef=0.7)
    legal, target = np.asarray(batch.legal_action_mask), np.asarray(batch.policy_target)
    policy = np.where(legal, np.exp(logits), 0.0)
    policy /= policy.sum(1, keepdims=True)
    on = target > 0
    cross_entropy = -np.sum(np.where(on, target * np.log(np.where(on, policy, 1)), 0), 1)
    target_entropy = -np.sum(np.where(on, target * np.log(np.where(on, target, 1)), 0), 1)
    known = np.asarray(batch.value_known)
    value_loss = 0.5 * np.mean((values - np.asarray(batch.value_target))[known] ** 2)
    np.testing.assert_allclose(float(metrics["loss/policy"]), cross_entropy.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(metrics["loss/value"]), value_loss, rtol=1e-5)
    np.testing.assert_allclose(float(loss), cross_entropy.mean() + 0.7 * value_loss, rtol=1e-5)
    np.testing.assert_allclose(float(metrics["az/policy_kl"]),
                               (cross_entropy - target_entropy).mean(), rtol=1e-4, atol=1e-6)
    assert float(metrics["az/value_known"]) == pytest.approx(known.mean())


def test_policy_surprise_weighting_matches_a_numpy_reference():
    """surprise_weight s: sample i's cross-entropy weighs (1 - s) + s x KL_i / mean KL over the
    samples that teach the policy (playout caps: a third here); the value loss is unchanged,
    and s 0 is the plain loss."""
    rng = np.random.default_rng(4)
    batch = _batch(rng)
    policy_known = np.arange(batch.value_target.shape[0]) % 3 == 0
    batch = batch._replace(policy_known=jnp.asarray(policy_known))
    logits = rng.normal(size=batch.policy_target.shape).astype(np.float32) * 3
    values = jnp.asarray(rng.uniform(-1, 1, batch.value_target.shape).astype(np.float32))
    legal, target = np.asarray(batch.legal_action_mask), np.asarray(batch.policy_target)
    policy = np.where(legal, np.exp(logits), 0.0)
    policy /= policy.sum(1, keepdims=True)
    on = target > 0
    cross_entropy = -np.sum(np.where(on, target * np.log(np.where(on, policy, 1)), 0), 1)
    kl = np.sum(np.where(on, target * np.log(np.where(on, target / policy, 1)), 0), 1)
    weight = 0.25 + 0.75 * kl / kl[policy_known].mean()
    _, plain = gumbel_az.az_loss(jnp.asarray(logits), values, batch, value_coef=1.0)
    _, weighted = gumbel_az.az_loss(jnp.asarray(logits), values, batch, value_coef=1.0,
                                    surprise_weight=0.75)
    np.testing.assert_allclose(float(weighted["loss/policy"]),
                               np.mean((weight * cross_entropy)[policy_known]), rtol=1e-4)
    np.testing.assert_allclose(float(plain["loss/policy"]), cross_entropy[policy_known].mean(),
                               rtol=1e-5)
    assert float(weighted["loss/value"]) == pytest.approx(float(plain["loss/value"]))
    assert float(weighted["az/surprise_max_weight"]) == pytest.approx(
        weight[policy_known].max(), rel=1e-4)
    assert "az/surprise_max_weight" not in plain


def test_az_loss_learns_the_policy_only_from_the_known_targets():
    """Playout caps: the samples whose policy target does not count (cheap searches) change
    neither the policy loss nor its metrics, whatever their targets; the value loss keeps them."""
    rng = np.random.default_rng(2)
    batch = _batch(rng)
    logits = jnp.asarray(rng.normal(size=batch.policy_target.shape).astype(np.float32))
    values = jnp.asarray(rng.uniform(-1, 1, batch.value_target.shape).astype(np.float32))
    policy_known = np.arange(batch.value_target.shape[0]) % 3 == 0
    capped = batch._replace(policy_known=jnp.asarray(policy_known))
    # The same samples with the cheap searches' targets replaced by others.
    others = np.asarray(_batch(np.random.default_rng(9)).policy_target)
    scrambled = capped._replace(policy_target=jnp.where(policy_known[:, None],
                                                        batch.policy_target, others))
    _, metrics = gumbel_az.az_loss(logits, values, capped, value_coef=1.0)
    _, scrambled_metrics = gumbel_az.az_loss(logits, values, scrambled, value_coef=1.0)
    known_only = jax.tree_util.tree_map(lambda x: x[policy_known], batch)
    _, subset = gumbel_az.az_loss(logits[policy_known], values[policy_known], known_only,
                                  value_coef=1.0)
    for name in ("loss/policy", "az/policy_kl", "az/target_entropy"):
        assert float(metrics[name]) == pytest.approx(float(subset[name]), rel=1e-5), name
        assert float(scrambled_metrics[name]) == pytest.approx(float(metrics[name]), rel=1e-6)
    _, uncapped = gumbel_az.az_loss(logits, values, batch, value_coef=1.0)
    assert float(metrics["loss/value"]) == pytest.approx(float(uncapped["loss/value"]))
    assert float(metrics["az/policy_known"]) == pytest.approx(policy_known.mean())
    assert float(uncapped["az/policy_known"]) == 1.0


def test_az_loss_with_a_wdl_head_is_the_outcome_class_cross_entropy():
    rng = np.random.default_rng(3)
    batch = _batch(rng)
    logits = rng.normal(size=batch.policy_target.shape).astype(np.float32)
    wdl_logits = rng.normal(size=(batch.value_target.shape[0], 3)).astype(np.float32)
    _, metrics = gumbel_az.az_loss(jnp.asarray(logits), jnp.zeros(batch.value_target.shape),
                                   batch, value_coef=1.0, wdl_logits=jnp.asarray(wdl_logits))
    log_p = wdl_logits - np.log(np.exp(wdl_logits).sum(-1, keepdims=True))
    outcome_class = 1 - np.asarray(batch.value_target).astype(int)  # +1 W, 0 D, -1 L
    known = np.asarray(batch.value_known)
    expected = -log_p[np.arange(len(known)), outcome_class][known].mean()
    np.testing.assert_allclose(float(metrics["loss/value"]), expected, rtol=1e-5)


def test_az_loss_is_least_where_the_policy_is_the_target_and_its_gradient_finite():
    batch = _batch(np.random.default_rng(2))
    target = np.asarray(batch.policy_target)
    matching = np.where(target > 0, np.log(np.maximum(target, 1e-30)), -5.0)
    values = jnp.zeros(batch.value_target.shape)
    _, at_target = gumbel_az.az_loss(jnp.asarray(matching), values, batch, value_coef=1.0)
    assert abs(float(at_target["az/policy_kl"])) < 1e-5
    grads = jax.grad(lambda logits: gumbel_az.az_loss(logits, values, batch, value_coef=1.0)[0])(
        jnp.asarray(matching) + 1.0)
    assert np.isfinite(np.asarray(grads)).all()
    # No gradient reaches an illegal action's logit.
    assert not np.asarray(grads)[~np.asarray(batch.legal_action_mask)].any()


def test_shaping_is_refused_under_gumbel_az():
    with pytest.raises(ConfigError, match="reward_shaping.material_weight"):
        load_config(SMOKE, AZ_OVERRIDES + ["reward_shaping.material_weight=0.02"])
    with pytest.raises(ConfigError, match="algorithm"):
        load_config(SMOKE, ["algorithm=alphazero"])


# --- one compiled rollout and update ----------------------------------------------------------

def test_the_hand_made_mates_are_what_cshogi_says():
    for sfen, mate in (BLACK_MATES, WHITE_MATES):
        board = cshogi.Board(sfen)
        # Few legal moves: the search (16 considered actions) visits every one of them.
        assert len(list(board.legal_moves)) <= 16, sfen
        assert mates_in_one(board) == [mate], sfen


@pytest.fixture(scope="module")
def az_iteration():
    """(config, start states, transitions, new params, metrics): one search rollout of 6 plies
    of 4 games (the two mates, two from the start position) and the updates after it, under
    one jit."""
    config = load_config(SMOKE, AZ_OVERRIDES)
    trainer = make_trainer(config)
    state = init_train_state(config, trainer)
    start = sj.init(max_plies=config.env.max_plies)
    starts = [sj.from_sfen(BLACK_MATES[0]), sj.from_sfen(WHITE_MATES[0]), start, start]
    games = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *starts)

    @jax.jit
    def rollout_and_update(params, opt_state, games, key):
        rollout_key, update_key = jax.random.split(key)
        games, transitions, tally = search_rollout(config, trainer.model, params, games,
                                                      rollout_key)
        params, opt_state, metrics = az_update(config, trainer, params, opt_state,
                                                  transitions, update_key)
        return transitions, tally, params, metrics

    transitions, tally, params, metrics = rollout_and_update(state.params, state.opt_state,
                                                             games, jax.random.PRNGKey(3))
    return config, starts, state.params, transitions, tally, params, metrics


def _replay(starts, transitions):
    """Per game slot, the USI moves of each game played, replayed by our rules from `starts`
    (a slot restarts from the start position after a game ends): [[(sfen, moves), ...], ...]."""
    actions, done = np.asarray(transitions.action), np.asarray(transitions.done)
    slots = []
    for b, state in enumerate(starts):
        games, sfen, moves = [], sj.to_sfen(state), []
        for t in range(actions.shape[0]):
            moves.append(sj.action_to_usi(state, int(actions[t, b])))
            state = STEP(state, int(actions[t, b]))
            if done[t, b]:
                games.append((sfen, moves))
                state = sj.init()
                sfen, moves = sj.to_sfen(state), []
        slots.append(games + [(sfen, moves)])
    return slots


def test_search_rollout_plays_legal_moves_and_mates(az_iteration):
    _, starts, _, transitions, tally, _, _ = az_iteration
    slots = _replay(starts, transitions)
    for games in slots:
        for sfen, moves in games:
            board = cshogi.Board(sfen)
            for move in moves:
                assert board.is_legal(board.move_from_usi(move)), (sfen, moves)
                board.push_usi(move)
    # Both mates found at once: the mover's reward +1 on that ply, and the tallies agree.
    assert slots[0][0] == (BLACK_MATES[0], [BLACK_MATES[1]])
    assert slots[1][0] == (WHITE_MATES[0], [WHITE_MATES[1]])
    reward, done = np.asarray(transitions.reward), np.asarray(transitions.done)
    np.testing.assert_array_equal(reward[0], [1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(done[0], [True, True, False, False])
    assert np.asarray(tally.results).sum(0).tolist() == [1, 1, 0]  # Black won one, White one


def _states_before_each_ply(config, starts, transitions):
    """State[B] before ply t, for every t: the rollout's games replayed by our rules."""
    actions, done = np.asarray(transitions.action), np.asarray(transitions.done)
    states, before = list(starts), []
    for t in range(actions.shape[0]):
        before.append(jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *states))
        states = [start_position(config) if done[t, b] else STEP(state, int(actions[t, b]))
                  for b, state in enumerate(states)]
    return before


def test_policy_targets_and_the_move_schedule(az_iteration):
    """Each ply's search again, with the key the rollout derived for it: the same improved
    policy (the target), and the move played is the search's choice after the SAMPLED_PLIES
    first plies of a game, a sample from the improved policy before."""
    config, starts, params, transitions, _, _, _ = az_iteration
    weights = np.asarray(transitions.policy_target)
    legal = np.asarray(transitions.legal_action_mask)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert not (weights * ~legal).any()
    search = jax.jit(search_moves(config, make_trainer(config).model))
    rollout_key = jax.random.split(jax.random.PRNGKey(3))[0]  # as az_iteration split it
    actions = np.asarray(transitions.action)
    sampled_differently = 0
    for t, states in enumerate(_states_before_each_ply(config, starts, transitions)):
        search_key, _ = jax.random.split(jax.random.split(rollout_key,
                                                          config.env.rollout_length)[t])
        chosen, again, _ = search(params, None, states,
                                  jax.random.split(search_key, len(starts)))
        np.testing.assert_allclose(np.asarray(again), weights[t], rtol=1e-5, atol=1e-7)
        late = np.asarray(states.ply) >= SAMPLED_PLIES
        np.testing.assert_array_equal(actions[t][late], np.asarray(chosen)[late])
        sampled_differently += int(np.sum((actions[t] != np.asarray(chosen)) & ~late))
    assert sampled_differently > 0  # the opening plies sample (a fixed seed: not by chance)


def test_value_targets_and_the_update(az_iteration):
    config, _, old_params, transitions, _, new_params, metrics = az_iteration
    target, known = gumbel_az.outcome_targets(transitions.reward, transitions.done)
    # The mates' plies are known wins for their movers; the other games outlive the rollout.
    np.testing.assert_array_equal(np.asarray(known)[0], [True, True, False, False])
    np.testing.assert_array_equal(np.asarray(target)[0], [1.0, 1.0, 0.0, 0.0])
    # The update's targets are the bootstrapped ones (the default): every ply has one, and the
    # mates' plies keep their outcome.
    assert config.gumbel_az.value_target == "bootstrap"
    assert float(metrics["az/value_known"]) == 1.0
    bootstrapped = gumbel_az.bootstrapped_targets(
        transitions.reward, transitions.done, transitions.root_value,
        td_lambda=config.gumbel_az.value_lambda)
    np.testing.assert_array_equal(np.asarray(bootstrapped)[0, :2], [1.0, 1.0])
    # Every game in flight at the end: its last ply's target is that ply's own root value.
    going = np.asarray(transitions.root_value)[-1]
    np.testing.assert_allclose(np.asarray(bootstrapped)[-1], going, rtol=1e-6)
    for name in ("loss/policy", "loss/value", "loss/total", "az/policy_kl", "optim/grad_norm"):
        assert np.isfinite(float(metrics[name])), name
    moved = [float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(
        jax.tree_util.tree_leaves(old_params), jax.tree_util.tree_leaves(new_params))]
    assert max(moved) > 0


def test_material_in_the_self_play_search_values_a_rook_ahead_as_material_says():
    """gumbel_az.material_weight 1: every position the search evaluates is worth tanh(material
    / 10) to its mover, whatever the (untrained) network says. Black, a rook up (white's rook
    removed from the start position), can capture nothing in two plies and be captured from in
    none: every searched value, and so the root's, is tanh(10 / 10). Weight None: the
    network's value, near 0 untrained."""
    config = load_config(SMOKE, AZ_OVERRIDES)
    params = init_train_state(config, make_trainer(config)).params
    rook_ahead = sj.from_sfen("lnsgkgsnl/7b1/ppppppppp/9/9/9/PPPPPPPPP/1B5R1/LNSGKGSNL b - 1")
    games = jax.tree_util.tree_map(lambda x: x[None], rook_ahead)
    search = jax.jit(search_moves(config, make_trainer(config).model))
    keys = jax.random.split(jax.random.PRNGKey(0), 1)
    _, _, material_value = search(params, jnp.float32(1.0), games, keys)
    _, _, network_value = search(params, None, games, keys)
    np.testing.assert_allclose(np.asarray(material_value), [np.tanh(1.0)], rtol=1e-5)
    assert abs(float(network_value[0])) < 0.3


def test_playout_caps_search_the_drawn_plies_in_full_and_the_others_cheaply():
    """gumbel_az.cheap_simulations 2 (of 4) at full_search_share 0.5, against the uncapped
    rollout from the same positions and key. The key is one whose draws (one per ply, for all
    games alike) make ply 0 full and ply 1 cheap: ply 0 is then the uncapped rollout's, bit for
    bit (the draw has its own stream), so both reach the same positions; ply 1 searches them with
    the same keys but 2 simulations, another improved policy, and is marked as no policy target.
    The update learns the policy from the marked plies only."""
    key = jax.random.PRNGKey(8)
    small = ["gumbel_az.simulations=4", "gumbel_az.max_considered_actions=4",
             "env.rollout_length=2", "env.num_games=2"]

    def config_of(overrides):
        return load_config(SMOKE, AZ_OVERRIDES + small + overrides)

    plain_config = config_of([])
    capped_config = config_of(["gumbel_az.cheap_simulations=2", "gumbel_az.full_search_share=0.5"])
    trainer = make_trainer(plain_config)  # the same network for both
    state = init_train_state(plain_config, trainer)
    games = jax.tree_util.tree_map(lambda x: jnp.stack([x] * 2), start_position(plain_config))
    _, plain, _ = jax.jit(lambda params, games: search_rollout(
        plain_config, trainer.model, params, games, key))(state.params, games)

    @jax.jit
    def capped_rollout_and_update(params, opt_state, games):
        _, transitions, _ = search_rollout(capped_config, trainer.model, params, games, key)
        _, _, metrics = az_update(capped_config, trainer, params, opt_state, transitions, key)
        return transitions, metrics

    capped, metrics = capped_rollout_and_update(state.params, state.opt_state, games)
    assert plain.policy_known is None
    np.testing.assert_array_equal(np.asarray(capped.policy_known), [[True, True], [False, False]])
    for field in ("action", "policy_target", "root_value"):
        np.testing.assert_array_equal(np.asarray(getattr(capped, field))[0],
                                      np.asarray(getattr(plain, field))[0], err_msg=field)
    np.testing.assert_array_equal(np.asarray(capped.observation)[1],
                                  np.asarray(plain.observation)[1])
    assert not np.allclose(np.asarray(capped.policy_target)[1],
                           np.asarray(plain.policy_target)[1])
    assert float(metrics["az/policy_known"]) == 0.5


def test_cheap_simulations_must_be_fewer_than_the_full_search():
    with pytest.raises(ConfigError, match="cheap_simulations"):
        load_config(SMOKE, AZ_OVERRIDES + ["gumbel_az.cheap_simulations=16"])
