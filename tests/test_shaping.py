"""Material shaping: the balance and the potential-based term of a ply against hand-counted
numbers (the annealed weight: test_budget.py); inside a rollout against cshogi's boards; the
advantages it makes."""
from __future__ import annotations

import jax.numpy as jnp
import pytest
from cshogi_material import UNPROMOTED_POINTS, balance

import shogi_jax as sj
from shogi_jax.rules.material import material_balance
from shogi_jax.train.shaping import potential_difference

# The full tier (python -m pytest -m ""): this module compiles shaped rollouts.
pytestmark = pytest.mark.slow


def test_start_position_is_balanced():
    assert float(material_balance(sj.init())) == 0.0


def test_balance_counts_board_and_hands_from_the_mover():
    # Black: king, gold on board, rook in hand (6 + 10); White: king, silver, 2 pawns (5 + 2).
    state = sj.from_sfen("4k4/4s4/9/9/9/9/9/4G4/4K4 b R2p 1")
    assert float(material_balance(state)) == (6 + 10) - (5 + 2)
    white_to_move = sj.from_sfen("4k4/4s4/9/9/9/9/9/4G4/4K4 w R2p 1")
    assert float(material_balance(white_to_move)) == (5 + 2) - (6 + 10)


def test_a_capture_earns_twice_the_piece_for_the_mover():
    # Black's rook on 5e takes the silver on 5b: the silver leaves White's side (5) and joins
    # Black's hand (5): +10 for Black.
    before = sj.from_sfen("4k4/4s4/9/9/4R4/9/9/9/4K4 b - 1")
    after = sj.step(before, sj.usi_to_action(before, "5e5b"))
    shaped = potential_difference(before, after, jnp.float32(0.5), 1.0)
    assert float(shaped) == pytest.approx(0.5 * 10)
    quiet = sj.step(before, sj.usi_to_action(before, "5e4e"))
    assert float(potential_difference(before, quiet, jnp.float32(0.5), 1.0)) == 0.0


def test_the_discount_weighs_the_position_after_and_a_finished_game_has_no_potential():
    # The capture above at gamma 0.9: Black's balance 10 - 5 before; after it, White's balance
    # is -(10 + 5): F = 0.9 x 0.5 x 15 - 0.5 x 5.
    before = sj.from_sfen("4k4/4s4/9/9/4R4/9/9/9/4K4 b - 1")
    after = sj.step(before, sj.usi_to_action(before, "5e5b"))
    assert float(potential_difference(before, after, jnp.float32(0.5), 0.9)) == pytest.approx(
        0.9 * 0.5 * 15 - 0.5 * 5)
    # Black mates with gold and lance on the board (6 + 3) against a bare king: the mated
    # position's potential is 0, so F = -Phi(before) whatever gamma.
    mate = sj.from_sfen("4k4/9/4G4/9/4L4/9/9/9/K8 b - 11")
    mated = sj.step(mate, sj.usi_to_action(mate, "5c5b"))
    assert bool(mated.terminated)
    for gamma in (1.0, 0.9):
        assert float(potential_difference(mate, mated, jnp.float32(0.5), gamma)) == -0.5 * 9


def test_promotion_scores_only_when_promotions_count():
    # Black's pawn on 5d steps to 5c and promotes: +5 (pawn 1 -> tokin 6) when promotions count,
    # nothing by captures only.
    before = sj.from_sfen("4k4/9/9/4P4/9/9/9/9/4K4 b - 1")
    promoted = sj.step(before, sj.usi_to_action(before, "5d5c+"))
    assert float(potential_difference(before, promoted, jnp.float32(1.0), 1.0, True)) == 5.0
    assert float(potential_difference(before, promoted, jnp.float32(1.0), 1.0, False)) == 0.0


def test_capturing_a_promoted_piece_by_captures_only_scores_its_base_piece():
    # Black's gold takes White's dragon on 5b: the rook goes to Black's hand. Captures only: the
    # dragon counts as a rook, 10 off White and 10 into Black's hand (+20); counting promotions,
    # 12 off White and 10 into the hand (+22).
    before = sj.from_sfen("4k4/4+r4/4G4/9/9/9/9/9/4K4 b - 1")
    after = sj.step(before, sj.usi_to_action(before, "5c5b"))
    assert float(potential_difference(before, after, jnp.float32(1.0), 1.0, False)) == 20.0
    assert float(potential_difference(before, after, jnp.float32(1.0), 1.0, True)) == 22.0
    assert float(material_balance(before, count_promotions=False)) == 6 - 10


