"""The page of a tournament directory (`shogi_jax.arena.tournament`): the Elo table with
95% intervals and the crosstable as results.json gives them, the pairs' W/D/L, and the games of
games.jsonl: up to MAX_EMBEDDED_GAMES replayable (the first game of every pairing, then the
second, ...), every game listed with links to its KIF and CSA files.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from shogi_jax.arena.standings import elo_text
from shogi_jax.arena.tournament_config import load_tournament_config
from shogi_jax.arena.tournament_log import CONFIG_FILE, GAMES_DIR
from shogi_jax.host.settings import ConfigError
from shogi_jax.notation.records import GAMES_LOG, GamesLogError, kif_text, read_games_log, replayed
from shogi_jax.play.players import NETWORK_KINDS
from shogi_jax.reports import ReportError, analysis, read_text, relative_link, replay
from shogi_jax.reports.html import Markup, details, element, join, page, section, table

RESULTS_FILE = "results.json"


def tournament_report(directory: Path, output_dir: Path, *, analyse: bool = True,
                      pieces: str = "kanji") -> str:
    """The page of the tournament in `directory`; links are relative to `output_dir`, where the
    page goes; with `analyse`, the network players' value and top moves at their plies of the
    embedded games (`reports.analysis`); the boards' pieces in `lettering.LETTERINGS[pieces]`.
    ReportError naming the file that is missing or unreadable."""
    results_path = directory / RESULTS_FILE
    results = _read_json(results_path)
    records = numbered_games(directory / GAMES_LOG)
    try:
        names = [player["name"] for player in results["players"]]
        tables = [_elo_table(results), _crosstable(names, results["pairs"]),
                  _pairs_table(results["pairs"])]
        progress = f"{results['games']} of {results['games_total']} games"
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise ReportError(f"{results_path} is not a tournament's results "
                          f"({type(error).__name__}: {error})") from None
    config = directory / CONFIG_FILE
    body = [element("p", {"class": "note", "id": "progress"},
                    progress + ("" if results.get("complete") else " (not complete)")),
            section(f"Elo (maximum likelihood, {_anchor(results)} = 0, 95% confidence "
                    "interval; score: points per game, a draw half)", tables[0], id="elo"),
            section("Crosstable (the row's wins-draws-losses against the column)", tables[1],
                    id="crosstable"),
            section("Pairs (win rate with its 95% Wilson interval)", tables[2], id="pairs"),
            _games_section(directory, records, output_dir,
                           network_analysts(directory) if analyse else None, pieces)]
    if config.is_file():
        body.append(section("Config", details(CONFIG_FILE, element(
            "pre", {"class": "config"}, read_text(config))), id="config"))
    return page(f"Tournament {directory.resolve().name}", body, css=replay.VIEWER_CSS,
                script=replay.VIEWER_JS if records else "")


def _read_json(path: Path):
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise ReportError(f"{path} is not JSON: {error}") from None


def numbered_games(path: Path) -> list[dict]:
    """The game records of games.jsonl (`notation.records`: a damaged last line is a game cut
    short while written, and left out), each with its game number, in game order; ReportError
    naming the file and the fault otherwise."""
    try:
        records = read_games_log(path)
    except GamesLogError as error:
        raise ReportError(str(error)) from None
    for record in records:
        if not isinstance(record.get("game"), int):
            raise ReportError(f"{path}: a game record without a game number ({record})")
    return sorted(records, key=lambda record: record["game"])


# --- tables -------------------------------------------------------------------------------------


def _anchor(results: dict) -> str:
    """The player the Elo fit holds at 0 (results.json's elo.anchor), named in the heading."""
    return results["elo"].get("anchor") or "the anchor"


def _scores(pairs: list[dict]) -> dict[str, float]:
    """Each player's points per game over all its pairs (a win 1, a draw half)."""
    points, games = {}, {}
    for pair in pairs:
        for name, won in ((pair["player"], pair["wins"]), (pair["opponent"], pair["losses"])):
            points[name] = points.get(name, 0.0) + won + 0.5 * pair["draws"]
            games[name] = games.get(name, 0) + pair["games"]
    return {name: points[name] / games[name] for name in points if games[name]}


def _elo_table(results: dict) -> Markup:
    elo = results["elo"]
    if "players" not in elo:
        return element("p", {"class": "note"}, f"No Elo: {elo.get('unavailable', 'not fitted')}.")
    scores = _scores(results["pairs"])
    games = {player["name"]: player.get("games", "") for player in results["players"]}
    kinds = {player["name"]: player.get("kind", "") for player in results["players"]}
    ranked = sorted(elo["players"], key=lambda player: -player["elo"])
    low_high = [player["ci95"] for player in ranked]
    rows = [((player["name"], {"data-player": player["name"]}), kinds.get(player["name"], ""),
             (elo_text(player["elo"]), {"data-elo": player["elo"]}),
             (f"[{elo_text(low)}, {elo_text(high)}]",
              {"data-ci95-low": low, "data-ci95-high": high}),
             games.get(player["name"], ""),
             _score_cell(scores.get(player["name"])))
            for player, (low, high) in zip(ranked, low_high)]
    return table(("player", "kind", "Elo", "95% CI", "games", "score"), rows, id="elo-table",
                 **{"data-anchor": elo.get("anchor")})


def _score_cell(score):
    return ("", {}) if score is None else (f"{score:.3f}", {"data-score": score})


def _crosstable(names: list[str], pairs: list[dict]) -> Markup:
    """Cell (row, column): the row player's wins-draws-losses against the column player, as
    results.json's pairs give them (each pair once, from its first player's side)."""
    cells = {}
    for pair in pairs:
        wins, draws, losses = pair["wins"], pair["draws"], pair["losses"]
        cells[pair["player"], pair["opponent"]] = (wins, draws, losses)
        cells[pair["opponent"], pair["player"]] = (losses, draws, wins)

    def cell(row: str, column: str):
        if row == column:
            return "—", {"class": "self"}
        if (row, column) not in cells:
            return "", {}
        wins, draws, losses = cells[row, column]
        return f"{wins}-{draws}-{losses}", {"data-row": row, "data-column": column,
                                            "data-wins": wins, "data-draws": draws,
                                            "data-losses": losses}

    return table(("", *names), [(name, *(cell(name, column) for column in names))
                                for name in names], id="crosstable-table")


def _pairs_table(pairs: list[dict]) -> Markup:
    return table(("player", "opponent", "games", "W", "D", "L", "score", "win rate [95% CI]"), [
        (pair["player"], pair["opponent"], pair["games"], pair["wins"], pair["draws"],
         pair["losses"], f"{pair['score']:.3f}",
         f"{pair['win_rate']:.3f} [{pair['win_rate_ci95_low']:.3f}, "
         f"{pair['win_rate_ci95_high']:.3f}]") for pair in pairs], id="pairs-table")


# --- games --------------------------------------------------------------------------------------


def game_id(number: int) -> str:
    return f"game-{number:05d}"


def _game_files(directory: Path, number: int, output_dir: Path) -> dict[str, str]:
    """Links to the game's KIF and CSA files that exist (named as TournamentLog writes them)."""
    files = {"kif": directory / GAMES_DIR / f"{number:05d}.kifu",
             "csa": directory / GAMES_DIR / f"{number:05d}.csa"}
    return {kind: relative_link(path, output_dir) for kind, path in files.items()
            if path.is_file()}


def network_analysts(directory: Path) -> analysis.Analysts:
    """The networks of the tournament's policy and search players, as tournament.yaml pinned
    them (the checkpoint each one loaded); none when there is no readable tournament.yaml."""
    if not (directory / CONFIG_FILE).is_file():
        return analysis.Analysts({}, {}, {})
    try:
        # A run gone since is named below, for its player alone.
        config = load_tournament_config(directory / CONFIG_FILE, check_paths=False)
    except (ConfigError, OSError) as error:
        return analysis.Analysts({}, {}, {"the network players": f"{CONFIG_FILE}: {error}"})
    players = {player.name: (player.network_dir(), player.step) for player in config.players
               if player.kind in NETWORK_KINDS}
    analysts = analysis.load_analysts({name: (run_dir, step) for name, (run_dir, step)
                                       in players.items() if step is not None})
    analysts.missing.update({name: f"{CONFIG_FILE} pins no checkpoint step"
                             for name, (_, step) in players.items() if step is None})
    return analysts


def embedded_games(directory: Path, records: list[dict], output_dir: Path,
                   analysts: Optional[analysis.Analysts] = None) -> dict[str, tuple]:
    """{id: (title, viewer data)} of the games to embed (`replay.embedded_sample` over the
    pairings, in the order they were first played), replayed together, with the analysis of
    `analysts`' networks."""
    pairings = {}
    for record in records:
        pairings.setdefault(frozenset((record["black"], record["white"])), []).append(
            record["game"])
    chosen = replay.embedded_sample(list(pairings.values()))
    shown = [record for record in records if record["game"] in chosen]
    try:
        games = replayed(shown)
    except ValueError as error:  # "game K: ...": K indexes `shown`
        raise ReportError(f"{directory / GAMES_LOG}: a game cannot be replayed ({error}; "
                          f"games {[record['game'] for record in shown]})") from None
    embedded = {}
    for record, game in zip(shown, games):
        number = record["game"]
        data = replay.viewer_game(game, record["start_sfen"], kif_text(game, event=None),
                                  result=record["result"], termination=record["termination"],
                                  links=_game_files(directory, number, output_dir),
                                  source=f"game {number}")
        embedded[game_id(number)] = (f"Game {number}: {record['black']} (Black) vs "
                                     f"{record['white']} (White)", data)
    if analysts is not None:
        analysis.annotate([data for _, data in embedded.values()], analysts.networks)
    return embedded


def _games_section(directory: Path, records: list[dict], output_dir: Path,
                   analysts: Optional[analysis.Analysts], pieces: str) -> Markup:
    if not records:
        return section("Games", element("p", {"class": "note"}, "No game written yet."),
                       id="games")
    embedded = embedded_games(directory, records, output_dir, analysts)
    viewers = [replay.viewer_html(key, data, title, open_=k == 0, pieces=pieces)
               for k, (key, (title, data)) in enumerate(embedded.items())]
    rows = []
    for record in records:
        key = game_id(record["game"])
        links = _game_files(directory, record["game"], output_dir)
        replay_link = element("a", {"href": f"#{key}"}, "replay") if key in embedded else ""
        rows.append(((record["game"], {"data-game-number": record["game"],
                                       "data-embedded": str(key in embedded).lower()}),
                     record["black"], record["white"], replay.result_text(record),
                     len(record["moves"]),
                     join([replay_link, Markup(" "), replay.record_links(links)])))
    note = (f"{len(embedded)} of {len(records)} games are embedded below (the first games of "
            "every pairing); every game's KIF and CSA files are linked in the list.")
    analysed = analysis.analysis_note(analysts) if analysts is not None else ""
    return section("Games", element("p", {"class": "note"}, note),
                   element("p", {"class": "note", "id": "analysis"}, analysed) if analysed
                   else "",
                   replay.viewer_data({key: data for key, (_, data) in embedded.items()},
                                      pieces),
                   join(viewers),
                   details(f"All {len(records)} games", table(
                       ("game", "black", "white", "result", "plies", "records"),
                       rows, id="all-games"), open=len(records) <= replay.MAX_EMBEDDED_GAMES),
                   id="games")
