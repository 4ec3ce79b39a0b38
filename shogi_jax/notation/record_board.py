"""The position behind a game record (host side, plain Python: no arrays, nothing runs JAX):
parse an SFEN, replay USI moves under the full rules of legality (uchifuzume included), and
describe each move (the piece that moved, its squares, capture, promotion) for the KIF and CSA
writers. Malformed or illegal input raises ValueError naming the fault; a move in a game is named
by its text and its index in the move list."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, NamedTuple

from shogi_jax.rules.state import STARTPOS_SFEN, TERMINATION_NAMES

BLACK, WHITE = 0, 1
COLOR_NAMES = ("Black", "White")
HAND_KINDS = "RBGSNLP"  # hand columns, in the order SFEN, KIF and CSA list them
PROMOTABLE = "PLNSBR"
_RANK_LETTERS = "abcdefghi"

RESULTS = ("black_win", "white_win", "draw")
# Besides the rules' reasons ("none" is spelled None here), how a game against an external engine
# ends: a resignation or no move in time, by the side to move; a disconnection (a crash or a
# protocol error), by either side (an engine may fail to start a game it would play second).
ADJUDICATIONS = ("resignation", "time_up", "disconnection")
TERMINATIONS = TERMINATION_NAMES[1:] + ADJUDICATIONS

Square = tuple[int, int]  # (file 1..9, rank 1..9); rank 1 is White's back rank (USI rank 'a')


class Piece(NamedTuple):
    color: int  # BLACK or WHITE
    kind: str  # SFEN letter in upper case, "+" in front when promoted: "S", "+S", "K"


# Movement in Black's frame as (file step, rank step); Black moves towards rank 1, and White's
# moves are the same vectors negated. Steps go one square, slides run until blocked.
_FORWARD, _BACK = (0, -1), (0, 1)
_SIDEWAYS = ((-1, 0), (1, 0))
_FORWARD_DIAGONALS = ((-1, -1), (1, -1))
_BACK_DIAGONALS = ((-1, 1), (1, 1))
_DIAGONALS = _FORWARD_DIAGONALS + _BACK_DIAGONALS
_ORTHOGONALS = (_FORWARD, _BACK) + _SIDEWAYS
_GOLD = (_FORWARD, _BACK) + _SIDEWAYS + _FORWARD_DIAGONALS
_STEPS = {
    "P": (_FORWARD,), "L": (), "N": ((-1, -2), (1, -2)),
    "S": (_FORWARD,) + _DIAGONALS, "G": _GOLD, "B": (), "R": (), "K": _ORTHOGONALS + _DIAGONALS,
    "+P": _GOLD, "+L": _GOLD, "+N": _GOLD, "+S": _GOLD, "+B": _ORTHOGONALS, "+R": _DIAGONALS,
}
_SLIDES = {"L": (_FORWARD,), "B": _DIAGONALS, "R": _ORTHOGONALS, "+B": _DIAGONALS,
           "+R": _ORTHOGONALS}
_STEP_VECTORS = frozenset(v for steps in _STEPS.values() for v in steps)  # 8 king steps, 2 knight
_PIECE_KINDS = frozenset(_STEPS)


@dataclass(frozen=True)
class Position:
    board: dict[Square, Piece]  # occupied squares only; never mutated once built
    hands: tuple[tuple[int, ...], tuple[int, ...]]  # by color: counts in HAND_KINDS order
    color: int  # side to move


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
    start: Position
    moves: list[RecordMove]
    final: Position  # the position after the last move
    winner: int | None  # BLACK, WHITE or None for a draw
    termination: str | None


def _far(color: int, rank: int) -> int:
    """Ranks from the opponent's back rank, counting it as 1 (promotion zone: 1..3)."""
    return rank if color == BLACK else 10 - rank


def _must_promote(piece: Piece, to: Square) -> bool:
    """A pawn or lance on the last rank, or a knight on the last two, could never move again."""
    far = _far(piece.color, to[1])
    return (piece.kind in "PL" and far == 1) or (piece.kind == "N" and far <= 2)


def _on_board(square: Square) -> bool:
    return 1 <= square[0] <= 9 and 1 <= square[1] <= 9


