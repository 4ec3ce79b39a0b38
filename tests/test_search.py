"""The Gumbel MuZero search player (shogi_jax.play.search) against cshogi: mates it finds that the
raw policy misses, legal play with an untrained network, determinism for a seed.

The positions are hand-made (a few pieces around the defending king, the attacker's king far
away), each checked here by cshogi: exactly one mating move (mate in one), or exactly one checking
first move that mates in three (its df-pn mate search). The network is the shipped 60-minute one;
its raw policy (the argmax of its masked logits) misses every one of these mates, as the tests
check. One compiled search serves every test (8 positions a call).
"""
from __future__ import annotations

import dataclasses
import functools

import cshogi
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cshogi_material import balance
from mate_positions import MATES_IN_ONE, MATES_IN_THREE, mates_in_one
from mctx_reference import mctx_own_backup
from program_text import exported_text, selects_of_shape
from real_games import found_and_other

import shogi_jax as sj
from shogi_jax.arena.match import (
    PLIES_PER_CHUNK,
    MatchStopped,
    play_match,
    plies_per_chunk,
)
from shogi_jax.play.model import make_model
from shogi_jax.play.network import PRETRAINED_RUN, load_network
from shogi_jax.play.players import Player
from shogi_jax.play.policy import masked_log_softmax
from shogi_jax.play.search import (
    MATERIAL_VALUE_POINTS,
    SearchSettings,
    root_output,
    search,
    search_one_game,
    tree_depth,
)
from shogi_jax.play.tactics import AVOID_CANDIDATES, Tactics, winning_actions

# The full tier (python -m pytest -m ""): this module
# loads the shipped network and compiles searches.
pytestmark = pytest.mark.slow

POSITIONS = list(MATES_IN_ONE) + list(MATES_IN_THREE)  # 8: the batch every call uses
SETTINGS = SearchSettings(simulations=32, max_considered_actions=16, gumbel_scale=1.0,
                          value_scale=1.0)


def forces_mate_in_two_more(board: cshogi.Board, move: str) -> bool:
    """After the attacker's `move`: it checks, and every reply is mated at once (df-pn)."""
    board.push_usi(move)
    try:
        return board.is_check() and cshogi.DfPn(depth=3).search_andnode(board)
    finally:
        board.pop()


@functools.lru_cache(maxsize=None)
def pretrained_model_config():
    """The shipped network's shape (what `network`'s parameters fit)."""
    return load_network(PRETRAINED_RUN).model


@pytest.fixture(scope="module")
def network():
    model, params, _ = load_network(str(PRETRAINED_RUN))
    return make_model(model), params


@pytest.fixture(scope="module")
def run_search(network):
    """(params, states of POSITIONS, key[, budget]) -> PolicyOutput: the one compiled search
    (the budget, SETTINGS.simulations unless given, is an argument: one program for all)."""
    model, _ = network
    compiled = jax.jit(lambda params, states, key, budget: search(model, SETTINGS, params, states,
                                                                  key, budget))
    return lambda params, states, key, budget=SETTINGS.simulations: compiled(
        params, states, key, jnp.int32(budget))


@pytest.fixture(scope="module")
def positions():
    states = [sj.from_sfen(sfen) for sfen in POSITIONS]
    return states, jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *states)


@pytest.mark.parametrize("field, value", [
    ("simulations", 0), ("max_considered_actions", 0), ("value_scale", 0.0),
    ("value_scale", float("nan")), ("gumbel_scale", -1.0), ("gumbel_scale", float("nan")),
    ("material_weight", -0.1), ("material_weight", 1.5), ("material_weight", float("nan"))])
def test_settings_out_of_range_are_refused_by_name(field, value):
    with pytest.raises(ValueError, match=f"{field} must be"):
        dataclasses.replace(SETTINGS, **{field: value})


