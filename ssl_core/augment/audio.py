"""Views of audio clips: the recipe, the batched augmenter and the paper-style presets.

- `AudioViewRecipe`: probabilities and magnitudes of each waveform op; `.scaled_for(sample_rate, length)`
  adapts it to short clips.
- `AudioAugment(recipe, channels)(x, generator)`: one view of a (B, C, T) waveform batch on its device.
- `AUDIO_VIEW_PRESETS` / `audio_view_pair(name, channels, sample_rate, length)`: (view 1, view 2) augmenters
  for the joint-embedding methods, under the same names as the image presets.

Every op works on the waveform (ops in `audio_ops.py`). SpecAugment's time and frequency masks are not a
view op here: they belong to the log-mel backbone's front end (`ssl_core.models.logmel.spec_augment`),
which applies them in training only, to whatever the views were.

References for the ops and strengths: COLA (Saeed et al. 2021: two random crops of a clip are a
positive pair), BYOL-A (Niizumi et al. 2021: mixup with another clip at a ratio up to 0.4, random
resize crop, random linear fader), Kaldi's speed perturbation (Ko et al. 2015: factors 0.9-1.1 by
resampling), and wav2vec-era noise augmentation (additive noise at 5-20 dB SNR and gain changes).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ssl_core.augment import audio_ops as ops
from ssl_core.augment import sampling
from ssl_core.augment.checks import check_choice, check_number, check_range
from ssl_core.augment.pipeline import ViewAugment
from ssl_core.errors import UserError
from ssl_core.registry import Registry

# A crop keeps at least this long a window (a 25 ms log-mel frame and a few neighbours), but the raised
# minimum never exceeds this share of the clip.
MIN_CROP_SECONDS = 0.1
MAX_RAISED_MIN_CROP = 0.8


@dataclass(frozen=True)
class AudioViewRecipe:
    """How to make one view of a clip. Each op hits each sample independently with its own probability.

    Order: speed -> crop -> shift -> mixup -> gain -> noise (time first; the noise last, so its SNR is
    relative to what the view finally holds). Factors and ranges are drawn uniformly, speed factors
    log-uniformly (1.1x faster and 1.1x slower equally likely). The defaults are the strong SimCLR view.
    """

    speed_p: float = 0.5
    speed_range: tuple[float, float] = (0.85, 1.15)  # playback speed factor (pitch and tempo together)
    crop_p: float = 1.0
    crop_scale: tuple[float, float] = (0.5, 1.0)  # share of the clip kept in place; the rest silenced
    shift_p: float = 0.5
    shift_max: float = 0.2  # largest shift as a share of the clip, earlier or later
    shift_mode: str = "zero"  # "zero" (silence comes in) or "circular" (the clip wraps round)
    mixup_p: float = 0.5
    mixup_ratio: float = 0.4  # another clip of the batch mixed in at U(0, ratio) of the loudness-matched mix
    gain_p: float = 1.0
    gain_db: tuple[float, float] = (-6.0, 6.0)
    fade_db: float = 0.0  # the gain may drift linearly by up to this many dB over the clip (BYOL-A's fader)
    noise_p: float = 0.5
    noise_snr_db: tuple[float, float] = (5.0, 30.0)  # white noise at this signal-to-noise ratio

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # config files give lists; keep tuples (hashable, comparable)
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        self._validate()

    def _validate(self) -> None:
        for name in ("speed_p", "crop_p", "shift_p", "mixup_p", "gain_p", "noise_p"):
            check_number(name, getattr(self, name), 0.0, 1.0)
        check_range("speed_range", self.speed_range, 0.5, 2.0)
        check_range("crop_scale", self.crop_scale, 0.05, 1.0)
        check_number("shift_max", self.shift_max, 0.0, 1.0)
        check_choice("shift_mode", self.shift_mode, ops.SHIFT_MODES)
        check_number("mixup_ratio", self.mixup_ratio, 0.0, 0.5)
        check_range("gain_db", self.gain_db, -40.0, 40.0)
        check_number("fade_db", self.fade_db, 0.0, 40.0)
        check_range("noise_snr_db", self.noise_snr_db, -20.0, 100.0)
        if self.mixup_ratio >= 0.5 and self.mixup_p > 0:
            raise UserError(
                "augment.mixup_ratio must stay below 0.5, or the mixed-in clip could drown the clip itself; "
                "use 0.4 (BYOL-A's value) or less.",
                field="augment.mixup_ratio",
            )

    def replace(self, **changes: Any) -> AudioViewRecipe:
        return dataclasses.replace(self, **changes)

    def scaled_for(self, sample_rate: int, length: int) -> AudioViewRecipe:
        """The recipe adapted to clips of `length` samples at `sample_rate`; clips of a second are unchanged.

        Crops keep at least MIN_CROP_SECONDS (at most MAX_RAISED_MIN_CROP of the clip), so a short clip is
        not cut down to a few milliseconds. Scaling twice for the same clips changes nothing more.
        """
        if length < 1 or sample_rate < 1:
            raise UserError(
                f"audio clips need at least 1 sample and a positive sample rate; got {length} samples at "
                f"{sample_rate} Hz.",
                field="data.clip_seconds",
            )
        lo, hi = self.crop_scale
        shortest = MIN_CROP_SECONDS * sample_rate / length
        crop_lo = min(max(lo, min(MAX_RAISED_MIN_CROP, shortest)), hi)
        return self.replace(crop_scale=(crop_lo, hi))

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
            for f in dataclasses.fields(self)
        }


def _rand(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
    """Uniform [0, 1) float32 of any shape, drawn on the generator's device (see sampling.py)."""
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


