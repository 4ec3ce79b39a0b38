"""Self-play: T plies of B games side by side, finished games restarting at once (auto-reset).
`rollout` (PPO): the policy samples every move, against itself or, in a share of the games, a
pool member. `search_rollout` (gumbel_az): a Gumbel MuZero search over the rules plays them.
Both tally the games that end, per game slot.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

import shogi_jax as sj
from shogi_jax.host import parallel
from shogi_jax.host.settings import ConfigError
from shogi_jax.play import policy, tactics
from shogi_jax.play.search import SearchSettings, search_one_game
from shogi_jax.rules.state import State, select_games
from shogi_jax.train import gumbel_az, ppo, shaping
from shogi_jax.train.config import Config
from shogi_jax.train.state import NUM_REASONS, rules_on_own_games, start_position


class Tally(NamedTuple):
    """Games that ended, counted per game slot over the plies of a rollout; summed over the
    batch only once the rollout is over (one reduction across devices, not one per ply)."""

    finished: jax.Array  # int32[B]
    results: jax.Array  # int32[B, 3] Black wins, White wins, draws
    reasons: jax.Array  # int32[B, NUM_REASONS]
    plies: jax.Array  # int32[B] total length of the finished games


def tally_of(done, after: State) -> Tally:
    """The games that ended on this ply (done: bool[B]), per game slot."""
    black_won = after.rewards[:, 0] > 0
    white_won = after.rewards[:, 1] > 0
    results = jnp.stack([black_won, white_won, ~black_won & ~white_won], axis=-1) & done[:, None]
    reasons = (after.termination[:, None] == jnp.arange(NUM_REASONS)) & done[:, None]
    return Tally(done.astype(jnp.int32), results.astype(jnp.int32), reasons.astype(jnp.int32),
                  jnp.where(done, after.ply, 0))


def no_games_ended(games: State) -> Tally:
    """The tally of a rollout before its first ply: zeros, per game slot."""
    return jax.tree_util.tree_map(jnp.zeros_like, tally_of(jnp.zeros_like(games.terminated), games))


# fold_in tags of draws added later, so that the earlier streams stay as they were
EXPERT_STREAM = 0x6d617465  # expert.mate_share's draw per game and ply
PLAYOUT_CAP_STREAM = 0x63617073  # gumbel_az.cheap_simulations' draw per ply


def expert_mates(config: Config, mesh: Mesh | None):
    """(games State[B], step key) -> (expert bool[B], mate int32[B]): where the expert plays a
    mate in one (`tactics.winning_actions`, every check stepped), and which. Each device checks
    only its own games. With `expert.mate_share` < 1 a found mate is played on that share of the
    plies (drawn per game and ply), so a blunder that allows a mate is punished only sometimes and
    the rest of the game's learning keeps its weight."""
    winning = parallel.on_own_games(jax.vmap(functools.partial(
        tactics.winning_actions, max_plies=config.env.max_plies, impasse=config.env.impasse)),
        mesh)
    share = config.expert.mate_share

    def mates(games: State, key):
        wins = winning(games)  # bool[B, A]
        expert = jnp.any(wins, axis=-1)
        if share < 1.0:  # a Python branch: at share 1 the programs are those of before
            drawn = jax.random.uniform(jax.random.fold_in(key, EXPERT_STREAM), expert.shape)
            expert = expert & (drawn < share)
        return expert, jnp.argmax(wins, axis=-1).astype(jnp.int32)

    return mates


def network_outputs(config: Config, model, params, observation):
    """(logits, values, wdl logits or None) of the network on a batch of observations: what the
    losses read, and the rollout for the next positions' W/D/L."""
    if config.model.value_head == "wdl":
        return model.apply(params, observation, with_wdl=True)
    logits, values = model.apply(params, observation)
    return logits, values, None



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
    tally: Tally                       # [B]
    pool_tally: PoolTally | None = None


def rollout(config: Config, model, params, games: State, key, shaping_weight,
            mesh: Mesh | None = None, opponent_params=None) -> Rollout:
    """T plies in each of B games (a Rollout).

    With `pool.share` > 0, the learner meets the network `opponent_params` in the pool games
    (`PoolGames`): that network moves for its side (sampling its own policy), and those plies
    are marked as not the learner's (Transition.trains). With `expert.mate_in_one`, every side
    plays a mate in one wherever there is one (Transition.expert marks those plies). With the
    games split over `mesh`, every device steps and observes only its own games."""
    step, observe = rules_on_own_games(config, mesh)
    mate_in_one = expert_mates(config, mesh) if config.expert.mate_in_one else None
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
        expert = None
        if mate_in_one is not None:
            expert, mate = mate_in_one(games, step_key)
            action = jnp.where(expert, mate, action)
            log_prob = jnp.take_along_axis(
                policy.masked_log_softmax(logits, games.legal_action_mask), action[:, None],
                axis=-1)[:, 0]
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
            truncated=after.truncated, next_value=after_value, next_wdl=next_wdl, trains=trains,
            expert=expert)
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
        tally = jax.tree_util.tree_map(jnp.add, tally, tally_of(done, after))
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
        ply, (games, observation, logits, value, no_games_ended(games), no_pool_games),
        step_keys)
    return Rollout(games, transitions, tally, pool_tally)