def test_material_weight_blends_the_value_with_the_material_cshogi_counts(network):
    """The root's value with `material_weight` w is (1 - w) x the network's + w x tanh(material /
    MATERIAL_VALUE_POINTS), the material counted by walking cshogi's board and hands for the side
    to move (tests/cshogi_material.py), on 24 positions of real games; the prior is
    the network's either way."""
    model, params = network
    sfens = real_positions(with_mate=0, without=24)
    boards = [cshogi.Board(sfen) for sfen in sfens]
    balances = np.array([balance(board, board.turn) for board in boards], np.float32)
    assert len(set(balances.tolist())) > 5  # the premise: the positions differ in material
    states = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *[sj.from_sfen(s) for s in sfens])
    weight = 0.3
    root = jax.jit(lambda settings_weight: root_output(
        model, dataclasses.replace(SETTINGS, material_weight=settings_weight), params, states),
        static_argnums=0)
    alone, blended = root(0.0), root(weight)
    np.testing.assert_allclose(
        np.asarray(blended.value),
        (1 - weight) * np.asarray(alone.value)
        + weight * np.tanh(balances / MATERIAL_VALUE_POINTS), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(blended.prior_logits), np.asarray(alone.prior_logits))
    # The same weight given as a traced value (gumbel_az's annealed self-play search) blends the
    # same: the settings' weight is then ignored.
    traced = jax.jit(lambda w: root_output(model, SETTINGS, params, states, material_weight=w))
    np.testing.assert_allclose(np.asarray(traced(jnp.float32(weight)).value),
                               np.asarray(blended.value), rtol=1e-6, atol=1e-7)


def test_the_positions_are_what_cshogi_says():
    for sfen, mate in MATES_IN_ONE.items():
        assert mates_in_one(cshogi.Board(sfen)) == [mate], sfen
    for sfen, first in MATES_IN_THREE.items():
        board = cshogi.Board(sfen)
        assert mates_in_one(board) == [], sfen
        assert [cshogi.move_to_usi(m) for m in board.legal_moves
                if forces_mate_in_two_more(board, cshogi.move_to_usi(m))] == [first], sfen


def test_search_finds_mates_the_raw_policy_misses(network, run_search, positions):
    model, params = network
    states, batch = positions
    logits, _ = model.apply(params, jax.vmap(sj.observe)(batch))
    raw = np.asarray(jnp.argmax(masked_log_softmax(logits, batch.legal_action_mask), axis=-1))
    searched = np.asarray(run_search(params, batch, jax.random.PRNGKey(0)).action)
    for k, sfen in enumerate(POSITIONS):
        raw_move = sj.action_to_usi(states[k], int(raw[k]))
        move = sj.action_to_usi(states[k], int(searched[k]))
        if sfen in MATES_IN_ONE:
            assert raw_move != MATES_IN_ONE[sfen], f"the raw policy mates in {sfen}"
            board = cshogi.Board(sfen)
            board.push_usi(move)
            assert board.is_game_over(), f"{sfen}: the search played {move}, not a mate"
        else:
            assert not forces_mate_in_two_more(cshogi.Board(sfen), raw_move), sfen
            assert forces_mate_in_two_more(cshogi.Board(sfen), move), \
                f"{sfen}: the search played {move}, not the mate in three's {MATES_IN_THREE[sfen]}"


def test_visit_counts_are_deterministic_for_a_seed(network, run_search, positions):
    _, params = network
    _, batch = positions
    first = run_search(params, batch, jax.random.PRNGKey(7))
    again = run_search(params, batch, jax.random.PRNGKey(7))
    other = run_search(params, batch, jax.random.PRNGKey(8))
    visits = np.asarray(first.search_tree.summary().visit_counts)  # int32[8, 2187]
    np.testing.assert_array_equal(visits, np.asarray(again.search_tree.summary().visit_counts))
    np.testing.assert_array_equal(np.asarray(first.action), np.asarray(again.action))
    # The seed matters (Gumbel sampling of the root's actions): not a constant answer.
    assert not np.array_equal(visits, np.asarray(other.search_tree.summary().visit_counts))
    # Every simulation is one visit of a root action; illegal actions are never visited.
    assert (visits.sum(1) == SETTINGS.simulations).all()
    assert not (visits * ~np.asarray(batch.legal_action_mask)).any()
    # The improved policy is a distribution over the legal actions only.
    weights = np.asarray(first.action_weights)
    np.testing.assert_allclose(weights.sum(1), 1.0, rtol=1e-5)
    assert not (weights * ~np.asarray(batch.legal_action_mask)).any()
    depths = [tree_depth(np.asarray(first.search_tree.parents[k])) for k in range(len(POSITIONS))]
    assert all(1 <= depth <= SETTINGS.simulations for depth in depths)