def _destinations(board, square: Square, piece: Piece) -> Iterator[Square]:
    """Squares `piece` on `square` reaches: empty or holding an opponent's piece."""
    sign = 1 if piece.color == BLACK else -1
    for df, dr in _STEPS[piece.kind]:
        to = (square[0] + sign * df, square[1] + sign * dr)
        if _on_board(to) and (to not in board or board[to].color != piece.color):
            yield to
    for df, dr in _SLIDES.get(piece.kind, ()):
        to = (square[0] + sign * df, square[1] + sign * dr)
        while _on_board(to):
            occupant = board.get(to)
            if occupant is None or occupant.color != piece.color:
                yield to
            if occupant is not None:
                break
            to = (to[0] + sign * df, to[1] + sign * dr)


def _attacked(board, square: Square, by: int) -> bool:
    """Whether a piece of color `by` reaches `square`: look back along every vector from it."""
    sign = 1 if by == BLACK else -1
    for df, dr in _STEP_VECTORS:
        piece = board.get((square[0] - sign * df, square[1] - sign * dr))
        if piece is not None and piece.color == by and (df, dr) in _STEPS[piece.kind]:
            return True
    for df, dr in _ORTHOGONALS + _DIAGONALS:
        at = (square[0] - sign * df, square[1] - sign * dr)
        while _on_board(at) and at not in board:
            at = (at[0] - sign * df, at[1] - sign * dr)
        piece = board.get(at)
        if piece is not None and piece.color == by and (df, dr) in _SLIDES.get(piece.kind, ()):
            return True
    return False


def in_check(position: Position) -> bool:
    """Whether the side to move is in check."""
    king = Piece(position.color, "K")
    square = next(sq for sq, piece in position.board.items() if piece == king)
    return _attacked(position.board, square, 1 - position.color)


def _after(position: Position, source: Square | None, to: Square, placed: Piece) -> Position:
    """The position after `placed` lands on `to` (from `source`, or from the hand when None)."""
    board = dict(position.board)
    hands = [list(position.hands[0]), list(position.hands[1])]
    mover = position.color
    captured = board.get(to)
    if captured is not None:
        hands[mover][HAND_KINDS.index(captured.kind[-1])] += 1  # a captured piece unpromotes
    if source is None:
        hands[mover][HAND_KINDS.index(placed.kind)] -= 1
    else:
        del board[source]
    board[to] = placed
    return Position(board, (tuple(hands[0]), tuple(hands[1])), 1 - mover)


def _king_safe(after: Position) -> bool:
    """Whether the side that just moved left its own king unattacked."""
    mover = 1 - after.color
    king = next(sq for sq, piece in after.board.items() if piece == Piece(mover, "K"))
    return not _attacked(after.board, king, after.color)


def _piece_moves(position: Position) -> Iterator[tuple[str, Position]]:
    """(USI, next position) for every legal move of a piece on the board."""
    for source, piece in position.board.items():
        if piece.color != position.color:
            continue
        for to in _destinations(position.board, source, piece):
            promotable = piece.kind in PROMOTABLE and (
                _far(piece.color, source[1]) <= 3 or _far(piece.color, to[1]) <= 3)
            options = ([True] if _must_promote(piece, to) else
                       [False, True] if promotable else [False])
            for promotes in options:
                placed = Piece(piece.color, "+" + piece.kind) if promotes else piece
                after = _after(position, source, to, placed)
                if _king_safe(after):
                    yield _usi(source) + _usi(to) + ("+" if promotes else ""), after


def legal_moves(position: Position) -> list[str]:
    """Every legal move of the side to move, as USI text."""
    moves = [usi for usi, _ in _piece_moves(position)]
    hand = position.hands[position.color]
    for column, kind in enumerate(HAND_KINDS):
        if not hand[column]:
            continue
        for file in range(1, 10):
            for rank in range(1, 10):
                if _drop_fault(position, kind, (file, rank)) is None:
                    moves.append(f"{kind}*{_usi((file, rank))}")
    return moves


def _usi(square: Square) -> str:
    return f"{square[0]}{_RANK_LETTERS[square[1] - 1]}"


