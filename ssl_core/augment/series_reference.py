"""Per-sample NumPy version of `SeriesAugment`: the baseline the series augmentation benchmark compares with.

This is what a typical PyTorch time-series SSL pipeline does (the TS-TCC code, Iwana & Uchida's
`time_series_augmentation`, most HAR repositories): a `Dataset.__getitem__` augments one (C, T) sample at
a time on the CPU with NumPy and SciPy (`np.interp` per channel for resampling, `CubicSpline` for warp
curves, `Rotation.from_rotvec` for sensor rotations), and a DataLoader stacks the views into a batch.

It applies the same recipe as `SeriesAugment`: the same ops in the same order, each with the same
probability and the same parameter distributions, so its views have the same statistics (shapes, noise
levels, crop lengths, ...). The random numbers differ: NumPy's generator is drawn per sample, in sample
order, while the engine draws per op for the whole batch. Each op is vectorised within the sample, as
people write it; only the loop over samples (and over channels for `np.interp`, which is 1-D) is Python.
Engine code must not use this module; it exists to be measured against and to check the engine's maths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.interpolate import CubicSpline
from scipy.spatial.transform import Rotation

from ssl_core.augment.series import MIN_SPEED, SeriesViewRecipe


def _curve(values: np.ndarray, length: int, mode: str) -> np.ndarray:
    """Curves through knot values (..., K) evenly spaced over 0 .. length - 1, evaluated at every step."""
    steps = np.linspace(0, length - 1, values.shape[-1])
    t = np.arange(length)
    if length == 1:
        return values[..., :1].copy()
    if mode == "linear":
        flat = values.reshape(-1, values.shape[-1])
        return np.stack([np.interp(t, steps, v) for v in flat]).reshape(*values.shape[:-1], length)
    return CubicSpline(steps, values, axis=-1, bc_type="natural")(t)


def _resample(x: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """x (C, T) read at fractional positions with linear interpolation (edge values outside)."""
    t = np.arange(x.shape[1])
    return np.stack([np.interp(positions, t, channel) for channel in x])


class NumpySeriesAugment:
    """One view of one (C, T) sample per call, with a `np.random.Generator`; same recipe as SeriesAugment."""

    def __init__(self, recipe: SeriesViewRecipe, channels: int):
        self.recipe = recipe
        self.channels = channels

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        r = self.recipe
        if x.ndim != 2 or x.shape[0] != self.channels:
            raise ValueError(f"expected a series ({self.channels}, T); got shape {x.shape}")
        channels, length = x.shape
        x = x.astype(np.float32, copy=True)

        if r.crop_p > 0 and rng.random() < r.crop_p:
            share = rng.uniform(*r.crop_scale)
            start = rng.random() * (1.0 - share) * length
            positions = start + (np.arange(length) + 0.5) * share - 0.5
            x = _resample(x, positions)

        if r.time_warp_p > 0 and length > 1 and rng.random() < r.time_warp_p:
            knots = 1.0 + r.time_warp_sigma * rng.standard_normal(r.time_warp_knots + 2)
            speed = np.maximum(_curve(knots, length, r.warp_mode), MIN_SPEED)
            tau = np.concatenate([[0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1]))])
            x = _resample(x, tau * (length - 1) / tau[-1])

        if r.permute_p > 0 and length > 1 and rng.random() < r.permute_p:
            count = int(rng.integers(2, r.permute_max_segments + 1))
            steps = np.arange(length)
            if r.permute_mode == "equal":
                segments = np.array_split(steps, count)
            else:
                cuts = np.sort(rng.choice(np.arange(1, length), min(count, length) - 1, replace=False))
                segments = np.split(steps, cuts)
            order = rng.permutation(len(segments))
            x = x[:, np.concatenate([segments[i] for i in order])]

        if r.magnitude_warp_p > 0 and rng.random() < r.magnitude_warp_p:
            knots = 1.0 + r.magnitude_warp_sigma * rng.standard_normal((channels, r.magnitude_warp_knots + 2))
            x = x * _curve(knots, length, r.warp_mode)

        if r.scale_p > 0 and rng.random() < r.scale_p:
            x = x * (1.0 + r.scale_sigma * rng.standard_normal((channels, 1)))

        if r.rotate_p > 0 and channels % 3 == 0 and rng.random() < r.rotate_p:
            axis = rng.standard_normal(3)
            limit = math.radians(r.rotate_max_degrees)
            angle = rng.uniform(-limit, limit)
            matrix = Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_matrix()
            x = np.einsum("ij,gjt->git", matrix, x.reshape(-1, 3, length)).reshape(channels, length)

        if r.jitter_p > 0 and r.jitter_sigma[1] > 0 and rng.random() < r.jitter_p:
            x = x + rng.normal(0.0, rng.uniform(*r.jitter_sigma), size=x.shape)

        if r.channel_drop_p > 0 and channels > 1:
            keep = rng.random(channels) >= r.channel_drop_p
            if keep.any():
                x = np.where(keep[:, None], x, 0.0)
        return x.astype(np.float32)


class NumpySeriesPairs(torch.utils.data.Dataset):
    """A Dataset of (view 1, view 2) float32 tensors made per sample in `__getitem__`, the usual way.

    `series` is (N, C, T). Pass `NumpySeriesPairs.seed_worker` as the DataLoader's worker_init_fn so
    each worker draws its own random numbers (otherwise every worker repeats the same ones).
    """

    def __init__(self, series: np.ndarray, recipes: Sequence[SeriesViewRecipe], seed: int = 0):
        if series.ndim != 3:
            raise ValueError(f"series must be (N, C, T); got shape {series.shape}")
        if len(recipes) != 2:
            raise ValueError(f"NumpySeriesPairs needs two recipes; got {len(recipes)}")
        self.series = series
        channels = series.shape[1]
        self.views = [NumpySeriesAugment(recipe, channels) for recipe in recipes]
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.series)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        sample = self.series[index]
        first, second = (torch.from_numpy(view(sample, self.rng)) for view in self.views)
        return first, second

    @staticmethod
    def seed_worker(worker_id: int) -> None:
        info = torch.utils.data.get_worker_info()
        if info is not None:
            info.dataset.rng = np.random.default_rng([info.seed % 2**32, worker_id])
