"""What every preview renderer offers the panel that shows it (app/widgets/previews.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtWidgets import QWidget

MAX_SAMPLES = 8


def as_numpy(array: Any) -> np.ndarray:
    """A preview array (a torch tensor or array-like) as a NumPy array."""
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    return np.asarray(array)


class PreviewRenderer(QWidget):
    """What every renderer offers its panel: draw a Preview, and say what it shows."""

    # How to read this kind of picture ({noun}: the data's word for one sample), shown under the
    # method's explanation; empty when the explanation says it all.
    reading_hint = ""

    def __init__(self, max_samples: int = MAX_SAMPLES, parent: QWidget | None = None):
        super().__init__(parent)
        self.max_samples = int(max_samples)

    def show_preview(self, preview: Any) -> None:
        raise NotImplementedError

    def rows(self) -> list[str]:
        """The names of the arrays shown (rows of a grid, curves of a plot)."""
        raise NotImplementedError

    def columns(self) -> int:
        """How many samples are shown."""
        raise NotImplementedError

    def captions(self, name: str) -> list[str]:
        """The captions shown for one named array (one per sample), empty when it has none."""
        raise NotImplementedError

    def set_channel_names(self, names: list[str] | None) -> None:
        """The data's channel names, for renderers that label channels."""