def _parse_square(text: str) -> Square | None:
    if len(text) != 2 or text[0] not in "123456789" or text[1] not in _RANK_LETTERS:
        return None
    return int(text[0]), _RANK_LETTERS.index(text[1]) + 1


def _drop_fault(position: Position, kind: str, to: Square) -> str | None:
    """Why dropping `kind` on `to` is illegal, or None when it is legal."""
    mover = position.color
    piece = Piece(mover, kind)
    if not position.hands[mover][HAND_KINDS.index(kind)]:
        return f"{COLOR_NAMES[mover]} has no {kind} in hand"
    if to in position.board:
        return f"{_usi(to)} is occupied"
    if _must_promote(piece, to):
        return f"a {kind} dropped on {_usi(to)} could never move"
    if kind == "P" and any(position.board.get((to[0], rank)) == piece for rank in range(1, 10)):
        return f"{COLOR_NAMES[mover]} already has an unpromoted pawn on file {to[0]} (nifu)"
    after = _after(position, None, to, piece)
    if not _king_safe(after):
        return f"it leaves {COLOR_NAMES[mover]}'s king in check"
    if kind == "P" and in_check(after) and not any(True for _ in _piece_moves(after)):
        # A pawn drop that mates is illegal. The pawn checks from the adjacent square, so no drop
        # can block it: only the defender's piece moves need looking at.
        return "a pawn drop may not give checkmate (uchifuzume)"
    return None


def play(position: Position, usi: str) -> tuple[Position, RecordMove]:
    """Play USI move `usi` for the side to move: (next position, the move described). ValueError
    naming the move and the reason when it is malformed or illegal."""
    if not isinstance(usi, str):
        raise ValueError(f"USI move must be a string, got {type(usi).__name__}")
    mover = position.color
    if len(usi) == 4 and usi[1] == "*":
        kind, to = usi[0], _parse_square(usi[2:])
        if kind not in HAND_KINDS or to is None:
            raise ValueError(f"bad USI move {usi!r}: a drop is a piece of {HAND_KINDS} then '*' "
                             "and a square (file 1-9, rank a-i), e.g. 'P*5e'")
        fault = _drop_fault(position, kind, to)
        if fault is not None:
            raise ValueError(f"illegal USI move {usi!r}: {fault}")
        return (_after(position, None, to, Piece(mover, kind)),
                RecordMove(usi, mover, kind, None, to, False, False, None))

    source, to = _parse_square(usi[:2]), _parse_square(usi[2:4])
    if len(usi) not in (4, 5) or source is None or to is None or usi[4:] not in ("", "+"):
        raise ValueError(f"bad USI move {usi!r}: expected e.g. '7g7f', '8h2b+' or 'P*5e'")
    piece = position.board.get(source)
    if piece is None:
        raise ValueError(f"illegal USI move {usi!r}: there is no piece on {usi[:2]}")
    if piece.color != mover:
        raise ValueError(f"illegal USI move {usi!r}: the piece on {usi[:2]} is "
                         f"{COLOR_NAMES[piece.color]}'s, and {COLOR_NAMES[mover]} is to move")
    if to not in _destinations(position.board, source, piece):
        raise ValueError(f"illegal USI move {usi!r}: the {piece.kind} on {usi[:2]} cannot reach "
                         f"{usi[2:4]}")
    may_promote = piece.kind in PROMOTABLE and (
        _far(mover, source[1]) <= 3 or _far(mover, to[1]) <= 3)
    promotes = usi.endswith("+")
    if promotes and not may_promote:
        raise ValueError(f"illegal USI move {usi!r}: the {piece.kind} cannot promote on this move")
    if not promotes and _must_promote(piece, to):
        raise ValueError(f"illegal USI move {usi!r}: the {piece.kind} must promote on {usi[2:4]}")
    captured = position.board.get(to)
    placed = Piece(mover, "+" + piece.kind) if promotes else piece
    after = _after(position, source, to, placed)
    if not _king_safe(after):
        raise ValueError(f"illegal USI move {usi!r}: it leaves {COLOR_NAMES[mover]}'s king in "
                         "check")
    return after, RecordMove(usi, mover, piece.kind, source, to, promotes, may_promote,
                             None if captured is None else captured.kind)


