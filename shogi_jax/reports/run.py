"""The page of a training run directory (`shogi_jax.train.run_directory`): the evaluation curve
(ladder Elo with its 95% band and its anchors, win rates against the rungs) over minutes and env
steps, the losses, entropy and KL, how the training games ended, the latest evaluation's games
replayable, and the config.

The evaluation games are on disk only as KIF (eval_games/iteration_N/vs_OPPONENT_K.kifu,
written by `notation.kif`). Each is read back to USI moves (`notation.kif.usi_of_kif_moves`),
replayed by the rules engine, and its moves written again by the same KIF writer: a file whose
moves do not come out as written is refused, so the moves shown are the moves played.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from shogi_jax.arena.ladder import RUNGS
from shogi_jax.arena.standings import elo_text
from shogi_jax.host.provenance import PROVENANCE_FILE
from shogi_jax.notation import record_board
from shogi_jax.notation.kif import SIDE_NAMES, kif_moves, result_of_summary, usi_of_kif_moves
from shogi_jax.notation.records import kif_text
from shogi_jax.reports import ReportError, analysis, read_text, relative_link, replay
from shogi_jax.reports.charts import Series, line_chart
from shogi_jax.reports.html import Markup, details, element, join, page, section, table
from shogi_jax.reports.metrics import (
    APPROX_KL,
    BASELINES,
    ELO,
    ELO_BOUND,
    ELO_CI95_HIGH,
    ELO_CI95_LOW,
    ENTROPY,
    ENV_STEPS,
    GAME_END_REASONS,
    GAMES_FINISHED,
    LOSSES,
    MINUTES,
    NEW_BEST,
    OWN_FIT_GREEDY_ELO,
    anchors,
    evaluation_records,
    game_end_key,
    number,
    on_ladder_scale,
    timed_records,
    win_rate_key,
)
from shogi_jax.rules.state import STARTPOS_SFEN
from shogi_jax.train.periodic import BEST, CURRENT
from shogi_jax.train.run_directory import CONFIG_FILE, EVAL_GAMES_DIR

EVALUATION_DIR = re.compile(r"iteration_([0-9]+)")  # EVAL_GAMES_DIR's subdirectories
STANDARD_START = "手合割：平手"  # KIF's header line for the standard start (evaluations use it)
X_AXES = ((MINUTES, "training minutes (wall clock)"), (ENV_STEPS, "env steps"))


def run_report(run_dir: Path, output_dir: Path, *, analyse: bool = True,
               pieces: str = "kanji") -> str:
    """The page of the run in `run_dir`; links are relative to `output_dir`, where the page
    goes; with `analyse`, the networks' value and top moves at their plies of the evaluation
    games shown (`reports.analysis`); the boards' pieces in `lettering.LETTERINGS[pieces]`.
    ReportError naming the file that is missing or unreadable."""
    records = timed_records(run_dir)
    config_text = read_text(run_dir / CONFIG_FILE)
    evaluations = evaluation_records(records)
    games, listed, iteration = latest_evaluation_games(run_dir, output_dir)
    analysts = None
    if analyse and games:
        analysts = evaluation_analysts(run_dir, iteration, evaluations)
        analysis.annotate([data for _, data in games.values()], analysts.networks)
    name = run_dir.resolve().name
    body = [_summary(records, evaluations), _provenance(run_dir),
            section("Evaluation", _evaluation_charts(evaluations) if evaluations else element(
                "p", {"class": "note"}, "No evaluation in this run "
                                        "(evaluation.every_iterations is 0)."), id="evaluation"),
            section("Training", _training_charts(records), id="training"),
            section("How the training games ended", _ending_chart(records), id="endings"),
            _games_section(games, listed, iteration, analysts, pieces),
            section("Config", details(CONFIG_FILE, element("pre", {"class": "config"},
                                                           config_text)), id="config")]
    return page(f"Training run {name}", body, css=replay.VIEWER_CSS,
                script=replay.VIEWER_JS if games else "")


def _provenance(run_dir: Path) -> Markup:
    """The latest session's provenance (`host.provenance`): what produced these numbers."""
    path = run_dir / PROVENANCE_FILE
    sessions = [json.loads(line) for line in read_text(path).splitlines() if line.strip()] \
        if path.is_file() else []
    if not sessions:
        return element("p", {"class": "note", "id": "provenance"},
                       "No provenance recorded (a run from before runs recorded it).")
    latest = sessions[-1]
    commit = latest.get("commit") or "not a git checkout"
    if latest.get("dirty"):
        commit += " (with uncommitted changes)"
    packages = ", ".join(f"{name} {version}" for name, version
                         in latest.get("packages", {}).items() if version)
    rows = [("session", f"{latest.get('session')}, {latest.get('time')}"),
            ("commit", commit), ("packages", packages), ("Python", latest.get("python")),
            ("devices", f"{latest.get('devices')} x {latest.get('device_kind')} "
                        f"({latest.get('platform')}), {latest.get('processes')} process(es)"),
            ("XLA_FLAGS", latest.get("xla_flags") or "(none)"), ("host", latest.get("host"))]
    return details(f"Provenance (the latest of {len(sessions)} session(s))",
                   table(("", ""), [(key, ("" if value is None else str(value), {
                       "data-provenance": key})) for key, value in rows]), id="provenance")


