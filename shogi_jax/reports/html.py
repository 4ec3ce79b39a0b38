"""The page: markup built from escaped parts, tables, the data embedded for the viewer, and the
document around it all.

Text is escaped where it enters markup: `element` escapes every child that is not `Markup`
(which only this module's functions make), so a player named `<b>` or a config holding `</pre>`
stays text. Data for the script is JSON inside `<script type="application/json">`, with `<`,
`>` and `&` written as JSON escapes so that no string in it can close the script element.

The page fetches nothing: a Content-Security-Policy forbids every load from elsewhere (scripts,
styles, fonts, images, connections), so a reference that slipped in fails visibly rather than
reaching the network.
"""
from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping

# Inline scripts and styles only, images and fonts as data: URIs (the board font); nothing is
# loaded from anywhere, not even from the page's own directory (links to game records are
# navigations, which this does not govern).
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; "
                           "style-src 'unsafe-inline'; img-src data:; font-src data:")

PAGE_CSS = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1240px; padding: 1em 2em;
       color: #1a1a1a; background: #fafafa; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table.data { border-collapse: collapse; margin: 0.5em 0; font-variant-numeric: tabular-nums; }
table.data th, table.data td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
table.data td.number { text-align: right; }
table.data td.self { background: #eee; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
figure.chart { margin: 0; background: white; border: 1px solid #ddd; }
figure.chart p.empty { padding: 1em; color: #666; }
pre.config { background: white; border: 1px solid #ddd; padding: 0.8em; overflow-x: auto; }
.note { color: #555; }
"""


class Markup(str):
    """Text that is already markup: `element` passes it through unescaped."""


def escape(text) -> Markup:
    """`text` (anything, as str) as markup: & < > " ' escaped."""
    return Markup(html.escape(str(text), quote=True))


def element(tag: str, attributes: Mapping[str, object] | None = None, *children) -> Markup:
    """<tag attributes>children</tag>. Attribute values and non-Markup children are escaped; an
    attribute whose value is None is left out, True writes it bare."""
    parts = [tag]
    for name, value in (attributes or {}).items():
        if value is None or value is False:
            continue
        parts.append(name if value is True else f'{name}="{escape(value)}"')
    inner = "".join(child if isinstance(child, Markup) else escape(child) for child in children)
    return Markup(f"<{' '.join(parts)}>{inner}</{tag}>")


def join(parts: Iterable[str]) -> Markup:
    """Several pieces of markup as one (each must be Markup: text is escaped)."""
    return Markup("".join(part if isinstance(part, Markup) else escape(part) for part in parts))


def script_json(data) -> str:
    """`data` as JSON text safe inside a <script> element: every <, > and & is a JSON escape
    (the same string to JSON.parse), so no value can end the element or open a comment. NaN and
    infinities are refused: JSON has none."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def json_script(element_id: str, data) -> Markup:
    """<script type="application/json" id=element_id> holding `data` (read with JSON.parse)."""
    return Markup(f'<script type="application/json" id="{escape(element_id)}">'
                  f"{script_json(data)}</script>")


def table(header: Iterable, rows: Iterable[Iterable], **attributes) -> Markup:
    """A table of class "data": a header row, then rows; a cell is text, Markup, a number
    (aligned right), or a (content, attributes) pair for a cell with attributes of its own."""
    def cell(tag, value):
        content, own = value if isinstance(value, tuple) else (value, {})
        if isinstance(content, (int, float)) and "class" not in own:
            own = {**own, "class": "number"}
        return element(tag, own, content)

    head = element("tr", {}, join(cell("th", value) for value in header))
    body = join(element("tr", {}, join(cell("td", value) for value in row)) for row in rows)
    return element("table", {"class": "data", **attributes}, element("thead", {}, head),
                   element("tbody", {}, body))


def section(title: str, *children, **attributes) -> Markup:
    """<section> headed by an <h2> of `title`."""
    return element("section", attributes, element("h2", {}, title), *children)


def details(summary: str, *children, **attributes) -> Markup:
    """A <details> block (closed unless open=True) under a <summary> of `summary`."""
    return element("details", attributes, element("summary", {}, summary), *children)


def page(title: str, body: Iterable[Markup], *, css: str = "", script: str = "") -> str:
    """The whole HTML document: `body` under an <h1> of `title`, PAGE_CSS and `css` inline, and
    `script` (JavaScript, trusted: it is this package's own) at the end of the body."""
    styles = PAGE_CSS + css
    return ("<!DOCTYPE html>\n"
            + element(
                "html", {"lang": "en"},
                element("head", {},
                        Markup('<meta charset="utf-8">'),
                        Markup(f'<meta http-equiv="Content-Security-Policy" '
                               f'content="{escape(CONTENT_SECURITY_POLICY)}">'),
                        Markup('<meta name="viewport" content="width=device-width">'),
                        element("title", {}, title),
                        element("style", {}, Markup(styles))),
                element("body", {}, element("h1", {}, title), join(body),
                        element("script", {}, Markup(script)) if script else Markup("")))
            + "\n")
