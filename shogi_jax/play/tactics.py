"""Play-time tactics: checks with the rules, two plies deep, on top of a network's or a search's
move (play only: training never sees them). Both kinds of network player take them the same way
(`Tactics` in `play.players.Player`), each ranking its alternatives by its own preference:
the network's policy, or the search's improved policy.

- `mate_in_one`: play a move that mates at once where there is one (every check tried),
  whatever the network or the search prefers, as dlshogi's root mate search does:
  a network's prior often passes over them, and leaves them out of the moves a search considers.
- `avoid_mate_in_one`: never play a move that lets the opponent win at once where one of the
  `AVOID_CANDIDATES` moves the player likes most does not.

Whether a move mates does not depend on the move limit or on impasse declarations (the rules judge
checkmate before either), so players that do not know the game's rules may keep the defaults.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields

import chex
import jax
import jax.numpy as jnp

import shogi_jax as sj
from shogi_jax.rules.board import NUM_PIECE_TYPES, NUM_SQUARES, OPP_OFFSET
from shogi_jax.rules.checks import checking_actions
from shogi_jax.rules.material import PIECE_POINTS, UNPROMOTED_POINTS, material_balance
from shogi_jax.rules.state import DEFAULT_MAX_PLIES

# The moves a tactic tries after the player's own, likeliest first: a safe move is almost always
# among a network's first few (experiments/mate_defence/README.md), and every move tried costs a
# batch of games the worst game's whole list.
AVOID_CANDIDATES = 32  # avoid_mate_in_one
AVOID_THREE_CANDIDATES = 8  # avoid_mate_in_three: each one costs a step per check of ours
LOOKAHEAD_CANDIDATES = 16  # material_lookahead
# Material the lookahead gives up for the player's preference, in rules.material points (a pawn
# lost is -2: one off the board, one to the opponent's hand): a pawn sacrifice, not a lance.
LOOKAHEAD_MARGIN = 2.0


def _tactic(meaning: str):
    """A tactic's switch, off by default; `meaning` is the help every interface shows."""
    return field(default=False, metadata={"help": meaning})


@dataclass(frozen=True)
class Tactics:
    """Which play-time checks a network player makes (hashable: part of the compiled program's
    identity)."""

    # A move that wins at once where there is one (`mate_in_one_or`: every check stepped).
    mate_in_one: bool = _tactic(
        "play a move that mates at once whenever there is one, whatever the network or the "
        "search prefers (every check tried)")
    # Applied before mate_in_one: a mate of our own wins before the opponent's reply.
    avoid_mate_in_one: bool = _tactic(
        "never play a move that lets the opponent mate at once where one of the "
        f"{AVOID_CANDIDATES} moves the network (or the search) likes most does not (the first "
        "such move instead)")
    # Applied first: the mate checks then override it where they must.
    material_lookahead: bool = _tactic(
        f"play the first of its move and the {LOOKAHEAD_CANDIDATES} the network (or the search) "
        f"likes most that keeps within {LOOKAHEAD_MARGIN:g} points of the most material after "
        "the opponent's reply and our recapture")
    # Applied after the lookahead, before avoid_mate_in_one (its fallback over more moves).
    avoid_mate_in_three: bool = _tactic(
        "never play a move that lets the opponent mate within three plies by checks where one "
        f"of the {AVOID_THREE_CANDIDATES} moves the network (or the search) likes most does not")

    def __bool__(self) -> bool:
        return (self.mate_in_one or self.avoid_mate_in_one or self.material_lookahead
                or self.avoid_mate_in_three)

    def apply(self, state: sj.State, action, preference, *, max_plies: int = DEFAULT_MAX_PLIES,
              impasse: bool = True):
        """int32[]: the move of ONE game after these checks; `action` is the player's own,
        `preference` float32[2187] ranks its alternatives (higher first)."""
        action = jnp.asarray(action, jnp.int32)
        if self.material_lookahead:
            action = material_lookahead(state, action, preference, max_plies=max_plies,
                                        impasse=impasse)
        if self.avoid_mate_in_three:
            action = avoiding_mate_in_three(state, action, preference, max_plies=max_plies,
                                            impasse=impasse)
        if self.avoid_mate_in_one:
            action = avoiding_mate_in_one(state, action, preference, max_plies=max_plies,
                                          impasse=impasse)
        if self.mate_in_one:
            action = mate_in_one_or(state, action, max_plies=max_plies, impasse=impasse)
        return action


