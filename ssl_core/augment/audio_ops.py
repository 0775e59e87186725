"""Batched waveform ops with explicit per-sample parameters; no randomness lives here.

Every op takes `x` of shape (B, C, T), float waveforms (values about [-1, 1]), plus per-sample parameters
((B,) tensors unless said otherwise), and returns a new tensor of the same shape and dtype. All channels of
a sample get the same parameters (one recording, one gain, one speed). The random draws live in
`ssl_core.augment.audio` (`AudioAugment`), so each op can be checked on hand-made parameters.

Time positions are fractional sample indices; a position outside the clip reads silence (0), never the
edge value: a waveform's edge value repeated is a DC offset, not a sound.

Speed: every op is a handful of whole-batch tensor passes (no per-clip Python loops). On a CPU, `speed`
low-passes only the clips that speed up (reading which ones costs nothing there); on an accelerator it
filters every clip and keeps the filtered ones with torch.where, so nothing waits for the device.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

SHIFT_MODES = ("zero", "circular")
# Anti-aliasing before a speed-up: the low-pass keeps everything below `ANTI_ALIAS_PASS` of the new
# Nyquist frequency and removes everything above it, with a raised-cosine transition in between.
ANTI_ALIAS_PASS = 0.9
# Zero padding for the FFT filter, in samples: the filter's ringing (a few dozen samples for the
# transition above) stays in the padding instead of wrapping round from the clip's end to its start.
FFT_PAD = 256


def _per_sample(values: Tensor, like: Tensor) -> Tensor:
    """Reshape a (B,) parameter so it broadcasts over (B, C, T)."""
    return values.to(device=like.device, dtype=like.dtype).view(-1, 1, 1)


def rows_only(x: Tensor) -> bool:
    """Whether to compute an op on the chosen samples only: on a CPU, where reading which samples a mask
    chose costs nothing; elsewhere that read would wait for the device, so every sample is computed and
    torch.where keeps the chosen ones (the same values: every op works sample by sample)."""
    return x.device.type == "cpu"


def select(mask: Tensor, new: Tensor, old: Tensor) -> Tensor:
    """Per-sample choice: `new` where mask[b] is True, else `old` (no host sync, unlike indexing)."""
    return torch.where(mask.to(old.device).view(-1, 1, 1), new, old)


def power(x: Tensor) -> Tensor:
    """(B,) mean square of each sample over its channels and time, in float32."""
    flat = x.float().flatten(1)
    return torch.linalg.vector_norm(flat, dim=1).square_().div_(max(flat.shape[1], 1))


# ---- amplitude ---------------------------------------------------------------------------------------------
def gain(x: Tensor, db_start: Tensor, db_end: Tensor | None = None) -> Tensor:
    """x scaled by 10^(dB / 20); with `db_end`, the gain in dB moves linearly from `db_start` at the first
    sample to `db_end` at the last (BYOL-A's random linear fader)."""
    length = x.shape[-1]
    start = db_start.to(device=x.device, dtype=torch.float32).view(-1, 1, 1)
    if db_end is None:
        db = start
    else:
        end = db_end.to(device=x.device, dtype=torch.float32).view(-1, 1, 1)
        ramp = torch.linspace(0.0, 1.0, length, device=x.device).view(1, 1, -1) if length > 1 else 0.0
        db = start + (end - start) * ramp
    return x * torch.pow(10.0, db / 20.0).to(x.dtype)


def add_noise(x: Tensor, noise: Tensor, snr_db: Tensor) -> Tensor:
    """x + noise scaled so that power(x) / power(added noise) = 10^(snr_db / 10) for each sample.

    The noise's own power is measured, so the SNR is exact for any noise shape (white, coloured). A
    silent sample gets no noise: there is no signal power to be relative to.
    """
    noise = noise.to(device=x.device, dtype=torch.float32)
    snr = snr_db.to(device=x.device, dtype=torch.float32)
    scale = torch.sqrt(power(x) / (power(noise).clamp_min(1e-20) * torch.pow(10.0, snr / 10.0)))
    if x.dtype == torch.float32:
        return torch.addcmul(x, noise, scale.view(-1, 1, 1))
    return x + (noise * _per_sample(scale, noise)).to(x.dtype)


def mix(x: Tensor, partner: Tensor, ratio: Tensor) -> Tensor:
    """(1 - ratio) x + ratio * partner', with `partner'` the partner scaled to x's RMS (per sample).

    Matching the partner's loudness to the clip first makes `ratio` the only thing that decides which
    sound dominates: with ratio < 0.5 the clip keeps more energy than the mixed-in sound, however loud or
    quiet the partner was recorded. A silent partner or a silent clip adds nothing.
    """
    rms_x, rms_p = power(x).sqrt(), power(partner).sqrt()
    r = ratio.to(device=x.device, dtype=torch.float32)
    keep = (1.0 - r).view(-1, 1, 1)
    add = (r * rms_x / rms_p.clamp_min(1e-10)).view(-1, 1, 1)  # ratio x the loudness match, one factor
    return torch.addcmul(x.float() * keep, partner.float(), add).to(x.dtype)


def cyclic_partners(order: Tensor) -> Tensor:
    """(B,) partner index for each sample from a random permutation `order`: the sample after it in that
    order (the last one's partner is the first). With B > 1 no sample is its own partner."""
    n = order.numel()
    partner = torch.empty_like(order)
    partner[order] = order.roll(-1)
    return partner if n > 1 else order.clone()


# ---- time -------------------------------------------------------------------------------------------------
# Keys' cubic convolution kernel (a = -0.75, as grid_sample's and OpenCV's bicubic).
CUBIC_A = -0.75
# Zero samples padded on each side for `read_at`: the 4 taps of a position clamped to [-3, T + 1] then
# all fall on the padding, so a position outside the clip reads 0 without a mask.
_READ_PAD = 4


def read_at(x: Tensor, positions: Tensor) -> Tensor:
    """x read at fractional `positions` (B, T') by cubic interpolation; outside [0, T - 1] reads 0.

    Keys' cubic kernel (a = -0.75, the kernel of grid_sample's bicubic mode) on the 4 samples around each
    position, samples outside the clip being 0: four gathers and a polynomial in the fraction, in float32.
    Linear interpolation would be a low-pass of its own: a tone at a quarter of the sample rate would lose
    a third of its power (cubic loses 3%), so speed changes would also dull the sound.
    """
    n, c, length = x.shape
    a = CUBIC_A
    pos = positions.to(device=x.device, dtype=torch.float32)
    below = pos.floor()
    t = (pos - below).unsqueeze(1)  # (B, 1, T'): the fraction past the sample at `below`
    # The first tap (below - 1) in the padded clip; positions far outside read the padding only.
    first = below.clamp_(-3.0, length + 1.0).add_(_READ_PAD - 1).to(torch.int64).unsqueeze(1)
    padded = F.pad(x.float(), (_READ_PAD, _READ_PAD))
    index = first.expand(n, c, -1)
    p0, p1, p2, p3 = (torch.gather(padded[..., k:], 2, index) for k in range(4))
    # sum_k w_k(t) p_k with Keys' weights is p1 + t (c1 + t (c2 + t c3)), where
    #   c1 = a (p0 - p2), c3 = a (p0 - p3) + (a + 2) (p1 - p2), c2 = -(c1 + (p1 - p2) + c3);
    # so c1 + t (c2 + t c3) = c1 - t u with u = c1 + (p1 - p2) + c3 - t c3. In place in the gathered
    # buffers (fresh memory costs page faults on a CPU): 10 passes, no other temporaries.
    c3 = torch.sub(p0, p3, out=p3).mul_(a)
    c1 = p0.sub_(p2).mul_(a)
    u = torch.sub(p1, p2, out=p2)
    c3.add_(u, alpha=a + 2.0)
    u.add_(c1).add_(c3).addcmul_(c3, t, value=-1.0)
    return p1.addcmul_(c1.addcmul_(u, t, value=-1.0), t).to(x.dtype)


def crop(x: Tensor, start: Tensor, length: Tensor) -> Tensor:
    """Keep samples [start, start + length) of each clip where they are and silence the rest.

    The window is not stretched back to the clip's length: resampling a waveform changes its pitch and
    tempo, so a resized half-clip would sound an octave lower. A crop here hears less of the sound,
    not a different sound; speed changes are their own op (`speed`).
    """
    steps = torch.arange(x.shape[-1], device=x.device, dtype=torch.float32).view(1, -1)
    s = start.to(device=x.device, dtype=torch.float32).round().view(-1, 1)
    e = s + length.to(device=x.device, dtype=torch.float32).round().view(-1, 1)
    keep = (steps >= s).logical_and_(steps < e)
    return torch.where(keep.unsqueeze(1), x, 0.0)


def shift(x: Tensor, steps: Tensor, mode: str = "zero") -> Tensor:
    """Move each clip later by `steps[b]` samples (negative: earlier), rounded to whole samples.

    "zero": what moves out of the clip is lost and silence comes in (a recording started earlier or
    later); "circular": what moves out at one end comes back at the other.
    """
    if mode not in SHIFT_MODES:
        raise ValueError(f"mode must be one of {SHIFT_MODES}; got {mode!r}")
    n, c, length = x.shape
    moved = steps.to(x.device).round().long().view(-1, 1)
    if mode == "circular":
        source = (torch.arange(length, device=x.device).view(1, -1) - moved).remainder_(length)
        return torch.gather(x, 2, source.unsqueeze(1).expand(n, c, -1))
    # One zero sample padded at each end; sources outside the clip are clamped onto it and read 0.
    source = (torch.arange(1, length + 1, device=x.device).view(1, -1) - moved).clamp_(0, length + 1)
    return torch.gather(F.pad(x, (1, 1)), 2, source.unsqueeze(1).expand(n, c, -1))


def fft_size(at_least: int) -> int:
    """The smallest 2^a 3^b 5^c >= at_least: FFT sizes with small factors only are fast (16,000 is;
    16,256 = 2^7 x 127 takes five times as long)."""
    best = 1 << max(0, int(at_least) - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            size = p35
            while size < at_least:
                size *= 2
            best = min(best, size)
            p35 *= 3
        p5 *= 5
    return best


def low_pass(x: Tensor, cutoff: Tensor, transition: float = 0.05) -> Tensor:
    """Zero-phase low-pass filter with a per-sample `cutoff` (B,) in cycles per sample (0.5 = Nyquist).

    Applied in the frequency domain (one batched real FFT): gain 1 below cutoff - transition, 0 above
    cutoff, a raised cosine in between. A sample with cutoff >= 0.5 passes unchanged.
    """
    length = x.shape[-1]
    size = fft_size(length + FFT_PAD)
    with torch.autocast(x.device.type, enabled=False):
        spectrum = torch.fft.rfft(x.float(), n=size)
        freqs = torch.fft.rfftfreq(size, device=x.device).view(1, -1)
        top = cutoff.to(device=x.device, dtype=torch.float32).view(-1, 1)
        bottom = (top - transition).clamp_min(0.0)
        t = ((freqs - bottom) / (top - bottom).clamp_min(1e-9)).clamp(0.0, 1.0)
        response = 0.5 * (1.0 + torch.cos(math.pi * t))
        response = torch.where(top >= 0.5, torch.ones_like(response), response)
        out = torch.fft.irfft(spectrum.mul_(response.unsqueeze(1)), n=size)[..., :length]
    return out.to(x.dtype)


def speed(x: Tensor, factor: Tensor) -> Tensor:
    """Play each clip `factor[b]` times faster (resampling: pitch and tempo change together, as Kaldi's
    speed perturbation), about the clip's centre: a sound in the middle stays in the middle.

    factor > 1 raises the pitch and shortens the sound (silence fills the ends); the input is first
    low-passed below the new Nyquist frequency (0.5 / factor cycles per sample) so nothing aliases.
    factor < 1 lowers the pitch and stretches the sound (its ends fall outside the clip).
    """
    f = factor.to(device=x.device, dtype=torch.float32)
    length = x.shape[-1]
    faster = f > 1.0
    if rows_only(x):  # filter only the clips that speed up
        rows = faster.nonzero().flatten()
        if len(rows):
            filtered = low_pass(x.index_select(0, rows), ANTI_ALIAS_PASS * 0.5 / f.index_select(0, rows))
            x = x.index_copy(0, rows, filtered)
    else:
        filtered = low_pass(x, ANTI_ALIAS_PASS * 0.5 / f.clamp_min(1.0))
        x = torch.where(faster.view(-1, 1, 1), filtered, x)
    centre = (length - 1) / 2.0
    from_centre = torch.arange(length, device=x.device, dtype=torch.float32).sub_(centre).view(1, -1)
    centres = torch.full((1, 1), centre, device=x.device)
    return read_at(x, torch.addcmul(centres, from_centre, f.view(-1, 1)))
