"""Round-robin tournaments: every pair of players plays a match (batched on the device), then
the results become a crosstable, per-pair W/D/L and maximum-likelihood Elo, and every game is
written as KIF, CSA and SFEN + USI moves."""
from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import jax
import numpy as np

import shogi_jax as sj
from shogi_jax import checkpoint
from shogi_jax.config import ConfigError, PlayerConfig, TournamentConfig
from shogi_jax.evaluation.elo import EloFit, fit_elo, wilson_interval
from shogi_jax.evaluation.match import DRAW, FIRST_WINS, SECOND_WINS, MatchGames, play_match
from shogi_jax.evaluation.players import Player
from shogi_jax.notation.csa import to_csa
from shogi_jax.notation.kif import to_kif
from shogi_jax.rules.state import STARTPOS_SFEN

RESULT_OF_WINNER = {0: "black_win", 1: "white_win", -1: "draw"}


class LoadedPlayer(NamedTuple):
    player: Player
    params: object  # network variables for policy players, None otherwise
    source: str  # where it came from, for the report


def load_player(spec: PlayerConfig) -> LoadedPlayer:
    if spec.kind != "policy":
        return LoadedPlayer(Player(spec.name, spec.kind), None, spec.kind)
    run_config, params, step = checkpoint.load_policy(spec.run_dir, which=spec.checkpoint,
                                                      step=spec.step)
    player = Player(spec.name, "policy", model=run_config.model, temperature=spec.temperature)
    return LoadedPlayer(player, params, f"{spec.run_dir} iteration {step}")


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

    def add_match(self, i: int, j: int, games: MatchGames) -> None:
        """Counts every game of a match between players i (first) and j (second) once."""
        self.wins[i, j] += int(np.sum(games.outcome == FIRST_WINS))
        self.wins[j, i] += int(np.sum(games.outcome == SECOND_WINS))
        drawn = int(np.sum(games.outcome == DRAW))
        self.draws[i, j] += drawn
        self.draws[j, i] += drawn
        self.black_games[i] += int(np.sum(games.first_is_black))
        self.black_games[j] += int(np.sum(~games.first_is_black))

    def games(self) -> np.ndarray:
        return self.wins + self.wins.T + self.draws


def elo_of(standings: Standings, anchor: str) -> EloFit:
    """Elo anchored at `anchor`, one of the players."""
    return fit_elo(standings.names, standings.wins, standings.draws, anchor)


def run_tournament(config: TournamentConfig, *, progress: Optional[Callable[[int], None]] = None,
                   output_dir: Optional[Path] = None):
    """Plays the round robin of `config` and writes its results to `output_dir` (default
    config.output_dir). Returns (standings, elo fit)."""
    output_dir = Path(output_dir or config.output_dir)
    players = [load_player(spec) for spec in config.players]
    names = [loaded.player.name for loaded in players]
    openings = _openings(config)
    standings = Standings.empty(names)
    key = jax.random.PRNGKey(config.seed)
    records = []
    for pairing, (i, j) in enumerate(itertools.combinations(range(len(players)), 2)):
        first, second = players[i], players[j]
        games = play_match(first.player, first.params, second.player, second.params,
                           games=config.games_per_pairing, key=jax.random.fold_in(key, pairing),
                           max_plies=config.max_plies, impasse=config.impasse,
                           opening_plies=config.random_opening_plies, opening_sfens=openings,
                           on_progress=progress)
        standings.add_match(i, j, games)
        records.extend(game_records(games, first.player.name, second.player.name))
    fit = elo_of(standings, config.anchor)
    write_results(output_dir, config, players, standings, fit, records)
    return standings, fit


