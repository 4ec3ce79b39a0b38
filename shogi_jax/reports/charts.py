"""Line charts as inline SVG, drawn from Python lists: axes with round-numbered ticks, a legend,
one polyline per series, an optional shaded band (a confidence interval) around a series.

A chart reads back without pixels: the <svg> carries data-chart (its id) and each series a
<g data-series="KEY" data-points="N"> (KEY: the metric's name), its band a <path data-band>.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple, Optional

from shogi_jax.reports.html import Markup, element, join

WIDTH, HEIGHT = 560.0, 300.0  # the plot and its axes; the legend adds rows below
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64.0, 16.0, 34.0, 48.0
LEGEND_ROW, LEGEND_COLUMNS = 18.0, 3
TICKS = 5  # about this many ticks an axis
MARKED_POINTS = 60  # series with at most this many points get a dot at each
FONT_SIZE = 11.0
# Distinct on white and for the common colour blindnesses (Okabe and Ito's palette).
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000",
           "#f0e442")
BAND_OPACITY = 0.18


class Series(NamedTuple):
    """One line: points (xs[k], ys[k]); a point with None (or a non-finite number) in either is
    left out. band: (lows, highs) along the same xs, shaded around the line."""

    key: str  # what the series is (data-series), e.g. the metric's name
    label: str  # the legend's text
    xs: Sequence[Optional[float]]
    ys: Sequence[Optional[float]]
    band: Optional[tuple[Sequence[Optional[float]], Sequence[Optional[float]]]] = None
    dashed: bool = False


def _finite(value) -> bool:
    return (value is not None and not isinstance(value, bool) and isinstance(value, (int, float))
            and math.isfinite(value))


def _points(xs, ys) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in zip(xs, ys) if _finite(x) and _finite(y)]


def _band_points(series: Series) -> list[tuple[float, float, float]]:
    """(x, low, high) where all three are numbers."""
    if series.band is None:
        return []
    lows, highs = series.band
    return [(float(x), float(low), float(high)) for x, low, high in zip(series.xs, lows, highs)
            if _finite(x) and _finite(low) and _finite(high)]


def nice_ticks(low: float, high: float, count: int = TICKS) -> list[float]:
    """About `count` round ticks (steps of 1, 2 or 5 times a power of ten) covering [low, high]:
    the first at or below `low`, the last at or above `high`."""
    if not high > low:
        low, high = low - 1.0, high + 1.0  # one value: a span of 2 around it
    raw_step = (high - low) / count
    magnitude = 10.0 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step * 0.999)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [k * step for k in range(first, last + 1)]


def tick_text(value: float, step: float) -> str:
    """A tick label: thousands as k and millions as M (env steps run to billions), otherwise as
    many decimals as the step needs; never "-0"."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale and step >= scale / 100:
            return f"{value / scale:.{_decimals(step / scale)}f}{suffix}"
    text = f"{value:.{_decimals(step)}f}"
    return "0" if float(text) == 0 else text


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-9))


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _text(text: str, x: float, y: float, **attributes) -> Markup:
    return element("text", {"x": _number(x), "y": _number(y), "font-size": _number(FONT_SIZE),
                            **attributes}, text)


def line_chart(chart_id: str, title: str, series: Sequence[Series], *, x_label: str,
               y_label: str, y_range: Optional[tuple[float, float]] = None) -> Markup:
    """A <figure> holding the SVG chart of `series` (those without a point are left out), or a
    note that there is nothing to draw. y_range: a fixed y axis (e.g. (0, 1) for rates),
    widened if a point falls outside."""
    drawn = [(k, s, _points(s.xs, s.ys), _band_points(s)) for k, s in enumerate(series)]
    drawn = [entry for entry in drawn if entry[2]]
    if not drawn:
        return element("figure", {"class": "chart", "data-chart": chart_id, "data-empty": True},
                       element("p", {"class": "empty"}, f"{title}: nothing recorded yet"))
    xs = [x for _, _, points, _ in drawn for x, _ in points]
    ys = [y for _, _, points, band in drawn for y in [p[1] for p in points]
          + [b[1] for b in band] + [b[2] for b in band]]
    if y_range is not None:
        ys += list(y_range)
    x_ticks, y_ticks = nice_ticks(min(xs), max(xs)), nice_ticks(min(ys), max(ys))
    legend_rows = math.ceil(len(drawn) / LEGEND_COLUMNS)
    height = HEIGHT + legend_rows * LEGEND_ROW
    left, right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM

    def scale_x(x):
        return left + (x - x_ticks[0]) / (x_ticks[-1] - x_ticks[0]) * (right - left)

    def scale_y(y):
        return bottom - (y - y_ticks[0]) / (y_ticks[-1] - y_ticks[0]) * (bottom - top)

    parts = [element("title", {}, title),
             element("rect", {"x": 0, "y": 0, "width": _number(WIDTH), "height": _number(height),
                              "fill": "white"}),
             _text(title, WIDTH / 2, 20, **{"text-anchor": "middle", "font-weight": "bold"}),
             _axes(x_ticks, y_ticks, scale_x, scale_y, (left, right, top, bottom)),
             _text(x_label, (left + right) / 2, bottom + 34, **{"text-anchor": "middle"}),
             _text(y_label, 14, (top + bottom) / 2, **{
                 "text-anchor": "middle",
                 "transform": f"rotate(-90 14 {_number((top + bottom) / 2)})"})]
    for k, s, points, band in drawn:
        parts.append(_series(s, points, band, PALETTE[k % len(PALETTE)], scale_x, scale_y))
    parts.append(_legend([(s, PALETTE[k % len(PALETTE)]) for k, s, _, _ in drawn], HEIGHT))
    svg = element("svg", {"width": _number(WIDTH), "height": _number(height),
                          "viewBox": f"0 0 {_number(WIDTH)} {_number(height)}", "role": "img",
                          "font-family": "system-ui, sans-serif", "data-chart": chart_id},
                  join(parts))
    return element("figure", {"class": "chart"}, svg)


