"""Tiny data sets with injected anomalies, and tiny runs trained on their normal samples."""

from __future__ import annotations

import numpy as np
import pytest

from ssl_core.config import RunConfig
from ssl_core.train.trainer import Trainer

NORMAL, ANOMALY = 0, 1  # labels; class "0" is the normal one


def injected_images(path, normal: int = 600, anomalies: int = 80, seed: int = 0):
    """8x8 digits (normal, label 0), and copies of digits with a bright 3x3 square (odd positions) or
    replaced by uniform noise (even positions) as anomalies (label 1), after the normal ones."""
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(seed)
    digits = (load_digits().images[:normal] * 255 / 16).astype(np.uint8)
    odd = digits[:anomalies].copy()
    for i, img in enumerate(odd):
        if i % 2:
            r, c = rng.integers(0, 5, 2)
            img[r : r + 3, c : c + 3] = 255
        else:
            img[:] = rng.integers(0, 256, img.shape)
    labels = np.array([NORMAL] * normal + [ANOMALY] * anomalies)
    np.savez(path, images=np.concatenate([digits, odd]), labels=labels)
    return path


def injected_series(path, normal: int = 500, anomalies: int = 80, length: int = 64, seed: int = 0):
    """Noisy sine waves (random frequency 2-4 cycles, random phase; label 0), and as anomalies (label 1)
    the same kind of wave with three spikes of +-5 (odd positions) or stuck flat from a random step on
    (even positions)."""
    rng = np.random.default_rng(seed)
    n = normal + anomalies
    t = np.arange(length) / length
    freq, phase = rng.uniform(2, 4, (n, 1)), rng.uniform(0, 2 * np.pi, (n, 1))
    x = np.sin(2 * np.pi * freq * t + phase) + rng.normal(0, 0.1, (n, length))
    for i in range(normal, n):
        if i % 2:
            at = rng.choice(length, 3, replace=False)
            x[i, at] += rng.choice([-1.0, 1.0], 3) * 5
        else:
            start = int(rng.integers(8, 32))
            x[i, start:] = x[i, start]
    labels = np.array([NORMAL] * normal + [ANOMALY] * anomalies)
    np.savez(path, series=x[:, None, :].astype(np.float32), labels=labels)
    return path


def kind_of(index: int, normal: int) -> str:
    """Which anomaly sample `index` of the files above is: "normal", "odd" (square/spike), "even"."""
    if index < normal:
        return "normal"
    return "odd" if index % 2 else "even"


def train_on_normal(runs_dir, spec: str, method: str, epochs: int, *overrides: str):
    """A run of `method` trained on the normal class of `spec` only; returns its folder."""
    config = RunConfig().with_overrides(
        [
            f"data.spec={spec!r}",
            f"method.name={method}",
            f"train.epochs={epochs}",
            "train.batch_size=64",
            "train.device=cpu",
            "data.num_workers=0",
            "data.train_on=normal",
            "data.normal_classes=['0']",
            f"runs_dir={str(runs_dir)!r}",
            *overrides,
        ]
    )
    result = Trainer(config).run()
    assert result.status == "completed", result.message
    return result.run_dir


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    return injected_images(tmp_path_factory.mktemp("images") / "digits.npz")


@pytest.fixture(scope="module")
def series_file(tmp_path_factory):
    return injected_series(tmp_path_factory.mktemp("series") / "waves.npz")
