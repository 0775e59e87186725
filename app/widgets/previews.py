"""Preview renderers, one per payload type, the way napari maps each layer type to its controls.

A method's Preview (ssl_core.methods.base.Preview) carries named arrays and a `payload` saying how to
draw them; `PREVIEW_RENDERERS` maps each payload type to the widget class that draws it:

- "image_grid": `ImageGridView`, one row per named array of (n, C, H, W) images in [0, 1];
- "signal": `SignalPreview` (app/widgets/signal_preview.py), one small plot per sample overlaying the
  named (n, C, T) curves;
- "table_rows": `TablePreview` (app/widgets/table_preview.py), a block of table rows per sample (input,
  corrupted, reconstructed), the named (n, F) rows in the data's units, changed and hidden cells marked;
- "token_text": `TextPreview` (app/widgets/text_preview.py), one card per row of `meta["text_rows"]`:
  masked sentences with the model's top guesses, continuations, nearest words, views of a sentence;
- "audio": `AudioPreview` (app/widgets/audio_preview.py), one cell per clip of the named (n, C, T)
  waveforms (waveform, log-mel spectrogram, play button) or (n, C, M, F) "spec*" spectrograms.

`PreviewPanel` holds one renderer per payload type met so far (created on first use, then reused, so
plot items are made once and updated with setData) and shows the one the newest preview needs; the
Views tab and the Train tab's live preview both use it. Adding a payload type is one renderer class
(a `PreviewRenderer`, app/widgets/preview_base.py) plus its entry in `PREVIEW_RENDERERS`
(docs/modalities.md, step 5).
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel, QScrollArea, QStackedWidget, QVBoxLayout, QWidget

from app.imaging import qimages
from app.widgets.audio_preview import AudioPreview
from app.widgets.image_grid import RowGrid
from app.widgets.preview_base import MAX_SAMPLES, PreviewRenderer, as_numpy
from app.widgets.signal_preview import SignalPreview
from app.widgets.table_preview import TablePreview
from app.widgets.text_preview import TextPreview

log = logging.getLogger(__name__)

# The Preview.meta key of a live preview's line saying where its samples came from; the same as
# ssl_core.train.live_previews.CAPTION_KEY (not imported: the GUI starts without loading torch).
LIVE_CAPTION_KEY = "live_caption"


def live_preview_caption(preview: Any, step: int | None) -> str:
    """The line under a live preview: where its samples came from (e.g. "From the training batch at step
    120: ..."), or just its step; empty for previews not from training (step None)."""
    if step is None:
        return ""
    meta = getattr(preview, "meta", None) or {}
    return str(meta.get(LIVE_CAPTION_KEY) or f"Live from training, step {step:,}")


# ---- images ------------------------------------------------------------------------------------------
def shown_columns(count: int, limit: int, strip: bool = False) -> list[int]:
    """Which of a row's `count` samples a view of `limit` columns shows: the first ones, or for an ordered
    strip (an interpolation) both ends and evenly spaced steps between them."""
    if count <= limit or not strip or limit < 2:
        return list(range(min(count, limit)))
    return sorted({round(i * (count - 1) / (limit - 1)) for i in range(limit)})


class ImageGridView(PreviewRenderer):
    """Named rows of images aligned in columns (view 1 over view 2, input over reconstruction), sized
    so the columns fill the visible width within readable limits."""

    def __init__(self, max_samples: int = MAX_SAMPLES, parent: QWidget | None = None):
        super().__init__(max_samples, parent)
        self.grid = RowGrid(cell=120)
        self.grid.setObjectName("preview_image_grid")
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.grid)
        self.scroll.setWidgetResizable(False)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll)

    def show_preview(self, preview: Any) -> None:
        from ssl_core.methods.base import STRIP_ROWS_KEY

        strips = set(preview.meta.get(STRIP_ROWS_KEY, ()))
        rows = []
        for name, images in preview.images.items():
            keep = shown_columns(len(images), self.max_samples, strip=name in strips)
            caps = list(preview.captions.get(name, []))
            caps = [caps[i] for i in keep if i < len(caps)]
            rows.append((name, qimages(as_numpy(images)[keep]), caps))
        self.grid.set_rows(rows)
        self._fit()

    def rows(self) -> list[str]:
        return self.grid.row_names()

    def columns(self) -> int:
        return self.grid.columns()

    def captions(self, name: str) -> list[str]:
        return next((list(caps) for n, _, caps in self.grid._rows if n == name), [])

    def images(self, name: str) -> list[QImage]:
        """The images shown in one named row (e.g. "view 1"), empty when there is no such row."""
        return next((list(images) for n, images, _ in self.grid._images if n == name), [])

    def _fit(self) -> None:
        columns = self.grid.columns()
        if not columns:
            return
        gap = 8 * (columns + 1)
        width = self.scroll.viewport().width() - self.grid.label_width - gap
        self.grid.set_cell(max(40, min(160, width // columns)))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._fit()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)  # previews that arrived while hidden were sized for a hidden viewport
        self._fit()


# payload type -> renderer class
PREVIEW_RENDERERS: dict[str, type[PreviewRenderer]] = {
    "image_grid": ImageGridView,
    "signal": SignalPreview,
    "table_rows": TablePreview,
    "token_text": TextPreview,
    "audio": AudioPreview,
}


class PreviewPanel(QStackedWidget):
    """Shows each Preview with the renderer registered for its payload type (one instance per type)."""

    def __init__(
        self, max_samples: int = MAX_SAMPLES, placeholder: str = "Nothing to show yet.", parent=None
    ):
        super().__init__(parent)
        self.max_samples = max_samples
        self.renderers: dict[str, PreviewRenderer] = {}
        self.renderer: PreviewRenderer | None = None  # the one on screen
        self._channel_names: list[str] | None = None
        self.placeholder = QLabel(placeholder)
        self.placeholder.setObjectName("preview_placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setProperty("role", "muted")
        self.addWidget(self.placeholder)

    def renderer_for(self, payload: str) -> PreviewRenderer | None:
        renderer = self.renderers.get(payload)
        if renderer is None:
            cls = PREVIEW_RENDERERS.get(payload)
            if cls is None:
                return None
            renderer = cls(self.max_samples)
            renderer.set_channel_names(self._channel_names)
            self.renderers[payload] = renderer
            self.addWidget(renderer)
        return renderer

    def show_preview(self, preview: Any) -> None:
        payload = getattr(preview, "payload", "image_grid") or "image_grid"
        renderer = self.renderer_for(payload)
        if renderer is None:
            log.warning("No preview renderer for payload %r", payload)
            self.clear(f"This preview ({payload}) cannot be drawn by this version of SSL Workbench.")
            return
        renderer.show_preview(preview)
        self.renderer = renderer
        self.setCurrentWidget(renderer)

    def clear(self, text: str | None = None) -> None:
        if text is not None:
            self.placeholder.setText(text)
        self.renderer = None
        self.setCurrentWidget(self.placeholder)

    def set_channel_names(self, names: list[str] | None) -> None:
        self._channel_names = list(names) if names else None
        for renderer in self.renderers.values():
            renderer.set_channel_names(self._channel_names)

    def rows(self) -> list[str]:
        return self.renderer.rows() if self.renderer is not None else []

    def columns(self) -> int:
        return self.renderer.columns() if self.renderer is not None else 0

    def captions(self, name: str) -> list[str]:
        return self.renderer.captions(name) if self.renderer is not None else []
