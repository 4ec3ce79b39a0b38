"""`python -m shogi_jax.report`: one self-contained HTML page of a real (tiny) training run and a
real tournament. The page is parsed back: nothing external, the charts and their series, the
tables equal to results.json, every embedded game's moves and per-ply SFENs equal to cshogi's
replay and its Japanese moves to the KIF writer's files, a large tournament's sample and links;
the networks' value and top moves at their plies (legal by cshogi, the move a temperature-0
policy played, equal to the match's own player on one game), a missing checkpoint named; the
viewer's script (under node, where installed) draws what `render.position_svg` draws, arrows
included, in kanji and in letters (--pieces latin); the board font is carried once; bad paths
exit 2 naming the path; the page is written atomically."""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import cshogi
import cshogi.KIF
import pytest

from shogi_jax.cli import report as report_cli
from shogi_jax.cli import tournament as tournament_cli
from shogi_jax.host.provenance import PROVENANCE_FILE
from shogi_jax.play.network import load_network
from shogi_jax.reports import board_font, charts, html, metrics, replay
from shogi_jax.reports.render import position_svg
from shogi_jax.train.run_directory import EVAL_GAMES_DIR, METRICS_FILE

# The full tier (python -m pytest -m ""): this module
# builds a trained run and a tournament, then pages from them.
pytestmark = pytest.mark.slow

VOID_ELEMENTS = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "base",
                 "source"}
EXPECTED_CHARTS = {"elo-minutes": ["eval/elo", "ladder/random", "ladder/greedy"],
                   "elo-env_steps": ["eval/elo", "ladder/random", "ladder/greedy"],
                   "win-rate-minutes": ["eval/vs_random/win", "eval/vs_greedy/win"],
                   "win-rate-env_steps": ["eval/vs_random/win", "eval/vs_greedy/win"],
                   "losses": ["loss/policy", "loss/value"], "entropy": ["loss/entropy"],
                   "approx-kl": ["ppo/approx_kl"], "game-endings": ["games/move_limit"]}
NODE = shutil.which("node")
NETWORK = "net"  # the tournament's policy player
LAST = 3  # the evaluated run's last iteration: its latest evaluation and checkpoint


# --- real artifacts -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_dir(evaluated_run):
    """conftest's smoke run, evaluated after each of its 3 iterations (4 games an opponent)."""
    return evaluated_run


@pytest.fixture(scope="module")
def tournament_dir(tmp_path_factory, run_dir):
    """random, greedy and the run's network (its policy at temperature 0), 2 games a pairing of
    60 plies (captures, promotions and drops happen)."""
    root = tmp_path_factory.mktemp("report_tournament")
    spec = root / "tournament.yaml"
    spec.write_text(f"""
players:
  - {{name: random, kind: random}}
  - {{name: greedy, kind: greedy}}
  - {{name: {NETWORK}, kind: policy, run_dir: {run_dir}}}
games_per_pairing: 2
max_plies: 60
seed: 1
output_dir: {root / "out"}
""")
    assert tournament_cli.main(["--config", str(spec), "--quiet"]) == 0
    return root / "out"


def _report(path: Path, *extra: str) -> str:
    assert report_cli.main([str(path), *extra]) == 0
    output = Path(extra[-1]) if extra else path / report_cli.REPORT_FILE
    return output.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def run_page(run_dir):
    return _report(run_dir)


@pytest.fixture(scope="module")
def tournament_page(tournament_dir):
    return _report(tournament_dir)


# --- reading the page back ----------------------------------------------------------------------


