"""Hand-made positions with a known mate, shared by the tests of the search, the tactics, the USI
engine and training; each checked against cshogi where it is used (`mates_in_one`)."""
from __future__ import annotations

import cshogi

MATES_IN_ONE = {  # SFEN: its only mating move
    "6k1p/9/4P1G2/9/6L2/9/9/9/K8 b - 1": "3c3b",
    "3s2n2/3Sk1G2/9/9/5N3/9/9/9/8K b - 1": "4e5c+",
    "ppk6/9/n1G1+P4/2l6/4N4/9/9/9/8K b - 1": "5c6b",
    "9/7Sk/6g2/8G/9/9/9/9/K8 b - 1": "1d1c",
}
MATES_IN_THREE = {  # SFEN: its only first move of a mate in three
    "9/k8/2+P6/n1G6/9/9/9/9/8K b - 1": "7d8c",
    "p8/k8/2+S6/9/2N6/9/9/9/8K b - 1": "7e8c+",
    "8g/8k/6G1n/6+N2/9/9/9/9/K8 b - 1": "3d2c",
    "1k7/9/1S7/1N1p5/9/9/9/9/8K b - 1": "8d7b+",
}
# Black mates by 5c5b (the lance on 5e guards b); White by the same, turned round. Both past the
# sampled opening plies: the search's argmax plays.
BLACK_MATES = ("4k4/9/4G4/9/4L4/9/9/9/K8 b - 11", "5c5b")
WHITE_MATES = ("8k/9/9/9/4l4/9/4g4/9/4K4 w - 12", "5g5h")


def mates_in_one(board: cshogi.Board) -> list[str]:
    found = []
    for move in board.legal_moves:
        board.push(move)
        if board.is_game_over():
            found.append(cshogi.move_to_usi(move))
        board.pop()
    return found
