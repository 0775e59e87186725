"""Views of multichannel time series: the recipe, the batched augmenter and the paper-style presets.

- `SeriesViewRecipe`: probabilities and magnitudes of each op; `.scaled_for(channels, length)` adapts it.
- `SeriesAugment(recipe, channels)(x, generator)`: one view of a (B, C, T) batch on its own device.
- `SERIES_VIEW_PRESETS` / `series_view_pair(name, channels, length)`: (view 1, view 2) augmenters for the
  joint-embedding methods, under the same names as the image presets.

Series arrive standardised per channel (mean 0, std 1), so magnitudes are in units of a channel's std.
The ops and their usual strengths follow Um et al. (2017, "Data augmentation of wearable sensor data"),
Iwana & Uchida (2021, "An empirical survey of data augmentation for time series classification"),
TS-TCC (Eldele et al. 2021: weak = scaling, strong = permutation + jitter) and TS2Vec (Yue et al. 2022:
random crops of the series).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ssl_core.augment import sampling
from ssl_core.augment import series_ops as ops
from ssl_core.augment.checks import check_choice, check_int, check_number, check_range
from ssl_core.augment.pipeline import ViewAugment
from ssl_core.errors import UserError
from ssl_core.registry import Registry

# Time warps integrate a random speed curve; it never drops below this, so the warp stays monotone
# (a knot of N(1, 0.2) falls there with odds of about 1 in 3 million).
MIN_SPEED = 0.1

# --- adapting a recipe to short series (see SeriesViewRecipe.scaled_for) -----------------------------------
# A crop keeps at least this many steps, but the raised minimum never exceeds this share of the series:
# an 8-step series crops to 0.8-1.0 of its length, 100 and 150 steps keep the recipe's 0.5.
MIN_CROP_STEPS = 16
MAX_RAISED_MIN_CROP = 0.8
# At most one permuted segment per this many steps, but always 2 (8 steps -> 2, 100 steps -> up to 12).
MIN_SEGMENT_STEPS = 8
# Warp knots are at least this many steps apart, so a curve cannot wiggle faster than the signal.
MIN_KNOT_SPACING = 4


@dataclass(frozen=True)
class SeriesViewRecipe:
    """How to make one view of a series. Each op hits each sample independently with its own probability.

    Order: crop -> time warp -> permutation -> magnitude warp -> scaling -> rotation -> jitter ->
    channel dropout (time first, then amplitude; a dropped channel stays exactly 0, a dead sensor).
    Factors and knot values are drawn from N(1, sigma^2), jitter sigmas and crop lengths uniformly from
    their (low, high) ranges. Warp knots count the interior knots, as in Um et al.: K = knots + 2
    values evenly spaced from the first step to the last. The defaults are the strong SimCLR view.
    """

    crop_p: float = 1.0
    crop_scale: tuple[float, float] = (0.5, 1.0)  # share of the length kept, resized back to T
    time_warp_p: float = 0.5
    time_warp_sigma: float = 0.2  # std of the speed at the knots
    time_warp_knots: int = 4
    permute_p: float = 0.0
    permute_max_segments: int = 5  # 2 .. this many segments, in a uniformly random order (may be the same)
    permute_mode: str = "random"  # "random" cut points or "equal" segments
    magnitude_warp_p: float = 0.5
    magnitude_warp_sigma: float = 0.2
    magnitude_warp_knots: int = 4
    warp_mode: str = "cubic"  # curve through the warp knots: "cubic" (natural spline) or "linear"
    scale_p: float = 1.0
    scale_sigma: float = 0.2  # per-channel factors ~ N(1, sigma^2)
    rotate_p: float = 0.5  # only where channels come in x, y, z triples (C % 3 == 0)
    rotate_max_degrees: float = 30.0
    jitter_p: float = 0.8
    jitter_sigma: tuple[float, float] = (0.05, 0.2)
    channel_drop_p: float = 0.1  # chance each channel is zeroed; a sample always keeps one

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # config files give lists; keep tuples (hashable, comparable)
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        self._validate()

    def _validate(self) -> None:
        for name in (
            "crop_p",
            "time_warp_p",
            "permute_p",
            "magnitude_warp_p",
            "scale_p",
            "rotate_p",
            "jitter_p",
            "channel_drop_p",
        ):
            check_number(name, getattr(self, name), 0.0, 1.0)
        check_range("crop_scale", self.crop_scale, 0.05, 1.0)
        check_number("time_warp_sigma", self.time_warp_sigma, 0.0, 0.5)
        check_number("magnitude_warp_sigma", self.magnitude_warp_sigma, 0.0, 1.0)
        check_number("scale_sigma", self.scale_sigma, 0.0, 1.0)
        check_number("rotate_max_degrees", self.rotate_max_degrees, 0.0, 180.0)
        check_range("jitter_sigma", self.jitter_sigma, 0.0, 2.0)
        check_int("time_warp_knots", self.time_warp_knots, 0, 64)
        check_int("magnitude_warp_knots", self.magnitude_warp_knots, 0, 64)
        check_int("permute_max_segments", self.permute_max_segments, 2, 64)
        check_choice("permute_mode", self.permute_mode, ("random", "equal"))
        check_choice("warp_mode", self.warp_mode, ops.WARP_MODES)
        if self.channel_drop_p >= 1.0:
            raise UserError(
                "augment.channel_drop_p = 1 would drop every channel; use a value below 1.",
                field="augment.channel_drop_p",
            )

    def replace(self, **changes: Any) -> SeriesViewRecipe:
        return dataclasses.replace(self, **changes)

    def scaled_for(self, channels: int, length: int) -> SeriesViewRecipe:
        """The recipe adapted to series of `channels` x `length`; long multichannel series are unchanged.

        Short series get longer minimum crops (MIN_CROP_STEPS, at most MAX_RAISED_MIN_CROP of the length),
        fewer permutation segments and warp knots; rotation is off unless channels come in triples and
        channel dropout is off for one channel. Scaling twice for the same shape changes nothing more.
        """
        if channels < 1 or length < 1:
            raise UserError(
                f"a series needs at least 1 channel and 1 step; got {channels} x {length}.", field="data"
            )
        lo, hi = self.crop_scale
        crop_lo = min(max(lo, min(MAX_RAISED_MIN_CROP, MIN_CROP_STEPS / length)), hi)
        max_knots = max(0, (length - 1) // MIN_KNOT_SPACING - 1)
        return self.replace(
            crop_scale=(crop_lo, hi),
            permute_max_segments=min(self.permute_max_segments, max(2, length // MIN_SEGMENT_STEPS)),
            time_warp_knots=min(self.time_warp_knots, max_knots),
            magnitude_warp_knots=min(self.magnitude_warp_knots, max_knots),
            rotate_p=self.rotate_p if channels % 3 == 0 else 0.0,
            channel_drop_p=self.channel_drop_p if channels > 1 else 0.0,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
            for f in dataclasses.fields(self)
        }


# ---- per-sample draws beyond sampling.py ----------------------------------------------------------------
def _rand(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
    """Uniform [0, 1) float32 of any shape, drawn on the generator's device (see sampling.py)."""
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def _ranks(scores: Tensor) -> Tensor:
    """Rank of each score along the last dim: a uniform random permutation for i.i.d. scores."""
    return scores.argsort(dim=-1).argsort(dim=-1)


