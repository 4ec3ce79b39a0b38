"""SFEN positions <-> State. Host side; every malformed input raises ValueError naming the fault."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from shogi_jax.notation.usi import RANK_LETTERS, mover_in_check
from shogi_jax.rules.board import (
    DEAD_RANKS,
    HAND_LETTERS,
    HAND_TYPE,
    KING,
    MAX_HAND,
    NUM_PIECE_TYPES,
    NUM_RANKS,
    NUM_SQUARES,
    OPP_OFFSET,
    OWN_OFFSET,
    PAWN,
    PIECE_NAMES,
    flip_board_np,
)
from shogi_jax.rules.state import (
    COLOR_NAMES,
    DEFAULT_MAX_PLIES,
    TERMINATION_NAMES,
    State,
    empty_state,
    set_text_view,
)
from shogi_jax.rules.step import begin_turn

_TYPE_OF_NAME = {name: t for t, name in enumerate(PIECE_NAMES)}
HAND_ORDER = "RBGSNLP"  # the order SFEN (and KIF, CSA) list a hand's pieces in


def parse_sfen(sfen: str):
    """SFEN text -> (absolute board int32[81] with Black codes 1..14 and White 15..28,
    hands int32[2, 7] by color, color, move number). Raises ValueError naming the fault."""
    if not isinstance(sfen, str):
        raise ValueError(f"SFEN must be a string, got {type(sfen).__name__}")
    fields = sfen.strip().split()
    if fields and fields[0] == "sfen":
        fields = fields[1:]
    if len(fields) not in (3, 4):
        raise ValueError(f"bad SFEN {sfen!r}: expected 'BOARD SIDE HANDS [MOVE]', "
                         f"got {len(fields)} fields")
    board_text, side, hand_text = fields[:3]
    move_number = 1
    if len(fields) == 4:
        if not fields[3].isdigit() or int(fields[3]) < 1:
            raise ValueError(f"bad SFEN {sfen!r}: move number {fields[3]!r} is not a positive "
                             "integer")
        move_number = int(fields[3])
    if side not in ("b", "w"):
        raise ValueError(f"bad SFEN {sfen!r}: side to move {side!r} must be 'b' or 'w'")

    board = np.zeros(NUM_SQUARES, np.int32)
    ranks = board_text.split("/")
    if len(ranks) != 9:
        raise ValueError(f"bad SFEN {sfen!r}: board has {len(ranks)} ranks, expected 9")
    for rank, row in enumerate(ranks):
        file = 9  # SFEN lists each rank from file 9 down to file 1
        i = 0
        while i < len(row):
            ch = row[i]
            unreadable = f"bad SFEN {sfen!r}: cannot read rank {rank + 1} {row!r}"
            if ch.isdigit():
                if ch == "0":
                    raise ValueError(f"{unreadable}: empty-square count 0")
                file -= int(ch)
                i += 1
                continue
            promoted = ch == "+"
            if promoted:
                i += 1
                if i == len(row):
                    raise ValueError(f"{unreadable}: '+' without a piece")
                ch = row[i]
            name = ("+" if promoted else "") + ch.upper()
            if name not in _TYPE_OF_NAME:
                raise ValueError(f"{unreadable}: unknown piece {'+' if promoted else ''}{ch!r}")
            if file < 1:
                raise ValueError(f"bad SFEN {sfen!r}: rank {rank + 1} {row!r} is not 9 squares "
                                 "(more than 9)")
            offset = OWN_OFFSET if ch.isupper() else OPP_OFFSET
            board[NUM_RANKS * (file - 1) + rank] = _TYPE_OF_NAME[name] + offset
            file -= 1
            i += 1
        if file != 0:
            raise ValueError(f"bad SFEN {sfen!r}: rank {rank + 1} {row!r} is not 9 squares "
                             f"({9 - file} squares)")

    hands = np.zeros((2, 7), np.int32)
    if hand_text != "-":
        count = ""
        for ch in hand_text:
            if ch.isdigit():
                count += ch
                continue
            if ch.upper() not in HAND_LETTERS:
                raise ValueError(f"bad SFEN {sfen!r}: cannot read hands {hand_text!r}: unknown "
                                 f"piece {ch!r}")
            hands[0 if ch.isupper() else 1, HAND_LETTERS.index(ch.upper())] += int(count or 1)
            count = ""
        if count:
            raise ValueError(f"bad SFEN {sfen!r}: hands end with a count and no piece")
    _validate_position(sfen, board, hands)
    return board, hands, 0 if side == "b" else 1, move_number


def _validate_position(sfen, board, hands):
    for color, offset in ((0, OWN_OFFSET), (1, OPP_OFFSET)):
        kings = int(np.sum(board == KING + offset))
        if kings != 1:
            raise ValueError(f"bad SFEN {sfen!r}: {COLOR_NAMES[color]} has {kings} kings, "
                             "expected 1")
    # Totals per unpromoted kind may not exceed the set (18 pawns, 4 lances, ... 2 rooks).
    for column, limit in enumerate(MAX_HAND):
        on_board = sum(int(np.sum(board == t + off)) for t in range(NUM_PIECE_TYPES)
                       if HAND_TYPE[t] == column for off in (OWN_OFFSET, OPP_OFFSET))
        total = on_board + int(hands[:, column].sum())
        if total > limit:
            raise ValueError(f"bad SFEN {sfen!r}: {total} pieces of kind "
                             f"{HAND_LETTERS[column]}, at most {limit} exist")
    ranks = np.arange(NUM_SQUARES) % NUM_RANKS
    for piece, far_ranks in DEAD_RANKS.items():
        # A piece that could never move again: Black's on its far ranks, White's on its own far.
        stuck = ((board == piece + OWN_OFFSET) & (ranks < far_ranks)) | (
            (board == piece + OPP_OFFSET) & (ranks > 8 - far_ranks))
        if stuck.any():
            raise ValueError(f"bad SFEN {sfen!r}: {PIECE_NAMES[piece]} on a rank it can never "
                             "leave")
    for offset, name in zip((OWN_OFFSET, OPP_OFFSET), COLOR_NAMES):
        files = (board == PAWN + offset).reshape(-1, NUM_RANKS).sum(axis=1)
        if (files > 1).any():
            raise ValueError(f"bad SFEN {sfen!r}: {name} has two unpromoted pawns on one file")


@functools.partial(jax.jit, static_argnames=("max_plies", "impasse"))
def position_state(board, hand, color, ply, *, max_plies, impasse):
    """The State of one position given by `sfen_position`'s fields (vmap it for a batch)."""
    state = empty_state()._replace(board=board, hand=hand, color=color, ply=ply)
    return begin_turn(state, max_plies=max_plies, impasse=impasse)