def _axes(x_ticks, y_ticks, scale_x, scale_y, frame) -> Markup:
    """The frame, a light grid line and a label at every tick."""
    left, right, top, bottom = frame
    x_step, y_step = x_ticks[1] - x_ticks[0], y_ticks[1] - y_ticks[0]
    grid = "".join(f"M{_number(scale_x(x))} {_number(top)}V{_number(bottom)}" for x in x_ticks)
    grid += "".join(f"M{_number(left)} {_number(scale_y(y))}H{_number(right)}" for y in y_ticks)
    parts = [element("path", {"d": grid, "stroke": "#e3e3e3", "fill": "none"}),
             element("rect", {"x": _number(left), "y": _number(top),
                              "width": _number(right - left), "height": _number(bottom - top),
                              "fill": "none", "stroke": "#888"})]
    parts += [_text(tick_text(x, x_step), scale_x(x), bottom + 15, **{"text-anchor": "middle"})
              for x in x_ticks]
    parts += [_text(tick_text(y, y_step), left - 6, scale_y(y) + FONT_SIZE * 0.35,
                    **{"text-anchor": "end"}) for y in y_ticks]
    return element("g", {"class": "axes"}, join(parts))


def _series(series: Series, points, band, color: str, scale_x, scale_y) -> Markup:
    """The band (if any) under the line, the line, and dots when there are few points."""
    parts = []
    if band:
        upper = [f"{_number(scale_x(x))},{_number(scale_y(high))}" for x, _, high in band]
        lower = [f"{_number(scale_x(x))},{_number(scale_y(low))}" for x, low, _ in band[::-1]]
        parts.append(element("path", {"d": "M" + " L".join(upper + lower) + " Z", "fill": color,
                                      "opacity": BAND_OPACITY, "data-band": series.key,
                                      "data-points": len(band)}))
    coordinates = " ".join(f"{_number(scale_x(x))},{_number(scale_y(y))}" for x, y in points)
    parts.append(element("polyline", {"points": coordinates, "fill": "none", "stroke": color,
                                      "stroke-width": 2,
                                      "stroke-dasharray": "6 4" if series.dashed else None}))
    if len(points) <= MARKED_POINTS:
        parts += [element("circle", {"cx": _number(scale_x(x)), "cy": _number(scale_y(y)),
                                     "r": 2.5, "fill": color}) for x, y in points]
    return element("g", {"data-series": series.key, "data-label": series.label,
                         "data-points": len(points)}, join(parts))


def _legend(entries, top: float) -> Markup:
    """A swatch and label per series, LEGEND_COLUMNS to a row, under the x axis label."""
    column_width = (WIDTH - MARGIN_LEFT) / LEGEND_COLUMNS
    parts = []
    for k, (series, color) in enumerate(entries):
        x = MARGIN_LEFT + (k % LEGEND_COLUMNS) * column_width
        y = top + (k // LEGEND_COLUMNS) * LEGEND_ROW
        parts.append(element("line", {"x1": _number(x), "y1": _number(y - 4),
                                      "x2": _number(x + 22), "y2": _number(y - 4),
                                      "stroke": color, "stroke-width": 3,
                                      "stroke-dasharray": "6 4" if series.dashed else None}))
        parts.append(_text(series.label, x + 28, y))
    return element("g", {"class": "legend"}, join(parts))
