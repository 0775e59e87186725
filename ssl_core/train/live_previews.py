"""Live previews during training: what the method does to a few fixed samples, every few seconds.

The same samples are shown all run long (held-out ones when there are any) with the same random draw,
so the GUI shows the method changing rather than the data. The method prepares them like training
batches (`method.prepare`, its modality's adapter) and its modality finishes the result for the GUI
(`method.modality.preview_values`, e.g. a table's rows back in the file's units, then `finish_preview`).
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import torch

from ssl_core.methods.base import Preview
from ssl_core.models.modes import eval_mode
from ssl_core.train.events import EventBus, PreviewReady

if TYPE_CHECKING:  # the builder imports every registry; the on-demand previews need none of them
    from ssl_core.train.builder import Components

PREVIEW_IMAGES = 8
PREVIEW_SEED = 1234  # one draw of views or masks for the whole run
ORIGINAL = "original"  # views previews show the untouched samples first, under this name


def preview_batch(parts: Components) -> torch.Tensor | None:
    """The first PREVIEW_IMAGES held-out samples (training samples when nothing is held out), as stored."""
    idx = parts.val_idx if len(parts.val_idx) else parts.train_idx
    if len(idx) == 0:
        return None
    samples, _ = parts.source.read(idx[:PREVIEW_IMAGES])
    return samples  # the method prepares them like training batches


def finished_preview(method, x: torch.Tensor, generator: torch.Generator) -> Preview:
    """`method.preview` of prepared samples `x` in eval mode, its arrays finished by the method's modality
    (float32 on the CPU, in the payload's range). "views" previews get the untouched samples first, as
    ORIGINAL, so the views can be drawn over what they were made from. Raises NotImplementedError for
    methods without one."""
    with eval_mode(method), torch.no_grad():
        preview = method.preview(x, generator)
    arrays = {ORIGINAL: x, **preview.images} if preview.kind == "views" else preview.images
    modality, adapter = method.modality, getattr(method, "input_adapter", None)

    def finish(v: torch.Tensor) -> torch.Tensor:  # in the units the preview shows (a table's own units)
        return modality.finish_preview(modality.preview_values(v, adapter))

    return dataclasses.replace(preview, images={k: finish(v) for k, v in arrays.items()})


class LivePreviews:
    """Emits PreviewReady on `events` at most every `interval_s` seconds (None: never)."""

    def __init__(self, events: EventBus, interval_s: float | None, samples: torch.Tensor | None):
        self.events = events
        self.interval_s = interval_s
        self.samples = samples
        self._last = time.perf_counter()

    def maybe_emit(self, method, device: torch.device, step: int) -> None:
        """A preview when the interval has passed since the last one."""
        if self.interval_s is None:
            return
        now = time.perf_counter()
        if now - self._last >= self.interval_s:
            self._last = now
            self.emit(method, device, step)

    def emit(self, method, device: torch.device, step: int) -> None:
        """A preview now (when previews are on and the method offers one)."""
        if self.interval_s is None or self.samples is None:
            return
        generator = torch.Generator(device=device).manual_seed(PREVIEW_SEED)
        try:
            preview = finished_preview(method, method.prepare(self.samples.to(device)), generator)
        except NotImplementedError:
            return
        self.events.emit(PreviewReady(step, preview))
