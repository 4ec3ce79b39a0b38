"""The trainer end to end: CLI run writing metrics and TensorBoard events, determinism, counters
that count every game once, legal sampling in the rollout, mixed precision, config errors."""
from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import shogi_jax as sj
from shogi_jax.cli import exit_codes
from shogi_jax.cli import train as train_cli
from shogi_jax.play.model import make_model
from shogi_jax.train import ppo, run_directory
from shogi_jax.train.config import load_config
from shogi_jax.train.iteration import train_iteration
from shogi_jax.train.rollout import rollout
from shogi_jax.train.run_directory import read_metrics
from shogi_jax.train.state import init_train_state, make_trainer, start_position
from shogi_jax.train.updates import az_update

# The full tier (python -m pytest -m ""): this module compiles and runs training iterations.
pytestmark = pytest.mark.slow

SMOKE = "configs/smoke.yaml"
# Games end within the run (the move limit is short), so the counters have something to count.
SHORT_GAMES = ["env.max_plies=6"]


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    """Two CLI runs of the same config and seed, in fresh run directories."""
    runs = []
    for name in ("first", "second"):
        run_dir = tmp_path_factory.mktemp("runs") / name
        argv = ["--config", SMOKE, "--run-dir", str(run_dir), "--quiet"]
        for override in SHORT_GAMES:
            argv += ["--set", override]
        assert train_cli.main(argv) == 0
        runs.append(run_dir)
    return runs


