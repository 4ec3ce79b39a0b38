"""Finished games as the KIF and CSA writers need them (host side): replayed by the rules engine,
many games at once, every move described from the board it was played on (the piece that moved,
its squares, capture, promotion), and each result checked against its termination. Malformed or
illegal input raises ValueError naming the fault; a move in a game is named by its text and its
index in the move list, a game of a batch by its index in the batch.

The replay: each USI move is read into an action on the host from its text alone (the side to
move at ply t is the start's flipped t times), the games' start positions and actions are stacked
(G games, int32[P, G] actions) and one jitted scan over plies of the vmapped `step` plays them,
PLIES_PER_CALL plies a call, returning per ply and game a few small facts read off the board
before the move. A game stops at a move the rules refuse; that move is then named with its reason
by `usi.usi_to_action` on the position where the game stopped.
"""
from __future__ import annotations

import functools
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from shogi_jax.notation.sfen import absolute_position, sfen_position
from shogi_jax.notation.usi import parse_usi, usi_to_action
from shogi_jax.rules.board import (
    DROP_PLANE_OFFSET,
    EMPTY,
    HAND_LETTERS,
    NUM_ACTIONS,
    NUM_RANKS,
    NUM_SQUARES,
    OPP_OFFSET,
    OWN_OFFSET,
    PIECE_NAMES,
    PROMOTION_PLANE_OFFSET,
    flip_square,
)
from shogi_jax.rules.state import (
    COLOR_NAMES,
    START_BOARD,
    TERMINATION_NAMES,
    State,
    empty_state,
    select_games,
)
from shogi_jax.rules.step import begin_turn, from_square, step

BLACK, WHITE = 0, 1
RESULTS = ("black_win", "white_win", "draw")
# Besides the rules' reasons ("none" is spelled None here), how a game against an external engine
# ends: a resignation or no move in time, by the side to move; a disconnection (a crash or a
# protocol error), by either side (an engine may fail to start a game it would play second).
ADJUDICATIONS = ("resignation", "time_up", "disconnection")
TERMINATIONS = TERMINATION_NAMES[1:] + ADJUDICATIONS

# A record replays every move it is given: no move limit, and no impasse declaration ends it
# (that one did is the termination's claim). A move after a fourfold repetition, which ends
# every game, is refused: the game is over.
_RULES = dict(max_plies=int(np.iinfo(np.int32).max), impasse=False)

# Replay shapes, so that few programs compile: a batch of games is padded (with games that make
# no move) to the first of BATCH_SIZES that holds it, more games than the last are split; a game
# takes PLIES_PER_CALL plies per call of the same program. Smaller batches would run faster but
# compile slower, which a tournament writing a few games at a time would not win back.
BATCH_SIZES = (32, 64)
PLIES_PER_CALL = 16
NOT_PLAYED = -1  # the action of a ply a game does not reach (or whose move text is unreadable)

Square = tuple[int, int]  # (file 1..9, rank 1..9); rank 1 is White's back rank (USI rank 'a')


class Piece(NamedTuple):
    color: int  # BLACK or WHITE
    kind: str  # its name in PIECE_NAMES: "S", "+S", "K"


class Position(NamedTuple):
    """A position in Black's frame, as `sfen.parse_sfen` gives it."""

    board: np.ndarray  # int32[81] codes: Black's pieces 1..14, White's 15..28
    hands: np.ndarray  # int32[2, 7] by color, columns P L N S B R G
    color: int  # side to move

    def piece(self, square: Square) -> Piece | None:
        code = int(self.board[NUM_RANKS * (square[0] - 1) + square[1] - 1])
        if code == EMPTY:
            return None
        color = BLACK if code < OPP_OFFSET else WHITE
        return Piece(color, PIECE_NAMES[code - (OWN_OFFSET, OPP_OFFSET)[color]])


class RecordMove(NamedTuple):
    usi: str
    color: int  # the side that played it
    piece: str  # kind before the move ("S", "+S"); for a drop, the kind dropped
    source: Square | None  # None for a drop
    to: Square
    promotes: bool
    may_promote: bool  # promotion was a legal choice here (KIF writes 不成 when it is declined)
    captured: str | None  # kind of the captured piece as it stood on the board, None if none

    @property
    def is_drop(self) -> bool:
        return self.source is None


