"""One training iteration, jitted whole: self-play rollout, targets, E x M minibatch updates.

B games (`env.num_games`) are played side by side for T plies (`env.rollout_length`) with the
current network choosing every move for both sides; finished games restart from the start position
at once (auto-reset). `algorithm: ppo`: the policy samples the moves, GAE gives the targets of PPO
updates. `algorithm: gumbel_az`: a Gumbel MuZero search over the rules plays the moves, its
improved policy and the games' outcomes are the targets (`gumbel_az`). Both share the skeleton:
the games, the tallies, the minibatches and the optimizer. Everything, counters included, lives
in `TrainState`; the host loop only calls the iteration and logs what it returns.
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

import shogi_jax as sj
from shogi_jax.host import parallel
from shogi_jax.host.settings import ConfigError
from shogi_jax.play import policy, wdl
from shogi_jax.play.model import make_model
from shogi_jax.play.search import SearchSettings, search_one_game
from shogi_jax.rules.state import State, select_games
from shogi_jax.train import gumbel_az, pool, ppo, shaping
from shogi_jax.train.config import Config
from shogi_jax.train.pool import Pool

NUM_REASONS = len(sj.TERMINATION_NAMES)
RESULT_NAMES = ("black_wins", "white_wins", "draws")


class TrainState(NamedTuple):
    """Everything training needs, on device; the single source of truth for every counter.

    Env steps are not stored: every iteration plays exactly B x T of them, so they are
    `iteration * num_games * rollout_length` (see `env_steps`).
    """

    params: Any
    opt_state: Any
    games: State  # [B] games in flight, each from its mover's view
    key: jax.Array  # uint32[2] PRNG key, split at each iteration
    iteration: jax.Array  # int32[] iterations completed
    games_finished: jax.Array  # int32[] games ended since the start of training
    results: jax.Array  # int32[3] finished games: Black wins, White wins, draws
    reasons: jax.Array  # int32[NUM_REASONS] finished games by termination code
    pool: Pool | None = None  # the opponent pool (pool.share > 0), replicated


def env_steps(config: Config, iteration: int) -> int:
    """Env steps (plies, all games together) after `iteration` iterations."""
    return iteration * config.env.num_games * config.env.rollout_length


def total_updates(config: Config) -> int:
    """Optimizer updates over the whole run (the learning-rate schedule's length)."""
    return config.train.iterations * config.ppo.epochs * config.ppo.minibatches


class Trainer(NamedTuple):
    """The pieces a run is built from: the network, the optimizer and the schedule."""

    model: Any
    optimizer: optax.GradientTransformation
    schedule: optax.Schedule


def make_trainer(config: Config) -> Trainer:
    ppo_config = config.ppo
    updates_per_iteration = ppo_config.epochs * ppo_config.minibatches
    schedule = ppo.learning_rate_schedule(
        ppo_config.lr_schedule, learning_rate=ppo_config.learning_rate,
        warmup_steps=ppo_config.warmup_iterations * updates_per_iteration,
        total_steps=total_updates(config))
    return Trainer(make_model(config.model),
                   ppo.make_optimizer(schedule, max_grad_norm=ppo_config.max_grad_norm),
                   schedule)


def start_position(config: Config) -> State:
    return sj.init(max_plies=config.env.max_plies, impasse=config.env.impasse)


def staggered_games(config: Config, games: State, key) -> State:
    """B games played on by uniformly random moves, game b for plies[b] ~ U{0 .. N-1} plies
    (N = env.stagger_plies; a game that ends meanwhile restarts from the start position).

    Without it all B games start together and stay in step until the first ones end: an
    iteration's batch then holds the same phase of every game (the openings, then the early
    middle games, ...), for the first ~16 iterations of cpu.yaml. These plies are not trained
    on, but they count in the length (games/mean_length) of each slot's first game."""
    num_games, spread = games.legal_action_mask.shape[0], config.env.stagger_plies
    count_key, move_key = jax.random.split(key)
    plies = jax.random.randint(count_key, (num_games,), 0, spread)  # int32[B]
    step, _ = _rules_on_own_games(config, None)
    start = start_position(config)
    uniform = jnp.zeros(games.legal_action_mask.shape, jnp.float32)  # logits of equal moves

    def ply(games, t_and_key):
        t, ply_key = t_and_key
        action, _ = policy.sample_actions(ply_key, uniform, games.legal_action_mask)
        after = step(games, action)
        after = select_games(after.terminated | after.truncated, start, after)
        return select_games(t < plies, after, games), None

    return jax.lax.scan(ply, games, (jnp.arange(spread), jax.random.split(move_key, spread)))[0]


def init_train_state(config: Config, trainer: Trainer) -> TrainState:
    """Fresh parameters (seeded by train.seed), optimizer state and B games at the start
    (each played on by `staggered_games` when env.stagger_plies is set)."""
    key = jax.random.PRNGKey(config.train.seed)
    params_key, key = jax.random.split(key)
    start = start_position(config)
    params = trainer.model.init(params_key, sj.observe(start)[None])
    games = jax.tree_util.tree_map(
        lambda x: jnp.broadcast_to(x, (config.env.num_games,) + x.shape), start)
    if config.env.stagger_plies:
        stagger_key, key = jax.random.split(key)
        games = staggered_games(config, games, stagger_key)
    return TrainState(
        params=params, opt_state=trainer.optimizer.init(params), games=games, key=key,
        iteration=jnp.int32(0), games_finished=jnp.int32(0),
        results=jnp.zeros(len(RESULT_NAMES), jnp.int32),
        reasons=jnp.zeros(NUM_REASONS, jnp.int32),
        pool=pool.new_pool(params, config.pool.size) if config.pool.share > 0 else None)


class _Tally(NamedTuple):
    """Games that ended, counted per game slot over the plies of a rollout; summed over the
    batch only once the rollout is over (one reduction across devices, not one per ply)."""

    finished: jax.Array  # int32[B]
    results: jax.Array  # int32[B, 3] Black wins, White wins, draws
    reasons: jax.Array  # int32[B, NUM_REASONS]
    plies: jax.Array  # int32[B] total length of the finished games


def _tally(done, after: State) -> _Tally:
    """The games that ended on this ply (done: bool[B]), per game slot."""
    black_won = after.rewards[:, 0] > 0
    white_won = after.rewards[:, 1] > 0
    results = jnp.stack([black_won, white_won, ~black_won & ~white_won], axis=-1) & done[:, None]
    reasons = (after.termination[:, None] == jnp.arange(NUM_REASONS)) & done[:, None]
    return _Tally(done.astype(jnp.int32), results.astype(jnp.int32), reasons.astype(jnp.int32),
                  jnp.where(done, after.ply, 0))


def _no_games_ended(games: State) -> _Tally:
    """The tally of a rollout before its first ply: zeros, per game slot."""
    return jax.tree_util.tree_map(jnp.zeros_like, _tally(jnp.zeros_like(games.terminated), games))


def _rules_on_own_games(config: Config, mesh: Mesh | None):
    """(step, observe) of B games under the training games' rules, each device on its own."""
    step = parallel.on_own_games(jax.vmap(functools.partial(
        sj.step, max_plies=config.env.max_plies, impasse=config.env.impasse)), mesh)
    return step, parallel.on_own_games(jax.vmap(sj.observe), mesh)


class PoolGames(NamedTuple):
    """Which of the B games the learner plays against a pool member (`pool.share` > 0): every
    `stride`-th one (games 0, k, 2k, ... with k = round(1 / share)). The pattern does not depend
    on how the games are split over devices, and each device's block holds the same number of
    pool games, so every device picks its own without moving data."""

    stride: int

    @classmethod
    def of(cls, config: Config, mesh: Mesh | None) -> "PoolGames | None":
        if config.pool.share <= 0:
            return None
        stride = config.pool.stride
        blocks = 1 if mesh is None else mesh.size
        if (config.env.num_games // blocks) % stride:
            raise ConfigError(
                f"pool.share = {config.pool.share} (one game in {stride}) needs each of the "
                f"{blocks} devices' {config.env.num_games // blocks} games to be a multiple of "
                f"{stride}: change env.num_games or pool.share")
        return cls(stride)

    def take(self, x):
        """x[B, ...] -> the pool games' x[B / stride, ...]."""
        return x.reshape((-1, self.stride) + x.shape[1:])[:, 0]

    def put(self, x, values):
        """x[B, ...] with the pool games' entries replaced by values[B / stride, ...]."""
        split = x.reshape((-1, self.stride) + x.shape[1:])
        return split.at[:, 0].set(values).reshape(x.shape)

    def learner_colors(self, num_pool_games: int):
        """int32[B / stride]: the learner plays Black in every other pool game."""
        return jnp.arange(num_pool_games, dtype=jnp.int32) % 2


class PoolTally(NamedTuple):
    """Pool games that ended in a rollout, from the learner's side, per pool game."""

    finished: jax.Array        # float32[B / stride]
    learner_points: jax.Array  # float32[B / stride] win 1, draw 1/2


class Rollout(NamedTuple):
    games: State                       # [B] the games in flight after the rollout
    transitions: ppo.Transition        # [T, B]
    tally: _Tally                      # [B]
    pool_tally: PoolTally | None = None


def rollout(config: Config, model, params, games: State, key, shaping_weight,
            mesh: Mesh | None = None, opponent_params=None) -> Rollout:
    """T plies in each of B games (a Rollout).

    With `pool.share` > 0, the learner meets the network `opponent_params` in the pool games
    (`PoolGames`): that network moves for its side (sampling its own policy), and those plies
    are marked as not the learner's (Transition.trains). With the games split over `mesh`,
    every device steps and observes only its own games."""
    step, observe = _rules_on_own_games(config, mesh)
    pool_games = PoolGames.of(config, mesh)
    start = start_position(config)
    start_observation = sj.observe(start)
    # Every reset game starts from the same position: its network outputs are computed once.
    start_logits, start_value = model.apply(params, start_observation[None])
    observation = observe(games)
    logits, value = model.apply(params, observation)

    def ply(carry, step_key):
        games, observation, logits, value, tally, pool_tally = carry
        trains = None
        if pool_games is None:
            action, log_prob = policy.sample_actions(step_key, logits, games.legal_action_mask)
        else:
            learner_key, opponent_key = jax.random.split(step_key)
            action, _ = policy.sample_actions(learner_key, logits, games.legal_action_mask)
            pool_mask = pool_games.take(games.legal_action_mask)
            opponent_logits, _ = model.apply(opponent_params, pool_games.take(observation))
            opponent_action, _ = policy.sample_actions(opponent_key, opponent_logits, pool_mask)
            learner_colors = pool_games.learner_colors(pool_mask.shape[0])
            opponent_moves = pool_games.take(games.color) != learner_colors
            action = pool_games.put(action, jnp.where(opponent_moves, opponent_action,
                                                      pool_games.take(action)))
            log_prob = jnp.take_along_axis(
                policy.masked_log_softmax(logits, games.legal_action_mask), action[:, None],
                axis=-1)[:, 0]
            trains = pool_games.put(jnp.ones(action.shape, bool), ~opponent_moves)
        after = step(games, action)
        after_observation = observe(after)
        # Outputs on the state before any reset: the next mover's policy, and the value that
        # bootstraps a game cut by the move limit.
        after_logits, after_value, after_wdl = network_outputs(config, model, params,
                                                               after_observation)
        next_wdl = None if after_wdl is None else jax.nn.softmax(after_wdl, axis=-1)
        mover = games.color
        reward = jnp.take_along_axis(after.rewards, mover[:, None], axis=1)[:, 0]
        shaping_term = jnp.zeros_like(reward)
        if config.reward_shaping.material_weight > 0:
            shaping_term = jax.vmap(shaping.potential_difference,
                                    in_axes=(0, 0, None, None, None))(
                games, after, shaping_weight, config.ppo.gamma,
                config.reward_shaping.count_promotions)
        transition = ppo.Transition(
            observation=observation, legal_action_mask=games.legal_action_mask, action=action,
            log_prob=log_prob, value=value, reward=reward, shaping=shaping_term,
            terminated=after.terminated,
            truncated=after.truncated, next_value=after_value, next_wdl=next_wdl, trains=trains)
        done = after.terminated | after.truncated
        if pool_games is not None:
            pool_done = pool_games.take(done)
            pool_rewards = pool_games.take(after.rewards)  # [n, 2] by colour
            won = jnp.take_along_axis(pool_rewards, learner_colors[:, None], axis=1)[:, 0] > 0
            lost = jnp.take_along_axis(pool_rewards, 1 - learner_colors[:, None], axis=1)[:, 0] > 0
            points = jnp.where(won, 1.0, jnp.where(lost, 0.0, 0.5))
            pool_tally = PoolTally(pool_tally.finished + pool_done,
                                   pool_tally.learner_points + jnp.where(pool_done, points, 0.0))

        def reset(fresh, current):
            return select_games(done, fresh, current)

        games = reset(start, after)
        tally = jax.tree_util.tree_map(jnp.add, tally, _tally(done, after))
        carry = (games, reset(start_observation, after_observation),
                 reset(start_logits[0], after_logits), reset(start_value[0], after_value), tally,
                 pool_tally)
        return carry, transition

    no_pool_games = None
    if pool_games is not None:
        no_pool_games = PoolTally(*(jnp.zeros(pool_games.take(games.ply).shape, jnp.float32),)
                                  * 2)
    step_keys = jax.random.split(key, config.env.rollout_length)
    (games, _, _, _, tally, pool_tally), transitions = jax.lax.scan(
        ply, (games, observation, logits, value, _no_games_ended(games), no_pool_games),
        step_keys)
    return Rollout(games, transitions, tally, pool_tally)


def search_settings(config: Config) -> SearchSettings:
    """The self-play search of algorithm gumbel_az, over the training games' own rules."""
    az = config.gumbel_az
    return SearchSettings(simulations=az.simulations,
                          max_considered_actions=az.max_considered_actions,
                          gumbel_scale=az.gumbel_scale, value_scale=az.value_scale,
                          max_plies=config.env.max_plies, impasse=config.env.impasse)


def search_moves(config: Config, model, mesh: Mesh | None = None):
    """(params, games State[B], keys [B]) -> (the search's choice int32[B], its improved policy
    float32[B, A], the root's value float32[B]): each game searched with its own key, each device
    searching only its own games."""
    settings = search_settings(config)

    def search_own_games(params, games, keys):
        def one_game(state, key):
            output = search_one_game(model, settings, params, state, key)
            return (output.action[0].astype(jnp.int32), output.action_weights[0],
                    output.search_tree.summary().value[0])
        return jax.vmap(one_game)(games, keys)

    return parallel.on_own_games(search_own_games, mesh, shared=1, check_vma=False)


def search_rollout(config: Config, model, params, games: State, key, mesh: Mesh | None = None):
    """T plies in each of B games, every move chosen by a Gumbel MuZero search (gumbel_az).
    Returns (games, gumbel_az.SearchTransition [T, B], _Tally [B]).

    The first `gumbel_az.sampled_plies` plies of each game sample their move from the search's
    improved policy; later plies play the search's own choice: the argmax of the improved policy
    perturbed by the root's Gumbel noise (sequential halving's winner, Gumbel AlphaZero's acting
    rule; the plain argmax at gumbel_scale 0). The plain argmax on both sides drove self-play
    into fourfold repetition: 606 of 723 games in a 6-minute run. Each game is searched with a
    key of its own (`search_moves`), so the games do not depend on how they are split over
    `mesh`."""
    num_games = games.legal_action_mask.shape[0]
    search_games = search_moves(config, model, mesh)
    step, observe = _rules_on_own_games(config, mesh)
    start = start_position(config)

    def ply(carry, step_key):
        games, tally = carry
        search_key, sample_key = jax.random.split(step_key)
        chosen, weights, root_value = search_games(params, games,
                                                   jax.random.split(search_key, num_games))
        legal = games.legal_action_mask
        sampled, _ = policy.sample_actions(sample_key, jnp.log(jnp.maximum(weights, 1e-30)), legal)
        action = jnp.where(games.ply < config.gumbel_az.sampled_plies, sampled, chosen)
        after = step(games, action)
        reward = jnp.take_along_axis(after.rewards, games.color[:, None], axis=1)[:, 0]
        done = after.terminated | after.truncated
        transition = gumbel_az.SearchTransition(
            observation=observe(games), legal_action_mask=legal, policy_target=weights,
            action=action, root_value=root_value, reward=reward, done=done)
        tally = jax.tree_util.tree_map(jnp.add, tally, _tally(done, after))
        return (select_games(done, start, after), tally), transition

    step_keys = jax.random.split(key, config.env.rollout_length)
    (games, tally), transitions = jax.lax.scan(ply, (games, _no_games_ended(games)), step_keys)
    return games, transitions, tally


def scan_or_unroll(body, init, xs=None, *, length=None, platform: str):
    """`jax.lax.scan`, except when compiling for the CPU (`platform`, the one the iteration is
    compiled for: see parallel.platform_of), where the steps are traced one after another.

    XLA:CPU runs convolution gradients inside a while loop (even a one-trip one) more than ten
    times slower than the same operations outside one (measured: a cpu.yaml iteration took 85 s
    with the PPO updates in scans, 6 s unrolled). Elsewhere loops keep compile time down.
    """
    if platform != "cpu":
        return jax.lax.scan(body, init, xs, length=length)
    steps = length if xs is None else jax.tree_util.tree_leaves(xs)[0].shape[0]
    carry, outputs = init, []
    for i in range(steps):
        carry, output = body(carry, None if xs is None
                             else jax.tree_util.tree_map(lambda x: x[i], xs))
        outputs.append(output)
    return carry, jax.tree_util.tree_map(lambda *ys: jnp.stack(ys), *outputs)


def minibatch_plies(key, length: int, num_games: int, minibatches: int):
    """int32[M, T/M, B]: which plies of each game each minibatch takes; every game's T plies
    in a random order of their own, dealt out T/M per minibatch."""
    order = jnp.argsort(jax.random.uniform(key, (length, num_games)), axis=0)  # [T, B]
    return order.reshape(minibatches, length // minibatches, num_games)


def minibatch_updates(config: Config, trainer: Trainer, params, opt_state, observation, samples,
                      loss_of, key, *, platform: str, stop_metric: str | None = None,
                      stop_above: float | None = None):
    """E epochs x M minibatches of gradient steps over T x B samples (`ppo.epochs`,
    `ppo.minibatches`: both algorithms share the optimizer settings). Returns (params, opt_state,
    metrics averaged over the updates).

    observation: bool[T, B, ...]; samples: a pytree of [T, B, ...] arrays; loss_of(params,
    observation [N, ...], minibatch of N samples) -> (loss, metrics). A minibatch holds T/M plies
    of every game (each game's plies in its own random order, new each epoch), so it never mixes
    data across the game axis: with the games split over devices each device gathers only its own
    samples, and the result does not depend on the device count. Once a minibatch's
    metrics[stop_metric], measured before its step, exceeds `stop_above`, that update and all
    later ones are skipped (as Stable-Baselines3 stops on target_kl): parameters and optimizer
    moments are kept, but the learning-rate schedule still counts the skipped updates, so it
    ends with the run. `platform` decides scanned or unrolled updates.
    """
    length, num_games = observation.shape[:2]

    def gather(x, plies):
        """x[T, B, ...] at plies[T/M, B] of each game -> [B * T/M, ...], game-major: with the
        games split over devices, each device's samples are one contiguous block (ply-major
        flattening interleaved the devices' games and made XLA gather every sample everywhere).
        """
        index = plies.reshape(plies.shape + (1,) * (x.ndim - 2))
        picked = jnp.swapaxes(jnp.take_along_axis(x, index, axis=0), 0, 1)
        return picked.reshape((-1,) + x.shape[2:])

    def update(carry, plies):
        params, opt_state, stopped = carry
        (_, metrics), grads = jax.value_and_grad(loss_of, has_aux=True)(
            params, gather(observation, plies),
            jax.tree_util.tree_map(lambda x: gather(x, plies), samples))
        if stop_above is not None:
            stopped = stopped | (metrics[stop_metric] > stop_above)
        updates, new_opt_state = trainer.optimizer.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        keep = lambda new, old: jax.tree_util.tree_map(  # noqa: E731
            lambda n, o: jnp.where(stopped, o, n), new, old)
        params = keep(new_params, params)
        opt_state = keep(new_opt_state, ppo.skipped_update_state(new_opt_state, opt_state))
        metrics = dict(metrics, **{"optim/grad_norm": optax.tree.norm(grads),
                                   "optim/learning_rate": ppo.applied_learning_rate(opt_state),
                                   "optim/updates_skipped": stopped.astype(jnp.float32)})
        return (params, opt_state, stopped), metrics

    def minibatches(epoch_key):
        return minibatch_plies(epoch_key, length, num_games, config.ppo.minibatches)

    carry, metrics = scan_or_unroll(
        lambda carry, epoch_key: scan_or_unroll(update, carry, minibatches(epoch_key),
                                                platform=platform),
        (params, opt_state, jnp.bool_(False)), jax.random.split(key, config.ppo.epochs),
        platform=platform)
    params, opt_state, _ = carry
    return params, opt_state, jax.tree_util.tree_map(jnp.mean, metrics)


class PPOTargets(NamedTuple):
    """What the PPO updates fit, per ply of the rollout."""

    advantage: jax.Array                    # float32[T, B] the policy's
    target_return: jax.Array                # float32[T, B] a scalar value head's
    target_wdl: jax.Array | None = None     # float32[T, B, 3] a wdl value head's


def ppo_targets(config: Config, transitions: ppo.Transition) -> PPOTargets:
    """GAE over the rollout. The value head's targets are those of the game's own rewards
    (returns, or their win/draw/loss form for a wdl head: ppo.wdl_returns); with material
    shaping on, the policy's advantages are those of the rewards plus the shaping terms (see
    shaping.py)."""
    gae = functools.partial(
        ppo.compute_gae, value=transitions.value, next_value=transitions.next_value,
        terminated=transitions.terminated, truncated=transitions.truncated,
        gamma=config.ppo.gamma, gae_lambda=config.ppo.gae_lambda)
    advantages, returns = gae(transitions.reward)
    if config.reward_shaping.material_weight > 0:
        advantages, _ = gae(transitions.reward + transitions.shaping)
    target_wdl = None
    if config.model.value_head == "wdl":
        target_wdl = ppo.wdl_returns(transitions.reward, transitions.next_wdl,
                                     transitions.terminated, transitions.truncated,
                                     gamma=config.ppo.gamma, gae_lambda=config.ppo.gae_lambda)
    return PPOTargets(advantages, returns, target_wdl)


def network_outputs(config: Config, model, params, observation):
    """(logits, values, wdl logits or None) of the network on a batch of observations: what the
    losses read, and the rollout for the next positions' W/D/L."""
    if config.model.value_head == "wdl":
        return model.apply(params, observation, with_wdl=True)
    logits, values = model.apply(params, observation)
    return logits, values, None


def ppo_update(config: Config, trainer: Trainer, params, opt_state, transitions,
               targets: PPOTargets, key, *, platform: str | None = None):
    """The PPO epochs over a rollout's T x B transitions (`minibatch_updates`). Returns (params,
    opt_state, metrics). With ppo.target_kl set, the updates stop once a minibatch's approximate
    KL exceeds it. `platform`: the one the update is compiled for (default: the default
    device's)."""
    ppo_config = config.ppo
    samples = ppo.PPOBatch(
        action=transitions.action, old_log_prob=transitions.log_prob,
        old_value=transitions.value, advantage=targets.advantage,
        target_return=targets.target_return, legal_action_mask=transitions.legal_action_mask,
        target_wdl=targets.target_wdl, trains=transitions.trains)  # each [T, B, ...]

    def loss_of(params, observation, minibatch):
        logits, values, wdl_logits = network_outputs(config, trainer.model, params, observation)
        return ppo.ppo_loss(logits, values, minibatch, clip_eps=ppo_config.clip_eps,
                            value_clip_eps=ppo_config.value_clip_eps,
                            value_coef=ppo_config.value_coef,
                            entropy_coef=ppo_config.entropy_coef,
                            normalize_advantages=ppo_config.normalize_advantages,
                            wdl_logits=wdl_logits)

    return minibatch_updates(config, trainer, params, opt_state, transitions.observation, samples,
                             loss_of, key, platform=platform or parallel.platform_of(None),
                             stop_metric="ppo/approx_kl", stop_above=ppo_config.target_kl)


def az_update(config: Config, trainer: Trainer, params, opt_state,
              transitions: gumbel_az.SearchTransition, key, *, platform: str | None = None):
    """The Gumbel AlphaZero updates over a search rollout's T x B plies (`minibatch_updates`):
    the policy towards the search's improved policy, the value towards the game outcomes (plies
    whose game outlives the rollout have none). Returns (params, opt_state, metrics)."""
    value_target, value_known = gumbel_az.outcome_targets(transitions.reward, transitions.done)
    samples = gumbel_az.AZBatch(
        policy_target=transitions.policy_target, value_target=value_target,
        value_known=value_known, legal_action_mask=transitions.legal_action_mask)

    def loss_of(params, observation, minibatch):
        logits, values, wdl_logits = network_outputs(config, trainer.model, params, observation)
        return gumbel_az.az_loss(logits, values, minibatch,
                                 value_coef=config.gumbel_az.value_coef, wdl_logits=wdl_logits)

    return minibatch_updates(config, trainer, params, opt_state, transitions.observation, samples,
                             loss_of, key, platform=platform or parallel.platform_of(None))


def train_iteration(config: Config, trainer: Trainer, state: TrainState,
                    mesh: Mesh | None = None, *, platform: str | None = None):
    """TrainState -> (TrainState, metrics: dict of float32[] for this iteration). `mesh`: the
    devices the games are split over (None: one device); `platform`: the one the iteration is
    compiled for (default: that of `mesh`'s devices, or of the default device)."""
    platform = platform or parallel.platform_of(mesh)
    key, rollout_key, update_key = jax.random.split(state.key, 3)
    if config.algorithm == "gumbel_az":
        games, transitions, tallies = search_rollout(config, trainer.model, state.params,
                                                     state.games, rollout_key, mesh)
        params, opt_state, metrics = az_update(config, trainer, state.params, state.opt_state,
                                               transitions, update_key, platform=platform)
        metrics["rollout/mean_value"] = jnp.mean(transitions.root_value)
    else:
        weight = shaping.material_weight(
            config.reward_shaping.material_weight, config.reward_shaping.anneal_env_steps,
            state.iteration.astype(jnp.float32) * (config.env.num_games
                                                   * config.env.rollout_length))
        opponent_params = member = None
        if state.pool is not None:
            # A key of its own (folded from the rollout's), so runs without a pool draw what
            # they drew before the pool existed.
            member = pool.draw_member(jax.random.fold_in(rollout_key, 1), state.pool,
                                      config.pool.sampling)
            opponent_params = pool.member_params(state.pool, member)
        games, transitions, tallies, pool_tally = rollout(
            config, trainer.model, state.params, state.games, rollout_key, weight, mesh,
            opponent_params)
        params, opt_state, metrics = ppo_update(config, trainer, state.params, state.opt_state,
                                                transitions, ppo_targets(config, transitions),
                                                update_key, platform=platform)
        if state.pool is not None:
            new_pool, pool_metrics = _pool_after(config, state.pool, member, pool_tally, params,
                                                 state.iteration + 1)
            metrics.update(pool_metrics)
        metrics["rollout/mean_value"] = jnp.mean(transitions.value)
        metrics["shaping/material_weight"] = weight
        if transitions.next_wdl is not None:
            metrics["rollout/mean_draw_probability"] = jnp.mean(
                transitions.next_wdl[..., wdl.DRAW])
    finished = jnp.sum(tallies.finished)
    results = jnp.sum(tallies.results, axis=0)
    reasons = jnp.sum(tallies.reasons, axis=0)
    metrics.update({
        "games/finished": finished.astype(jnp.float32),
        "games/mean_length": (jnp.sum(tallies.plies) / jnp.maximum(finished, 1)).astype(
            jnp.float32),
        "rollout/mean_reward": jnp.mean(transitions.reward),
    })
    metrics.update({f"games/{name}": results[i].astype(jnp.float32)
                    for i, name in enumerate(RESULT_NAMES)})
    metrics.update({f"games/{name}": reasons[code].astype(jnp.float32)
                    for code, name in enumerate(sj.TERMINATION_NAMES) if code != sj.NOT_TERMINATED})
    state = TrainState(
        params=params, opt_state=opt_state, games=games, key=key,
        iteration=state.iteration + 1, games_finished=state.games_finished + finished,
        results=state.results + results, reasons=state.reasons + reasons,
        pool=new_pool if state.pool is not None else None)
    return state, metrics


def _pool_after(config: Config, before: Pool, member, pool_tally: PoolTally, params,
                iteration):
    """(the pool after this iteration, its metrics): the member's record updated with the
    learner's results, then the new network added if this iteration is one to add at."""
    finished = jnp.sum(pool_tally.finished)
    points = jnp.sum(pool_tally.learner_points)
    after = pool.record_results(before, member, finished, points)
    metrics = {
        "pool/members": jnp.sum(before.added_at >= 0).astype(jnp.float32),
        "pool/member_age": (iteration - 1 - before.added_at[member]).astype(jnp.float32),
        "pool/games_finished": finished,
        "pool/learner_points": points,
        # Over every game against this member so far, smoothed as rating-based drawing sees it.
        "pool/member_score": pool.learner_score(after)[member],
    }
    return pool.add_member(after, params, iteration, config.pool.add_every_iterations), metrics


def train_state_shardings(config: Config, trainer: Trainer, mesh: Mesh):
    """The TrainState's shardings on `mesh`: games split over the data axis, the rest
    replicated."""
    abstract = jax.eval_shape(lambda: init_train_state(config, trainer))
    return parallel.train_state_shardings(mesh, abstract)


def init_sharded_train_state(config: Config, trainer: Trainer, mesh: Mesh) -> TrainState:
    """init_train_state, made directly in place on `mesh` (every process computes only its own
    shards; the values do not depend on the mesh)."""
    if config.env.num_games % mesh.size:
        raise ConfigError(f"env.num_games = {config.env.num_games} cannot be split evenly over "
                          f"{mesh.size} devices: use a multiple of {mesh.size}, or set "
                          "distributed.devices")
    return jax.jit(lambda: init_train_state(config, trainer),
                   out_shardings=train_state_shardings(config, trainer, mesh))()


def make_train_step(config: Config, trainer: Trainer, mesh: Mesh | None = None):
    """A jitted function: TrainState -> (TrainState, metrics with a leading axis of
    train.iterations_per_dispatch iterations). The input state's buffers are donated. With a
    mesh, the state keeps its shardings and the metrics come back replicated (global sums)."""
    per_dispatch = config.train.iterations_per_dispatch
    # The platform of the devices it runs on, not the process's default backend: a CPU mesh in a
    # GPU process gets the CPU's unrolled updates, and the other way round.
    platform = parallel.platform_of(mesh)

    def run(state):
        return scan_or_unroll(
            lambda s, _: train_iteration(config, trainer, s, mesh, platform=platform), state,
            None, length=per_dispatch, platform=platform)

    if mesh is None:
        return jax.jit(run, donate_argnums=0)
    shardings = train_state_shardings(config, trainer, mesh)
    return jax.jit(run, donate_argnums=0, in_shardings=(shardings,),
                   out_shardings=(shardings, parallel.replicated(mesh)))
