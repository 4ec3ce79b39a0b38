"""One program per backend: what a GPU/TPU would compile (exported here on the CPU) holds no loop
over games and no conditional; both forms give the same results; evaluation matches select their
players without a per-ply conditional on accelerators and play the same games."""
from __future__ import annotations

import os
import subprocess
import sys
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from program_text import exported_text, loops_and_conditionals

import shogi_jax as sj
from shogi_jax.arena.match import play_plies, start_states
from shogi_jax.host import parallel
from shogi_jax.play.model import make_model
from shogi_jax.play.players import Player
from shogi_jax.rules import platform
from shogi_jax.train.config import load_config
from shogi_jax.train.iteration import train_iteration
from shogi_jax.train.periodic import GREEDY, NETWORK, RANDOM, SwitchPlayer
from shogi_jax.train.state import init_train_state, make_trainer

BIG_BATCH = 65536


def _batch_of(batch, tree):
    return jax.tree_util.tree_map(
        lambda x: jax.ShapeDtypeStruct((batch,) + jnp.shape(x), jnp.asarray(x).dtype), tree)


def _step_and_observe_programs(target):
    """{name: loops and conditionals} of vmapped step and observe exported for `target`."""
    games = _batch_of(BIG_BATCH, sj.init())
    actions = jax.ShapeDtypeStruct((BIG_BATCH,), jnp.int32)
    return {"step": loops_and_conditionals(exported_text(jax.vmap(sj.step), games, actions,
                                                         platform=target)),
            "observe": loops_and_conditionals(exported_text(jax.vmap(sj.observe), games,
                                                            platform=target))}


@pytest.mark.parametrize("target", ["cuda", "tpu"])
def test_accelerator_programs_of_step_and_observe_hold_no_loop_or_conditional(target):
    for name, counts in _step_and_observe_programs(target).items():
        assert counts == {"while": 0, "case": 0, "if": 0}, (name, counts)


def test_the_cpu_program_keeps_its_chunk_loop_and_fusion_conditionals():
    """The counts above can fail: the CPU's own program has the loop over chunks of games and
    conditionals on device data (its fusion boundaries), which canonicalization keeps."""
    for name, counts in _step_and_observe_programs("cpu").items():
        assert counts["while"] == 1 and counts["case"] > 0, (name, counts)


def test_the_cpu_form_can_be_forced_on_an_accelerator():
    games = _batch_of(BIG_BATCH, sj.init())
    with platform.forced_program("cpu"):
        forced = loops_and_conditionals(exported_text(jax.vmap(sj.observe), games,
                                                      platform="cuda"))
    assert forced["while"] == 1, forced


def test_the_program_form_comes_from_the_environment_and_a_bad_value_is_named():
    def imported_with(value):
        return subprocess.run(
            [sys.executable, "-c", "from shogi_jax.rules import platform; "
                                   "print(platform.program_form())"],
            env=dict(os.environ, SHOGI_JAX_PROGRAM=value), capture_output=True, text=True)

    assert imported_with("accelerator").stdout.strip() == "accelerator"
    refused = imported_with("gpu")
    assert refused.returncode != 0
    assert "$SHOGI_JAX_PROGRAM = 'gpu': expected one of auto, cpu, accelerator" in refused.stderr
    with pytest.raises(ValueError, match="forced_program = 'tpu'"):
        with platform.forced_program("tpu"):
            pass


def test_one_jitted_function_is_traced_anew_in_each_form():
    """The form is part of jit's cache key: no program traced in one form is reused in the
    other (the CPU form loops over chunks of games, the accelerator form does not)."""
    observe = jax.jit(jax.vmap(sj.observe))
    games = _batch_of(512, sj.init())
    loops = {}
    for form in ("cpu", "accelerator", "cpu"):
        with platform.forced_program(form):
            loops.setdefault(form, []).append(observe.lower(games).as_text().count("while"))
    assert loops == {"cpu": [1, 1], "accelerator": [0]}


@pytest.fixture(scope="module")
def switch_players():
    """An evaluation player (sampling at temperature 1, so its keys matter) and the untrained
    smoke network's parameters."""
    config = load_config("configs/smoke.yaml")
    params = jax.jit(make_model(config.model).init)(jax.random.PRNGKey(0),
                                                   sj.observe(sj.init())[None])
    network = Player("network", "policy", config.model, temperature=1.0)
    return SwitchPlayer(network), params


def _positions(count: int, seed: int = 0):
    """State[count]: positions along random playouts (openings to middle games)."""
    rng = np.random.default_rng(seed)
    step, state, positions = jax.jit(sj.step), sj.init(), []
    while len(positions) < count:
        if bool(state.terminated | state.truncated):
            state = sj.init()
        positions.append(state)
        legal = np.nonzero(np.asarray(state.legal_action_mask))[0]
        state = step(state, int(rng.choice(legal)))
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *positions)


