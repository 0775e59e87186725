"""Audio backbones: shapes, gradients, frame alignment and causality of the waveform encoder, SpecAugment only
in training mode, the WaveGAN critic's phase shuffle and generator, and clear refusals."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_core.data.audio_info import audio_info
from ssl_core.errors import UserError
from ssl_core.models import BACKBONES, build_backbone
from ssl_core.models.audio import WavEncoder, stride2_layers
from ssl_core.models.mel_cnn import MelCNN, SpectrogramDecoder
from ssl_core.models.wavegan import WaveGANDiscriminator, WaveGANGenerator, levels, phase_shuffle

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SR, SECONDS = 4000, 0.5
LENGTH = round(SR * SECONDS)
INFO = audio_info("tones", 8, 1, SR, SECONDS, ("tone", "chirp"), n_mels=32)
SMALL = {"mel_cnn": {"width": 8}, "wav_cnn": {"width": 16, "dim": 16}, "wav_gru": {"width": 16, "hidden": 16}}


def tones(n: int = 6, channels: int = 1, seed: int = 0) -> torch.Tensor:
    """n clips (n, channels, LENGTH) in [-1, 1]: sines of random pitch and level."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(LENGTH) / SR
    freq = 200 + 1500 * torch.rand(n, channels, 1, generator=g)
    level = 0.2 + 0.6 * torch.rand(n, channels, 1, generator=g)
    return level * torch.sin(2 * math.pi * freq * t)


def build(name: str, channels: int = 1, info=INFO):
    return build_backbone(name, channels, info.length, modality="audio", info=info, params=SMALL.get(name))


def test_audio_backbones_are_registered_for_audio_only_with_settings():
    audio = [name for name, spec in BACKBONES.items() if "audio" in spec.modalities]
    assert audio == ["mel_cnn", "wav_cnn", "wav_gru", "wavegan_d"]
    for name in audio:
        spec = BACKBONES.get(name)
        assert spec.modalities == ("audio",) and spec.uses_info and spec.params.names()
        assert len(spec.description) > 80