def sfen_position(sfen: str):
    """SFEN -> (board int32[81], hand int32[2, 7] in the mover's frame, color, ply) of the
    position, the fields a State starts its turn from (`begin_turn` judges it). A position where
    the side not to move is in check is rejected: it could not arise in play."""
    board, hands, color, move_number = parse_sfen(sfen)
    mover_board = board if color == 0 else flip_board_np(board)
    mover_hand = hands if color == 0 else hands[::-1].copy()
    if bool(mover_in_check(flip_board_np(mover_board))):
        raise ValueError(f"bad SFEN {sfen!r}: the side not to move is in check")
    return mover_board, mover_hand, color, move_number - 1


def from_sfen(sfen: str, *, max_plies: int = DEFAULT_MAX_PLIES, impasse: bool = True) -> State:
    """SFEN -> State (mask, check and outcome judged); ValueError as `sfen_position`."""
    board, hand, color, ply = sfen_position(sfen)
    return position_state(jnp.asarray(board), jnp.asarray(hand), jnp.int32(color),
                           jnp.int32(ply), max_plies=max_plies, impasse=impasse)


def one_game(state: State, index) -> State:
    """The game `index` of a batched state (index None: `state` must be one game)."""
    if index is not None:
        state = jax.tree_util.tree_map(lambda x: x[index], state)
    shape = np.shape(state.board)
    if shape != (NUM_SQUARES,):
        raise ValueError(f"a batch of games (board shape {shape}): pick one with index=k"
                         if index is None else f"index {index!r} leaves board shape {shape}, "
                         "not one game: give one index per batch axis")
    return state


def _piece_letters(code: int) -> str:
    """SFEN letters of a piece code on the absolute board: upper case Black, lower White."""
    black = code < OPP_OFFSET
    name = PIECE_NAMES[code - (OWN_OFFSET if black else OPP_OFFSET)]
    return name if black else name.lower()


