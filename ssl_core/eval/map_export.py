"""The 2-D map of an embedding as files a person opens without the workbench: a PNG (points coloured by
class with a legend, or by anomaly score with a colour bar) and a CSV of the coordinates.

Drawn with Pillow only (no Qt, no matplotlib). The legend sits in its own panel to the right of the
plot, so it never covers a point. `ssl-core embed` writes both next to the arrays in RUN/eval/.
"""

from __future__ import annotations

import colorsys
import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ssl_core.file_modes import write_shared_file

PLOT_SIZE = 720  # side of the square plot area, in pixels
LEGEND_WIDTH = 190  # the panel right of the plot
MARGIN = 16
TITLE_HEIGHT = 28
MAX_LEGEND_ROWS = 24  # more classes than this: the first ones and "... and N more"
BACKGROUND = (255, 255, 255)
FRAME = (200, 200, 200)
TEXT = (30, 30, 30)
SINGLE = (31, 119, 180)  # points without labels or scores

# The usual ten categorical colours, then twenty more from a golden-ratio walk round the hue circle.
_BASE_COLOURS = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]  # fmt: skip
# Viridis at five stops (low anomaly score -> high), interpolated linearly in between.
_SCORE_STOPS = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]


def class_colour(i: int) -> tuple[int, int, int]:
    """A distinct colour for class number `i` (the first ten match the usual categorical palette)."""
    if i < len(_BASE_COLOURS):
        return _BASE_COLOURS[i]
    hue = (0.11 + (i - len(_BASE_COLOURS)) * 0.618034) % 1.0
    lightness = 0.42 if (i // 3) % 2 else 0.55
    r, g, b = colorsys.hls_to_rgb(hue, lightness, 0.75)
    return (int(r * 255), int(g * 255), int(b * 255))


def score_colour(t: float) -> tuple[int, int, int]:
    """The colour of a score scaled to [0, 1] (0 = most normal, 1 = most anomalous)."""
    t = min(1.0, max(0.0, float(t))) * (len(_SCORE_STOPS) - 1)
    lo = min(int(t), len(_SCORE_STOPS) - 2)
    f = t - lo
    a, b = _SCORE_STOPS[lo], _SCORE_STOPS[lo + 1]
    return tuple(int(round(a[c] + (b[c] - a[c]) * f)) for c in range(3))  # type: ignore[return-value]


def label_names(labels: np.ndarray, class_names: Sequence[str]) -> list[str]:
    """The class name of each integer label (the number itself where no name is known)."""
    names = list(class_names)
    return [names[v] if 0 <= v < len(names) else str(v) for v in (int(x) for x in labels)]


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # older Pillow or no FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _pixels(coords: np.ndarray) -> np.ndarray:
    """(M, 2) coordinates -> integer pixel positions inside the plot area (y grows upwards in the data)."""
    xy = np.asarray(coords, dtype=np.float64)
    finite = np.isfinite(xy).all(axis=1)
    out = np.full(xy.shape, -1, dtype=np.int64)
    if not finite.any():
        return out
    lo, hi = xy[finite].min(axis=0), xy[finite].max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    pad = 8
    scaled = (xy[finite] - lo) / span * (PLOT_SIZE - 2 * pad) + pad
    scaled[:, 1] = PLOT_SIZE - scaled[:, 1]
    out[finite] = np.rint(scaled).astype(np.int64)
    return out


def render_map(
    coords: np.ndarray,
    labels: np.ndarray | None = None,
    class_names: Sequence[str] = (),
    anomaly: np.ndarray | None = None,
    title: str = "",
    seed: int = 0,
) -> Image.Image:
    """The map as an RGB image of (MARGIN + PLOT_SIZE + LEGEND_WIDTH + MARGIN) x
    (TITLE_HEIGHT + PLOT_SIZE + MARGIN) pixels.

    `labels` and `anomaly` are per point (same length as `coords`). Points are coloured by label when
    given, else by anomaly score, else all alike; they are drawn in a shuffled order so no class hides
    another just by coming last.
    """
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords must be (M, 2), got {coords.shape}")
    m = coords.shape[0]
    width = MARGIN + PLOT_SIZE + LEGEND_WIDTH + MARGIN
    height = TITLE_HEIGHT + PLOT_SIZE + MARGIN
    img = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(img)
    font, small = _font(14), _font(12)
    x0, y0 = MARGIN, TITLE_HEIGHT
    draw.rectangle((x0 - 1, y0 - 1, x0 + PLOT_SIZE, y0 + PLOT_SIZE), outline=FRAME)
    if title:
        draw.text((x0, 6), title, fill=TEXT, font=font)

    if labels is not None:
        labels = np.asarray(labels).astype(np.int64)
        present = sorted(set(labels.tolist()))
        colours = [class_colour(int(v)) if v >= 0 else FRAME for v in labels]
    elif anomaly is not None:
        scores = np.asarray(anomaly, dtype=np.float64)
        finite = np.isfinite(scores)
        lo = float(scores[finite].min()) if finite.any() else 0.0
        hi = float(scores[finite].max()) if finite.any() else 1.0
        t = (scores - lo) / (hi - lo) if hi > lo else np.zeros_like(scores)
        colours = [score_colour(v) if np.isfinite(v) else FRAME for v in t]
    else:
        colours = [SINGLE] * m

    radius = 3 if m <= 5000 else 2 if m <= 30000 else 1
    order = np.random.default_rng(seed).permutation(m)
    if anomaly is not None and labels is None:
        order = np.argsort(np.nan_to_num(np.asarray(anomaly, dtype=np.float64), nan=-np.inf), kind="stable")
    px = _pixels(coords)
    for i in order:
        x, y = int(px[i, 0]), int(px[i, 1])
        if x < 0:
            continue  # a non-finite coordinate
        x, y = x + x0, y + y0
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colours[i])

    lx, ly = x0 + PLOT_SIZE + 14, y0
    if labels is not None:
        draw.text((lx, ly), "class", fill=TEXT, font=font)
        ly += 22
        names = label_names(np.asarray([v for v in present if v >= 0]), class_names)
        shown = [v for v in present if v >= 0][:MAX_LEGEND_ROWS]
        for v, name in zip(shown, names, strict=False):
            draw.ellipse((lx, ly + 3, lx + 9, ly + 12), fill=class_colour(v))
            draw.text((lx + 15, ly), _clip(name, 22), fill=TEXT, font=small)
            ly += 18
        rest = len(names) - len(shown)
        if rest > 0:
            draw.text((lx, ly), f"... and {rest} more", fill=TEXT, font=small)
    elif anomaly is not None:
        draw.text((lx, ly), "anomaly score", fill=TEXT, font=font)
        ly += 22
        bar_h = 200
        for k in range(bar_h):
            draw.line((lx, ly + k, lx + 16, ly + k), fill=score_colour(1.0 - k / (bar_h - 1)))
        draw.rectangle((lx, ly, lx + 16, ly + bar_h), outline=FRAME)
        draw.text((lx + 22, ly - 2), f"{hi:.4g} (high)", fill=TEXT, font=small)
        draw.text((lx + 22, ly + bar_h - 12), f"{lo:.4g} (low)", fill=TEXT, font=small)
    draw.text((lx, y0 + PLOT_SIZE - 16), f"{m:,} points", fill=TEXT, font=small)
    return img


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def map_csv(
    indices: np.ndarray,
    coords: np.ndarray,
    labels: np.ndarray | None = None,
    class_names: Sequence[str] = (),
    anomaly: np.ndarray | None = None,
) -> str:
    """CSV text: index (the sample's position in the data), x, y, then label (class name) and
    anomaly_score where known; one row per projected point."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["index", "x", "y"]
    columns: list[list] = [list(map(int, indices)), *(list(map(float, c)) for c in np.asarray(coords).T)]
    if labels is not None:
        header.append("label")
        columns.append(label_names(np.asarray(labels), class_names))
    if anomaly is not None:
        header.append("anomaly_score")
        columns.append([float(v) for v in np.asarray(anomaly)])
    writer.writerow(header)
    for row in zip(*columns, strict=True):
        writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
    return buf.getvalue()


def export_map(result, class_names: Sequence[str] = (), title: str = "") -> dict[str, str]:
    """Write map-<projection>-<key>.png and .csv next to the arrays of an `EmbedResult`; return their
    paths as {"map_png": ..., "map_csv": ...} ({} when no projection was made)."""
    if result.projection is None or result.indices is None:
        return {}
    idx = np.asarray(result.indices, dtype=np.int64)
    labels = None if result.labels is None else np.asarray(result.labels)[idx]
    anomaly = None if result.anomaly is None else np.asarray(result.anomaly)[idx]
    stem = f"map-{result.projection_kind}-{result.checkpoint_key}"
    eval_dir = Path(result.run_dir) / "eval"
    png_path, csv_path = eval_dir / f"{stem}.png", eval_dir / f"{stem}.csv"
    title = title or f"{result.projection_kind.upper()} map of {Path(result.run_dir).name}"
    img = render_map(result.projection, labels, class_names, anomaly, title=title)
    data = io.BytesIO()
    img.save(data, format="PNG", optimize=True)
    # files to share: readable by others, like any saved document
    write_shared_file(png_path, data.getvalue())
    write_shared_file(csv_path, map_csv(idx, result.projection, labels, class_names, anomaly).encode("utf-8"))
    return {"map_png": str(png_path), "map_csv": str(csv_path)}


__all__ = ["class_colour", "export_map", "label_names", "map_csv", "render_map", "score_colour"]
