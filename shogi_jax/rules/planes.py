"""Whole-board plane primitives: shifts and slider fills, as pads and slices (no gathers).

A plane is an array [9, 9] indexed [f, r] (file - 1, rank - 1) in the mover's frame.
"""
from __future__ import annotations

import jax.numpy as jnp


def shift(plane, vector):
    """out[f, r] = plane[f - df, r - dr], zero outside the board: moves every piece by (df, dr)."""
    df, dr = vector
    padded = jnp.pad(plane, ((max(df, 0), max(-df, 0)), (max(dr, 0), max(-dr, 0))))
    f0, r0 = max(-df, 0), max(-dr, 0)
    return padded[f0:f0 + 9, r0:r0 + 9]


def negate(vector):
    return (-vector[0], -vector[1])


def ray_fill(sources, empty, vector):
    """bool[9, 9]: squares a slider on `sources` reaches along `vector`: the empty squares and the
    first occupied square (the blocker) on each ray; the sources themselves excluded."""
    current = shift(sources, vector)
    reached = current
    for _ in range(7):
        current = shift(current & empty, vector)
        reached = reached | current
    return reached


def first_on_reverse_ray(values, occupied, vector):
    """int[9, 9]: for every square t, `values` at the first occupied square met walking from t
    against `vector` (t - v, t - 2v, ...), or 0 when none: how a move (vector, t) finds its piece."""
    found = shift(values, vector)
    for _ in range(7):
        found = shift(jnp.where(occupied, values, found), vector)
    return found


def bit(bits, index):
    """bool plane: bit `index` of an int plane."""
    return (bits >> index) & 1 == 1
