"""The modality seam: each kind of data brings its own conversion, statistics, views and baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssl_core.config import RunConfig
from ssl_core.data.base import DataInfo, TensorSource
from ssl_core.errors import UserError
from ssl_core.methods import METHODS
from ssl_core.modalities import MODALITIES, modality_of
from ssl_core.train.builder import build_components

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _series_source(n: int = 40, channels: int = 3, length: int = 32) -> TensorSource:
    g = torch.Generator().manual_seed(0)
    t = torch.linspace(0, 6.28, length)
    labels = torch.arange(n) % 2
    values = torch.stack(
        [
            torch.stack([torch.sin(t * (1 + k)) * (c + 1) * 10 + 100 * c for c in range(channels)])
            for k in labels
        ]
    )
    values = values + torch.randn(values.shape, generator=g)
    info = DataInfo(
        spec="test:series", name="waves", size=n, channels=channels, height=0, width=0, has_labels=True,
        class_names=["slow", "fast"], modality="series", sample_shape=(channels, length),
        sample_dtype="float32",
    )  # fmt: skip
    return TensorSource(values.float(), labels, info)


def _config(method: str = "simclr", backbone: str = "auto") -> RunConfig:
    return RunConfig().with_overrides([f"method.name={method!r}", f"method.backbone={backbone!r}"])


def test_registry_has_images_and_series_with_their_defaults():
    assert MODALITIES.names() == ["image", "series", "table", "text", "audio"]
    assert modality_of("image").default_backbone == "small_cnn"
    assert modality_of("series").default_backbone == "cnn1d"
    assert set(modality_of("series").backbones()) == {"cnn1d", "gru", "lstm", "transformer1d"}
    assert "small_cnn" in modality_of("image").backbones() and "cnn1d" not in modality_of("image").backbones()


def test_series_are_standardised_with_training_split_statistics_saved_in_the_checkpoint():
    source = _series_source()
    parts = build_components(_config(), source=source)
    values, _ = source.read(parts.train_idx)
    expected_mean = values.double().mean(dim=(0, 2)).float()
    adapter = parts.method.input_adapter
    assert torch.allclose(adapter.mean.flatten(), expected_mean, atol=1e-3)
    x = parts.method.prepare(values)
    per_channel = x.transpose(0, 1).reshape(x.shape[1], -1)
    assert torch.allclose(per_channel.mean(dim=1), torch.zeros(3), atol=1e-4)
    assert torch.allclose(per_channel.std(dim=1), torch.ones(3), atol=1e-2)
    state = parts.method.state_dict()
    assert {"input_adapter.mean", "input_adapter.std"} <= set(state)
    # The held-out series did not shape the statistics: all series together give other means.
    everything = source.read(torch.arange(len(source)))[0].double().mean(dim=(0, 2)).float()
    assert len(parts.val_idx) > 0 and not torch.allclose(adapter.mean.flatten(), everything, atol=1e-5)


def test_image_checkpoints_keep_their_keys(tmp_path):
    parts = build_components(_config())
    assert parts.source.info.modality == "image" and parts.backbone_name == "small_cnn"
    assert not any(key.startswith("input_adapter") for key in parts.method.state_dict())


def test_auto_backbone_follows_the_data_and_the_method():
    source = _series_source()
    assert build_components(_config("simclr"), source=source).backbone_name == "cnn1d"
    assert build_components(_config("autoregressive"), source=source).backbone_name == "gru"


def test_a_backbone_or_method_that_does_not_fit_the_data_is_refused_with_the_reason():
    source = _series_source()
    with pytest.raises(UserError, match="works on image data, but waves is series data.*cnn1d"):
        build_components(_config("simclr", "small_cnn"), source=source)
    with pytest.raises(
        UserError, match="Rotation prediction works on image data.*Methods for this data:.*cpc"
    ):
        build_components(_config("rotation"), source=source)
    with pytest.raises(UserError, match="causal backbone"):
        build_components(_config("autoregressive", "cnn1d"), source=source)
    for name, spec in METHODS.items():
        reason = spec.unavailable_reason(source.info)
        assert (reason is None) == ("series" in spec.modalities), name


def test_raw_input_baseline_per_modality():
    source = _series_source(length=32)
    parts = build_components(_config(), source=source)
    batch, _ = source.read(torch.arange(4))
    feats = parts.method.modality.raw_features(batch, parts.method.prepare)
    assert feats.shape == (4, 3 * 32) and feats.dtype == np.float32
    assert modality_of("image").raw_title == "raw pixels" and modality_of("series").raw_title == "raw input"


def test_views_come_from_the_modality_for_the_same_method():
    source = _series_source()
    parts = build_components(_config("byol"), source=source)
    x = parts.method.prepare(source.read(torch.arange(8))[0])
    v1, v2 = parts.method.make_views(x, torch.Generator().manual_seed(0))
    assert v1.shape == x.shape == v2.shape and not torch.equal(v1, v2)
    preview = parts.method.preview(x, torch.Generator().manual_seed(0))
    assert preview.payload == "signal"
