"""A USI engine for a network trained by pgx's AlphaZero example (train.py here): it plays the
network's most likely legal move, or with --simulations N the move of the example's own search
(mctx's Gumbel MuZero policy, as in its self-play, without the Gumbel noise).

    python experiments/pgx_alphazero/usi_engine.py CHECKPOINT [--simulations N] [--warm-up]

CHECKPOINT is a .ckpt file train.py wrote, or its checkpoint directory (the last .ckpt in it).
The network is train.py's (network.py here, its shape from the config saved in the
checkpoint); positions, legal moves and USI notation are shogi_jax's rules, the protocol is our
engine's (shogi_jax.usi.protocol). A tournament player of kind usi runs this command line.
"""
from __future__ import annotations

import argparse
import functools
import pickle
import sys
from pathlib import Path
from typing import Callable

import haiku as hk
import jax
import jax.numpy as jnp
import mctx
import numpy as np
from network import AZNet  # train.py's network, beside this file (run as a script)

import shogi_jax as sj
from shogi_jax.host.compilation_cache import keep_compiled_programs
from shogi_jax.usi.mover import USI_MAX_PLIES, PositionMover
from shogi_jax.usi.protocol import Answer, serve


def checkpoint_file(path: str) -> Path:
    """The .ckpt file `path` names: itself, or the last (highest iteration) in a directory."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.ckpt"))
        if not found:
            raise SystemExit(f"error: no .ckpt file in {path}")
        return found[-1]
    if not path.is_file():
        raise SystemExit(f"error: no checkpoint at {path}")
    return path


def load(path: Path):
    """(config dict, (params, batch-norm state)) of a checkpoint train.py wrote."""
    with open(path, "rb") as file:
        saved = pickle.load(file)
    if saved.get("env_id") != "shogi":
        raise SystemExit(f"error: {path} is a checkpoint of {saved.get('env_id')!r}, not shogi")
    return saved["config"], saved["model"], int(saved["iteration"])


def make_forward(config: dict):
    """train.py's `forward` (evaluation mode) for the network shape of `config`."""
    def forward_fn(x):
        net = AZNet(num_actions=sj.NUM_ACTIONS, num_channels=config["num_channels"],
                    num_blocks=config["num_layers"], resnet_v2=config["resnet_v2"])
        return net(x, is_training=False, test_local_stats=False)

    return hk.without_apply_rng(hk.transform_with_state(forward_fn))


def masked_logits(logits, legal_action_mask):
    """The prior as train.py's search sees it: illegal moves at the dtype's minimum."""
    logits = logits - jnp.max(logits, axis=-1, keepdims=True)
    return jnp.where(legal_action_mask, logits, jnp.finfo(logits.dtype).min)


_step = functools.partial(sj.step, max_plies=USI_MAX_PLIES, impasse=True)


class NetworkMover(PositionMover):
    """The protocol's `Mover`: the network's argmax, or its search of `simulations`."""

    def __init__(self, forward, model, simulations: int, name: str):
        super().__init__()
        self.name = name
        self.options = ("Seed",) if simulations else ()
        self.simulations = simulations
        self.model = jax.device_put(model)
        self.set_seed(0)

        def evaluate(model, observation):
            """(logits f32[B, 2187], value f32[B]) of observations bool[B, 9, 9, 94]."""
            (logits, value), _ = forward.apply(*model, observation)
            return logits, value

        def recurrent_fn(model, rng_key, action, state: sj.State):
            """train.py's recurrent_fn, on our rules' State (B games)."""
            del rng_key
            mover = state.color
            state = jax.vmap(_step)(state, action)
            logits, value = evaluate(model, jax.vmap(sj.observe)(state))
            done = state.terminated | state.truncated
            output = mctx.RecurrentFnOutput(
                reward=state.rewards[jnp.arange(mover.shape[0]), mover],
                discount=jnp.where(done, 0.0, -1.0),
                prior_logits=masked_logits(logits, state.legal_action_mask),
                value=jnp.where(done, 0.0, value))
            return output, state

        @jax.jit
        def policy_move(model, state: sj.State):
            """(action, value) of the network's most likely legal move in one game."""
            logits, value = evaluate(model, sj.observe(state)[None])
            return jnp.argmax(masked_logits(logits[0], state.legal_action_mask)), value[0]

        @jax.jit
        def search_move(model, state: sj.State, key):
            """(action, the root's value after the search) in one game."""
            batch = jax.tree_util.tree_map(lambda x: x[None], state)
            logits, value = evaluate(model, jax.vmap(sj.observe)(batch))
            root = mctx.RootFnOutput(prior_logits=logits, value=value, embedding=batch)
            output = mctx.gumbel_muzero_policy(
                params=model, rng_key=key, root=root, recurrent_fn=recurrent_fn,
                num_simulations=simulations, invalid_actions=~batch.legal_action_mask,
                qtransform=mctx.qtransform_completed_by_mix_value, gumbel_scale=0.0)
            return output.action[0], output.search_tree.summary().value[0]

        self._policy_move = policy_move
        self._search_move = search_move

    def prepare(self) -> None:
        """Nothing at `isready`: a tournament gives an engine's start a minute and a move
        `move_timeout`, so the first `position` and `go` compile (from XLA's disk cache after
        --warm-up: the tracing is what is left)."""

    def warm_up(self) -> None:
        """Compiles what a game runs, filling XLA's disk cache for the next start."""
        PositionMover.prepare(self)

    def set_temperature(self, temperature: float) -> None:
        """Not offered: the engine plays its argmax or its search."""

    def set_seed(self, seed: int) -> None:
        self._key = jax.random.PRNGKey(seed)

    def compile_moves(self) -> None:
        start = sj.init(max_plies=USI_MAX_PLIES)
        self._move(start)

    def _move(self, state: sj.State):
        if self.simulations:
            self._key, key = jax.random.split(self._key)
            return self._search_move(self.model, state, key)
        return self._policy_move(self.model, state)

    def choose(self, state: sj.State, info: Callable[[str], None],
               limits: dict[str, int]) -> Answer:
        action, value = jax.device_get(self._move(state))
        return Answer(sj.action_to_usi(state, int(action)), float(value), 1,
                      max(self.simulations, 1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a .ckpt file of train.py, or its directory")
    parser.add_argument("--simulations", type=int, default=0,
                        help="0 (default): the network's argmax; N: its Gumbel search of N")
    parser.add_argument("--name", default=None, help="the engine's id name")
    parser.add_argument("--warm-up", action="store_true",
                        help="compile what a game runs (kept on disk for the next start), exit")
    args = parser.parse_args(argv)
    if args.simulations < 0:
        parser.error(f"--simulations must be 0 or more, got {args.simulations}")
    path = checkpoint_file(args.checkpoint)
    config, model, iteration = load(path)
    name = args.name or (f"pgx_az-{iteration}"
                         + (f"-search{args.simulations}" if args.simulations else ""))
    keep_compiled_programs()
    mover = NetworkMover(make_forward(config), jax.tree_util.tree_map(np.asarray, model),
                         args.simulations, name)
    if args.warm_up:
        mover.warm_up()
        print(f"{name}: compiled ({path})")
        return 0
    serve(mover, sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
