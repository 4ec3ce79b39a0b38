"""The learning half of an iteration: targets from the rollout, then E epochs x M minibatches
of gradient steps (PPO on GAE advantages, or gumbel_az on the search's improved policy and the
games' outcomes), sharing one optimizer and one minibatch scheme.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from shogi_jax.host import parallel
from shogi_jax.train import gumbel_az, ppo
from shogi_jax.train.config import Config
from shogi_jax.train.rollout import network_outputs
from shogi_jax.train.state import Trainer


def scan_or_unroll(body, init, xs=None, *, length=None, platform: str):
    """`jax.lax.scan`, except when compiling for the CPU (`platform`, the one the iteration is
    compiled for: see parallel.platform_of), where the steps are traced one after another.

    XLA:CPU runs convolution gradients inside a while loop (even a one-trip one) far slower than
    the same operations outside one (docs/findings.md). Elsewhere loops keep compile time down.
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
                      loss_of, key, *, platform: str, lr_decay=1.0,
                      stop_metric: str | None = None, stop_above: float | None = None):
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
    moments are kept, but the warm-up still counts the skipped updates. `lr_decay` (float32[],
    budget.learning_rate_decay) scales every update: Adam's step is linear in its learning rate,
    so this is the schedule's rate times the decay. `platform` decides scanned or unrolled
    updates.
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
        updates = jax.tree_util.tree_map(lambda u: u * lr_decay, updates)
        new_params = optax.apply_updates(params, updates)
        keep = lambda new, old: jax.tree_util.tree_map(  # noqa: E731
            lambda n, o: jnp.where(stopped, o, n), new, old)
        params = keep(new_params, params)
        opt_state = keep(new_opt_state, ppo.skipped_update_state(new_opt_state, opt_state))
        metrics = dict(metrics, **{"optim/grad_norm": optax.tree.norm(grads),
                                   "optim/learning_rate": (ppo.applied_learning_rate(opt_state)
                                                           * lr_decay),
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
    """GAE over the rollout. The value head's targets are the lambda-returns of the game's own
    rewards under ppo.value_discount (returns, or their win/draw/loss form for a wdl head:
    ppo.wdl_returns); the policy's advantages are GAE under gamma and gae_lambda, of the
    rewards plus the shaping terms when material shaping is on (see shaping.py)."""
    gae = functools.partial(
        ppo.compute_gae, value=transitions.value, next_value=transitions.next_value,
        terminated=transitions.terminated, truncated=transitions.truncated)
    policy_discount = dict(gamma=config.ppo.gamma, gae_lambda=config.ppo.gae_lambda)
    value_gamma, value_lambda = config.ppo.value_discount
    value_discount = dict(gamma=value_gamma, gae_lambda=value_lambda)
    shaped = config.reward_shaping.material_weight > 0
    advantages, returns = gae(transitions.reward + transitions.shaping if shaped
                              else transitions.reward, **policy_discount)
    if shaped or value_discount != policy_discount:  # else one scan gives both
        _, returns = gae(transitions.reward, **value_discount)
    target_wdl = None
    if config.model.value_head == "wdl":
        target_wdl = ppo.wdl_returns(transitions.reward, transitions.next_wdl,
                                     transitions.terminated, transitions.truncated,
                                     **value_discount)
    return PPOTargets(advantages, returns, target_wdl)


def ppo_update(config: Config, trainer: Trainer, params, opt_state, transitions,
               targets: PPOTargets, key, *, platform: str | None = None, lr_decay=1.0):
    """The PPO epochs over a rollout's T x B transitions (`minibatch_updates`). Returns (params,
    opt_state, metrics). With ppo.target_kl set, the updates stop once a minibatch's approximate
    KL exceeds it. `platform`: the one the update is compiled for (default: the default
    device's)."""
    ppo_config = config.ppo
    samples = ppo.PPOBatch(
        action=transitions.action, old_log_prob=transitions.log_prob,
        old_value=transitions.value, advantage=targets.advantage,
        target_return=targets.target_return, legal_action_mask=transitions.legal_action_mask,
        target_wdl=targets.target_wdl, trains=transitions.trains,
        expert=transitions.expert)  # each [T, B, ...]

    def loss_of(params, observation, minibatch):
        logits, values, wdl_logits = network_outputs(config, trainer.model, params, observation)
        return ppo.ppo_loss(logits, values, minibatch, clip_eps=ppo_config.clip_eps,
                            value_clip_eps=ppo_config.value_clip_eps,
                            value_coef=ppo_config.value_coef,
                            entropy_coef=ppo_config.entropy_coef,
                            normalize_advantages=ppo_config.normalize_advantages,
                            wdl_logits=wdl_logits,
                            imitation_coef=config.expert.imitation_coef,
                            imitation_over_all=config.expert.imitation_mean == "all")

    return minibatch_updates(config, trainer, params, opt_state, transitions.observation, samples,
                             loss_of, key, platform=platform or parallel.platform_of(None),
                             lr_decay=lr_decay, stop_metric="ppo/approx_kl",
                             stop_above=ppo_config.target_kl)


def az_update(config: Config, trainer: Trainer, params, opt_state,
              transitions: gumbel_az.SearchTransition, key, *, platform: str | None = None,
              lr_decay=1.0):
    """The Gumbel AlphaZero updates over a search rollout's T x B plies (`minibatch_updates`):
    the policy towards the search's improved policy, the value towards the game outcomes, or
    the search's values ahead where a game outlives the rollout (gumbel_az.value_target).
    Returns (params, opt_state, metrics)."""
    if config.gumbel_az.value_target == "bootstrap":
        value_target = gumbel_az.bootstrapped_targets(
            transitions.reward, transitions.done, transitions.root_value,
            td_lambda=config.gumbel_az.value_lambda)
        value_known = jnp.ones(value_target.shape, bool)
    else:
        value_target, value_known = gumbel_az.outcome_targets(transitions.reward,
                                                              transitions.done)
    samples = gumbel_az.AZBatch(
        policy_target=transitions.policy_target, value_target=value_target,
        value_known=value_known, legal_action_mask=transitions.legal_action_mask,
        policy_known=transitions.policy_known)

    def loss_of(params, observation, minibatch):
        logits, values, wdl_logits = network_outputs(config, trainer.model, params, observation)
        return gumbel_az.az_loss(logits, values, minibatch,
                                 value_coef=config.gumbel_az.value_coef, wdl_logits=wdl_logits,
                                 surprise_weight=config.gumbel_az.surprise_weight)

    return minibatch_updates(config, trainer, params, opt_state, transitions.observation, samples,
                             loss_of, key, platform=platform or parallel.platform_of(None),
                             lr_decay=lr_decay)
