"""A tournament's report.html in a real headless Chromium (Debian's, driven by selenium): the
viewer steps through a game with the Right key, and the board it shows after N plies is cshogi's
position after N moves; at a network's turn it shows the network's top moves as arrows and its
value. Run with `pytest -m browser`; skipped where Chromium, its driver or selenium is
missing."""
from __future__ import annotations

import json
import shutil

import pytest

pytestmark = pytest.mark.browser
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
INSTALL = "apt-get install chromium chromium-driver && pip install -e '.[browser]'"
PLIES = 12


def sfen_board(sfen: str) -> dict[str, str]:
    """{USI square: SFEN letter} of an SFEN's board field (ranks a..i, files 9..1)."""
    squares, field = {}, sfen.split()[0]
    for rank, row in zip("abcdefghi", field.split("/")):
        file, promoted = 9, ""
        for char in row:
            if char.isdigit():
                file -= int(char)
            elif char == "+":
                promoted = "+"
            else:
                squares[f"{file}{rank}"] = promoted + char
                file, promoted = file - 1, ""
    return squares


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.skip(f"no Chromium here: {INSTALL}")
    webdriver = pytest.importorskip("selenium.webdriver", reason=INSTALL)
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1200,1400"):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def test_the_viewer_steps_through_a_game_as_cshogi_plays_it(browser, tmp_path):
    import cshogi
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from shogi_jax.cli import tournament as tournament_cli

    out = tmp_path / "out"
    spec = tmp_path / "tournament.yaml"
    spec.write_text(f"""
players:
  - {{name: random, kind: random}}
  - {{name: greedy, kind: greedy}}
  - {{name: net, kind: policy, pretrained: true}}
games_per_pairing: 2
max_plies: 60
seed: 3
output_dir: {out}
""")
    assert tournament_cli.main(["--config", str(spec), "--quiet"]) == 0
    browser.get((out / "report.html").as_uri())
    viewer = browser.find_element(By.CSS_SELECTOR, "details[data-game][open]")
    game = json.loads((out / "games.jsonl").read_text().splitlines()[0])
    body = browser.find_element(By.TAG_NAME, "body")
    for _ in range(PLIES):
        body.send_keys(Keys.ARROW_RIGHT)
    board = viewer.find_element(By.CSS_SELECTOR, ".board")
    assert board.get_attribute("data-ply") == str(PLIES)
    shown = {piece.get_attribute("data-square"): piece.get_attribute("data-piece")
             for piece in board.find_elements(By.CSS_SELECTOR, "[data-square][data-piece]")}
    expected = cshogi.Board(game["start_sfen"])
    for move in game["moves"][:PLIES]:
        expected.push_usi(move)
    assert shown == sfen_board(expected.sfen())

    # Game 3: random (Black) against the network; after Black's first move the network is to
    # move, and its top moves are drawn as arrows, its value and moves written beside.
    network_game = browser.find_element(By.CSS_SELECTOR, 'details[data-game="game-00003"]')
    network_game.find_element(By.TAG_NAME, "summary").click()
    body.send_keys(Keys.ARROW_RIGHT)
    board = network_game.find_element(By.CSS_SELECTOR, ".board")
    assert board.get_attribute("data-ply") == "1"
    data = json.loads(browser.find_element(By.ID, "shogi-report-data").get_attribute(
        "textContent"))
    entry = data["games"]["game-00003"]["plies"][1]
    arrows = {arrow.get_attribute("data-move"): float(arrow.get_attribute("data-probability"))
              for arrow in board.find_elements(By.CSS_SELECTOR, "g[data-move]")}
    assert arrows == dict(entry["top_moves"]) and len(arrows) == 3
    analysis = network_game.find_element(By.CSS_SELECTOR, ".analysis")
    assert analysis.is_displayed() and f"{entry['value']:+.2f}" in analysis.text
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot)) and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
