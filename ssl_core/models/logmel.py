"""Log-mel spectrogram front end, SpecAugment masking and MFCCs, batched on the input's device.

- `LogMel(sample_rate, n_mels, win_ms, hop_ms)`: (B, C, T) waveforms -> (B, C, n_mels, F) log(mel power + 1e-6).
  A Hann-windowed STFT (torch.stft, center=True, zero padding so any clip length works), the power
  spectrum, and a triangular mel filterbank on the HTK mel scale (mel = 2595 log10(1 + f / 700)), peak 1
  per filter, held as a buffer. Written here so the workbench needs neither torchaudio nor librosa.
- `spec_augment(spec, generator, ...)`: SpecAugment (Park et al. 2019) time and frequency masks, drawn per
  sample from `generator`, masked to each spectrogram's mean.
- `mfcc(logmel, n_mfcc)`: an orthonormal DCT-II over the mel bins (c0 .. c{n_mfcc-1}).

Everything is computed in float32 with autocast off (an fp16 power spectrum overflows and its log is
coarse), and returned as float32. This module is a leaf: it imports torch only.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

LOG_FLOOR = 1e-6  # log(mel power + LOG_FLOOR): silence maps to log(1e-6) ~ -13.8, not -inf


def hz_to_mel(f: Tensor | float) -> Tensor:
    """HTK mel scale: 2595 log10(1 + f / 700)."""
    f = torch.as_tensor(f, dtype=torch.float64)
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def mel_to_hz(m: Tensor | float) -> Tensor:
    m = torch.as_tensor(m, dtype=torch.float64)
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def window_samples(sample_rate: int, win_ms: float) -> int:
    """STFT window length in samples (at least 2)."""
    return max(2, int(round(sample_rate * win_ms / 1000.0)))


def hop_samples(sample_rate: int, hop_ms: float) -> int:
    """STFT hop in samples (at least 1)."""
    return max(1, int(round(sample_rate * hop_ms / 1000.0)))


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None
) -> Tensor:
    """(n_mels, n_fft // 2 + 1) float32 triangular filters, HTK mel scale, peak 1.

    n_mels + 2 edges evenly spaced in mel from f_min to f_max (default Nyquist); filter m rises from edge m
    to edge m + 1 and falls to edge m + 2, evaluated at the FFT bin frequencies. A filter narrower than
    the bin spacing (many mels, a short window, a low rate) could miss every bin and stay silent; it
    takes weight 1 on the bin nearest its centre instead, so every band carries signal.
    """
    nyquist = sample_rate / 2.0
    f_max = nyquist if f_max is None else min(float(f_max), nyquist)
    if not 0.0 <= f_min < f_max:
        raise ValueError(f"mel filterbank needs 0 <= f_min < f_max; got {f_min} and {f_max}")
    if n_mels < 1:
        raise ValueError(f"n_mels must be >= 1; got {n_mels}")
    freqs = torch.linspace(0.0, nyquist, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(f_max)), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lo) / (mid - lo).clamp_min(1e-9)
    falling = (hi - freqs) / (hi - mid).clamp_min(1e-9)
    bank = torch.minimum(rising, falling).clamp_min(0.0)
    empty = bank.sum(dim=1) == 0
    if bool(empty.any()):
        nearest = (freqs[None, :] - mid[empty]).abs().argmin(dim=1)
        bank[empty.nonzero().squeeze(1), nearest] = 1.0
    return bank.float()


class LogMel(nn.Module):
    """(B, C, T) waveforms -> (B, C, n_mels, F) log-mel power, F = 1 + T // hop (see `frames`).

    Window `round(sample_rate * win_ms / 1000)` samples (Hann, periodic), FFT size the next power of two,
    hop `round(sample_rate * hop_ms / 1000)`, frames centred on t * hop (zero padding at both ends).
    The filterbank and window are buffers (they follow .to(device)) but not saved in state_dicts:
    they are fixed by the settings, so a checkpoint stays valid if this module is improved.
    """

    def __init__(
        self,
        sample_rate: int,
        n_mels: int = 64,
        win_ms: float = 25.0,
        hop_ms: float = 10.0,
        f_min: float = 0.0,
        f_max: float | None = None,
    ):
        super().__init__()
        if sample_rate < 1:
            raise ValueError(f"sample_rate must be >= 1; got {sample_rate}")
        self.sample_rate = int(sample_rate)
        self.n_mels = int(n_mels)
        self.win_ms = float(win_ms)
        self.hop_ms = float(hop_ms)
        self.win_length = window_samples(self.sample_rate, self.win_ms)
        self.hop_length = hop_samples(self.sample_rate, self.hop_ms)
        self.n_fft = 1 << (self.win_length - 1).bit_length()
        self.register_buffer("window", torch.hann_window(self.win_length, periodic=True), persistent=False)
        self.register_buffer(
            "filterbank",
            mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, f_min, f_max),
            persistent=False,
        )

    def frames(self, length: int) -> int:
        """Number of spectrogram frames for a clip of `length` samples."""
        return 1 + int(length) // self.hop_length

    def power(self, x: Tensor) -> Tensor:
        """(B, C, T) -> (B, C, n_fft // 2 + 1, F) float32 power spectrum."""
        if x.dim() != 3:
            raise ValueError(f"LogMel expects (B, C, T) waveforms; got shape {tuple(x.shape)}")
        b, c, t = x.shape
        if t < 1:
            raise ValueError("LogMel needs clips of at least 1 sample")
        with torch.autocast(x.device.type, enabled=False):
            flat = x.reshape(b * c, t).float()
            spec = torch.stft(
                flat,
                n_fft=self.n_fft,
                hop_length=self.hop_length,
                win_length=self.win_length,
                window=self.window.to(device=flat.device, dtype=torch.float32),
                center=True,
                pad_mode="constant",
                return_complex=True,
            )
            power = spec.real.square() + spec.imag.square()
        return power.reshape(b, c, power.shape[-2], power.shape[-1])

    def forward(self, x: Tensor) -> Tensor:
        power = self.power(x)
        with torch.autocast(x.device.type, enabled=False):
            bank = self.filterbank.to(device=power.device, dtype=torch.float32)
            mel = torch.einsum("mk,bckf->bcmf", bank, power)
            return torch.log(mel + LOG_FLOOR)

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, n_mels={self.n_mels}, win={self.win_length}, "
            f"hop={self.hop_length}, n_fft={self.n_fft}"
        )


def _uniform(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> Tensor:
    """Uniform [0, 1) float32 drawn on the generator's device, then moved to `device`."""
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def _band_masks(n: int, size: int, count: int, max_share: float, generator, device) -> Tensor:
    """(n, size) bool: `count` bands per sample, each of width U{0 .. floor(max_share * size)} at a
    uniformly random start (bands may overlap)."""
    mask = torch.zeros(n, size, dtype=torch.bool, device=device)
    widest = int(math.floor(max(0.0, min(1.0, max_share)) * size))
    if count < 1 or widest < 1:
        return mask
    steps = torch.arange(size, device=device)
    for _ in range(count):
        width = (_uniform((n,), generator, device) * (widest + 1)).floor().clamp(max=widest)
        start = (_uniform((n,), generator, device) * (size - width + 1)).floor().clamp(max=size - width)
        mask |= (steps >= start[:, None]) & (steps < (start + width)[:, None])
    return mask


def spec_augment(
    spec: Tensor,
    generator: torch.Generator,
    time_masks: int = 2,
    max_time: float = 0.15,
    freq_masks: int = 2,
    max_freq: float = 0.15,
) -> Tensor:
    """SpecAugment masking of (B, C, M, F) log-mel spectrograms, new masks for each sample.

    `time_masks` bands of up to `max_time` of the frames and `freq_masks` bands of up to `max_freq` of the
    mel bins; all channels of a sample share its masks. Masked cells take the sample's (per channel)
    mean, the neutral value for a normalised network. Returns a new tensor; the input is unchanged.
    """
    if spec.dim() != 4:
        raise ValueError(f"spec_augment expects (B, C, M, F) spectrograms; got shape {tuple(spec.shape)}")
    b, _, m, f = spec.shape
    device = spec.device
    tmask = _band_masks(b, f, time_masks, max_time, generator, device)  # (B, F)
    fmask = _band_masks(b, m, freq_masks, max_freq, generator, device)  # (B, M)
    mask = tmask[:, None, None, :] | fmask[:, None, :, None]  # (B, 1, M, F)
    mean = spec.mean(dim=(-2, -1), keepdim=True)
    return torch.where(mask, mean.to(spec.dtype), spec)


def dct_matrix(n_out: int, n_in: int) -> Tensor:
    """(n_out, n_in) orthonormal DCT-II basis: row k = sqrt(2 / N) cos(pi / N (n + 1/2) k), row 0 / sqrt(2)."""
    n = torch.arange(n_in, dtype=torch.float64)
    k = torch.arange(n_out, dtype=torch.float64)[:, None]
    basis = torch.cos(math.pi / n_in * (n + 0.5) * k) * math.sqrt(2.0 / n_in)
    basis[0] /= math.sqrt(2.0)
    return basis.float()


def mfcc(logmel: Tensor, n_mfcc: int = 20) -> Tensor:
    """(B, C, M, F) log-mel -> (B, C, min(n_mfcc, M), F) MFCCs: orthonormal DCT-II over the mel bins."""
    if logmel.dim() < 2:
        raise ValueError(f"mfcc expects (..., M, F) log-mel spectrograms; got shape {tuple(logmel.shape)}")
    m = logmel.shape[-2]
    basis = dct_matrix(min(int(n_mfcc), m), m).to(logmel.device)
    with torch.autocast(logmel.device.type, enabled=False):
        return torch.einsum("km,...mf->...kf", basis, logmel.float())