# --- numbers and charts -------------------------------------------------------------------------


def _summary(records: list[dict], evaluations: list[dict]) -> Markup:
    last = records[-1] if records else {}
    rows = [("iterations", last.get("iteration", 0)), ("env steps", last.get(ENV_STEPS, 0)),
            ("wall clock", f"{last.get(MINUTES, 0.0):.1f} minutes")]
    if evaluations:
        latest = evaluations[-1]
        bound = {1.0: ">= ", -1.0: "<= "}.get(number(latest.get(ELO_BOUND)), "")
        elo = (f"{bound}{_elo(latest, ELO)} [{_elo(latest, ELO_CI95_LOW)}, "
               f"{_elo(latest, ELO_CI95_HIGH)}] at iteration {latest.get('iteration')}")
        if on_ladder_scale(latest):
            rows.append((f"latest ladder Elo (random = 0; {_anchor_text(anchors([latest]))})",
                         elo))
        else:
            rows.append(("latest evaluation Elo (its own fit, random = 0; not the ladder's)",
                         elo))
        bests = [record for record in evaluations if record.get(NEW_BEST) == 1.0]
        if bests:
            rows.append(("best network (kept while no later one beats it head to head)",
                         f"iteration {bests[-1].get('iteration')}, Elo "
                         f"{_elo(bests[-1], ELO)} then"))
    return table(("", "value"), rows, id="summary")


def _anchor_text(names: list[str]) -> str:
    """The anchors with their ladder Elo: "random 0, greedy 407, ..."."""
    return "anchors " + ", ".join(f"{name} {elo_text(RUNGS[name].elo)}" for name in names)


def _elo(record: dict, key: str) -> str:
    """An Elo of a record in whole points, or "inf" / "-inf" (an open end of an interval); "?"
    where it is missing or not a number."""
    if record.get(key) in ("inf", "-inf"):  # metrics.jsonl's infinities
        return record[key]
    value = number(record.get(key))
    return "?" if value is None else elo_text(value)


def _column(records: list[dict], key: str) -> list:
    return [number(record.get(key)) for record in records]


