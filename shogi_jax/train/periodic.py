"""Evaluation during training: every `evaluation.every_iterations`, the current network plays
fixed rungs of the ladder (docs/ladder.md) and the best checkpoint so far, so the cost is bounded.

Its Elo (`eval/elo`) is on the ladder's scale: the performance rating of its games against rungs
whose ladder Elo is known (`arena.ladder`), random and greedy on the training devices and
Fairy-Stockfish at depth 1 (`evaluation.engine_rungs`) where it is installed. The best checkpoint
is replaced when the current network beats it head to head (more wins than losses in their
match): the two compared in the same games, never two ratings from different games. With
`evaluation.simulations` the networks search (Gumbel MuZero) instead of playing their policy.

The on-device matches run through ONE compiled function: each side is a `SwitchPlayer` whose
kind (random, greedy or network) is a runtime argument. On the CPU a switch on that (unbatched)
index stays a real branch, so only the chosen player runs. On GPU/TPU a conditional on device
data waits on the host (two round trips per ply), so there every player computes its move and the
kind selects one by arithmetic: the same moves, no conditional. The engine games are played by
the host (`arena.engine_match`), the network's moves batched over the games in progress; in a
job of several processes, by the main process alone (the one that writes the metrics).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from shogi_jax.arena import ladder
from shogi_jax.arena.engine_match import play_engine_match
from shogi_jax.arena.match import (
    DISCONNECTION,
    DRAW,
    FIRST_WINS,
    SECOND_WINS,
    TIME_UP,
    MatchGames,
    play_match,
)
from shogi_jax.arena.standings import elo_text
from shogi_jax.arena.usi_client import EngineFailure
from shogi_jax.host import parallel
from shogi_jax.play.network import BEST_METRIC, BEST_RANK_METRIC, NEW_BEST_METRIC, best_rank
from shogi_jax.play.players import Player, greedy_act, random_act
from shogi_jax.play.search import SearchSettings
from shogi_jax.rules.platform import by_platform
from shogi_jax.train.config import Config

RANDOM, GREEDY, NETWORK = 0, 1, 2
ON_DEVICE_RUNGS = (("random", RANDOM), ("greedy", GREEDY))
# The evaluated parameters and the best so far, as the games name them.
CURRENT, BEST = "current", "best"
ENGINE_FAILURES = (TIME_UP, DISCONNECTION)  # games that say nothing of the network's strength


@dataclass(frozen=True)
class SwitchPlayer:
    """A player whose kind is chosen at run time: params = (int32[] kind, network params). The
    network plays as `network` does (a policy or a search player)."""

    network: Player

    @property
    def search(self):
        """The network's search settings (None: it plays its policy)."""
        return self.network.search

    def act(self, params, state, key):
        kind, network = params
        players = [lambda network, state, key: random_act(None, state, key),
                   lambda network, state, key: greedy_act(None, state, key),
                   self.network.act]

        def branch(kind, network, state, key):
            return jax.lax.switch(kind, players, network, state, key)

        def select(kind, network, state, key):
            actions = jnp.stack([play(network, state, key) for play in players])
            return actions[kind]

        return by_platform(kind, network, state, key, cpu=branch, accelerator=select)


class Best(NamedTuple):
    """The best network so far: its parameters, the rank Orbax keeps it by
    (`play.network.best_rank`), and its eval/elo when it became the best."""

    params: Any
    rank: float
    elo: float

    @classmethod
    def of_checkpoint(cls, metrics: dict, params) -> "Best":
        """The best as a checkpoint's evaluation metrics recorded it (runs of any version)."""
        return cls(params, best_rank(metrics), float(metrics[BEST_METRIC]))


def beats_best(games: MatchGames) -> bool:
    """The rule that replaces the best: the current network (the first player) scored more than
    half the points against it, draws half each way: it won more games than it lost."""
    counts = np.bincount(games.outcome, minlength=3)
    return bool(counts[FIRST_WINS] > counts[SECOND_WINS])