class GameRecord(NamedTuple):
    black: str  # the players' names
    white: str
    start: Position
    moves: list[RecordMove]
    final: Position  # the position after the last move
    winner: int | None  # BLACK, WHITE or None for a draw
    termination: str | None


class FinishedGame(NamedTuple):
    """A finished game as a record is made from: the arguments of `game_record`."""

    start_sfen: str
    usi_moves: Sequence[str]
    black: str
    white: str
    result: str
    termination: str | None


def game_record(start_sfen: str, usi_moves, *, black: str, white: str, result: str,
                termination: str | None) -> GameRecord:
    """Check a finished game's description and replay its moves; what both record writers need.

    `usi_moves` are the moves played (an illegal action that ended the game is not among them).
    The winner must fit the termination, judged at the position after the last move: checkmate,
    no_legal_moves, illegal_action, resignation and time_up lose for the side to move there,
    impasse_declaration wins for it, repetition_draw and move_limit are draws, perpetual_check
    and disconnection lose for either side. With
    no termination a decisive result is a resignation by the side to move, and a draw is a game
    stopped without a rules result. The claims themselves (that it is mate, or a repetition) are
    the rules engine's; they are not judged again here."""
    game = FinishedGame(start_sfen, usi_moves, black, white, result, termination)
    return _records([game], name_games=False)[0]


def game_records(games: Sequence[FinishedGame]) -> list[GameRecord]:
    """The records of many finished games (as `game_record` makes one), replayed together: far
    cheaper per move than one at a time. ValueError names a faulty game by its index in `games`
    and its fault as `game_record` does."""
    return _records(list(games), name_games=True)


def is_standard_start(position: Position) -> bool:
    """Whether `position` is the standard start with Black to move (KIF 平手, CSA PI)."""
    return (position.color == BLACK and np.array_equal(position.board, START_BOARD)
            and not position.hands.any())


# --- the replay ---------------------------------------------------------------------------------


class _PlyFacts(NamedTuple):
    """What one ply of one game leaves for its record, read off the board before the move (the
    mover's frame); small ints, [P, G] for a batch."""

    played: jnp.ndarray  # bool: the move was legal and is played (False from a game's stop on)
    piece: jnp.ndarray  # int8 code on the move's source square (a board move: the moved piece)
    captured: jnp.ndarray  # int8 code on the destination
    may_promote: jnp.ndarray  # bool: a board move that does not promote could have


def _replay_ply(state: State, stopped, action, source):
    """One game, one ply: play `action` (int32[], NOT_PLAYED for none), a board move's piece
    leaving `source`, if the game has not stopped and the rules allow it; otherwise the game
    stops (`stopped` bool[]) and keeps its position. Returns (state, stopped, _PlyFacts)."""
    action = jnp.asarray(action, jnp.int32)
    valid = action != NOT_PLAYED
    action = jnp.maximum(action, 0)
    plane, to = action // NUM_SQUARES, action % NUM_SQUARES
    moved_from = from_square(state.board, action)
    # The engine moves the first piece on the ray back from the destination: where the text's
    # source square is not that piece's, the path is blocked and the move is refused.
    reaches = (plane >= DROP_PLANE_OFFSET) | (moved_from == source)
    over = state.terminated | state.truncated
    played = ~stopped & valid & ~over & reaches & state.legal_action_mask[action]
    twin = jnp.minimum(action + PROMOTION_PLANE_OFFSET * NUM_SQUARES, NUM_ACTIONS - 1)
    facts = _PlyFacts(
        played=played,
        piece=state.board[moved_from].astype(jnp.int8),
        captured=state.board[to].astype(jnp.int8),
        may_promote=(plane < PROMOTION_PLANE_OFFSET) & state.legal_action_mask[twin],
    )
    state = select_games(played, step(state, action, **_RULES), state)
    return state, ~played, facts


@jax.jit
def _replay_plies(states: State, stopped, begin, actions, sources):
    """Plays plies of G games: states a State of G games, stopped bool[G], actions and sources
    int32[C, G] (C plies, `_replay_ply`); `begin` bool[]: the states' turns are yet to begin (the
    first call: positions as `sfen_position` gives them). Returns (states, stopped, _PlyFacts of
    [C, G])."""
    states = jax.lax.cond(begin, jax.vmap(functools.partial(begin_turn, **_RULES)),
                          lambda unchanged: unchanged, states)

    def ply(carry, xs):
        state, stopped = carry
        state, stopped, facts = jax.vmap(_replay_ply)(state, stopped, *xs)
        return (state, stopped), facts

    (states, stopped), facts = jax.lax.scan(ply, (states, stopped), (actions, sources))
    return states, stopped, facts


