"""Random play, written as pgx's API usage example 1 (docs/api_usage.md of pgx): the same code runs
on pgx with only the `make` line changed (`import pgx; env = pgx.make("shogi")`, tested in
tests/test_env.py). It also adds up each player's return, as pgx's example 2 does.

    python examples/random_play.py [BATCH_SIZE]
"""
import sys

import jax
import jax.numpy as jnp

import shogi_jax

seed = 42
batch_size = int(sys.argv[1]) if len(sys.argv) > 1 else 10
key = jax.random.PRNGKey(seed)


def act_randomly(rng_key, obs, mask):
    """Ignore observation and choose randomly from legal actions"""
    del obs
    probs = mask / mask.sum()
    logits = jnp.maximum(jnp.log(probs), jnp.finfo(probs.dtype).min)
    return jax.random.categorical(rng_key, logits=logits, axis=-1)


# Load the environment
env = shogi_jax.make("shogi")
init_fn = jax.jit(jax.vmap(env.init))
step_fn = jax.jit(jax.vmap(env.step))

# Initialize the states
key, subkey = jax.random.split(key)
keys = jax.random.split(subkey, batch_size)
state = init_fn(keys)
print(f"player 0 is Black: {state.current_player == 0}")

# Run random simulation
R = state.rewards
steps = 0
while not (state.terminated | state.truncated).all():
    key, subkey = jax.random.split(key)
    action = act_randomly(subkey, state.observation, state.legal_action_mask)
    state = step_fn(state, action)  # state.rewards (batch_size, 2)
    R += state.rewards
    steps += 1

print(f"{steps} steps; terminated {int(state.terminated.sum())}, "
      f"truncated {int(state.truncated.sum())} of {batch_size}")
print(f"Return of player 0 = {R[:, 0]}")
print(f"Return of player 1 = {R[:, 1]}")
