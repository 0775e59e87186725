"""The "audio" preview renderer: clips you can see and hear, one cell per clip.

Registered for the "audio" payload type in app/widgets/previews.py. An audio Preview's arrays are (n, C, T)
waveforms in [-1, 1] at `meta["sample_rate"]`, or (n, C, M, F) log-mel spectrograms whose name starts with
"spec" (a spectrogram method's input and reconstruction). Rows are the named arrays (input, view 1,
view 2, reconstruction; a WaveGAN's real clips and its samples from fixed latents), columns the clips,
so a clip's views or its reconstruction sit under it. A waveform cell shows the waveform (pyqtgraph, made
once and updated with setData), its log-mel spectrogram (the engine's LogMel with `meta["spectrogram"]`:
n_mels, win_ms, hop_ms) and a play button; a spectrogram cell shows the spectrogram alone. A column's
spectrograms share one colour scale, so a quieter reconstruction looks quieter.

The spectrograms are computed on the GUI thread: a preview holds a few short clips (a dozen STFTs of a
second or two take a few milliseconds), and live previews arrive throttled. Playing goes through the
application's one player (app/audio_player.py), which never blocks and reports in the status line.
"""

from __future__ import annotations

import html
import logging
import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont, QImage, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.audio_player import audio_player, playback_note
from app.glyphs import glyph_icon
from app.theme import Colors, current_colors, theme_manager
from app.widgets.elided_label import ElidedLabel
from app.widgets.preview_base import MAX_SAMPLES, PreviewRenderer, as_numpy
from app.widgets.signal_preview import curve_style
from app.widgets.spectrogram import log_mel, settings_of, spectrogram_image, value_range

log = logging.getLogger(__name__)

SPEC_PREFIX = "spec"
CELL_MIN, CELL_MAX = 110, 240  # a cell's width in pixels, fitted to the visible width
WAVE_SHARE, SPEC_SHARE = 0.34, 0.5  # waveform and spectrogram heights as shares of the cell's width
UNTOUCHED = ("real", "clean")  # names drawn like the untouched input
WRAP_COLUMNS = 4  # a preview of one row (WaveGAN samples) wraps into a grid this many clips wide


def is_spectrogram(name: str, array: np.ndarray) -> bool:
    """A named array that is a log-mel spectrogram (n, C, M, F) rather than a waveform (n, C, T)."""
    return str(name).lower().startswith(SPEC_PREFIX) and array.ndim == 4


