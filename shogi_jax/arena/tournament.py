"""Tournaments: every pairing of the config's players (a round robin, neighbours or a gauntlet)
plays a match (batched on the device, or against external engines), and the output directory
(`tournament_log`) gets every game as KIF, CSA and SFEN + USI moves, and the results
(`standings`: a crosstable, per-pair W/D/L and maximum-likelihood Elo).

Nothing is lost when a tournament stops early: each game is written (games.jsonl, KIF, CSA) as
soon as it ends, and the results (of the games written) after every pairing and on a stop. The
results are always computed from games.jsonl, so a resumed tournament, which replays its
unfinished pairing from the same key and writes only the games not yet written, ends with the
same table as one never stopped. Game n (1-based) is game g of pairing p, n = p * G + g + 1 with G
games per pairing.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable, NamedTuple, Optional, Union

import jax

import shogi_jax as sj
from shogi_jax.arena.elo import EloFit
from shogi_jax.arena.engine_match import ENGINE_KIND, EnginePlayer, play_engine_match
from shogi_jax.arena.match import MatchStopped, play_match
from shogi_jax.arena.standings import Standings, game_records
from shogi_jax.arena.tournament_config import (
    PlayerConfig,
    TournamentConfig,
    engine_player,
    games_total,
    pairings,
)
from shogi_jax.arena.tournament_log import TournamentLog
from shogi_jax.arena.usi_client import EngineFailure
from shogi_jax.host.paths import as_path
from shogi_jax.host.settings import ConfigError
from shogi_jax.play.network import load_network
from shogi_jax.play.players import NETWORK_KINDS, Player
from shogi_jax.play.search import SearchSettings
from shogi_jax.play.tactics import TACTIC_HELP, Tactics
from shogi_jax.rules.state import STARTPOS_SFEN


class LoadedPlayer(NamedTuple):
    player: Union[Player, EnginePlayer]
    params: object  # network variables for policy players, None otherwise
    source: str  # where it came from, for the report
    spec: PlayerConfig  # its config; a network player's step pinned to the checkpoint loaded


def load_player(spec: PlayerConfig, *, max_plies: int = sj.DEFAULT_MAX_PLIES,
                impasse: bool = True) -> LoadedPlayer:
    """The player of `spec` and its parameters; a search player simulates the games' rules
    (`max_plies`, `impasse`). A usi engine is started once here (and closed), so a missing or
    broken one is refused before the tournament writes anything."""
    if spec.kind == ENGINE_KIND:
        engine = engine_player(spec, spec.name)
        try:
            engine.client().start().close()
        except EngineFailure as error:
            raise ConfigError(f"player {spec.name!r}: {error}") from None
        return LoadedPlayer(engine, None, spec.command, spec)
    if spec.kind not in NETWORK_KINDS:
        return LoadedPlayer(Player(spec.name, spec.kind), None, spec.kind, spec)
    model, params, step = load_network(spec.network_dir(), which=spec.checkpoint, step=spec.step)
    search = (SearchSettings(**spec.search_settings(), max_plies=max_plies, impasse=impasse)
              if spec.kind == "search" else None)
    tactics = Tactics(**{name: bool(getattr(spec, name)) for name in TACTIC_HELP})
    player = Player(spec.name, spec.kind, model=model, temperature=spec.temperature,
                    search=search, tactics=tactics)
    source = "the shipped network" if spec.pretrained else spec.run_dir
    return LoadedPlayer(player, params, f"{source} iteration {step}",
                        dataclasses.replace(spec, step=step))


class TournamentResult(NamedTuple):
    standings: Standings
    fit: Optional[EloFit]  # None while the results so far cannot be fitted
    complete: bool  # every game played (False: stopped; continue with resume=True)
    games_written: int
    games_total: int
    no_fit: str  # why fit is None


def run_tournament(config: TournamentConfig, *, output_dir: Optional[str | os.PathLike[str]] = None,
                   resume: bool = False, progress: Optional[Callable[[int], None]] = None,
                   should_stop: Optional[Callable[[], bool]] = None,
                   on_start: Optional[Callable[[int, int], None]] = None) -> TournamentResult:
    """Plays the pairings of `config` (round robin, neighbours or gauntlet), writing to
    `output_dir` (default config.output_dir) as it goes. `progress(n)`: n more games written.
    A true `should_stop()` (looked at between chunks of plies) drops the games still running,
    writes the results so far and returns (complete False). resume=True continues the
    tournament in `output_dir`: its stored config is used, and `config` must be that one (up to
    the pinned steps and output_dir; None skips the check). Nothing is written before every
    player has loaded and a resume is accepted. `on_start(written, total)`: the games already
    written (a resume's) and the tournament's total, once they are known (a progress bar's
    start)."""
    log = TournamentLog(output_dir or config.output_dir)
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
    if on_start is not None:
        on_start(len(records), games_total(config))
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
            # stays mapped until dropped: a long round robin runs out of memory maps otherwise
            # (docs/findings.md).
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
    path = as_path(config.opening_sfen_file)
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
