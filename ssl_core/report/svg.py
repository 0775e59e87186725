"""The report's charts as small SVG documents: loss curves, the label-efficiency chart and the confusion
matrix. Vector images stay sharp on a phone and need no plotting library; the report embeds each one as
a data URI (ssl_core.report.embed)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from ssl_core.eval.map_export import class_colour

WIDTH, HEIGHT = 640, 340
LEFT, RIGHT, TOP, BOTTOM = 70, 18, 44, 52  # plot margins: tick labels, axis titles, the legend on top
FONT = "font-family='Helvetica, Arial, sans-serif'"
GRID, AXIS, INK, MUTED = "#e3e3e3", "#888888", "#222222", "#666666"


def colour(i: int) -> str:
    r, g, b = class_colour(i)
    return f"#{r:02x}{g:02x}{b:02x}"


@dataclass
class Line:
    """One curve: points (x, y), optionally with a spread (± error) per point."""

    label: str
    points: list[tuple[float, float]]
    errors: list[float] = field(default_factory=list)
    colour: str = ""
    dashed: bool = False


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(lo / step) * step
    ticks = [round(start, 12)]
    while ticks[-1] < hi - step * 1e-9:  # the last tick is at or above hi
        ticks.append(round(start + len(ticks) * step, 12))
    return ticks


def tick_text(value: float) -> str:
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.0e}"
    return f"{value:,.4g}"


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' "
        f"height='{height}' {FONT} font-size='14'><title>{escape(title)}</title>"
        f"<rect width='100%' height='100%' fill='white'/>{''.join(body)}</svg>"
    )


class _Frame:
    """Maps data to pixels inside the plot margins; draws the grid, ticks and axis titles."""

    def __init__(self, xs: Sequence[float], ys: Sequence[float], log_x: bool = False, y_span: float = 0.0):
        self.log_x = log_x
        if max(ys) - min(ys) < y_span:  # a flat curve is drawn as flat, not blown up to fill the plot
            ys = [*ys, max(ys) - y_span]
        fx = [math.log10(x) for x in xs if x > 0] if log_x else list(xs)
        self.x_ticks = [10.0**e for e in range(math.floor(min(fx)), math.ceil(max(fx)) + 1)] if log_x else []
        if not log_x:
            self.x_ticks = nice_ticks(min(fx), max(fx))
        self.y_ticks = nice_ticks(min(ys), max(ys))
        tx = [math.log10(t) for t in self.x_ticks] if log_x else self.x_ticks
        self.x0, self.x1 = min(tx[0], min(fx)), max(tx[-1], max(fx))
        self.y0, self.y1 = min(self.y_ticks[0], min(ys)), max(self.y_ticks[-1], max(ys))

    def px(self, x: float) -> float:
        x = math.log10(x) if self.log_x else x
        span = (self.x1 - self.x0) or 1.0
        return LEFT + (x - self.x0) / span * (WIDTH - LEFT - RIGHT)

    def py(self, y: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return HEIGHT - BOTTOM - (y - self.y0) / span * (HEIGHT - TOP - BOTTOM)

    def axes(self, x_title: str, y_title: str, x_text=tick_text, y_text=tick_text) -> list[str]:
        out = []
        for t in self.y_ticks:
            y = self.py(t)
            out.append(f"<line x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{y:.1f}' y2='{y:.1f}' stroke='{GRID}'/>")
            out.append(
                f"<text x='{LEFT - 6}' y='{y + 4:.1f}' text-anchor='end' fill='{MUTED}'>{y_text(t)}</text>"
            )
        for t in self.x_ticks:
            x = self.px(t)
            out.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{TOP}' y2='{HEIGHT - BOTTOM}' stroke='{GRID}'/>")
            out.append(
                f"<text x='{x:.1f}' y='{HEIGHT - BOTTOM + 16}' text-anchor='middle' "
                f"fill='{MUTED}'>{escape(x_text(t))}</text>"
            )
        bottom = HEIGHT - BOTTOM
        out.append(f"<line x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{bottom}' y2='{bottom}' stroke='{AXIS}'/>")
        out.append(f"<line x1='{LEFT}' x2='{LEFT}' y1='{TOP}' y2='{bottom}' stroke='{AXIS}'/>")
        out.append(
            f"<text x='{(LEFT + WIDTH - RIGHT) / 2:.0f}' y='{HEIGHT - 10}' text-anchor='middle' "
            f"fill='{INK}'>{escape(x_title)}</text>"
        )
        out.append(
            f"<text transform='translate(16 {(TOP + bottom) / 2:.0f}) rotate(-90)' text-anchor='middle' "
            f"fill='{INK}'>{escape(y_title)}</text>"
        )
        return out


def _legend(lines: Sequence[Line]) -> list[str]:
    """One row above the plot, so it never hides a curve."""
    out, x, y = [], LEFT, TOP - 22
    for i, line in enumerate(lines):
        stroke = line.colour or colour(i)
        dash = " stroke-dasharray='6 4'" if line.dashed else ""
        out.append(
            f"<line x1='{x}' x2='{x + 22}' y1='{y}' y2='{y}' stroke='{stroke}' stroke-width='3'{dash}/>"
        )
        out.append(f"<text x='{x + 28}' y='{y + 5}' fill='{INK}'>{escape(line.label)}</text>")
        x += 44 + 8 * len(line.label)
    return out


def line_chart(
    lines: Sequence[Line],
    x_title: str,
    y_title: str,
    title: str,
    log_x: bool = False,
    x_text=tick_text,
    y_text=tick_text,
    y_span: float = 0.0,
) -> str:
    """An SVG line chart of `lines` (markers and error bars where a line has few points or errors); the
    y axis spans at least `y_span` below the highest value."""
    drawn = [line for line in lines if line.points]
    points = [p for line in drawn for p in line.points if math.isfinite(p[1])]
    if not points:
        return _svg(WIDTH, 80, [f"<text x='16' y='44' fill='{MUTED}'>No values to draw.</text>"], title)
    lows = [y - e for line in drawn for (_, y), e in zip(line.points, line.errors, strict=False)]
    highs = [y + e for line in drawn for (_, y), e in zip(line.points, line.errors, strict=False)]
    ys = [y for _, y in points] + [v for v in lows + highs if math.isfinite(v)]
    frame = _Frame([x for x, _ in points], ys, log_x, y_span)
    body = frame.axes(x_title, y_title, x_text, y_text)
    for i, line in enumerate(drawn):
        stroke = line.colour or colour(i)
        pts = [(frame.px(x), frame.py(y)) for x, y in line.points if math.isfinite(y)]
        if len(pts) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in _thin(pts))
            dash = " stroke-dasharray='6 4'" if line.dashed else ""
            body.append(f"<polyline points='{path}' fill='none' stroke='{stroke}' stroke-width='2.5'{dash}/>")
        if len(pts) <= 12:
            body += [f"<circle cx='{x:.1f}' cy='{y:.1f}' r='4' fill='{stroke}'/>" for x, y in pts]
        for (x, y), e in zip(line.points, line.errors, strict=False):
            if e > 0 and math.isfinite(y):
                cx, top, low = frame.px(x), frame.py(y + e), frame.py(y - e)
                body.append(
                    f"<path d='M{cx - 5:.1f},{top:.1f}h10M{cx:.1f},{top:.1f}V{low:.1f}M{cx - 5:.1f},"
                    f"{low:.1f}h10' stroke='{stroke}' stroke-width='1.5' fill='none'/>"
                )
    if len(drawn) > 1 or drawn[0].label:
        body += _legend(drawn)
    return _svg(WIDTH, HEIGHT, body, title)


def _thin(pts: list[tuple[float, float]], most: int = 800) -> list[tuple[float, float]]:
    """At most `most` points (every k-th, the last kept): a long curve stays a small file."""
    if len(pts) <= most:
        return pts
    k = math.ceil(len(pts) / most)
    return pts[::k] + ([pts[-1]] if (len(pts) - 1) % k else [])


def confusion_svg(matrix: Sequence[Sequence[int]], names: Sequence[str], title: str) -> str:
    """The confusion matrix as a heat map: rows the true class, columns the predicted one; each cell
    shaded by the share of its row and labelled with its count (when there is room)."""
    n = len(matrix)
    if n == 0:
        return _svg(WIDTH, 80, [f"<text x='16' y='44' fill='{MUTED}'>No confusion matrix.</text>"], title)
    cell = max(8, min(44, 520 // n))
    label_w = 110
    size = label_w + n * cell + 12
    body = [
        f"<text x='{label_w + n * cell / 2:.0f}' y='14' text-anchor='middle' fill='{INK}'>predicted class</text>",
        f"<text transform='translate(12 {30 + n * cell / 2:.0f}) rotate(-90)' text-anchor='middle' "
        f"fill='{INK}'>true class</text>",
    ]
    top = 44
    show_names = cell >= 14
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        name = escape(str(names[i]) if i < len(names) else str(i))
        if show_names:
            body.append(
                f"<text x='{label_w - 6}' y='{top + i * cell + cell / 2 + 4:.1f}' text-anchor='end' "
                f"fill='{MUTED}'>{name[:14]}</text>"
            )
            body.append(
                f"<text x='{label_w + i * cell + cell / 2:.1f}' y='{top - 6}' text-anchor='middle' "
                f"fill='{MUTED}' font-size='{min(12, cell - 2)}'>{name[:3]}</text>"
            )
        for j, count in enumerate(row):
            share = count / total
            shade = _blue(share)
            x, y = label_w + j * cell, top + i * cell
            body.append(
                f"<rect x='{x}' y='{y}' width='{cell}' height='{cell}' fill='{shade}' stroke='white'/>"
            )
            if cell >= 22 and count:
                ink = "white" if share > 0.5 else INK
                body.append(
                    f"<text x='{x + cell / 2:.1f}' y='{y + cell / 2 + 4:.1f}' text-anchor='middle' "
                    f"fill='{ink}' font-size='11'>{count}</text>"
                )
    return _svg(size, top + n * cell + 12, body, title)


def _blue(t: float) -> str:
    """White (0) to a deep blue (1)."""
    t = min(1.0, max(0.0, t))
    r, g, b = (int(round(255 + (c - 255) * t)) for c in (8, 69, 148))
    return f"#{r:02x}{g:02x}{b:02x}"


def signal_strip(samples: Sequence[Sequence[Sequence[float]]], title: str) -> str:
    """Series side by side (each (channels, T), NaN where a curve has no value), one small plot each."""
    n = len(samples)
    w, h, gap = 230, 110, 10
    body = []
    for k, sample in enumerate(samples):
        values = [v for channel in sample for v in channel if math.isfinite(v)]
        lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
        span = (hi - lo) or 1.0
        x0 = k * (w + gap)
        body.append(f"<rect x='{x0}' y='0' width='{w}' height='{h}' fill='#fafafa' stroke='{GRID}'/>")
        for c, channel in enumerate(sample):
            length = max(len(channel) - 1, 1)
            runs, current = [], []
            for t, v in enumerate(channel):
                if math.isfinite(v):
                    current.append(
                        f"{x0 + 3 + t / length * (w - 6):.1f},{h - 4 - (v - lo) / span * (h - 8):.1f}"
                    )
                elif current:
                    runs.append(current)
                    current = []
            runs.append(current)
            for run in runs:
                if len(run) > 1:
                    body.append(
                        f"<polyline points='{' '.join(run)}' fill='none' stroke='{colour(c)}' "
                        "stroke-width='1.5'/>"
                    )
    return _svg(max(n, 1) * (w + gap) - gap, h, body, title)