def _evaluation_charts(evaluations: list[dict]) -> Markup:
    """Elo (its 95% band shaded; dashed, the anchors' ladder Elo, or greedy's Elo of the own fit
    of runs from before) and the win rates against the rungs, by minutes and by env steps."""
    charts = []
    rungs = anchors(evaluations) or list(BASELINES)
    ladder = [on_ladder_scale(record) for record in evaluations]
    if all(ladder):
        title = (f"Ladder Elo over training (random = 0; {_anchor_text(rungs)}; the lines: "
                 "the anchors)")
    elif not any(ladder):
        title = ("Evaluation Elo over training (its own fit of random, greedy and the best so "
                 "far, random = 0; not the ladder's)")
    else:
        own_fit = max(record["iteration"] for record, on in zip(evaluations, ladder) if not on)
        title = (f"Evaluation Elo over training: up to iteration {own_fit} its own fit (random "
                 f"= 0, not the ladder's), then ladder Elo ({_anchor_text(rungs)})")
    for axis, axis_label in X_AXES:
        xs = _column(evaluations, axis)
        elo = Series(ELO, "Elo (95% CI)", xs, _column(evaluations, ELO),
                     band=(_column(evaluations, ELO_CI95_LOW),
                           _column(evaluations, ELO_CI95_HIGH)))
        lines = [Series(f"ladder/{name}", f"{name} ({elo_text(RUNGS[name].elo)})", xs,
                        [RUNGS[name].elo if on else None for on in ladder], dashed=True)
                 for name in rungs if any(ladder)]
        if not all(ladder):
            lines.append(Series(OWN_FIT_GREEDY_ELO, "greedy's Elo (own fit)", xs,
                                _column(evaluations, OWN_FIT_GREEDY_ELO), dashed=True))
        charts.append(line_chart(f"elo-{axis}", title, [elo, *lines], x_label=axis_label,
                                 y_label="Elo"))
        rates = [Series(win_rate_key(opponent), f"wins vs {opponent}", xs,
                        _column(evaluations, win_rate_key(opponent))) for opponent in rungs]
        charts.append(line_chart(f"win-rate-{axis}", "Wins against the rungs", rates,
                                 x_label=axis_label, y_label="win rate (draws are not wins)",
                                 y_range=(0.0, 1.0)))
    return element("div", {"class": "charts"}, join(charts))


def _training_charts(records: list[dict]) -> Markup:
    xs = _column(records, ENV_STEPS)
    losses = [Series(key, key, xs, _column(records, key)) for key in LOSSES]
    return element("div", {"class": "charts"}, join([
        line_chart("losses", "Losses", losses, x_label="env steps", y_label="loss"),
        line_chart("entropy", "Policy entropy",
                   [Series(ENTROPY, ENTROPY, xs, _column(records, ENTROPY))],
                   x_label="env steps", y_label="entropy (nats)"),
        line_chart("approx-kl", "Approximate KL per update",
                   [Series(APPROX_KL, APPROX_KL, xs, _column(records, APPROX_KL))],
                   x_label="env steps", y_label="KL")]))


def _ending_chart(records: list[dict]) -> Markup:
    """The share of each iteration's finished training games that ended for each reason (the
    reasons that occur at all)."""
    xs = _column(records, ENV_STEPS)
    finished = _column(records, GAMES_FINISHED)
    series = []
    for reason in GAME_END_REASONS:
        counts = _column(records, game_end_key(reason))
        if not any(counts):
            continue
        shares = [count / total if count is not None and total else None
                  for count, total in zip(counts, finished)]
        series.append(Series(game_end_key(reason), reason.replace("_", " "), xs, shares))
    return line_chart("game-endings", "How the games of each iteration ended", series,
                      x_label="env steps", y_label="share of the games finished",
                      y_range=(0.0, 1.0))


# --- the evaluation games -----------------------------------------------------------------------


def latest_evaluation_games(run_dir: Path, output_dir: Path):
    """(the latest evaluation's embedded games {id: (title, data)}, the other games as
    (title, link) pairs, its iteration or None when the run has no evaluation games)."""
    evaluations = run_dir / EVAL_GAMES_DIR
    found = sorted((int(match.group(1)), path) for path in
                   (evaluations.iterdir() if evaluations.is_dir() else ())
                   if (match := EVALUATION_DIR.fullmatch(path.name)) and path.is_dir()
                   and any(path.glob("*.kifu")))
    if not found:
        return {}, [], None
    iteration, directory = found[-1]
    files = sorted(directory.glob("*.kifu"))
    by_opponent = {}
    for path in files:  # vs_OPPONENT_KKK: the games against one opponent form a group
        by_opponent.setdefault(path.stem.rsplit("_", 1)[0], []).append(path)
    chosen = replay.embedded_sample(list(by_opponent.values()))
    embedded = [path for path in files if path in chosen]
    games = dict(zip((f"eval-{path.stem}" for path in embedded),
                     read_evaluation_games(embedded, output_dir)))
    listed = [(path.stem, relative_link(path, output_dir)) for path in files
              if path not in chosen]
    return games, listed, iteration


