"""Frozen-encoder embeddings: batched extraction without augmentation, and a per-checkpoint cache."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ssl_core.device import select_device
from ssl_core.models.modes import eval_mode
from ssl_core.progress import CancelToken, ProgressFn, check_cancel, report, report_count
from ssl_core.runs.atomic import atomic_write_bytes
from ssl_core.train.perf import training_autocast_dtype, use_channels_last

log = logging.getLogger(__name__)

EncodeFn = Callable[[torch.Tensor], torch.Tensor]
# On a CPU, batches that stay in the caches: with a 1-thread 2-core CPU, bf16 and channels_last, 32
# images per batch encode 2.3x faster than 512 for the small CNN and 1.1x for ResNet-18 at 32 px
# (bench/bench_umap.py, "Embedding extraction"). GPUs keep the caller's batch size.
CPU_EXTRACT_BATCH = 32
# Per-checkpoint arrays in run_dir/eval/; each name carries the checkpoint key.
STALE_PATTERNS = ("embeddings-*.npy", "labels-*.npy", "heldout-*.npy", "projection-*.npy", "anomaly-*.npy")


def _owner_module(encoder: nn.Module | EncodeFn) -> nn.Module | None:
    """The module whose mode and device we manage: the module itself, or a bound method's owner."""
    if isinstance(encoder, nn.Module):
        return encoder
    owner = getattr(encoder, "__self__", None)
    return owner if isinstance(owner, nn.Module) else None


def _device_for(module: nn.Module | None, device: torch.device | str | None) -> torch.device | None:
    """The device asked for; else the best one here for a module, and None (the caller's choice) for a
    plain function."""
    if device is not None:
        return torch.device(device)
    return select_device("auto") if module is not None else None


def _call_target(encoder: nn.Module | EncodeFn) -> EncodeFn:
    # SSL methods expose `encode` (backbone features); plain modules are called directly.
    if isinstance(encoder, nn.Module) and callable(getattr(encoder, "encode", None)):
        return encoder.encode
    return encoder


