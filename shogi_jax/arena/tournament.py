"""Round-robin tournaments: their config schema (TournamentConfig, PlayerConfig), every pair of
players playing a match (batched on the device), the results as a crosstable, per-pair W/D/L
and maximum-likelihood Elo, and every game written as KIF, CSA and SFEN + USI moves.

Nothing is lost when a tournament stops early: each game is written (games.jsonl, KIF, CSA) as
soon as it ends, and the results (of the games written) after every pairing and on a stop. The
results are always computed from games.jsonl, so a resumed tournament, which replays its
unfinished pairing from the same key and writes only the games not yet written, ends with the
same table as one never stopped. Game n (1-based) is game g of pairing p, n = p * G + g + 1 with G
games per pairing.
"""
from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import itertools
import json
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional, Union

import jax
import numpy as np

import shogi_jax as sj
from shogi_jax.arena.elo import EloFit, fit_elo, wilson_interval
from shogi_jax.arena.engine_match import ENGINE_KIND, EnginePlayer, play_engine_match
from shogi_jax.arena.match import END_NAMES, MatchGames, MatchStopped, play_match
from shogi_jax.arena.usi_client import EngineFailure, MoveLimit
from shogi_jax.host.files import write_text_atomically
from shogi_jax.host.settings import (
    NON_NEGATIVE,
    NON_NEGATIVE_EVEN,
    NONE_OR_NON_NEGATIVE,
    NONE_OR_POSITIVE,
    NONE_OR_UNIT_INTERVAL,
    POSITIVE,
    POSITIVE_EVEN,
    ConfigError,
    apply_overrides,
    check_settings,
    config_differences,
    config_to_dict,
    config_yaml,
    one_of,
    read_mapping,
    section_from_mapping,
    setting,
)
from shogi_jax.notation import record_board
from shogi_jax.notation.csa import csa_from_record
from shogi_jax.notation.kif import kif_from_record
from shogi_jax.play.network import load_network
from shogi_jax.play.players import NETWORK_KINDS, PLAYER_KINDS, Player
from shogi_jax.play.search import SearchSettings
from shogi_jax.play.tactics import Tactics
from shogi_jax.rules.state import STARTPOS_SFEN

RESULT_OF_WINNER = {0: "black_win", 1: "white_win", -1: "draw"}
CONFIG_FILE = "tournament.yaml"  # the config it began with, policy players pinned to a step
GAMES_LOG = "games.jsonl"  # one line per finished game, appended as games end
GAMES_DIR = "games"  # NNNNN.kifu and NNNNN.csa per game
ENGINE_LOGS = "engines"  # external engines' stderr


# --- the tournament schema ----------------------------------------------------------------------

CHECKPOINT_CHOICES = ("latest", "best")
PAIRINGS = ("round_robin", "neighbours", "gauntlet")


