"""The JAX side of the USI engine: the position the GUI set, and a move for it from a `Player`
(`play.players`: the functions tournaments play). `PlayerMover` is the protocol's `Mover`.
A search player sizes each search to the `go` limits: `nodes` simulations at most, or what its
measured speed does in the time given (movetime, byoyomi, or a share of its clock)."""
from __future__ import annotations

import dataclasses
import functools
import time
from typing import Callable, Optional

import jax
import numpy as np

import shogi_jax as sj
from shogi_jax.play.players import Player
from shogi_jax.play.search import tree_depth
from shogi_jax.rules.legal import legal_moves
from shogi_jax.rules.state import STARTPOS_SFEN
from shogi_jax.usi.protocol import Answer, UsiError

# The GUI or tournament runner ends games (its move limit, its clock); our own limit only bounds
# the ply counter.
USI_MAX_PLIES = 1 << 30

_legal_moves = jax.jit(legal_moves)
_step = jax.jit(functools.partial(sj.step, max_plies=USI_MAX_PLIES, impasse=True))


@functools.partial(jax.jit, static_argnums=0)
def _move(player: Player, params, state: sj.State, key):
    """((int32[] action, float32[] value or None), the next key): one move of `player` in one
    game, the key split on the device (no host-side program to compile). A Player is hashable:
    each (kind, network shape, temperature) is compiled once."""
    key, move_key = jax.random.split(key)
    return player.act_and_value(params, state, move_key), key


@functools.partial(jax.jit, static_argnums=0)
def _search_move(player: Player, params, state: sj.State, key, budget):
    """((int32[] action, float32[] value, int32[N] the tree's parents), the next key): a search
    player's move in one game after at most `budget` (int32[]) simulations; one program for
    every budget up to the player's `simulations`."""
    key, move_key = jax.random.split(key)
    action, output = player.searched_move(params, state, move_key, budget)
    tree = output.search_tree
    return (action, tree.summary().value[0], tree.parents[0]), key


# A search may spend this share of the time a `go` allows (the rest: the host's own work, the
# protocol, a machine busier than when the speed was measured).
TIME_SHARE = 0.7
MOVES_LEFT = 30  # a clock without byoyomi or increment is spent as if this many moves remained


def time_for_move(limits: dict[str, int], color: int) -> Optional[float]:
    """Seconds this `go` gives a move (None: no time limit): movetime, else the byoyomi (plus
    the increment), else a share of the mover's clock."""
    if "movetime" in limits:
        return limits["movetime"] / 1000
    clock, increment = (("btime", "binc"), ("wtime", "winc"))[color]
    if "byoyomi" in limits:
        return (limits["byoyomi"] + limits.get(increment, 0)) / 1000
    if clock in limits:
        return (limits[clock] / MOVES_LEFT + limits.get(increment, 0)) / 1000
    return None


# A network that is ahead does not settle for a draw: a move that brings back a position of this
# game (the way to fourfold repetition, sennichite) is passed over for the player's next choice,
# up to this many moves a turn. A move that loses by perpetual check is passed over even when
# behind, where a draw by repetition is welcome.
REPETITION_TRIES = 8


def avoiding_repetition(state: sj.State, first: int, choose: Callable[[np.ndarray], int],
                        ahead: bool, tries: int = REPETITION_TRIES) -> tuple[int, list[int]]:
    """(the action to play, the actions passed over, in order): `first` is the player's choice
    and `choose(mask)` its choice among the moves of mask (bool[2187]). A choice that repeats a
    position while `ahead`, or loses by perpetual check, is taken out of the mask and the player
    chooses again, `tries` choices at most. When every choice tried is passed over: the first
    that does not lose by perpetual check, else `first`."""
    mover = int(state.color)
    mask = np.array(state.legal_action_mask, dtype=bool)
    tried: list[tuple[int, bool]] = []  # (action, loses by perpetual check)
    action = first
    for _ in range(tries):
        after = _step(state, action)
        loses = (int(after.termination) == sj.PERPETUAL_CHECK
                 and float(after.rewards[mover]) < 0)
        if not loses and not (ahead and int(after.repetitions) > 0):
            return action, [passed for passed, _ in tried]
        tried.append((action, loses))
        mask[action] = False
        if not mask.any():
            break
        action = int(choose(mask))
    action = next((passed for passed, loses in tried if not loses), first)
    return action, [passed for passed, _ in tried if passed != action]


