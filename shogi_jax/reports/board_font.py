"""The font that boards and Japanese move text are drawn in, shipped inside the package, so that
a machine with only Latin fonts shows the pieces instead of empty boxes.

fonts/board.woff2 is a subset of Noto Serif CJK JP (SIL Open Font License 1.1, fonts/OFL.txt
beside it) holding the glyphs of CHARACTERS and no others: every character a board
(`render.position_svg`, the viewer's script) or the KIF writer's move text can show.
scripts/make_board_font.py makes it from Debian's fonts-noto-cjk; tests/test_board_font.py
checks the font against CHARACTERS and CHARACTERS against what the code writes, both ways.

The font travels as a data: URI in an @font-face rule (`font_face_css`): in the <style> of a
standalone SVG, and once in the report page's style, which its boards share.
"""
from __future__ import annotations

import base64
import functools
from importlib import resources

FAMILY = "shogi_jax board"  # the @font-face name that font-family lists refer to
FONT_FILE = "fonts/board.woff2"  # package data of shogi_jax.reports
FONT_MIME = "font/woff2"
# Printable ASCII (file numbers, counts, percentages, SFEN letters, English words), then every
# character outside ASCII in a string of shogi_jax/reports, its viewer's script and the KIF
# writer (shogi_jax/notation/kif.py): piece names, numerals, 同 打 成 不成, endings, the sides.
ASCII = "".join(map(chr, range(0x20, 0x7F)))
CHARACTERS = ASCII + (
    "·—▶◀☖☗　けしちでとなのまみれ・一七三不中九了二五先入全八六切則割勝十千反合同四圭始将平後成"
    "戦手打投持指数断日時杏桂棋歩消玉番角詰負費金銀開間飛香馬駒龍１２３４５６７８９：")


def font_bytes() -> bytes:
    """FONT_FILE, read from the installed package."""
    return resources.files(__package__).joinpath(FONT_FILE).read_bytes()


@functools.cache
def font_face_css() -> str:
    """The @font-face rule that names the font FAMILY, its file inline as a data: URI."""
    data = base64.b64encode(font_bytes()).decode("ascii")
    return (f"@font-face {{ font-family: '{FAMILY}'; "
            f"src: url(data:{FONT_MIME};base64,{data}) format('woff2'); }}")
