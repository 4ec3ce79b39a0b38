"""pgx's Env protocol (`shogi_jax.make`): checked against our rules stepped directly, against pgx's
own auto-reset wrapper, and by pgx-style example code that runs on pgx with only the `make` line
changed. Also the state's text board and `to_sfen` of one game of a batch."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import cshogi
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import shogi_jax as sj
from shogi_jax.rules.state import STARTPOS_SFEN

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BATCH = 16
MAX_PLIES = 256  # random games: some end by the rules, some by the move limit
ENV = sj.make("shogi", max_plies=MAX_PLIES)
_init = jax.jit(jax.vmap(ENV.init))
_step = jax.jit(jax.vmap(ENV.step))
_rules_step = jax.jit(jax.vmap(lambda s, a: sj.step(s, a, max_plies=MAX_PLIES)))
_observe = jax.jit(jax.vmap(sj.observe))  # compiled once: the comparison runs every ply


def _random_actions(key, mask):
    return jax.random.categorical(key, jnp.where(mask, 0.0, -jnp.inf))


@pytest.fixture(scope="module")
def played():
    """BATCH random games through the env and, with the same actions, through the rules."""
    key = jax.random.PRNGKey(7)
    state = _init(jax.random.split(key, BATCH))
    games = jax.vmap(lambda _: sj.init(max_plies=MAX_PLIES))(jnp.arange(BATCH))
    history = [(state, games)]
    for ply in range(MAX_PLIES + 4):  # every game over, then stepped again
        action = _random_actions(jax.random.fold_in(key, ply), state.legal_action_mask)
        state, games = _step(state, action), _rules_step(games, action)
        history.append((state, games))
    return history


def test_init_is_the_start_position_with_player_ids_drawn_from_the_key(played):
    state, games = played[0]
    assert sj.make().num_actions == sj.NUM_ACTIONS == state.legal_action_mask.shape[-1]
    assert ENV.observation_shape == state.observation.shape[1:] == (9, 9, 94)
    assert ENV.num_players == 2 and ENV.id == "shogi"
    assert {int(p) for p in state.current_player} == {0, 1}  # either id may be Black
    np.testing.assert_array_equal(state.observation, _observe(games))
    np.testing.assert_array_equal(state.legal_action_mask, games.legal_action_mask)
    assert not state.rewards.any() and not state.terminated.any()
    for b in range(BATCH):
        assert state.to_sfen(index=b) == STARTPOS_SFEN
    with pytest.raises(ValueError, match="unknown environment 'chess'"):
        sj.make("chess")


def test_every_step_is_the_rules_step_with_rewards_by_player_id(played):
    decisive = 0
    for before, (state, games) in zip(played, played[1:]):
        env_before = before[0]
        order = np.asarray(state._player_order)  # [B, 2]: the ids of Black and White
        np.testing.assert_array_equal(order, env_before._player_order)  # fixed for a game
        np.testing.assert_array_equal(state.current_player, order[np.arange(BATCH), games.color])
        rewards_by_colour = np.asarray(games.rewards)
        by_player = np.zeros_like(rewards_by_colour)
        by_player[np.arange(BATCH)[:, None], order] = rewards_by_colour
        np.testing.assert_array_equal(state.rewards, by_player)
        np.testing.assert_array_equal(state.terminated, games.terminated)
        np.testing.assert_array_equal(state.truncated, games.truncated)
        np.testing.assert_array_equal(state.legal_action_mask, games.legal_action_mask)
        np.testing.assert_array_equal(state.observation, _observe(games))
        # The mover's id before the step gets the mover's colour's reward.
        mover = np.asarray(env_before.current_player)
        mover_colour = np.asarray(before[1].color)
        np.testing.assert_array_equal(np.asarray(state.rewards)[np.arange(BATCH), mover],
                                      rewards_by_colour[np.arange(BATCH), mover_colour])
        decisive += int((np.abs(rewards_by_colour).sum(1) > 0).sum())
    final = played[-1][0]
    assert (final.terminated | final.truncated).all()
    assert final.truncated.any() and decisive > 0, "the games should include both endings"
    # Stepping finished games: nothing changes, zero rewards, the step count stops.
    np.testing.assert_array_equal(final._step_count, played[-2][0]._step_count)
    assert not final.rewards.any() and final.legal_action_mask.all()


def test_an_illegal_action_loses_for_the_player_who_played_it(played):
    state = played[0][0]
    illegal = jnp.argmin(state.legal_action_mask, axis=-1)  # the first illegal action
    after = _step(state, illegal)
    mover = np.asarray(state.current_player)
    assert after.terminated.all()
    np.testing.assert_array_equal(np.asarray(after.rewards)[np.arange(BATCH), mover], -1.0)
    np.testing.assert_array_equal(np.asarray(after.rewards)[np.arange(BATCH), 1 - mover], 1.0)


@pytest.mark.slow
def test_auto_reset_matches_pgx_own_wrapper():
    """pgx's wrapper runs our step and init inside `lax.cond`s whose predicate vmap batches (this
    failed while the rules' lane functions were custom_vmaps: see rules/lanes.py)."""
    pgx_wrappers = pytest.importorskip("pgx.experimental.wrappers")
    ours = jax.jit(jax.vmap(sj.auto_reset(ENV.step, ENV.init)))
    theirs = jax.jit(jax.vmap(pgx_wrappers.auto_reset(ENV.step, ENV.init)))
    key = jax.random.PRNGKey(3)
    a = b = _init(jax.random.split(key, 4))
    resets = 0
    for ply in range(2 * MAX_PLIES + 8):  # every game resets at least once
        action = _random_actions(jax.random.fold_in(key, ply), a.legal_action_mask)
        keys = jax.random.split(jax.random.fold_in(key, 1000 + ply), 4)
        a, b = ours(a, action, keys), theirs(b, action, keys)
        jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)
        resets += int((a.terminated | a.truncated).sum())
        # A reset shows the result on a new game at its start.
        ended = np.asarray(a.terminated | a.truncated)
        assert (np.asarray(a._x.ply)[ended] == 0).all()
    assert resets >= 4