class Page(HTMLParser):
    """The elements of a page (tag, attributes), the text of its <script> elements, and a
    check that every element is closed where it was opened."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements, self.scripts, self._open = [], [], []
        self.feed(text)
        self.close()
        assert not self._open, f"unclosed elements: {self._open}"

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag not in VOID_ELEMENTS:
            self._open.append(tag)
        if tag == "script":
            self.scripts.append([dict(attrs), ""])

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self._open and self._open[-1] == tag, f"</{tag}> closes {self._open[-1:]}"
        self._open.pop()

    def handle_data(self, data):
        if self._open and self._open[-1] == "script":
            self.scripts[-1][1] += data

    def having(self, name: str) -> list[dict]:
        """The attributes of every element that has attribute `name`."""
        return [attrs for _, attrs in self.elements if name in attrs]


def embedded_data(page: str) -> dict:
    (text,) = [text for attrs, text in Page(page).scripts if attrs.get("id") == replay.DATA_ID]
    return json.loads(text)


def chart_svgs(page: str) -> dict[str, ET.Element]:
    """Each chart's <svg> as XML, by its data-chart."""
    return {svg.get("data-chart"): svg for svg in map(
        ET.fromstring, re.findall(r'<svg [^>]*data-chart=.*?</svg>', page, re.S))}


def cshogi_sfens(start_sfen: str, moves: list[str]) -> list[str]:
    """The SFEN of the start and after every move, by cshogi, each move legal there."""
    board = cshogi.Board(start_sfen)
    sfens = [board.sfen()]
    for ply, usi in enumerate(moves):
        assert usi in {cshogi.move_to_usi(m) for m in board.legal_moves}, (ply, usi)
        board.push_usi(usi)
        sfens.append(board.sfen())
    return sfens


def kif_file_moves(path: Path) -> list[str]:
    """The move texts of a KIF file's numbered lines, its closing move left out."""
    lines = re.findall(r"^ *[0-9]+ (.+)$", path.read_text(encoding="utf-8"), re.M)
    return [line.strip() for line in lines[:-1]]


