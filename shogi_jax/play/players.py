"""Players: pure functions `act(params, state, key) -> int32[] action` for ONE game; `jax.vmap`
them for a batch. Every player picks only legal actions while the game is on.

- random: uniform over the legal actions.
- greedy: captures the most valuable piece (material points as in `shogi_jax.rules.material`), ties
  and quiet positions broken uniformly at random; one ply, no look-ahead.
- policy: a trained network, argmax of its masked logits (temperature 0) or a sample at
  temperature T.
- search: a trained network searching with Gumbel MuZero over our rules (`shogi_jax.play.search`).

Both network players take the same play-time `Tactics` (`shogi_jax.play.tactics`): a mate in one
where there is one, and never a move that lets the opponent mate at once where one of their 32
likeliest does not, ranked by the network's policy or by the search's improved policy.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

import jax
import jax.numpy as jnp

import shogi_jax as sj
from shogi_jax.play.model import ModelConfig, make_model
from shogi_jax.play.policy import masked_log_softmax
from shogi_jax.play.search import SearchSettings, search_one_game
from shogi_jax.play.tactics import Tactics
from shogi_jax.rules.board import NUM_SQUARES
from shogi_jax.rules.material import CAPTURED_POINTS_BY_CODE

PLAYER_KINDS = ("random", "greedy", "policy", "search")
NETWORK_KINDS = ("policy", "search")  # the players that need a network (parameters)


def settings_refused(kind: str, *, search: Sequence[str] = (), tactics: Sequence[str] = ()):
    """Why the named settings do not go with a player of `kind`, or None where they do: search
    settings (SearchSettings' fields) only with a search player, tactics (Tactics' fields) only
    with a player that has a network. The tournament config and the USI engine's flags both ask
    this; their values are checked by SearchSettings and Tactics themselves."""
    if search and kind != "search":
        return f"{', '.join(search)} only go with kind search"
    if tactics and kind not in NETWORK_KINDS:
        return f"{', '.join(tactics)} only goes with kinds {' and '.join(NETWORK_KINDS)}"
    return None


def uniform_choice(key, candidates):
    """int32[]: an index drawn uniformly among the True entries of bool[A] `candidates` (0 when
    there is none). A cumulative count and one uniform integer: much cheaper on CPU than
    a categorical over all 2187 actions."""
    counts = jnp.cumsum(candidates.astype(jnp.int32))
    pick = jax.random.randint(key, (), 0, jnp.maximum(counts[-1], 1))
    return jnp.argmax(counts > pick).astype(jnp.int32)


def random_act(params, state: sj.State, key):
    del params
    return uniform_choice(key, state.legal_action_mask)


def capture_points(state: sj.State):
    """float32[2187]: the material each action captures (drops land on empty squares: 0)."""
    destination = jnp.tile(jnp.arange(NUM_SQUARES), sj.NUM_ACTIONS // NUM_SQUARES)
    return jnp.asarray(CAPTURED_POINTS_BY_CODE)[state.board[destination]]


def greedy_act(params, state: sj.State, key):
    del params
    points = jnp.where(state.legal_action_mask, capture_points(state), -1.0)
    return uniform_choice(key, state.legal_action_mask & (points == jnp.max(points)))


@dataclass(frozen=True)
class Player:
    """What a player is (hashable, so compiled games are reused); its parameters travel apart.
    The name is left out of equality: players that differ only by name (two networks of one
    shape) play with one compiled program."""

    name: str = field(compare=False)
    kind: str  # one of PLAYER_KINDS
    model: Optional[ModelConfig] = None  # policy and search players: the network's shape
    temperature: float = 0.0  # policy players: 0 plays the argmax
    search: Optional[SearchSettings] = None  # search players: how they search
    # Policy and search players: checks with the rules on top of the move (play only).
    tactics: Tactics = Tactics()

    def __post_init__(self):
        if self.kind not in PLAYER_KINDS:
            raise ValueError(f"player {self.name!r}: unknown kind {self.kind!r} "
                             f"(one of {', '.join(PLAYER_KINDS)})")
        if (self.kind in NETWORK_KINDS) != (self.model is not None):
            raise ValueError(f"player {self.name!r}: a network shape is needed by "
                             f"{' and '.join(NETWORK_KINDS)} players and only by them")
        if (self.kind == "search") != (self.search is not None):
            raise ValueError(f"player {self.name!r}: search settings go with search players, "
                             "and only with them")
        if self.temperature < 0:
            raise ValueError(f"player {self.name!r}: temperature must be >= 0")
        if self.tactics and self.kind not in NETWORK_KINDS:
            raise ValueError(f"player {self.name!r}: tactics go with "
                             f"{' and '.join(NETWORK_KINDS)} players (a network's move to check)")

    def act(self, params, state: sj.State, key):
        """int32[]: this player's action in one game."""
        return self.act_and_value(params, state, key)[0]

    def act_and_value(self, params, state: sj.State, key):
        """(int32[] action, float32[] value or None): the action and, for network players, the
        estimate for the side to move behind it (the value head's, or the search's) (the USI
        score)."""
        if self.kind == "random":
            return random_act(params, state, key), None
        if self.kind == "greedy":
            return greedy_act(params, state, key), None
        if self.kind == "search":
            action, output = self.searched_move(params, state, key)
            return action, output.search_tree.summary().value[0]  # the root's mean value
        log_probs, value = policy_log_probs_and_value(make_model(self.model), params, state)
        action = policy_choice(self.temperature, log_probs, key)
        return self.checked(state, action, log_probs), value

    def searched_move(self, params, state: sj.State, key, budget=None):
        """(int32[] the move after the tactics, the search's mctx.PolicyOutput with a batch axis
        of 1): a search player's move in ONE game, at most `budget` (int32[]) simulations when
        given. The tactics rank alternatives by the improved policy."""
        output = search_one_game(make_model(self.model), self.search, params, state, key, budget)
        return self.checked(state, output.action[0], output.action_weights[0]), output

    def checked(self, state: sj.State, action, preference):
        """int32[]: `action` of ONE game after this player's tactics (`preference`
        float32[2187] ranks its alternatives), with the rules its search simulates."""
        if not self.tactics:
            return jnp.asarray(action, jnp.int32)
        rules = {} if self.search is None else dict(max_plies=self.search.max_plies,
                                                    impasse=self.search.impasse)
        return self.tactics.apply(state, action, preference, **rules)


def policy_log_probs_and_value(model, params, state: sj.State):
    """(float32[2187] the masked log-softmax of the network's logits, float32[] its value in
    [-1, 1] for the side to move) of ONE game."""
    logits, value = model.apply(params, sj.observe(state)[None])  # [1, 2187], [1]
    return masked_log_softmax(logits[0], state.legal_action_mask), value[0]


def policy_choice(temperature: float, log_probs, key):
    """int32[]: the argmax of `log_probs` at temperature 0, else a sample from
    softmax(logits / T) (`key` is used only then)."""
    if temperature == 0:
        return jnp.argmax(log_probs).astype(jnp.int32)
    return jax.random.categorical(key, log_probs / temperature).astype(jnp.int32)