def test_the_batched_backup_gives_mctx_s_own_tree_bit_for_bit(network, run_search, positions):
    """`search` backs up with `batched_backward` (linear in the simulations at any batch size,
    where mctx's vmapped loop copies the tree on every step): the same search with mctx's own
    backup gives the same tree in every field, and the same move and improved policy."""
    model, params = network
    _, batch = positions
    ours = run_search(params, batch, jax.random.PRNGKey(3))
    with mctx_own_backup():
        mctx_own = jax.jit(lambda params, states, key: search(
            model, SETTINGS, params, states, key))(params, batch, jax.random.PRNGKey(3))
    leaves = jax.tree_util.tree_leaves_with_path
    for (path, got), (_, expected) in zip(leaves(ours), leaves(mctx_own), strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected),
                                      err_msg=jax.tree_util.keystr(path))
    depths = [tree_depth(np.asarray(ours.search_tree.parents[k])) for k in range(len(POSITIONS))]
    assert len(set(depths)) > 1  # the premise: the games' backups climb different distances


def test_the_accelerator_s_search_masks_no_whole_tree_on_a_backup_step(network, positions):
    """The search exported for CUDA: no select over a tree-sized array ([games, simulations + 1,
    ...]) is left after canonicalization, where mctx's own vmapped backup has some on every step
    of every backup (the tree's value and visit arrays, the embeddings)."""
    model, params = network
    _, batch = positions
    tree_rows = (len(POSITIONS), SETTINGS.simulations + 1)

    def selects():
        text = exported_text(lambda params, states, key: search(
            model, SETTINGS, params, states, key).action,
            params, batch, jax.random.PRNGKey(0), platform="cuda")
        return selects_of_shape(text, tree_rows)

    assert selects() == 0
    with mctx_own_backup():
        assert selects() > 0  # the premise: mctx's own backup masks the tree


def test_a_budget_stops_the_search_early_in_the_same_program(network, run_search, positions):
    _, params = network
    _, batch = positions
    for budget in (1, 5, SETTINGS.simulations):
        visits = np.asarray(run_search(params, batch, jax.random.PRNGKey(0), budget)
                            .search_tree.summary().visit_counts)
        assert (visits.sum(1) == budget).all(), budget
    # A budget above the tree's size runs the simulations it has room for.
    visits = run_search(params, batch, jax.random.PRNGKey(0), 10 * SETTINGS.simulations)
    assert (np.asarray(visits.search_tree.summary().visit_counts).sum(1)
            == SETTINGS.simulations).all()


def test_an_untrained_search_plays_only_legal_moves_under_cshogi(network, run_search):
    """Self-play of a search over an untrained network (the same compiled search): 8 games from
    4 random plies, 24 plies each, every move checked by cshogi, the games stepped by our rules."""
    model, trained = network
    untrained = model.init(jax.random.PRNGKey(3), jnp.zeros((1, 9, 9, sj.NUM_OBSERVATION_PLANES),
                                                             jnp.bool_))
    assert jax.tree_util.tree_map(jnp.shape, untrained) == jax.tree_util.tree_map(jnp.shape,
                                                                                  trained)
    boards = [cshogi.Board() for _ in POSITIONS]
    rng = np.random.default_rng(0)
    for board in boards:
        for _ in range(4):
            board.push(rng.choice(list(board.legal_moves)))
    states = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs),
                                    *[sj.from_sfen(board.sfen()) for board in boards])
    step = jax.jit(jax.vmap(sj.step))
    for ply in range(24):
        actions = run_search(untrained, states, jax.random.PRNGKey(ply)).action
        for k, board in enumerate(boards):
            if board.is_game_over():
                continue
            one = jax.tree_util.tree_map(lambda x: x[k], states)
            move = sj.action_to_usi(one, int(actions[k]))
            assert move in [cshogi.move_to_usi(m) for m in board.legal_moves], \
                f"ply {ply}: {move} is not legal in {board.sfen()}"
            board.push_usi(move)
        states = step(states, actions)
        assert not np.asarray(states.termination == sj.ILLEGAL_ACTION).any()


