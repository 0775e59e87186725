"""Log-mel front end, SpecAugment and MFCC: tone placement, frame counts, shapes, masks, DCT properties."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_core.models.logmel import LogMel, hz_to_mel, mel_filterbank, mel_to_hz, mfcc, spec_augment


def tone(freq: float, sample_rate: int, seconds: float, channels: int = 1, batch: int = 1) -> torch.Tensor:
    t = torch.arange(int(round(sample_rate * seconds)), dtype=torch.float32) / sample_rate
    return (0.5 * torch.sin(2 * math.pi * freq * t)).expand(batch, channels, -1).clone()


def bin_containing(freq: float, sample_rate: int, n_mels: int) -> int:
    """The mel band whose [lower, upper] edge interval, by centre nearest, holds `freq`."""
    edges = mel_to_hz(torch.linspace(0.0, float(hz_to_mel(sample_rate / 2)), n_mels + 2))
    return int((edges[1:-1] - freq).abs().argmin())


@pytest.mark.parametrize(
    ("sample_rate", "n_mels", "freq"), [(16000, 64, 1000.0), (4000, 32, 1000.0), (16000, 40, 3000.0)]
)
def test_tone_peaks_in_its_mel_band(sample_rate, n_mels, freq):
    mel = LogMel(sample_rate, n_mels=n_mels)
    spec = mel(tone(freq, sample_rate, 0.5))
    profile = spec[0, 0, :, 2:-2].mean(dim=-1)  # away from the zero-padded edges
    assert int(profile.argmax()) == bin_containing(freq, sample_rate, n_mels)
    assert float(profile.max() - profile.median()) > 5.0  # a clear peak, not leakage


@pytest.mark.parametrize("length", [1, 7, 160, 161, 2000, 4001])
def test_frames_matches_output(length):
    mel = LogMel(4000, n_mels=16, win_ms=25.0, hop_ms=10.0)
    out = mel(torch.randn(2, 3, length) * 0.1)
    assert out.shape == (2, 3, 16, mel.frames(length))
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_settings_give_window_hop_and_fft():
    mel = LogMel(16000, n_mels=64, win_ms=25.0, hop_ms=10.0)
    assert (mel.win_length, mel.hop_length, mel.n_fft) == (400, 160, 512)
    assert mel.frames(16000) == 101
    assert mel.state_dict() == {}  # fixed by the settings, not saved


def test_batched_channels_are_independent_and_silence_is_the_floor():
    sr = 8000
    x = torch.zeros(2, 2, 4000)
    x[0, 1] = tone(500.0, sr, 0.5)[0, 0]
    x[1, 0] = tone(2000.0, sr, 0.5)[0, 0]
    out = LogMel(sr, n_mels=32)(x)
    single = LogMel(sr, n_mels=32)(x[0:1, 1:2])
    torch.testing.assert_close(out[0:1, 1:2], single, atol=1e-4, rtol=1e-4)
    assert torch.allclose(out[0, 0], torch.full_like(out[0, 0], math.log(1e-6)))
    assert out[0, 1].mean(-1).argmax() < out[1, 0].mean(-1).argmax()


def test_float64_and_half_inputs_and_autocast_give_float32():
    mel = LogMel(4000, n_mels=16)
    x = torch.randn(2, 1, 2000) * 0.3
    ref = mel(x)
    torch.testing.assert_close(mel(x.double()), ref, atol=1e-4, rtol=1e-4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = mel(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref)


def test_every_mel_filter_sees_some_bin():
    bank = mel_filterbank(4000, 128, 64)  # filters narrower than the 31 Hz bin spacing at the bottom
    assert bank.shape == (64, 65)
    assert (bank.sum(dim=1) > 0).all()
    centres = bank.argmax(dim=1)
    assert (centres[1:] >= centres[:-1]).all()


def test_spec_augment_masks_per_sample_deterministically():
    spec = torch.randn(8, 2, 32, 50)
    g = torch.Generator().manual_seed(3)
    a = spec_augment(spec, g, time_masks=2, max_time=0.2, freq_masks=2, max_freq=0.2)
    b = spec_augment(spec, torch.Generator().manual_seed(3), 2, 0.2, 2, 0.2)
    torch.testing.assert_close(a, b)
    changed = a != spec
    assert changed.any()
    mean = spec.mean(dim=(-2, -1), keepdim=True).expand_as(spec)
    assert torch.equal(a[changed], mean[changed])  # masked to the spectrogram's mean
    # all channels of a sample share the masks; samples differ
    assert torch.equal(changed[:, 0], changed[:, 1])
    assert not all(torch.equal(changed[0, 0], changed[i, 0]) for i in range(1, 8))
    # widths stay within the limits: at most 2 * floor(0.2 * 50) = 20 masked frames per sample
    full_columns = changed[:, 0].all(dim=1)  # (B, F) frames masked in every mel bin
    assert int(full_columns.sum(dim=1).max()) <= 20
    full_rows = changed[:, 0].all(dim=2)
    assert int(full_rows.sum(dim=1).max()) <= 2 * math.floor(0.2 * 32)


def test_spec_augment_off_changes_nothing():
    spec = torch.randn(2, 1, 16, 20)
    out = spec_augment(spec, torch.Generator().manual_seed(0), time_masks=0, freq_masks=0)
    assert torch.equal(out, spec)


def test_mfcc_of_constant_spectrum_is_only_c0():
    logmel = torch.full((2, 1, 40, 7), -3.0)
    c = mfcc(logmel, n_mfcc=13)
    assert c.shape == (2, 1, 13, 7)
    torch.testing.assert_close(c[:, :, 0], torch.full((2, 1, 7), -3.0 * math.sqrt(40)))
    assert c[:, :, 1:].abs().max() < 1e-5


def test_mfcc_is_orthonormal_and_clips_to_the_mel_count():
    x = torch.randn(3, 2, 20, 5)
    c = mfcc(x, n_mfcc=20)
    torch.testing.assert_close(c.square().sum(dim=2), x.square().sum(dim=2), atol=1e-4, rtol=1e-4)
    assert mfcc(x, n_mfcc=64).shape == (3, 2, 20, 5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    mel = LogMel(16000)
    x = torch.randn(4, 1, 16000) * 0.2
    torch.testing.assert_close(mel.cuda()(x.cuda()).cpu(), LogMel(16000)(x), atol=1e-3, rtol=1e-3)