def playable(state: sj.State) -> sj.State:
    """`state` with its real legal moves: a position our rules call over (fourfold repetition,
    move limit, a possible impasse declaration not made) may still be played on by a GUI."""
    if not (bool(state.terminated) or bool(state.truncated)):
        return state
    mask, _ = _legal_moves(state.board, state.hand)
    return state._replace(legal_action_mask=mask, terminated=np.bool_(False),
                          truncated=np.bool_(False))


class GamePosition:
    """The position the GUI last set, kept between `position` commands: a command that extends
    the previous one (the usual case, one or two moves more) only plays the new moves."""

    def __init__(self):
        self.base: Optional[str] = None
        self.moves: list[str] = []
        self.state: Optional[sj.State] = None

    def clear(self) -> None:
        self.base, self.moves, self.state = None, [], None

    def set(self, base: str, moves: list[str]) -> sj.State:
        """base: "startpos" or an SFEN's four fields; moves: USI moves played from it."""
        # Invalid until the whole command is applied: a bad move leaves no half-set position.
        previous = (self.base, self.moves, self.state)
        self.clear()
        if previous[0] == base and previous[2] is not None and moves[:len(previous[1])] == \
                previous[1]:
            state, done = previous[2], len(previous[1])
        else:
            try:
                state = sj.from_sfen(STARTPOS_SFEN if base == "startpos" else base,
                                     max_plies=USI_MAX_PLIES)
            except ValueError as error:
                raise UsiError(str(error)) from None
            done = 0
        for number, move in enumerate(moves[done:], start=done + 1):
            if bool(state.terminated) or bool(state.truncated):
                reason = sj.TERMINATION_NAMES[int(state.termination)]
                # Declaring is optional and a GUI may judge repetition itself: play on then.
                if int(state.termination) not in (sj.REPETITION_DRAW, sj.MOVE_LIMIT,
                                                  sj.IMPASSE_DECLARATION):
                    raise UsiError(f"move {number} ({move}): the game is already over "
                                   f"({reason})")
                state = playable(state)
            try:
                action = sj.usi_to_action(state, move)
            except ValueError as error:
                raise UsiError(f"move {number}: {error}") from None
            state = _step(state, action)
        self.base, self.moves, self.state = base, list(moves), state
        return state


class PositionMover:
    """What every `Mover` of ours shares: the position kept by our rules (`GamePosition`), and
    the answers the rules give before anyone thinks (a declaration, a resignation when no move
    is left). Subclasses choose a move in a position with one: `choose(state, info, limits)`."""

    def __init__(self):
        self.position = GamePosition()
        self._prepared = False

    def prepare(self) -> None:
        """Runs every device function a game needs once (XLA compiles on the first call), so
        that `go` answers at once; leaves no position."""
        if self._prepared:
            return
        self.compile_moves()
        self.compile_rules()
        self._prepared = True

    def compile_moves(self) -> None:
        """Compiles what `choose` runs on the device (nothing by default)."""

    def set_position(self, base: str, moves: list[str]) -> None:
        self.position.set(base, moves)

    def clear(self) -> None:
        self.position.clear()

    def best_move(self, info: Callable[[str], None],
                  limits: dict[str, int]) -> Optional[Answer]:
        state = self.position.state
        if state is None:
            return None
        termination = int(state.termination)
        if termination == sj.IMPASSE_DECLARATION:
            return Answer("win")
        if termination in (sj.CHECKMATE, sj.NO_LEGAL_MOVES):
            return Answer("resign")
        if termination == sj.PERPETUAL_CHECK and float(state.rewards[int(state.color)]) < 0:
            info("the side to move has checked perpetually")
        state = playable(state)
        if not np.asarray(state.legal_action_mask).any():
            return Answer("resign")
        return self.choose(state, info, limits)

    def choose(self, state: sj.State, info: Callable[[str], None],
               limits: dict[str, int]) -> Answer:
        raise NotImplementedError

    def compile_rules(self) -> None:
        """Runs the rules' device functions once (XLA compiles on the first call), so that the
        first `position` and `go` of a game answer at once; leaves no position."""
        start = sj.from_sfen(STARTPOS_SFEN, max_plies=USI_MAX_PLIES)
        jax.block_until_ready(_legal_moves(start.board, start.hand))
        self.position.set("startpos", ["7g7f"])  # compiles the step
        self.position.clear()