@pytest.mark.slow
def test_a_search_player_plays_matches(network):
    """The `search` player kind in a batched match against random (a Player like the others):
    legal games under cshogi's replay. Its matches run one ply a chunk, so a stop request waits
    one searched ply, not sixteen."""
    model, _, _ = load_network(str(PRETRAINED_RUN))
    searcher = Player("search", "search", model=model,
                      search=SearchSettings(simulations=8, max_considered_actions=8,
                                            max_plies=60))
    games = play_match(searcher, network[1], Player("random", "random"), None, games=4,
                       key=jax.random.PRNGKey(0), max_plies=60)
    for start, moves, reason in zip(games.start_sfens, games.moves, games.termination):
        board = cshogi.Board(start)
        for ply, move in enumerate(moves):
            assert move in [cshogi.move_to_usi(m) for m in board.legal_moves], \
                f"ply {ply}: {move} is not legal in {board.sfen()}"
            board.push_usi(move)
        assert reason != sj.ILLEGAL_ACTION
    random = Player("random", "random")
    assert plies_per_chunk(searcher, random) == plies_per_chunk(random, searcher) == 1
    assert plies_per_chunk(random, random) == PLIES_PER_CHUNK > 1
    chunks = []
    with pytest.raises(MatchStopped):
        play_match(searcher, network[1], random, None, games=4, key=jax.random.PRNGKey(0),
                   max_plies=60, on_progress=chunks.append, should_stop=lambda: True)
    assert len(chunks) == 1


def real_positions(with_mate: int, without: int) -> list[str]:
    """SFENs from the shipped network's gauntlet games: the first `with_mate` positions where
    cshogi finds a mate in one (the network played another move in thousands of them) and every
    7th other position up to `without`, from the start of the file."""
    return found_and_other(mates_in_one, with_mate, without, every=7, offset=3)


@pytest.mark.slow
def test_winning_actions_are_the_mates_in_one_cshogi_finds(positions):
    """Every legal move that mates at once, and no other, on the hand-made positions and on 48
    positions of real games (24 with a mate in one, some with several)."""
    sfens = POSITIONS + real_positions(with_mate=24, without=24)
    states = [sj.from_sfen(sfen) for sfen in sfens]
    batch = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *states)
    wins = np.asarray(jax.jit(jax.vmap(functools.partial(
        winning_actions, max_plies=sj.DEFAULT_MAX_PLIES, impasse=True)))(batch))
    several = 0
    for sfen, state, won in zip(sfens, states, wins):
        ours = sorted(sj.action_to_usi(state, int(a)) for a in np.flatnonzero(won))
        reference = sorted(mates_in_one(cshogi.Board(sfen)))
        assert ours == reference, sfen
        several += len(reference) > 1
    assert wins[:4].sum(1).tolist() == [1, 1, 1, 1] and not wins[4:8].any()
    assert wins[8:32].any(1).all() and not wins[32:].any() and several > 0


def search_player_and_its_search(network, settings: SearchSettings, tactics: Tactics, batch,
                                 keys):
    """(the moves int32[B] of a search player with `tactics` in each game of `batch`, the plain
    searches' outputs with the same keys, the batch axis second)."""
    model, params = network
    player = Player("s", "search", pretrained_model_config(), search=settings, tactics=tactics)
    played = jax.jit(jax.vmap(player.act, in_axes=(None, 0, 0)))(params, batch, keys)
    outputs = jax.jit(jax.vmap(lambda state, key: search_one_game(model, settings, params, state,
                                                                  key)))(batch, keys)
    return np.asarray(played), outputs


@pytest.mark.slow
def test_a_search_player_with_mate_in_one_mates_and_otherwise_plays_the_search(network,
                                                                              positions):
    """With mate_in_one, one simulation is enough to mate in one; where there is no mate in one
    the move is the plain search's (its tree and improved policy are the search's own: the
    tactics are the player's, outside the search)."""
    states, batch = positions
    keys = jax.random.split(jax.random.PRNGKey(5), len(states))
    settings = dataclasses.replace(SETTINGS, simulations=1)
    checked, plain = search_player_and_its_search(network, settings, Tactics(mate_in_one=True),
                                                  batch, keys)
    plain_moves = np.asarray(plain.action[:, 0])
    for k, sfen in enumerate(POSITIONS):
        move = sj.action_to_usi(states[k], int(checked[k]))
        if sfen in MATES_IN_ONE:
            assert move == MATES_IN_ONE[sfen], sfen
        else:
            assert int(checked[k]) == int(plain_moves[k]), sfen
    assert [sj.action_to_usi(states[k], int(plain_moves[k])) for k in range(4)] != \
        list(MATES_IN_ONE.values())  # one simulation alone does not find them all


