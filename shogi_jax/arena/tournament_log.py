"""A tournament's output directory, written as it goes, so that nothing is lost when it stops:
the config it began with, the games log, each game's KIF and CSA, and the results of the games
written so far."""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Optional

from shogi_jax.arena.standings import (
    PAIR_COLUMNS,
    Standings,
    crosstable_csv,
    csv_text,
    elo_so_far,
    pair_rows,
    results_markdown,
)
from shogi_jax.arena.tournament_config import (
    TournamentConfig,
    games_total,
    load_tournament_config,
    pairings,
)
from shogi_jax.host.paths import AppendedFile, as_path, is_remote, local_path, write_text_atomically
from shogi_jax.host.settings import ConfigError, config_differences, config_to_dict, config_yaml
from shogi_jax.notation.csa import csa_from_record
from shogi_jax.notation.records import (
    GAMES_LOG,
    GamesLogError,
    kif_text,
    read_games_log,
    replayed,
)

CONFIG_FILE = "tournament.yaml"  # the config it began with, network players pinned to a step
GAMES_DIR = "games"  # NNNNN.kifu and NNNNN.csa per game
ENGINE_LOGS = "engines"  # external engines' stderr


class TournamentLog:
    """A tournament's output directory, written as it goes: CONFIG_FILE once, GAMES_LOG appended
    and games/NNNNN.kifu / .csa written per finished game, the results (results.md / .json,
    pairs.csv, crosstable.csv, elo.csv, games.sfen) rewritten from the games written so far."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = as_path(directory)
        self._games_log = None
        self._local_engine_logs = None

    def check_fresh(self) -> None:
        if self.directory.exists() and (not self.directory.is_dir()
                                        or any(self.directory.iterdir())):
            hint = (" (it holds a tournament: continue it with --resume)"
                    if (self.directory / CONFIG_FILE).is_file() else "")
            raise ConfigError(f"output directory '{self.directory}' already exists and is not "
                              f"empty{hint}; choose a new --output-dir")

    def read_for_resume(self, config: Optional[TournamentConfig]):
        """(the stored config, {game number: record} of the games written) of the tournament to
        continue; ConfigError if there is none or `config` is another one. Reads only."""
        stored_path = self.directory / CONFIG_FILE
        if not stored_path.is_file():
            raise ConfigError(f"--resume: '{self.directory}' holds no tournament to continue "
                              f"(no {CONFIG_FILE})")
        stored = dataclasses.replace(load_tournament_config(stored_path),
                                     output_dir=str(self.directory))
        if config is not None:
            _require_same_tournament(config, stored)
        return stored, self._read_games(stored)

    def _read_games(self, config: TournamentConfig) -> dict[int, dict]:
        path = self.directory / GAMES_LOG
        try:
            lines = read_games_log(path) if path.exists() else []
        except GamesLogError as error:
            raise ConfigError(f"--resume: {error}") from None
        per_pairing = config.games_per_pairing
        players = [(config.players[i].name, config.players[j].name) for i, j in pairings(config)]
        records = {}
        for entry in lines:
            entry = dict(entry)
            number = entry.pop("game", None)
            if not isinstance(number, int) or not 1 <= number <= len(players) * per_pairing \
                    or {entry.get("black"), entry.get("white")} != set(
                        players[(number - 1) // per_pairing]) or number in records:
                raise ConfigError(f"--resume: {path} holds game {number!r}, which is not a game "
                                  "of this tournament")
            records[number] = entry
        return records

    def begin(self, config: TournamentConfig, records: dict[int, dict]) -> None:
        """Writes the config (pinned) and the games log (only complete lines) and opens the log."""
        (self.directory / GAMES_DIR).mkdir(parents=True, exist_ok=True)
        write_text_atomically(self.directory / CONFIG_FILE,
                          "# The tournament as it began; network players pinned to the checkpoint "
                          "they loaded.\n" + config_yaml(config))
        self._write_games_log(records)

    def _write_games_log(self, records: dict[int, dict]) -> None:
        """GAMES_LOG as `records` in game order, open for the games to come."""
        if self._games_log is not None:
            self._games_log.close()
        self._games_log = AppendedFile(self.directory / GAMES_LOG, "".join(
            json.dumps({"game": number, **records[number]}) + "\n" for number in sorted(records)))

    def write_games(self, records: dict[int, dict]) -> None:
        """Finished games by number: their lines in the log, their KIF and CSA files (the games
        replayed together)."""
        games_dir = self.directory / GAMES_DIR
        for (number, record), game in zip(records.items(), replayed(list(records.values()))):
            event, note = f"shogi_jax game {number}", record.get("note")
            write_text_atomically(games_dir / f"{number:05d}.kifu",
                              kif_text(game, event=event, note=note))
            write_text_atomically(games_dir / f"{number:05d}.csa",
                              csa_from_record(game, event=event, note=note))
            self._games_log.write(json.dumps({"game": number, **record}) + "\n")

    def engine_logs(self) -> Path:
        """ENGINE_LOGS: each external engine's stderr, appended (NAME.log). An engine writes
        its own file, so in an output directory on an object store they go to a local folder
        (named on stderr) instead."""
        if is_remote(self.directory):
            if self._local_engine_logs is None:
                self._local_engine_logs = Path(tempfile.mkdtemp(prefix="shogi_jax_engine_logs_"))
                print(f"engines' stderr: {self._local_engine_logs} (the output directory is "
                      "on an object store)", file=sys.stderr)
            return self._local_engine_logs
        directory = local_path(self.directory / ENGINE_LOGS)
        directory.mkdir(exist_ok=True)
        return directory

    def flush(self) -> None:
        self._games_log.flush()

    def close(self) -> None:
        self._games_log.close()

    def write_results(self, config: TournamentConfig, players, records: dict[int, dict], *,
                      complete: bool = False):
        """The results of the games written so far; once `complete`, the games log in game
        order. Returns (standings, Elo fit or None, why None)."""
        names = [loaded.player.name for loaded in players]
        standings = Standings.of_records(names, records.values())
        fit, no_fit = elo_so_far(standings, config.anchor)
        total = games_total(config)
        pairs = pair_rows(standings)
        games_played = standings.games()
        summary = {
            "config": config_to_dict(config),
            "complete": complete, "games": len(records), "games_total": total,
            "players": [{"name": p.player.name, "kind": p.player.kind, "source": p.source,
                         "games": int(games_played[k].sum()),
                         "games_as_black": int(standings.black_games[k])}
                        for k, p in enumerate(players)],
            "pairs": pairs, "elo": fit.as_dict() if fit else {"unavailable": no_fit}}
        directory = self.directory
        write_text_atomically(directory / "results.json", json.dumps(summary, indent=2) + "\n")
        write_text_atomically(directory / "results.md",
                          results_markdown(standings, fit, pairs, games_total=total,
                                           no_fit=no_fit))
        write_text_atomically(directory / "pairs.csv", csv_text(
            [list(PAIR_COLUMNS)] + [[row[column] for column in PAIR_COLUMNS] for row in pairs]))
        write_text_atomically(directory / "crosstable.csv", crosstable_csv(standings))
        write_text_atomically(directory / "elo.csv", csv_text(
            [["player", "elo", "stderr", "ci95_low", "ci95_high"]]
            + ([[name, f"{fit.ratings[k]:.1f}", f"{fit.stderr[k]:.1f}", f"{fit.ci95_low[k]:.1f}",
                 f"{fit.ci95_high[k]:.1f}"] for k, name in enumerate(fit.names)] if fit else [])))
        write_text_atomically(directory / "games.sfen", "".join(
            f"sfen {records[n]['start_sfen']}"
            + (f" moves {' '.join(records[n]['moves'])}" if records[n]["moves"] else "") + "\n"
            for n in sorted(records)))
        if complete:
            self._write_games_log(records)
        return standings, fit, no_fit


def _require_same_tournament(given: TournamentConfig, stored: TournamentConfig) -> None:
    """ConfigError naming every setting in which `given` differs from the stored config, apart
    from output_dir and the steps the stored network players were pinned to."""
    pinned = list(given.players)
    for k, (mine, theirs) in enumerate(zip(given.players, stored.players)):
        if mine.step is None and (mine.name, mine.kind) == (theirs.name, theirs.kind):
            pinned[k] = dataclasses.replace(mine, step=theirs.step)
    given = dataclasses.replace(given, players=tuple(pinned), output_dir=stored.output_dir)
    differences = [f"{key}: {theirs!r} when it began, {mine!r} now" for key, theirs, mine
                   in config_differences(config_to_dict(stored), config_to_dict(given))]
    if differences:
        raise ConfigError("--resume: the config is not the one this tournament began with ("
                          + "; ".join(differences) + "); resume without --config to use its own")
