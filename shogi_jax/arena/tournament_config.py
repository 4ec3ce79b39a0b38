"""A tournament's config: its players (PlayerConfig: built-in players, trained networks,
external USI engines) and how they meet (TournamentConfig), validated before anything runs."""
from __future__ import annotations

import dataclasses
import itertools
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Optional

from shogi_jax.arena.engine_match import ENGINE_KIND, EnginePlayer
from shogi_jax.arena.usi_client import MoveLimit
from shogi_jax.host.paths import is_remote
from shogi_jax.host.settings import (
    NON_NEGATIVE,
    NON_NEGATIVE_EVEN,
    NONE_OR_NON_NEGATIVE,
    NONE_OR_POSITIVE,
    POSITIVE,
    POSITIVE_EVEN,
    ConfigError,
    apply_overrides,
    check_settings,
    one_of,
    read_mapping,
    section_from_mapping,
    setting,
)
from shogi_jax.play.network import PRETRAINED_RUN
from shogi_jax.play.players import NETWORK_KINDS, PLAYER_KINDS, settings_refused
from shogi_jax.play.search import SearchSettings
from shogi_jax.play.tactics import TACTIC_HELP

CHECKPOINT_CHOICES = ("latest", "best")
PAIRINGS = ("round_robin", "neighbours", "gauntlet")


def _tactic_setting(name: str):
    return setting(None, f"policy and search: true: {TACTIC_HELP[name]} (default false)")


@dataclass(frozen=True)
class PlayerConfig:
    name: str = setting("", "unique; used in the crosstable and the game records")
    kind: str = setting("random", "what plays; usi: an external USI engine",
                        one_of(PLAYER_KINDS + (ENGINE_KIND,)))
    run_dir: Optional[str] = setting(None, "policy and search: the training run directory (its "
                                           "config + checkpoints); a relative one is read from "
                                           "the config file's directory")
    pretrained: bool = setting(False, "policy and search: true plays the network shipped with "
                                      "the package (as `usi --pretrained`) instead of a run_dir")
    checkpoint: str = setting("latest", "policy and search: the best by evaluation, or the "
                                        "newest ...",
                              one_of(CHECKPOINT_CHOICES))
    step: Optional[int] = setting(None, "... or this iteration's checkpoint",
                                  NONE_OR_NON_NEGATIVE)
    temperature: float = setting(0.0, "policy: 0 plays the argmax", NON_NEGATIVE)
    simulations: Optional[int] = setting(None, "search: the network searches with Gumbel MuZero, "
                                               f"this many simulations a move (default "
                                               f"{SearchSettings.simulations})")
    max_considered_actions: Optional[int] = setting(
        None, f"search: root actions in sequential halving (default "
              f"{SearchSettings.max_considered_actions})")
    gumbel_scale: Optional[float] = setting(None, "search: 0 takes the prior's top actions, 1 "
                                                  f"samples them (default "
                                                  f"{SearchSettings.gumbel_scale:g})")
    value_scale: Optional[float] = setting(None, "search: weight of the searched values against "
                                                 "the prior (default "
                                                 f"{SearchSettings.value_scale:g}, mctx's; 1 lets "
                                                 "the values override the prior)")
    material_weight: Optional[float] = setting(
        None, "search: the share of a position's value from its material balance instead of "
              f"the value head, 0 to 1 (default {SearchSettings.material_weight:g})")
    mate_in_one: Optional[bool] = _tactic_setting("mate_in_one")
    avoid_mate_in_one: Optional[bool] = _tactic_setting("avoid_mate_in_one")
    material_lookahead: Optional[bool] = _tactic_setting("material_lookahead")
    avoid_mate_in_three: Optional[bool] = _tactic_setting("avoid_mate_in_three")
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

    def network_dir(self) -> Optional[str]:
        """The run directory a network player loads: its run_dir, or the shipped network's."""
        return str(PRETRAINED_RUN) if self.pretrained else self.run_dir

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
                                    "all of a pairing), the same openings: searches run faster in "
                                    "batches that fit the CPU's cache, and a stopped "
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
        networks = " and ".join(NETWORK_KINDS)
        if player.run_dir is not None and player.pretrained:
            raise ConfigError(f"{key}: run_dir and pretrained: true both name the network; keep "
                              "one")
        if player.kind in NETWORK_KINDS and player.network_dir() is None:
            raise ConfigError(f"{key}.run_dir: {networks} players need a network: a run_dir, or "
                              "pretrained: true for the shipped one")
        if player.kind not in NETWORK_KINDS and (player.run_dir is not None or player.pretrained):
            raise ConfigError(f"{key}: kind {player.kind} plays no network; run_dir and "
                              f"pretrained go with {networks} players")
        if player.kind != ENGINE_KIND and player.usi_settings():
            raise ConfigError(f"{key}: {', '.join(player.usi_settings())} only go with kind "
                              f"{ENGINE_KIND} (an external engine)")
        tactics = [name for name in TACTIC_HELP if getattr(player, name) is not None]
        refused = settings_refused(player.kind, search=list(player.search_settings()),
                                   tactics=tactics)
        if refused:
            raise ConfigError(f"{key}: {refused}")
        if player.kind == "search":
            try:
                SearchSettings(**player.search_settings())
            except ValueError as error:
                raise ConfigError(f"{key}: {error}") from None
        if player.kind == ENGINE_KIND:
            engine_player(player, key)  # its command, options and limit
    if config.anchor is None:
        config = dataclasses.replace(config, anchor="random" if "random" in names else names[0])
    elif config.anchor not in names:
        raise ConfigError(f"anchor: {config.anchor!r} is not one of the players "
                          f"({', '.join(names)})")
    return config