def search_settings(config: Config, simulations: int | None = None) -> SearchSettings:
    """The self-play search of algorithm gumbel_az, over the training games' own rules, with
    `gumbel_az.simulations` or the given number (playout caps' cheap search)."""
    az = config.gumbel_az
    return SearchSettings(simulations=simulations or az.simulations,
                          max_considered_actions=az.max_considered_actions,
                          gumbel_scale=az.gumbel_scale, value_scale=az.value_scale,
                          max_plies=config.env.max_plies, impasse=config.env.impasse)


def search_moves(config: Config, model, mesh: Mesh | None = None,
                 simulations: int | None = None):
    """(params, material_weight, games State[B], keys [B]) -> (the search's choice int32[B], its
    improved policy float32[B, A], the root's value float32[B]): each game searched with its own
    key, each device searching only its own games. material_weight: float32[], the share of each
    evaluated position's value taken from material (budget.search_material_weight), or None: the
    network's value alone."""
    settings = search_settings(config, simulations)

    def search_own_games(params, material_weight, games, keys):
        def one_game(state, key):
            output = search_one_game(model, settings, params, state, key,
                                     material_weight=material_weight)
            return (output.action[0].astype(jnp.int32), output.action_weights[0],
                    output.search_tree.summary().value[0])
        return jax.vmap(one_game)(games, keys)

    return parallel.on_own_games(search_own_games, mesh, shared=2, check_vma=False)


def search_rollout(config: Config, model, params, games: State, key, mesh: Mesh | None = None,
                   material_weight=None):
    """T plies in each of B games, every move chosen by a Gumbel MuZero search (gumbel_az), its
    evaluations blended with material by `material_weight` (float32[], or None: not at all).
    Returns (games, gumbel_az.SearchTransition [T, B], Tally [B]).

    The first `gumbel_az.sampled_plies` plies of each game sample their move from the search's
    improved policy; later plies play the search's own choice: the argmax of the improved policy
    perturbed by the root's Gumbel noise (sequential halving's winner, Gumbel AlphaZero's acting
    rule; the plain argmax at gumbel_scale 0). The plain argmax on both sides drove self-play
    into fourfold repetition (docs/findings.md). Each game is searched with a
    key of its own (`search_moves`), so the games do not depend on how they are split over
    `mesh`. With `expert.mate_in_one`, a mate in one replaces the search's move and its improved
    policy (a one-hot target on the mate; SearchTransition.expert marks those plies).

    With `gumbel_az.cheap_simulations` (playout-cap randomization), each ply is drawn, for all
    games at once, to get the full search (`full_search_share` of them) or the cheap one; only
    the full searches' improved policies (and expert mates) are policy targets
    (SearchTransition.policy_known). One scalar draw per ply makes it a `lax.cond`: a ply runs
    one search, not both."""
    num_games = games.legal_action_mask.shape[0]
    az = config.gumbel_az
    full_search = search_moves(config, model, mesh)
    if az.cheap_simulations:
        cheap_search = search_moves(config, model, mesh, az.cheap_simulations)

        def search_games(params, games, keys, step_key):
            cap_key = jax.random.fold_in(step_key, PLAYOUT_CAP_STREAM)
            full = jax.random.uniform(cap_key) < az.full_search_share
            outputs = jax.lax.cond(full, full_search, cheap_search, params, material_weight,
                                   games, keys)
            return outputs, jnp.broadcast_to(full, (num_games,))
    else:
        def search_games(params, games, keys, step_key):
            return full_search(params, material_weight, games, keys), None
    mate_in_one = expert_mates(config, mesh) if config.expert.mate_in_one else None
    step, observe = rules_on_own_games(config, mesh)
    start = start_position(config)

    def ply(carry, step_key):
        games, tally = carry
        search_key, sample_key = jax.random.split(step_key)
        (chosen, weights, root_value), policy_known = search_games(
            params, games, jax.random.split(search_key, num_games), step_key)
        legal = games.legal_action_mask
        sampled, _ = policy.sample_actions(sample_key, jnp.log(jnp.maximum(weights, 1e-30)), legal)
        action = jnp.where(games.ply < config.gumbel_az.sampled_plies, sampled, chosen)
        expert = None
        if mate_in_one is not None:
            expert, mate = mate_in_one(games, step_key)
            action = jnp.where(expert, mate, action)
            weights = jnp.where(expert[:, None],
                                jax.nn.one_hot(mate, weights.shape[-1], dtype=weights.dtype),
                                weights)
            if policy_known is not None:  # a mate is a sure target, after any search
                policy_known = policy_known | expert
        after = step(games, action)
        reward = jnp.take_along_axis(after.rewards, games.color[:, None], axis=1)[:, 0]
        done = after.terminated | after.truncated
        transition = gumbel_az.SearchTransition(
            observation=observe(games), legal_action_mask=legal, policy_target=weights,
            action=action, root_value=root_value, reward=reward, done=done, expert=expert,
            policy_known=policy_known)
        tally = jax.tree_util.tree_map(jnp.add, tally, tally_of(done, after))
        return (select_games(done, start, after), tally), transition

    step_keys = jax.random.split(key, config.env.rollout_length)
    (games, tally), transitions = jax.lax.scan(ply, (games, no_games_ended(games)), step_keys)
    return games, transitions, tally
