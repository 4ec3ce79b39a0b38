"""Evaluation during training: every `evaluation.every_iterations`, the current policy plays a
fixed number of batched games against random, greedy-material and the best checkpoint so far,
on the same devices, so the cost is bounded. Its Elo ranks checkpoints: a fit of these games
alone (random = 0), which is not the ladder's scale (docs/ladder.md). With
`evaluation.simulations` the networks search (Gumbel MuZero) instead of playing their policy.

All these matches run through ONE compiled function: each side is a `SwitchPlayer` whose kind
(random, greedy or network) is a runtime argument. On the CPU a switch on that (unbatched) index
stays a real branch, so only the chosen player runs. On GPU/TPU a conditional on device data
waits on the host (two round trips per ply), so there every player computes its move and the
kind selects one by arithmetic: the same moves, no conditional. Greedy's Elo comes from a
random-vs-greedy match played once per process (the same seed gives the same games after a
resume).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from shogi_jax.arena.match import DRAW, FIRST_WINS, SECOND_WINS, MatchGames, play_match
from shogi_jax.arena.standings import Standings, elo_of
from shogi_jax.host import parallel
from shogi_jax.play.network import BEST_METRIC, NEW_BEST_METRIC
from shogi_jax.play.players import Player, greedy_act, random_act
from shogi_jax.play.search import SearchSettings
from shogi_jax.rules.platform import by_platform
from shogi_jax.train.config import Config

RANDOM, GREEDY, NETWORK = 0, 1, 2
# The evaluated parameters and the best so far, as the games name them.
CURRENT, BEST = "current", "best"
NAMES = ("random", "greedy", CURRENT, BEST)


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


class TrainingEvaluator:
    """Evaluates parameters between training iterations and remembers the best ones."""

    def __init__(self, config: Config, best: Optional[tuple[float, object]] = None,
                 mesh: Optional[Mesh] = None):
        """best: (Elo, params) of the best checkpoint so far, e.g. restored on resume. The games
        are split over `mesh` (training's) like the training games."""
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
        self._calibration = None  # random-vs-greedy games, played at the first evaluation
        # The last evaluation's games, for the run directory: (opponent name, MatchGames).
        self.last_games: list[tuple[str, MatchGames]] = []

    def _match(self, first_kind, first_params, second_kind, second_params, key):
        player = self.player
        return play_match(player, (jnp.int32(first_kind), first_params), player,
                          (jnp.int32(second_kind), second_params), games=self.config.games,
                          key=key, max_plies=self.config.max_plies,
                          opening_plies=self.config.random_opening_plies, mesh=self.mesh)

    def evaluate(self, params, iteration: int) -> dict[str, float]:
        """Plays the evaluation games of `params` at `iteration`; returns metrics named eval/...
        (eval/elo ranks checkpoints) and makes `params` the best when its Elo is higher."""
        started = time.perf_counter()
        key = jax.random.fold_in(jax.random.PRNGKey(self.seed), 1_000_003)
        standings = Standings.empty(NAMES if self.best is not None else NAMES[:3])
        if self._calibration is None:
            self._calibration = self._match(GREEDY, params, RANDOM, params,
                                            jax.random.fold_in(key, 0))  # iterations are >= 1
        standings.add_match(1, 0, self._calibration)
        # The calibration's results too, so that every game the fit saw is in the record.
        metrics = _results("eval/greedy_vs_random", self._calibration)
        self.last_games = []
        opponents = [("random", 0, RANDOM, params), ("greedy", 1, GREEDY, params)]
        if self.best is not None:
            opponents.append((BEST, 3, NETWORK, self.best[1]))
        for name, index, kind, opponent_params in opponents:
            games = self._match(NETWORK, params, kind, opponent_params,
                                jax.random.fold_in(jax.random.fold_in(key, iteration), index))
            standings.add_match(2, index, games)
            self.last_games.append((name, games))
            metrics.update(_results(f"eval/vs_{name}", games))
        fit = elo_of(standings, "random")
        metrics[BEST_METRIC] = float(fit.ratings[2])
        metrics["eval/elo_ci95_low"] = float(fit.ci95_low[2])
        metrics["eval/elo_ci95_high"] = float(fit.ci95_high[2])
        metrics["eval/greedy_elo"] = float(fit.ratings[1])
        # Strictly higher: of equal Elos the first stays the best (play.network.best_rank).
        if self.best is None or metrics[BEST_METRIC] > self.best[0]:
            # A device copy: training donates the buffers of `params` at its next call.
            self.best = (metrics[BEST_METRIC], parallel.snapshot(params))
            metrics[NEW_BEST_METRIC] = 1.0
        else:
            metrics[NEW_BEST_METRIC] = 0.0
        metrics["eval/best_elo"] = self.best[0]
        metrics["eval/seconds"] = time.perf_counter() - started
        return metrics


def _results(prefix: str, games: MatchGames) -> dict[str, float]:
    """The first player's shares of wins, draws and losses in a match, as PREFIX/win|draw|loss."""
    counts = np.bincount(games.outcome, minlength=3) / len(games.outcome)
    return {f"{prefix}/win": float(counts[FIRST_WINS]), f"{prefix}/draw": float(counts[DRAW]),
            f"{prefix}/loss": float(counts[SECOND_WINS])}
