"""The words on a board: what each piece, rank and side is called, in kanji as Japanese diagrams
write them, or in Latin letters for readers who do not read kanji. `render` draws them and the
report's viewer gets them in its style (`replay.board_style`)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from shogi_jax.notation.kif import DIAGRAM_NAMES, KANJI_NUMBERS, SIDE_NAMES
from shogi_jax.notation.usi import RANK_LETTERS
from shogi_jax.rules.board import NUM_RANKS, PIECE_NAMES
from shogi_jax.rules.state import COLOR_NAMES

SIDE_MARKS = "☗☖"  # the filled and hollow piece marks that label Black and White in diagrams


class Lettering(NamedTuple):
    """One lettering: what each piece and label of a board says."""

    pieces: Mapping[str, str]  # a kind (PIECE_NAMES: "P", "+B") -> the name on its piece
    ranks: tuple[str, ...]  # ranks 1..9, labelled down the right edge
    hands: tuple[str, str]  # over Black's hand and White's
    to_move: tuple[str, str]  # under the board, when Black is to move and when White is


# "kanji": as Japanese diagrams write them. "latin": the letters of SFEN, USI and Western
# (Hodges) notation, promoted pieces "+" and the letter (a horse +B, a dragon +R), the ranks
# a..i as USI names them, the sides in English.
LETTERINGS = {
    "kanji": Lettering(
        DIAGRAM_NAMES, KANJI_NUMBERS[1:NUM_RANKS + 1],
        tuple(mark + name for mark, name in zip(SIDE_MARKS, SIDE_NAMES)),
        tuple(f"{mark}{name}番 ({color} to move)"
              for mark, name, color in zip(SIDE_MARKS, SIDE_NAMES, COLOR_NAMES))),
    "latin": Lettering(
        {kind: kind for kind in PIECE_NAMES}, tuple(RANK_LETTERS),
        tuple(mark + color for mark, color in zip(SIDE_MARKS, COLOR_NAMES)),
        tuple(f"{mark}{color} to move" for mark, color in zip(SIDE_MARKS, COLOR_NAMES))),
}


def lettering_for(pieces: str) -> Lettering:
    """LETTERINGS[pieces]; ValueError naming the choices for another name."""
    if pieces not in LETTERINGS:
        raise ValueError(f"pieces {pieces!r} must be one of {', '.join(LETTERINGS)}")
    return LETTERINGS[pieces]