def _openings(config: TournamentConfig) -> list[str]:
    if config.opening_sfen_file is None:
        return [STARTPOS_SFEN]
    path = Path(config.opening_sfen_file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ConfigError(f"opening_sfen_file: cannot read {path}: {error}") from None
    sfens = [line.strip().removeprefix("sfen ").strip() for line in lines]
    sfens = [sfen for sfen in sfens if sfen and not sfen.startswith("#")]
    if not sfens:
        raise ConfigError(f"opening_sfen_file: {path} holds no SFEN")
    for number, sfen in enumerate(sfens, 1):
        try:
            sj.from_sfen(sfen)
        except ValueError as error:
            raise ConfigError(f"opening_sfen_file: {path} line {number}: {error}") from None
    return sfens


def kif_text(record: dict, event: str) -> str:
    """The KIF of one game record (as made by `game_records`). UTF-8 KIF goes by the .kifu name
    (readers take .kif as Shift_JIS). Declined promotions are left unmarked, which every reader
    takes as no promotion; cshogi's reader skips lines with the optional 不成 mark."""
    return to_kif(record["start_sfen"], record["moves"], black=record["black"],
                  white=record["white"], result=record["result"],
                  termination=record["termination"], event=event, mark_non_promotion=False)


def game_records(games: MatchGames, first: str, second: str) -> list[dict]:
    """One record per game of a match between players named `first` and `second`."""
    records = []
    for g in range(len(games.moves)):
        black, white = (first, second) if games.first_is_black[g] else (second, first)
        records.append({
            "black": black, "white": white, "start_sfen": games.start_sfens[g],
            "moves": games.moves[g], "result": RESULT_OF_WINNER[int(games.winner_color[g])],
            "termination": sj.TERMINATION_NAMES[int(games.termination[g])]})
    return records


# --- output -------------------------------------------------------------------------------------


def write_results(output_dir: Path, config: TournamentConfig, players, standings: Standings,
                  fit: EloFit, records: list[dict]) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    games_dir = output_dir / "games"
    games_dir.mkdir(exist_ok=True)
    pairs = _pair_rows(standings)
    games_played = standings.games()
    summary = {
        "config": dataclasses.asdict(config),
        "players": [{"name": p.player.name, "kind": p.player.kind, "source": p.source,
                     "games": int(games_played[k].sum()),
                     "games_as_black": int(standings.black_games[k])}
                    for k, p in enumerate(players)],
        "pairs": pairs, "elo": fit.as_dict(), "games": len(records)}
    (output_dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n",
                                             encoding="utf-8")
    (output_dir / "results.md").write_text(results_markdown(standings, fit, pairs),
                                           encoding="utf-8")
    with open(output_dir / "pairs.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(pairs[0]))
        writer.writeheader()
        writer.writerows(pairs)
    (output_dir / "crosstable.csv").write_text(_crosstable_csv(standings), encoding="utf-8")
    with open(output_dir / "elo.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["player", "elo", "stderr", "ci95_low", "ci95_high"])
        for k, name in enumerate(fit.names):
            writer.writerow([name, f"{fit.ratings[k]:.1f}", f"{fit.stderr[k]:.1f}",
                             f"{fit.ci95_low[k]:.1f}", f"{fit.ci95_high[k]:.1f}"])
    with open(output_dir / "games.jsonl", "w", encoding="utf-8") as jsonl, \
            open(output_dir / "games.sfen", "w", encoding="utf-8") as usi_lines:
        for number, record in enumerate(records, 1):
            jsonl.write(json.dumps({"game": number, **record}) + "\n")
            usi_lines.write(f"sfen {record['start_sfen']} moves {' '.join(record['moves'])}\n"
                            if record["moves"] else f"sfen {record['start_sfen']}\n")
            common = dict(black=record["black"], white=record["white"], result=record["result"],
                          termination=record["termination"], event=f"shogi_jax game {number}")
            (games_dir / f"{number:05d}.kifu").write_text(
                kif_text(record, event=common["event"]), encoding="utf-8")
            (games_dir / f"{number:05d}.csa").write_text(
                to_csa(record["start_sfen"], record["moves"], **common), encoding="utf-8")


def _pair_rows(standings: Standings) -> list[dict]:
    rows = []
    for i, j in itertools.combinations(range(len(standings.names)), 2):
        wins, losses, draws = standings.wins[i, j], standings.wins[j, i], standings.draws[i, j]
        total = wins + losses + draws
        low, high = wilson_interval(int(wins), int(total))
        rows.append({"player": standings.names[i], "opponent": standings.names[j],
                     "games": int(total), "wins": int(wins), "draws": int(draws),
                     "losses": int(losses),
                     "score": round(float((wins + 0.5 * draws) / max(total, 1)), 4),
                     "win_rate": round(float(wins / max(total, 1)), 4),
                     "win_rate_ci95_low": round(low, 4), "win_rate_ci95_high": round(high, 4)})
    return rows


def _crosstable_csv(standings: Standings) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["player", *standings.names])
    for i, name in enumerate(standings.names):
        writer.writerow([name, *("" if i == j else f"{standings.wins[i, j]}-"
                                 f"{standings.draws[i, j]}-{standings.wins[j, i]}"
                                 for j in range(len(standings.names)))])
    return out.getvalue()


def _elo_text(elo: float) -> str:
    """Whole Elo points; -0.4 reads "0", not "-0"."""
    return f"{round(float(elo)) + 0:d}"


def results_markdown(standings: Standings, fit: EloFit, pairs: list[dict]) -> str:
    names = standings.names
    games_played = standings.games()
    order = np.argsort(-fit.ratings)
    lines = [f"# Tournament results ({int(games_played.sum() // 2)} games)", "",
             f"## Elo (maximum likelihood, {fit.anchor} = 0, 95% confidence interval)", "",
             "| rank | player | Elo | 95% CI | games | score |", "|---:|---|---:|---|---:|---:|"]
    for rank, k in enumerate(order, 1):
        games = games_played[k].sum()
        score = (standings.wins[k].sum() + 0.5 * standings.draws[k].sum()) / max(games, 1)
        lines.append(f"| {rank} | {names[k]} | {_elo_text(fit.ratings[k])} | "
                     f"[{_elo_text(fit.ci95_low[k])}, {_elo_text(fit.ci95_high[k])}] | {games} | "
                     f"{score:.3f} |")
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
