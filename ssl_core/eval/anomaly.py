"""Per-image anomaly scores from generative methods (reconstruction error), computed in batches."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ssl_core.device import select_device
from ssl_core.errors import UserError
from ssl_core.eval.embeddings import load_npy, model_input, save_npy
from ssl_core.models.modes import eval_mode
from ssl_core.progress import CancelToken, ProgressFn, check_cancel, report, report_count

log = logging.getLogger(__name__)
READ_CHUNK = 8192  # samples read from a source at a time, so streamed sources never load whole


def has_anomaly_scores(method: nn.Module) -> bool:
    return callable(getattr(method, "anomaly_scores", None))


def _method_title(method: nn.Module) -> str:
    spec = getattr(method, "spec", None)
    return getattr(spec, "title", None) or type(method).__name__


def anomaly_scores(
    method: nn.Module,
    images_uint8: torch.Tensor,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Scores (N,) float32, higher = more unusual, from `method.anomaly_scores(prepared samples)`.

    `images_uint8` are samples as the data source stores them (uint8 images, float32 series).

    The method runs in eval mode on `device` (default: the best one here); its mode and device are
    restored afterwards. Methods without a reconstruction raise UserError.
    """
    if not has_anomaly_scores(method):
        raise UserError(
            f"{_method_title(method)} does not rebuild its input, so it gives no anomaly scores; "
            "train a generative method (autoencoder, denoising, masked reconstruction, MAE, inpainting, "
            "colorization or next-step prediction).",
            field="method.name",
        )
    device = torch.device(device) if device is not None else select_device("auto")
    n = int(images_uint8.shape[0])
    batch_size = max(1, int(batch_size))
    prepare = model_input(method)
    out: list[np.ndarray] = []
    with eval_mode(method, device), torch.inference_mode():
        for start in range(0, n, batch_size):
            check_cancel(cancel)
            batch = prepare(images_uint8[start : start + batch_size].to(device))
            scores = method.anomaly_scores(batch)
            if scores.shape != (batch.shape[0],):
                raise ValueError(
                    f"{type(method).__name__}.anomaly_scores returned shape {tuple(scores.shape)}"
                )
            out.append(scores.float().cpu().numpy())
            report_count(progress, "anomaly scores", min(n, start + batch_size), n)
    return np.concatenate(out).astype(np.float32) if out else np.zeros(0, dtype=np.float32)


def source_anomaly_scores(
    method: nn.Module,
    source,
    batch_size: int = 512,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Scores (N,) float32 of every sample of `source`, read READ_CHUNK samples at a time."""
    n = len(source)
    parts = []
    for start in range(0, n, READ_CHUNK):
        check_cancel(cancel)
        end = min(n, start + READ_CHUNK)
        samples, _ = source.read(torch.arange(start, end))
        parts.append(anomaly_scores(method, samples, batch_size=batch_size, cancel=cancel))
        report(progress, end / max(1, n), f"Anomaly scores {end}/{n}")
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, dtype=np.float32)


def cached_source_anomaly_scores(
    method: nn.Module,
    source,
    path: Path,
    batch_size: int = 512,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """`source_anomaly_scores`, read from `path` when it holds intact scores of every sample (the caller
    names the file by the checkpoint's digest), else computed and saved there."""
    scores = _cached_scores(Path(path), len(source))
    if scores is None:
        scores = source_anomaly_scores(method, source, batch_size, progress, cancel)
        save_npy(Path(path), scores)
    return scores


def _cached_scores(path: Path, n: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        scores = load_npy(path)
    except (OSError, ValueError) as exc:
        log.warning("Ignoring damaged anomaly scores %s: %s", path, exc)
        return None
    if scores.shape != (n,) or not np.issubdtype(scores.dtype, np.floating):
        log.warning("Ignoring anomaly scores %s: shape %s does not match %d samples", path, scores.shape, n)
        return None
    log.info("Using cached anomaly scores %s", path)
    return scores.astype(np.float32, copy=False)
