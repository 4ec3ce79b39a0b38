"""A match: G games between two players, all played side by side on the device.

Colours alternate (game g: the first player is Black when g is even), and each colour pair
(games 2k, 2k+1) starts from the same opening: the same SFEN and the same random first plies,
so neither player gets the easier side of an opening. The plies run in compiled chunks (a
lax.scan; one ply each when a player searches), with the host only looking between chunks for
the progress bar, a stop request, and to stop once every game is over. A finished game is
frozen, so its final state keeps the outcome.

A match may be played in batches of games (`games_at_once`): each game's opening depends only on
its colour pair and each game's colour only on its index, so a batch plays the same openings, and
a batch already played (`skip`) need not be played again. Searching players run faster in
batches (a batch's search trees fit in a CPU's cache), and a tournament stopped mid-match keeps
its finished batches.
"""
from __future__ import annotations

from functools import partial
from typing import Callable, Collection, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

import shogi_jax as sj
from shogi_jax.host import parallel
from shogi_jax.notation.usi import move_to_usi
from shogi_jax.play.players import Player, random_act
from shogi_jax.rules.state import STARTPOS_SFEN, select_games
from shogi_jax.rules.step import from_square

PLIES_PER_CHUNK = 16


def plies_per_chunk(first: Player, second: Player) -> int:
    """Plies per compiled chunk: PLIES_PER_CHUNK, or 1 when a player searches. A searched ply
    of a whole match takes seconds, so a chunk of many would keep a Ctrl-C waiting minutes; a
    chunk's host round trip costs nothing beside a search."""
    return 1 if searches(first) or searches(second) else PLIES_PER_CHUNK


def searches(player) -> bool:
    """Whether a player (a Player, or the evaluation's SwitchPlayer) searches its moves."""
    return player.search is not None
NOT_PLAYED = -1  # action recorded for a game already over

# Outcomes from the first player's point of view.
FIRST_WINS, SECOND_WINS, DRAW = 0, 1, 2

# How a game ended (MatchGames.termination): the rules' reasons (sj.TERMINATION_NAMES), then the
# ways an external engine loses on its own turn (arena/engine_match.py). An illegal move or a
# false declaration by an engine is the rules' ILLEGAL_ACTION.
RESIGNATION = len(sj.TERMINATION_NAMES)  # `bestmove resign`
TIME_UP = RESIGNATION + 1  # no move within the engine's timeout (a hang)
DISCONNECTION = RESIGNATION + 2  # the engine crashed or broke the protocol
END_NAMES = sj.TERMINATION_NAMES + ("resignation", "time_up", "disconnection")


class MatchGames(NamedTuple):
    """The games of a match, on the host. G games, P plies at most."""

    first_is_black: np.ndarray  # bool[G]
    start_sfens: list[str]  # [G]
    moves: list[list[str]]  # [G] USI moves
    outcome: np.ndarray  # int32[G] FIRST_WINS / SECOND_WINS / DRAW
    winner_color: np.ndarray  # int32[G] 0 Black, 1 White, -1 draw
    termination: np.ndarray  # int32[G] reason code (END_NAMES)
    notes: Optional[list[str]] = None  # [G] what an adjudication was about ("" when none)


