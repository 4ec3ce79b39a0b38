"""The legal action mask: board moves, promotions and drops, computed once per position.

Legality comes from king safety, never from trying actions: king moves avoid attacked squares
(attacks computed with the king lifted off the board); under double check only the king moves;
under single check other moves must capture the checker or block; a pinned piece moves only along
its pin line. Uchifuzume is judged from the attacks on the opponent king's flight squares and on
the dropped pawn (see `_pawn_drop_mates`). All sets are bitboards (uint32[9, L]) of L games
side by side; `legal_moves` is the one-game function, whose vmap runs them all in one lane layout.
"""
from __future__ import annotations

import jax.numpy as jnp

from shogi_jax.rules.attacks import (
    KingSafety,
    Sides,
    king_safety,
    opponent_attacks_by_direction,
    sides_of,
)
from shogi_jax.rules.bitboards import (
    FILE_MASK,
    is_empty,
    materialize,
    pack,
    ranks_mask,
    ray_fill,
    shift,
    unpack,
)
from shogi_jax.rules.board import (
    DIRECTION_LINE,
    DIRECTIONS,
    KNIGHT,
    LANCE,
    LINE_NONE,
    NUM_DIRECTIONS,
    NUM_HAND_TYPES,
    NUM_LINE_DIRECTIONS,
    OWN_OFFSET,
    PAWN,
    ROOK,
    ZONE_RANKS,
)
from shogi_jax.rules.lanes import lane_function

_ZONE = ranks_mask(range(ZONE_RANKS))
_FAR_RANK = ranks_mask([0])  # where pawns and lances must promote
_FAR_TWO_RANKS = ranks_mask([0, 1])  # where knights must promote
_DOWN = DIRECTIONS[5]
_DOWNWARD = (5, 6, 7)  # Down, DownLeft, DownRight


def _mobile_pieces(sides: Sides, safety: KingSafety):
    """(steppers uint32[10, 9, L], sliders uint32[8, 9, L]): the mover's pieces other than the
    king that may move in each direction without exposing the king."""
    pinned_any = jnp.bitwise_or.reduce(safety.pinned_on_line, axis=0)
    steppers, sliders = [], []
    for d in range(NUM_DIRECTIONS):
        line = DIRECTION_LINE[d]
        # A pinned piece moves only along its own pin line; a pinned knight never.
        stuck = pinned_any if line == LINE_NONE else pinned_any & ~safety.pinned_on_line[line]
        steppers.append(sides.own_step[d] & ~stuck & ~sides.own_king)
        if d < NUM_LINE_DIRECTIONS:
            sliders.append(sides.own_slide[d] & ~stuck)
    return materialize((jnp.stack(steppers), jnp.stack(sliders)))


def _evasion_targets(safety: KingSafety):
    """Where a non-king move or a drop may land: anywhere when not in check, the checker or a
    block square under one check, nowhere under double check."""
    return jnp.where(safety.num_checkers == 0, jnp.uint32(FILE_MASK),
                     jnp.where(safety.num_checkers == 1, safety.checkers | safety.between,
                               jnp.uint32(0))).astype(jnp.uint32)


def _king_moves(sides: Sides):
    """uint32[8, 9, L]: the king's legal destinations by direction."""
    danger = materialize(jnp.bitwise_or.reduce(
        opponent_attacks_by_direction(sides, sides.occupied & ~sides.own_king), axis=0))
    return jnp.stack([shift(sides.own_king, DIRECTIONS[d]) & ~sides.own & ~danger
                      for d in range(NUM_LINE_DIRECTIONS)])


def _board_move_sets(sides: Sides, safety: KingSafety, evasion, promotable, must_promote):
    """uint32[10, 9, L] non-promoting and uint32[10, 9, L] promoting move destinations by direction.

    evasion: `_evasion_targets(safety)`; promotable: the mover's P L N S B R; must_promote: its
    P L N (they may not stay unpromoted on ranks they could never leave). A move may promote when
    it starts or ends in the zone; a square is reached by at most one piece per direction, so sets
    of pieces never mix up.
    """
    empty, target = materialize((~sides.occupied, ~sides.own & evasion))
    steppers, sliders = _mobile_pieces(sides, safety)
    king_moves = _king_moves(sides)
    zone = jnp.uint32(_ZONE)
    plain, promoting = [], []
    for d in range(NUM_DIRECTIONS):
        vector = DIRECTIONS[d]
        reached = shift(steppers[d], vector)
        promotions = (shift(steppers[d] & promotable & zone, vector)
                      | (shift(steppers[d] & promotable, vector) & zone))
        if d < NUM_LINE_DIRECTIONS:
            reached = reached | ray_fill(sliders[d], empty, vector)
            if d in _DOWNWARD:  # a slider that ends in the zone started there
                promotions = promotions | ray_fill(sliders[d] & promotable & zone, empty, vector)
            else:  # up or sideways: a slider that starts in the zone stays there
                promotions = promotions | (ray_fill(sliders[d] & promotable, empty, vector) & zone)
        moves = reached & target
        if d == 0 or d >= 8:  # only pawns, lances (up) and knights (jumps) must promote
            forced = shift(steppers[d] & must_promote, vector)
            if d == 0:
                forced = forced | ray_fill(sliders[d] & must_promote, empty, vector)
            moves = moves & ~(forced & (_FAR_RANK if d == 0 else _FAR_TWO_RANKS))
        if d < NUM_LINE_DIRECTIONS:
            moves = moves | king_moves[d]
        plain.append(moves)
        promoting.append(promotions & target)
    return jnp.stack(plain), jnp.stack(promoting)