def test_a_policy_player_with_mate_in_one_mates_and_otherwise_plays_its_argmax(network,
                                                                               positions):
    """The raw network with `mate_in_one` (the USI engine's --mate-in-one without a search):
    cshogi's only mating move where there is one, the network's own argmax everywhere else."""
    _, params = network
    states, batch = positions
    plays = {}
    for checking in (False, True):
        player = Player("p", "policy", pretrained_model_config(),
                        tactics=Tactics(mate_in_one=checking))
        keys = jax.random.split(jax.random.PRNGKey(0), len(states))
        plays[checking] = np.asarray(jax.jit(jax.vmap(player.act, in_axes=(None, 0, 0)))(
            params, batch, keys))
    for k, sfen in enumerate(POSITIONS):
        move = sj.action_to_usi(states[k], int(plays[True][k]))
        if sfen in MATES_IN_ONE:
            assert move == MATES_IN_ONE[sfen], sfen
        else:
            assert plays[True][k] == plays[False][k], sfen
    assert [sj.action_to_usi(states[k], int(plays[False][k])) for k in range(4)] != \
        list(MATES_IN_ONE.values())  # the premise: the raw network misses some of them
    for kind in ("random", "greedy"):
        with pytest.raises(ValueError, match="tactics go with policy and search players"):
            Player("b", kind, tactics=Tactics(mate_in_one=True))


# Positions of the shipped network's games against Fairy-Stockfish at depth 1 where its argmax
# lets the engine mate at once: SFEN -> how many of its likeliest moves allow a mate in one before
# the first that does not (None: every legal move allows one), as cshogi judges below.
ALLOWS_MATE_IN_ONE = {
    "ln1g3s1/1r1s5/1ppp2kp1/p3g1p2/7P1/2P1P1PR1/PP1PK1g2/5+l2+l/LNSG5 b BN3Pbsn2p 53": 1,
    "ln1k2s1l/7g1/ppp+R1pnp1/6p1p/5P3/2P1P3P/PP1P2PP1/3S1R3/LN1GKGSNL w G2P2bs 34": 2,
    "ln2k3l/1rG1g2s1/2pB3p1/pp3pp1p/2sp1n3/P8/1P1P2PPP/L1SGR3L/1N2KGSN1 w b4p 38": 3,
    "lnsg4l/4gks2/pp2pp1pp/2r3p2/1N1p1n1P1/1P6P/P2+b1PPR1/1S4S2/L2KGG1NL b BP3p 31": 13,
    "lnsgk4/6+P2/p1p+B+Lp2p/1r6s/1p2+B1p2/2P1P2R1/PP1PGPP1P/2S6/LN2KGSNL w GN2Pp 38": 31,
    "ln3g1nl/1rgs1ks2/ppp1p1pp1/8p/P2pl2P1/1+bP2PPRP/3PK1g2/3gs4/8L b BNPsn2p 55": None,
}


def allows_mate_in_one_by_cshogi(board: cshogi.Board, move: str) -> bool:
    """After `move`: the opponent may declare (27-point rule) or has a move that ends the game."""
    board.push_usi(move)
    try:
        return not board.is_game_over() and (board.is_nyugyoku() or bool(mates_in_one(board)))
    finally:
        board.pop()


