"""Gumbel MuZero search (Danihelka et al., 2022) over our own rules, with `mctx`.

The model of the search is exact: the recurrent function is the rules' `step`, the network only
gives the prior (policy logits, illegal actions masked) and the value of the positions it reaches.
A position the rules call over (checkmate, declaration, repetition, move limit) is a leaf: the
edge into it carries the result for the side that moved there (`reward`), its value is 0 and the
search does not look past it (`discount` 0). Every other edge is between the two players:
`discount` -1, as in pgx's AlphaZero example, so values stay from the view of the side to move.

`search` works on a batch of games (the batch axis first). `search_act_and_value` is one game,
for the players' `act(params, state, key)` convention (vmapped by matches); both compile to the
same batched program.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import chex
import jax
import jax.numpy as jnp
import mctx

import shogi_jax as sj
from shogi_jax.ppo import masked_log_softmax
from shogi_jax.rules.state import DEFAULT_MAX_PLIES

@dataclass(frozen=True)
class SearchSettings:
    """How a search player searches (hashable: part of the compiled program's identity)."""

    simulations: int = 32  # network evaluations per move, each one new node of the tree
    max_considered_actions: int = 16  # root actions sampled for sequential halving
    gumbel_scale: float = 1.0  # 0: no sampling (the prior's top actions, then the best by Q)
    # How far the searched values move the prior: sigma(q) = (50 + max visits) * value_scale * q
    # with q rescaled to [0, 1] over the root's actions (mctx's completed-by-mix-value transform).
    # mctx's default 0.1 caps that at ~6 logits at 32 simulations, so the prior's plan holds and
    # the values mostly break ties among the moves it likes. Against a real engine that plays
    # far better than 1.0, where the values (trained on shaped, discounted returns) override the
    # prior: the shipped network searching scored 0.57 against Fairy-Stockfish Skill -5 at depth
    # 1 with 0.1 and 0.273 with 1.0, its raw policy 0.482 (docs/benchmarks.md). The price: the
    # sharp prior can outvote a mate in one the search found (12 of 30 hand-made mates in one
    # played at 0.1, 30 of 30 at 1.0); `mate_in_one` plays those.
    value_scale: float = 0.1
    # Play a move that wins at once (mate in one, or a move that leaves the opponent none) when
    # there is one, whatever the search prefers, as dlshogi's root mate search does: the prior
    # often leaves the mating move out of the root actions the search considers. Every legal
    # move is tried with the rules' step (`winning_actions`; play only, not training).
    mate_in_one: bool = False
    # Never play a move that lets the opponent win at once where one of the 32 moves the search
    # likes most (its improved policy) does not (`avoiding_mate_in_one`; play only).
    avoid_mate_in_one: bool = False
    # The rules the search simulates: those of the games it plays (a move limit changes which
    # positions are draws).
    max_plies: int = DEFAULT_MAX_PLIES
    impasse: bool = True

    def __post_init__(self):
        if self.simulations < 1:
            raise ValueError(f"simulations must be >= 1, got {self.simulations}")
        if self.max_considered_actions < 1:
            raise ValueError(f"max_considered_actions must be >= 1, got "
                             f"{self.max_considered_actions}")
        # Negated so that NaN, which compares false with everything, is refused too.
        if not self.value_scale > 0:
            raise ValueError(f"value_scale must be > 0, got {self.value_scale}")
        if not self.gumbel_scale >= 0:
            raise ValueError(f"gumbel_scale must be >= 0, got {self.gumbel_scale}")


def _evaluate(model, params, states: sj.State):
    """(prior float32[B, A], value float32[B]) of the network for the side to move: the prior is
    the masked log-softmax, illegal actions at the float32 floor (probability exactly 0, also
    inside the tree, where mctx masks nothing)."""
    logits, value = model.apply(params, jax.vmap(sj.observe)(states))
    return masked_log_softmax(logits, states.legal_action_mask), value


# Legal actions stepped at once by the mate checks: a position has at most 593 legal moves and
# usually 50 to 150, so one or two rounds of this many steps, not all 2,187 actions.
_LEGAL_AT_ONCE = 128
_LEGAL_SLOTS = -(-sj.NUM_ACTIONS // _LEGAL_AT_ONCE) * _LEGAL_AT_ONCE  # 2304: whole rounds


def _legal_while_playing(state: sj.State):
    """bool[2187]: the legal actions of ONE game, none once it is over (its mask is then all
    True, for softmax safety)."""
    return state.legal_action_mask & ~(state.terminated | state.truncated)


def winning_actions(state: sj.State, *, max_plies: int, impasse: bool):
    """bool[2187]: the legal actions of ONE game after which the game is over and won by the side
    that played it: the opponent checkmated or left without a legal move (mates in one). A
    declaration is not a move here: the rules declare for the side to move before it moves.
    Only the legal actions are stepped, `_LEGAL_AT_ONCE` at a time, until all are tried."""
    step = functools.partial(sj.step, max_plies=max_plies, impasse=impasse)
    mover = state.color
    legal = _legal_while_playing(state)
    count = jnp.sum(legal, dtype=jnp.int32)
    # int32[2304]: the legal actions in order, then padding (action 0, never counted as a win).
    actions = jnp.nonzero(legal, size=_LEGAL_SLOTS, fill_value=0)[0].astype(jnp.int32)

    def one_round(carry):
        start, wins = carry
        tried = jax.lax.dynamic_slice(actions, (start,), (_LEGAL_AT_ONCE,))
        after = jax.vmap(step, in_axes=(None, 0))(state, tried)
        real = start + jnp.arange(_LEGAL_AT_ONCE) < count
        won = after.terminated & (after.rewards[:, mover] > 0) & real
        return start + _LEGAL_AT_ONCE, wins.at[tried].add(won.astype(jnp.int32))

    _, wins = jax.lax.while_loop(lambda carry: carry[0] < count, one_round,
                                 (jnp.int32(0), jnp.zeros(sj.NUM_ACTIONS, jnp.int32)))
    return (wins > 0) & legal


def mate_in_one_or(state: sj.State, action, *, max_plies: int = DEFAULT_MAX_PLIES,
                   impasse: bool = True):
    """int32[]: a move of ONE game that wins at once (`winning_actions`) where there is one,
    else `action`. Whether a move mates does not depend on the move limit or on impasse
    declarations (the rules judge checkmate before either), so players that do not know the
    game's rules may keep the defaults."""
    wins = winning_actions(state, max_plies=max_plies, impasse=impasse)
    return jnp.where(jnp.any(wins), jnp.argmax(wins).astype(jnp.int32),
                     jnp.asarray(action, jnp.int32))


def allows_mate_in_one(state: sj.State, action, *, max_plies: int = DEFAULT_MAX_PLIES,
                       impasse: bool = True):
    """bool[]: whether `action` in ONE game loses at once (a perpetual check, a position that
    lets the opponent declare) or lets the opponent win with its next move (`winning_actions`
    of the position after it)."""
    after = sj.step(state, action, max_plies=max_plies, impasse=impasse)
    lost = after.terminated & (after.rewards[state.color] < 0)
    return lost | jnp.any(winning_actions(after, max_plies=max_plies, impasse=impasse))


# The moves `avoiding_mate_in_one` tries after the player's own: the likeliest 32. Where the
# shipped network's argmax allowed a mate in one that another move avoided (28 positions of its
# games against Fairy-Stockfish), the likeliest safe move was its 2nd to 6th choice in 26, its 14th
# and 32nd in the others. Trying every legal move scored no better against Fairy-Stockfish
# (docs/benchmarks.md) and costs a batch of games the worst game's whole list (up to ~200 checks)
# wherever one of them is lost.
AVOID_CANDIDATES = 32


def avoiding_mate_in_one(state: sj.State, action, preference, *,
                         max_plies: int = DEFAULT_MAX_PLIES, impasse: bool = True):
    """int32[]: `action` of ONE game, unless it allows a mate in one (`allows_mate_in_one`):
    then the first of the `AVOID_CANDIDATES` legal actions of highest `preference` (float32[2187],
    e.g. the policy's logits) that does not. Where every one tried allows one (the game is
    usually lost), `action` stands. Actions are tried one by one in that order, so a position
    costs one check where `action` is safe (a step and `winning_actions`: one or two rounds of
    `_LEGAL_AT_ONCE` steps)."""
    action = jnp.asarray(action, jnp.int32)
    chex.assert_shape(preference, (sj.NUM_ACTIONS,))
    legal = _legal_while_playing(state)
    _, likeliest = jax.lax.top_k(jnp.where(legal, preference, -jnp.inf), AVOID_CANDIDATES)
    ranked = jnp.concatenate([action[None], likeliest.astype(jnp.int32)])  # int32[1 + 32]
    tries = 1 + jnp.minimum(jnp.sum(legal, dtype=jnp.int32), AVOID_CANDIDATES)
    check = functools.partial(allows_mate_in_one, state, max_plies=max_plies, impasse=impasse)

    def next_try(carry):
        k, found = carry
        safe = legal[ranked[k]] & ~check(ranked[k])
        return k + 1, jnp.where(safe, ranked[k], found)

    _, found = jax.lax.while_loop(lambda carry: (carry[0] < tries) & (carry[1] < 0), next_try,
                                  (jnp.int32(0), jnp.int32(-1)))
    return jnp.where(found >= 0, found, action)


def root_output(model, params, states: sj.State) -> mctx.RootFnOutput:
    logits, value = _evaluate(model, params, states)
    return mctx.RootFnOutput(prior_logits=logits, value=value, embedding=states)


def recurrent_fn(model, settings: SearchSettings):
    """mctx's recurrent function: the rules' step and the network's view of the new position."""
    step = functools.partial(sj.step, max_plies=settings.max_plies, impasse=settings.impasse)

    def recurrent(params, key, action, states: sj.State):
        del key  # the rules are deterministic
        mover = states.color  # int32[B]
        after = jax.vmap(step)(states, action)
        logits, value = _evaluate(model, params, after)
        over = after.terminated | after.truncated  # bool[B]
        # The result for the side that just moved (non-zero only on the ply that ends the game).
        reward = jnp.take_along_axis(after.rewards, mover[:, None], axis=1)[:, 0]
        output = mctx.RecurrentFnOutput(
            reward=reward,
            discount=jnp.where(over, 0.0, -1.0),
            prior_logits=logits,
            value=jnp.where(over, 0.0, value))
        return output, after

    return recurrent


def _loop_within(budget):
    """mctx's simulation loop, stopped after `budget` (int32[], traced) simulations: one compiled
    program for every budget up to the tree's size. Sequential halving then stops in the phase it
    reached, and the move is the best of the most visited actions (mctx's own final choice)."""
    def loop(lower, upper, body, init):
        return jax.lax.fori_loop(lower, jnp.minimum(upper, budget), body, init)

    return loop


def search(model, settings: SearchSettings, params, states: sj.State, key,
           budget=None) -> mctx.PolicyOutput:
    """Gumbel MuZero over a batch of B games (every field of `states` with the batch axis
    first), `settings.simulations` simulations, or `budget` (int32[], at most that) when given.
    The output's `action` int32[B] is the move to play, `action_weights` float32[B, A] the
    improved policy (the training target of Gumbel AlphaZero), `search_tree` the tree."""
    chex.assert_rank(states.legal_action_mask, 2)  # [B, A]
    output = mctx.gumbel_muzero_policy(
        params=params, rng_key=key, root=root_output(model, params, states),
        recurrent_fn=recurrent_fn(model, settings), num_simulations=settings.simulations,
        invalid_actions=~states.legal_action_mask,
        max_num_considered_actions=settings.max_considered_actions,
        gumbel_scale=settings.gumbel_scale,
        qtransform=functools.partial(mctx.qtransform_completed_by_mix_value,
                                     value_scale=settings.value_scale),
        loop_fn=jax.lax.fori_loop if budget is None else _loop_within(budget))
    # The checks change the move only; the tree and the improved policy stay the search's.
    rules = dict(max_plies=settings.max_plies, impasse=settings.impasse)
    action = output.action.astype(jnp.int32)  # int32[B]
    if settings.avoid_mate_in_one:
        action = jax.vmap(functools.partial(avoiding_mate_in_one, **rules))(
            states, action, output.action_weights)
    if settings.mate_in_one:
        action = jax.vmap(functools.partial(mate_in_one_or, **rules))(states, action)
    return output.replace(action=action.astype(output.action.dtype))


def search_one_game(model, settings: SearchSettings, params, state: sj.State, key,
                    budget=None) -> mctx.PolicyOutput:
    """`search` of ONE game (fields without the batch axis): the output's batch axis has size 1."""
    return search(model, settings, params, jax.tree_util.tree_map(lambda x: x[None], state), key,
                  budget)


def search_act_and_value(model, settings: SearchSettings, params, state: sj.State, key):
    """(int32[] action, float32[] value) for ONE game: the search's move and its estimate of the
    position for the side to move (the root's mean backed-up value)."""
    output = search_one_game(model, settings, params, state, key)
    return output.action[0].astype(jnp.int32), output.search_tree.summary().value[0]


def tree_depth(parents) -> int:
    """The deepest node's distance from the root, from a tree's `parents` int[N] (host numpy,
    -1 for the root and unvisited nodes; mctx adds nodes in order, a parent before its child)."""
    depth = [0] * len(parents)
    for node, parent in enumerate(parents):
        if node and parent >= 0:
            depth[node] = depth[int(parent)] + 1
    return max(depth)