def _drop_sets(sides: Sides, evasion, mover_hand, own_pawns):
    """uint32[7, 9, L]: legal drops of hand types P L N S B R G; mover_hand int32[7, L].

    In check a drop must block: the empty squares of the evasion targets are those between a
    slider and the king (none under double check)."""
    allowed = ~sides.occupied & evasion & FILE_MASK
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
    """uint32[9, L]: the pawn drop in front of the opponent's king, if allowed so far and mating.

    The dropped pawn checks from the square next to the king, so the opponent can only answer by
    moving the king to a square we do not attack (taking the pawn when it is undefended) or by
    taking the pawn with another piece that is not pinned (a pinned piece is pinned along a line
    that misses the pawn's square, which is next to the king and now occupied). Nothing can block.
    """
    pawn = shift(sides.opp_king, _DOWN) & pawn_drops  # at most one square
    occupied = sides.occupied | pawn
    empty = ~occupied
    # Our attacks run through the opponent's king so that it cannot step back along a ray.
    through_king = empty | sides.opp_king
    attacked = jnp.zeros_like(pawn)
    pinned = jnp.zeros_like(pawn)
    takers = jnp.zeros_like(pawn)
    for d in range(NUM_DIRECTIONS):
        vector = DIRECTIONS[d]
        attacked = attacked | shift(sides.own_step[d], vector)
        # An opponent stepper moving by -vector takes the pawn from the square pawn + vector.
        takers = takers | (shift(pawn, vector) & sides.opp_step[d])
        if d < NUM_LINE_DIRECTIONS:
            backward = (-vector[0], -vector[1])
            slides = ray_fill(sides.own_slide[d], through_king, vector)
            attacked = attacked | slides
            # Our slider's first blocker that is also the king's first blocker the other way.
            pinned = pinned | (slides & ray_fill(sides.opp_king, empty, backward) & sides.opp)
            takers = takers | (ray_fill(pawn, empty, vector) & sides.opp_slide[d])
    king_flights = jnp.zeros_like(pawn)
    for d in range(NUM_LINE_DIRECTIONS):
        king_flights = king_flights | shift(sides.opp_king, DIRECTIONS[d])
    king_flights = king_flights & ~sides.opp & ~attacked
    takers = takers & ~sides.opp_king & ~pinned
    escapes = ~is_empty(king_flights | takers)
    return jnp.where(escapes, jnp.uint32(0), pawn).astype(jnp.uint32)


def legal_moves_lanes(board81, hand):
    """The legal action masks of L movers. board81: int32[81, L] mover's frame; hand:
    int32[2, 7, L].

    Returns (legal_action_mask: bool[2187, L], in_check: bool[L]).
    """
    board = board81.reshape(9, 9, -1)
    sides = sides_of(board)
    safety = king_safety(sides)
    promotable = pack((board >= PAWN + OWN_OFFSET) & (board <= ROOK + OWN_OFFSET))
    must_promote = pack((board >= PAWN + OWN_OFFSET) & (board <= KNIGHT + OWN_OFFSET))
    own_pawns = pack(board == PAWN + OWN_OFFSET)
    evasion = _evasion_targets(safety)
    plain, promoting = _board_move_sets(sides, safety, evasion, promotable, must_promote)
    drops = _drop_sets(sides, evasion, hand[0], own_pawns)
    sets = jnp.concatenate([plain, promoting, drops])  # [27, 9, L]
    return unpack(sets).reshape(27 * 81, -1), safety.num_checkers > 0


# One game: board81 int32[81], hand int32[2, 7] -> (bool[2187], bool[]); vmap it for a batch.
legal_moves = lane_function(legal_moves_lanes)
