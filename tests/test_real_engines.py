"""Real engines from Debian's packages through the `usi` player kind: GNU Shogi behind our USI
adapter (shogi_jax/engines/gnushogi.py) and Fairy-Stockfish, each against an on-device player,
every move replayed on cshogi's board. Marked `engines`; skipped where the engine is not
installed (the reason gives the install command). Run: pytest -m engines."""
from __future__ import annotations

import shutil
import sys

import jax
import numpy as np
import pytest
from cshogi_material import UNPROMOTED_POINTS, balance
from engine_games import replay

import shogi_jax as sj
from shogi_jax.arena.engine_match import EnginePlayer, play_engine_match
from shogi_jax.arena.match import END_NAMES, SECOND_WINS
from shogi_jax.arena.usi_client import MoveLimit
from shogi_jax.play.players import Player
from shogi_jax.usi.gnushogi import editor_lines, turned

GNUSHOGI = shutil.which("gnushogi") or shutil.which("/usr/games/gnushogi")
FAIRY_STOCKFISH = shutil.which("fairy-stockfish") or shutil.which("/usr/games/fairy-stockfish")
needs_gnushogi = pytest.mark.skipif(
    GNUSHOGI is None, reason="GNU Shogi is not installed: apt-get install gnushogi")
needs_fairy_stockfish = pytest.mark.skipif(
    FAIRY_STOCKFISH is None, reason="Fairy-Stockfish is not installed: "
                                    "apt-get install fairy-stockfish")
ADJUDICATED = {"illegal_action", "resignation", "time_up", "disconnection"}


def test_the_editor_sees_the_mover_as_black():
    """The start position with White to move (after 7g7f, in the mover's frame): the editor
    places the mover's 20 pieces as Black's, then (after "c") the other 20, the moved pawn among
    them on 3d; answers are turned back into the real board's squares."""
    state = sj.step(sj.init(), sj.usi_to_action(sj.init(), "7g7f"))
    lines = editor_lines(np.asarray(state.board), np.asarray(state.hand))
    assert lines[:2] == ["edit", "#"] and lines[-1] == "."
    black, white = lines[2:lines.index("c")], lines[lines.index("c") + 1:-1]
    assert len(black) == len(white) == 20
    assert "k5i" in black and "b8h" in black and "p3d" in white and "p3g" not in white
    assert turned("3c3d") == "7g7f" and turned("8h2b+") == "2b8h+" and turned("P*5e") == "P*5e"


def _against_greedy(engine: EnginePlayer):
    return play_engine_match(engine, None, Player("greedy", "greedy"), None, games=2,
                             key=jax.random.PRNGKey(2), max_plies=120, concurrency=2)


def _check_games(games, name):
    for g in range(len(games.moves)):
        board = replay(games.start_sfens[g], games.moves[g])
        assert END_NAMES[games.termination[g]] not in ADJUDICATED, games.notes[g]
        engine_color = 0 if games.first_is_black[g] else 1
        # A real engine at depth 1 beats greedy-material: it wins, or leads at the move limit.
        assert games.outcome[g] != SECOND_WINS, (name, g)
        assert games.winner_color[g] == engine_color or \
            balance(board, engine_color, UNPROMOTED_POINTS) > 0, (name, g)


@pytest.mark.engines
@needs_gnushogi
def test_gnu_shogi_through_the_adapter_beats_greedy_with_legal_moves():
    command = (sys.executable, "-m", "shogi_jax.engines.gnushogi", "--binary", GNUSHOGI)
    games = _against_greedy(EnginePlayer("gnushogi_d1", command, MoveLimit(depth=1),
                                         startup_timeout=300))
    _check_games(games, "gnushogi")


@pytest.mark.engines
@needs_fairy_stockfish
def test_fairy_stockfish_beats_greedy_with_legal_moves():
    games = _against_greedy(EnginePlayer("fairy_stockfish_d1", (FAIRY_STOCKFISH,),
                                         MoveLimit(depth=1)))
    _check_games(games, "fairy-stockfish")
