"""The legal action mask: board moves, promotions and drops, computed once per position.

Legality comes from king safety, never from trying actions: king moves avoid attacked squares
(attacks computed with the king lifted off the board); under double check only the king moves;
under single check other moves must capture the checker or block; a pinned piece moves only along
its pin line. Uchifuzume costs one extra (promotion-blind) move generation, for the opponent
after the single pawn drop in front of its king. All sets are bitboards (uint32[9]).
"""
from __future__ import annotations

import jax.numpy as jnp

from shogi_jax.rules.attacks import (
    KingSafety, Sides, king_safety, opponent_attacks_by_direction, sides_of, swap_sides,
)
from shogi_jax.rules.bitboards import FILE_MASK, is_empty, pack, ranks_mask, ray_fill, shift, unpack
from shogi_jax.rules.board import (
    DIRECTION_LINE, DIRECTIONS, KNIGHT, LANCE, LINE_NONE, NUM_DIRECTIONS, NUM_HAND_TYPES,
    NUM_LINE_DIRECTIONS, OWN_OFFSET, PAWN, ROOK, ZONE_RANKS,
)

_ZONE = ranks_mask(range(ZONE_RANKS))
_FAR_RANK = ranks_mask([0])  # where pawns and lances must promote
_FAR_TWO_RANKS = ranks_mask([0, 1])  # where knights must promote
_DOWN = DIRECTIONS[5]


def _movers(sides: Sides, safety: KingSafety, d):
    """(steppers, sliders) of the mover that may move in direction d without exposing the king."""
    line = DIRECTION_LINE[d]
    pinned_any = jnp.bitwise_or.reduce(safety.pinned_on_line, axis=0)
    # A pinned piece moves only along its own pin line; a pinned knight never.
    stuck = pinned_any if line == LINE_NONE else pinned_any & ~safety.pinned_on_line[line]
    steppers = sides.own_step[d] & ~stuck & ~sides.own_king
    sliders = sides.own_slide[d] & ~stuck if d < NUM_LINE_DIRECTIONS else None
    return steppers, sliders


def _reach(pieces, steppers, sliders, empty, d):
    """Squares that `pieces` among the steppers and sliders reach moving in direction d."""
    vector = DIRECTIONS[d]
    reached = shift(pieces & steppers, vector)
    if sliders is not None:
        reached = reached | ray_fill(pieces & sliders, empty, vector)
    return reached


def _evasion_targets(safety: KingSafety):
    """Where a non-king move or a drop may land: anywhere when not in check, the checker or a
    block square under one check, nowhere under double check."""
    return jnp.where(safety.num_checkers == 0, jnp.uint32(FILE_MASK),
                     jnp.where(safety.num_checkers == 1, safety.checkers | safety.between,
                               jnp.uint32(0))).astype(jnp.uint32)


def _king_moves(sides: Sides):
    """uint32[8, 9]: the king's legal destinations by direction."""
    danger = jnp.bitwise_or.reduce(
        opponent_attacks_by_direction(sides, sides.occupied & ~sides.own_king), axis=0)
    return jnp.stack([shift(sides.own_king, DIRECTIONS[d]) & ~sides.own & ~danger
                      for d in range(NUM_LINE_DIRECTIONS)])


def _board_move_sets(sides: Sides, safety: KingSafety, promotable, must_promote):
    """uint32[10, 9] non-promoting and uint32[10, 9] promoting move destinations by direction.

    promotable: the mover's P L N S B R; must_promote: its P L N (they may not stay unpromoted
    on ranks they could never leave).
    """
    empty = ~sides.occupied
    target = ~sides.own & _evasion_targets(safety)
    king_moves = _king_moves(sides)
    plain, promoting = [], []
    for d in range(NUM_DIRECTIONS):
        steppers, sliders = _movers(sides, safety, d)
        # One piece at most reaches a square in a given direction, so the classes never collide.
        from_zone = _reach(promotable & _ZONE, steppers, sliders, empty, d)
        from_outside = _reach(promotable & ~jnp.uint32(_ZONE), steppers, sliders, empty, d)
        never = _reach(~promotable, steppers, sliders, empty, d)
        moves = (from_zone | from_outside | never) & target
        if d == 0 or d >= 8:  # only pawns, lances (up) and knights (jumps) must promote
            forced_ranks = _FAR_RANK if d == 0 else _FAR_TWO_RANKS
            forced = _reach(must_promote, steppers, sliders, empty, d) & forced_ranks
            moves_plain = moves & ~forced
        else:
            moves_plain = moves
        if d < NUM_LINE_DIRECTIONS:
            moves_plain = moves_plain | king_moves[d]
        plain.append(moves_plain)
        promoting.append((from_zone | (from_outside & _ZONE)) & target)
    return jnp.stack(plain), jnp.stack(promoting)


