"""Makes docs/report_screenshot.png: a tournament's report.html in headless Chromium, game 607 of
the shipped network's gauntlet (configs/ladder_pretrained.yaml, its games kept in
docs/ladder_games/cpu_60min_gauntlet.jsonl.gz) at ply 40, the network's top 3 moves as arrows
and its value beside.

    apt-get install chromium chromium-driver && pip install -e ".[browser]"
    python scripts/report_screenshot.py [--output docs/report_screenshot.png] [--pieces latin]

The tournament's directory is rebuilt from the kept games as the tournament writes it (its
config with the network pinned to the checkpoint it loaded, the games log, KIF and CSA files,
the results), `python -m shogi_jax.report` makes its page (analysing the network's plies of the
200 games it embeds: minutes on 2 cores), and Chromium opens the game and steps to the ply.
Nothing is fetched; the engines are not run (the usi players are named, not started).
"""
from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from shogi_jax.arena.engine_match import ENGINE_KIND
from shogi_jax.arena.tournament import LoadedPlayer, load_player
from shogi_jax.arena.tournament_config import load_tournament_config
from shogi_jax.arena.tournament_log import TournamentLog
from shogi_jax.cli import report as report_cli
from shogi_jax.reports.lettering import LETTERINGS

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "ladder_pretrained.yaml"
GAMES = ROOT / "docs" / "ladder_games" / "cpu_60min_gauntlet.jsonl.gz"
OUTPUT = ROOT / "docs" / "report_screenshot.png"
GAME, PLY = 607, 40
WINDOW = (1100, 1400)  # pixels; the page is as wide as the README shows it


def rebuild_tournament(directory: Path) -> None:
    """The tournament of CONFIG with GAMES written into `directory`, as it wrote it."""
    config = dataclasses.replace(load_tournament_config(CONFIG, check_paths=False),
                                 output_dir=str(directory))
    # The engines as the results name them, without starting them.
    loaded = [LoadedPlayer(SimpleNamespace(name=spec.name, kind=spec.kind), None, spec.command,
                           spec) if spec.kind == ENGINE_KIND else load_player(spec)
              for spec in config.players]
    config = dataclasses.replace(config, players=tuple(player.spec for player in loaded))
    with gzip.open(GAMES, "rt", encoding="utf-8") as lines:
        records = {}
        for line in lines:
            record = json.loads(line)
            records[record.pop("game")] = record
    log = TournamentLog(directory)
    log.begin(config, {})
    log.write_games(records)
    log.write_results(config, loaded, records, complete=True)
    log.close()


def screenshot(page: Path, output: Path) -> None:
    """Game GAME of `page` at ply PLY, the game's whole <details>, as Chromium draws it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                     "--force-device-scale-factor=1", "--hide-scrollbars"):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        browser.get(page.as_uri())
        game = browser.find_element(By.ID, f"game-{GAME:05d}")
        browser.execute_script("arguments[0].scrollIntoView(); arguments[0].open = true;", game)
        move = game.find_element(By.CSS_SELECTOR, f'ol.moves li[data-ply="{PLY}"]')
        browser.execute_script("arguments[0].click();", move)
        browser.execute_async_script("const done = arguments[0]; "
                                     "document.fonts.ready.then(() => done(true));")
        board = game.find_element(By.CSS_SELECTOR, ".board")
        if board.get_attribute("data-ply") != str(PLY):
            raise SystemExit(f"error: the viewer shows ply {board.get_attribute('data-ply')}")
        browser.execute_script("arguments[0].scrollIntoView();", game)
        time.sleep(0.5)  # the move list's scroll settles
        output.write_bytes(game.screenshot_as_png)
    finally:
        browser.quit()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default: {OUTPUT}")
    parser.add_argument("--pieces", choices=tuple(LETTERINGS), default="kanji")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        directory = Path(work) / "ladder_pretrained"
        rebuild_tournament(directory)
        if report_cli.main([str(directory), "--pieces", args.pieces]) != 0:
            return 2
        screenshot(directory / report_cli.REPORT_FILE, args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
