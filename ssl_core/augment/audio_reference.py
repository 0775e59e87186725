"""Per-sample NumPy/SciPy version of `AudioAugment`: the baseline an audio augmentation benchmark compares with.

This is what a typical PyTorch audio SSL pipeline does (the BYOL-A and COLA reference code, audiomentations,
most wav2vec-era recipes): a `Dataset.__getitem__` augments one (C, T) clip at a time on the CPU with NumPy
and SciPy (`scipy.signal.resample_poly`, a polyphase resampler with a Kaiser-windowed anti-aliasing filter,
for speed changes; `np.roll` or slicing for shifts; another clip of the dataset for mixup), and a
DataLoader stacks the views into a batch.

It applies the same recipe as `AudioAugment`: the same ops in the same order, each with the same probability
and the same parameter distributions, so its views have the same statistics (loudness changes, SNRs,
crop lengths, pitch shifts). The random numbers differ (NumPy's generator, drawn per clip in clip order),
the speed factor is rounded to a ratio of small integers (what `resample_poly` takes), and the mixup
partner is a random clip of the dataset rather than of the batch. Engine code must not use this module;
it exists to be measured against and to check the engine's maths.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np
import torch
from scipy.signal import resample_poly

from ssl_core.augment.audio import AudioViewRecipe

# resample_poly takes up / down integers; the speed factor is rounded to a fraction with this denominator
# at most (0.01 steps around 1: 1.1 = 11/10, 0.93 = 93/100).
MAX_DENOMINATOR = 100


def _power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64)))


def speed_change(x: np.ndarray, factor: float) -> np.ndarray:
    """x (C, T) played `factor` times faster by polyphase resampling, centred, cut or zero-padded to T."""
    length = x.shape[1]
    ratio = Fraction(1.0 / factor).limit_denominator(MAX_DENOMINATOR)  # new length / old length
    if ratio == 1:
        return x.copy()
    y = resample_poly(x, ratio.numerator, ratio.denominator, axis=1)
    out = np.zeros_like(x)
    offset = (length - y.shape[1]) // 2  # centre on centre, as the engine's speed op
    if offset >= 0:
        out[:, offset : offset + y.shape[1]] = y
    else:
        out[:] = y[:, -offset : -offset + length]
    return out


class NumpyAudioAugment:
    """One view of one (C, T) clip per call, with a `np.random.Generator`; same recipe as AudioAugment.

    `partner(rng) -> (C, T)` gives the clip to mix in (another clip of the dataset); without it, no mixup.
    """

    def __init__(self, recipe: AudioViewRecipe, channels: int):
        self.recipe = recipe
        self.channels = channels

    def __call__(
        self,
        x: np.ndarray,
        rng: np.random.Generator,
        partner: Callable[[np.random.Generator], np.ndarray] | None = None,
    ) -> np.ndarray:
        r = self.recipe
        if x.ndim != 2 or x.shape[0] != self.channels:
            raise ValueError(f"expected a clip ({self.channels}, T); got shape {x.shape}")
        length = x.shape[1]
        x = x.astype(np.float32, copy=True)

        if r.speed_p > 0 and r.speed_range != (1.0, 1.0) and rng.random() < r.speed_p:
            factor = math.exp(rng.uniform(math.log(r.speed_range[0]), math.log(r.speed_range[1])))
            x = speed_change(x, factor)

        if r.crop_p > 0 and r.crop_scale[0] < 1.0 and rng.random() < r.crop_p:
            share = rng.uniform(*r.crop_scale)
            start = int(round(rng.random() * (1.0 - share) * length))
            stop = start + int(round(share * length))
            x[:, :start] = 0.0
            x[:, stop:] = 0.0

        if r.shift_p > 0 and r.shift_max > 0 and rng.random() < r.shift_p:
            steps = int(round(rng.uniform(-r.shift_max, r.shift_max) * length))
            x = np.roll(x, steps, axis=1)
            if r.shift_mode == "zero" and steps > 0:
                x[:, :steps] = 0.0
            elif r.shift_mode == "zero" and steps < 0:
                x[:, steps:] = 0.0

        if partner is not None and r.mixup_p > 0 and r.mixup_ratio > 0 and rng.random() < r.mixup_p:
            other = partner(rng).astype(np.float32)
            scale = math.sqrt(_power(x) / max(_power(other), 1e-20))
            ratio = rng.uniform(0.0, r.mixup_ratio)
            x = (1.0 - ratio) * x + ratio * scale * other

        if r.gain_p > 0 and (r.gain_db != (0.0, 0.0) or r.fade_db > 0) and rng.random() < r.gain_p:
            start_db = rng.uniform(*r.gain_db)
            end_db = start_db + (rng.uniform(-r.fade_db, r.fade_db) if r.fade_db > 0 else 0.0)
            x = x * np.power(10.0, np.linspace(start_db, end_db, length) / 20.0)

        if r.noise_p > 0 and rng.random() < r.noise_p:
            snr = rng.uniform(*r.noise_snr_db)
            noise = rng.standard_normal(x.shape)
            x = x + noise * math.sqrt(_power(x) / (_power(noise) * 10.0 ** (snr / 10.0)))
        return x.astype(np.float32)


class NumpyAudioPairs(torch.utils.data.Dataset):
    """A Dataset of (view 1, view 2) float32 tensors made per clip in `__getitem__`, the usual way.

    `clips` is (N, C, T). Mixup partners are random clips of the dataset. Pass `NumpyAudioPairs.seed_worker`
    as the DataLoader's worker_init_fn so each worker draws its own random numbers.
    """

    def __init__(self, clips: np.ndarray, recipes: Sequence[AudioViewRecipe], seed: int = 0):
        if clips.ndim != 3:
            raise ValueError(f"clips must be (N, C, T); got shape {clips.shape}")
        if len(recipes) != 2:
            raise ValueError(f"NumpyAudioPairs needs two recipes; got {len(recipes)}")
        self.clips = clips
        self.views = [NumpyAudioAugment(recipe, clips.shape[1]) for recipe in recipes]
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.clips)

    def _partner(self, rng: np.random.Generator) -> np.ndarray:
        return self.clips[int(rng.integers(len(self.clips)))]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        clip = self.clips[index]
        partner = self._partner if len(self.clips) > 1 else None
        first, second = (torch.from_numpy(view(clip, self.rng, partner)) for view in self.views)
        return first, second

    @staticmethod
    def seed_worker(worker_id: int) -> None:
        info = torch.utils.data.get_worker_info()
        if info is not None:
            info.dataset.rng = np.random.default_rng([info.seed % 2**32, worker_id])