def check_self_contained(page: str) -> None:
    parsed = Page(page)
    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    # The one url() is the board font's, inline (board_font.font_face_css).
    assert "@import" not in page and page.count("url(") == page.count("url(data:font/woff2;")
    assert not [tag for tag, _ in parsed.elements if tag in ("link", "img", "iframe", "object",
                                                              "embed")]
    assert all("src" not in attrs for attrs, _ in parsed.scripts)
    assert not [attrs for _, attrs in parsed.elements if "src" in attrs]
    for attrs in parsed.having("href"):  # in-page anchors and relative links only
        assert re.fullmatch(r"#[\w-]+|[\w./-]+\.(kifu|csa)", attrs["href"]), attrs["href"]
    policy = [attrs for tag, attrs in parsed.elements
              if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"]
    assert policy and "default-src 'none'" in policy[0]["content"]
    assert "font-src data:" in policy[0]["content"]
    assert page.count(board_font.font_face_css()) == 1  # once, for every board


def check_game(game: dict, start_sfen: str, moves: list[str], japanese: list[str]) -> None:
    """The embedded game's moves, per-ply SFENs (cshogi's) and Japanese moves."""
    plies = game["plies"]
    assert [entry["usi"] for entry in plies[1:]] == moves
    assert [entry["sfen"] for entry in plies] == cshogi_sfens(start_sfen, moves)
    assert [entry["ja"] for entry in plies[1:]] == japanese


# --- the training run ---------------------------------------------------------------------------


def test_the_run_report_is_one_self_contained_page(run_dir, run_page):
    check_self_contained(run_page)
    assert not list(run_dir.glob(".report.html.*"))  # no temporary file left
    config = (run_dir / "config.yaml").read_text()
    assert html.escape(config) in run_page and "<details" in run_page


def test_the_run_report_charts_every_series(run_dir, run_page):
    evaluations = metrics.evaluation_records(metrics.timed_records(run_dir))
    assert len(evaluations) == LAST
    svgs = chart_svgs(run_page)
    assert set(svgs) == set(EXPECTED_CHARTS)
    for chart, keys in EXPECTED_CHARTS.items():
        series = {g.get("data-series"): g for g in svgs[chart].iter("g")
                  if g.get("data-series")}
        assert list(series) == keys, chart
        assert all(int(g.get("data-points")) == LAST for g in series.values())
    bands = [path.get("data-band") for path in svgs["elo-minutes"].iter("path")
             if path.get("data-band")]
    assert bands == ["eval/elo"]


def test_the_run_report_labels_the_elo_as_ladder_elo_with_its_anchors(run_dir, run_page):
    """The summary and the chart name the scale and the anchors with their ladder Elo; the best
    row names the iteration of the last new best."""
    assert "latest ladder Elo (random = 0; anchors random 0, greedy 407)" in run_page
    assert "own fit" not in run_page
    records = metrics.evaluation_records(metrics.timed_records(run_dir))
    best = [r["iteration"] for r in records if r["eval/new_best"] == 1.0][-1]
    assert f"iteration {best}, Elo" in run_page
    assert "Ladder Elo over training (random = 0; anchors random 0, greedy 407" in run_page


def test_the_run_report_shows_the_latest_sessions_provenance(run_dir, run_page):
    shown = {attrs["data-provenance"] for attrs in Page(run_page).having("data-provenance")}
    assert shown == {"session", "commit", "packages", "Python", "devices", "XLA_FLAGS", "host"}
    latest = json.loads((run_dir / PROVENANCE_FILE).read_text().splitlines()[-1])
    assert "Provenance (the latest of 2 session(s))" in run_page
    assert f"jax {latest['packages']['jax']}" in run_page and latest["python"] in run_page


def test_a_run_from_before_the_ladder_scale_keeps_its_own_fit_label(run_dir, tmp_path):
    """metrics.jsonl of an older run (its eval/elo a fit of its own games, with the greedy vs
    random calibration and greedy's Elo): labelled as its own fit, greedy's Elo dashed."""
    old = tmp_path / "old"
    shutil.copytree(run_dir, old, ignore=shutil.ignore_patterns(EVAL_GAMES_DIR, "report.html"))
    records = [json.loads(line) for line in (run_dir / METRICS_FILE).read_text().splitlines()]
    for record in records:
        if "eval/elo" in record:
            record.update({"eval/greedy_vs_random/win": 0.9, "eval/greedy_elo": 450.0})
    (old / METRICS_FILE).write_text("".join(json.dumps(r) + "\n" for r in records))
    page = _report(old)
    assert "latest evaluation Elo (its own fit, random = 0; not the ladder" in page
    assert "latest ladder Elo" not in page
    series = [g.get("data-series") for g in chart_svgs(page)["elo-minutes"].iter("g")
              if g.get("data-series")]
    assert series == ["eval/elo", "eval/greedy_elo"]


def test_the_run_report_replays_the_latest_evaluation(run_dir, run_page):
    latest = run_dir / EVAL_GAMES_DIR / f"iteration_{LAST:06d}"
    files = sorted(latest.glob("*.kifu"))
    games = embedded_data(run_page)["games"]
    assert sorted(games) == [f"eval-{path.stem}" for path in files]
    for path in files:
        kif = cshogi.KIF.Parser.parse_file(str(path))
        moves = [cshogi.move_to_usi(move) for move in kif.moves]
        game = games[f"eval-{path.stem}"]
        assert [game["black"], game["white"]] == kif.names
        assert game["result"] == {cshogi.BLACK_WIN: "black_win", cshogi.WHITE_WIN: "white_win",
                                  cshogi.DRAW: "draw"}[kif.win]
        assert game["links"] == {"kif": path.relative_to(run_dir).as_posix()}
        check_game(game, kif.sfen, moves, kif_file_moves(path))
    viewers = Page(run_page).having("data-game")
    assert len(viewers) == len(files) and "open" in viewers[0] and "open" not in viewers[1]


def test_a_run_without_evaluation_says_so(run_dir, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(run_dir, bare, ignore=shutil.ignore_patterns(EVAL_GAMES_DIR, "report.html"))
    records = [{key: value for key, value in json.loads(line).items()
                if not key.startswith("eval/")}
               for line in (run_dir / METRICS_FILE).read_text().splitlines()]
    (bare / METRICS_FILE).write_text("".join(json.dumps(r) + "\n" for r in records))
    page = _report(bare)
    check_self_contained(page)
    assert "No evaluation in this run" in page and "No evaluation games" in page
    assert "ShogiViewer" not in page  # no games, no viewer
    assert set(chart_svgs(page)) == {"losses", "entropy", "approx-kl", "game-endings"}


def test_plot_elo_reads_the_metrics_through_the_library(run_dir, tmp_path):
    sys.path.insert(0, "scripts")
    try:
        import plot_elo
    finally:
        sys.path.pop(0)
    assert plot_elo.evaluation_records(run_dir) == metrics.evaluation_records(
        metrics.timed_records(run_dir))
    with pytest.raises(SystemExit, match="does not exist"):
        plot_elo.evaluation_records(tmp_path)
    # Every line drawn, the dashed anchors and reference lines too, is named in its legend.
    import matplotlib.pyplot as plt

    assert plot_elo.main([str(run_dir), "--output", str(tmp_path / "elo.png")]) == 0
    for axis in plt.gcf().axes:
        legend = {text.get_text() for text in axis.get_legend().get_texts()}
        lines = [line.get_label() for line in axis.get_lines()]
        assert lines and set(lines) <= legend, (lines, legend)
    assert any(text.startswith("anchor greedy") for axis in plt.gcf().axes
               for text in (t.get_text() for t in axis.get_legend().get_texts()))
    plt.close("all")


# --- the tournament -----------------------------------------------------------------------------


def test_the_tournament_report_is_one_self_contained_page(tournament_dir, tournament_page):
    check_self_contained(tournament_page)
    assert not list(tournament_dir.glob(".report.html.*"))


def test_the_tables_are_results_json(tournament_dir, tournament_page):
    results = json.loads((tournament_dir / "results.json").read_text())
    cells = {(c["data-row"], c["data-column"]): (int(c["data-wins"]), int(c["data-draws"]),
                                                 int(c["data-losses"]))
             for c in Page(tournament_page).having("data-row")}
    expected = {}
    for pair in results["pairs"]:
        expected[pair["player"], pair["opponent"]] = (pair["wins"], pair["draws"],
                                                      pair["losses"])
        expected[pair["opponent"], pair["player"]] = (pair["losses"], pair["draws"],
                                                      pair["wins"])
    assert cells == expected and len(cells) == 6
    elo = {attrs["data-player"]: attrs for attrs in Page(tournament_page).having("data-player")}
    ratings = Page(tournament_page).having("data-elo")
    intervals = Page(tournament_page).having("data-ci95-low")
    assert set(elo) == {"random", "greedy", NETWORK}
    by_name = {player["name"]: player for player in results["elo"]["players"]}
    ranked = sorted(by_name.values(), key=lambda player: -player["elo"])
    assert [float(r["data-elo"]) for r in ratings] == [p["elo"] for p in ranked]
    assert [[float(i["data-ci95-low"]), float(i["data-ci95-high"])] for i in intervals] == [
        p["ci95"] for p in ranked]
    # The score column: each player's points per game over its pairs, in the Elo's order.
    points, games = {}, {}
    for pair in results["pairs"]:
        for name, won in ((pair["player"], pair["wins"]), (pair["opponent"], pair["losses"])):
            points[name] = points.get(name, 0) + won + pair["draws"] / 2
            games[name] = games.get(name, 0) + pair["games"]
    scores = [float(cell["data-score"]) for cell in Page(tournament_page).having("data-score")]
    assert scores == pytest.approx([points[p["name"]] / games[p["name"]] for p in ranked])
    assert f"Elo (maximum likelihood, {results['elo']['anchor']} = 0," in tournament_page


def test_every_tournament_game_is_embedded_as_played(tournament_dir, tournament_page):
    records = [json.loads(line) for line in
               (tournament_dir / "games.jsonl").read_text().splitlines()]
    games = embedded_data(tournament_page)["games"]
    assert sorted(games) == [f"game-{r['game']:05d}" for r in records]
    moves_played = [move for r in records for move in r["moves"]]
    assert any("*" in move for move in moves_played)  # drops, promotions: both were replayed
    assert any(move.endswith("+") for move in moves_played)
    for record in records:
        game = games[f"game-{record['game']:05d}"]
        for field in ("black", "white", "result", "termination"):
            assert game[field] == record[field]
        number = f"{record['game']:05d}"
        assert game["links"] == {"kif": f"games/{number}.kifu", "csa": f"games/{number}.csa"}
        check_game(game, record["start_sfen"], record["moves"],
                   kif_file_moves(tournament_dir / "games" / f"{number}.kifu"))
    # Without the script the page still shows each game's start, drawn by render.py.
    boards = [attrs for tag, attrs in Page(tournament_page).elements
              if tag == "svg" and attrs.get("data-side-to-move")]
    assert len(boards) == len(records)


def test_a_large_tournament_embeds_a_sample_and_links_the_rest(tournament_dir, tmp_path,
                                                               monkeypatch):
    monkeypatch.setattr(replay, "MAX_EMBEDDED_GAMES", 4)
    output = tmp_path / "elsewhere" / "big.html"
    output.parent.mkdir()
    page = _report(tournament_dir, "--output", str(output))
    # Pairings (1, 2), (3, 4), (5, 6): the first game of each, then the second of the first.
    assert sorted(embedded_data(page)["games"]) == [
        "game-00001", "game-00002", "game-00003", "game-00005"]
    rows = {int(attrs["data-game-number"]): attrs["data-embedded"] == "true"
            for attrs in Page(page).having("data-game-number")}
    assert rows == {1: True, 2: True, 3: True, 4: False, 5: True, 6: False}
    links = [attrs["href"] for attrs in Page(page).having("href")
             if not attrs["href"].startswith("#")]
    for number in range(1, 7):
        for suffix in ("kifu", "csa"):
            link = os.path.relpath(tournament_dir / "games" / f"{number:05d}.{suffix}",
                                   output.parent)
            assert link in links and (output.parent / link).is_file()


def test_a_game_cut_short_in_the_log_is_left_out(tournament_dir, tmp_path):
    copy = tmp_path / "cut"
    shutil.copytree(tournament_dir, copy, ignore=shutil.ignore_patterns("report.html"))
    log = copy / "games.jsonl"
    log.write_text(log.read_text()[:-40])  # a kill while the last line was written
    assert sorted(embedded_data(_report(copy))["games"]) == [
        f"game-{number:05d}" for number in range(1, 6)]
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:2] + ["{damaged"] + lines[2:]) + "\n")
    assert report_cli.main([str(copy)]) == 2


