"""The opponent pool: its ring of frozen networks, how a member is drawn, the pool games of a
rollout (whose moves, which ones train, the learner's results), and a run that resumes bit-exact
with its pool."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import metrics_a_resume_keeps

import shogi_jax as sj
from shogi_jax.host.settings import ConfigError
from shogi_jax.play.policy import sample_actions
from shogi_jax.train import pool
from shogi_jax.train.config import load_config
from shogi_jax.train.rollout import PoolGames, rollout
from shogi_jax.train.state import init_train_state, make_trainer, start_position

# The full tier (python -m pytest -m ""): this module compiles rollouts against an opponent pool.
pytestmark = pytest.mark.slow

SMOKE = "configs/smoke.yaml"


def _pool_of(added_at, games=None, points=None):
    size = len(added_at)
    return pool.Pool(params={"w": jnp.arange(size, dtype=jnp.float32)},
                     added_at=jnp.asarray(added_at, jnp.int32),
                     games=jnp.asarray(games if games is not None else [0.0] * size, jnp.float32),
                     learner_points=jnp.asarray(points if points is not None else [0.0] * size,
                                                jnp.float32))


def test_a_new_pool_holds_the_initial_network_alone():
    fresh = pool.new_pool({"w": jnp.float32(7.0)}, 3)
    assert fresh.params["w"].tolist() == [7.0, 7.0, 7.0]
    assert fresh.added_at.tolist() == [0, -1, -1]
    for sampling in ("recency", "rating", "uniform"):
        assert pool.draw_weights(fresh, sampling).tolist() == [1.0, 0.0, 0.0]


def test_members_join_a_ring_every_n_iterations_with_a_clean_record():
    ring = pool.new_pool({"w": jnp.float32(0.0)}, 3)
    ring = pool.record_results(ring, 0, jnp.float32(4.0), jnp.float32(3.0))
    written = []
    for iteration in range(1, 9):  # every 2 iterations: at 2, 4, 6, 8
        ring = pool.add_member(ring, {"w": jnp.float32(iteration)}, jnp.int32(iteration), 2)
        written.append(ring.added_at.tolist())
    assert written[0] == [0, -1, -1]  # iteration 1: nobody joins
    assert written[1] == [0, 2, -1] and written[3] == [0, 2, 4]
    assert written[5] == [6, 2, 4]  # the ring wraps: the initial network is overwritten
    assert written[7] == [6, 8, 4]
    assert ring.params["w"].tolist() == [6.0, 8.0, 4.0]
    assert ring.games.tolist() == [0.0, 0.0, 0.0]  # slot 0's record went with its network


def test_draw_weights_by_hand():
    # Slot 1 empty; members added at iterations 10, 30, 20.
    members = _pool_of([10, -1, 30, 20], games=[10, 0, 4, 0], points=[9, 0, 1, 0])
    recency = pool.draw_weights(members, "recency")
    np.testing.assert_allclose(recency, np.array([1, 0, 3, 2]) / 6)  # oldest 1, newest 3
    # The learner's smoothed scores: 10/12, 2/6, 1/2; weights (1 - s)^2 + 1e-3.
    raw = np.array([(2 / 12) ** 2, 0, (4 / 6) ** 2, 0.25]) + np.array([1, 0, 1, 1]) * 1e-3
    np.testing.assert_allclose(pool.draw_weights(members, "rating"), raw / raw.sum(), rtol=1e-5)
    np.testing.assert_allclose(pool.draw_weights(members, "uniform"), [1 / 3, 0, 1 / 3, 1 / 3])
    with pytest.raises(ValueError, match="sampling"):
        pool.draw_weights(members, "elo")


def test_drawn_members_follow_the_weights():
    members = _pool_of([10, -1, 30, 20])
    keys = jax.random.split(jax.random.PRNGKey(0), 6000)
    drawn = np.asarray(jax.vmap(lambda k: pool.draw_member(k, members, "recency"))(keys))
    np.testing.assert_allclose(np.bincount(drawn, minlength=4) / len(drawn),
                               np.array([1, 0, 3, 2]) / 6, atol=0.02)


def test_pool_shares_that_do_not_fit_are_refused():
    with pytest.raises(ConfigError, match="pool.share"):
        load_config(SMOKE, ["pool.share=0.75"])
    with pytest.raises(ConfigError, match="env.num_games = 8 a multiple of 3"):
        load_config(SMOKE, ["pool.share=0.34"])
    with pytest.raises(ConfigError, match="algorithm"):
        load_config(SMOKE, ["pool.share=0.5", "algorithm=gumbel_az"])
    # On 8 devices, 8 games leave one game a device, and one game in 2 is a pool game.
    config = load_config(SMOKE, ["pool.share=0.5"])
    mesh = type("FakeMesh", (), {"size": 8})()
    with pytest.raises(ConfigError, match="one game in 2"):
        PoolGames.of(config, mesh)


def test_the_pool_games_of_a_rollout():
    """8 games, one in 2 against a pool member (a network of its own), 8 plies of 6-ply games:
    every move is the sample of its mover's network with the rollout's key for that ply (the
    learner's or the member's), only the learner's moves train, and the learner's results in
    the pool games are tallied from its side."""
    config = load_config(SMOKE, ["pool.share=0.5", "env.max_plies=6"])
    trainer = make_trainer(config)
    start = start_position(config)
    observation = sj.observe(start)[None]
    params = trainer.model.init(jax.random.PRNGKey(0), observation)
    member = trainer.model.init(jax.random.PRNGKey(1), observation)
    games = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (8,) + x.shape), start)
    key = jax.random.PRNGKey(5)
    result = jax.jit(lambda p, m, g: rollout(config, trainer.model, p, g, key, 0.0,
                                                opponent_params=m))(params, member, games)
    transitions = result.transitions
    actions, trains = np.asarray(transitions.action), np.asarray(transitions.trains)
    done = np.asarray(transitions.terminated | transitions.truncated)
    # Black moves first in every game; learner colours of pool games 0, 2, 4, 6: B, W, B, W.
    color = np.zeros(8, int)
    expected_trains = np.ones_like(trains)
    for t in range(config.env.rollout_length):
        learner_key, member_key = jax.random.split(jax.random.split(key, 8)[t])
        mask = transitions.legal_action_mask[t]
        learner_logits, _ = trainer.model.apply(params, transitions.observation[t])
        learner_moves, _ = sample_actions(learner_key, learner_logits, mask)
        member_logits, _ = trainer.model.apply(member, transitions.observation[t, ::2])
        member_moves, _ = sample_actions(member_key, member_logits, mask[::2])
        member_turn = color[::2] != np.arange(4) % 2
        expected_trains[t, ::2] = ~member_turn
        expected = np.asarray(learner_moves).copy()
        expected[::2] = np.where(member_turn, np.asarray(member_moves), expected[::2])
        np.testing.assert_array_equal(actions[t], expected, err_msg=f"ply {t}")
        color = np.where(done[t], 0, 1 - color)
    np.testing.assert_array_equal(trains, expected_trains)
    assert (~trains).any() and trains[:, 1::2].all()  # self-play games train every move
    # 6-ply games from the start end in draws by the move limit: half a point each.
    finished = done[:, ::2].sum(0)
    np.testing.assert_array_equal(np.asarray(result.pool_tally.finished), finished)
    np.testing.assert_array_equal(np.asarray(result.pool_tally.learner_points), 0.5 * finished)


@pytest.mark.slow
def test_a_run_with_a_pool_resumes_bit_exact(tmp_path):
    from shogi_jax.cli import train as train_cli
    from shogi_jax.train import checkpoint, run_directory
    from shogi_jax.train.run_directory import read_metrics

    common = ["--config", SMOKE, "--quiet", "--set", "checkpoint.every_iterations=1",
              "--set", "env.max_plies=6", "--set", "pool.share=0.5", "--set", "pool.size=2",
              "--set", "pool.add_every_iterations=1", "--set", "pool.sampling=rating"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train_cli.main(common + ["--run-dir", str(straight), "--set", "train.iterations=4"]) == 0
    assert train_cli.main(common + ["--run-dir", str(split), "--set", "train.iterations=2"]) == 0
    assert train_cli.main(common + ["--run-dir", str(split), "--set", "train.iterations=4",
                                    "--resume"]) == 0

    def final_state(run_dir):
        config = load_config(run_dir / run_directory.CONFIG_FILE)
        manager = checkpoint.open_manager(run_dir, config)
        try:
            return checkpoint.restore_latest(
                manager, init_train_state(config, make_trainer(config)), config)
        finally:
            manager.close()

    one, other = final_state(straight), final_state(split)
    assert one.pool.added_at.tolist() == [4, 3]  # joined at 1, 2, 3, 4 into a ring of 2
    for a, b in zip(jax.tree_util.tree_leaves(one), jax.tree_util.tree_leaves(other)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    kept = [metrics_a_resume_keeps(read_metrics(run)) for run in (straight, split)]
    assert kept[0] == kept[1]
    assert {"pool/members", "pool/member_score", "pool/games_finished"} <= set(kept[0][0])
    assert sum(record["pool/games_finished"] for record in kept[0]) > 0
