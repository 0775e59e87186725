"""Log-mel spectrograms as pictures, for the audio preview and the audio thumbnails.

The numbers come from the engine's front end (`ssl_core.models.logmel.LogMel`, the one the mel backbones
train on), so what a person sees is what the model hears; this module only turns them into images: low
frequencies at the bottom, time to the right, the "magma" colour map over an 80 dB range below the
loudest bin (quieter is black), so a near-silent clip looks dark rather than stretched into noise.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from PySide6.QtGui import QImage

DB_RANGE = 80.0
LN_RANGE = DB_RANGE / 10.0 * np.log(10.0)  # the log-mel values are natural logs of power
DEFAULTS = {"n_mels": 64, "win_ms": 25.0, "hop_ms": 10.0}
_LUT: np.ndarray | None = None
_FRONTS: dict[tuple, Any] = {}
_FRONTS_LOCK = threading.Lock()


def colour_table() -> np.ndarray:
    """(256, 3) uint8: the magma colour map (dark to bright), made once."""
    global _LUT
    if _LUT is None:
        import pyqtgraph as pg

        lut = pg.colormap.get("magma").getLookupTable(nPts=256, alpha=False)
        _LUT = np.ascontiguousarray(np.asarray(lut, dtype=np.uint8)[:, :3])
    return _LUT


def settings_of(meta: dict | None, sample_rate: int | None = None) -> dict:
    """The spectrogram settings of a preview's meta (or a DataInfo's extra["audio"]), with defaults."""
    meta = meta or {}
    spec = meta.get("spectrogram") if isinstance(meta.get("spectrogram"), dict) else meta
    out = {key: type(value)(spec.get(key, value) or value) for key, value in DEFAULTS.items()}
    out["sample_rate"] = int(sample_rate or meta.get("sample_rate") or 16000)
    return out


def log_mel(waves: Any, settings: dict) -> np.ndarray:
    """(N, M, F) float32 log-mel spectrograms of (N, C, T) or (N, T) waveforms (channels averaged after
    the transform), computed on the CPU with the engine's LogMel (one module per setting, kept)."""
    import torch

    from ssl_core.models.logmel import LogMel

    x = torch.as_tensor(np.asarray(waves, dtype=np.float32))
    if x.ndim == 2:
        x = x[:, None]
    key = (settings["sample_rate"], settings["n_mels"], settings["win_ms"], settings["hop_ms"])
    with _FRONTS_LOCK:
        front = _FRONTS.get(key)
        if front is None:
            front = _FRONTS[key] = LogMel(*key).eval()
    with torch.no_grad():
        spec = front(torch.nan_to_num(x))  # (N, C, M, F)
    return spec.mean(dim=1).numpy().astype(np.float32, copy=False)


def value_range(specs: list[np.ndarray]) -> tuple[float, float]:
    """(low, high) shared by spectrograms shown side by side: the loudest bin and DB_RANGE below it."""
    finite = [s[np.isfinite(s)] for s in specs]
    finite = [f for f in finite if f.size]
    if not finite:
        return 0.0, 1.0
    high = float(max(f.max() for f in finite))
    low = max(float(min(f.min() for f in finite)), high - LN_RANGE)
    return low, (high if high > low else low + 1.0)


def spectrogram_image(spec: np.ndarray, low: float | None = None, high: float | None = None) -> QImage:
    """An (M, F) log-mel spectrogram as an F x M QImage: low bins at the bottom, `low`..`high` mapped
    through the colour table (no range: the spectrogram's own, as `value_range` gives it)."""
    spec = np.asarray(spec, dtype=np.float32)
    if spec.ndim != 2 or spec.size == 0:
        spec = np.zeros((1, 1), dtype=np.float32)
    if low is None or high is None:
        low, high = value_range([spec])
    scaled = np.nan_to_num((spec - low) / max(high - low, 1e-6), nan=0.0)
    index = (np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)[::-1]  # row 0: the highest band
    rgb = np.ascontiguousarray(colour_table()[index])  # (M, F, 3)
    m, f, _ = rgb.shape
    image = QImage(rgb.data, f, m, 3 * f, QImage.Format.Format_RGB888)
    return image.copy()  # own the pixels: the array goes away