@dataclass(frozen=True)
class PlayerConfig:
    name: str = setting("", "unique; used in the crosstable and the game records")
    kind: str = setting("random", "what plays; usi: an external USI engine",
                        one_of(PLAYER_KINDS + (ENGINE_KIND,)))
    run_dir: Optional[str] = setting(None, "policy: the training run directory (its config + "
                                           "checkpoints)")
    checkpoint: str = setting("latest", "policy: by evaluation Elo, or the newest ...",
                              one_of(CHECKPOINT_CHOICES))
    step: Optional[int] = setting(None, "... or this iteration's checkpoint",
                                  NONE_OR_NON_NEGATIVE)
    temperature: float = setting(0.0, "policy: 0 plays the argmax", NON_NEGATIVE)
    simulations: Optional[int] = setting(None, "search: the network searches with Gumbel MuZero, "
                                               f"this many simulations a move (default "
                                               f"{SearchSettings.simulations})",
                                         NONE_OR_POSITIVE)
    max_considered_actions: Optional[int] = setting(
        None, f"search: root actions in sequential halving (default "
              f"{SearchSettings.max_considered_actions})", NONE_OR_POSITIVE)
    gumbel_scale: Optional[float] = setting(None, "search: 0 takes the prior's top actions, 1 "
                                                  f"samples them (default "
                                                  f"{SearchSettings.gumbel_scale:g})",
                                            NONE_OR_NON_NEGATIVE)
    value_scale: Optional[float] = setting(None, "search: weight of the searched values against "
                                                 "the prior (default "
                                                 f"{SearchSettings.value_scale:g}, mctx's; 1 lets "
                                                 "the values override the prior)", NONE_OR_POSITIVE)
    material_weight: Optional[float] = setting(
        None, "search: the share of a position's value from its material balance instead of "
              f"the value head, 0 to 1 (default {SearchSettings.material_weight:g})",
        NONE_OR_UNIT_INTERVAL)
    mate_in_one: Optional[bool] = setting(None, "policy and search: true plays a move that "
                                                "wins at once whenever there is one, whatever "
                                                "the network or the search prefers (every "
                                                "legal move tried; default false)")
    avoid_mate_in_one: Optional[bool] = setting(None, "policy and search: true never plays a "
                                                      "move that lets the opponent mate at once "
                                                      "where one of the 32 moves the network (or "
                                                      "the search) likes most does not (the first "
                                                      "such move instead; default false)")
    material_lookahead: Optional[bool] = setting(None, "policy and search: true plays the "
                                                       "first of its move and the 16 the "
                                                       "network (or the search) likes most "
                                                       "that keeps within 2 points of the most "
                                                       "material after the opponent's reply "
                                                       "and our recapture (default false)")
    avoid_mate_in_three: Optional[bool] = setting(None, "policy and search: true never "
                                                        "plays a move that lets the opponent "
                                                        "mate within three plies by checks "
                                                        "where one of the 8 moves the network "
                                                        "(or the search) likes most does not "
                                                        "(default false)")
    command: Optional[str] = setting(None, "usi: the engine's command line (split as a shell "
                                           "would), e.g. /usr/games/fairy-stockfish")
    options: tuple[str, ...] = setting((), "usi: 'Name=value' USI options sent after the "
                                           "handshake, e.g. 'Skill Level=0'")
    depth: Optional[int] = setting(None, "usi: the limit per move, exactly one of depth ...",
                                   NONE_OR_POSITIVE)
    nodes: Optional[int] = setting(None, "usi: ... nodes ...", NONE_OR_POSITIVE)
    movetime_ms: Optional[int] = setting(None, "usi: ... a fixed time (go movetime) ...",
                                         NONE_OR_POSITIVE)
    byoyomi_ms: Optional[int] = setting(None, "usi: ... or a byoyomi (go byoyomi)",
                                        NONE_OR_POSITIVE)
    move_timeout: float = setting(30.0, "usi: seconds past the limit before a silent engine "
                                        "loses on time (and is restarted)", POSITIVE)

    def usi_settings(self) -> dict[str, Any]:
        """The settings only `usi` players take, that are set."""
        return self._set(_USI_ONLY)

    def search_settings(self) -> dict[str, Any]:
        """The settings only `search` players take, that are set."""
        return self._set(_SEARCH_ONLY)

    def _set(self, names) -> dict[str, Any]:
        return {name: getattr(self, name) for name in names
                if getattr(self, name) not in (None, ())}


_USI_ONLY = ("command", "options", "depth", "nodes", "movetime_ms", "byoyomi_ms")
_SEARCH_ONLY = ("simulations", "max_considered_actions", "gumbel_scale", "value_scale",
                "material_weight")
_TACTICS = tuple(field.name for field in dataclasses.fields(Tactics))  # network players' keys