# --- the networks' analysis ---------------------------------------------------------------------


def check_analysis(game: dict, networks: set[str], opening_plies: int) -> int:
    """One embedded game's analysis: every position where a player of `networks` moved (all but
    the last) has a value in [-1, 1] and 1-3 distinct top moves, legal by cshogi, probabilities
    descending in (0, 1] summing to at most 1; after the opening's random plies the move played
    (a policy at temperature 0) is the top move, or ties with it; other positions have none.
    Returns the number of positions analysed."""
    plies, names = game["plies"], (game["black"], game["white"])
    analysed = 0
    for ply, entry in enumerate(plies):
        mover = names[0 if entry["sfen"].split()[1] == "b" else 1]
        if mover not in networks or ply == len(plies) - 1:
            assert "value" not in entry and "top_moves" not in entry, (ply, mover)
            continue
        top = dict(entry["top_moves"])
        moves, probabilities = list(top), list(top.values())
        legal = {cshogi.move_to_usi(move) for move in cshogi.Board(entry["sfen"]).legal_moves}
        assert 1 <= len(entry["top_moves"]) <= 3 and len(moves) == len(entry["top_moves"])
        assert set(moves) <= legal, (entry["sfen"], moves)
        assert probabilities == sorted(probabilities, reverse=True)
        assert 0 < probabilities[-1] and probabilities[0] <= 1 and sum(probabilities) <= 1.001
        assert -1 <= entry["value"] <= 1
        if ply >= opening_plies:
            played = plies[ply + 1]["usi"]
            assert played == moves[0] or probabilities[0] - top.get(played, 0) < 1e-3, (
                entry["sfen"], played, entry["top_moves"])
        analysed += 1
    return analysed