# {tactic: what it does}: the help of the tournament keys and the USI engine's flags.
TACTIC_HELP = {tactic.name: tactic.metadata["help"] for tactic in fields(Tactics)}


# Legal actions stepped at once by the lookahead: a position has at most 593 legal moves and
# usually 50 to 150, so one or two rounds of this many steps, not all 2,187 actions.
_LEGAL_AT_ONCE = 128
# Checks stepped at once by the mate tests: a position has a few, rarely more than 30.
_CHECKS_AT_ONCE = 16
_BOARD_PLANES = 20  # action planes 0-19 move a piece on the board (20-26 drop one)


def _legal_while_playing(state: sj.State):
    """bool[2187]: the legal actions of ONE game, none once it is over (its mask is then all
    True, for softmax safety)."""
    return state.legal_action_mask & ~(state.terminated | state.truncated)


def _fold_actions(state: sj.State, candidates, at_once: int, fold, initial, *, max_plies: int,
                  impasse: bool):
    """(the fold's result, int32[] the number of candidates): the `candidates` (bool[2187]) of
    ONE game stepped, `at_once` at a time, each round folded into a carry by
    `fold(carry, tried int32[at_once], after State[at_once], real bool[at_once]) -> carry`
    (`real`: which of `tried` are candidates, not padding)."""
    step = functools.partial(sj.step, max_plies=max_plies, impasse=impasse)
    count = jnp.sum(candidates, dtype=jnp.int32)
    slots = -(-sj.NUM_ACTIONS // at_once) * at_once  # whole rounds
    # int32[slots]: the candidates in order, then padding (action 0, marked not real).
    actions = jnp.nonzero(candidates, size=slots, fill_value=0)[0].astype(jnp.int32)

    def one_round(carry):
        start, folded = carry
        tried = jax.lax.dynamic_slice(actions, (start,), (at_once,))
        after = jax.vmap(step, in_axes=(None, 0))(state, tried)
        real = start + jnp.arange(at_once) < count
        return start + at_once, fold(folded, tried, after, real)

    _, folded = jax.lax.while_loop(lambda carry: carry[0] < count, one_round,
                                   (jnp.int32(0), initial))
    return folded, count


def _fold_legal_moves(state: sj.State, fold, initial, *, max_plies: int, impasse: bool):
    """`_fold_actions` over every legal action of ONE game, `_LEGAL_AT_ONCE` at a time."""
    return _fold_actions(state, _legal_while_playing(state), _LEGAL_AT_ONCE, fold, initial,
                         max_plies=max_plies, impasse=impasse)


def winning_actions(state: sj.State, *, max_plies: int, impasse: bool):
    """bool[2187]: the legal actions of ONE game that checkmate the opponent (mates in one).
    Only the checks are stepped (`checking_actions`, read off the board), `_CHECKS_AT_ONCE` at a
    time. A declaration is not a move here: the rules declare for the side to move before it
    moves. A move that leaves the opponent without a legal move while not in check (a loss for
    it too) is not counted: it needs the opponent's every piece blocked, which play never
    reaches."""
    mover = state.color

    def fold(wins, tried, after, real):
        won = after.terminated & (after.rewards[:, mover] > 0) & real
        return wins.at[tried].add(won.astype(jnp.int32))

    wins, _ = _fold_actions(state, checking_actions(state), _CHECKS_AT_ONCE, fold,
                            jnp.zeros(sj.NUM_ACTIONS, jnp.int32), max_plies=max_plies,
                            impasse=impasse)
    return (wins > 0) & _legal_while_playing(state)


def mate_in_one_or(state: sj.State, action, *, max_plies: int = DEFAULT_MAX_PLIES,
                   impasse: bool = True):
    """int32[]: a move of ONE game that wins at once (`winning_actions`) where there is one,
    else `action`."""
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


def avoiding_mate_in_one(state: sj.State, action, preference, *,
                         max_plies: int = DEFAULT_MAX_PLIES, impasse: bool = True):
    """int32[]: `action` of ONE game, unless it allows a mate in one (`allows_mate_in_one`):
    then the first of the `AVOID_CANDIDATES` legal actions of highest `preference` (float32[2187],
    e.g. the policy's logits) that does not. Where every one tried allows one (the game is
    usually lost), `action` stands. Actions are tried one by one in that order, so a position
    costs one check where `action` is safe (a step and `winning_actions`: a round or two of
    `_CHECKS_AT_ONCE` steps)."""
    check = functools.partial(allows_mate_in_one, state, max_plies=max_plies, impasse=impasse)
    return _first_safe(state, action, preference, check, AVOID_CANDIDATES)


def _first_safe(state: sj.State, action, preference, unsafe, candidates: int):
    """int32[]: `action` of ONE game unless `unsafe(action)`: then the first of the `candidates`
    legal actions of highest `preference` that is not (tried one by one), or `action` where none
    is."""
    action = jnp.asarray(action, jnp.int32)
    chex.assert_shape(preference, (sj.NUM_ACTIONS,))
    legal = _legal_while_playing(state)
    _, likeliest = jax.lax.top_k(jnp.where(legal, preference, -jnp.inf), candidates)
    ranked = jnp.concatenate([action[None], likeliest.astype(jnp.int32)])  # int32[1 + candidates]
    tries = 1 + jnp.minimum(jnp.sum(legal, dtype=jnp.int32), candidates)

    def next_try(carry):
        k, found = carry
        safe = legal[ranked[k]] & ~unsafe(ranked[k])
        return k + 1, jnp.where(safe, ranked[k], found)

    _, found = jax.lax.while_loop(lambda carry: (carry[0] < tries) & (carry[1] < 0), next_try,
                                  (jnp.int32(0), jnp.int32(-1)))
    return jnp.where(found >= 0, found, action)


# A game won or lost within the two plies, in material points: beyond any material.
_DECIDED = 1000.0


def _recapture_gain(after_reply: sj.State, reply):
    """float32[]: what the mover of `after_reply` (ONE game) gains in material balance by taking
    back, at once, the piece that `reply` (the previous ply's action, in the previous mover's
    frame) moved or dropped: its points on the board plus its unpromoted type's points in hand,
    or 0 where no legal board move reaches that square."""
    square = NUM_SQUARES - 1 - reply % NUM_SQUARES  # the reply's destination, in our frame
    code = after_reply.board[square]
    piece = jnp.clip(code - OPP_OFFSET, 0, NUM_PIECE_TYPES - 1)
    reachable = jnp.any(after_reply.legal_action_mask.reshape(-1, NUM_SQUARES)[:_BOARD_PLANES,
                                                                               square])
    taken = reachable & (code >= OPP_OFFSET) & ~(after_reply.terminated | after_reply.truncated)
    gain = jnp.asarray(PIECE_POINTS)[piece] + jnp.asarray(UNPROMOTED_POINTS)[piece]
    return jnp.where(taken, gain, 0.0)


def material_after_reply(state: sj.State, action, *, max_plies: int = DEFAULT_MAX_PLIES,
                         impasse: bool = True):
    """float32[]: the material balance of ONE game's mover after `action`, the opponent's reply
    that leaves it least, and the mover's best recapture of the replying piece (a static exchange
    two plies deep: each reply is met by a recapture on its square where one is legal, never
    by a re-recapture). A game decided within those plies scores +-`_DECIDED` (a draw 0)."""
    mover = state.color
    step = functools.partial(sj.step, max_plies=max_plies, impasse=impasse)
    after = step(state, action)

    def decided(game: sj.State):  # float32[]: the result for `mover` where the game ended
        return jnp.sign(game.rewards[mover]) * _DECIDED

    def fold(worst, tried, answered, real):
        kept = (jax.vmap(material_balance)(answered)
                + jax.vmap(_recapture_gain)(answered, tried))
        score = jnp.where(answered.terminated, jax.vmap(decided)(answered), kept)
        return jnp.minimum(worst, jnp.min(jnp.where(real, score, jnp.inf)))

    worst, count = _fold_legal_moves(after, fold, jnp.float32(jnp.inf), max_plies=max_plies,
                                     impasse=impasse)
    # `after` ended the game (its score stands), or no reply was tried (a truncated game keeps
    # the material it has: -balance from the opponent's side).
    ended = jnp.where(after.terminated, decided(after), -material_balance(after))
    return jnp.where(after.terminated | after.truncated | (count == 0), ended, worst)


def material_lookahead(state: sj.State, action, preference, *,
                       max_plies: int = DEFAULT_MAX_PLIES, impasse: bool = True):
    """int32[]: of ONE game's `action` and its `LOOKAHEAD_CANDIDATES` legal actions of highest
    `preference` (float32[2187]), the first (the player's own, then by preference) that keeps
    within `LOOKAHEAD_MARGIN` points of the most material any of them keeps after the opponent's
    reply and our recapture (`material_after_reply`). Every candidate is checked: a batch of
    LOOKAHEAD_CANDIDATES x 128 steps a round of replies."""
    action = jnp.asarray(action, jnp.int32)
    chex.assert_shape(preference, (sj.NUM_ACTIONS,))
    legal = _legal_while_playing(state)
    likeliest_preference, likeliest = jax.lax.top_k(jnp.where(legal, preference, -jnp.inf),
                                                    LOOKAHEAD_CANDIDATES)
    ranked = jnp.concatenate([action[None], likeliest.astype(jnp.int32)])  # int32[1 + 16]
    tried = jnp.concatenate([legal[action][None], likeliest_preference > -jnp.inf])
    kept = jax.vmap(functools.partial(material_after_reply, state, max_plies=max_plies,
                                      impasse=impasse))(ranked)
    kept = jnp.where(tried, kept, -jnp.inf)
    good_enough = tried & (kept >= jnp.max(kept) - LOOKAHEAD_MARGIN)
    return jnp.where(jnp.any(good_enough), ranked[jnp.argmax(good_enough)], action)


# `avoid_mate_in_three`: the checks of a position tried for a mate in three (a position has
# rarely more than 30; a drop beside the king is one for each piece type in hand).
_CHECKS_AT_MOST = 48


def checks_of(state: sj.State):
    """(int32[_CHECKS_AT_MOST] the legal actions of ONE game that give check (`checking_actions`;
    a mate among them), padded with -1; int32[] how many there are, possibly more than are
    kept)."""
    checking = checking_actions(state)
    kept = jnp.nonzero(checking, size=_CHECKS_AT_MOST, fill_value=-1)[0].astype(jnp.int32)
    return kept, jnp.sum(checking, dtype=jnp.int32)


def mates_in_three(state: sj.State, *, max_plies: int = DEFAULT_MAX_PLIES, impasse: bool = True):
    """bool[]: whether the mover of ONE game wins within three plies by checks: a move that wins
    at once (`winning_actions`), or a check after which every legal reply leaves it one. Checks
    and replies are tried one by one, each stopping at the first that settles it, so a position
    where the first reply escapes costs one step and one `winning_actions` per check."""
    step = functools.partial(sj.step, max_plies=max_plies, impasse=impasse)
    wins = functools.partial(winning_actions, max_plies=max_plies, impasse=impasse)
    checks, check_count = checks_of(state)
    check_count = jnp.minimum(check_count, _CHECKS_AT_MOST)

    def forced(check):  # bool[]: every reply to `check` leaves the checker a mate in one
        after = step(state, check)
        replies = _legal_while_playing(after)
        reply_count = jnp.sum(replies, dtype=jnp.int32)
        reply_actions = jnp.nonzero(replies, size=sj.NUM_ACTIONS, fill_value=0)[0]

        def next_reply(carry):
            k, _ = carry
            answered = step(after, reply_actions[k].astype(jnp.int32))
            lost = answered.terminated & (answered.rewards[state.color] > 0)
            return k + 1, lost | jnp.any(wins(answered))

        _, all_lose = jax.lax.while_loop(lambda c: (c[0] < reply_count) & c[1], next_reply,
                                         (jnp.int32(0), jnp.bool_(True)))
        return all_lose & (reply_count > 0)

    def next_check(carry):
        k, _ = carry
        return k + 1, forced(checks[k])

    _, found = jax.lax.while_loop(lambda c: (c[0] < check_count) & ~c[1], next_check,
                                  (jnp.int32(0), jnp.bool_(False)))
    return found | jnp.any(wins(state))



def allows_mate_in_three(state: sj.State, action, *, max_plies: int = DEFAULT_MAX_PLIES,
                         impasse: bool = True):
    """bool[]: whether `action` in ONE game loses at once or lets the opponent win within three
    plies by checks (`mates_in_three` of the position after it)."""
    after = sj.step(state, action, max_plies=max_plies, impasse=impasse)
    lost = after.terminated & (after.rewards[state.color] < 0)
    return lost | mates_in_three(after, max_plies=max_plies, impasse=impasse)


def avoiding_mate_in_three(state: sj.State, action, preference, *,
                           max_plies: int = DEFAULT_MAX_PLIES, impasse: bool = True):
    """int32[]: `action` of ONE game, unless it lets the opponent mate within three plies by
    checks (`allows_mate_in_three`): then the first of the `AVOID_THREE_CANDIDATES` legal
    actions of highest `preference` that does not; `action` where none of them does."""
    check = functools.partial(allows_mate_in_three, state, max_plies=max_plies, impasse=impasse)
    return _first_safe(state, action, preference, check, AVOID_THREE_CANDIDATES)