def test_a_policy_player_avoiding_mate_in_one_plays_its_likeliest_safe_move(network):
    """`avoid_mate_in_one` against cshogi: where the argmax allows a mate in one, the first of the
    network's likeliest moves that does not (its 2nd to 32nd choice here); where every move
    allows one, the argmax; where the argmax is safe (the mate-in-three positions: the
    defender has no attack), the argmax."""
    model, params = network
    sfens = list(ALLOWS_MATE_IN_ONE) + list(MATES_IN_THREE)
    states = [sj.from_sfen(sfen) for sfen in sfens]
    batch = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *states)
    player = Player("p", "policy", pretrained_model_config(),
                    tactics=Tactics(avoid_mate_in_one=True))
    keys = jax.random.split(jax.random.PRNGKey(0), len(states))
    played = np.asarray(jax.jit(jax.vmap(player.act, in_axes=(None, 0, 0)))(params, batch, keys))
    logits, _ = model.apply(params, jax.vmap(sj.observe)(batch))
    log_probs = np.asarray(masked_log_softmax(logits, batch.legal_action_mask))
    for k, sfen in enumerate(sfens):
        board, state = cshogi.Board(sfen), states[k]
        ranked = [sj.action_to_usi(state, int(a)) for a in np.argsort(-log_probs[k], kind="stable")
                  if state.legal_action_mask[a]][:AVOID_CANDIDATES]
        allowing = [allows_mate_in_one_by_cshogi(board, move) for move in ranked]
        first_safe = allowing.index(False) if False in allowing else None
        assert first_safe == ALLOWS_MATE_IN_ONE.get(sfen, 0), sfen  # the premise, by cshogi
        expected = ranked[0] if first_safe is None else ranked[first_safe]
        assert sj.action_to_usi(state, int(played[k])) == expected, sfen
    with pytest.raises(ValueError, match="tactics go with policy and search players"):
        Player("b", "random", tactics=Tactics(avoid_mate_in_one=True))


@pytest.mark.slow
def test_a_search_avoiding_mate_in_one_plays_its_first_safe_move(network):
    """`avoid_mate_in_one` on a search player against cshogi: the plain search's move where it
    lets no mate in one, else the first safe one of the 32 its improved policy likes most (the
    search's move where none is)."""
    sfens = list(ALLOWS_MATE_IN_ONE) + list(MATES_IN_THREE)
    states = [sj.from_sfen(sfen) for sfen in sfens]
    batch = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *states)
    keys = jax.random.split(jax.random.PRNGKey(7), len(states))
    settings = dataclasses.replace(SETTINGS, simulations=8)
    played, plain = search_player_and_its_search(
        network, settings, Tactics(avoid_mate_in_one=True), batch, keys)
    weights = np.asarray(plain.action_weights[:, 0])
    replaced = 0
    for k, sfen in enumerate(sfens):
        board, state = cshogi.Board(sfen), states[k]
        searched = sj.action_to_usi(state, int(plain.action[k, 0]))
        ranked = [searched] + [sj.action_to_usi(state, int(a))
                               for a in np.argsort(-weights[k], kind="stable")
                               if state.legal_action_mask[a]][:AVOID_CANDIDATES]
        expected = next((move for move in ranked if not allows_mate_in_one_by_cshogi(board, move)),
                        searched)
        assert sj.action_to_usi(state, int(played[k])) == expected, sfen
        replaced += expected != searched
    assert replaced >= 2  # the premise: the plain search lets a mate in one in some of them


def test_a_tournament_gives_the_tactics_to_the_policy_player_and_to_the_search():
    from shogi_jax.arena.tournament import load_player
    from shogi_jax.arena.tournament_config import PlayerConfig

    run = str(PRETRAINED_RUN)
    policy = load_player(PlayerConfig(name="p", kind="policy", run_dir=run, mate_in_one=True))
    assert policy.player.tactics == Tactics(mate_in_one=True) and policy.player.search is None
    plain = load_player(PlayerConfig(name="q", kind="policy", run_dir=run))
    assert plain.player.tactics == Tactics() and not plain.player.tactics
    defending = load_player(PlayerConfig(name="d", kind="policy", run_dir=run,
                                         avoid_mate_in_one=True))
    assert defending.player.tactics == Tactics(avoid_mate_in_one=True)
    searching = load_player(PlayerConfig(name="s", kind="search", run_dir=run, simulations=8,
                                         mate_in_one=True, avoid_mate_in_one=True),
                            max_plies=320)
    assert searching.player.tactics == Tactics(mate_in_one=True, avoid_mate_in_one=True)
    looking = load_player(PlayerConfig(name="m", kind="policy", run_dir=run,
                                       material_lookahead=True))
    assert looking.player.tactics == Tactics(material_lookahead=True)
    assert searching.player.search == SearchSettings(simulations=8, max_plies=320)