def player_outputs(run_dir: Path, step: int, sfens: list[str]) -> list[tuple[str, float]]:
    """(move, value) of the run's policy player at `step` on each position, as a match asks it
    (`Player.act_and_value` on one game): the reference for the report's batched analysis."""
    import jax

    import shogi_jax as sj
    from shogi_jax.notation.usi import move_to_usi
    from shogi_jax.play.players import Player
    from shogi_jax.rules.step import from_square

    model, params, _ = load_network(run_dir, step=step)
    act = jax.jit(Player("net", "policy", model).act_and_value)
    outputs = []
    for sfen in sfens:
        state = sj.from_sfen(sfen)
        action, value = act(params, state, jax.random.PRNGKey(0))
        source = from_square(state.board, action)
        outputs.append((move_to_usi(int(state.color), int(action), int(source)), float(value)))
    return outputs


def analysis_note(page: str) -> str:
    notes = re.findall(r'<p class="note" id="analysis">(.*?)</p>', page, re.S)
    return notes[0] if notes else ""


def test_the_tournament_report_shows_the_networks_value_and_top_moves(tournament_dir,
                                                                      tournament_page, run_dir):
    games = embedded_data(tournament_page)["games"].values()
    analysed = sum(check_analysis(game, {NETWORK}, opening_plies=0) for game in games)
    assert analysed > 50  # the network played 4 games of up to 60 plies
    network_games = [game for game in games if NETWORK in (game["black"], game["white"])]
    positions = [entry for game in network_games[:1] for entry in game["plies"][:-1]
                 if "value" in entry][:6]
    reference = player_outputs(run_dir, LAST, [entry["sfen"] for entry in positions])
    for entry, (move, value) in zip(positions, reference):
        assert entry["top_moves"][0][0] == move and abs(entry["value"] - value) < 1e-3
    note = analysis_note(tournament_page)
    assert f"{NETWORK} ({run_dir} iteration {LAST})" in note and "No analysis" not in note