def absolute_position(state: State):
    """(board codes int[81] with Black as the mover's frame, hands int[2, 7] Black's first,
    colour) of one game."""
    board, color, hands = np.asarray(state.board), int(state.color), np.asarray(state.hand)
    return ((board, hands, color) if color == 0
            else (flip_board_np(board), hands[::-1], color))


def hand_pieces(hands, side: int) -> list[tuple[str, int]]:
    """(letter, count) of one side's hand (hands: int[2, 7] by side, columns P L N S B R G) in
    HAND_ORDER, empty kinds left out."""
    return [(letter, n) for letter in HAND_ORDER
            for n in [int(hands[side, HAND_LETTERS.index(letter)])] if n]


def _hand_text(hands) -> str:
    """SFEN hand field: Black's pieces, then White's (lower case); "-" when empty."""
    text = "".join((str(n) if n > 1 else "") + (letter if side == 0 else letter.lower())
                   for side in (0, 1) for letter, n in hand_pieces(hands, side))
    return text or "-"


def to_sfen(state: State, index=None) -> str:
    """State -> SFEN text: one game, or game `index` of a batch (an int; a tuple for several
    batch axes)."""
    state = one_game(state, index)
    absolute, hands, color = absolute_position(state)
    rows = []
    for rank in range(9):
        row, gap = "", 0
        for file in range(9, 0, -1):
            code = int(absolute[9 * (file - 1) + rank])
            if code == 0:
                gap += 1
                continue
            if gap:
                row, gap = row + str(gap), 0
            row += _piece_letters(code)
        rows.append(row + (str(gap) if gap else ""))
    return f"{'/'.join(rows)} {'bw'[color]} {_hand_text(hands)} {int(state.ply) + 1}"


def board_diagram(state: State, index=None) -> str:
    """A text board of one game (or game `index` of a batch), Black at the bottom: SFEN letters
    (upper case Black, lower White, + promoted), files 9..1 left to right, ranks a..i top down,
    both hands (pieces as letters with their counts), the side to move and how the game stands."""
    state = one_game(state, index)
    absolute, hands, color = absolute_position(state)
    lines = ["   " + "".join(f"{file:>3}" for file in range(9, 0, -1))]
    for rank in range(9):
        cells = [_piece_letters(int(absolute[9 * (file - 1) + rank]))
                 if absolute[9 * (file - 1) + rank] else "." for file in range(9, 0, -1)]
        lines.append(f"   {''.join(f'{cell:>3}' for cell in cells)}  {RANK_LETTERS[rank]}")
    lines.insert(0, f"White (gote) hand: {_side_hand(hands, 1)}")
    lines.append(f"Black (sente) hand: {_side_hand(hands, 0)}")
    status = (f"{TERMINATION_NAMES[int(state.termination)]}, game over"
              if bool(state.terminated) or bool(state.truncated)
              else f"{COLOR_NAMES[color]} to move"
              + (" (in check)" if bool(state.in_check) else ""))
    lines.append(f"ply {int(state.ply)}: {status}")
    return "\n".join(lines)


def _side_hand(hands, side: int) -> str:
    """One side's hand for the text board: "R B2 P3", or "-"."""
    return " ".join(f"{letter}{n if n > 1 else ''}" for letter, n in hand_pieces(hands, side)) \
        or "-"



def state_text(state: State) -> str:
    """What `print(state)` shows: the SFEN and a text board; for a batch, its size and game 0's
    board."""
    shape = getattr(state.board, "shape", ())
    if isinstance(state.board, jax.core.Tracer) or len(shape) < 1:
        return f"State(board={state.board!r})"  # traced: no values to show
    batch = shape[:-1]
    if not batch:
        return f"State: sfen {to_sfen(state)}\n{board_diagram(state)}"
    first = (0,) * len(batch)
    return (f"State: a batch of {int(np.prod(batch))} games (batch shape {batch}); game "
            f"{first if len(first) > 1 else 0} below, any other by to_sfen(state, index=k) "
            f"or board_diagram(state, index=k)\nsfen {to_sfen(state, index=first)}\n"
            f"{board_diagram(state, index=first)}")


set_text_view(state_text)
