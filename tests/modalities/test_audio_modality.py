"""The audio modality: settings, the pass-through adapter and its saved settings, views, refusals, the
log-mel-statistics baseline (it separates tones from noise where raw waveforms do not), previews."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from ssl_core.augment.audio import AudioAugment
from ssl_core.data.audio_info import audio_info
from ssl_core.data.base import DataInfo, TensorSource
from ssl_core.errors import UserError
from ssl_core.modalities import MODALITIES, PreviewPayload, modality_of
from ssl_core.modalities.audio import AudioAdapter, audio_adapter, audio_settings

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RATE = 4000
SECONDS = 0.5
LENGTH = 2000


def info_for(n: int = 8, channels: int = 1, **extra) -> DataInfo:
    return audio_info("beeps", n, channels, RATE, SECONDS, class_names=("tone", "noise"), **extra)


def tones_and_noise(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n clips (1, LENGTH): even ones a tone at a random pitch and phase over faint noise (40 dB down), odd
    ones noise; random loudness for both (19 dB range), so neither level nor phase tells them apart."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(LENGTH) / RATE
    labels = torch.arange(n) % 2
    freq = 200 + 1300 * torch.rand(n, 1, generator=g)
    phase = 2 * math.pi * torch.rand(n, 1, generator=g)
    tone = torch.sin(2 * math.pi * freq * t + phase) + 0.01 * torch.randn(n, LENGTH, generator=g)
    noise = torch.randn(n, LENGTH, generator=g)
    x = torch.where(labels.view(-1, 1) == 0, tone, noise)
    x = x / x.abs().amax(dim=1, keepdim=True) * (0.1 + 0.8 * torch.rand(n, 1, generator=g))
    return x.unsqueeze(1).float(), labels


def source_of(x: torch.Tensor, labels: torch.Tensor, **extra) -> TensorSource:
    return TensorSource(x, labels, info_for(len(x), int(x.shape[1]), **extra))


class FakeMethod(nn.Module):
    """What evaluation passes as the adapter: a method with `input_adapter`, through its bound `prepare`."""

    def __init__(self, adapter: nn.Module):
        super().__init__()
        self.input_adapter = adapter

    def prepare(self, batch: torch.Tensor) -> torch.Tensor:
        return self.input_adapter(batch)


def test_audio_is_registered_with_its_names_and_payload():
    assert "audio" in MODALITIES.names()
    audio = modality_of("audio")
    assert (audio.noun, audio.plural, audio.default_backbone) == ("clip", "clips", "mel_cnn")
    assert audio.preview_payload == PreviewPayload.AUDIO == "audio"
    assert audio.raw_title == "log-mel statistics" and audio.sample_dims() == 2
    assert audio.size_setting == "data.clip_seconds"
    assert modality_of(info_for()) is audio
    assert audio.to_dict()["name"] == "audio"


def test_describe_names_channels_length_and_rate():
    audio = modality_of("audio")
    assert audio.describe(audio_info("x", 4, 1, 16000, 1.0)) == "1 channel x 1.0 s at 16 kHz clips"
    assert audio.describe(audio_info("x", 4, 2, 22050, 2.5)) == "2 channels x 2.5 s at 22.05 kHz clips"


def test_settings_come_from_the_info_and_a_missing_rate_is_a_user_error():
    s = audio_settings(info_for(n_mels=32, win_ms=20.0, hop_ms=5.0))
    assert s == {"sample_rate": RATE, "clip_seconds": SECONDS, "n_mels": 32, "win_ms": 20.0, "hop_ms": 5.0}
    bare = DataInfo(
        spec="x", name="bare", size=1, channels=1, height=0, width=0, has_labels=False, modality="audio",
        sample_shape=(1, 100), sample_dtype="float32",
    )  # fmt: skip
    with pytest.raises(UserError, match="bare has no sample rate, which audio needs; open it as audio"):
        modality_of("audio").describe(bare)


def test_adapter_passes_waveforms_through_and_saves_its_settings():
    x, labels = tones_and_noise(6, 0)
    source = source_of(x.double(), labels)
    audio = modality_of("audio")
    adapter = audio.input_adapter(source, torch.arange(6), seed=0)
    out = adapter(source.read(torch.arange(6))[0])
    assert out.dtype == torch.float32 and torch.allclose(out, x)
    assert audio.encoder_stats(source, torch.arange(6), 0, adapter) == ([0.0], [1.0])
    state = adapter.state_dict()
    assert list(state) == ["_extra_state"] and state["_extra_state"]["settings"]["sample_rate"] == RATE
    other = AudioAdapter(audio_settings(audio_info("y", 1, 1, 16000, 1.0)))
    other.load_state_dict(state)
    assert other.sample_rate == RATE and other.log_mel().sample_rate == RATE
    with pytest.raises(ValueError, match=r"\(B, C, T\)"):
        adapter(torch.zeros(3, 100))


def test_views_for_every_joint_preset_and_no_multicrop():
    audio = modality_of("audio")
    info = info_for(channels=2)
    x = torch.randn(4, 2, LENGTH) * 0.1
    for preset in ("simclr", "moco_v2", "byol", "simsiam", "barlow", "vicreg"):
        first, second = audio.view_pair(preset, info)
        assert isinstance(first, AudioAugment) and first.sample_rate == RATE
        g = torch.Generator().manual_seed(0)
        assert first(x, g).shape == second(x, g).shape == x.shape
    with pytest.raises(UserError, match="augmentation preset"):
        audio.view_pair("rotation", info)
    with pytest.raises(UserError, match="only available for images"):
        audio.multi_crop("dino", info)


def test_no_generic_corruptions_and_no_generic_decoder():
    audio = modality_of("audio")
    assert audio.corruptions() == ()
    with pytest.raises(UserError, match="not available for clips"):
        audio.corrupt("gaussian", torch.zeros(2, 1, 10), torch.Generator())
    with pytest.raises(UserError) as caught:
        audio.reconstruction_head(32, info_for(), nn.Identity(), 16)
    message = str(caught.value)
    assert all(name in message for name in ("spectrogram_denoising", "masked_spectrogram", "wavegan"))


def test_raw_features_are_log_mel_and_mfcc_statistics():
    x, labels = tones_and_noise(5, 1)
    x2 = torch.cat([x, x.flip(0) * 0.5], dim=1)  # two channels
    source = source_of(x2, labels, n_mels=16)
    adapter = modality_of("audio").input_adapter(source, torch.arange(5), 0)
    method = FakeMethod(adapter)
    assert audio_adapter(method.prepare) is adapter and audio_adapter(method) is adapter
    feats = modality_of("audio").raw_features(x2, method.prepare)
    assert feats.shape == (
        5,
        2 * (2 * 16 + 2 * 16),
    )  # MFCCs: at most one per mel band and feats.dtype == np.float32
    assert np.isfinite(feats).all()
    spec = adapter.log_mel()(x2)
    np.testing.assert_allclose(feats[:, :16], spec[:, 0].mean(-1).numpy(), rtol=1e-5, atol=1e-5)
    # chunked like a whole source: the same values
    from ssl_core.modalities import audio as audio_module

    previous, audio_module.RAW_CHUNK = audio_module.RAW_CHUNK, 2
    try:
        np.testing.assert_allclose(
            modality_of("audio").raw_features(x2, adapter), feats, rtol=1e-5, atol=1e-5
        )
    finally:
        audio_module.RAW_CHUNK = previous
    assert modality_of("audio").raw_features(x2[:0], adapter).shape == (0, feats.shape[1])
    with pytest.raises(ValueError, match="AudioAdapter"):
        modality_of("audio").raw_features(x2, lambda b: b)


def test_raw_features_separate_tones_from_noise_where_waveforms_do_not():
    audio = modality_of("audio")
    train_x, train_y = tones_and_noise(60, 2)
    test_x, test_y = tones_and_noise(60, 3)
    adapter = audio.input_adapter(source_of(train_x, train_y), torch.arange(60), 0)

    def accuracy(features) -> float:
        a, b = features(train_x), features(test_x)
        mean, std = a.mean(0), a.std(0) + 1e-6
        clf = LogisticRegression(max_iter=2000).fit((a - mean) / std, train_y.numpy())
        return float(clf.score((b - mean) / std, test_y.numpy()))

    assert accuracy(lambda x: audio.raw_features(x, adapter)) >= 0.95
    assert accuracy(lambda x: x.flatten(1).numpy()) <= 0.75  # random phases: raw samples say little


def test_preview_meta_and_finished_arrays():
    audio = modality_of("audio")
    meta = audio.preview_meta(info_for(n_mels=40, win_ms=30.0, hop_ms=15.0))
    assert meta == {"sample_rate": RATE, "spectrogram": {"n_mels": 40, "win_ms": 30.0, "hop_ms": 15.0}}
    wave = torch.tensor([[[-3.0, -0.5, 0.25, 2.0]]], dtype=torch.float64, requires_grad=True)
    out = audio.finish_preview(wave)
    assert out.dtype == torch.float32 and out.tolist() == [[[-1.0, -0.5, 0.25, 1.0]]]
    spec = torch.full((1, 1, 8, 5), -13.0)  # log-mel values pass through
    assert torch.equal(audio.finish_preview(spec), spec)