class ClipCell(QFrame):
    """One clip: a caption with a play button, the waveform (for waveforms) and the spectrogram."""

    def __init__(self, font: QFont, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("audio_clip")
        self.wave: np.ndarray | None = None  # (C, T), what the play button plays
        self.sample_rate = 16000
        self.what = "clip"
        self._image: QImage | None = None
        self.play_button = QToolButton()
        self.play_button.setObjectName("audio_play")
        self.play_button.setAutoRaise(True)
        self.play_button.setIconSize(QSize(14, 14))
        self.play_button.clicked.connect(self.play)
        self.caption = ElidedLabel("")
        self.caption.setFont(font)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("audio_waveform")
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.hideAxis("left")
        item.hideAxis("bottom")
        item.setContentsMargins(0, 0, 0, 0)
        item.setYRange(-1.0, 1.0, padding=0.04)
        self.plot.setFrameShape(QFrame.Shape.NoFrame)
        self.plot.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.zero = pg.InfiniteLine(pos=0.0, angle=0, movable=False)
        item.addItem(self.zero)
        self.curves: list[pg.PlotDataItem] = []
        self.spec = QLabel()
        self.spec.setObjectName("audio_spectrogram")
        self.spec.setScaledContents(False)
        self.spec.setAlignment(Qt.AlignmentFlag.AlignCenter)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.setSpacing(2)
        top.addWidget(self.play_button)
        top.addWidget(self.caption, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.plot)
        layout.addWidget(self.spec)

    def set_width(self, width: int) -> None:
        self.plot.setFixedSize(width, max(24, round(width * WAVE_SHARE)))
        self.spec.setFixedSize(width, max(24, round(width * SPEC_SHARE)))
        self.caption.setMaximumWidth(width - 20)
        self._show_image()

    def set_clip(self, wave: np.ndarray | None, image: QImage, caption: str, pen: Any, rate: int, what: str):
        """Show a clip: `wave` (C, T) or None for a spectrogram alone, its spectrogram image, a caption."""
        self.wave, self.sample_rate, self.what = wave, int(rate), what
        self._image = image
        self.caption.setText(caption)
        self.caption.setToolTip(caption or what)
        self.play_button.setToolTip(f"Play {what}. {playback_note()}")
        has_wave = wave is not None
        self.plot.setVisible(has_wave)
        self.play_button.setVisible(has_wave)
        if has_wave:
            channels, steps = wave.shape
            while len(self.curves) < channels:
                curve = pg.PlotDataItem(antialias=False)
                curve.setClipToView(True)
                curve.setDownsampling(auto=True, method="peak")
                self.plot.getPlotItem().addItem(curve)
                self.curves.append(curve)
            x = np.arange(steps, dtype=np.float64) / max(1, self.sample_rate)
            for c, curve in enumerate(self.curves):
                if c < channels:
                    curve.setData(x, np.nan_to_num(wave[c].astype(np.float64)))
                    curve.setPen(pen if channels == 1 else pg.mkPen(pen.color(), width=1))
                    curve.show()
                else:
                    curve.hide()
            self.plot.getPlotItem().setXRange(0, max(x[-1], 1e-3), padding=0)
        self._show_image()

    def _show_image(self) -> None:
        if self._image is None:
            return
        size = self.spec.size()
        pixmap = QPixmap.fromImage(self._image).scaled(
            size, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.spec.setPixmap(pixmap)

    def spectrogram(self) -> QImage | None:
        return self._image

    def play(self) -> None:
        if self.wave is not None:
            audio_player().play(self.wave, self.sample_rate, self.what)

    def style(self, colors: Colors) -> None:
        self.plot.setBackground(colors.plot_bg)
        self.zero.setPen(pg.mkPen(colors.border, width=1))
        self.play_button.setIcon(glyph_icon("start", colors))


class AudioPreview(PreviewRenderer):
    """Named rows of clips aligned in columns; each clip's waveform, spectrogram and play button."""

    reading_hint = (
        "Each column is one {noun}: its waveform over its log-mel spectrogram (time to the right, low "
        "pitches at the bottom, brighter is louder). ▶ plays it."
    )

    def __init__(self, max_samples: int = MAX_SAMPLES, parent: QWidget | None = None):
        super().__init__(max_samples, parent)
        self._preview: Any = None
        self._names: list[str] = []
        self._columns = 0
        self._captions: dict[str, list[str]] = {}
        self._font = QFont(self.font())
        self._font.setPointSizeF(max(6.5, self._font.pointSizeF() - 1.0))
        self.cells: dict[tuple[int, int], ClipCell] = {}  # (row, column) -> cell, made once
        self.labels: list[QLabel] = []
        self._layout_key: tuple = ()  # (names, columns, wrap) the grid is laid out for
        self.grid_widget = QWidget()
        self.grid = QGridLayout(self.grid_widget)
        self.grid.setContentsMargins(4, 4, 4, 4)
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(4)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.scroll = QScrollArea()
        self.scroll.setObjectName("audio_preview")
        self.scroll.setWidget(self.grid_widget)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.status = QLabel("")
        self.status.setObjectName("audio_status")
        self.status.setProperty("role", "muted")
        self.status.setToolTip(playback_note())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.status)
        audio_player().status.connect(self._player_status)
        self._apply_theme(current_colors())
        manager = theme_manager()
        if manager is not None:
            manager.changed.connect(self._apply_theme)

    # ---- what it shows -------------------------------------------------------------------------------
    def rows(self) -> list[str]:
        return list(self._names)

    def columns(self) -> int:
        return self._columns

    def captions(self, name: str) -> list[str]:
        return list(self._captions.get(name, []))

    def cell(self, name: str, column: int) -> ClipCell | None:
        """The cell showing clip `column` of the named array, None when not shown."""
        if name not in self._names or not 0 <= column < self._columns:
            return None
        cell = self.cells.get((self._names.index(name), column))
        return cell if cell is not None and not cell.isHidden() else None

    def play_buttons(self) -> list[QToolButton]:
        """The play buttons on screen (one per waveform clip)."""
        return [c.play_button for c in self._shown_cells() if c.wave is not None]

    def status_text(self) -> str:
        return self.status.text()

    def set_channel_names(self, names: list[str] | None) -> None:
        del names  # a clip's channels are played and summed into one spectrogram, not labelled

    def show_preview(self, preview: Any) -> None:
        from app.widgets.previews import shown_columns
        from ssl_core.methods.base import STRIP_ROWS_KEY

        meta = dict(getattr(preview, "meta", None) or {})
        settings = settings_of(meta)
        rate = settings["sample_rate"]
        strips = set(meta.get(STRIP_ROWS_KEY, ()))
        arrays: dict[str, np.ndarray] = {}
        for name, array in preview.images.items():
            a = as_numpy(array).astype(np.float32, copy=False)
            if a.ndim == 2 and not str(name).lower().startswith(SPEC_PREFIX):
                a = a[:, None, :]  # (n, T): one channel
            if a.ndim in (3, 4) and len(a):
                arrays[str(name)] = a
        if not arrays:
            return
        chosen = {k: shown_columns(len(a), self.max_samples, strip=k in strips) for k, a in arrays.items()}
        arrays = {k: a[chosen[k]] for k, a in arrays.items()}
        specs: dict[str, np.ndarray] = {}
        for name, a in arrays.items():
            if is_spectrogram(name, a):
                specs[name] = a.mean(axis=1)
            else:
                try:
                    specs[name] = log_mel(a, settings)
                except Exception:  # a clip shorter than one window: the waveform alone tells it
                    log.debug("No spectrogram for %s", name, exc_info=True)
                    specs[name] = np.zeros((len(a), 1, 1), dtype=np.float32)
        self._preview = preview
        self._names = list(arrays)
        captions = {k: list(v) for k, v in (getattr(preview, "captions", None) or {}).items()}
        self._captions = {k: [captions.get(k, [])[i] for i in chosen[k] if i < len(captions.get(k, []))]
                          for k in self._names}  # fmt: skip
        self._columns = max(len(a) for a in arrays.values())
        wrap = len(arrays) == 1 and self._columns > WRAP_COLUMNS
        self._layout(wrap)
        colors = current_colors()
        # untouched clips (a GAN's real ones too) in the neutral grey, what the method made in colour
        shown_as = ["input" if n.lower() in UNTOUCHED else n for n in self._names]
        by_shown = curve_style(list(dict.fromkeys(shown_as)), colors)
        styles = {name: by_shown[shown] for name, shown in zip(self._names, shown_as, strict=True)}
        ranges = [value_range([s[i] for s in specs.values() if i < len(s)]) for i in range(self._columns)]
        for r, name in enumerate(self._names):
            a = arrays[name]
            for c in range(len(a)):
                cell = self._cell_at(r, c)
                caps = self._captions.get(name, [])
                caption = caps[c] if c < len(caps) else ""
                wave = None if is_spectrogram(name, a) else a[c]
                image = spectrogram_image(specs[name][c], *ranges[c])
                cell.set_clip(wave, image, caption, styles[name]["pen"], rate, f"{name} {c + 1}")
                cell.show()
            for c in range(len(a), self._columns):  # a row with fewer clips than the others
                self._cell_at(r, c).hide()
        self._fit()

    # ---- layout --------------------------------------------------------------------------------------
    def _cell_at(self, row: int, column: int) -> ClipCell:
        cell = self.cells.get((row, column))
        if cell is None:
            cell = ClipCell(self._font)
            cell.style(current_colors())
            self.cells[(row, column)] = cell
        return cell

    def _shown_cells(self) -> list[ClipCell]:
        """The cells of the preview shown now, row by row."""
        return [
            cell for (r, c), cell in sorted(self.cells.items()) if r < len(self._names) and c < self._columns
            and not cell.isHidden()
        ]  # fmt: skip

    def _layout(self, wrap: bool) -> None:
        """A title line over each row of cells (one row per named array) or, for a single array, over a
        wrapped grid of its clips. Laid out again only when the names or the count change (a live preview
        updates the cells in place)."""
        key = (tuple(self._names), self._columns, wrap)
        if key == self._layout_key:
            return
        self._layout_key = key
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget()
            if widget is not None:
                widget.hide()
        for label in self.labels:
            label.deleteLater()
        self.labels = []
        count = self._columns
        per_row = WRAP_COLUMNS if wrap else max(1, count)
        line = 0
        for r, name in enumerate(self._names):
            label = QLabel(f"<b>{html.escape(name)}</b>")
            label.setObjectName("audio_row_name")
            self.labels.append(label)
            self.grid.addWidget(label, line, 0, 1, per_row)
            line += 1
            for c in range(count):
                down, col = divmod(c, per_row)
                cell = self._cell_at(r, c)
                self.grid.addWidget(cell, line + down, col)
                cell.show()
            line += math.ceil(count / per_row)
        for (r, c), cell in self.cells.items():
            if r >= len(self._names) or c >= self._columns:
                cell.hide()

    def _fit(self) -> None:
        if not self._columns:
            return
        per_row = min(self._columns, WRAP_COLUMNS) if len(self._names) == 1 else self._columns
        spare = self.scroll.viewport().width() - 8 - 6 * (per_row - 1)
        width = max(CELL_MIN, min(CELL_MAX, spare // max(1, per_row) - 4))
        for cell in self.cells.values():
            cell.set_width(int(width))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._fit()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._fit()

    # ---- status and theme ----------------------------------------------------------------------------
    def _player_status(self, text: str) -> None:
        self.status.setText(text)

    def _apply_theme(self, colors: Colors) -> None:
        for cell in self.cells.values():
            cell.style(colors)
        if self._preview is not None:
            self.show_preview(self._preview)
