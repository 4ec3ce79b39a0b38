"""PPO self-play in the style of pgx's examples (minatar-ppo, after PureJaxRL): one jitted
`train(key)` whose updates are a `lax.scan` over rollouts of vmapped, auto-resetting games.

Written for the pgx Env protocol only, so it runs on pgx with only the `make` line changed
(`import pgx; env = pgx.make("shogi")`, tested in tests/test_env.py). One network plays both
sides; values are from the mover's point of view, so the next position's value (the
opponent's) enters the advantage with a minus sign (negamax GAE). A tiny MLP: this shows the
protocol, it is not our trainer (`python -m shogi_jax.train`).

    python examples/ppo_selfplay.py [UPDATES] [NUM_ENVS] [NUM_STEPS]
"""
import sys
import time
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import shogi_jax

env = shogi_jax.make("shogi")

num_updates = int(sys.argv[1]) if len(sys.argv) > 1 else 20
num_envs = int(sys.argv[2]) if len(sys.argv) > 2 else 64
num_steps = int(sys.argv[3]) if len(sys.argv) > 3 else 32
num_minibatches = 4
lr, gamma, gae_lambda, clip_eps = 3e-4, 0.99, 0.95, 0.2
ent_coef, vf_coef, max_grad_norm = 0.01, 0.5, 0.5


class ActorCritic(nn.Module):
    num_actions: int

    @nn.compact
    def __call__(self, x):
        x = x.reshape((x.shape[0], -1)).astype(jnp.float32)
        x = nn.relu(nn.Dense(128)(x))
        x = nn.relu(nn.Dense(128)(x))
        logits = nn.Dense(self.num_actions)(x)
        value = nn.tanh(nn.Dense(1)(x))
        return logits, jnp.squeeze(value, axis=-1)


class Transition(NamedTuple):
    observation: jnp.ndarray
    legal_action_mask: jnp.ndarray
    action: jnp.ndarray
    log_prob: jnp.ndarray
    value: jnp.ndarray
    reward: jnp.ndarray  # the mover's reward for its own move
    done: jnp.ndarray


def masked_logits(logits, mask):
    return jnp.where(mask, logits, jnp.finfo(logits.dtype).min)


network = ActorCritic(env.num_actions)
optimizer = optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(lr, eps=1e-5))
init_fn = jax.vmap(env.init)
step_fn = jax.vmap(shogi_jax.auto_reset(env.step, env.init))


def train(key):
    key, key_net, key_env = jax.random.split(key, 3)
    state = init_fn(jax.random.split(key_env, num_envs))
    params = network.init(key_net, state.observation)
    opt_state = optimizer.init(params)

    def update(runner, _):
        params, opt_state, state, key = runner

        def env_step(carry, _):
            state, key = carry
            key, key_act, key_step = jax.random.split(key, 3)
            logits, value = network.apply(params, state.observation)
            logits = masked_logits(logits, state.legal_action_mask)
            action = jax.random.categorical(key_act, logits)
            log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], 1)[:, 0]
            mover = state.current_player
            next_state = step_fn(state, action, jax.random.split(key_step, num_envs))
            reward = jnp.take_along_axis(next_state.rewards, mover[:, None], 1)[:, 0]
            done = next_state.terminated | next_state.truncated
            transition = Transition(state.observation, state.legal_action_mask, action,
                                    log_prob, value, reward, done)
            return (next_state, key), transition

        (state, key), trajectory = jax.lax.scan(env_step, (state, key), None, num_steps)
        _, last_value = network.apply(params, state.observation)

        def gae_step(carry, t):
            advantage_next, value_next = carry  # the opponent's, who moves next
            not_done = 1.0 - t.done
            delta = t.reward - gamma * not_done * value_next - t.value
            advantage = delta - gamma * gae_lambda * not_done * advantage_next
            return (advantage, t.value), advantage

        _, advantages = jax.lax.scan(gae_step, (jnp.zeros_like(last_value), last_value),
                                     trajectory, reverse=True)
        targets = advantages + trajectory.value

        def loss_fn(params, batch):
            transition, advantage, target = batch
            logits, value = network.apply(params, transition.observation)
            log_probs = jax.nn.log_softmax(masked_logits(logits, transition.legal_action_mask))
            log_prob = jnp.take_along_axis(log_probs, transition.action[:, None], 1)[:, 0]
            ratio = jnp.exp(log_prob - transition.log_prob)
            advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
            policy_loss = -jnp.minimum(
                ratio * advantage,
                jnp.clip(ratio, 1 - clip_eps, 1 + clip_eps) * advantage).mean()
            value_loss = 0.5 * jnp.square(value - target).mean()
            probs = jnp.exp(log_probs)
            entropy = -jnp.sum(jnp.where(transition.legal_action_mask, probs * log_probs, 0.0),
                               axis=-1).mean()
            loss = policy_loss + vf_coef * value_loss - ent_coef * entropy
            return loss, (policy_loss, value_loss, entropy)

        def minibatch_update(carry, batch):
            params, opt_state = carry
            (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), (loss, *aux)

        key, key_perm = jax.random.split(key)
        batch_size = num_envs * num_steps
        flat = jax.tree_util.tree_map(lambda x: x.reshape((batch_size,) + x.shape[2:]),
                                      (trajectory, advantages, targets))
        permutation = jax.random.permutation(key_perm, batch_size)
        minibatches = jax.tree_util.tree_map(
            lambda x: x[permutation].reshape((num_minibatches, -1) + x.shape[1:]), flat)
        (params, opt_state), losses = jax.lax.scan(minibatch_update, (params, opt_state),
                                                   minibatches)
        metrics = {"loss": losses[0].mean(), "policy_loss": losses[1].mean(),
                   "value_loss": losses[2].mean(), "entropy": losses[3].mean(),
                   "games_finished": trajectory.done.sum(),
                   "decisive": (trajectory.done & (trajectory.reward != 0)).sum()}
        return (params, opt_state, state, key), metrics

    runner = (params, opt_state, state, key)
    runner, metrics = jax.lax.scan(update, runner, None, num_updates)
    return runner, metrics


if __name__ == "__main__":
    started = time.time()
    _, metrics = jax.jit(train)(jax.random.PRNGKey(0))
    metrics = jax.device_get(metrics)
    for update in range(num_updates):
        print(f"update {update + 1}: " + ", ".join(
            f"{name} {float(values[update]):.4g}" for name, values in metrics.items()))
    print(f"{num_updates * num_envs * num_steps} env steps in {time.time() - started:.1f} s "
          "(compilation included)")