@functools.cache
def _empty_game() -> State:
    return jax.device_get(empty_state())


class _ParsedMove(NamedTuple):
    """A USI move of one side as its text alone gives it."""

    action: int
    source: int  # mover's frame; NUM_SQUARES for a drop
    source_square: Square | None
    to: Square
    promotes: bool
    dropped: str | None  # the kind dropped, None for a board move


@functools.lru_cache(maxsize=1 << 16)
def _parsed_move(usi: str, color: int) -> _ParsedMove:
    """ValueError as `usi.parse_usi`."""
    action, source = parse_usi(usi, color)
    plane, to = divmod(action, NUM_SQUARES)
    drop = plane >= DROP_PLANE_OFFSET
    return _ParsedMove(action, source, None if drop else _square(source, color),
                       _square(to, color), PROMOTION_PLANE_OFFSET <= plane < DROP_PLANE_OFFSET,
                       HAND_LETTERS[plane - DROP_PLANE_OFFSET] if drop else None)


def _square(sq: int, color: int) -> Square:
    """(file, rank) of square `sq` of `color`'s frame."""
    sq = sq if color == BLACK else flip_square(sq)
    return sq // NUM_RANKS + 1, sq % NUM_RANKS + 1


def _moves_until_unreadable(usi_moves, color: int) -> list[_ParsedMove]:
    """The moves of one game read from their text, up to the first that cannot be (malformed, or
    not a string); `color` moves first."""
    parsed = []
    for ply, usi in enumerate(usi_moves):
        if not isinstance(usi, str):
            break
        try:
            parsed.append(_parsed_move(usi, color ^ (ply & 1)))
        except ValueError:
            break
    return parsed


def _check_description(game: FinishedGame) -> None:
    for role, name in (("black", game.black), ("white", game.white)):
        if not isinstance(name, str) or "\n" in name or "\r" in name:
            raise ValueError(f"{role} name {name!r} must be a string on one line")
    if game.result not in RESULTS:
        raise ValueError(f"result {game.result!r} must be one of {RESULTS}")
    if game.termination is not None and game.termination not in TERMINATIONS:
        raise ValueError(f"termination {game.termination!r} must be None or one of "
                         f"{TERMINATIONS}")
    if isinstance(game.usi_moves, str):
        raise ValueError("usi_moves must be a list of USI strings, got one string")


def _records(games: list[FinishedGame], *, name_games: bool) -> list[GameRecord]:
    def fault(index: int, error: ValueError) -> ValueError:
        return ValueError(f"game {index}: {error}" if name_games else str(error))

    positions, by_sfen = [], {}
    for index, game in enumerate(games):
        try:
            _check_description(game)
            known = isinstance(game.start_sfen, str) and game.start_sfen in by_sfen
            position = by_sfen[game.start_sfen] if known else sfen_position(game.start_sfen)
        except ValueError as error:
            raise fault(index, error) from None
        by_sfen[game.start_sfen] = position
        positions.append(position)
    starts = [_start(position) for position in positions]
    parsed = [_moves_until_unreadable(game.usi_moves, position[2])
              for game, position in zip(games, positions)]

    # Replay batches of games of similar lengths, so that few plies are wasted on games done.
    order = sorted(range(len(games)), key=lambda g: len(parsed[g]))
    replayed = [None] * len(games)
    for first in range(0, len(games), BATCH_SIZES[-1]):
        batch = order[first:first + BATCH_SIZES[-1]]
        for g, result in zip(batch, _replay([positions[g] for g in batch],
                                            [parsed[g] for g in batch])):
            replayed[g] = result

    records = []
    for index, (game, start, moves, (facts, final)) in enumerate(
            zip(games, starts, parsed, replayed)):
        try:
            records.append(_record(game, start, moves, facts, final))
        except ValueError as error:
            raise fault(index, error) from None
    return records