@pytest.mark.parametrize("name", ["mel_cnn", "wav_cnn", "wav_gru", "wavegan_d"])
@pytest.mark.parametrize("channels", [1, 2])
def test_features_have_the_advertised_size_and_every_weight_learns(name, channels):
    info = audio_info("tones", 8, channels, SR, SECONDS, n_mels=32)
    encoder = build(name, channels, info).train()
    x = tones(4, channels)
    features = encoder(x)
    assert features.shape == (4, encoder.feature_dim) and torch.isfinite(features).all()
    features.pow(2).sum().backward()
    missing = [n for n, p in encoder.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_waveform_encoders_give_one_frame_per_20_ms_at_any_rate():
    assert stride2_layers(16000, 16000) == 6  # 5 * 64 = 320 samples: wav2vec's 20 ms frame
    assert stride2_layers(8000, 8000) == 5 and stride2_layers(SR, LENGTH) == 4
    assert stride2_layers(16000, 800) == 5  # a 50 ms clip keeps at least 4 frames
    for name in ("wav_cnn", "wav_gru"):
        encoder = build(name)
        assert encoder.downsample == 80 and encoder.causal
        seq = encoder.forward_sequence(tones(3))
        assert seq.shape == (3, math.ceil(LENGTH / 80), encoder.sequence_dim)


def test_a_waveform_frame_depends_on_its_own_stretch_and_the_past_only():
    encoder = WavEncoder(1, LENGTH, SR, width=16, dim=16).eval()
    x = tones(1)
    later = x.clone()
    later[..., 80 * 10 :] = torch.randn(1, 1, LENGTH - 800)  # change everything after frame 9
    a, b = encoder.forward_sequence(x), encoder.forward_sequence(later)
    assert torch.allclose(a[:, :10], b[:, :10], atol=1e-6)
    assert not torch.allclose(a[:, 10:], b[:, 10:], atol=1e-3)


def test_mel_cnn_masks_spectrograms_only_while_training_and_reproducibly():
    encoder = build("mel_cnn")
    net = encoder.net
    assert isinstance(net, MelCNN)
    x = tones(4)
    spec = net.spectrogram(x)
    assert spec.shape == (4, 1, 32, net.frames) == (4, 1, 32, LENGTH // 40 + 1)
    encoder.eval()
    assert torch.equal(encoder(x), encoder(x))  # evaluation: no masks
    assert int(net.augment_calls) == 0
    # training: SpecAugment masks, new per call, drawn from a stream the calls counter (a buffer) seeds
    first, second = net.augment(spec), net.augment(spec)
    assert not torch.equal(first, spec) and not torch.equal(first, second)
    assert "net.augment_calls" in encoder.state_dict() and int(net.augment_calls) == 2
    fresh = build("mel_cnn").net
    fresh.load_state_dict(net.state_dict())
    assert torch.equal(fresh.augment(spec), net.augment(spec))  # a resumed run draws the same masks
    fresh.load_state_dict({**net.state_dict(), "augment_calls": torch.tensor(0)})
    assert torch.equal(fresh.augment(spec), first)
    off = build_backbone("mel_cnn", 1, LENGTH, modality="audio", info=INFO, params={"spec_augment": False})
    off.train()(x)
    assert int(off.net.augment_calls) == 0


def test_spectrogram_decoder_rebuilds_the_exact_spectrogram_size():
    net = build("mel_cnn").net
    spec = net.spectrogram(tones(2))
    maps = net.feature_maps(spec)
    assert maps.shape[:2] == (2, net.map_channels)
    decoder = SpectrogramDecoder(net.map_channels, 1, net.n_mels, net.frames, width=8)
    assert decoder(maps).shape == spec.shape
    mean, std = net.band_stats()
    assert mean.shape == std.shape == (1, 1, 32, 1)


def test_wavegan_critic_and_generator_follow_the_clip_length():
    assert levels(16384) == 5 and levels(LENGTH) == 3 and levels(100) == 1
    critic = WaveGANDiscriminator(1, 16384, width=4)
    assert [c.stride[0] for c in critic.convs] == [4] * 5 and critic.feature_dim == 4 * (1 + 2 + 4 + 8 + 16)
    for length, upsample in (
        (LENGTH, "transposed"),
        (LENGTH, "nearest"),
        (1000, "transposed"),
        (777, "nearest"),
    ):
        generator = WaveGANGenerator(16, 2, length, width=4, upsample=upsample)
        out = generator(torch.randn(3, 16))
        assert out.shape == (3, 2, length) and out.abs().max() <= 1


def test_phase_shuffle_shifts_each_clip_by_at_most_its_radius_with_reflection():
    x = torch.arange(20, dtype=torch.float32).view(1, 1, 20).repeat(64, 3, 1)
    out = phase_shuffle(x, 2, torch.Generator().manual_seed(0))
    shifts = set()
    for clip in out:
        assert torch.equal(clip[0], clip[1])  # every channel of a clip moves together
        middle = clip[0, 2:-2] - x[0, 0, 2:-2]
        assert (middle == middle[0]).all() and abs(int(middle[0])) <= 2
        shifts.add(int(middle[0]))
    assert shifts == {-2, -1, 0, 1, 2}
    delayed = out[(out[:, 0, 5] - x[:, 0, 5]) == -2][0, 0]  # 2 steps later: the start is reflected
    assert delayed[:3].tolist() == [2.0, 1.0, 0.0]
    advanced = out[(out[:, 0, 5] - x[:, 0, 5]) == 2][0, 0]  # 2 steps earlier: the end is reflected
    assert advanced[-3:].tolist() == [19.0, 18.0, 17.0]
    critic = build("wavegan_d").eval()
    clips = tones(2)
    assert torch.equal(critic(clips), critic(clips))  # no shuffle when extracting features


def test_audio_networks_refuse_clips_they_cannot_read_in_words():
    short = audio_info("blip", 4, 1, SR, 0.002, n_mels=32)  # 8 samples: less than one 25 ms window
    with pytest.raises(UserError, match=r"data\.clip_seconds|shorter than one"):
        build("mel_cnn", info=short)
    with pytest.raises(UserError, match="too short for the waveform encoder"):
        build("wav_cnn", info=short)
    no_rate = audio_info("x", 4, 1, SR, SECONDS)
    no_rate.extra.pop("audio")
    with pytest.raises(UserError, match="no sample rate"):
        build("mel_cnn", info=no_rate)
    encoder = build("wav_cnn")
    with pytest.raises(UserError, match=r"\(B, 1, T\)"):
        encoder(tones(2, channels=2))
    with pytest.raises(UserError, match="waveform backbone \\(wav_cnn, wav_gru\\)"):
        build("mel_cnn").forward_sequence(tones(2))
