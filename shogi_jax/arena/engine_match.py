"""A match in which at least one side is an external USI engine: the host plays the games,
several side by side, with our rules as the referee.

Colours alternate and colour pairs share their opening exactly as in `match.play_match` (the same
key gives the same random opening plies), so engine and on-device matches of a tournament are
alike. `concurrency` games run at once: every engine side has one process per running game, all
thinking at the same time, and an on-device player's moves for those games come from one batched
call. An engine's illegal move, false impasse declaration or resignation loses the game for it;
a crash, a protocol error or a hang (no move within its timeout) loses it too, and the engine is
restarted for its next game. Each game's record says why it ended.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Collection, Optional, Sequence, Union

import jax
import numpy as np

import shogi_jax as sj
from shogi_jax.arena.match import (
    DISCONNECTION,
    DRAW,
    FIRST_WINS,
    RESIGNATION,
    SECOND_WINS,
    TIME_UP,
    MatchGames,
    MatchStopped,
)
from shogi_jax.arena.usi_client import EngineFailure, MoveLimit, UsiClient
from shogi_jax.play.players import Player
from shogi_jax.rules.state import ILLEGAL_ACTION, STARTPOS_SFEN, select_games

ENGINE_KIND = "usi"  # the tournament player kind of an external engine


@dataclass(frozen=True)
class EnginePlayer:
    """An external USI engine (a tournament player of kind `usi`)."""

    name: str
    command: tuple[str, ...]
    limit: MoveLimit
    options: tuple[tuple[str, str], ...] = ()
    # Seconds past the limit's own thinking time before a move counts as a hang.
    move_timeout: float = 30.0
    startup_timeout: float = 60.0

    kind = ENGINE_KIND

    def client(self, stderr_path: Optional[Path] = None) -> UsiClient:
        return UsiClient(self.command, dict(self.options), name=self.name,
                         startup_timeout=self.startup_timeout, stderr_path=stderr_path)

    def deadline(self) -> float:
        return time.monotonic() + self.limit.thinking_seconds() + self.move_timeout


Side = Union[Player, EnginePlayer]
OPENING = -1  # the mover of a random opening ply
OPENING_PLAYER = Player("random", "random")  # one compiled program with any random player


@partial(jax.jit, static_argnames=("player",))
def _act_batch(player: Player, params, games, keys):
    """int32[C]: `player`'s move in each of C games (one batched call)."""
    return jax.vmap(player.act, in_axes=(None, 0, 0))(params, games, keys)


@partial(jax.jit, static_argnames=("max_plies", "impasse"))
def _step_batch(games, actions, moving, *, max_plies: int, impasse: bool):
    """State[C]: the games where bool[C] `moving` holds advanced by int32[C] `actions`."""
    after = jax.vmap(partial(sj.step, max_plies=max_plies, impasse=impasse))(games, actions)
    return select_games(moving, after, games)


def _device_moves_on_even_ticks(tick: int, first_is_black: bool, device: int,
                                start_color: int) -> bool:
    """Whether a game started at `tick` has the on-device side (side `device`) to move on even
    ticks. Every game advances one ply a tick, so games started this way have the device's
    moves all on the same ticks: one batched call every other tick serves all of them, where
    games out of step would call the device (a whole search of every slot) on every tick."""
    device_color = 0 if (device == 0) == first_is_black else 1
    return (tick + device_color + start_color) % 2 == 0


def _one(batch, k):
    return jax.tree_util.tree_map(lambda x: x[k], batch)


@dataclass
class _Game:
    """A game in progress in one slot."""

    index: int  # in the match
    first_is_black: bool
    start_sfen: str
    moves: list[str] = field(default_factory=list)
    ended: Optional[tuple[int, int, str]] = None  # (winner colour or -1, termination code, note)
    deadline: float = 0.0  # of the move asked of an engine
    pending_failure: Optional[EngineFailure] = None  # met while asking for that move