class TrainingEvaluator:
    """Evaluates parameters between training iterations and remembers the best ones."""

    def __init__(self, config: Config, best: Optional[Best] = None,
                 mesh: Optional[Mesh] = None):
        """best: the best checkpoint so far, e.g. restored on resume. The on-device games are
        split over `mesh` (training's) like the training games."""
        self.config = config.evaluation
        self.mesh = mesh
        self.seed = config.train.seed
        if self.config.simulations:  # the search simulates the evaluation games' own rules
            network = Player("network", "search", config.model, search=SearchSettings(
                simulations=self.config.simulations, max_plies=self.config.max_plies))
        else:
            network = Player("network", "policy", config.model, self.config.temperature)
        self.player = SwitchPlayer(network)
        self.best = best
        self.engines = self._engine_rungs()
        # The last evaluation's games, for the run directory: (opponent name, MatchGames).
        self.last_games: list[tuple[str, MatchGames]] = []
        self.last_summary = ""  # the last evaluation in a line, for the console

    def _engine_rungs(self):
        """The EnginePlayers of evaluation.engine_rungs; none (said once, on stderr) where
        Fairy-Stockfish is not installed, and none on processes other than the main one."""
        names = self.config.engine_rungs
        if not names or not parallel.is_main_process():
            return ()
        program = ladder.find_engine(self.config.engine_command)
        if program is None:
            print(f"warning: evaluation.engine_rungs: {self.config.engine_command} is not "
                  f"installed (apt-get install fairy-stockfish), so {', '.join(names)} are not "
                  "played: the evaluation's ladder Elo comes from random and greedy alone",
                  file=sys.stderr)
            return ()
        return tuple(ladder.engine_player(name, program) for name in names)

    def _match(self, first_kind, first_params, second_kind, second_params, key):
        player = self.player
        return play_match(player, (jnp.int32(first_kind), first_params), player,
                          (jnp.int32(second_kind), second_params), games=self.config.games,
                          key=key, max_plies=self.config.max_plies,
                          opening_plies=self.config.random_opening_plies, mesh=self.mesh)

    def _engine_match(self, engine, params, key) -> MatchGames:
        return play_engine_match(
            self.player.network, params, engine, None, games=self.config.engine_games, key=key,
            max_plies=self.config.max_plies, opening_plies=self.config.random_opening_plies,
            concurrency=self.config.engine_concurrency)

    def evaluate(self, params, iteration: int) -> dict[str, float]:
        """Plays the evaluation games of `params` at `iteration`; returns metrics named eval/...
        and makes `params` the best when they beat the best head to head (or there is none)."""
        started = time.perf_counter()
        key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(self.seed), 1_000_003),
                                 iteration)
        self.last_games, metrics, results = [], {}, {}
        for index, (name, kind) in enumerate(ON_DEVICE_RUNGS):
            games = self._match(NETWORK, params, kind, params, jax.random.fold_in(key, index))
            self._count(name, games, metrics, results)
        head_to_head = None
        if self.best is not None:
            head_to_head = self._match(NETWORK, params, NETWORK, self.best.params,
                                       jax.random.fold_in(key, 3))
            self.last_games.append((BEST, head_to_head))
            metrics.update(_results(f"eval/vs_{BEST}", head_to_head))
        if self.engines:
            # The host plays these games: the network on one device (its parameters are
            # replicated), whatever the mesh.
            on_one_device = jax.tree_util.tree_map(
                lambda x: x.addressable_data(0) if isinstance(x, jax.Array) else x, params)
            for index, engine in enumerate(self.engines, start=4):
                try:
                    games = self._engine_match(engine, on_one_device,
                                               jax.random.fold_in(key, index))
                except EngineFailure as failure:  # it cannot start: the other rungs go on
                    print(f"\nwarning: {engine.name} left out of this evaluation: {failure}",
                          file=sys.stderr)
                    continue
                self._count(engine.name, games, metrics, results)
        rating = ladder.ladder_rating(results)
        metrics.update({BEST_METRIC: rating.elo, "eval/elo_ci95_low": rating.ci95_low,
                        "eval/elo_ci95_high": rating.ci95_high, "eval/elo_bound": rating.bound,
                        "eval/elo_games": rating.games})
        new_best = head_to_head is None or beats_best(head_to_head)
        if new_best:
            # A device copy: training donates the buffers of `params` at its next call. A new
            # best outranks every earlier one (old runs' bests included: they ranked by Elo).
            self.best = Best(parallel.snapshot(params),
                             1.0 + (0.0 if self.best is None else max(self.best.rank, 0.0)),
                             rating.elo)
        metrics[NEW_BEST_METRIC] = float(new_best)
        metrics[BEST_RANK_METRIC] = self.best.rank
        metrics["eval/best_elo"] = self.best.elo
        metrics["eval/seconds"] = time.perf_counter() - started
        self.last_summary = _summary(iteration, rating, results, head_to_head, new_best)
        return {name: float(value) for name, value in metrics.items()}

    def _count(self, name: str, games: MatchGames, metrics: dict, results: dict) -> None:
        """Keeps a rung's games and their results; games an engine lost by failing (a crash, a
        hang) are kept as records but not counted."""
        self.last_games.append((name, games))
        counted = ~np.isin(games.termination, ENGINE_FAILURES)
        if not counted.all():
            print(f"\nwarning: {name} failed in {int((~counted).sum())} evaluation games (not "
                  "counted): " + "; ".join(sorted({note for note, ok in zip(games.notes, counted)
                                                   if not ok})), file=sys.stderr)
        results[name] = _wins_draws_losses(games.outcome[counted])
        metrics.update(_results(f"eval/vs_{name}", games._replace(
            outcome=games.outcome[counted])))


def _wins_draws_losses(outcome: np.ndarray) -> tuple[int, int, int]:
    counts = np.bincount(outcome, minlength=3)
    return int(counts[FIRST_WINS]), int(counts[DRAW]), int(counts[SECOND_WINS])


def _results(prefix: str, games: MatchGames) -> dict[str, float]:
    """The first player's shares of wins, draws and losses in a match, as PREFIX/win|draw|loss."""
    counts = np.bincount(games.outcome, minlength=3) / max(len(games.outcome), 1)
    return {f"{prefix}/win": float(counts[FIRST_WINS]), f"{prefix}/draw": float(counts[DRAW]),
            f"{prefix}/loss": float(counts[SECOND_WINS])}


def _summary(iteration: int, rating: ladder.LadderRating, results: dict,
             head_to_head: Optional[MatchGames], new_best: bool) -> str:
    """The evaluation in a line: the ladder Elo with its anchors named, and the best's fate."""
    elo = {0: "", 1: ">= ", -1: "<= "}[rating.bound] + _elo_text(rating.elo)
    anchors = ", ".join(f"{name} {elo_text(ladder.RUNGS[name].elo)} ({'-'.join(map(str, wdl))})"
                        for name, wdl in results.items())
    line = (f"evaluation at iteration {iteration}: ladder Elo {elo} "
            f"[{_elo_text(rating.ci95_low)}, {_elo_text(rating.ci95_high)}] from {rating.games} "
            f"games against {anchors}")
    if head_to_head is None:
        return line + "; the first best"
    wdl = "-".join(map(str, _wins_draws_losses(head_to_head.outcome)))
    return line + f"; vs best {wdl}: " + ("new best" if new_best else "the best stays")


def _elo_text(elo: float) -> str:
    return elo_text(elo) if np.isfinite(elo) else ("inf" if elo > 0 else "-inf")