# An op's draws: called with the samples it applies to (None: all of them, in batch order), it draws its
# parameters for every sample (the same draws whichever samples it applies to), and returns the function
# that computes the new values of those samples from `pick` (which selects the same samples from any
# per-sample tensor). Draws whose size depends on the samples (noise) happen here too, never later.
Compute = Callable[[Callable[[Tensor], Tensor]], Tensor]
Op = Callable[[Tensor, torch.Generator, Tensor | None], Compute]


def _all(t: Tensor) -> Tensor:
    return t


def _apply(p: float, op: Op, x: Tensor, generator: torch.Generator, owned: bool) -> tuple[Tensor, bool]:
    """op for a random share p of the samples, x for the others (the mask is drawn before op's draws).

    Returns the batch and whether op applied to any sample; with `owned`, x may be written into. On a CPU
    only the chosen samples are computed (reading the mask costs nothing there) and written into the
    batch; on an accelerator every sample is computed and torch.where keeps the chosen ones, so nothing
    waits for the device. Every op works sample by sample, so both give the same values.
    """
    n = x.shape[0]
    if p >= 1.0:
        return op(x, generator, None)(_all), True
    mask = sampling.bernoulli(n, p, generator, x.device)
    if not ops.rows_only(x):
        return ops.select(mask, op(x, generator, None)(_all), x), True
    rows = mask.nonzero().flatten()
    if len(rows) == n:
        return op(x, generator, None)(_all), True
    compute = op(x, generator, rows)
    if len(rows) == 0:
        return x, False
    new = compute(lambda t: t.index_select(0, rows))
    return (x.index_copy_(0, rows, new) if owned else x.index_copy(0, rows, new)), True