class PlayerMover(PositionMover):
    """The protocol's `Mover` for a `Player` (a network, argmax or a sample at a temperature; a
    network searching; a baseline) with its parameters (None for the baselines)."""

    options = ("Temperature", "Seed")

    def __init__(self, player: Player, params=None):
        super().__init__()
        self.name = player.name
        self.player = player
        self._params = params
        self.set_seed(0)
        self.simulations_per_second: Optional[float] = None  # a search's, measured as it plays

    def set_temperature(self, temperature: float) -> None:
        if self.player.kind == "policy":  # the baselines ignore it: keep their compiled program
            self.player = dataclasses.replace(self.player, temperature=temperature)
            if self._prepared:  # another program: compile it now, so `go` still answers at once
                self.compile_moves()

    def set_seed(self, seed: int) -> None:
        # uint32[2], split once per move by `_move`. Kept on the host: a key on the device
        # (committed there by the parameters) would make `_move` compile again at the second go.
        self._key = np.asarray(jax.random.PRNGKey(seed))

    def compile_moves(self) -> None:
        start = sj.from_sfen(STARTPOS_SFEN, max_plies=USI_MAX_PLIES)
        if self.player.kind == "search":  # compiled, then timed: the speed a clock is spent at
            self._search(start, self.player.search.simulations)
            self._search(start, self.player.search.simulations)
        else:
            jax.block_until_ready(_move(self.player, self._params, start, self._key))

    def _search(self, state: sj.State, budget: int):
        """(action, value, depth, the next key) of a search of at most `budget` simulations
        (the key is advanced by the caller that plays the move). Measures the speed."""
        started = time.perf_counter()
        (action, value, parents), key = jax.block_until_ready(
            _search_move(self.player, self._params, state, self._key, np.int32(budget)))
        self.simulations_per_second = budget / max(time.perf_counter() - started, 1e-6)
        return int(action), float(value), tree_depth(np.asarray(parents)), np.asarray(key)

    def search_budget(self, limits: dict[str, int], color: int) -> int:
        """Simulations for this `go`: `nodes` at most; within a time limit, what the measured
        speed does in TIME_SHARE of it; never more than the player's `simulations`, never 0."""
        budget = self.player.search.simulations
        if "nodes" in limits:
            budget = min(budget, limits["nodes"])
        seconds = time_for_move(limits, color)
        if seconds is not None and self.simulations_per_second is not None:
            budget = min(budget, int(self.simulations_per_second * seconds * TIME_SHARE))
        return max(budget, 1)

    def choose(self, state: sj.State, info: Callable[[str], None],
               limits: dict[str, int]) -> Answer:
        """A search sized to the limits, or one evaluation of the player whatever the limits."""
        if self.player.kind == "search":
            budget = self.search_budget(limits, int(state.color))
            action, value, depth, self._key = self._search(state, budget)
            return Answer(sj.action_to_usi(state, action), value, depth, budget)
        (action, value), key = _move(self.player, self._params, state, self._key)
        self._key = np.asarray(key)
        action, value = int(action), None if value is None else float(value)
        if self.player.kind == "policy":  # a network: its value says whether it is ahead
            action, passed = avoiding_repetition(
                state, action, lambda mask: self._choose_among(state, mask), ahead=value > 0)
            if passed:
                info(f"passed over {' '.join(sj.action_to_usi(state, a) for a in passed)}: "
                     "a position repeated while ahead, or a loss by perpetual check")
        return Answer(sj.action_to_usi(state, action), value)

    def _choose_among(self, state: sj.State, mask: np.ndarray) -> int:
        """The player's choice among the moves of `mask` (the key advanced as for a move)."""
        (action, _), key = _move(self.player, self._params,
                                 state._replace(legal_action_mask=mask), self._key)
        self._key = np.asarray(key)
        return int(action)