@dataclass(frozen=True)
class TournamentConfig:
    players: tuple[PlayerConfig, ...] = setting((), "a list of player mappings (keys below)")
    pairing: str = setting("round_robin", "round_robin: every pair of players; neighbours: each "
                                          "with the next in the list (a ladder, weakest first); "
                                          "gauntlet: the first against each other",
                           one_of(PAIRINGS))
    games_per_pairing: int = setting(100, "each colour pair plays the same opening both ways",
                                     POSITIVE_EVEN)
    random_opening_plies: int = setting(0, "uniformly random first plies (shared by a colour "
                                           "pair)", NON_NEGATIVE)
    opening_sfen_file: Optional[str] = setting(None, "one SFEN per line; colour pair k uses "
                                                     "line k mod n")
    max_plies: int = setting(512, "games end as draws here", POSITIVE)
    impasse: bool = setting(True, "the 27-point impasse declaration")
    anchor: Optional[str] = setting(None, "Elo 0: a player (\"random\" if one plays, else the "
                                          "first)")
    seed: int = setting(0, "openings and sampling")
    concurrency: int = setting(0, "games at once in a match with a usi engine (a process per "
                                  "game and engine); 0: the machine's cores", NON_NEGATIVE)
    games_at_once: int = setting(0, "games at once in a match of on-device players (even; 0: "
                                    "all of a pairing), the same openings: a search ran 2x faster "
                                    "at 64 games than at 1,024 on 2 cores, and a stopped "
                                    "tournament keeps the batches it finished", NON_NEGATIVE_EVEN)
    output_dir: str = setting("tournaments/default", "must not exist yet or be empty (unless "
                                                     "--resume)")


def tournament_config_from_dict(raw: Mapping[str, Any]) -> TournamentConfig:
    config = section_from_mapping(TournamentConfig, raw, "")
    if len(config.players) < 2:
        raise ConfigError(f"players: a tournament needs at least 2, got {len(config.players)}")
    names = [player.name for player in config.players]
    for i, player in enumerate(config.players):
        key = f"players[{i}]"
        if not player.name:
            raise ConfigError(f"{key}.name: every player needs a name")
        if names.count(player.name) > 1:
            raise ConfigError(f"{key}.name: {player.name!r} is used by more than one player")
    check_settings(config)
    for i, player in enumerate(config.players):
        key = f"players[{i}]"
        if (player.kind in NETWORK_KINDS) != (player.run_dir is not None):
            raise ConfigError(f"{key}.run_dir: {' and '.join(NETWORK_KINDS)} players need one, "
                              "others take none")
        if player.kind != ENGINE_KIND and player.usi_settings():
            raise ConfigError(f"{key}: {', '.join(player.usi_settings())} only go with kind "
                              f"{ENGINE_KIND} (an external engine)")
        if player.kind != "search" and player.search_settings():
            raise ConfigError(f"{key}: {', '.join(player.search_settings())} only go with kind "
                              "search")
        for name in _TACTICS:
            if player.kind not in NETWORK_KINDS and getattr(player, name) is not None:
                raise ConfigError(f"{key}: {name} only goes with kinds "
                                  f"{' and '.join(NETWORK_KINDS)}")
        if player.kind == ENGINE_KIND:
            _engine_player(player, key)  # its command, options and limit
    if config.anchor is None:
        config = dataclasses.replace(config, anchor="random" if "random" in names else names[0])
    elif config.anchor not in names:
        raise ConfigError(f"anchor: {config.anchor!r} is not one of the players "
                          f"({', '.join(names)})")
    return config


def load_tournament_config(path: str | os.PathLike[str],
                           overrides: Sequence[str] = ()) -> TournamentConfig:
    """Reads a tournament YAML file (see configs/tournament.yaml), overrides, validates."""
    return tournament_config_from_dict(apply_overrides(read_mapping(path), overrides))


class LoadedPlayer(NamedTuple):
    player: Union[Player, EnginePlayer]
    params: object  # network variables for policy players, None otherwise
    source: str  # where it came from, for the report
    spec: PlayerConfig  # its config; a policy player's step pinned to the checkpoint loaded