def test_the_state_prints_as_a_board_and_to_sfen_takes_one_game_of_a_batch(played):
    state, games = played[30]
    text = repr(games)
    assert text.startswith(f"State: a batch of {BATCH} games")
    for b in range(3):
        sfen = sj.to_sfen(games, index=b)
        one = jax.tree_util.tree_map(lambda x: x[b], games)
        assert sfen == sj.to_sfen(one) == state.to_sfen(index=b)
        # The diagram's rows are cshogi's board, rank by rank (files 9..1).
        board = cshogi.Board(sfen)
        rows = [line.split()[:-1] for line in sj.board_diagram(games, index=b).splitlines()
                if re.fullmatch(r"\s+(\S+\s+){9}[a-i]", line)]
        assert len(rows) == 9
        for rank, row in enumerate(rows):
            for column, cell in enumerate(row):  # column 0 is file 9; cshogi: 0 is 1a, 8 is 1i
                piece = board.piece((8 - column) * 9 + rank)  # Black 1..14, White 17..30
                symbol = cshogi.PIECE_SYMBOLS[piece % 16]
                expected = "." if piece == 0 else symbol.upper() if piece < 16 else symbol
                assert cell == expected, (rank, column, cell, expected)
        assert repr(one).startswith(f"State: sfen {sfen}\n")
    with pytest.raises(ValueError, match="pick one with index=k"):
        sj.to_sfen(games)


def _run_example(name: str, *args: str, pgx: bool = False, timeout: int = 600) -> str:
    source = (EXAMPLES / name).read_text()
    make_line = 'env = shogi_jax.make("shogi")'
    assert source.count(make_line) == 1
    if pgx:  # the one line a pgx user would have written instead
        source = source.replace(make_line, 'import pgx; env = pgx.make("shogi")')
    result = subprocess.run([sys.executable, "-c", source, *args], capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_pgx_style_examples_run_on_our_env():
    out = _run_example("random_play.py", "4")
    returns = [np.array(re.findall(r"-?\d\.", line), float) for line in out.splitlines()
               if line.startswith("Return of player")]
    np.testing.assert_array_equal(returns[0], -returns[1])  # zero-sum, per game
    out = _run_example("ppo_selfplay.py", "2", "8", "8")
    losses = re.findall(r"loss (\S+),", out)
    assert len(re.findall(r"^update \d+:", out, re.M)) == 2 and all(
        np.isfinite(float(x)) for x in losses)


@pytest.mark.slow
def test_the_same_examples_run_on_pgx_with_only_the_make_line_changed():
    pytest.importorskip("pgx")
    _run_example("random_play.py", "4", pgx=True, timeout=1800)
    out = _run_example("ppo_selfplay.py", "2", "8", "8", pgx=True, timeout=1800)
    assert len(re.findall(r"^update \d+:", out, re.M)) == 2