def evaluation_analysts(run_dir: Path, iteration: int,
                        evaluations: list[dict]) -> analysis.Analysts:
    """The networks of the evaluation at `iteration`: "current" is the checkpoint of that
    iteration (training saves one with every evaluation); "best" the checkpoint of the last
    earlier evaluation that made a new best (`eval/new_best`), the one it played then."""
    players = {CURRENT: (str(run_dir), iteration)}
    earlier_bests = [record["iteration"] for record in evaluations
                     if record.get("iteration", iteration) < iteration
                     and record.get(NEW_BEST) == 1.0]
    if earlier_bests:
        players[BEST] = (str(run_dir), earlier_bests[-1])
    return analysis.load_analysts(players)


def read_evaluation_game(path: Path):
    """(the game a KIF of the run directory holds as a FinishedGame, its text, its `KifMoves`):
    the names, the standard start, the moves as USI. The result is left out ("draw" with no
    termination fits any game): the KIF's own last lines say how it ended. ReportError naming
    the file and the fault."""
    text = read_text(path)
    lines = text.split("\n")
    if STANDARD_START not in lines:
        raise ReportError(f"{path}: not a game from the standard start (evaluation games are)")
    names = [next((line.split("：", 1)[1] for line in lines if line.startswith(side + "：")),
                  None) for side in SIDE_NAMES]
    if None in names:
        raise ReportError(f"{path}: no {SIDE_NAMES[names.index(None)]} (player) line")
    try:
        written = kif_moves(text)
        moves = usi_of_kif_moves(written.moves)
    except ValueError as error:
        raise ReportError(f"{path}: {error}") from None
    return record_board.FinishedGame(STARTPOS_SFEN, moves, *names, "draw", None), text, written


def read_evaluation_games(paths: list[Path], output_dir: Path) -> list[tuple[str, dict]]:
    """(title, viewer data) of evaluation games' KIF files, replayed together; ReportError for a
    file whose moves are illegal or do not read back as written."""
    read = [read_evaluation_game(path) for path in paths]
    try:
        records = record_board.game_records([game for game, _, _ in read])
    except ValueError as error:  # "game K: ...": K indexes `paths`
        index = re.match(r"game ([0-9]+)", str(error))
        where = paths[int(index.group(1))] if index else "an evaluation game"
        raise ReportError(f"{where}: cannot be replayed: {error}") from None
    games = []
    for path, (game, text, written), record in zip(paths, read, records):
        again = kif_moves(kif_text(record, event=None)).moves
        if again != written.moves:  # equally long: one USI move was read from each text
            ply = next(k for k, (a, b) in enumerate(zip(again, written.moves), 1) if a != b)
            raise ReportError(f"{path}: move {ply} {written.moves[ply - 1]!r} reads back as "
                              f"{game.usi_moves[ply - 1]!r}, written {again[ply - 1]!r}")
        data = replay.viewer_game(record, STARTPOS_SFEN, text,
                                  result=result_of_summary(written.summary),
                                  termination=None,
                                  links={"kif": relative_link(path, output_dir)},
                                  source=str(path))
        games.append((f"{path.stem}: {game.black} (Black) vs {game.white} (White)", data))
    return games


def _games_section(games: dict, listed: list, iteration,
                   analysts: analysis.Analysts | None, pieces: str) -> Markup:
    if iteration is None:
        return section("Evaluation games", element("p", {"class": "note"},
                                                   "No evaluation games in this run."),
                       id="games")
    viewers = [replay.viewer_html(game_id, data, title, open_=k == 0, pieces=pieces)
               for k, (game_id, (title, data)) in enumerate(games.items())]
    parts = [element("p", {"class": "note"},
                     f"The games of the latest evaluation (iteration {iteration}). Click a game "
                     "to open it; Left / Right step through the open one."),
             replay.viewer_data({game_id: data for game_id, (_, data) in games.items()},
                                pieces),
             join(viewers)]
    analysed = analysis.analysis_note(analysts) if analysts is not None else ""
    if analysed:
        parts.insert(1, element("p", {"class": "note", "id": "analysis"}, analysed))
    if listed:
        parts.append(element("p", {}, f"{len(listed)} more games, not embedded:"))
        parts.append(table(("game", "record"), [
            (stem, element("a", {"href": link}, "KIF")) for stem, link in listed],
            id="more-games"))
    return section(f"Evaluation games (iteration {iteration})", *parts, id="games")