def _has_board_move(sides: Sides):
    """bool[]: whether the mover has any legal board move (promotion does not matter here)."""
    safety = king_safety(sides)
    empty = ~sides.occupied
    target = ~sides.own & _evasion_targets(safety)
    found = ~is_empty(_king_moves(sides))
    everything = jnp.uint32(FILE_MASK)
    for d in range(NUM_DIRECTIONS):
        steppers, sliders = _movers(sides, safety, d)
        found = found | ~is_empty(_reach(everything, steppers, sliders, empty, d) & target)
    return jnp.any(found)


def _drop_sets(sides: Sides, safety: KingSafety, mover_hand, own_pawns):
    """uint32[7, 9]: legal drops of hand types P L N S B R G; mover_hand int32[7]."""
    # In check a drop must block: only between a slider and the king, never under double check.
    allowed = ~sides.occupied & jnp.where(safety.num_checkers == 0, jnp.uint32(FILE_MASK),
                                          jnp.where(safety.num_checkers == 1, safety.between,
                                                    jnp.uint32(0))).astype(jnp.uint32)
    allowed = allowed & FILE_MASK
    drops = []
    for piece in range(NUM_HAND_TYPES):
        squares = jnp.where(mover_hand[piece] > 0, allowed, jnp.uint32(0)).astype(jnp.uint32)
        if piece in (PAWN, LANCE):  # a piece that could never move again is not dropped
            squares = squares & ~jnp.uint32(_FAR_RANK)
        if piece == KNIGHT:
            squares = squares & ~jnp.uint32(_FAR_TWO_RANKS)
        if piece == PAWN:
            squares = jnp.where(own_pawns != 0, jnp.uint32(0), squares)  # nifu: whole files
            squares = squares & ~_pawn_drop_mates(sides, squares)  # uchifuzume
        drops.append(squares)
    return jnp.stack(drops)


def _pawn_drop_mates(sides: Sides, pawn_drops):
    """uint32[9]: the pawn drop in front of the opponent's king, if allowed so far and mating."""
    checking_square = shift(sides.opp_king, _DOWN) & pawn_drops
    with_pawn = sides._replace(own=sides.own | checking_square,
                               own_step=sides.own_step.at[0].set(sides.own_step[0]
                                                                 | checking_square))
    escapes = _has_board_move(swap_sides(with_pawn))
    return jnp.where(escapes, jnp.uint32(0), checking_square).astype(jnp.uint32)


def legal_moves(board81, hand):
    """The legal action mask of the mover. board81: int32[81] mover's frame; hand: int32[2, 7].

    Returns (legal_action_mask: bool[2187], in_check: bool[]).
    """
    board = board81.reshape(9, 9)
    sides = sides_of(board)
    safety = king_safety(sides)
    promotable = pack((board >= PAWN + OWN_OFFSET) & (board <= ROOK + OWN_OFFSET))
    must_promote = pack((board >= PAWN + OWN_OFFSET) & (board <= KNIGHT + OWN_OFFSET))
    own_pawns = pack(board == PAWN + OWN_OFFSET)
    plain, promoting = _board_move_sets(sides, safety, promotable, must_promote)
    drops = _drop_sets(sides, safety, hand[0], own_pawns)
    sets = jnp.concatenate([plain, promoting, drops])  # [27, 9]
    return unpack(sets).reshape(-1), safety.num_checkers > 0