def _engine_player(spec: PlayerConfig, key: str) -> EnginePlayer:
    """The EnginePlayer of a `usi` player's settings; ConfigError naming what is wrong."""
    if not spec.command or not shlex.split(spec.command):
        raise ConfigError(f"{key}.command: a usi player needs the engine's command line")
    options = []
    for k, option in enumerate(spec.options):
        name, equals, value = option.partition("=")
        if not equals or not name.strip():
            raise ConfigError(f"{key}.options[{k}]: {option!r} is not 'Name=value'")
        options.append((name.strip(), value.strip()))
    try:
        limit = MoveLimit(depth=spec.depth, nodes=spec.nodes, movetime_ms=spec.movetime_ms,
                          byoyomi_ms=spec.byoyomi_ms)
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from None
    return EnginePlayer(spec.name, tuple(shlex.split(spec.command)), limit, tuple(options),
                        move_timeout=spec.move_timeout)


def load_player(spec: PlayerConfig, *, max_plies: int = sj.DEFAULT_MAX_PLIES,
                impasse: bool = True) -> LoadedPlayer:
    """The player of `spec` and its parameters; a search player simulates the games' rules
    (`max_plies`, `impasse`). A usi engine is started once here (and closed), so a missing or
    broken one is refused before the tournament writes anything."""
    if spec.kind == ENGINE_KIND:
        engine = _engine_player(spec, spec.name)
        try:
            engine.client().start().close()
        except EngineFailure as error:
            raise ConfigError(f"player {spec.name!r}: {error}") from None
        return LoadedPlayer(engine, None, spec.command, spec)
    if spec.kind not in NETWORK_KINDS:
        return LoadedPlayer(Player(spec.name, spec.kind), None, spec.kind, spec)
    model, params, step = load_network(spec.run_dir, which=spec.checkpoint,
                                                      step=spec.step)
    search = (SearchSettings(**spec.search_settings(), max_plies=max_plies, impasse=impasse)
              if spec.kind == "search" else None)
    tactics = Tactics(**{name: bool(getattr(spec, name)) for name in _TACTICS})
    player = Player(spec.name, spec.kind, model=model, temperature=spec.temperature,
                    search=search, tactics=tactics)
    return LoadedPlayer(player, params, f"{spec.run_dir} iteration {step}",
                        dataclasses.replace(spec, step=step))


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


class TournamentResult(NamedTuple):
    standings: Standings
    fit: Optional[EloFit]  # None while the results so far cannot be fitted
    complete: bool  # every game played (False: stopped; continue with resume=True)
    games_written: int
    games_total: int
    no_fit: str  # why fit is None


def pairings(config: TournamentConfig) -> list[tuple[int, int]]:
    """(i, j) player indices of every match, in the order they are played."""
    if config.pairing == "neighbours":
        return [(i, i + 1) for i in range(len(config.players) - 1)]
    if config.pairing == "gauntlet":
        return [(0, j) for j in range(1, len(config.players))]
    return list(itertools.combinations(range(len(config.players)), 2))


def games_total(config: TournamentConfig) -> int:
    return len(pairings(config)) * config.games_per_pairing