def _segments(
    n: int, length: int, recipe: SeriesViewRecipe, generator: torch.Generator, device: torch.device
) -> tuple[Tensor, Tensor]:
    """(segment_id (n, T), segment_rank (n, S)): 2 .. S segments per sample, each sample its own count."""
    most = recipe.permute_max_segments
    count = (2 + (_rand((n,), generator, device) * (most - 1)).floor().long()).clamp(max=most)
    if recipe.permute_mode == "equal":
        steps = torch.arange(length, device=device)
        segment_id = steps * count.unsqueeze(1) // length
    else:
        # Cut before count - 1 distinct steps in 1 .. T - 1 (those whose random rank is lowest).
        cut = _ranks(_rand((n, length - 1), generator, device)) < (count - 1).unsqueeze(1)
        segment_id = torch.cat([torch.zeros(n, 1, dtype=torch.long, device=device), cut.long().cumsum(1)], 1)
    return segment_id, _ranks(_rand((n, most), generator, device))


def _apply(
    p: float, op: Callable[[Tensor, torch.Generator], Tensor], x: Tensor, generator: torch.Generator
) -> Tensor:
    """op(x) for a random share p of the samples, x for the others (the mask is drawn before op's draws)."""
    if p >= 1.0:
        return op(x, generator)
    mask = sampling.bernoulli(x.shape[0], p, generator, x.device)
    return ops.select(mask, op(x, generator), x)