def test_cli_run_writes_config_metrics_and_tensorboard(smoke_runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = smoke_runs[0]
    saved = load_config(run_dir / run_directory.CONFIG_FILE)
    assert saved.env.max_plies == 6 and saved.train.run_dir == str(run_dir)
    records = read_metrics(run_dir)
    assert [r["iteration"] for r in records] == [1, 2]
    assert [r["env_steps"] for r in records] == [64, 128]  # 8 games x 8 plies per iteration
    for key in ("loss/policy", "loss/value", "loss/entropy", "ppo/approx_kl", "ppo/clip_fraction",
                "optim/grad_norm", "optim/learning_rate", "games/finished", "games/mean_length",
                "games/black_wins", "games/white_wins", "games/draws", "games/move_limit",
                "perf/env_steps_per_second", "perf/wall_seconds"):
        assert all(np.isfinite(r[key]) for r in records), key
    assert 0 < records[0]["perf/wall_seconds"] < records[1]["perf/wall_seconds"]
    # 6-ply games in 8-ply rollouts: every game ends by the limit once per ~6 plies.
    assert sum(r["games/finished"] for r in records) > 0
    assert all(r["games/mean_length"] == 6 for r in records)
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    losses = events.Scalars("loss/policy")
    assert [e.step for e in losses] == [1, 2]
    assert losses[0].value == pytest.approx(records[0]["loss/policy"], rel=1e-5)


@pytest.mark.slow
def test_a_time_limit_saves_and_stops_after_the_iteration_that_reaches_it(tmp_path, capsys):
    run_dir = tmp_path / "limited"
    argv = ["--config", SMOKE, "--run-dir", str(run_dir), "--quiet", "--set",
            "train.iterations=50", "--set", "train.time_limit_minutes=1e-9"]
    assert train_cli.main(argv) == exit_codes.STOPPED  # resumable, not finished
    assert [r["iteration"] for r in read_metrics(run_dir)] == [1]
    printed = capsys.readouterr()
    assert "time limit (1e-09 min): saved iteration 1" in printed.err
    assert printed.out.startswith("stopped: 1 of 50 iterations") and "done" not in printed.out
    assert (run_dir / "checkpoints" / "1").is_dir()


def test_same_seed_gives_the_same_metrics(smoke_runs):
    first, second = (read_metrics(run) for run in smoke_runs)
    strip = lambda rs: [{k: v for k, v in r.items() if not k.startswith("perf/")} for r in rs]  # noqa: E731
    assert strip(first) == strip(second)


def test_existing_run_directory_is_never_overwritten(smoke_runs, capsys):
    run_dir = smoke_runs[0]
    before = (run_dir / "metrics.jsonl").read_text()
    assert train_cli.main(["--config", SMOKE, "--run-dir", str(run_dir), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (run_dir / "metrics.jsonl").read_text() == before


@pytest.mark.parametrize("overrides, message", [
    (["ppo.learnin_rate=0.1"], "unknown config key 'ppo.learnin_rate'"),
    (["ppo.epochs=four"], "ppo.epochs: expected int"),
    (["ppo.minibatches=5"], "ppo.minibatches"),
    (["broken"], "broken"),
    (["ppo.warmup_iterations=1000", "ppo.lr_schedule=cosine"], "ppo.warmup_iterations"),
])
def test_bad_configs_fail_before_compiling_with_the_key_named(tmp_path, capsys, overrides,
                                                              message):
    argv = ["--config", SMOKE, "--run-dir", str(tmp_path / "run"), "--quiet"]
    for override in overrides:
        argv += ["--set", override]
    assert train_cli.main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def rollout_result():
    config = load_config(SMOKE, SHORT_GAMES)
    config = dataclasses.replace(config, env=dataclasses.replace(config.env, rollout_length=20))
    trainer = make_trainer(config)
    state = init_train_state(config, trainer)
    _, transitions, tallies, _ = jax.jit(
        lambda params, games, key: rollout(config, trainer.model, params, games, key, 0.0)
    )(state.params, state.games, jax.random.PRNGKey(1))
    return config, transitions, tallies


def test_rollout_plays_only_legal_actions_seen_from_the_mover(rollout_result):
    _, transitions, _ = rollout_result
    mask = np.asarray(transitions.legal_action_mask)
    actions = np.asarray(transitions.action)
    assert np.take_along_axis(mask, actions[..., None], axis=-1).all()
    # The mover's observation shows its own king at 5i (file 5, rank 9) in every opening.
    assert np.asarray(transitions.observation)[0][:, 4, 8, 7].all()


def test_every_finished_game_is_counted_once(rollout_result):
    config, transitions, tallies = rollout_result
    done = np.asarray(transitions.terminated | transitions.truncated)
    assert int(np.sum(tallies.finished)) == int(done.sum()) > 0
    assert int(np.sum(tallies.results)) == int(done.sum())  # one result per game
    assert int(np.sum(tallies.reasons)) == int(done.sum())  # one reason per game
    # 6-ply limit from the start: each game's end is exactly 6 plies after the previous one.
    assert (np.asarray(transitions.truncated).sum(axis=0) == 20 // 6).all()
    # A truncated draw gives no reward; a finished game's last transition is the only non-zero.
    assert np.all(np.asarray(transitions.reward)[np.asarray(transitions.truncated)] == 0)


def test_a_mate_in_the_rollout_rewards_the_mover_and_signs_every_ply_of_its_game():
    """64 games from a mate in one for Black and 64 for White (cshogi-checked in test_gumbel_az),
    4 plies of the untrained smoke network: about one game in ten plays the mate at once, others
    later or never. Every game that ends: cshogi agrees it is mate, the move that mated earns
    the mover +1, the tallies name that side the winner, and with gamma = lambda = 1 the returns
    (GAE's value targets) are +1 on the winner's plies and -1 on the loser's, back to the game's
    start, whatever the untrained values were."""
    import cshogi
    from mate_positions import BLACK_MATES, WHITE_MATES

    import shogi_jax as sj
    from shogi_jax.notation.usi import parse_usi

    per_side, plies = 64, 4
    config = load_config(SMOKE, [f"env.num_games={2 * per_side}", f"env.rollout_length={plies}",
                                 "ppo.gamma=1.0", "ppo.gae_lambda=1.0"])
    trainer = make_trainer(config)
    params = jax.jit(trainer.model.init)(jax.random.PRNGKey(0),
                                         sj.observe(start_position(config))[None])
    starts = [sj.from_sfen(BLACK_MATES[0])] * per_side + [sj.from_sfen(WHITE_MATES[0])] * per_side
    games = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *starts)

    @jax.jit
    def rollout_and_targets(params, games, key):
        _, transitions, tally, _ = rollout(config, trainer.model, params, games, key, 0.0)
        _, returns = ppo.compute_gae(
            transitions.reward, transitions.value, transitions.next_value,
            transitions.terminated, transitions.truncated, gamma=1.0, gae_lambda=1.0)
        return transitions, tally, returns

    transitions, tally, returns = rollout_and_targets(params, games, jax.random.PRNGKey(0))
    reward, returns = np.asarray(transitions.reward), np.asarray(returns)
    terminated = np.asarray(transitions.terminated)
    assert not np.asarray(transitions.truncated).any()
    assert terminated.sum(0).max() <= 1  # a fresh game after a reset cannot end in 4 plies
    assert (reward[:, ~terminated.any(0)] == 0).all()
    actions = np.asarray(transitions.action)
    black_wins = white_wins = 0
    for b in np.flatnonzero(terminated.any(0)):
        end = np.flatnonzero(terminated[:, b])[0]
        # cshogi replays the game: each action is the one legal move of that number.
        board = cshogi.Board(BLACK_MATES[0] if b < per_side else WHITE_MATES[0])
        for t in range(end + 1):
            assert not board.is_game_over()
            played = [move for move in board.legal_moves
                      if parse_usi(cshogi.move_to_usi(move), board.turn)[0] == actions[t, b]]
            assert len(played) == 1, (b, t)
            board.push(played[0])
        assert board.is_game_over() and board.is_check(), b
        black_won = board.turn == cshogi.WHITE  # the mated side is the one to move
        black_wins, white_wins = black_wins + black_won, white_wins + (not black_won)
        assert reward[end, b] == 1.0 and (np.delete(reward[:, b], end) == 0).all()
        np.testing.assert_allclose(returns[:end + 1, b],
                                   [(-1.0) ** (end - t) for t in range(end + 1)], atol=1e-6)
    assert np.asarray(tally.results).sum(0).tolist() == [black_wins, white_wins, 0]
    # The mate at once was played on both sides in some games.
    assert terminated[0, :per_side].any() and terminated[0, per_side:].any()


def test_staggered_starts_spread_the_games_over_legal_positions():
    """env.stagger_plies = 40: the 16 games begin at different plies below 40, each a position
    cshogi accepts with the same legal moves as ours; the same seed gives the same games; at 0
    every game is the start position."""
    import cshogi

    import shogi_jax as sj

    config = load_config(SMOKE, ["env.num_games=16", "env.stagger_plies=40"])
    trainer = make_trainer(config)
    games = init_train_state(config, trainer).games
    plies = np.asarray(games.ply)
    assert plies.max() < 40 and len(set(plies.tolist())) >= 8, plies
    for b in range(16):
        state = jax.tree_util.tree_map(lambda x: x[b], games)
        board = cshogi.Board(sj.to_sfen(state))
        assert not board.is_game_over()
        assert len(list(board.legal_moves)) == int(np.asarray(state.legal_action_mask).sum())
    again = init_train_state(config, trainer).games
    assert (np.asarray(again.board) == np.asarray(games.board)).all()
    together = init_train_state(load_config(SMOKE, ["env.num_games=16"]), trainer).games
    assert (np.asarray(together.ply) == 0).all()
    assert (np.asarray(together.board) == np.asarray(start_position(config).board)).all()


def test_a_wdl_value_head_gives_p_win_minus_p_loss():
    config = load_config(SMOKE, ["model.value_head=wdl"])
    model = make_model(config.model)
    observation = jax.vmap(lambda _: sj.observe(start_position(config)))(jnp.arange(3))
    params = model.init(jax.random.PRNGKey(0), observation)
    logits, value, wdl_logits = model.apply(params, observation, with_wdl=True)
    assert wdl_logits.shape == (3, 3) and wdl_logits.dtype == jnp.float32
    probabilities = np.exp(wdl_logits) / np.exp(wdl_logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(value, probabilities[:, 0] - probabilities[:, 2], rtol=1e-5)
    plain_logits, plain_value = model.apply(params, observation)
    assert (plain_logits == logits).all() and (plain_value == value).all()
    scalar = make_model(load_config(SMOKE).model)
    with pytest.raises(ValueError, match="wdl"):
        scalar.apply(scalar.init(jax.random.PRNGKey(0), observation), observation, with_wdl=True)


@pytest.mark.parametrize("algorithm", ["ppo", "gumbel_az"])
def test_an_update_with_a_wdl_head_fits_win_draw_loss_targets(algorithm):
    """The whole update path of each algorithm with a wdl head (the losses' arithmetic is checked
    against numpy in test_ppo and test_gumbel_az): PPO, one iteration of 6-ply games, logs the
    predicted draw probability; gumbel_az, its updates on a hand-made rollout whose games end
    in a win and in draws. A finite cross-entropy, and the W/D/L layer moves."""
    from shogi_jax.train import gumbel_az

    overrides = SHORT_GAMES + ["model.value_head=wdl", "ppo.minibatches=1"]
    config = load_config(SMOKE, overrides + ([] if algorithm == "ppo" else
                                             ["algorithm=gumbel_az",
                                              "gumbel_az.value_target=outcome"]))
    trainer = make_trainer(config)
    state = init_train_state(config, trainer)
    if algorithm == "ppo":
        new_state, metrics = jax.jit(lambda s: train_iteration(config, trainer, s))(state)
        params = new_state.params
        assert 0.0 < float(metrics["rollout/mean_draw_probability"]) < 1.0
    else:
        length, games = config.env.rollout_length, config.env.num_games
        observation = jnp.broadcast_to(sj.observe(start_position(config)),
                                       (length, games, 9, 9, sj.NUM_OBSERVATION_PLANES))
        legal = jnp.broadcast_to(start_position(config).legal_action_mask,
                                 (length, games, sj.NUM_ACTIONS))
        done = jnp.zeros((length, games), bool).at[-1].set(True)
        reward = jnp.zeros((length, games)).at[-1, 0].set(1.0)  # game 0 won, the others drawn
        transitions = gumbel_az.SearchTransition(
            observation=observation, legal_action_mask=legal,
            policy_target=legal / legal.sum(-1, keepdims=True), action=jnp.zeros(
                (length, games), jnp.int32), root_value=jnp.zeros((length, games)),
            reward=reward, done=done)
        params, _, metrics = jax.jit(lambda p, o: az_update(
            config, trainer, p, o, transitions, jax.random.PRNGKey(0)))(state.params,
                                                                      state.opt_state)
    assert np.isfinite(float(metrics["loss/value"])) and float(metrics["loss/value"]) > 0
    moved = jax.tree_util.tree_map(lambda a, b: bool((a != b).any()), params, state.params)
    assert moved["params"]["Dense_1"]["kernel"] and moved["params"]["Dense_1"]["bias"]
    assert params["params"]["Dense_1"]["kernel"].shape[-1] == 3


def test_mixed_precision_params_float32_trunk_bfloat16_heads_float32():
    config = load_config(SMOKE, ["model.dtype=bfloat16"])
    model = make_model(config.model)
    observation = jnp.zeros((2, 9, 9, 94), jnp.bool_)
    params = model.init(jax.random.PRNGKey(0), observation)
    assert {leaf.dtype for leaf in jax.tree_util.tree_leaves(params)} == {jnp.dtype(jnp.float32)}
    (logits, value), state = model.apply(params, observation, capture_intermediates=True)
    assert logits.dtype == jnp.float32 and value.dtype == jnp.float32
    assert logits.shape == (2, 2187) and value.shape == (2,)
    outputs = {path: x for path, x in _flat(state["intermediates"]).items()
               if path.endswith("__call__") and path.count("/") > 1}
    # The trunk: the stem (Conv_0, LayerNorm_0) and the residual blocks.
    trunk = {path: x for path, x in outputs.items()
             if path.startswith(("/Conv_0/", "/LayerNorm_0/", "/ResidualBlock_"))}
    heads = {path: x for path, x in outputs.items() if path not in trunk}
    assert len(trunk) == 2 + 5 * config.model.blocks
    assert all(x.dtype == jnp.bfloat16 for x in trunk.values()), trunk
    # Policy head: two convolutions; value head: a convolution and two dense layers.
    assert sorted(heads) == ["/Conv_1/__call__", "/Conv_2/__call__", "/Conv_3/__call__",
                             "/Dense_0/__call__", "/Dense_1/__call__"]
    assert all(x.dtype == jnp.float32 for x in heads.values()), heads


def test_the_first_minibatch_sees_a_ratio_of_one():
    """One iteration with a single update (E = M = 1): the parameters are the rollout's, so
    every sample's ratio pi_new / pi_old is 1 unless the rollout's stored log-probabilities
    belong to another action, position or network call. With clip_eps 1e-4 any such sample
    would count in the clip fraction. (A bfloat16 network is not held to this: its trunk rounds
    differently in the rollout's and the gradient's compiled forward passes; measured on the
    shipped net, ~15% of samples off by more than 1% with float32 heads, ~35% with bfloat16
    ones.)"""
    config = load_config(SMOKE, SHORT_GAMES + ["ppo.minibatches=1", "ppo.epochs=1",
                                               "ppo.clip_eps=1e-4"])
    trainer = make_trainer(config)
    _, metrics = jax.jit(lambda s: train_iteration(config, trainer, s))(
        init_train_state(config, trainer))
    assert float(metrics["ppo/clip_fraction"]) == 0.0
    assert float(metrics["ppo/approx_kl"]) < 1e-10
    assert float(metrics["games/finished"]) > 0  # the resets are inside this rollout


def _flat(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        path = f"{prefix}/{key}"
        if isinstance(value, dict):
            out.update(_flat(value, path))
        else:
            for x in value:
                out[path] = x
    return out


def test_metrics_file_is_json_lines(smoke_runs):
    for line in (smoke_runs[1] / "metrics.jsonl").read_text().splitlines():
        assert isinstance(json.loads(line), dict)
