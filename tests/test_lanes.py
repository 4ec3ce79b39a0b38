"""The lane layout wrapper: vmapped results equal per-game results for any batch size (padding and
chunking), nested vmaps, and unbatched arguments."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import shogi_jax as sj
from shogi_jax.rules.lanes import LANE_CHUNK
from shogi_jax.rules.legal import legal_moves
from shogi_jax.rules.platform import forced_program


@pytest.fixture(scope="module")
def states():
    """LANE_CHUNK + 44 positions from random playouts (more than one chunk, not a multiple)."""
    rng = np.random.default_rng(3)
    out = []
    state = sj.init()
    step = jax.jit(sj.step)
    while len(out) < LANE_CHUNK + 44:
        if bool(state.terminated | state.truncated):
            state = sj.init()
        out.append(state)
        state = step(state, int(rng.choice(np.nonzero(np.asarray(state.legal_action_mask))[0])))
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *out)


@pytest.mark.parametrize("form", ["cpu", "accelerator"])
def test_vmap_over_chunks_with_padding_equals_one_game_calls(states, form):
    """Both forms: chunks of LANE_CHUNK games with padding (CPU), the whole batch (GPU/TPU)."""
    with forced_program(form):
        masks, checks = jax.jit(jax.vmap(legal_moves))(states.board, states.hand)
    one = jax.jit(legal_moves)
    for i in range(0, states.board.shape[0], 17):
        mask, check = one(states.board[i], states.hand[i])
        np.testing.assert_array_equal(masks[i], mask)
        assert bool(checks[i]) == bool(check)
    np.testing.assert_array_equal(masks, states.legal_action_mask)  # as step recorded them


@pytest.mark.slow
def test_nested_vmap_and_unbatched_arguments(states):
    boards = states.board[:12].reshape(3, 4, 81)
    hands = states.hand[:12].reshape(3, 4, 2, 7)
    # Jitted, so that each program is traced and compiled once (eagerly, every call is).
    nested, _ = jax.jit(jax.vmap(jax.vmap(legal_moves)))(boards, hands)
    np.testing.assert_array_equal(nested.reshape(12, -1), states.legal_action_mask[:12])
    # One hand for every board: broadcast inside the wrapper.
    shared_hand = states.hand[5]
    masks, _ = jax.jit(jax.vmap(legal_moves, in_axes=(0, None)))(states.board[:8], shared_hand)
    one = jax.jit(legal_moves)
    for i in range(8):
        np.testing.assert_array_equal(masks[i], one(states.board[i], shared_hand)[0])


@pytest.mark.parametrize("form", ["cpu", "accelerator"])
def test_a_vmap_of_a_vmap_merges_both_batch_axes_whatever_their_place(states, form):
    """A batch of batches (the mate checks: each game's replies, in a batch of games) runs the
    core once over both axes merged: the outer axis not in front, the inner vmap's hand shared
    (unbatched) within each outer group, as per-game calls give."""
    boards = states.board[:12].reshape(4, 3, 81)  # inner axis 0 (4 games), outer axis 1 (3)
    hands = states.hand[20:23]  # [3, 2, 7]: one per outer group
    nested = jax.vmap(jax.vmap(legal_moves, in_axes=(0, None)), in_axes=(1, 0))
    with forced_program(form):
        masks, checks = jax.jit(nested)(boards, hands)
    assert masks.shape == (3, 4, sj.NUM_ACTIONS) and checks.shape == (3, 4)
    one = jax.jit(legal_moves)
    for group in range(3):
        for game in range(4):
            mask, check = one(boards[game, group], hands[group])
            np.testing.assert_array_equal(masks[group, game], mask)
            assert bool(checks[group, game]) == bool(check)
