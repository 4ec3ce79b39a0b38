"""Our legal masks equal pgx's on the same positions (same action encoding), over random games."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import stack_states

import shogi_jax as sj

pgx = pytest.importorskip("pgx")

NUM_GAMES = 8
PLIES = 40  # 8 x 40 = 320 shared positions


def test_legal_masks_equal_pgx(batched_no_impasse):
    env = pgx.make("shogi")
    pgx_step = jax.jit(jax.vmap(env.step))
    keys = jax.random.split(jax.random.key(7), NUM_GAMES)
    theirs = jax.jit(jax.vmap(env.init))(keys)
    ours = stack_states([sj.init(impasse=False)] * NUM_GAMES)
    rng = np.random.default_rng(7)
    compared = 0
    for _ in range(PLIES):
        live = ~np.asarray(theirs.terminated) & ~np.asarray(ours.terminated)
        our_mask = np.asarray(ours.legal_action_mask)
        their_mask = np.asarray(theirs.legal_action_mask)
        for g in np.nonzero(live)[0]:
            diff = np.nonzero(our_mask[g] != their_mask[g])[0]
            assert len(diff) == 0, (g, sj.to_sfen(jax.tree_util.tree_map(lambda x: x[g], ours)),
                                    diff[:10])
            compared += 1
        # The same uniformly random legal action in both engines.
        actions = np.array([rng.choice(np.nonzero(m)[0]) for m in our_mask], np.int32)
        ours = batched_no_impasse.step(ours, actions)
        theirs = pgx_step(theirs, jnp.asarray(actions), keys)
    assert compared >= 200
