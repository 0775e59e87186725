"""On-demand previews: what a method does to a few images (augmented view pairs, reconstructions,
pretext predictions), from a saved run's trained weights or from an untrained config.

The GUI's Views tab calls `preview_images` on a worker thread; the CLI or a notebook can call it too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ssl_core.config import RunConfig
from ssl_core.methods.base import Preview
from ssl_core.train.live_previews import finished_preview


def _resolve(what: Any, source: Any) -> tuple[Any, Any, torch.Tensor, torch.Tensor]:
    """(method, source, val_idx, train_idx) for a run folder, a LoadedRun or a RunConfig."""
    from ssl_core.runs.store import LoadedRun, load_run
    from ssl_core.train.builder import build_components
    from ssl_core.train.global_rng import isolated_global_stream

    if isinstance(what, str | Path):
        what = load_run(what)
    if isinstance(what, LoadedRun):
        return what.method, what.source, what.val_idx, what.train_idx
    if isinstance(what, RunConfig):
        # Building a model seeds torch's global RNG; keep the caller's random stream untouched.
        with isolated_global_stream():
            parts = build_components(what, source=source)
        return parts.method, parts.source, parts.val_idx, parts.train_idx
    raise TypeError(
        f"preview_images needs a run folder, a LoadedRun or a RunConfig, not {type(what).__name__}"
    )


def preview_images(what: str | Path | Any, n: int = 8, seed: int = 0, *, source: Any = None) -> Preview:
    """A Preview of the first `n` held-out images (training images when nothing is held out).

    `what` is a run folder or a `LoadedRun` (trained weights) or a `RunConfig` (the method as training
    would start it; pass `source` to reuse an opened data source). The same images come back on every
    call; `seed` draws the augmentations, so a new seed gives new views of the same images.
    Images are float (n, C, H, W) in [0, 1] on the CPU. For "views" previews the untouched images come
    first, named "original", so the two augmented views can be shown under what they were made from.
    """
    method, src, val_idx, train_idx = _resolve(what, source)
    idx = val_idx if len(val_idx) else train_idx
    samples, _ = src.read(idx[: max(1, int(n))])
    x = method.prepare(samples)
    return finished_preview(method, x, torch.Generator().manual_seed(int(seed)))