class AudioAugment(ViewAugment):
    """Applies an AudioViewRecipe to (B, C, T) float waveforms with independent random parameters per sample.

    All randomness comes from `generator` (on the clips' device for no host syncs): each op draws which
    samples it hits, then its parameters for every sample, in a fixed order, so a view depends only on the
    generator's state. On a CPU only the samples an op hits are computed, and the noise is drawn for those
    samples only; on an accelerator every sample is computed (and noise drawn for all) and torch.where
    keeps the hit ones, so nothing waits for the device (see `_apply`). Parameters and arithmetic are
    float32 (autocast is off); the output is a new tensor with the input's shape and float dtype (other
    dtypes become float32). No parameters.
    """

    layout = "waveforms (B, C, T)"
    dims = 3

    def __init__(self, recipe: AudioViewRecipe, channels: int, sample_rate: int):
        super().__init__(recipe, channels)
        self.sample_rate = int(sample_rate)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, sample_rate={self.sample_rate}, recipe={self.recipe}"

    def forward(self, x: Tensor, generator: torch.Generator) -> Tensor:
        out = super().forward(x, generator)
        if out is x:
            return x.clone() if x.is_floating_point() else x.float()
        return out.to(x.dtype if x.is_floating_point() else torch.float32)

    def _view(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """The view in float32; x itself when no op applied to any sample."""
        r = self.recipe
        steps = (
            (r.speed_p if r.speed_range != (1.0, 1.0) else 0.0, self._speed),
            (r.crop_p if r.crop_scale[0] < 1.0 else 0.0, self._crop),
            (r.shift_p if r.shift_max > 0 else 0.0, self._shift),
            (r.mixup_p if r.mixup_ratio > 0 and x.shape[0] > 1 else 0.0, self._mixup),
            (r.gain_p if r.gain_db != (0.0, 0.0) or r.fade_db > 0 else 0.0, self._gain),
            (r.noise_p, self._noise),
        )
        out, changed = x.float(), False
        owned = out is not x  # a converted copy is ours to write into
        for p, op in steps:
            if p > 0:
                out, applied = _apply(p, op, out, generator, owned)
                changed, owned = changed or applied, owned or applied
        return out if changed else x

    def _speed(self, x: Tensor, generator: torch.Generator, rows: Tensor | None) -> Compute:
        lo, hi = self.recipe.speed_range
        factor = torch.exp(sampling.uniform(x.shape[0], math.log(lo), math.log(hi), generator, x.device))
        return lambda pick: ops.speed(pick(x), pick(factor))

    def _crop(self, x: Tensor, generator: torch.Generator, rows: Tensor | None) -> Compute:
        n, length = x.shape[0], x.shape[2]
        share = sampling.uniform(n, *self.recipe.crop_scale, generator, x.device)
        start = sampling.uniform(n, 0.0, 1.0, generator, x.device) * (1.0 - share) * length
        return lambda pick: ops.crop(pick(x), pick(start), pick(share) * length)

    def _shift(self, x: Tensor, generator: torch.Generator, rows: Tensor | None) -> Compute:
        most = self.recipe.shift_max * x.shape[2]
        steps = sampling.uniform(x.shape[0], -most, most, generator, x.device)
        return lambda pick: ops.shift(pick(x), pick(steps), self.recipe.shift_mode)

    def _mixup(self, x: Tensor, generator: torch.Generator, rows: Tensor | None) -> Compute:
        n = x.shape[0]
        order = _rand((n,), generator, x.device).argsort()  # a random permutation, from the generator
        partners = ops.cyclic_partners(order)
        ratio = sampling.uniform(n, 0.0, self.recipe.mixup_ratio, generator, x.device)
        return lambda pick: ops.mix(pick(x), x.index_select(0, pick(partners)), pick(ratio))

    def _gain(self, x: Tensor, generator: torch.Generator, rows: Tensor | None) -> Compute:
        n, r = x.shape[0], self.recipe
        start = sampling.uniform(n, *r.gain_db, generator, x.device)
        if r.fade_db <= 0:
            return lambda pick: ops.gain(pick(x), pick(start))
        end = start + sampling.uniform(n, -r.fade_db, r.fade_db, generator, x.device)
        return lambda pick: ops.gain(pick(x), pick(start), pick(end))

    def _noise(self, x: Tensor, generator: torch.Generator, rows: Tensor | None) -> Compute:
        snr = sampling.uniform(x.shape[0], *self.recipe.noise_snr_db, generator, x.device)
        shape = tuple(x.shape) if rows is None else (len(rows), *x.shape[1:])
        noise = sampling.normal(shape, generator, x.device, torch.float32)
        return lambda pick: ops.add_noise(pick(x), noise, pick(snr))


# ---- presets -------------------------------------------------------------------------------------------------
AudioViewPair = tuple[AudioViewRecipe, AudioViewRecipe]

AUDIO_VIEW_PRESETS: Registry[Callable[[], AudioViewPair]] = Registry("audio augmentation preset")

# Everything off; presets (and tests) switch on what they use.
ALL_OFF = AudioViewRecipe(
    speed_p=0.0, crop_p=0.0, shift_p=0.0, mixup_p=0.0, gain_p=0.0, fade_db=0.0, noise_p=0.0
)  # fmt: skip

# The strong view: COLA's random crops (here from half the clip), speed perturbation a little wider than
# Kaldi's 0.9-1.1, shifts up to a fifth of the clip, BYOL-A's mixup (ratio up to 0.4) half of the time,
# +-6 dB gain and white noise at 5-30 dB SNR half of the time. Contrastive methods with in-batch negatives
# need views this different, or telling clips apart by recording level or exact timing is enough.
_STRONG = AudioViewRecipe()

# The moderate view (MoCo v2's views are milder than SimCLR's on images; likewise here): crops from 60%,
# Kaldi's 0.9-1.1 speeds less often, smaller shifts, rarer and weaker mixup, +-3 dB, cleaner noise.
_MODERATE = _STRONG.replace(
    speed_p=0.3,
    speed_range=(0.9, 1.1),
    crop_scale=(0.6, 1.0),
    shift_max=0.1,
    mixup_p=0.3,
    mixup_ratio=0.3,
    gain_db=(-3.0, 3.0),
    noise_p=0.3,
    noise_snr_db=(10.0, 40.0),
)

# BYOL-A's view (Niizumi et al. 2021), the same for both branches: mixup with another clip always, at a
# ratio up to 0.4 (they mix log-mel frames of past batches; mixing waveforms adds the sounds' powers the
# same way), a random crop with a small speed change (their random resize crop stretches time and
# frequency by up to ~+-10% within 60-100% of the clip), and the random linear fader (a gain drifting by
# up to +-6 dB over the clip). BYOL-A adds no noise; a light noise at 20-40 dB SNR stops the encoder from
# relying on the recordings' noise floors.
_BYOL_A = ALL_OFF.replace(
    speed_p=0.5,
    speed_range=(0.9, 1.1),
    crop_p=1.0,
    crop_scale=(0.6, 1.0),
    shift_p=0.5,
    shift_max=0.1,
    mixup_p=1.0,
    mixup_ratio=0.4,
    gain_p=1.0,
    gain_db=(-3.0, 3.0),
    fade_db=6.0,
    noise_p=0.3,
    noise_snr_db=(20.0, 40.0),
)


@AUDIO_VIEW_PRESETS.decorator("simclr")
def simclr_audio_views() -> AudioViewPair:
    """SimCLR / COLA: two strong views from one recipe, as COLA takes two random crops of one clip.

    Speed 0.85-1.15 (p 0.5), crops of 50-100% (p 1), shifts up to 20% (p 0.5), mixup up to 0.4 (p 0.5),
    gain +-6 dB, white noise at 5-30 dB SNR (p 0.5).
    """
    return _STRONG, _STRONG


def _moco_pair() -> AudioViewPair:
    return _MODERATE, _MODERATE


@AUDIO_VIEW_PRESETS.decorator("moco_v2")
def moco_v2_audio_views() -> AudioViewPair:
    """MoCo v2: a symmetric pair, milder than SimCLR's as on images (MoCo's queue supplies hard negatives).

    Speed 0.9-1.1 (p 0.3), crops of 60-100%, shifts up to 10%, mixup up to 0.3 (p 0.3), gain +-3 dB,
    noise at 10-40 dB SNR (p 0.3).
    """
    return _moco_pair()


@AUDIO_VIEW_PRESETS.decorator("simsiam")
def simsiam_audio_views() -> AudioViewPair:
    """SimSiam uses MoCo v2's recipe for both views (Chen & He 2021), so it does here too."""
    return _moco_pair()


def _byol_a_pair() -> AudioViewPair:
    return _BYOL_A, _BYOL_A


@AUDIO_VIEW_PRESETS.decorator("byol")
def byol_audio_views() -> AudioViewPair:
    """BYOL-A (BYOL for audio, Niizumi et al. 2021): the same recipe for both views, built around mixup.

    Mixup with another clip of the batch at a ratio up to 0.4 (always), speed 0.9-1.1 (p 0.5), crops of
    60-100%, shifts up to 10% (p 0.5), gain +-3 dB drifting by up to +-6 dB over the clip (BYOL-A's random
    linear fader), light noise at 20-40 dB SNR (p 0.3). NNCLR asks for these views too.
    """
    return _byol_a_pair()


@AUDIO_VIEW_PRESETS.decorator("barlow")
def barlow_audio_views() -> AudioViewPair:
    """Barlow Twins uses BYOL's views (Zbontar et al. 2021); on audio, BYOL-A's."""
    return _byol_a_pair()


@AUDIO_VIEW_PRESETS.decorator("vicreg")
def vicreg_audio_views() -> AudioViewPair:
    """VICReg's official code uses BYOL's views (Bardes et al. 2022); on audio, BYOL-A's."""
    return _byol_a_pair()


def preset_audio_views(name: str) -> AudioViewPair:
    """The (view 1, view 2) recipes registered under `name` (e.g. "byol"); unknown names raise UserError."""
    return AUDIO_VIEW_PRESETS.get(name)()


def audio_view_pair(
    name: str, channels: int, sample_rate: int, length: int
) -> tuple[AudioAugment, AudioAugment]:
    """Two AudioAugments for preset `name`, each recipe adapted with `scaled_for(sample_rate, length)`."""
    first, second = (
        AudioAugment(recipe.scaled_for(sample_rate, length), channels, sample_rate)
        for recipe in preset_audio_views(name)
    )
    return first, second
