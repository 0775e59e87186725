"""Backbones: shapes for 1 and 3 channels at several sizes, normalisation, state, no downloads."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ssl_core.errors import UserError
from ssl_core.models import BACKBONES, Encoder, build_backbone
from ssl_core.models.heads import mlp, simsiam_projector


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a backbone tried to download weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


def test_registry_lists_expected_backbones():
    assert {"small_cnn", "resnet18", "resnet34", "resnet50"} <= set(BACKBONES.names())
    for _, spec in BACKBONES.items():
        assert spec.title and spec.description


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [8, 16, 32])
def test_small_cnn_shapes(channels, size):
    enc = build_backbone("small_cnn", channels, size)
    out = enc(torch.rand(4, channels, size, size))
    assert out.shape == (4, enc.feature_dim) == (4, 128)


@pytest.mark.parametrize("name,dim", [("resnet18", 512), ("resnet34", 512), ("resnet50", 2048)])
@pytest.mark.parametrize("channels", [1, 3])
def test_resnet_shapes_small_inputs(name, dim, channels):
    enc = build_backbone(name, channels, 8).eval()
    assert isinstance(enc.net.net.maxpool, nn.Identity)
    assert enc.net.net.conv1.kernel_size == (3, 3) and enc.net.net.conv1.stride == (1, 1)
    with torch.no_grad():
        out = enc(torch.rand(2, channels, 8, 8))
    assert out.shape == (2, dim) and enc.feature_dim == dim


@pytest.mark.parametrize("size", [16, 32])
def test_resnet18_sizes(size):
    enc = build_backbone("resnet18", 3, size).eval()
    with torch.no_grad():
        assert enc(torch.rand(2, 3, size, size)).shape == (2, 512)


@pytest.mark.parametrize("channels", [1, 3])
def test_resnet18_at_64_keeps_imagenet_stem(channels):
    enc = build_backbone("resnet18", channels, 64).eval()
    assert isinstance(enc.net.net.maxpool, nn.MaxPool2d)
    assert enc.net.net.conv1.stride == (2, 2) and enc.net.net.conv1.in_channels == channels
    with torch.no_grad():
        assert enc(torch.rand(2, channels, 64, 64)).shape == (2, 512)


def test_small_cnn_at_larger_sizes():
    enc = build_backbone("small_cnn", 3, 96)
    assert enc(torch.rand(2, 3, 96, 96)).shape == (2, 128)


def test_encoder_normalises_with_stored_statistics():
    enc = build_backbone("small_cnn", 3, 8, mean=[0.1, 0.2, 0.3], std=[0.5, 0.25, 2.0])
    state = enc.state_dict()
    assert torch.equal(state["mean"].flatten(), torch.tensor([0.1, 0.2, 0.3]))
    assert torch.equal(state["std"].flatten(), torch.tensor([0.5, 0.25, 2.0]))
    # The inner network sees exactly (x - mean) / std.
    seen = {}
    enc.net.register_forward_pre_hook(lambda m, args: seen.setdefault("x", args[0]))
    x = torch.full((1, 3, 8, 8), 0.6)
    enc(x)
    expected = torch.tensor([(0.6 - 0.1) / 0.5, (0.6 - 0.2) / 0.25, (0.6 - 0.3) / 2.0])
    assert torch.allclose(seen["x"][0, :, 0, 0], expected)


def test_exported_state_dict_restores_normalisation():
    a = build_backbone("small_cnn", 1, 8, mean=[0.3], std=[0.2]).eval()
    b = build_backbone("small_cnn", 1, 8).eval()  # default statistics 0.5 / 0.5
    b.load_state_dict(a.state_dict())
    x = torch.rand(3, 1, 8, 8)
    assert torch.allclose(a(x), b(x))


def test_channels_last_gives_same_features():
    enc = build_backbone("small_cnn", 3, 16).eval()
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        ref = enc(x)
        enc = enc.to(memory_format=torch.channels_last)
        out = enc(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(ref, out, atol=1e-5)


def test_bad_inputs_raise_user_errors():
    with pytest.raises(UserError, match="Unknown backbone 'vgg'"):
        build_backbone("vgg", 3, 32)
    with pytest.raises(UserError, match="3 values but the images have 1 channel"):
        build_backbone("small_cnn", 1, 8, mean=[0.5, 0.5, 0.5])
    enc = build_backbone("small_cnn", 1, 8)
    with pytest.raises(UserError, match=r"expects images of shape \(B, 1, H, W\)"):
        enc(torch.rand(2, 3, 8, 8))
    assert isinstance(enc, Encoder)


def test_mlp_layouts():
    head = mlp(16, 32, 8, num_layers=3)
    kinds = [type(m).__name__ for m in head]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert head(torch.randn(4, 16)).shape == (4, 8)
    proj = simsiam_projector(16, 32, 8)
    assert isinstance(proj[-1], nn.BatchNorm1d) and not proj[-1].affine
    no_bn = mlp(16, 32, 8, num_layers=2, hidden_bn=False)
    assert [type(m).__name__ for m in no_bn] == ["Linear", "ReLU", "Linear"]
