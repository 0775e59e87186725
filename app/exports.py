"""Exports from the GUI: a save dialog that starts in the last-used export folder (else the home folder,
never the working directory), files written whole or not at all with the permissions of any new file
(0644 under the usual umask), and the formats: tables as CSV, figures as PNG or SVG, reports as JSON.

A file that cannot be written (folder not writable, disk full) is a dialog naming it and what to do.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, QRect, QSize
from PySide6.QtGui import QImage, QPainter, QResizeEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QWidget

from app import dialogs
from app.settings import Prefs, last_export_dir, remember_export_dir
from app.widgets.curves import plotted_rows
from ssl_core.file_modes import write_shared_file

log = logging.getLogger(__name__)

# fmt -> the file dialog's filter
FILE_FILTERS = {
    "csv": "CSV table (*.csv)",
    "png": "PNG image (*.png)",
    "svg": "SVG drawing (*.svg)",
    "json": "JSON (*.json)",
    "npy": "NumPy array (*.npy)",
}
PNG_SCALE = 2  # pixels per screen pixel: sharp on slides and printed pages
FIGURE_MIN = QSize(640, 240)  # a figure never laid out on screen (its tab not shown yet) gets this size

_session_dir: Path | None = None  # the last export folder where no window preferences are at hand


# ---- where -----------------------------------------------------------------------------------------
def _prefs(parent: QWidget | None) -> Prefs | None:
    """The preferences of the parent's main window (a tab used on its own has none)."""
    prefs = getattr(parent.window(), "prefs", None) if parent is not None else None
    return prefs if isinstance(prefs, Prefs) else None


def start_dir(parent: QWidget | None) -> Path:
    """Where a save dialog opens: the last folder exported to, else the home folder."""
    prefs = _prefs(parent)
    folder = last_export_dir(prefs) if prefs is not None else _session_dir
    return folder if folder is not None and folder.is_dir() else Path.home()


def remember_dir(parent: QWidget | None, folder: Path) -> None:
    global _session_dir
    _session_dir = folder
    prefs = _prefs(parent)
    if prefs is not None:
        remember_export_dir(prefs, folder)


def ask_save_path(parent: QWidget | None, title: str, file_name: str, fmt: str) -> Path | None:
    """The file the user chose (with the format's suffix), or None when they cancelled."""
    start = start_dir(parent) / file_name
    chosen, _ = QFileDialog.getSaveFileName(parent, title, str(start), FILE_FILTERS[fmt])
    if not chosen:
        return None
    path = Path(chosen)
    if path.suffix.lower() != f".{fmt}":
        path = path.with_name(f"{path.name}.{fmt}")
    remember_dir(parent, path.parent)
    return path


# ---- writing ---------------------------------------------------------------------------------------
def export_file(
    parent: QWidget | None,
    what: str,
    file_name: str,
    fmt: str,
    produce: Callable[[], bytes],
    path: str | Path | None = None,
) -> Path | None:
    """Ask where (unless `path` is given), make the file's bytes and write them. `what` names the export
    in the dialog titles ("the training curves"). Returns the written path, or None."""
    out = Path(path) if path else ask_save_path(parent, f"Export {what}", file_name, fmt)
    if out is None:
        return None
    window = parent.window() if parent is not None else None
    try:
        write_shared_file(out, produce())
    except Exception as exc:  # noqa: BLE001 - a UserError (disk, folder) as advice, anything else as a bug
        dialogs.show_error(window, exc, title=f"Cannot export {what}")
        return None
    if isinstance(window, QMainWindow):
        window.statusBar().showMessage(f"Saved {what} to {out}", 8000)
    return out


def nothing_to_export(parent: QWidget | None, what: str, hint: str) -> None:
    window = parent.window() if parent is not None else None
    dialogs.present(window, "user", "Nothing to export", f"There are no {what} to export yet. {hint}")


# ---- formats ---------------------------------------------------------------------------------------
def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def _laid_out(widgets: Sequence[QWidget]) -> QSize:
    """The widgets' size stacked top to bottom. A hidden one (on a tab not shown) gets a readable size
    and is laid out for it: Qt holds back a hidden widget's resize until it is shown."""
    for w in widgets:
        if w.isVisible():
            continue
        w.resize(max(w.width(), FIGURE_MIN.width()), max(w.height(), FIGURE_MIN.height()))
        QApplication.sendEvent(w, QResizeEvent(w.size(), w.size()))
        if w.layout() is not None:
            w.layout().activate()
    QApplication.sendPostedEvents()  # the layouts inside plots (title, axes, legend) follow their size
    return QSize(max(w.width() for w in widgets), sum(w.height() for w in widgets))


def _paint(painter: QPainter, widgets: Sequence[QWidget], size: QSize) -> None:
    painter.fillRect(QRect(QPoint(0, 0), size), widgets[0].palette().window())
    y = 0
    for w in widgets:
        # QWidget's render, the widget as drawn: a plot's (QGraphicsView's) own render draws its scene
        QWidget.render(w, painter, QPoint(0, y))
        y += w.height()


