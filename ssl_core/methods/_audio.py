"""What the audio methods share: their optimizer defaults, the log-mel CNN requirement, patch masks over a
spectrogram, white noise at a chosen signal-to-noise ratio, and preview arrays in the audio payload's rule
((n, C, T) waveforms in [-1, 1], or (n, C, M, F) log-mel arrays whose names start with "spec")."""

from __future__ import annotations

from typing import Any

import torch

from ssl_core.methods.base import OptimDefaults

# Audio sets are small (about 165 recorded samples, a few thousand spoken words): batches of 64 at an lr of
# 1e-3 (4e-3 per 256, scaled linearly with the batch), AdamW, two warm-up epochs, as for small series sets.
AUDIO_OPTIM = OptimDefaults(optimizer="adamw", lr=4e-3, weight_decay=1e-4, warmup_epochs=2.0, batch_size=64)


def mel_cnn_requirement(method_title: str):
    """A `MethodSpec.backbone_requirement` accepting the log-mel CNN only."""

    def requirement(bspec: Any) -> str | None:
        if bspec.name != "mel_cnn":
            return (
                f"{method_title} works on log-mel spectrograms and needs the log-mel CNN backbone (mel_cnn), "
                f"not {bspec.title}; choose mel_cnn (or auto)."
            )
        return None

    return requirement


def patch_mask(
    batch: int, mels: int, frames: int, patch: tuple[int, int], ratio: float, generator: torch.Generator
) -> torch.Tensor:
    """(B, 1, mels, frames) bool, True where hidden: the spectrogram cut into patches of patch[0] mel bins x
    patch[1] frames (the last row and column may be smaller) and exactly round(ratio x patches) of each
    clip's patches hidden (at least 1, never all), chosen at random per clip from `generator`."""
    pm, pf = max(1, int(patch[0])), max(1, int(patch[1]))
    gm, gf = -(-mels // pm), -(-frames // pf)
    total = gm * gf
    count = min(total - 1, max(1, round(float(ratio) * total))) if total > 1 else 1
    scores = torch.rand(batch, total, generator=generator, device=generator.device)
    hidden = scores.argsort(dim=1)[:, :count]
    grid = torch.zeros(batch, total, dtype=torch.bool, device=generator.device)
    grid.scatter_(1, hidden, True)
    grid = grid.view(batch, gm, gf).repeat_interleave(pm, dim=1).repeat_interleave(pf, dim=2)
    return grid[:, None, :mels, :frames]


def clip_stats(spec: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Each clip's log-mel mean and standard deviation over (C, M, F), shaped (B, 1, 1, 1)."""
    var, mean = torch.var_mean(spec.float(), dim=(1, 2, 3), keepdim=True, correction=0)
    return mean, (var + eps).sqrt()


def add_noise(
    wave: torch.Tensor, snr_db: tuple[float, float], generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """`wave` (B, C, T) plus white Gaussian noise at a signal-to-noise ratio drawn per clip uniformly from
    snr_db (decibels of power), clipped to [-1, 1]; also returns the SNRs (B,). A silent clip gets noise at
    the level of a clip of RMS 1e-3, so it is corrupted too."""
    b = wave.shape[0]
    device = generator.device
    lo, hi = float(min(snr_db)), float(max(snr_db))
    snr = lo + (hi - lo) * torch.rand(b, generator=generator, device=device)
    noise = torch.randn(wave.shape, generator=generator, device=device, dtype=torch.float32)
    snr, noise = snr.to(wave.device), noise.to(wave.device)
    rms = wave.float().pow(2).mean(dim=(1, 2)).sqrt().clamp_min(1e-3)
    scale = (rms / 10 ** (snr / 20)).view(b, 1, 1)
    return (wave.float() + scale * noise).clamp(-1, 1).to(wave.dtype), snr


def waveform(x: torch.Tensor) -> torch.Tensor:
    """A preview waveform: float32 on the CPU in [-1, 1]."""
    return x.detach().float().clamp(-1, 1).cpu()


def spectrogram(x: torch.Tensor) -> torch.Tensor:
    """A preview log-mel array: float32 on the CPU, (n, C, M, F)."""
    return x.detach().float().cpu()