def _replay(positions, games_moves: list[list[_ParsedMove]]):
    """Replays up to BATCH_SIZES[-1] games (their start positions as `sfen_position` gives them,
    their read moves). Returns per game (_PlyFacts of its plies as numpy [P], its State where it
    stopped: after its last move, or before the first move it could not play)."""
    count = len(positions)
    size = next(size for size in BATCH_SIZES if size >= count)
    plies = PLIES_PER_CALL * max(1, -(-max(map(len, games_moves)) // PLIES_PER_CALL))
    actions = np.full((plies, size), NOT_PLAYED, np.int32)
    sources = np.full((plies, size), NUM_SQUARES, np.int32)
    for g, moves in enumerate(games_moves):
        actions[:len(moves), g] = [move.action for move in moves]
        sources[:len(moves), g] = [move.source for move in moves]
    padded = positions + positions[:1] * (size - count)  # copies of a real start, no moves
    board, hand, color, ply = (np.stack(field) for field in zip(*padded))
    states = jax.tree_util.tree_map(lambda x: np.broadcast_to(x, (size, *x.shape)),
                                    _empty_game())
    states = states._replace(board=board, hand=hand, color=color.astype(np.int32),
                             ply=ply.astype(np.int32))
    stopped, chunks = np.zeros(size, bool), []
    for start in range(0, plies, PLIES_PER_CALL):
        window = slice(start, start + PLIES_PER_CALL)
        states, stopped, facts = _replay_plies(states, stopped, start == 0, actions[window],
                                               sources[window])
        chunks.append(facts)
    facts = _PlyFacts(*(np.concatenate(field) for field in zip(*jax.device_get(chunks))))
    states = jax.device_get(states)
    return [(jax.tree_util.tree_map(lambda x: x[:, g], facts),
             jax.tree_util.tree_map(lambda x: x[g], states)) for g in range(count)]


def _start(position) -> Position:
    """The Position of a start as `sfen_position` gives it (the mover's frame)."""
    board, hand, color, _ = position
    return Position(*absolute_position(_empty_game()._replace(board=board, hand=hand,
                                                               color=color)))


_MOVED = [None] * OWN_OFFSET + list(PIECE_NAMES)  # by the code of a piece of the mover
_CAPTURED = [None] * OPP_OFFSET + list(PIECE_NAMES)  # by the code on a destination


def _record(game: FinishedGame, start: Position, moves: list[_ParsedMove], facts: _PlyFacts,
            final_state: State) -> GameRecord:
    """The record of one replayed game; ValueError for the first move it could not play, or a
    result that does not fit its termination."""
    played = int(facts.played.sum())  # a prefix: a game stops at its first refused move
    if played < len(game.usi_moves):
        try:
            usi_to_action(final_state, game.usi_moves[played])  # names the reason
        except ValueError as error:
            raise ValueError(f"move at index {played}: {error}") from None
        raise AssertionError(f"move at index {played} ({game.usi_moves[played]!r}) was refused "
                             "by the replay but is legal")
    pieces, captures, choices = (facts.piece.tolist(), facts.captured.tolist(),
                                 facts.may_promote.tolist())
    record_moves = [
        RecordMove(usi, start.color ^ (ply & 1), move.dropped or _MOVED[pieces[ply]],
                   move.source_square, move.to, move.promotes, move.promotes or choices[ply],
                   _CAPTURED[captures[ply]])
        for ply, (usi, move) in enumerate(zip(game.usi_moves, moves))]
    final = Position(*absolute_position(final_state))
    winner = _winner(game.result, game.termination, final.color)
    return GameRecord(game.black, game.white, start, record_moves, final, winner,
                      game.termination)


def _winner(result: str, termination: str | None, to_move: int) -> int | None:
    """The winner `result` names, checked against `termination` with `to_move` to move after the
    last move (see `game_record`)."""
    winner = {"black_win": BLACK, "white_win": WHITE, "draw": None}[result]
    if termination in ("perpetual_check", "disconnection"):
        if winner is None:
            raise ValueError(f"result 'draw' does not fit termination {termination!r}: one side "
                             "loses")
        return winner
    if termination in ("checkmate", "no_legal_moves", "illegal_action", "resignation",
                       "time_up") or (
            termination is None and winner is not None):
        expected = 1 - to_move
    elif termination == "impasse_declaration":
        expected = to_move
    else:  # repetition_draw, move_limit, or a game stopped as a draw
        expected = None
    if winner != expected:
        wanted = "draw" if expected is None else ("black_win", "white_win")[expected]
        raise ValueError(f"result {result!r} does not fit termination {termination!r}: "
                         f"{COLOR_NAMES[to_move]} is to move after the last move, so the result "
                         f"must be {wanted!r}")
    return winner