def _buffer_bytes(write: Callable[[QBuffer], None]) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    write(buffer)
    buffer.close()
    return bytes(data.data())


def figure_png(widgets: Sequence[QWidget], title: str = "") -> bytes:
    """The widgets as they look on screen, stacked, at PNG_SCALE times the screen resolution."""
    size = _laid_out(widgets)
    image = QImage(size * PNG_SCALE, QImage.Format.Format_ARGB32)
    dots_per_metre = int(round(96 * PNG_SCALE / 0.0254))
    image.setDotsPerMeterX(dots_per_metre)
    image.setDotsPerMeterY(dots_per_metre)
    if title:
        image.setText("Title", title)
    painter = QPainter(image)
    # Scaled by the painter (not the image's pixel ratio, which plots would apply twice): text and
    # lines are drawn at the higher resolution, sharp.
    painter.scale(PNG_SCALE, PNG_SCALE)
    _paint(painter, widgets, size)
    painter.end()
    return _buffer_bytes(lambda buffer: image.save(buffer, "PNG"))


def figure_svg(widgets: Sequence[QWidget], title: str = "") -> bytes:
    """The widgets as vector graphics. Painted into Qt's own SVG generator: pyqtgraph 0.14's SVGExporter
    fails on the SVG paths newer Qt writes (pyqtgraph issue #3485)."""
    from PySide6.QtSvg import QSvgGenerator

    size = _laid_out(widgets)

    def write(buffer: QBuffer) -> None:
        generator = QSvgGenerator()
        generator.setOutputDevice(buffer)
        generator.setSize(size)
        generator.setViewBox(QRect(QPoint(0, 0), size))
        generator.setTitle(title or "SSL Workbench")
        painter = QPainter(generator)
        _paint(painter, widgets, size)
        painter.end()

    return _buffer_bytes(write)


FIGURE_FORMATS: dict[str, Callable[[Sequence[QWidget], str], bytes]] = {"png": figure_png, "svg": figure_svg}


def export_figure(
    parent: QWidget | None,
    widgets: Sequence[QWidget],
    what: str,
    stem: str,
    fmt: str,
    path: str | Path | None = None,
) -> Path | None:
    """Save the widgets (plots, a legend) as one PNG or SVG figure."""
    title = what[:1].upper() + what[1:]
    return export_file(parent, what, f"{stem}.{fmt}", fmt, lambda: FIGURE_FORMATS[fmt](widgets, title), path)


# ---- the app's curves ------------------------------------------------------------------------------
CURVE_HEADER = ["series", "step", "raw", "smoothed"]


def _run_stem(run_dir: Path | None, what: str) -> str:
    return f"{Path(run_dir).name}-{what}" if run_dir is not None else what


def export_training_curves(
    parent: QWidget | None, train_tab: Any, fmt: str, run_dir: Path | None = None, path: str | None = None
) -> Path | None:
    """The Train tab's loss (and its parts) and learning rate: CSV rows of series, step, raw and smoothed
    value, or the two plots as a PNG/SVG figure."""
    curve_sets = [train_tab.loss_curves, train_tab.lr_curves]
    if not any(c.names() for c in curve_sets):
        nothing_to_export(parent, "training curves", "Train a model or open a run first.")
        return None
    what, stem = "the training curves", _run_stem(run_dir, "training-curves")
    if fmt == "csv":
        rows = [row for c in curve_sets for row in c.rows()]
        return export_file(parent, what, f"{stem}.csv", fmt, lambda: csv_bytes(CURVE_HEADER, rows), path)
    return export_figure(parent, [train_tab.loss_plot, train_tab.lr_plot], what, stem, fmt, path)


def export_runs_comparison(
    parent: QWidget | None, runs_tab: Any, fmt: str, path: str | None = None
) -> Path | None:
    """The Runs tab's comparison plot: CSV rows of run, step and the plotted (smoothed) loss, or the plot
    as a PNG/SVG figure."""
    plot = runs_tab.compare_plot
    rows = plotted_rows(plot)
    if not rows:
        nothing_to_export(parent, "compared curves", "Select runs in the Runs tab and press Compare first.")
        return None
    what, stem = "the runs comparison", "runs-comparison"
    if fmt == "csv":
        shown = plot.getPlotItem().getAxis("left").labelText or "loss"
        header = ["run", "step", f"{shown}, smoothed"]
        return export_file(parent, what, f"{stem}.csv", fmt, lambda: csv_bytes(header, rows), path)
    return export_figure(parent, [plot], what, stem, fmt, path)


__all__ = [
    "CURVE_HEADER",
    "FIGURE_FORMATS",
    "FILE_FILTERS",
    "ask_save_path",
    "csv_bytes",
    "export_figure",
    "export_file",
    "export_runs_comparison",
    "export_training_curves",
    "figure_png",
    "figure_svg",
    "json_bytes",
    "nothing_to_export",
    "remember_dir",
    "start_dir",
]
