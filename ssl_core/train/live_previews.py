"""Live previews during training: what the method does to a few samples, every few seconds.

Which samples depends on what the preview is for (its kind, `MethodSpec.preview_kind`):
- "views" (joint-embedding methods: SimCLR, MoCo, BYOL, SimSiam, Barlow Twins, VICReg, SCARF, ...) show
  what the method is learning from right now: the first few samples of the batch just trained on, with
  fresh random views drawn from a generator seeded by (run seed, step). Every preview differs, and so do
  runs with different seeds (different batches). Only those few samples are taken, and only when a
  preview is due; the batch is already on the training device, so nothing large is copied.
- every other kind (reconstructions: autoencoder, MAE, denoising, tables; forecasts; pretext puzzles)
  shows the same few samples all run (held-out ones when there are any) with the same random draw
  (masks, noise, puzzles), so the GUI shows the model improving on them rather than the data changing.

The method prepares the samples like training batches (`method.prepare`, its modality's adapter) and its
modality finishes the result for the GUI (`method.modality.preview_values`, e.g. a table's rows back in
the file's units, then `finish_preview`). Each live preview carries a line saying where its samples came
from, in `Preview.meta[CAPTION_KEY]`, which the GUI shows under it.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import numpy as np
import torch

from ssl_core.methods.base import Preview
from ssl_core.models.modes import eval_mode
from ssl_core.train.events import EventBus, PreviewReady
from ssl_core.train.preview_archive import PreviewArchive

if TYPE_CHECKING:  # the builder imports every registry; the on-demand previews need none of them
    from ssl_core.train.builder import Components

PREVIEW_IMAGES = 8
PREVIEW_SEED = 1234  # one draw of masks, noise or puzzles for a whole run (fixed-sample previews)
ORIGINAL = "original"  # views previews show the untouched samples first, under this name
BATCH_KINDS = frozenset({"views"})  # preview kinds drawn from the current training batch, fresh each time
CAPTION_KEY = "live_caption"  # Preview.meta key: where a live preview's samples came from, in words


def preview_batch(parts: Components) -> torch.Tensor | None:
    """PREVIEW_IMAGES held-out samples (training samples when nothing is held out), as stored, evenly
    spaced over the held-out set: sources stored in order (spoken words, one word after another) then show
    different kinds of sample rather than the first few of one."""
    idx = torch.as_tensor(parts.val_idx if len(parts.val_idx) else parts.train_idx)
    if len(idx) == 0:
        return None
    spaced = torch.linspace(0, len(idx) - 1, min(PREVIEW_IMAGES, len(idx))).round().long()
    samples, _ = parts.source.read(idx[spaced])
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

    finished = dataclasses.replace(preview, images={k: finish(v) for k, v in arrays.items()})
    return modality.describe_preview(finished, adapter)  # e.g. a text's ids read back as words


def step_seed(seed: int, step: int) -> int:
    """A generator seed for the preview at `step` of a run seeded `seed`: unrelated for neighbouring pairs."""
    state = np.random.SeedSequence([int(seed) % (1 << 63), int(step) % (1 << 63)]).generate_state(
        1, np.uint64
    )
    return int(state[0] >> np.uint64(1))  # 63 bits: every torch device accepts it


class LivePreviews:
    """Emits PreviewReady on `events` at most every `interval_s` seconds (None: never), and hands the
    previews of the archive's planned steps to `archive` (live previews on or not).

    `samples`: the fixed samples (as stored) for kinds outside BATCH_KINDS; `kind`: the method's preview
    kind; `seed`: the run's seed, mixed with the step for the fresh views of BATCH_KINDS previews."""

    def __init__(
        self,
        events: EventBus,
        interval_s: float | None,
        samples: torch.Tensor | None,
        *,
        kind: str,
        seed: int = 0,
        archive: PreviewArchive | None = None,
    ):
        self.events = events
        self.archive = archive  # keeps a few previews on disk for the run report (train/preview_archive.py)
        self.interval_s = interval_s
        self.samples = samples
        self.kind = kind
        self.seed = int(seed)
        self.last_step: int | None = None  # the step of the newest preview emitted
        self._last = time.perf_counter()

    @property
    def from_batch(self) -> bool:
        """Whether previews show the current training batch (else the fixed samples)."""
        return self.kind in BATCH_KINDS

    def maybe_emit(
        self,
        method,
        device: torch.device,
        step: int,
        batch: torch.Tensor | None = None,
        *,
        final: bool = False,
    ) -> None:
        """A preview when the interval has passed since the last one, or at the `final` step.
        `batch`: the batch just trained on, as stored, on `device`; only a few samples of it are used."""
        keep = self.archive is not None and self.archive.due(step, final)
        now = time.perf_counter()
        live = self.interval_s is not None and (final or now - self._last >= self.interval_s)
        if live:
            self._last = now
        if live or keep:
            self._publish(self._make(method, device, step, batch), step, live=live, keep=keep)

    def emit_final(self, method, device: torch.device, step: int) -> None:
        """The run's last preview, unless one was already shown (and kept) at this step (the usual case)."""
        live = self.interval_s is not None and self.last_step != step
        keep = self.archive is not None and self.archive.due(step, final=True)
        if live or keep:
            self._publish(self._make(method, device, step), step, live=live, keep=keep)

    def emit(self, method, device: torch.device, step: int, batch: torch.Tensor | None = None) -> None:
        """A preview now (when previews are on and the method offers one)."""
        if self.interval_s is not None:
            self._publish(self._make(method, device, step, batch), step, live=True, keep=False)

    def _publish(self, preview: Preview | None, step: int, *, live: bool, keep: bool) -> None:
        if preview is None:
            return
        if keep and self.archive is not None:
            self.archive.save(step, preview)
        if live:
            self.last_step = step
            self.events.emit(PreviewReady(step, preview))

    def _make(
        self, method, device: torch.device, step: int, batch: torch.Tensor | None = None
    ) -> Preview | None:
        """The preview of `step` with its caption, or None when there are no samples or no preview."""
        if self.from_batch and batch is not None:
            samples, seed = batch[:PREVIEW_IMAGES], step_seed(self.seed, step)
            caption = f"From the training batch at step {step:,}: new random views of the samples it is learning from now"
        elif self.from_batch:  # no batch at hand (a run resumed at its end): new views of the fixed samples
            samples, seed = self.samples, step_seed(self.seed, step)
            caption = f"Live from training, step {step:,}: new random views of a few fixed samples"
        else:
            samples, seed = self.samples, PREVIEW_SEED
            caption = f"Live from training, step {step:,}: the same samples all run, to watch them improve"
        if samples is None or len(samples) == 0:
            return None
        generator = torch.Generator(device=device).manual_seed(seed)
        try:
            preview = finished_preview(method, method.prepare(samples.to(device)), generator)
        except NotImplementedError:
            return None
        return dataclasses.replace(preview, meta={**preview.meta, CAPTION_KEY: caption})
