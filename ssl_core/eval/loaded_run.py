"""A saved run (`ssl_core.runs.store.load_run`, which leaves the caller's random stream alone) as
evaluation sees it: its checkpoint's embeddings (cached per checkpoint in run_dir/eval/), and the same
model at its random initialisation with its embeddings, for the baseline."""

from __future__ import annotations

import numpy as np
import torch

from ssl_core.eval.embeddings import EmbeddingCache, Embeddings, encode_source, file_digest
from ssl_core.progress import CancelToken, ProgressFn


def random_init_method(run) -> torch.nn.Module:
    """The run's method rebuilt with its config and seed: the weights training started from."""
    from ssl_core.train.builder import build_components
    from ssl_core.train.global_rng import isolated_global_stream

    with isolated_global_stream():
        return build_components(run.config, source=run.source).method


def random_init_features(
    run, batch_size: int, progress: ProgressFn | None, cancel: CancelToken | None
) -> np.ndarray:
    """Features (N, D) of every sample of the run's data by its method at random initialisation."""
    method = random_init_method(run)
    return encode_source(method, run.source, batch_size=batch_size, progress=progress, cancel=cancel)


def pretrained_embeddings(
    run, batch_size: int, progress: ProgressFn | None, cancel: CancelToken | None
) -> Embeddings:
    """Embeddings of every sample of the run's data by its checkpoint, from the cache when they are there."""

    def compute():
        feats = encode_source(run.method, run.source, batch_size=batch_size, progress=progress, cancel=cancel)
        labels = run.source.labels()
        return feats, (labels.numpy() if labels is not None else None)

    cache = EmbeddingCache(run.run_dir)
    return cache.get_or_compute(file_digest(run.checkpoint_path), compute, expected_rows=len(run.source))
