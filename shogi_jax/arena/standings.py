"""A tournament's standings: games counted per pair of players, the Elo fit, and the tables of
results (markdown, CSV) written from them."""
from __future__ import annotations

import csv
import io
import itertools
from typing import NamedTuple, Optional

import numpy as np

from shogi_jax.arena.elo import EloFit, fit_elo, wilson_interval
from shogi_jax.arena.match import END_NAMES, MatchGames

RESULT_OF_WINNER = {0: "black_win", 1: "white_win", -1: "draw"}


def game_records(games: MatchGames, first: str, second: str) -> list[dict]:
    """One record per game of a match between players named `first` and `second`."""
    records = []
    for g in range(len(games.moves)):
        black, white = (first, second) if games.first_is_black[g] else (second, first)
        records.append({
            "black": black, "white": white, "start_sfen": games.start_sfens[g],
            "moves": games.moves[g], "result": RESULT_OF_WINNER[int(games.winner_color[g])],
            "termination": END_NAMES[int(games.termination[g])],
            **({"note": games.notes[g]} if games.notes and games.notes[g] else {})})
    return records


class Standings(NamedTuple):
    """Results of N players; wins[i, j] = games i won against j, draws symmetric."""

    names: tuple[str, ...]
    wins: np.ndarray  # int64[N, N]
    draws: np.ndarray  # int64[N, N]
    black_games: np.ndarray  # int64[N] games each player had Black (colour balance)

    @classmethod
    def empty(cls, names) -> "Standings":
        n = len(names)
        return cls(tuple(names), np.zeros((n, n), np.int64), np.zeros((n, n), np.int64),
                   np.zeros(n, np.int64))

    @classmethod
    def of_records(cls, names, records) -> "Standings":
        standings = cls.empty(names)
        for record in records:
            standings.add_record(record)
        return standings

    def add_record(self, record: dict) -> None:
        """Counts one game record (as made by `game_records`)."""
        black, white = self.names.index(record["black"]), self.names.index(record["white"])
        if record["result"] == "black_win":
            self.wins[black, white] += 1
        elif record["result"] == "white_win":
            self.wins[white, black] += 1
        else:
            self.draws[black, white] += 1
            self.draws[white, black] += 1
        self.black_games[black] += 1

    def add_match(self, i: int, j: int, games: MatchGames) -> None:
        """Counts every game of a match between players i (first) and j (second) once."""
        for record in game_records(games, self.names[i], self.names[j]):
            self.add_record(record)

    def games(self) -> np.ndarray:
        return self.wins + self.wins.T + self.draws


def elo_of(standings: Standings, anchor: str) -> EloFit:
    """Elo anchored at `anchor`, one of the players."""
    return fit_elo(standings.names, standings.wins, standings.draws, anchor)


def elo_so_far(standings: Standings, anchor: str) -> tuple[Optional[EloFit], str]:
    """(Elo of the players who have played, or None, and why not) for a tournament in progress:
    players without games are left out; None when the anchor has none or the results so far
    cannot be fitted."""
    played = list(np.flatnonzero(standings.games().sum(1) > 0))
    if standings.names.index(anchor) not in played:
        return None, f"the anchor {anchor} has no finished game yet"
    subset = np.ix_(played, played)
    try:
        return fit_elo([standings.names[k] for k in played], standings.wins[subset],
                       standings.draws[subset], anchor), ""
    except ValueError as error:
        return None, str(error)


def csv_text(rows) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


PAIR_COLUMNS = ("player", "opponent", "games", "wins", "draws", "losses", "score", "win_rate",
                "win_rate_ci95_low", "win_rate_ci95_high")


def pair_rows(standings: Standings) -> list[dict]:
    """One row (PAIR_COLUMNS) per pair of players that has played."""
    rows = []
    for i, j in itertools.combinations(range(len(standings.names)), 2):
        wins, losses, draws = standings.wins[i, j], standings.wins[j, i], standings.draws[i, j]
        total = wins + losses + draws
        if total == 0:  # not played (yet, or not at all in a ladder)
            continue
        low, high = wilson_interval(int(wins), int(total))
        rows.append({"player": standings.names[i], "opponent": standings.names[j],
                     "games": int(total), "wins": int(wins), "draws": int(draws),
                     "losses": int(losses),
                     "score": round(float((wins + 0.5 * draws) / max(total, 1)), 4),
                     "win_rate": round(float(wins / max(total, 1)), 4),
                     "win_rate_ci95_low": round(low, 4), "win_rate_ci95_high": round(high, 4)})
    return rows


def crosstable_csv(standings: Standings) -> str:
    names = standings.names
    return csv_text([["player", *names]] + [
        [name, *("" if i == j else f"{standings.wins[i, j]}-{standings.draws[i, j]}-"
                 f"{standings.wins[j, i]}" for j in range(len(names)))]
        for i, name in enumerate(names)])


def elo_text(elo: float) -> str:
    """Whole Elo points; -0.4 reads "0", not "-0"."""
    return f"{round(float(elo)) + 0:d}"


def results_markdown(standings: Standings, fit: Optional[EloFit], pairs: list[dict], *,
                     games_total: Optional[int] = None, no_fit: str = "") -> str:
    """The results as markdown. `fit` may cover only the players who have played (a tournament
    in progress), or be None (`no_fit` says why); players are then ranked by score."""
    names = standings.names
    games_played = standings.games().sum(1)
    played = int(games_played.sum() // 2)
    scores = (standings.wins.sum(1) + 0.5 * standings.draws.sum(1)) / np.maximum(games_played, 1)
    fitted = {name: k for k, name in enumerate(fit.names)} if fit else {}
    rating = [fit.ratings[fitted[name]] if name in fitted else -np.inf for name in names]
    order = sorted(range(len(names)), key=lambda k: (-rating[k], -scores[k]))
    progress = ("" if games_total in (None, played)
                else f", {played} of {games_total} played so far")
    lines = [f"# Tournament results ({played} games{progress})", "",
             f"## Elo (maximum likelihood, {fit.anchor if fit else 'anchor'} = 0, 95% confidence "
             "interval)", ""]
    if fit is None:
        lines += [f"No Elo yet: {no_fit}.", ""]
    lines += ["| rank | player | Elo | 95% CI | games | score |", "|---:|---|---:|---|---:|---:|"]
    for rank, k in enumerate(order, 1):
        if names[k] in fitted:
            f = fitted[names[k]]
            elo = (f"{elo_text(fit.ratings[f])} | [{elo_text(fit.ci95_low[f])}, "
                   f"{elo_text(fit.ci95_high[f])}]")
        else:
            elo = "— | —"
        lines.append(f"| {rank} | {names[k]} | {elo} | {games_played[k]} | {scores[k]:.3f} |")
    lines += ["", "## Crosstable (row's wins-draws-losses against the column)", "",
              "| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for i, name in enumerate(names):
        cells = ["—" if i == j else f"{standings.wins[i, j]}-{standings.draws[i, j]}-"
                 f"{standings.wins[j, i]}" for j in range(len(names))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Pairs (win rate with its 95% Wilson interval; draws are not wins)", "",
              "| player | opponent | games | W | D | L | score | win rate [95% CI] |",
              "|---|---|---:|---:|---:|---:|---:|---|"]
    lines += [f"| {r['player']} | {r['opponent']} | {r['games']} | {r['wins']} | {r['draws']} | "
              f"{r['losses']} | {r['score']:.3f} | {r['win_rate']:.3f} "
              f"[{r['win_rate_ci95_low']:.3f}, {r['win_rate_ci95_high']:.3f}] |" for r in pairs]
    return "\n".join(lines) + "\n"