def start_states(sfens: Sequence[str], games: int, *, max_plies: int, impasse: bool,
                 first_game: int = 0):
    """State[G] of games first_game .. first_game + G - 1 of a match: colour pair k starts from
    sfens[k % len(sfens)]; and that SFEN per game."""
    distinct = [sj.from_sfen(sfen, max_plies=max_plies, impasse=impasse) for sfen in sfens]
    chosen = [((first_game + g) // 2) % len(sfens) for g in range(games)]
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *distinct)
    index = jnp.asarray(chosen)
    return jax.tree_util.tree_map(lambda x: x[index], stacked), [sfens[i] for i in chosen]


def _one_ply(first: Player, second: Player, first_params, second_params, games,
             first_is_black, first_keys, second_keys, opening_keys, *, opening_plies: int,
             max_plies: int, impasse: bool, by_mover: bool):
    """One ply of G games (every argument after the parameters has the game axis first).
    Returns (games, action int32[G] or NOT_PLAYED, source int32[G]).

    by_mover: each player acts only on the games where it moves, half of them: the two games of a
    colour pair are at the same ply, so one side is to move in both and it is the first player in
    exactly one (first_is_black alternates). Once one of the pair is over, the other decides.
    False (or G odd: a device's share of a pair split over devices): both act on every game."""
    over = games.terminated | games.truncated
    first_moves = (games.color == 0) == first_is_black
    num_games = first_moves.shape[0]
    if by_mover and num_games % 2 == 0:
        pairs = num_games // 2
        # Pair k's games are 2k and 2k + 1 (g ^ 1: the other game of g's pair). Who moves is
        # read from a game still running: 2k unless it is over.
        decider = 2 * jnp.arange(pairs) + over.reshape(pairs, 2)[:, 0]  # int[G/2]
        first_at = jnp.where(first_moves[decider], decider, decider ^ 1)  # int[G/2]
        second_at = first_at ^ 1  # int[G/2]

        def games_at(at):  # State[G/2]
            return jax.tree_util.tree_map(lambda x: x[at], games)

        first_half = jax.vmap(first.act, in_axes=(None, 0, 0))(
            first_params, games_at(first_at), first_keys[first_at])
        second_half = jax.vmap(second.act, in_axes=(None, 0, 0))(
            second_params, games_at(second_at), second_keys[second_at])
        by_players = (jnp.zeros(num_games, jnp.int32).at[first_at].set(first_half)
                      .at[second_at].set(second_half))
    else:
        by_first = jax.vmap(first.act, in_axes=(None, 0, 0))(first_params, games, first_keys)
        by_second = jax.vmap(second.act, in_axes=(None, 0, 0))(second_params, games,
                                                                second_keys)
        by_players = jnp.where(first_moves, by_first, by_second)
    opening = jax.vmap(random_act, in_axes=(None, 0, 0))(None, games, opening_keys)
    action = jnp.where(games.ply < opening_plies, opening, by_players)
    source = jax.vmap(from_square)(games.board, action)
    after = jax.vmap(partial(sj.step, max_plies=max_plies, impasse=impasse))(games, action)
    games = select_games(over, games, after)
    return games, jnp.where(over, NOT_PLAYED, action), source


@partial(jax.jit, static_argnames=("first", "second", "plies", "opening_plies", "max_plies",
                                   "impasse", "mesh", "by_mover"))
def play_plies(first: Player, second: Player, first_params, second_params, games, first_is_black,
               opening_key, key, first_pair=0, *, plies: int, opening_plies: int,
               max_plies: int, impasse: bool, mesh: Optional[Mesh] = None,
               by_mover: bool = True):
    """Plays `plies` plies of every game. Returns (games, actions int32[plies, G],
    sources int32[plies, G]) with NOT_PLAYED for games already over; sources are the moved
    pieces' squares in the mover's frame (for the USI text). first_pair (traced: one program for
    every batch): the match's colour pair of games[0], which keys the openings. With the games
    split over `mesh`, each device plays only its own games. by_mover=False: both players act on
    every game (see _one_ply), the simple path the fast one is tested against."""
    num_games = first_is_black.shape[0]
    pair = first_pair + jnp.arange(num_games) // 2
    searching = searches(first) or searches(second)  # mctx: see on_own_games
    play = parallel.on_own_games(
        partial(_one_ply, first, second, opening_plies=opening_plies, max_plies=max_plies,
                impasse=impasse, by_mover=by_mover), mesh, shared=2, check_vma=not searching)

    def one_ply(games, ply_key):
        first_keys, second_keys = jax.random.split(ply_key, (2, num_games))
        # The two games of a colour pair draw the same opening moves: same key, same position.
        opening_keys = jax.vmap(lambda p, ply: jax.random.fold_in(
            jax.random.fold_in(opening_key, p), ply))(pair, games.ply)
        games, action, source = play(first_params, second_params, games, first_is_black,
                                     first_keys, second_keys, opening_keys)
        return games, (action, source)

    games, (actions, sources) = jax.lax.scan(one_ply, games, jax.random.split(key, plies))
    return games, actions, sources


class MatchStopped(Exception):
    """`play_match` stopped on request; the games still running were dropped."""


def play_match(first: Player, first_params, second: Player, second_params, *, games: int,
               key, max_plies: int = sj.DEFAULT_MAX_PLIES, impasse: bool = True,
               opening_plies: int = 0, opening_sfens: Sequence[str] = (STARTPOS_SFEN,),
               on_progress: Optional[Callable[[int], None]] = None,
               on_finished: Optional[Callable[[np.ndarray, MatchGames], None]] = None,
               should_stop: Optional[Callable[[], bool]] = None,
               mesh: Optional[Mesh] = None, games_at_once: int = 0,
               skip: Collection[int] = ()) -> MatchGames:
    """Plays `games` (even) games and returns them with their outcomes. After each chunk of
    plies: `on_progress(n)` gets the number of games newly finished, `on_finished(indices,
    games)` those games themselves (int[k] indices into the match, MatchGames of k), and a true
    `should_stop()` raises MatchStopped, dropping the games still running. The games are split
    over the devices of `mesh` (default: every device; see parallel.mesh_for_batch), the players'
    parameters replicated.

    games_at_once (even; 0: all): the games are played in batches of that many, one after the
    other, with the same openings as all at once; the players' own random draws (sampling, a
    search's Gumbel noise) differ by batch. A batch whose games are all in `skip` (already
    played, by a tournament being resumed) is not played; the MatchGames returned holds the
    games played, in index order. One batch plays exactly the games it played before batches
    existed (the same key)."""
    if games <= 0 or games % 2:
        raise ValueError(f"games must be even and > 0 (colours alternate), got {games}")
    if games_at_once < 0 or games_at_once % 2:
        raise ValueError(f"games_at_once must be even and >= 0 (colour pairs stay together), "
                         f"got {games_at_once}")
    batch_size = min(games_at_once or games, games)
    starts = range(0, games, batch_size)
    opening_key, key = jax.random.split(key)
    skipped = set(skip)
    played = []
    for batch, first_game in enumerate(starts):
        indices = np.arange(first_game, min(first_game + batch_size, games))
        if skipped.issuperset(indices.tolist()):
            continue
        batch_key = key if len(starts) == 1 else jax.random.fold_in(key, batch)

        def batch_finished(newly, finished, first_game=first_game):
            on_finished(newly + first_game, finished)

        played.append(_play_batch(
            first, first_params, second, second_params, len(indices), first_game, opening_key,
            batch_key, max_plies=max_plies, impasse=impasse, opening_plies=opening_plies,
            opening_sfens=opening_sfens, on_progress=on_progress,
            on_finished=batch_finished if on_finished is not None else None,
            should_stop=should_stop, mesh=mesh))
    if not played:
        return MatchGames(np.zeros(0, bool), [], [], *(np.zeros(0, np.int32),) * 3)
    return _joined(played)


def _joined(batches: Sequence[MatchGames]) -> MatchGames:
    """The games of consecutive batches as one MatchGames, field by field."""
    def join(parts):
        if parts[0] is None:  # notes: no adjudication on the device
            return None
        return [x for part in parts for x in part] if isinstance(parts[0], list) \
            else np.concatenate(parts)
    return MatchGames(*(join(parts) for parts in zip(*batches)))


def _play_batch(first: Player, first_params, second: Player, second_params, games: int,
                first_game: int, opening_key, key, *, max_plies: int, impasse: bool,
                opening_plies: int, opening_sfens: Sequence[str],
                on_progress, on_finished, should_stop, mesh) -> MatchGames:
    """Plays games first_game .. first_game + games - 1 of a match (first_game even) side by
    side; indices given to on_finished and the MatchGames are the batch's own."""
    mesh = parallel.mesh_for_batch(games, mesh)
    by_game, everywhere = parallel.split_over_games(mesh), parallel.replicated(mesh)
    state, sfens = start_states(opening_sfens, games, max_plies=max_plies, impasse=impasse,
                                first_game=first_game)
    state = jax.device_put(state, by_game)
    first_is_black = jax.device_put(jnp.arange(games) % 2 == 0, by_game)
    first_is_black_host = parallel.to_host(first_is_black)
    first_params = jax.device_put(first_params, everywhere)
    second_params = jax.device_put(second_params, everywhere)
    first_pair = jnp.int32(first_game // 2)
    actions, sources = [], []
    over = np.zeros(games, bool)  # bool[G] games finished so far
    # Every game ends by max_plies (plies counted from its start SFEN).
    chunk_plies = plies_per_chunk(first, second)
    chunk_args = dict(plies=chunk_plies, opening_plies=opening_plies, max_plies=max_plies,
                      impasse=impasse, mesh=mesh)
    if jax.process_count() > 1:  # every process compiled before any runs a collective
        play_plies.lower(first, second, first_params, second_params, state, first_is_black,
                         opening_key, key, first_pair, **chunk_args).compile()
        parallel.wait_for_all_processes("compiled a match")
    for chunk in range(-(-(max_plies + 1) // chunk_plies)):
        state, chunk_actions, chunk_sources = play_plies(
            first, second, first_params, second_params, state, first_is_black, opening_key,
            jax.random.fold_in(key, chunk), first_pair, **chunk_args)
        actions.append(parallel.to_host(chunk_actions))
        sources.append(parallel.to_host(chunk_sources))
        now_over = parallel.to_host(state.terminated | state.truncated)
        newly = np.flatnonzero(now_over & ~over)
        over = now_over
        if on_progress is not None:
            on_progress(len(newly))
        if on_finished is not None and len(newly):
            on_finished(newly, _to_host(_outcome_fields(state), first_is_black_host, sfens,
                                        np.concatenate(actions), np.concatenate(sources),
                                        newly))
        if over.all():
            break
        if should_stop is not None and should_stop():
            raise MatchStopped(f"stopped with {int(games - over.sum())} of {games} games running")
    if not over.all():
        raise RuntimeError(f"{int(games - over.sum())} games still running after max_plies "
                           f"{max_plies}")
    return _to_host(_outcome_fields(state), first_is_black_host, sfens,
                    np.concatenate(actions), np.concatenate(sources), np.arange(games))


class _Outcome(NamedTuple):
    """The fields of a (frozen) final state that tell how each game ended, on the host."""
    rewards: np.ndarray  # float32[G, 2]
    termination: np.ndarray  # int32[G]


def _outcome_fields(state) -> _Outcome:
    return _Outcome(parallel.to_host(state.rewards), parallel.to_host(state.termination))


def _to_host(final: _Outcome, first_is_black, sfens, actions, sources,
             indices: np.ndarray) -> MatchGames:
    """MatchGames of the games `indices` (int[k]) from the match-wide arrays: first_is_black
    bool[G], sfens [G], actions / sources int32[P, G] (P plies so far)."""
    moves = []
    for g in indices:
        color = 0 if sfens[g].split()[1] == "b" else 1
        played = actions[:, g][actions[:, g] != NOT_PLAYED]
        moves.append([move_to_usi((color + t) % 2, a, sources[t, g])
                      for t, a in enumerate(played)])
    rewards = final.rewards[indices]
    winner_color = np.where(rewards[:, 0] > 0, 0, np.where(rewards[:, 1] > 0, 1, -1))
    first_is_black = first_is_black[indices]
    first_color = np.where(first_is_black, 0, 1)
    outcome = np.where(winner_color < 0, DRAW,
                       np.where(winner_color == first_color, FIRST_WINS, SECOND_WINS))
    return MatchGames(first_is_black, [sfens[g] for g in indices], moves,
                      outcome.astype(np.int32), winner_color.astype(np.int32),
                      final.termination[indices].astype(np.int32))
