"""shogi_jax: the rules of Shogi as pure JAX array functions, and a self-play trainer.

The public surface for the rules: `State`, `init`, `step`, `observe`, `from_sfen`, `to_sfen`,
`board_diagram`, `action_to_usi`, `usi_to_action`. Write for one game; `jax.vmap` for a batch.
pgx's Env protocol over the same rules: `make("shogi")` (see `shogi_jax.env`).
"""
from shogi_jax.env import Env, auto_reset, make
from shogi_jax.notation.sfen import board_diagram, from_sfen, to_sfen
from shogi_jax.notation.usi import action_to_usi, usi_to_action
from shogi_jax.rules.board import NUM_ACTIONS
from shogi_jax.rules.observe import NUM_OBSERVATION_PLANES, observe
from shogi_jax.rules.state import (
    CHECKMATE,
    DEFAULT_MAX_PLIES,
    ILLEGAL_ACTION,
    IMPASSE_DECLARATION,
    MOVE_LIMIT,
    NO_LEGAL_MOVES,
    NOT_TERMINATED,
    PERPETUAL_CHECK,
    REPETITION_DRAW,
    TERMINATION_NAMES,
    State,
)
from shogi_jax.rules.step import init, step

__all__ = [
    "State", "init", "step", "observe", "from_sfen", "to_sfen", "board_diagram", "action_to_usi",
    "usi_to_action", "make", "Env", "auto_reset",
    "NUM_ACTIONS", "NUM_OBSERVATION_PLANES", "DEFAULT_MAX_PLIES", "TERMINATION_NAMES",
    "NOT_TERMINATED", "CHECKMATE", "NO_LEGAL_MOVES", "REPETITION_DRAW", "PERPETUAL_CHECK",
    "IMPASSE_DECLARATION", "MOVE_LIMIT", "ILLEGAL_ACTION",
]