def test_the_run_report_analyses_the_current_and_best_networks(run_dir, run_page):
    games = embedded_data(run_page)["games"].values()
    opening = 4  # evaluation.random_opening_plies
    assert sum(check_analysis(game, {"current", "best"}, opening) for game in games) > 0
    assert any(game["white"] == "best" for game in games)
    note = analysis_note(run_page)
    # The best it played: the last evaluation before it that made a new best.
    best = [record["iteration"] for record in metrics.timed_records(run_dir)
            if record["iteration"] < LAST and record.get("eval/new_best") == 1.0][-1]
    assert f"current ({run_dir} iteration {LAST})" in note
    assert f"best ({run_dir} iteration {best})" in note


def test_a_missing_checkpoint_leaves_its_player_unanalysed(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("report.html"))
    shutil.rmtree(copy / "checkpoints" / str(LAST))  # as checkpoint.keep_latest would
    page = _report(copy)
    games = embedded_data(page)["games"].values()
    assert sum(check_analysis(game, {"best"}, 4) for game in games) > 0
    note = analysis_note(page)
    assert f"No analysis of current: no checkpoint {LAST}" in note and "best (" in note
    page = _report(copy, "--no-analysis", "--output", str(tmp_path / "plain.html"))
    assert not analysis_note(page)
    assert all(check_analysis(game, set(), 0) == 0 for game in embedded_data(page)["games"]
               .values())


