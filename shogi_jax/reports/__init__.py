"""One self-contained HTML page about a training run or a tournament (`python -m
shogi_jax.report`): charts drawn as inline SVG, tables, and the games replayable in an inline
viewer. Nothing on the page is fetched from anywhere, so it reads the same from a disk, a CI
artifact or a mail attachment.

    metrics.py     a run's metrics.jsonl as the charts (and scripts/plot_elo.py) read it
    charts.py      SVG line charts from Python lists
    render.py      SVG pictures of positions
    lettering.py   the words on a board: pieces in kanji, or in SFEN's letters
    board_font.py  the font boards are drawn in, shipped in fonts/ (a Noto Serif CJK subset)
    replay.py      the games as the viewer plays them; viewer/ holds the viewer's JS and CSS
    html.py        the page: escaping, tables, sections, the embedded data
    run.py         the page of a training run directory
    tournament.py  the page of a tournament directory
"""
from __future__ import annotations

import os
from pathlib import Path

from shogi_jax.host.paths import is_remote


class ReportError(ValueError):
    """A report cannot be made from what is on disk; the message names the path and the fault."""


def read_text(path: Path) -> str:
    """A UTF-8 text file; ReportError naming it when it is missing or not text."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(f"{path} is not readable: {error}") from None


def relative_link(path: Path, page_dir: Path) -> str:
    """A link from a page in `page_dir` to `path`: relative, with forward slashes (a URL), so
    the page and the files it links to can move together."""
    if is_remote(path) != is_remote(page_dir):  # no relative way between a store and a disk
        return str(path)
    return Path(os.path.relpath(path, page_dir)).as_posix()
