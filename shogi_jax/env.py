"""pgx's `Env` protocol over our rules, so code written for `pgx.make("shogi")` runs unchanged:

    import shogi_jax
    env = shogi_jax.make("shogi")          # instead of: env = pgx.make("shogi")
    init = jax.jit(jax.vmap(env.init))
    step = jax.jit(jax.vmap(env.step))
    state = init(jax.random.split(key, batch_size))
    state = step(state, action, keys)       # state.rewards: float32[batch, 2] by player id

As in pgx, `current_player` is a player id, not a colour: `init(key)` gives player 0 Black or
White at random (from `key`), and `rewards[i]` is player i's reward on the step that ends the game
(+1 win, -1 loss, 0 draw). An illegal action loses; stepping a finished game changes nothing and
gives zero rewards; a finished game's legal_action_mask is all True. Games at `max_plies` end
`truncated` (a draw). `observation` is `shogi_jax.observe` of the position (bool[9, 9, 94], the
mover's view). `auto_reset` is pgx.experimental's auto-reset wrapper, with the same semantics;
pgx's own works too (the state has `replace`).

What pgx's Shogi does not have: `impasse` (the 27-point declaration, on by default),
`max_plies`, SFEN in and out (`state.to_sfen()`), and a text board as the state's repr.
"""
from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
from flax import struct

from shogi_jax.notation.sfen import to_sfen
from shogi_jax.rules.board import NUM_ACTIONS
from shogi_jax.rules.observe import NUM_OBSERVATION_PLANES, observe
from shogi_jax.rules.state import DEFAULT_MAX_PLIES, State, select_games
from shogi_jax.rules.step import init as start_position
from shogi_jax.rules.step import step as rules_step

ENV_IDS = ("shogi",)


@struct.dataclass
class EnvState:
    """pgx's State fields, the game itself in `_x` (a `shogi_jax.State`). Batched by vmap."""

    current_player: jnp.ndarray  # int32[] id of the player to move (0 or 1)
    observation: jnp.ndarray  # bool[9, 9, 94] the position as the mover sees it
    rewards: jnp.ndarray  # float32[2] by player id, non-zero only on the step that ends the game
    terminated: jnp.ndarray  # bool[]
    truncated: jnp.ndarray  # bool[] max_plies reached (a draw)
    legal_action_mask: jnp.ndarray  # bool[2187]
    _step_count: jnp.ndarray  # int32[] steps taken in this game
    _player_order: jnp.ndarray  # int32[2] the player id of Black and of White
    _x: State

    @property
    def env_id(self) -> str:
        return "shogi"

    def to_sfen(self, index=None) -> str:
        """The position as SFEN; `index` picks one game of a batch (an int, or a tuple for
        several batch axes)."""
        return to_sfen(self._x, index=index)

    def __repr__(self) -> str:
        return repr(self._x)


class Env:
    """The pgx `Env` protocol (v2: `step(state, action, key)`) for Shogi."""

    id = "shogi"
    version = "v1"
    num_players = 2
    num_actions = NUM_ACTIONS
    observation_shape = (9, 9, NUM_OBSERVATION_PLANES)

    def __init__(self, *, max_plies: int = DEFAULT_MAX_PLIES, impasse: bool = True):
        self.max_plies = max_plies
        self.impasse = impasse

    def init(self, key) -> EnvState:
        """The start position, player 0 Black or White at random (one bit of `key`)."""
        player_order = jnp.where(jax.random.bernoulli(key), jnp.int32([1, 0]), jnp.int32([0, 1]))
        return self._wrap(start_position(max_plies=self.max_plies, impasse=self.impasse),
                          player_order, jnp.int32(0))

    def step(self, state: EnvState, action, key: Optional[jax.Array] = None) -> EnvState:
        """Plays `action` for `current_player`. `key` is accepted for pgx's signature; Shogi has
        no chance, so it is unused."""
        del key
        over = state.terminated | state.truncated
        game = rules_step(state._x, action, max_plies=self.max_plies, impasse=self.impasse)
        return self._wrap(game, state._player_order,
                          state._step_count + jnp.where(over, 0, 1).astype(jnp.int32))

    def observe(self, state: EnvState, player_id=None):
        """The observation of the player to move (pgx deprecated other players' views)."""
        if player_id is not None:
            raise ValueError("observe: only the player to move's view exists (player_id=None); "
                             "pgx deprecated player_id too")
        return observe(state._x)

    @staticmethod
    def _wrap(game: State, player_order, step_count) -> EnvState:
        return EnvState(
            current_player=player_order[game.color],
            observation=observe(game),
            # rewards by colour -> by player id (player_order is its own inverse for 2 players)
            rewards=game.rewards[player_order],
            terminated=game.terminated,
            truncated=game.truncated,
            legal_action_mask=game.legal_action_mask,
            _step_count=step_count,
            _player_order=player_order,
            _x=game,
        )


def make(env_id: str = "shogi", *, max_plies: int = DEFAULT_MAX_PLIES,
         impasse: bool = True) -> Env:
    """Like `pgx.make`: `make("shogi")`."""
    if env_id not in ENV_IDS:
        raise ValueError(f"unknown environment {env_id!r}: shogi_jax provides {ENV_IDS}")
    return Env(max_plies=max_plies, impasse=impasse)


def auto_reset(step_fn, init_fn):
    """pgx.experimental.auto_reset: a step that starts a new game (init_fn(key)) once one ends,
    keeping the ending step's terminated / truncated / rewards on the new state, so a rollout
    sees the result and then plays on. Clears them on the step after. `key` is required."""
    def wrapped_step_fn(state: EnvState, action, key=None) -> EnvState:
        if key is None:
            raise ValueError("auto_reset's step needs a key (step(state, action, key)), as pgx's")
        key_step, key_init = jax.random.split(key)
        state = state.replace(terminated=jnp.zeros_like(state.terminated),
                              truncated=jnp.zeros_like(state.truncated),
                              rewards=jnp.zeros_like(state.rewards))
        state = step_fn(state, action, key_step)
        fresh = init_fn(key_init).replace(terminated=state.terminated,
                                          truncated=state.truncated, rewards=state.rewards)
        return select_games(state.terminated | state.truncated, fresh, state)

    return wrapped_step_fn
