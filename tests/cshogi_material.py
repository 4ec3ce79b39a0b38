"""Material counted on a cshogi board, written out apart from shogi_jax.rules.material's tables: the
reference the shaping, the search's material values and the material lookahead are checked
against."""
from __future__ import annotations

import cshogi

# cshogi's piece types (1 P .. 14 +R, white + 16) and hand order (P L N S G B R) to points:
# on the board at their promoted worth, or captures-only (a promoted piece as its base, the worth
# it has once captured); in hand the unpromoted worth.
BOARD_POINTS = {1: 1, 2: 3, 3: 4, 4: 5, 5: 8, 6: 10, 7: 6, 8: 0,
                9: 6, 10: 6, 11: 6, 12: 6, 13: 10, 14: 12}
UNPROMOTED_POINTS = {t: BOARD_POINTS[t] for t in range(1, 9)} | {
    9: 1, 10: 3, 11: 4, 12: 5, 13: 8, 14: 10}
HAND_POINTS = (1, 3, 4, 5, 6, 8, 10)


def balance(board: cshogi.Board, color: int, points: dict[int, int] = BOARD_POINTS) -> float:
    """`color`'s material minus the opponent's, board (by `points`) and hands."""
    total = 0.0
    for square in range(81):
        piece = board.piece(square)
        if piece:
            total += points[piece % 16] * (1 if (piece >= 16) == (color == 1) else -1)
    for side, hand in enumerate(board.pieces_in_hand):
        total += sum(n * p for n, p in zip(hand, HAND_POINTS)) * (1 if side == color else -1)
    return total
