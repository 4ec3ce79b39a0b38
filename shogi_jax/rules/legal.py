"""The legal action mask: board moves, promotions and drops, computed once per position.

Legality comes from king safety, never from trying actions: king moves avoid attacked squares
(attacks computed with the king lifted off the board); under double check only the king moves;
under single check other moves must capture the checker or block; a pinned piece moves only along
its pin line. Uchifuzume costs one extra move generation, for the single square in front of the
opponent's king.
"""
from __future__ import annotations

import jax.numpy as jnp

from shogi_jax.rules import tables
from shogi_jax.rules.attacks import (
    flip_planes, king_safety, opponent_attacks_by_direction,
)
from shogi_jax.rules.board import (
    DIRECTION_LINE, DIRECTIONS, EMPTY, KING, KNIGHT, LANCE, LINE_NONE, NUM_DIRECTIONS,
    NUM_HAND_TYPES, NUM_LINE_DIRECTIONS, OPP_OFFSET, OWN_OFFSET, PAWN, ROOK, ZONE_RANKS,
)
from shogi_jax.rules.planes import bit, first_on_reverse_ray, shift

# A propagated "mover" value carries the piece code (5 bits) and whether its square is in the zone.
_FROM_ZONE_FLAG = 32
_CODE_BITS = 31

_RANK = jnp.arange(9)[None, :]  # broadcasts over files: [1, 9]
_IN_ZONE = _RANK < ZONE_RANKS


def _board_move_planes(board, safety):
    """bool[10, 9, 9] non-promoting and bool[10, 9, 9] promoting moves, by direction and
    destination, for the mover on the int32[9, 9] `board` with its `safety` (KingSafety)."""
    occupied = board != EMPTY
    own = occupied & (board < OPP_OFFSET)
    king = board == KING + OWN_OFFSET
    step_bits = jnp.asarray(tables.OWN_STEP_BITS)[board]
    slide_bits = jnp.asarray(tables.OWN_SLIDE_BITS)[board]
    mover_value = jnp.where(own, board + _IN_ZONE * _FROM_ZONE_FLAG, 0)

    # Where the king may go: not onto an attacked square, attacks seen through its own square.
    king_danger = jnp.any(opponent_attacks_by_direction(board, occupied & ~king), axis=0)
    # Destinations that answer a check: anything with none, the checker or a block with one.
    evasion = jnp.where(safety.num_checkers == 0, True,
                        jnp.where(safety.num_checkers == 1,
                                  safety.checkers | safety.between, False))
    target = ~own & evasion
    pinned_any = jnp.any(safety.pinned_on_line, axis=0)

    plain, promoting = [], []
    for d in range(NUM_DIRECTIONS):
        vector = DIRECTIONS[d]
        line = DIRECTION_LINE[d]
        # A pinned piece moves only along its own pin line; a pinned knight never.
        free = ~pinned_any if line == LINE_NONE else ~(pinned_any & ~safety.pinned_on_line[line])
        stepper = bit(step_bits, d) & free & ~king
        arriving = shift(jnp.where(stepper, mover_value, 0), vector)
        if d < NUM_LINE_DIRECTIONS:
            slider = bit(slide_bits, d) & free
            arriving = arriving | first_on_reverse_ray(
                jnp.where(slider, mover_value, 0), occupied, vector)
        code = arriving & _CODE_BITS
        from_zone = arriving >= _FROM_ZONE_FLAG
        moves = (code != EMPTY) & target
        must_promote = ((((code == PAWN + OWN_OFFSET) | (code == LANCE + OWN_OFFSET)) & (_RANK < 1))
                        | ((code == KNIGHT + OWN_OFFSET) & (_RANK < 2)))
        can_promote = (code >= PAWN + OWN_OFFSET) & (code <= ROOK + OWN_OFFSET)
        plain_d = moves & ~must_promote
        if d < NUM_LINE_DIRECTIONS:
            plain_d = plain_d | (shift(king, vector) & ~own & ~king_danger)
        plain.append(plain_d)
        promoting.append(moves & can_promote & (from_zone | _IN_ZONE))
    return jnp.stack(plain), jnp.stack(promoting)


def _has_board_move(board):
    """bool[]: whether the mover on the int32[9, 9] `board` has any legal non-drop move."""
    plain, promoting = _board_move_planes(board, king_safety(board))
    return jnp.any(plain) | jnp.any(promoting)


def _drop_planes(board, mover_hand, safety):
    """bool[7, 9, 9]: legal drops of hand types P L N S B R G, mover's hand int32[7]."""
    empty = board == EMPTY
    # In check a drop must block: only between a slider and the king, never under double check.
    allowed = empty & jnp.where(safety.num_checkers == 0, True,
                                jnp.where(safety.num_checkers == 1, safety.between, False))
    has_pawn_on_file = jnp.any(board == PAWN + OWN_OFFSET, axis=1, keepdims=True)  # [9, 1]
    drops = []
    for piece in range(NUM_HAND_TYPES):
        plane = allowed & (mover_hand[piece] > 0)
        if piece in (PAWN, LANCE):
            plane = plane & (_RANK >= 1)  # a piece that could never move again is not dropped
        if piece == KNIGHT:
            plane = plane & (_RANK >= 2)
        if piece == PAWN:
            plane = plane & ~has_pawn_on_file  # nifu
            plane = plane & ~_pawn_drop_mates(board, plane)  # uchifuzume
        drops.append(plane)
    return jnp.stack(drops)


def _pawn_drop_mates(board, pawn_drops):
    """bool[9, 9]: the pawn drop in front of the opponent's king, if legal so far and mating."""
    opponent_king = board == KING + OPP_OFFSET
    # The square that checks the opponent's king: one rank nearer the mover.
    checking_square = shift(opponent_king, DIRECTIONS[5]) & pawn_drops
    after_drop = jnp.where(checking_square, PAWN + OWN_OFFSET, board)
    opponent_escapes = _has_board_move(flip_planes(after_drop))
    return checking_square & ~opponent_escapes


def legal_moves(board81, hand):
    """The legal action mask of the mover. board81: int32[81] mover's frame; hand: int32[2, 7].

    Returns (legal_action_mask: bool[2187], in_check: bool[]).
    """
    board = board81.reshape(9, 9)
    safety = king_safety(board)
    plain, promoting = _board_move_planes(board, safety)
    drops = _drop_planes(board, hand[0], safety)
    planes = jnp.concatenate([plain, promoting, drops])  # [27, 9, 9]
    return planes.reshape(-1), safety.num_checkers > 0