# --- the viewer's script ------------------------------------------------------------------------


def _node(script: str):
    done = subprocess.run([NODE, "-e", replay.VIEWER_JS + "\n" + script], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def board_style_json(pieces: str) -> dict:
    """`replay.board_style(pieces)` as the page's JSON holds it (tuples as lists)."""
    return json.loads(json.dumps(replay.board_style(pieces)))


def _tree(svg: str):
    """An SVG as (tag, attributes, text) per element, namespace and version left out."""
    return [(e.tag.split("}")[-1], {k: v for k, v in e.attrib.items() if k != "version"},
             (e.text or "").strip()) for e in ET.fromstring(svg).iter()]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("pieces", ["kanji", "latin"])
def test_the_viewer_draws_each_ply_as_render_does(tournament_page, pieces):
    """Every ply of the tournament's games, the network's top moves as arrows, and arrows for
    drops, a 12.5% tie (Python rounds it to even) and a move under 0.5%; in both letterings."""
    data = embedded_data(tournament_page)
    cases = [(entry["sfen"], entry.get("usi"), entry.get("top_moves", []))
             for game in data["games"].values() for entry in game["plies"]]
    cases.append(("4k4/9/9/9/9/9/9/9/4K4 b 2PGr 1", None,
                  [["G*5b", 0.125], ["P*5e", 0.5], ["5i4h", 0.0001], ["5i5h", 0.375]]))
    drawn = _node(f"const style = {json.dumps(replay.board_style(pieces))};\n"
                  f"console.log(JSON.stringify({json.dumps(cases)}.map("
                  "([sfen, usi, arrows]) => ShogiViewer.boardSvg(sfen, usi, style, arrows))));")
    assert len(drawn) == len(cases) > 300
    assert sum(bool(arrows) for _, _, arrows in cases) > 50
    for (sfen, usi, arrows), svg in zip(cases, drawn):
        # The page holds the font; its boards do not carry it.
        assert _tree(svg) == _tree(position_svg(sfen, last_move=usi, arrows=arrows,
                                                pieces=pieces, embed_font=False)), sfen
    assert data["board"] == board_style_json("kanji")  # the page's default


def test_pieces_latin_writes_the_boards_in_letters(tournament_dir, tmp_path):
    page = _report(tournament_dir, "--no-analysis", "--pieces", "latin", "--output",
                   str(tmp_path / "latin.html"))
    assert embedded_data(page)["board"] == board_style_json("latin")
    boards = re.findall(r'<svg version="1.1" [^>]*data-side-to-move="[bw]">.*?</svg>', page,
                        re.S)
    assert boards
    for board in boards:  # each game's start, drawn by render in letters
        sfen = ET.fromstring(board).find("title").text
        assert _tree(board) == _tree(position_svg(sfen, pieces="latin", embed_font=False))


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_viewer_shows_a_networks_value_and_top_moves_when_present():
    words = _node('console.log(JSON.stringify([ShogiViewer.analysisText({sfen: "x", '
                  'value: 0.25, top_moves: [["7g7f", 0.42], ["2g2f", 0.3]]}), '
                  'ShogiViewer.analysisText({sfen: "x"})]));')
    assert words == ["value for the side to move: +0.25 · top moves: 7g7f 42%, 2g2f 30%", ""]


def test_the_script_and_styles_cannot_end_their_elements():
    assert "</script" not in replay.VIEWER_JS.lower()
    assert "</style" not in (replay.VIEWER_CSS + html.PAGE_CSS).lower()
    hostile = {"name": "</script><script>alert(1)</script>", "amp": "&<>"}
    text = html.script_json(hostile)
    assert "<" not in text and ">" not in text and json.loads(text) == hostile


# --- pieces -------------------------------------------------------------------------------------


def test_the_sample_takes_every_group_in_turn(monkeypatch):
    monkeypatch.setattr(replay, "MAX_EMBEDDED_GAMES", 5)
    assert replay.embedded_sample([[1, 2, 3], [4], [5, 6, 7]]) == {1, 4, 5, 2, 6}
    assert replay.embedded_sample([[1], []]) == {1}


def test_charts_skip_missing_points_and_escape_text():
    svg = charts.line_chart("c", "<title>", [
        charts.Series("a/b", "a & b", [0, 1, 2, 3], [1.0, None, math.nan, 2.0]),
        charts.Series("empty", "empty", [0], [None])], x_label="x", y_label="y")
    tree = ET.fromstring(re.search(r"<svg.*</svg>", svg, re.S).group(0))
    (series,) = [g for g in tree.iter("g") if g.get("data-series")]
    assert series.get("data-series") == "a/b" and series.get("data-points") == "2"
    assert tree.find("title").text == "<title>"
    nothing = charts.line_chart("d", "D", [charts.Series("e", "e", [1], [None])], x_label="x",
                                y_label="y")
    assert "data-empty" in nothing and "<svg" not in nothing
    assert charts.nice_ticks(0.13, 0.97) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert charts.tick_text(2_500_000, 500_000) == "2.5M"
    assert charts.tick_text(-0.0001, 0.5) == "0"


# --- errors and atomic writes -------------------------------------------------------------------


def _fails(capsys, path: Path, *words: str, named: Path | None = None) -> None:
    """The report of `path` exits 2 with a message naming `named` (default: `path`) and
    holding `words`."""
    assert report_cli.main([str(path)]) == 2
    error = capsys.readouterr().err
    assert str(named or path) in error and all(word in error for word in words), error


def test_bad_paths_exit_2_naming_the_path(tmp_path, capsys):
    _fails(capsys, tmp_path / "missing", "does not exist")
    (tmp_path / "file").write_text("x")
    _fails(capsys, tmp_path / "file", "not a directory")
    _fails(capsys, tmp_path, "neither a training run nor a tournament")
    half = tmp_path / "half"
    half.mkdir()
    (half / "config.yaml").write_text("algorithm: ppo\n")
    _fails(capsys, half, "training run", "metrics.jsonl")
    (half / METRICS_FILE).write_text('{"iteration": 1, "env_steps"\n')
    _fails(capsys, half, METRICS_FILE, "not readable")
    tournament = tmp_path / "tournament"
    tournament.mkdir()
    (tournament / "results.json").write_text("{not json")
    (tournament / "games.jsonl").write_text("")
    _fails(capsys, tournament, "results.json", "not JSON")
    (tournament / "results.json").write_text('{"players": 3}')
    _fails(capsys, tournament, "results.json", "not a tournament's results")
    assert report_cli.main([str(half), "--output", str(tmp_path / "no" / "r.html")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_failed_report_leaves_the_old_one_and_no_temporary_file(run_dir, tmp_path,
                                                                  monkeypatch, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken, ignore=shutil.ignore_patterns("report.html"))
    (broken / "report.html").write_text("the old report")
    kifu = next((broken / EVAL_GAMES_DIR / f"iteration_{LAST:06d}").glob("*.kifu"))
    text = kifu.read_text(encoding="utf-8")
    source = re.search(r"\([0-9]{2}\)", text).group(0)
    kifu.write_text(text.replace(source, "(55)", 1), encoding="utf-8")  # from an empty square
    _fails(capsys, broken, "cannot be replayed", named=kifu)
    assert (broken / "report.html").read_text() == "the old report"

    kifu.unlink()  # a readable run again; now the rename fails

    def refuse(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    _fails(capsys, broken, "cannot write", "disk full", named=broken / "report.html")
    assert (broken / "report.html").read_text() == "the old report"
    assert not list(broken.glob(".report.html.*"))  # the temporary file is gone