# --- inside a rollout -------------------------------------------------------------------------

def cshogi_balance(board) -> float:
    """The side to move's material minus the other side's, captures-only (promoted pieces as
    their base), counted on a cshogi board."""
    return balance(board, board.turn, points=UNPROMOTED_POINTS)


def test_shaping_in_a_rollout_matches_cshogi_and_leaves_the_value_targets_alone():
    """16 games (8 from a mate in one for Black, 8 from the start) for 12 plies of the untrained
    smoke network with weight 0.5 and gamma 0.9: each ply's term is F = -0.9 x Phi(after) -
    Phi(before), Phi = 0.5 x the balance counted by cshogi on the replayed boards (0 once the
    game is over); the value targets are the unshaped returns; the advantages differ from the
    unshaped ones by the GAE of the terms alone, which over a finished game (lambda = 1) is
    -Phi(s_t): a baseline, not a reward."""
    import cshogi
    import jax
    import numpy as np

    from shogi_jax.notation.usi import parse_usi
    from shogi_jax.train import ppo
    from shogi_jax.train.config import load_config
    from shogi_jax.train.rollout import rollout
    from shogi_jax.train.state import make_trainer, start_position
    from shogi_jax.train.updates import ppo_targets

    weight, gamma, plies, mate_sfen = 0.5, 0.9, 12, "4k4/9/4G4/9/4L4/9/9/9/K8 b - 11"
    config = load_config("configs/smoke.yaml", [
        "env.num_games=16", f"env.rollout_length={plies}", "ppo.minibatches=1",
        f"reward_shaping.material_weight={weight}", "reward_shaping.anneal_env_steps=0",
        f"ppo.gamma={gamma}", "ppo.gae_lambda=1.0"])
    trainer = make_trainer(config)
    params = jax.jit(trainer.model.init)(jax.random.PRNGKey(0),
                                         sj.observe(start_position(config))[None])
    starts = [sj.from_sfen(mate_sfen)] * 8 + [start_position(config)] * 8
    games = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *starts)

    @jax.jit
    def rollout_and_targets(params, games, key):
        transitions = rollout(config, trainer.model, params, games, key,
                                 jnp.float32(weight)).transitions
        return transitions, ppo_targets(config, transitions)

    transitions, targets = rollout_and_targets(params, games, jax.random.PRNGKey(2))
    advantages, returns = targets.advantage, targets.target_return
    actions, shaping = np.asarray(transitions.action), np.asarray(transitions.shaping)
    terminated = np.asarray(transitions.terminated)
    done = terminated | np.asarray(transitions.truncated)
    expected, potential = np.zeros_like(shaping), np.zeros_like(shaping)
    for b in range(16):
        board = cshogi.Board(mate_sfen if b < 8 else cshogi.STARTING_SFEN)
        for t in range(plies):
            potential[t, b] = weight * cshogi_balance(board)
            played = [move for move in board.legal_moves
                      if parse_usi(cshogi.move_to_usi(move), board.turn)[0] == actions[t, b]]
            assert len(played) == 1, (b, t)
            board.push(played[0])
            assert board.is_game_over() == terminated[t, b], (b, t)
            after = 0.0 if terminated[t, b] else weight * cshogi_balance(board)
            expected[t, b] = -gamma * after - potential[t, b]
            if done[t, b]:
                board = cshogi.Board()
    np.testing.assert_allclose(shaping, expected, rtol=1e-6, atol=1e-6)
    assert (shaping[~terminated] != 0).any() and terminated.any()  # captures, and a mate

    unshaped = ppo.compute_gae(transitions.reward, transitions.value, transitions.next_value,
                               transitions.terminated, transitions.truncated, gamma=gamma,
                               gae_lambda=1.0)
    np.testing.assert_array_equal(np.asarray(returns), np.asarray(unshaped[1]))
    zeros = jnp.zeros_like(transitions.value)
    shaping_only, _ = ppo.compute_gae(transitions.shaping, zeros, zeros, transitions.terminated,
                                      transitions.truncated, gamma=gamma, gae_lambda=1.0)
    np.testing.assert_allclose(np.asarray(advantages) - np.asarray(unshaped[0]),
                               np.asarray(shaping_only), atol=1e-5)
    for b in range(16):
        for end in np.flatnonzero(terminated[:, b]):
            begin = max([t + 1 for t in np.flatnonzero(done[:end, b])], default=0)
            np.testing.assert_allclose(np.asarray(shaping_only)[begin:end + 1, b],
                                       -potential[begin:end + 1, b], atol=1e-5)
