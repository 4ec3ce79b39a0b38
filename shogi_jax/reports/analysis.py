"""What a network made of the positions it moved from: its value for the side to move and its top
moves with their probabilities (the policy's softmax over the legal moves), for the viewer's
"value" and "top_moves" fields.

The games on disk (games.jsonl, the evaluation KIFs) hold moves, not network outputs, so the
report asks the network again: the checkpoint a player played with (a tournament pins its step
in tournament.yaml; an evaluation's "current" player is the checkpoint of that iteration, which
training saves with every evaluation) is loaded and run over the positions of the embedded games
where that player was to move. A policy player at temperature 0 played exactly the top move shown
(the openings' random plies aside); a search player's moves came from its search, and what is
shown is its network's raw policy and value.

A checkpoint that is gone (moved, or deleted by `checkpoint.max_to_keep`) is no error: the
page says which player has no analysis and why.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import shogi_jax as sj
from shogi_jax.notation.sfen import position_state, sfen_position
from shogi_jax.notation.usi import move_to_usi
from shogi_jax.play.model import ModelConfig, make_model
from shogi_jax.play.network import CheckpointError, Network, load_network
from shogi_jax.play.policy import masked_log_softmax
from shogi_jax.rules.step import from_square

TOP_MOVES = 3  # moves shown per position
BATCH = 64  # positions per forward pass: one compiled shape, padded at the end
DECIMALS = 4  # of the values and probabilities embedded in the page


@functools.partial(jax.jit, static_argnames=("model_config",))
def _outputs(model_config: ModelConfig, params, board, hand, color, ply):
    """For B positions (board int32[B, 81], hand int32[B, 2, 7] in the mover's frame, color and
    ply int32[B]): (value float32[B] for the side to move, top actions int32[B, K], their
    probabilities float32[B, K] over the legal moves, the moved pieces' source squares
    int32[B, K] in the mover's frame)."""
    states = jax.vmap(functools.partial(position_state, max_plies=sj.DEFAULT_MAX_PLIES,
                                        impasse=True))(board, hand, color, ply)
    logits, value = make_model(model_config).apply(params, jax.vmap(sj.observe)(states))
    probabilities = jnp.exp(masked_log_softmax(logits, states.legal_action_mask))  # [B, A]
    top_probabilities, top_actions = jax.lax.top_k(probabilities, TOP_MOVES)
    sources = jax.vmap(jax.vmap(from_square, in_axes=(None, 0)))(states.board, top_actions)
    return value.astype(jnp.float32), top_actions, top_probabilities, sources


def analyse(network: Network, sfens: Sequence[str]) -> list[dict]:
    """{"value": float, "top_moves": [[usi, probability], ...]} for each SFEN (positions with a
    legal move, the side to move being the network's player), best move first; moves whose
    probability rounds to 0 (e.g. fewer than TOP_MOVES legal moves) are left out."""
    positions = [sfen_position(sfen) for sfen in sfens]
    analysed = []
    for start in range(0, len(positions), BATCH):
        chunk = positions[start:start + BATCH]
        padded = chunk + [chunk[-1]] * (BATCH - len(chunk))  # one compiled shape
        board, hand, color, ply = (np.stack([np.asarray(field) for field in fields]).astype(
            np.int32) for fields in zip(*padded))
        outputs = jax.device_get(_outputs(network.model, network.params, board, hand, color, ply))
        for k, (_, _, mover, _) in enumerate(chunk):
            value, actions, probabilities, sources = (output[k] for output in outputs)
            rounded = [round(float(p), DECIMALS) for p in probabilities]
            analysed.append({"value": round(float(value), DECIMALS), "top_moves": [
                [move_to_usi(int(mover), int(action), int(source)), p]
                for action, p, source in zip(actions, rounded, sources) if p > 0]})
    return analysed


def annotate(games: Sequence[dict], networks: Mapping[str, Network]) -> None:
    """Adds "value" and "top_moves" (in place) to the plies of viewer games (`replay.viewer_game`
    data) where a player of `networks` (by name) was to move and moved: every entry but the
    last (the final position, where nobody moved), each network run once over all of its
    positions."""
    wanted: dict[str, list[dict]] = {name: [] for name in networks}
    for game in games:
        players = (game["black"], game["white"])
        for entry in game["plies"][:-1]:
            mover = players[0 if entry["sfen"].split()[1] == "b" else 1]
            if mover in wanted:
                wanted[mover].append(entry)
    for name, entries in wanted.items():
        if entries:
            for entry, analysed in zip(entries, analyse(networks[name],
                                                        [entry["sfen"] for entry in entries])):
                entry.update(analysed)


class Analysts(NamedTuple):
    """The networks of a page's players that could be loaded, and what became of each."""

    networks: dict[str, Network]  # player name -> its network
    sources: dict[str, str]  # player name -> "RUN_DIR iteration N"
    missing: dict[str, str]  # player name -> why there is no analysis


def load_analysts(players: Mapping[str, tuple[str, int]]) -> Analysts:
    """The networks of players {name: (run_dir, checkpoint step)}."""
    analysts = Analysts({}, {}, {})
    for name, (run_dir, step) in players.items():
        try:
            analysts.networks[name] = load_network(run_dir, step=step)
        except (CheckpointError, OSError, ValueError) as error:
            analysts.missing[name] = str(error)
        else:
            analysts.sources[name] = f"{run_dir} iteration {step}"
    return analysts


def analysis_note(analysts: Analysts) -> str:
    """What the page says about the analysis: whose it shows, whose is missing and why; "" when
    no player is a network."""
    parts = []
    if analysts.networks:
        shown = ", ".join(f"{name} ({source})" for name, source in analysts.sources.items())
        parts.append(f"At each ply where a network moved, its value for the side to move and its "
                     f"top {TOP_MOVES} moves (arrows, the policy's probabilities) are shown: "
                     f"{shown}.")
    parts += [f"No analysis of {name}: {why}." for name, why in analysts.missing.items()]
    return " ".join(parts)