def test_both_forms_step_and_observe_alike():
    """The whole step (legal masks of the next positions included) and the observation planes:
    the same in the CPU form and the accelerator form (forced on this CPU)."""
    positions = _positions(300, seed=1)  # more than one chunk of LANE_CHUNK games
    rng = np.random.default_rng(2)
    actions = jnp.asarray([rng.choice(np.nonzero(mask)[0])
                           for mask in np.asarray(positions.legal_action_mask)], jnp.int32)
    by_form = {}
    for form in ("cpu", "accelerator"):
        with platform.forced_program(form):
            after = jax.jit(jax.vmap(sj.step))(positions, actions)
            by_form[form] = (after, jax.jit(jax.vmap(sj.observe))(after))
    for on_cpu, on_accelerator in zip(*(jax.tree_util.tree_leaves(by_form[form])
                                        for form in ("cpu", "accelerator"))):
        np.testing.assert_array_equal(on_cpu, on_accelerator)
    assert int(jnp.sum(by_form["cpu"][0].in_check)) > 0  # checks were among the positions


def test_evaluation_players_select_by_arithmetic_and_make_the_same_moves(switch_players):
    """Every kind of evaluation player chooses the same action in both forms (the match around
    it is the same code in both), from the same keys."""
    player, params = switch_players
    positions = _positions(48)
    keys = jax.random.split(jax.random.PRNGKey(7), 48)
    by_form = {}
    for form in ("cpu", "accelerator"):
        with platform.forced_program(form):
            act = jax.jit(jax.vmap(player.act, in_axes=(None, 0, 0)))
            by_form[form] = [np.asarray(act((jnp.int32(kind), params), positions, keys))
                             for kind in (RANDOM, GREEDY, NETWORK)]
    for kind, on_cpu, on_accelerator in zip(("random", "greedy", "network"), by_form["cpu"],
                                            by_form["accelerator"]):
        np.testing.assert_array_equal(on_cpu, on_accelerator, err_msg=kind)
        assert np.all(np.asarray(positions.legal_action_mask)[np.arange(48), on_cpu]), kind
    assert not np.array_equal(by_form["cpu"][0], by_form["cpu"][2])  # the kinds differ


def test_an_evaluation_match_exported_for_a_gpu_holds_no_conditional(switch_players):
    player, params = switch_players
    games, _ = start_states([sj.to_sfen(sj.init())], 4, max_plies=40, impasse=True)
    kind = jnp.int32(NETWORK)
    arguments = ((kind, params), (kind, params), games, jnp.arange(4) % 2 == 0,
                 jax.random.PRNGKey(0), jax.random.PRNGKey(1))
    chunk = partial(play_plies, player, player, plies=2, opening_plies=0, max_plies=40,
                    impasse=True)
    on_gpu = loops_and_conditionals(exported_text(chunk, *arguments, platform="cuda"))
    assert on_gpu == {"while": 1, "case": 0, "if": 0}, on_gpu  # the loop: over plies


def test_ppo_updates_are_scanned_or_unrolled_by_the_platform_compiled_for():
    """On this CPU process, an iteration compiled for a GPU keeps its epoch and minibatch loops
    (scans keep compile time down there); for the CPU they are unrolled (XLA:CPU runs
    convolution gradients inside a loop ten times slower)."""
    config = load_config("configs/smoke.yaml")
    trainer = make_trainer(config)
    state = jax.eval_shape(lambda: init_train_state(config, trainer))
    loops = {target: jax.jit(partial(train_iteration, config, trainer, platform=target))
             .lower(state).as_text().count("stablehlo.while")
             for target in ("cpu", "gpu")}
    assert loops["gpu"] == loops["cpu"] + 2, loops  # one scan over epochs, one over minibatches
    assert parallel.platform_of(None) == "cpu"
    assert parallel.platform_of(parallel.make_mesh(1)) == "cpu"


def test_a_gumbel_az_iteration_exported_for_a_gpu_holds_no_conditional():
    """Search self-play on an accelerator: the rules inside and outside the search in their
    wide form, no conditional on device data anywhere; the loops are the rollout's plies, the
    search's simulations (mctx: the loop, the descent, the backup), the outcome targets' scan
    and the epochs and minibatches."""
    config = load_config("configs/smoke.yaml", ["algorithm=gumbel_az", "gumbel_az.simulations=4",
                                                "gumbel_az.max_considered_actions=4"])
    trainer = make_trainer(config)
    state = jax.eval_shape(lambda: init_train_state(config, trainer))
    on_gpu = loops_and_conditionals(exported_text(
        partial(train_iteration, config, trainer, platform="gpu"), state, platform="cuda"))
    assert on_gpu == {"while": 7, "case": 0, "if": 0}, on_gpu