class SeriesAugment(ViewAugment):
    """Applies a SeriesViewRecipe to (B, C, T) float series with independent random parameters per sample.

    All randomness comes from `generator` (on the series' device for no host syncs); samples that skip
    an op keep their values through torch.where. Parameters are drawn in float32 whatever the series
    dtype, so a float64 batch gets the same view as its float32 copy up to rounding. The output is a new
    tensor with the input's shape and float dtype (other dtypes become float32). No parameters.
    """

    layout = "series (B, C, T)"
    dims = 3

    def forward(self, x: Tensor, generator: torch.Generator) -> Tensor:
        out = super().forward(x if x.is_floating_point() else x.float(), generator)
        return out if out is not x else x.clone()

    def _view(self, x: Tensor, generator: torch.Generator) -> Tensor:
        r, n, dev = self.recipe, x.shape[0], x.device
        channels, length = x.shape[1], x.shape[2]
        steps = (
            (r.crop_p, self._crop),
            (r.time_warp_p if length > 1 else 0.0, self._time_warp),
            (r.permute_p if length > 1 else 0.0, self._permute),
            (r.magnitude_warp_p, self._magnitude_warp),
            (r.scale_p, self._scale),
            (r.rotate_p if channels % 3 == 0 else 0.0, self._rotate),
        )
        for p, op in steps:
            if p > 0:
                x = _apply(p, op, x, generator)

        if r.jitter_p > 0 and r.jitter_sigma[1] > 0:
            apply = sampling.bernoulli(n, r.jitter_p, generator, dev)
            sigma = sampling.uniform(n, r.jitter_sigma[0], r.jitter_sigma[1], generator, dev)
            noise = sampling.normal(tuple(x.shape), generator, dev, torch.float32)
            x = ops.jitter(x, noise, sigma * apply.float())

        if r.channel_drop_p > 0 and channels > 1:
            keep = _rand((n, channels), generator, dev) >= r.channel_drop_p
            keep = keep | ~keep.any(dim=1, keepdim=True)  # a sample that lost every channel keeps them all
            x = ops.channel_dropout(x, keep)
        return x

    def _crop(self, x: Tensor, generator: torch.Generator) -> Tensor:
        n, length = x.shape[0], x.shape[2]
        share = sampling.uniform(n, *self.recipe.crop_scale, generator, x.device)
        start = sampling.uniform(n, 0.0, 1.0, generator, x.device) * (1.0 - share) * length
        return ops.crop_resize(x, start, share * length)

    def _time_warp(self, x: Tensor, generator: torch.Generator) -> Tensor:
        r, (n, _, length) = self.recipe, x.shape
        z = sampling.normal((n, r.time_warp_knots + 2), generator, x.device, torch.float32)
        speed = ops.smooth_curve(1.0 + r.time_warp_sigma * z, length, r.warp_mode).clamp(min=MIN_SPEED)
        return ops.time_warp(x, ops.warp_positions(speed))

    def _permute(self, x: Tensor, generator: torch.Generator) -> Tensor:
        return ops.permute_segments(x, *_segments(x.shape[0], x.shape[2], self.recipe, generator, x.device))

    def _magnitude_warp(self, x: Tensor, generator: torch.Generator) -> Tensor:
        r, (n, channels, _) = self.recipe, x.shape
        z = sampling.normal((n, channels, r.magnitude_warp_knots + 2), generator, x.device, torch.float32)
        return ops.magnitude_warp(x, 1.0 + r.magnitude_warp_sigma * z, r.warp_mode)

    def _scale(self, x: Tensor, generator: torch.Generator) -> Tensor:
        z = sampling.normal(tuple(x.shape[:2]), generator, x.device, torch.float32)
        return ops.scale(x, 1.0 + self.recipe.scale_sigma * z)

    def _rotate(self, x: Tensor, generator: torch.Generator) -> Tensor:
        axis = sampling.normal((x.shape[0], 3), generator, x.device, torch.float32)
        limit = math.radians(self.recipe.rotate_max_degrees)
        angle = sampling.uniform(x.shape[0], -limit, limit, generator, x.device)
        return ops.rotate(x, ops.rotation_matrices(axis, angle))


# ---- presets -------------------------------------------------------------------------------------------------
SeriesViewPair = tuple[SeriesViewRecipe, SeriesViewRecipe]

SERIES_VIEW_PRESETS: Registry[Callable[[], SeriesViewPair]] = Registry("series augmentation preset")

# Everything off; presets (and tests) switch on what they use.
ALL_OFF = SeriesViewRecipe(
    crop_p=0.0,
    time_warp_p=0.0,
    permute_p=0.0,
    magnitude_warp_p=0.0,
    scale_p=0.0,
    rotate_p=0.0,
    jitter_p=0.0,
    channel_drop_p=0.0,
)

# The strong view: TS2Vec-style crops of half the series or more, then the wearable-sensor ops of Um et
# al. at Iwana & Uchida's strengths (warps sigma 0.2 with 4 knots, scaling sigma 0.1-0.2), jitter up to
# 0.2 std (20 dB; Iwana's 0.03 on raw data is far below the std of a standardised channel), small
# rotations of sensor triples and a low channel dropout.
_STRONG = SeriesViewRecipe()

