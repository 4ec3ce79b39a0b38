"""Training throughput: where the time of one PPO iteration goes, for one config and batch.

Measured in one run, for the same config (B games x T plies, E epochs x M minibatches):
  (a) env only:     T plies of step + observe over B games with a cheap random picker (no network);
  (b) network only: the iteration's network work on stored observations, no rules: T + 1 forward
                    passes over B observations, then the E x M PPO updates (`ppo_update`);
  (c) full:         the jitted training iteration (`make_train_step`): rollout with the network
                    choosing moves, GAE, PPO updates;
and the full iteration's compile time. Figures are env steps per second (B x T per iteration).
Target on the team's 2-core CPU: (c) >= 85% of (b), i.e. rules, sampling and the loop add at most
15% to what the network costs anyway; compile under 60 s.

    python scripts/bench_train.py --config configs/cpu.yaml [--set KEY=VALUE ...] [--repeats 3]
"""
from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
from bench_common import (
    compile_timed,
    machine_info,
    machine_line,
    markdown_table,
    median_iteration_seconds,
    median_seconds,
)
from bench_env import pick_actions  # the same cheap picker as the env benchmark

import shogi_jax as sj
from shogi_jax.train import budget, ppo
from shogi_jax.train.config import load_config
from shogi_jax.train.iteration import make_train_step
from shogi_jax.train.state import init_train_state, make_trainer
from shogi_jax.train.updates import PPOTargets, ppo_update

TARGET_RATIO = 0.85
TARGET_COMPILE_S = 60.0


def env_only(config, games):
    step = jax.vmap(lambda s, a: sj.step(s, a, max_plies=config.env.max_plies,
                                         impasse=config.env.impasse))
    observe = jax.vmap(sj.observe)

    @jax.jit
    def run(games, key):
        def ply(carry, step_key):
            games, checksum = carry
            games = step(games, pick_actions(step_key, games.legal_action_mask))
            return (games, checksum + jnp.sum(observe(games), dtype=jnp.int32)), None

        keys = jax.random.split(key, config.env.rollout_length)
        return jax.lax.scan(ply, (games, jnp.int32(0)), keys)[0]

    return lambda: run(games, jax.random.PRNGKey(0))


def network_only(config, trainer, state):
    num_games, length = config.env.num_games, config.env.rollout_length
    key = jax.random.PRNGKey(1)
    observations = jax.random.bernoulli(key, 0.1, (length + 1, num_games, 9, 9,
                                                   sj.NUM_OBSERVATION_PLANES))
    masks = jax.random.bernoulli(key, 0.05, (length, num_games, sj.NUM_ACTIONS))
    masks = masks.at[..., 0].set(True)
    zeros = jnp.zeros((length, num_games), jnp.float32)
    transitions = ppo.Transition(
        observation=observations[:length], legal_action_mask=masks,
        action=jnp.zeros((length, num_games), jnp.int32), log_prob=zeros - 3.0, value=zeros,
        reward=zeros, shaping=zeros, terminated=zeros.astype(bool), truncated=zeros.astype(bool),
        next_value=zeros)

    @jax.jit
    def run(params, opt_state):
        def forward(checksum, observation):
            logits, value = trainer.model.apply(params, observation)
            return checksum + jnp.sum(logits[:, 0]) + jnp.sum(value), None

        checksum = jax.lax.scan(forward, jnp.float32(0), observations)[0]
        params, opt_state, metrics = ppo_update(config, trainer, params, opt_state,
                                                   transitions,
                                                   PPOTargets(zeros + 0.1, zeros + 0.5), key)
        return params, opt_state, checksum

    return lambda: run(state.params, state.opt_state)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/cpu.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    config = load_config(args.config, args.overrides)
    trainer = make_trainer(config)
    state = init_train_state(config, trainer)
    steps = config.env.num_games * config.env.rollout_length

    env_seconds = median_seconds(env_only(config, state.games), repeats=args.repeats)
    network_seconds = median_seconds(network_only(config, trainer, state), repeats=args.repeats)
    compiled, compile_seconds = compile_timed(make_train_step(config, trainer), state,
                                              budget.clock(config))
    train_step = lambda state: compiled(state, budget.clock(config))  # noqa: E731
    full_seconds = (median_iteration_seconds(train_step, state, args.repeats)
                    / config.train.iterations_per_dispatch)

    env_sps, network_sps = steps / env_seconds, steps / network_seconds
    full_sps = steps / full_seconds
    ratio = full_sps / network_sps
    print(f"# {machine_line(machine_info())}")
    print(f"# config {args.config} {' '.join(args.overrides)}")
    print(f"# B={config.env.num_games} games x T={config.env.rollout_length} plies, "
          f"{config.model.blocks} blocks x {config.model.channels} channels {config.model.dtype}, "
          f"{config.ppo.epochs} epochs x {config.ppo.minibatches} minibatches")
    print("\n".join(markdown_table(
        ["(a) env only steps/s", "(b) network only steps/s", "(c) full training steps/s",
         "(c) / (b)", "iteration compile s"],
        [[f"{env_sps:,.0f}", f"{network_sps:,.0f}", f"{full_sps:,.0f}", f"{ratio:.0%}",
          f"{compile_seconds:.1f}"]])))
    met = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"# targets: (c)/(b) >= {TARGET_RATIO:.0%}: {met}; "
          f"compile < {TARGET_COMPILE_S:.0f} s: "
          f"{'met' if compile_seconds < TARGET_COMPILE_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
