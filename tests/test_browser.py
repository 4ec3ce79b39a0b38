"""A tournament's report.html in a real headless Chromium (Debian's, driven by selenium): the
viewer steps through a game with the Right key, and the board it shows after N plies is cshogi's
position after N moves; at a network's turn it shows the network's top moves as arrows and its
value. The pieces are drawn in the package's font, with or without Japanese fonts on the
machine: two squares of a board, standalone and on the page, match a reference picture
(tests/images), which an empty box in place of a glyph does not; the move list is written in
that font. Run with `pytest -m browser`; skipped where Chromium, its driver, selenium or Pillow
is missing."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from shogi_jax.reports import render, replay
from shogi_jax.reports.lettering import LETTERINGS
from shogi_jax.rules.state import STARTPOS_SFEN

pytestmark = pytest.mark.browser
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
INSTALL = "apt-get install chromium chromium-driver && pip install -e '.[browser]'"
PLIES = 12
REFERENCES = Path(__file__).parent / "images"
# The squares compared: 8h and 8i of the start, Black's bishop and knight, on a board as wide as
# the report draws it, a pixel in from the lines around them.
SQUARE_FILE, SQUARE_RANK, SQUARES_DOWN, INSET = 8, 8, 2, 2
# Antialiasing moves a few pixels; an empty box, or another font, moves a tenth of them or more.
LEVELS_APART, MAX_SHARE_APART = 48, 0.03


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
    pytest.importorskip("PIL", reason=INSTALL)  # the pixels compared
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1200,1400", "--force-device-scale-factor=1",
                     "--hide-scrollbars"):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def squares_crop(png: bytes):
    """The compared squares (grey levels) of a screenshot whose top left corner is the board's,
    drawn replay.BOARD_PIXELS wide."""
    from PIL import Image

    scale = replay.BOARD_PIXELS / render.WIDTH
    left = (render.BOARD_LEFT + (render.NUM_FILES - SQUARE_FILE) * render.CELL) * scale
    top = (render.BOARD_TOP + (SQUARE_RANK - 1) * render.CELL) * scale
    right, bottom = left + render.CELL * scale, top + SQUARES_DOWN * render.CELL * scale
    box = (round(left) + INSET, round(top) + INSET, round(right) - INSET, round(bottom) - INSET)
    return Image.open(io.BytesIO(png)).convert("L").crop(box)


def share_apart(crop, reference) -> float:
    """The share of pixels more than LEVELS_APART grey levels from the reference's."""
    assert crop.size == reference.size
    apart = np.abs(np.asarray(crop, np.int32) - np.asarray(reference, np.int32))
    return float((apart > LEVELS_APART).mean())


def check_squares(crop, pieces: str, tmp_path: Path, where: str) -> None:
    """The crop matches tests/images/board_squares_PIECES.png; where it does not, it is saved
    for a look (and to replace the reference with, where the change is meant)."""
    from PIL import Image

    name = f"board_squares_{pieces}.png"
    share = share_apart(crop, Image.open(REFERENCES / name).convert("L"))
    if share > MAX_SHARE_APART:
        crop.save(tmp_path / name)
    assert share <= MAX_SHARE_APART, (f"{where}: {share:.0%} of the pixels of squares 8h-8i "
                                      f"differ from tests/images/{name}: see {tmp_path / name}")


def japanese_fonts() -> list[str]:
    """The fonts fontconfig knows for Japanese text; [] where there is none (or no fc-list)."""
    if shutil.which("fc-list") is None:
        return []
    listed = subprocess.run(["fc-list", ":lang=ja"], capture_output=True, text=True, timeout=60)
    return listed.stdout.splitlines()


def wait_for_fonts(browser) -> None:
    """Returns once the page's fonts are loaded (a data: URI's font too loads after the page)."""
    browser.execute_async_script("const done = arguments[0]; "
                                 "document.fonts.ready.then(() => done(true));")


def fonts_of(browser, selector: str) -> list[dict]:
    """The fonts that draw the text of the first element matching `selector`, as Chromium says
    (DevTools' CSS.getPlatformFontsForNode: familyName, isCustomFont, glyphCount)."""
    browser.execute_cdp_cmd("DOM.enable", {})
    browser.execute_cdp_cmd("CSS.enable", {})
    root = browser.execute_cdp_cmd("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = browser.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})
    return browser.execute_cdp_cmd("CSS.getPlatformFontsForNode",
                                   {"nodeId": node["nodeId"]})["fonts"]


def board_screenshot(browser, tmp_path: Path, **options) -> bytes:
    """A standalone SVG of the start (`render.save_svg`, as wide as the report's boards) as
    Chromium shows it: the picture at the window's top left corner."""
    path = tmp_path / "board.svg"
    render.save_svg(STARTPOS_SFEN, path, size=replay.BOARD_PIXELS, **options)
    browser.get(path.as_uri())
    wait_for_fonts(browser)
    return browser.get_screenshot_as_png()


@pytest.mark.parametrize("pieces", list(LETTERINGS))
def test_pieces_read_without_japanese_fonts(browser, tmp_path, pieces):
    check_squares(squares_crop(board_screenshot(browser, tmp_path, pieces=pieces)), pieces,
                  tmp_path, "a standalone SVG")
    if pieces == "kanji" and not japanese_fonts():
        # Without its font the board's kanji fall back to the machine's fonts, which have none
        # here: empty boxes, which the comparison must catch.
        bare = squares_crop(board_screenshot(browser, tmp_path, pieces=pieces, embed_font=False))
        with pytest.raises(AssertionError, match="differ from"):
            check_squares(bare, pieces, tmp_path, "the SVG without its font")


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
    wait_for_fonts(browser)
    viewer = browser.find_element(By.CSS_SELECTOR, "details[data-game][open]")
    # The start as the script draws it, in the page's font: the squares of the reference; and a
    # move written in that font alone, every character its glyph (none an empty box).
    start = viewer.find_element(By.CSS_SELECTOR, ".board svg")
    browser.execute_script("arguments[0].scrollIntoView();", start)  # all of it in the window
    check_squares(squares_crop(start.screenshot_as_png), "kanji", tmp_path, "the report's viewer")
    first_move = viewer.find_element(By.CSS_SELECTOR, "ol.moves li .ja").text
    [font] = fonts_of(browser, "details[data-game][open] ol.moves li .ja")
    assert font["isCustomFont"] and font["glyphCount"] == len(first_move), (font, first_move)
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