def position_from_sfen(sfen: str) -> Position:
    """SFEN text (with or without the leading 'sfen' and the move number) -> Position.

    The move number is not kept: records number their moves from 1."""
    if not isinstance(sfen, str):
        raise ValueError(f"SFEN must be a string, got {type(sfen).__name__}")
    fields = sfen.split()
    if fields[:1] == ["sfen"]:
        fields = fields[1:]
    if len(fields) not in (3, 4):
        raise ValueError(f"bad SFEN {sfen!r}: expected 'BOARD SIDE HANDS [MOVE]'")
    board_text, side, hand_text = fields[:3]
    if side not in ("b", "w"):
        raise ValueError(f"bad SFEN {sfen!r}: side to move {side!r} must be 'b' or 'w'")
    rows = board_text.split("/")
    if len(rows) != 9:
        raise ValueError(f"bad SFEN {sfen!r}: board has {len(rows)} ranks, expected 9")
    board = {}
    for rank, row in enumerate(rows, start=1):
        file, promoted = 9, False  # SFEN lists each rank from file 9 down to file 1
        for ch in row:
            if ch in "123456789" and not promoted:
                file -= int(ch)
            elif ch == "+" and not promoted:
                promoted = True
            else:
                kind = ("+" if promoted else "") + ch.upper()
                if kind not in _PIECE_KINDS or file < 1:
                    raise ValueError(f"bad SFEN {sfen!r}: cannot read rank {rank} {row!r}")
                board[(file, rank)] = Piece(BLACK if ch.isupper() else WHITE, kind)
                file, promoted = file - 1, False
        if file != 0 or promoted:
            raise ValueError(f"bad SFEN {sfen!r}: rank {rank} {row!r} is not 9 squares")
    hands = [[0] * len(HAND_KINDS), [0] * len(HAND_KINDS)]
    if hand_text != "-":
        count = ""
        for ch in hand_text:
            if ch.isdigit():
                count += ch
            elif ch.upper() in HAND_KINDS:
                hands[BLACK if ch.isupper() else WHITE][HAND_KINDS.index(ch.upper())] += int(
                    count or 1)
                count = ""
            else:
                raise ValueError(f"bad SFEN {sfen!r}: cannot read hands {hand_text!r}")
        if count:
            raise ValueError(f"bad SFEN {sfen!r}: hands end with a count and no piece")
    for color in (BLACK, WHITE):
        kings = sum(piece == Piece(color, "K") for piece in board.values())
        if kings != 1:
            raise ValueError(f"bad SFEN {sfen!r}: {COLOR_NAMES[color]} has {kings} kings, "
                             "expected 1")
    return Position(board, (tuple(hands[BLACK]), tuple(hands[WHITE])),
                    BLACK if side == "b" else WHITE)


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
    for role, name in (("black", black), ("white", white)):
        if not isinstance(name, str) or "\n" in name or "\r" in name:
            raise ValueError(f"{role} name {name!r} must be a string on one line")
    if result not in RESULTS:
        raise ValueError(f"result {result!r} must be one of {RESULTS}")
    if termination is not None and termination not in TERMINATIONS:
        raise ValueError(f"termination {termination!r} must be None or one of {TERMINATIONS}")
    if isinstance(usi_moves, str):
        raise ValueError("usi_moves must be a list of USI strings, got one string")

    start = position = position_from_sfen(start_sfen)
    moves = []
    for index, usi in enumerate(usi_moves):
        try:
            position, move = play(position, usi)
        except ValueError as error:
            raise ValueError(f"move at index {index}: {error}") from None
        moves.append(move)

    winner = {"black_win": BLACK, "white_win": WHITE, "draw": None}[result]
    to_move = position.color
    if termination in ("perpetual_check", "disconnection"):
        if winner is None:
            raise ValueError(f"result 'draw' does not fit termination {termination!r}: one side "
                             "loses")
        return GameRecord(start, moves, position, winner, termination)
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
    return GameRecord(start, moves, position, winner, termination)


def is_standard_start(position: Position) -> bool:
    """Whether `position` is the standard start with Black to move (KIF 平手, CSA PI)."""
    return position == position_from_sfen(STARTPOS_SFEN)