# The weak view: TS-TCC's weak augmentation (per-channel scaling) with a light jitter and milder crops.
_WEAK = ALL_OFF.replace(
    crop_p=1.0,
    crop_scale=(0.8, 1.0),
    scale_p=1.0,
    scale_sigma=0.1,
    rotate_p=0.3,
    rotate_max_degrees=10.0,
    jitter_p=0.5,
    jitter_sigma=(0.01, 0.05),
)

# MoCo v2's views are milder than SimCLR's on images (crops from 20%, half the colour strength); here
# likewise: the same crops, half the jitter, scaling and rotation, warps less often and gentler.
_MODERATE = _STRONG.replace(
    time_warp_p=0.3,
    time_warp_sigma=0.15,
    magnitude_warp_p=0.3,
    magnitude_warp_sigma=0.15,
    scale_sigma=0.1,
    rotate_max_degrees=15.0,
    jitter_sigma=(0.03, 0.1),
    channel_drop_p=0.05,
)

# TS-TCC's strong view is permutation (up to 5 segments at random cuts) + jitter; it joins the strong ops.
_STRONG_PERMUTED = _STRONG.replace(permute_p=0.5, permute_max_segments=5, permute_mode="random")


@SERIES_VIEW_PRESETS.decorator("simclr")
def simclr_series_views() -> SeriesViewPair:
    """SimCLR: two strong views from one recipe, as the image SimCLR uses one strong recipe twice.

    Crop-resize to 0.5-1.0 of the length (TS2Vec's crops), time and magnitude warps (p 0.5, sigma 0.2,
    4 knots: Um et al.), per-channel scaling sigma 0.2, rotation of sensor triples up to 30 deg (p 0.5),
    jitter sigma 0.05-0.2 (p 0.8) and channel dropout 0.1. SimCLR needs strong, varied views: its
    negatives are the rest of the batch, and views that are too alike make the task trivial.
    """
    return _STRONG, _STRONG


def _moco_pair() -> SeriesViewPair:
    return _MODERATE, _MODERATE


@SERIES_VIEW_PRESETS.decorator("moco_v2")
def moco_v2_series_views() -> SeriesViewPair:
    """MoCo v2: a symmetric pair, milder than SimCLR's as on images (MoCo's queue supplies hard negatives).

    Crops 0.5-1.0, warps p 0.3 sigma 0.15, scaling 0.1, rotation up to 15 deg, jitter 0.03-0.1, channel
    dropout 0.05.
    """
    return _moco_pair()


@SERIES_VIEW_PRESETS.decorator("simsiam")
def simsiam_series_views() -> SeriesViewPair:
    """SimSiam uses MoCo v2's recipe for both views (Chen & He 2021), so it does here too."""
    return _moco_pair()


def _weak_strong_pair() -> SeriesViewPair:
    return _WEAK, _STRONG_PERMUTED


@SERIES_VIEW_PRESETS.decorator("byol")
def byol_series_views() -> SeriesViewPair:
    """BYOL: asymmetric views, as BYOL's images (one always blurred, one rarely) and TS-TCC's weak/strong.

    View 1 (weak, TS-TCC's scaling): crops 0.8-1.0, scaling 0.1, jitter 0.01-0.05 (p 0.5), rotation up
    to 10 deg (p 0.3). View 2 (strong, TS-TCC's permutation + jitter added to SimCLR's strong view):
    permutation into 2-5 segments at random cuts (p 0.5) plus every strong op.
    """
    return _weak_strong_pair()


@SERIES_VIEW_PRESETS.decorator("barlow")
def barlow_series_views() -> SeriesViewPair:
    """Barlow Twins uses BYOL's asymmetric views (Zbontar et al. 2021); so the weak/strong pair here."""
    return _weak_strong_pair()


@SERIES_VIEW_PRESETS.decorator("vicreg")
def vicreg_series_views() -> SeriesViewPair:
    """VICReg's official code uses BYOL's views (Bardes et al. 2022); so the weak/strong pair here."""
    return _weak_strong_pair()


def preset_series_views(name: str) -> SeriesViewPair:
    """The (view 1, view 2) recipes registered under `name` (e.g. "byol"); unknown names raise UserError."""
    return SERIES_VIEW_PRESETS.get(name)()


def series_view_pair(name: str, channels: int, length: int) -> tuple[SeriesAugment, SeriesAugment]:
    """Two SeriesAugments for preset `name`, each recipe adapted with `scaled_for(channels, length)`."""
    first, second = (
        SeriesAugment(recipe.scaled_for(channels, length), channels) for recipe in preset_series_views(name)
    )
    return first, second