def play_engine_match(first: Side, first_params, second: Side, second_params, *, games: int,
                      key, max_plies: int = sj.DEFAULT_MAX_PLIES, impasse: bool = True,
                      opening_plies: int = 0, opening_sfens: Sequence[str] = (STARTPOS_SFEN,),
                      concurrency: int = 2,
                      on_progress: Optional[Callable[[int], None]] = None,
                      on_finished: Optional[Callable[[np.ndarray, MatchGames], None]] = None,
                      should_stop: Optional[Callable[[], bool]] = None,
                      stderr_dir: Optional[Path] = None,
                      skip: Collection[int] = (),
                      device_in_step: bool = True) -> MatchGames:
    """Plays `games` (even) games between `first` and `second` (an on-device Player with its
    params, or an EnginePlayer) and returns them, like `match.play_match`. `on_finished(indices,
    games)` gets each game as it ends; a true `should_stop()` (looked at every ply) raises
    MatchStopped, dropping the games still running. Engines' stderr goes to
    `stderr_dir/NAME.log` when given. Games whose index is in `skip` (already played, by a
    tournament being resumed) are not played: each game's opening depends only on its colour
    pair, so the others are the same games; the MatchGames returned holds the games played, in
    index order. `device_in_step` (the default) starts each game on a tick that puts the
    on-device side's moves on the same ticks as every other game's (`_device_moves_on_even_ticks`);
    False starts games as soon as a slot is free, which scripts/bench_engine_match.py measures
    against it."""
    if games <= 0 or games % 2:
        raise ValueError(f"games must be even and > 0 (colours alternate), got {games}")
    if not any(isinstance(side, EnginePlayer) for side in (first, second)):
        raise ValueError("play_engine_match needs an engine side; use match.play_match")
    if isinstance(first, Player) and isinstance(second, Player):
        raise ValueError("two on-device players: use match.play_match")
    slots = max(1, min(concurrency, games))
    opening_key, key = jax.random.split(key)
    starts = {sfen: jax.device_get(sj.from_sfen(sfen, max_plies=max_plies, impasse=impasse))
              for sfen in opening_sfens}
    sides = (first, second)
    params = (first_params, second_params)
    device = next((s for s in (0, 1) if isinstance(sides[s], Player)), None)
    # clients[s][k]: side s's engine process for slot k (None for an on-device side).
    clients = [[None if isinstance(side, Player) else side.client(
        stderr_dir / f"{side.name}.log" if stderr_dir else None) for _ in range(slots)]
        for side in sides]
    batch = _host(jax.tree_util.tree_map(lambda *xs: np.stack(xs),
                                         *[starts[opening_sfens[0]]] * slots))
    running: list[Optional[_Game]] = [None] * slots
    skipped = set(skip)
    to_play = [g for g in range(games) if g not in skipped]
    next_game = 0  # in to_play
    finished: dict[int, _Game] = {}
    try:
        with ThreadPoolExecutor(max_workers=2 * slots) as pool:  # engines start side by side
            list(pool.map(UsiClient.start, [c for side in clients for c in side if c]))
        for tick in range(games * (max_plies + 1)):  # far more than needed: games end by then
            for k in range(slots):  # every free slot takes the next game ...
                if running[k] is None and next_game < len(to_play):
                    index = to_play[next_game]
                    sfen = opening_sfens[(index // 2) % len(opening_sfens)]
                    if device_in_step and device is not None and not _device_moves_on_even_ticks(
                            tick, index % 2 == 0, device, int(starts[sfen].color)):
                        continue  # ... or waits a tick, so the device moves in step (below)
                    running[k] = _start_game(index, sfen, starts[sfen], batch, k, clients)
                    next_game += 1
            _finish_games(running, batch, clients, finished, on_progress, on_finished)
            if len(finished) == len(to_play):
                break
            if should_stop is not None and should_stop():
                raise MatchStopped(f"stopped with {len(to_play) - len(finished)} of "
                                   f"{len(to_play)} games not finished")
            live = [k for k in range(slots) if running[k] is not None]
            # Who moves in each game: OPENING, 0 (first) or 1 (second).
            mover = {k: OPENING if batch.ply[k] < opening_plies
                     else int((batch.color[k] == 0) != running[k].first_is_black) for k in live}
            engine_turn = [k for k in live if mover[k] != OPENING
                           and isinstance(sides[mover[k]], EnginePlayer)]
            for k in engine_turn:  # engines think side by side; the device answers meanwhile
                _ask(clients[mover[k]][k], running[k], sides[mover[k]])
            actions = np.zeros(slots, np.int32)
            moving = np.zeros(slots, bool)
            if any(mover[k] == OPENING for k in live):
                # The two games of a colour pair draw the same opening: the pair's key and the ply.
                keys = np.stack([jax.random.fold_in(jax.random.fold_in(
                    opening_key, running[k].index // 2 if running[k] else 0), batch.ply[k])
                    for k in range(slots)])
                by_chance = np.asarray(_act_batch(OPENING_PLAYER, None, batch, keys))
                for k in live:
                    if mover[k] == OPENING:
                        actions[k], moving[k] = by_chance[k], True
            if device is not None and any(mover[k] == device for k in live):
                keys = jax.random.split(jax.random.fold_in(key, tick), slots)
                by_device = np.asarray(_act_batch(sides[device], params[device], batch, keys))
                for k in live:
                    if mover[k] == device:
                        actions[k], moving[k] = by_device[k], True
            for k in engine_turn:
                action = _answer(clients[mover[k]], k, sides[mover[k]], running[k],
                                 _one(batch, k))
                if action is not None:
                    actions[k], moving[k] = action, True
            for k in live:
                if moving[k]:
                    running[k].moves.append(sj.action_to_usi(_one(batch, k), int(actions[k])))
            batch = _host(_step_batch(batch, actions, moving, max_plies=max_plies,
                                      impasse=impasse))
    finally:
        for side_clients in clients:
            for client in side_clients:
                if client is not None:
                    client.close()
    return _match_games([finished[g] for g in to_play])


def _host(tree):
    """A writable host copy (device_get's arrays may be read-only): slots are refilled in place."""
    return jax.tree_util.tree_map(np.array, jax.device_get(tree))


def _finish_games(running, batch, clients, finished, on_progress, on_finished) -> None:
    """Ends the games the rules ended (after the last ply, or in the opening) and those
    adjudicated against an engine; reports them and frees their slots."""
    done = []
    for k, game in enumerate(running):
        if game is None:
            continue
        if game.ended is None and (batch.terminated[k] or batch.truncated[k]):
            rewards = batch.rewards[k]
            winner = 0 if rewards[0] > 0 else 1 if rewards[1] > 0 else -1
            game.ended = (winner, int(batch.termination[k]), "")
        if game.ended is not None:
            _end_game(game, clients, k)
            finished[game.index] = game
            running[k] = None
            done.append(game)
    if done and on_progress is not None:
        on_progress(len(done))
    if done and on_finished is not None:
        on_finished(np.array([game.index for game in done]), _match_games(done))


def _start_game(index: int, sfen: str, state, batch, k: int, clients) -> _Game:
    """Puts game `index`, starting at `state`, into slot k of `batch` (in place) and tells the
    slot's engines; an engine that cannot be (re)started loses the game at once."""
    for leaf, value in zip(jax.tree_util.tree_leaves(batch), jax.tree_util.tree_leaves(state)):
        leaf[k] = value
    game = _Game(index, index % 2 == 0, sfen)
    for s, side_clients in enumerate(clients):
        client = side_clients[k]
        if client is None:
            continue
        try:
            if not client.alive():
                client.restart()
            client.new_game()
        except EngineFailure as failure:
            color = 0 if (s == 0) == game.first_is_black else 1
            if game.ended is None:
                game.ended = (1 - color, DISCONNECTION, str(failure))
    return game


def _ask(client: UsiClient, game: _Game, side: EnginePlayer) -> None:
    """Sends the position and `go`; a failure is kept for `_answer` to judge."""
    game.pending_failure = None
    game.deadline = side.deadline()
    try:
        client.request_move(game.start_sfen, game.moves, side.limit)
    except EngineFailure as failure:
        game.pending_failure = failure


def _answer(side_clients, k: int, side: EnginePlayer, game: _Game, state):
    """The engine's move as our action, or None after ending the game against it (its failure,
    resignation, or an illegal move or declaration)."""
    client = side_clients[k]
    color = int(state.color)
    failure = game.pending_failure
    if failure is None:
        try:
            move = client.read_move(game.deadline)
        except EngineFailure as error:
            failure = error
    if failure is not None:
        code = TIME_UP if failure.reason == "timeout" else DISCONNECTION
        game.ended = (1 - color, code, str(failure))
        side_clients[k] = _restarted(client)
        return None
    if move == "resign":
        game.ended = (1 - color, RESIGNATION, f"{side.name} resigned")
        return None
    if move == "win":
        # Our rules end the game at the start of a turn that meets the 27-point rule, so a
        # declaration they did not see is a false one: it loses.
        game.ended = (1 - color, ILLEGAL_ACTION, f"{side.name} declared a win (impasse) that "
                                                 "the 27-point rule does not give")
        return None
    try:
        return sj.usi_to_action(state, move)
    except ValueError as error:
        game.ended = (1 - color, ILLEGAL_ACTION, f"{side.name}: {error}")
        return None


def _restarted(client: UsiClient) -> UsiClient:
    """The slot's engine after a failure: a fresh process (a hung or dead one is killed). A
    restart that fails is tried again at the next game."""
    try:
        client.restart()
    except EngineFailure:
        client.close(grace=0.0)
    return client


def _end_game(game: _Game, clients, k: int) -> None:
    """Tells the slot's engines the result (`gameover`, from each one's side)."""
    winner = game.ended[0]
    for s, side_clients in enumerate(clients):
        client = side_clients[k]
        if client is None:
            continue
        color = 0 if (s == 0) == game.first_is_black else 1
        client.game_over("draw" if winner < 0 else "win" if winner == color else "lose")


def _match_games(played: list[_Game]) -> MatchGames:
    first_is_black = np.array([g.first_is_black for g in played], bool)
    winner = np.array([g.ended[0] for g in played], np.int32)
    first_color = np.where(first_is_black, 0, 1)
    outcome = np.where(winner < 0, DRAW, np.where(winner == first_color, FIRST_WINS,
                                                  SECOND_WINS)).astype(np.int32)
    return MatchGames(first_is_black, [g.start_sfen for g in played], [g.moves for g in played],
                      outcome, winner, np.array([g.ended[1] for g in played], np.int32),
                      notes=[g.ended[2] for g in played])