def run_tournament(config: TournamentConfig, *, output_dir: Optional[Path] = None,
                   resume: bool = False, progress: Optional[Callable[[int], None]] = None,
                   should_stop: Optional[Callable[[], bool]] = None) -> TournamentResult:
    """Plays the round robin of `config`, writing to `output_dir` (default config.output_dir) as
    it goes. `progress(n)`: n more games written. A true `should_stop()` (looked at between
    chunks of plies) drops the games still running, writes the results so far and returns
    (complete False). resume=True continues the tournament in `output_dir`: its stored config
    is used, and `config` must be that one (up to the pinned steps and output_dir; None skips
    the check). Nothing is written before every player has loaded and a resume is accepted."""
    log = TournamentLog(Path(output_dir or config.output_dir))
    if resume:
        config, records = log.read_for_resume(config)
    else:
        log.check_fresh()
        records = {}
    players = [load_player(spec, max_plies=config.max_plies, impasse=config.impasse)
               for spec in config.players]
    if not resume:
        config = dataclasses.replace(config, players=tuple(p.spec for p in players))
    openings = _openings(config)
    log.begin(config, records)
    per_pairing = config.games_per_pairing
    key = jax.random.PRNGKey(config.seed)
    stopped = False
    compiled_for = None  # the players whose match programs are compiled
    for pairing, (i, j) in enumerate(pairings(config)):
        numbers = range(pairing * per_pairing + 1, (pairing + 1) * per_pairing + 1)
        if all(number in records for number in numbers):
            continue
        if should_stop is not None and should_stop():
            stopped = True
            break
        first, second = players[i], players[j]
        if compiled_for not in (None, (first.player, second.player)):
            # A match compiles a program per pair of players (names aside), and XLA's CPU code
            # stays mapped until dropped: about 1,300 memory maps a program, so a 15-player round
            # robin died after 70 pairings at Linux's 65,530 (LLVM: "Cannot allocate memory").
            jax.clear_caches()
        compiled_for = (first.player, second.player)

        def write_finished(indices, games, pairing=pairing, first=first, second=second):
            finished = {}
            for index, record in zip(indices, game_records(games, first.player.name,
                                                           second.player.name)):
                number = pairing * per_pairing + int(index) + 1
                if number not in records:  # a resumed pairing replays the games already written
                    finished[number] = record
            log.write_games(finished)
            records.update(finished)
            if progress is not None and finished:
                progress(len(finished))

        match_settings = dict(
            games=per_pairing, key=jax.random.fold_in(key, pairing), max_plies=config.max_plies,
            impasse=config.impasse, opening_plies=config.random_opening_plies,
            opening_sfens=openings, on_finished=write_finished, should_stop=should_stop)
        # Games already written are not played again: an engine's games one by one, the device's
        # by whole batches (games_at_once).
        written = {number - pairing * per_pairing - 1 for number in numbers if number in records}
        try:
            if any(isinstance(p.player, EnginePlayer) for p in (first, second)):
                play_engine_match(first.player, first.params, second.player, second.params,
                                  concurrency=config.concurrency or os.cpu_count() or 1,
                                  stderr_dir=log.engine_logs(), skip=written, **match_settings)
            else:
                play_match(first.player, first.params, second.player, second.params,
                           games_at_once=config.games_at_once, skip=written, **match_settings)
        except MatchStopped:
            stopped = True
            break
        finally:
            log.flush()
        log.write_results(config, players, records)  # the results so far, after every pairing
    total = games_total(config)
    complete = not stopped and len(records) == total
    standings, fit, no_fit = log.write_results(config, players, records, complete=complete)
    log.close()
    return TournamentResult(standings, fit, complete, len(records), total, no_fit)


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


def kif_text(game: record_board.GameRecord, event: str, note: Optional[str] = None) -> str:
    """The KIF of one game (see `replayed`). UTF-8 KIF goes by the .kifu name (readers take .kif
    as Shift_JIS). Declined promotions are left unmarked, which every reader takes as no
    promotion; cshogi's reader skips lines with the optional 不成 mark."""
    return kif_from_record(game, event=event, mark_non_promotion=False, note=note)


def replayed(records: list[dict]) -> list[record_board.GameRecord]:
    """The games of game records (as made by `game_records`) replayed, all at once, into what the
    KIF and CSA writers read."""
    return record_board.game_records([record_board.FinishedGame(
        record["start_sfen"], record["moves"], record["black"], record["white"],
        record["result"], record["termination"]) for record in records])


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


