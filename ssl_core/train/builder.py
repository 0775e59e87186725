"""Turn a RunConfig into the objects a run needs: data source, split, backbone and method."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ssl_core.config import RunConfig
from ssl_core.data import DataSource, open_source, split_indices
from ssl_core.methods import METHODS, MethodSpec, SSLMethod, build_method
from ssl_core.models.backbones import BACKBONES, build_backbone

_STATS_SAMPLE = 4096  # images used to estimate the per-channel mean/std for input normalisation


@dataclass
class Components:
    source: DataSource
    train_idx: torch.Tensor
    val_idx: torch.Tensor
    spec: MethodSpec
    method: SSLMethod


def channel_stats(source: DataSource, indices: torch.Tensor, seed: int) -> tuple[list[float], list[float]]:
    if len(indices) > _STATS_SAMPLE:
        g = torch.Generator().manual_seed(seed)
        indices = indices[torch.randperm(len(indices), generator=g)[:_STATS_SAMPLE]]
    images, _ = source.read(indices)
    x = images.float().div_(255.0)
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return mean.tolist(), std.tolist()


def build_components(
    config: RunConfig, *, download: bool = False, source: DataSource | None = None
) -> Components:
    spec = METHODS.get(config.method.name)  # fail fast on a typo before loading data
    BACKBONES.get(config.method.backbone)
    spec.params.resolve(config.method.params, owner=f"method.params({spec.name})")
    if source is None:
        source = open_source(
            config.data.spec,
            image_size=config.data.image_size,
            channels=config.data.channels,
            download=download,
        )
    info = source.info
    train_idx, val_idx = split_indices(
        len(source), config.data.val_fraction, config.train.seed, source.labels()
    )
    # Same seed -> same initial weights, so a run is reproducible and a random-init baseline comparable.
    torch.manual_seed(config.train.seed)
    mean, std = channel_stats(source, train_idx, config.train.seed)
    backbone = build_backbone(
        config.method.backbone, in_channels=info.channels, image_size=info.height, mean=mean, std=std
    )
    method = build_method(config.method.name, backbone, config.method.params, info)
    return Components(source=source, train_idx=train_idx, val_idx=val_idx, spec=spec, method=method)
