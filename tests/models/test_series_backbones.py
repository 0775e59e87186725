"""Series backbones and decoders: shapes for every length, causality, normalisation, errors, a tiny fit."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_core.errors import UserError
from ssl_core.models import BACKBONES, build_backbone
from ssl_core.models.decoders import eval_mode
from ssl_core.models.series import DEFAULT_BACKBONE, CNN1d, Transformer1d, patch_length_for
from ssl_core.models.series_decoders import SequenceHead, SeriesDecoder

SERIES = ["cnn1d", "gru", "lstm", "transformer1d"]
LENGTHS = [2, 8, 100, 150]

# small_cnn Encoder(3 channels, 8 px) state_dict, recorded from the code before series support was added:
# image checkpoints must keep loading.
_SMALL_CNN_KEYS = ["mean", "std"] + [
    f"net.layers.{i}.{part}"
    for i in range(6)
    for part in (
        "0.weight",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
    )
]
_SMALL_CNN_CONV_SHAPES = [
    (32, 3, 3, 3),
    (32, 32, 3, 3),
    (64, 32, 3, 3),
    (64, 64, 3, 3),
    (128, 64, 3, 3),
    (128, 128, 3, 3),
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _expected_steps(enc, length: int) -> int:
    return math.ceil(length / enc.downsample)


def test_registry_has_the_series_backbones():
    for name in SERIES:
        spec = BACKBONES.get(name)
        assert spec.modalities == ("series",)
        assert spec.title and len(spec.description) > 60
    assert DEFAULT_BACKBONE in SERIES
    for name in ("small_cnn", "resnet18"):
        assert BACKBONES.get(name).modalities == ("image",)


@pytest.mark.parametrize("name", SERIES)
@pytest.mark.parametrize("channels", [1, 6])
def test_shapes_finite_and_gradients(name, channels):
    torch.manual_seed(0)
    for length in LENGTHS:
        enc = build_backbone(name, channels, length)
        assert enc.modality == "series" and enc.mean.shape == (1, channels, 1)
        x = torch.randn(3, channels, length, requires_grad=True)
        feats = enc(x)
        assert feats.shape == (3, enc.feature_dim)
        seq = enc.forward_sequence(x)
        assert seq.shape == (3, _expected_steps(enc, length), enc.sequence_dim)
        assert torch.isfinite(feats).all() and torch.isfinite(seq).all()
        (feats.square().mean() + seq.square().mean()).backward()
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
        grads = [p.grad for p in enc.parameters() if p.requires_grad]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 0
        with eval_mode(enc), torch.no_grad():  # one sample, eval mode (BatchNorm running statistics)
            assert enc(x[:1].detach()).shape == (1, enc.feature_dim)


def test_sequence_metadata():
    assert build_backbone("cnn1d", 6, 100).downsample == 1
    assert not build_backbone("cnn1d", 6, 100).causal
    for name in ("gru", "lstm"):
        enc = build_backbone(name, 6, 100)
        assert enc.causal and enc.downsample == 1 and enc.sequence_dim == enc.feature_dim == 128
    tr = build_backbone("transformer1d", 6, 100)
    assert not tr.causal and tr.downsample == patch_length_for(100) == 7
    assert [patch_length_for(t) for t in (2, 8, 100, 150, 5000)] == [2, 2, 7, 10, 16]
    # Image backbones have no sequence output: a UserError that names the way out, not an AttributeError.
    img = build_backbone("small_cnn", 1, 8)
    assert not img.causal and img.sequence_dim is None and img.downsample is None
    with pytest.raises(UserError, match="no per-step output.*cnn1d"):
        img.forward_sequence(torch.rand(2, 1, 8, 8))


def _assert_causal(net, channels: int, length: int) -> None:
    torch.manual_seed(1)
    x = torch.randn(2, channels, length)
    with eval_mode(net), torch.no_grad():
        ref = net.forward_sequence(x)
        for t in (0, length // 2, length - 2):
            y = x.clone()
            y[..., t + 1 :] = torch.randn_like(y[..., t + 1 :]) * 3
            out = net.forward_sequence(y)
            assert torch.allclose(out[:, : t + 1], ref[:, : t + 1], atol=1e-6), t
            assert not torch.allclose(out[:, t + 1 :], ref[:, t + 1 :], atol=1e-4), t


@pytest.mark.parametrize("name", ["gru", "lstm"])
@pytest.mark.parametrize("channels", [1, 6])
def test_recurrent_encoders_are_causal(name, channels):
    for length in (8, 100):
        enc = build_backbone(name, channels, length)
        _assert_causal(enc, channels, length)
        # Causal in training mode too: nothing in them normalises across time.
        x = torch.randn(2, channels, length)
        y = x.clone()
        y[..., length // 2 :] += 1.0
        a, b = enc.forward_sequence(x), enc.forward_sequence(y)
        assert torch.allclose(a[:, : length // 2], b[:, : length // 2], atol=1e-6)


def test_causal_cnn1d_is_causal_and_default_cnn1d_is_not():
    _assert_causal(CNN1d(6, 100, causal=True), 6, 100)
    net = CNN1d(6, 100)
    x = torch.randn(2, 6, 100)
    y = x.clone()
    y[..., 51:] += 1.0
    with eval_mode(net), torch.no_grad():
        # 'same' padding: step 50 sees a few steps ahead.
        assert not torch.allclose(net.forward_sequence(x)[:, 50], net.forward_sequence(y)[:, 50])


def test_transformer_takes_other_lengths():
    net = Transformer1d(6, 100)
    with eval_mode(net), torch.no_grad():
        assert net(torch.randn(2, 6, 60)).shape == (2, 64)
        assert net.forward_sequence(torch.randn(2, 6, 300)).shape == (2, math.ceil(300 / 7), 64)


def test_series_encoder_normalises_with_per_channel_stats():
    mean, std = [0.5, -1.0, 2.0], [2.0, 0.5, 4.0]
    enc = build_backbone("cnn1d", 3, 16, mean=mean, std=std)
    assert enc.mean.shape == enc.std.shape == (1, 3, 1)
    assert torch.equal(enc.state_dict()["mean"].flatten(), torch.tensor(mean))
    seen = {}
    enc.net.register_forward_pre_hook(lambda m, args: seen.setdefault("x", args[0]))
    x = torch.randn(2, 3, 16)
    enc(x)
    expected = (x - torch.tensor(mean).view(1, 3, 1)) / torch.tensor(std).view(1, 3, 1)
    assert torch.allclose(seen["x"], expected)
    # Series arrive standardised: by default the Encoder leaves them as they are.
    plain = build_backbone("gru", 2, 16)
    assert torch.equal(plain.mean, torch.zeros(1, 2, 1)) and torch.equal(plain.std, torch.ones(1, 2, 1))


def test_series_input_errors_name_the_layout():
    enc = build_backbone("gru", 6, 100)
    with pytest.raises(UserError, match=r"expects series of shape \(B, 6, T\)"):
        enc(torch.randn(2, 6, 10, 10))  # wrong rank: an image batch
    with pytest.raises(UserError, match=r"expects series of shape \(B, 6, T\)"):
        enc.forward_sequence(torch.randn(2, 3, 100))  # wrong channel count
    with pytest.raises(UserError, match=r"expects images of shape \(B, 1, H, W\)"):
        build_backbone("small_cnn", 1, 8)(torch.randn(2, 1, 8))
    with pytest.raises(UserError, match="data.length = 1 is too small; use at least 2") as info:
        build_backbone("cnn1d", 6, 1)
    assert info.value.field == "data.length"
    with pytest.raises(UserError, match="2 values but the series have 6 channel"):
        build_backbone("lstm", 6, 20, mean=[0.0, 1.0])
    with pytest.raises(UserError, match="works on series data, not image"):
        build_backbone("cnn1d", 3, 32, modality="image")
    # Series may have many channels; images stay limited to 1-4.
    assert build_backbone("cnn1d", 12, 20)(torch.randn(2, 12, 20)).shape == (2, 64)
    with pytest.raises(UserError, match="use 1 to 4"):
        build_backbone("small_cnn", 6, 8)


def test_image_encoder_state_is_unchanged():
    enc = build_backbone("small_cnn", 3, 8)
    state = enc.state_dict()
    assert list(state) == _SMALL_CNN_KEYS
    assert state["mean"].shape == state["std"].shape == (1, 3, 1, 1)
    assert [tuple(state[f"net.layers.{i}.0.weight"].shape) for i in range(6)] == _SMALL_CNN_CONV_SHAPES
    assert enc.modality == "image" and torch.equal(state["mean"], torch.full((1, 3, 1, 1), 0.5))


@pytest.mark.parametrize("length", [1, 2, 7, 8, 9, 100, 150, 1000])
def test_series_decoder_shapes(length):
    dec = SeriesDecoder(64, 6, length)
    out = dec(torch.randn(3, 64))
    assert out.shape == (3, 6, length) and torch.isfinite(out).all()


def test_sequence_head_layout():
    head = SequenceHead(8, channels=2, downsample=3)
    seq = torch.randn(2, 4, 8)
    out = head(seq)
    assert out.shape == (2, 2, 12) and head(seq, length=10).shape == (2, 2, 10)
    # Token i predicts steps 3i .. 3i + 2, all channels.
    flat = head.net(seq).view(2, 4, 3, 2)
    assert torch.equal(out[:, 1, 3 * 2 + 1], flat[:, 2, 1, 1])
    enc = build_backbone("transformer1d", 6, 100)
    rec = SequenceHead(enc.sequence_dim, 6, enc.downsample)(enc.forward_sequence(torch.randn(2, 6, 100)), 100)
    assert rec.shape == (2, 6, 100)


def _smooth_series(n: int, channels: int, length: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    t = torch.linspace(0, 1, length)
    freq = torch.rand(n, channels, 1, generator=g) * 4 + 1
    phase = torch.rand(n, channels, 1, generator=g) * 2 * math.pi
    amp = torch.rand(n, channels, 1, generator=g) + 0.5
    return amp * torch.sin(2 * math.pi * freq * t + phase)


def test_cnn1d_autoencoder_overfits_a_few_series():
    torch.manual_seed(0)
    x = _smooth_series(16, 3, 64)
    enc = build_backbone("cnn1d", 3, 64)
    dec = SeriesDecoder(enc.feature_dim, 3, 64)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=3e-3)

    def loss() -> torch.Tensor:
        return (dec(enc(x)) - x).pow(2).mean()

    with eval_mode(enc), eval_mode(dec), torch.no_grad():
        before = float(loss())
    for _ in range(100):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    with eval_mode(enc), eval_mode(dec), torch.no_grad():
        after = float(loss())
    assert after < 0.2 * before, (before, after)  # the brief asks for 50%; it reaches ~99.8%