def read_games(sources) -> list[dict]:
    """The game records of tournament directories (their GAMES_LOG) or of games.jsonl files
    (.gz too: docs keeps measured games gzipped), in the order given. ValueError naming a source
    that is neither."""
    games = []
    for source in sources:
        path = Path(source) / GAMES_LOG if Path(source).is_dir() else Path(source)
        if not path.is_file():
            raise ValueError(f"{path} does not exist (not a tournament directory?)")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            games += [json.loads(line) for line in lines if line.strip()]
    return games


# --- the output directory -----------------------------------------------------------------------


class TournamentLog:
    """A tournament's output directory, written as it goes: CONFIG_FILE once, GAMES_LOG appended
    and games/NNNNN.kifu / .csa written per finished game, the results (results.md / .json,
    pairs.csv, crosstable.csv, elo.csv, games.sfen) rewritten from the games written so far."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._games_log = None

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
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        per_pairing = config.games_per_pairing
        players = [(config.players[i].name, config.players[j].name) for i, j in pairings(config)]
        records = {}
        for line_number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                if line_number == len(lines):  # cut short by a kill: that game is replayed
                    break
                raise ConfigError(f"--resume: {path} line {line_number} is damaged") from None
            number = entry.pop("game", None)
            if not isinstance(number, int) or not 1 <= number <= len(players) * per_pairing \
                    or {entry.get("black"), entry.get("white")} != set(
                        players[(number - 1) // per_pairing]) or number in records:
                raise ConfigError(f"--resume: {path} line {line_number} is not a game of this "
                                  "tournament")
            records[number] = entry
        return records

    def begin(self, config: TournamentConfig, records: dict[int, dict]) -> None:
        """Writes the config (pinned) and the games log (only complete lines) and opens the log."""
        (self.directory / GAMES_DIR).mkdir(parents=True, exist_ok=True)
        write_text_atomically(self.directory / CONFIG_FILE,
                          "# The tournament as it began; policy players pinned to the checkpoint "
                          "they loaded.\n" + config_yaml(config))
        self._write_games_log(records)
        self._games_log = open(self.directory / GAMES_LOG, "a", encoding="utf-8")

    def _write_games_log(self, records: dict[int, dict]) -> None:
        write_text_atomically(self.directory / GAMES_LOG, "".join(
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
        """ENGINE_LOGS: each external engine's stderr, appended (NAME.log)."""
        directory = self.directory / ENGINE_LOGS
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
        pairs = _pair_rows(standings)
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
        write_text_atomically(directory / "pairs.csv", _csv_text(
            [list(PAIR_COLUMNS)] + [[row[column] for column in PAIR_COLUMNS] for row in pairs]))
        write_text_atomically(directory / "crosstable.csv", _crosstable_csv(standings))
        write_text_atomically(directory / "elo.csv", _csv_text(
            [["player", "elo", "stderr", "ci95_low", "ci95_high"]]
            + ([[name, f"{fit.ratings[k]:.1f}", f"{fit.stderr[k]:.1f}", f"{fit.ci95_low[k]:.1f}",
                 f"{fit.ci95_high[k]:.1f}"] for k, name in enumerate(fit.names)] if fit else [])))
        write_text_atomically(directory / "games.sfen", "".join(
            f"sfen {records[n]['start_sfen']}"
            + (f" moves {' '.join(records[n]['moves'])}" if records[n]["moves"] else "") + "\n"
            for n in sorted(records)))
        if complete:
            self.flush()
            self._write_games_log(records)
        return standings, fit, no_fit


def _require_same_tournament(given: TournamentConfig, stored: TournamentConfig) -> None:
    """ConfigError naming every setting in which `given` differs from the stored config, apart
    from output_dir and the steps the stored policy players were pinned to."""
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


def _csv_text(rows) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


PAIR_COLUMNS = ("player", "opponent", "games", "wins", "draws", "losses", "score", "win_rate",
                "win_rate_ci95_low", "win_rate_ci95_high")


def _pair_rows(standings: Standings) -> list[dict]:
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


def _crosstable_csv(standings: Standings) -> str:
    names = standings.names
    return _csv_text([["player", *names]] + [
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