def load_tournament_config(path: str | os.PathLike[str], overrides: Sequence[str] = (), *,
                           check_paths: bool = True) -> TournamentConfig:
    """Reads a tournament YAML file (see configs/tournament.yaml), overrides, validates.

    The paths a tournament reads (players' run_dir, opening_sfen_file) come out absolute: a
    relative one in the file is read from the file's directory, so the config runs from any
    directory; one set by `overrides` (the command line's --set) from the working directory.
    output_dir, which the tournament writes, stays as given (relative to the working directory).
    A relative path that names nothing is refused, saying where it looked; `check_paths=False`
    skips that, for a config whose runs are still to be trained or a record kept after them.
    """
    path = Path(path)
    raw = read_mapping(path)
    in_file = _make_inputs_absolute(raw, path.absolute().parent, "the config file's directory",
                                    earlier={})
    raw = apply_overrides(raw, overrides)
    resolved = _make_inputs_absolute(raw, Path.cwd(), "the working directory", earlier=in_file)
    config = tournament_config_from_dict(raw)
    for each in resolved.values() if check_paths else ():
        if not os.path.exists(each.absolute):
            raise ConfigError(f"{each.key}: {each.written!r} names nothing: looked at "
                              f"{each.absolute} (relative to {each.base}){_elsewhere(each)}")
    return config


class _InputPath(NamedTuple):
    """A relative path of a tournament config made absolute, kept for the error naming it."""

    key: str  # players[0].run_dir
    written: str  # as the config wrote it
    absolute: str
    base: str  # what it is relative to: the directory, and whose it is


def _input_paths(raw: Mapping[str, Any]) -> dict[str, tuple[dict, str]]:
    """{key: (the mapping holding it, its name there)} of the paths a tournament reads, where
    they are strings; other values are left for validation to name."""
    found = {}
    if isinstance(raw.get("opening_sfen_file"), str):
        found["opening_sfen_file"] = (raw, "opening_sfen_file")
    players = raw.get("players")
    for i, player in enumerate(players if isinstance(players, list) else ()):
        if isinstance(player, dict) and isinstance(player.get("run_dir"), str):
            found[f"players[{i}].run_dir"] = (player, "run_dir")
    return found


def _make_inputs_absolute(raw: dict[str, Any], base: Path, whose: str, *,
                          earlier: Mapping[str, _InputPath]) -> dict[str, _InputPath]:
    """Makes each relative input path of `raw` absolute against `base`, in place. Returns every
    path made absolute that `raw` holds: this pass's, and those of an `earlier` pass that no
    override replaced."""
    resolved = {}
    for key, (holder, name) in _input_paths(raw).items():
        written = holder[name]
        if key in earlier and earlier[key].absolute == written:
            resolved[key] = earlier[key]
        elif not os.path.isabs(written) and not is_remote(written):  # a URL stays as written
            holder[name] = os.path.normpath(base / written)
            resolved[key] = _InputPath(key, written, holder[name], f"{whose}, {base}")
    return resolved


def _elsewhere(path: _InputPath) -> str:
    """The likely mistake behind a missing path: one written relative to the working directory."""
    if os.path.abspath(path.written) == path.absolute or not os.path.exists(path.written):
        return ""
    return (f"; {os.path.abspath(path.written)} exists, relative to the working directory: write "
            "the path relative to the config file, or absolute")


def engine_player(spec: PlayerConfig, key: str) -> EnginePlayer:
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


def pairings(config: TournamentConfig) -> list[tuple[int, int]]:
    """(i, j) player indices of every match, in the order they are played."""
    if config.pairing == "neighbours":
        return [(i, i + 1) for i in range(len(config.players) - 1)]
    if config.pairing == "gauntlet":
        return [(0, j) for j in range(1, len(config.players))]
    return list(itertools.combinations(range(len(config.players)), 2))


def games_total(config: TournamentConfig) -> int:
    return len(pairings(config)) * config.games_per_pairing
