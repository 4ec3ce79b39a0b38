"""Makes shogi_jax/reports/fonts/board.woff2, the font boards and move text are drawn in: the
glyphs of `shogi_jax.reports.board_font.CHARACTERS` cut out of Noto Serif CJK JP (SIL Open Font
License 1.1) with fontTools' subsetter, as WOFF2.

    pip install -e ".[fonts]"                  # fontTools and brotli
    apt-get install fonts-noto-cjk
    python scripts/make_board_font.py

or, leaving the system's fonts as they are (a machine without CJK fonts, to test on):

    apt-get download fonts-noto-cjk && dpkg -x fonts-noto-cjk_*.deb noto
    python scripts/make_board_font.py \
        --source noto/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc

The shipped file was made from Debian 12's fonts-noto-cjk 1:20220127+repack1-1 (Noto Serif CJK
JP 2.001) with fontTools 4.69 and brotli 1.2. Run it again after adding a character to
CHARACTERS (tests/test_board_font.py says which are missing).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

from shogi_jax.reports import board_font

ROOT = Path(__file__).resolve().parent.parent
DEBIAN_SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
OUTPUT = ROOT / "shogi_jax" / "reports" / board_font.FONT_FILE
FAMILY = "Noto Serif CJK JP"  # the collection's Japanese member
# Copyright, names, version, trademark, and the license's text and address.
KEPT_NAMES = (0, 1, 2, 3, 4, 5, 6, 7, 13, 14)


def japanese_member(source: Path) -> TTFont:
    """The font named FAMILY in `source` (a .ttc collection, or a single .otf)."""
    number = 0
    while True:
        try:
            # The source's timestamp is kept, so that a run makes the same bytes again.
            font = TTFont(source, fontNumber=number, recalcTimestamp=False)
        except IndexError:  # past the collection's last font
            raise SystemExit(f"error: {source} holds no {FAMILY}") from None
        if font["name"].getDebugName(1) == FAMILY:
            return font
        number += 1


def subset_font(font: TTFont, characters: str) -> TTFont:
    """`font` cut down to the glyphs of `characters`: no layout features, no hinting (the board
    draws a few dozen glyphs at display sizes), WOFF2."""
    missing = sorted({char for char in characters if ord(char) not in font.getBestCmap()})
    if missing:
        raise SystemExit(f"error: the font has no glyph for {''.join(missing)!r}")
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = []
    options.hinting = False
    options.desubroutinize = True  # brotli compresses the plain outlines better
    options.name_IDs = list(KEPT_NAMES)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters)
    subsetter.subset(font)
    font.flavor = "woff2"
    return font


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEBIAN_SOURCE,
                        help=f"NotoSerifCJK-Regular.ttc (default: {DEBIAN_SOURCE})")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default: {OUTPUT}")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"error: {args.source} does not exist (apt-get install fonts-noto-cjk, or "
              "--source)", file=sys.stderr)
        return 2
    font = subset_font(japanese_member(args.source), board_font.CHARACTERS)
    font.save(args.output)
    print(f"wrote {args.output}: {len(set(board_font.CHARACTERS))} characters, "
          f"{args.output.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