def model_input(module: nn.Module | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """How stored batches become model input: an SSL method's own `prepare` (its modality's adapter),
    else uint8 images scaled to [0, 1] (plain encoders)."""
    prepare = getattr(module, "prepare", None)
    if callable(prepare):
        return prepare
    return lambda batch: batch.float().div(255.0) if not batch.is_floating_point() else batch.float()


@contextmanager
def channels_last(module: nn.Module | None, device: torch.device):
    """The module's convolution weights in channels_last for the block (oneDNN's and cuDNN's fast layout),
    restored afterwards; yields whether inputs should be made channels_last too."""
    convs = [] if module is None else [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    if not convs or not use_channels_last(device):
        yield False
        return
    already = all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    try:
        if not already:
            module.to(memory_format=torch.channels_last)
        yield True
    finally:
        if not already:
            module.to(memory_format=torch.contiguous_format)


def extract_embeddings(
    encoder: nn.Module | EncodeFn,
    images_uint8: torch.Tensor,
    batch_size: int = 512,
    device: torch.device | str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    amp: bool = True,
) -> np.ndarray:
    """Encode samples as a source stores them (images (N, C, H, W) uint8, series (N, C, T) float32)
    -> float32 array (N, D), in eval mode, without augmentation.

    `encoder` is an nn.Module (an SSLMethod's `encode` is used when it has one) or a function; a bound
    method of a module counts as that module. Modules run on `device` (default: the best one here) and
    are moved back afterwards; plain functions run on `device` or, by default, the CPU. The module's
    train/eval mode is restored even when extraction fails or is cancelled. Convolutions run in
    channels_last and, with `amp`, in the device's autocast precision; on a CPU `batch_size` is capped
    at CPU_EXTRACT_BATCH (see there).
    """
    if images_uint8.dim() < 2:
        raise ValueError(f"samples must be (N, ...); got shape {tuple(images_uint8.shape)}")
    module = _owner_module(encoder)
    device = _device_for(module, device) or torch.device("cpu")
    fn = _call_target(encoder)
    n = int(images_uint8.shape[0])
    batch_size = max(1, int(batch_size))
    if device.type == "cpu":
        batch_size = min(batch_size, CPU_EXTRACT_BATCH)
    prepare = model_input(module)
    cuda = device.type == "cuda"
    amp_dtype = training_autocast_dtype(device, amp)  # the training step's precision: bf16 on AMX CPUs
    chunks: list[np.ndarray] = []
    with (
        eval_mode(module, device),
        channels_last(module, device) as nhwc,
        torch.inference_mode(),
    ):
        for start in range(0, n, batch_size):
            check_cancel(cancel)
            batch = images_uint8[start : start + batch_size]
            if cuda:
                batch = batch.pin_memory()
            x = prepare(batch.to(device, non_blocking=cuda))
            if nhwc and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            autocast = (
                torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else nullcontext()
            )
            with autocast:
                out = fn(x)
            chunks.append(out.float().reshape(out.shape[0], -1).cpu().numpy())
            report_count(progress, "embedding images", min(n, start + batch_size), n)
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32)


def _plural_of(source) -> str:
    """What the source's samples are called ("images", "series", "rows"), for progress messages."""
    info = getattr(source, "info", None)
    if info is None:
        return "samples"
    from ssl_core.modalities import modality_of

    return modality_of(info).plural


def encode_source(
    encoder: nn.Module | EncodeFn,
    source,
    indices: torch.Tensor | None = None,
    batch_size: int = 512,
    device: torch.device | str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    chunk: int = 8192,
) -> np.ndarray:
    """`extract_embeddings` over a DataSource (all images, or `indices`), reading `chunk` images at a time
    so that sources streamed from disk never have to fit in memory at once."""
    indices = torch.arange(len(source)) if indices is None else torch.as_tensor(indices, dtype=torch.long)
    module = _owner_module(encoder)
    device = _device_for(module, device)
    n = len(indices)
    parts = []
    noun = _plural_of(source)
    # One move to the device (and back) for all chunks, not one per chunk.
    with eval_mode(module, device):
        for start in range(0, n, chunk):
            check_cancel(cancel)
            images, _ = source.read(indices[start : start + chunk])

            def chunk_progress(
                fraction: float, message: str, start: int = start, size: int = len(images)
            ) -> None:
                done = start + fraction * size
                report(progress, done / n, f"embedding {int(done):,} of {n:,} {noun}")

            parts.append(extract_embeddings(encoder, images, batch_size, device, chunk_progress, cancel))
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(parts)


def raw_pixel_features(images_uint8: torch.Tensor, max_side: int | None = None) -> np.ndarray:
    """The raw-pixel baseline: images flattened to (N, C*H*W) float32 in [0, 1].

    `max_side` area-averages larger images down to at most that many pixels a side first, which keeps
    the baseline affordable on big images (a 224 px RGB image would give 150,528 features).
    Probes standardise features with training-split statistics, so no scaling happens here
    (doing it over all images would leak held-out statistics into the baseline).
    """
    images = images_uint8.detach().cpu()
    x = images.float()
    if images.dtype == torch.uint8:
        x = x / 255.0
    if max_side is not None and max(x.shape[-2:]) > max_side:
        h, w = x.shape[-2:]
        scale = max_side / max(h, w)
        x = torch.nn.functional.adaptive_avg_pool2d(x, (max(1, round(h * scale)), max(1, round(w * scale))))
    return x.reshape(x.shape[0], -1).numpy().astype(np.float32, copy=False)


def raw_features_of_source(method: nn.Module, source, chunk: int = 4096) -> np.ndarray:
    """The raw-input baseline of every sample of `source`, as the method's modality defines it (area-averaged
    pixels for images, standardised values for series), read `chunk` samples at a time."""
    indices = torch.arange(len(source))
    adapter = model_input(method)
    modality = method.modality
    parts = [
        modality.raw_features(source.read(indices[s : s + chunk])[0], adapter)
        for s in range(0, len(indices), chunk)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


def file_digest(path: Path, length: int = 16) -> str:
    """Short SHA-256 of a file's contents: a cache key that changes whenever a checkpoint does."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


def save_npy(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_npy(path: Path) -> np.ndarray:
    return np.load(Path(path), allow_pickle=False)


@dataclass(frozen=True)
class Embeddings:
    """Features of every sample of a data source (in source order) from one set of weights.

    The one result type of embedding: what `EmbeddingCache` loads and saves, what evaluation probes and
    what `embed_run` returns (inside its `EmbedResult`).
    """

    key: str  # identifies the weights: `file_digest(checkpoint)`, or e.g. f"step{step}"
    features: np.ndarray  # (N, D) float32
    labels: np.ndarray | None  # (N,) int64, or None for unlabelled data

    def __len__(self) -> int:
        return int(self.features.shape[0])


class EmbeddingCache:
    """Embeddings of every image of a run's data (source order), per checkpoint, in `run_dir/eval/`.

    Files: `embeddings-<key>.npy` (N, D) float32 and, for labelled data, `labels-<key>.npy` (N,) int64.
    `key` identifies the weights (`file_digest(checkpoint)`, or e.g. `f"step{step}"`), so a newer
    checkpoint never reads stale embeddings; saving a new key removes the arrays of older keys
    (embeddings, labels, projections, anomaly scores).
    Damaged or mis-shaped files count as missing and are recomputed. Loads use allow_pickle=False.
    """

    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir) / "eval"

    def embeddings_path(self, key: str) -> Path:
        return self.dir / f"embeddings-{key}.npy"

    def labels_path(self, key: str) -> Path:
        return self.dir / f"labels-{key}.npy"

    def load(self, key: str, expected_rows: int | None = None) -> Embeddings | None:
        path = self.embeddings_path(key)
        if not path.is_file():
            return None
        try:
            feats = load_npy(path)
            labels_file = self.labels_path(key)
            labels = load_npy(labels_file) if labels_file.is_file() else None
        except (OSError, ValueError) as exc:
            log.warning("Ignoring damaged embedding cache %s: %s", path, exc)
            return None
        if feats.ndim != 2 or (expected_rows is not None and feats.shape[0] != expected_rows):
            log.warning("Ignoring embedding cache %s: shape %s does not match the data", path, feats.shape)
            return None
        if labels is not None and labels.shape != (feats.shape[0],):
            log.warning("Ignoring embedding cache %s: labels do not match", path)
            return None
        return Embeddings(key, feats.astype(np.float32, copy=False), labels)

    def save(self, key: str, embeddings: np.ndarray, labels: np.ndarray | None = None) -> Path:
        path = self.embeddings_path(key)
        save_npy(path, embeddings.astype(np.float32, copy=False))
        if labels is not None:
            save_npy(self.labels_path(key), np.asarray(labels, dtype=np.int64))
        else:
            self.labels_path(key).unlink(missing_ok=True)
        self.prune(keep=key)
        return path

    def prune(self, keep: str) -> None:
        """Remove arrays derived from other checkpoints (embeddings, labels, projections, anomaly scores)."""
        for pattern in STALE_PATTERNS:
            for old in self.dir.glob(pattern):
                if f"-{keep}" not in old.name:
                    old.unlink(missing_ok=True)

    def get_or_compute(
        self,
        key: str,
        compute: Callable[[], tuple[np.ndarray, np.ndarray | None]],
        expected_rows: int | None = None,
    ) -> Embeddings:
        """The cached embeddings of `key`, else `compute()`'s (features, labels), saved under `key`."""
        cached = self.load(key, expected_rows)
        if cached is not None:
            log.info("Using cached embeddings %s", self.embeddings_path(key))
            return cached
        feats, labels = compute()
        self.save(key, feats, labels)
        return Embeddings(key, feats, labels)
