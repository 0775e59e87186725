"""Turn a RunConfig into the objects a run needs: data source, split, backbone and method."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ssl_core.config import RunConfig
from ssl_core.data import DataSource, open_source, split_indices
from ssl_core.data.normal import normal_only
from ssl_core.errors import UserError
from ssl_core.methods import METHODS, MethodSpec, SSLMethod, build_method
from ssl_core.modalities import modality_of
from ssl_core.models.backbones import BACKBONES, build_backbone
from ssl_core.train.global_rng import seeded_draws


@dataclass
class Components:
    source: DataSource
    train_idx: torch.Tensor
    val_idx: torch.Tensor
    spec: MethodSpec
    method: SSLMethod
    backbone_name: str  # what "auto" resolved to (methods may still swap it, e.g. MAE's ViT)


def open_config_source(
    config: RunConfig, *, download: bool = False, table_schema: dict | None = None
) -> DataSource:
    """The data source a config names, opened with its data options.

    `table_schema`: a run's stored table schema, to encode another file exactly as the run's data was."""
    d = config.data
    return open_source(
        d.spec,
        image_size=d.image_size,
        channels=d.channels,
        download=download,
        modality=d.modality,
        length=d.length,
        missing=d.missing,
        label_column=d.label_column,
        id_column=d.id_column,
        ignore_columns=d.ignore_columns,
        categorical=d.categorical,
        memory_budget_mb=d.memory_budget_mb,
        table_schema=table_schema,
        tokenizer=d.tokenizer,
        vocab_size=d.vocab_size,
        text_unit=d.text_unit,
        text_column=d.text_column,
        sample_rate=d.sample_rate,
        clip_seconds=d.clip_seconds,
        audio_channels=d.audio_channels,
        n_mels=d.n_mels,
        win_ms=d.win_ms,
        hop_ms=d.hop_ms,
    )


def resolve_backbone(config: RunConfig, spec: MethodSpec, source: DataSource) -> str:
    """The backbone a run uses on this data; a backbone that does not fit is a user error."""
    info = source.info
    name = spec.backbone_for(info, config.method.backbone)
    BACKBONES.get(name)
    reason = spec.backbone_reason(name, info)
    if reason:
        raise UserError(reason, field="method.backbone")
    return name


def build_components(
    config: RunConfig, *, download: bool = False, source: DataSource | None = None
) -> Components:
    spec = METHODS.get(config.method.name)  # fail fast on a typo before loading data
    if config.method.backbone.lower() != "auto":
        BACKBONES.get(config.method.backbone)
    spec.params.resolve(config.method.params, owner=f"method.params({spec.name})")
    if source is None:
        source = open_config_source(config, download=download)
    info = source.info
    reason = spec.unavailable_reason(info)
    if reason:
        fitting = [name for name, other in METHODS.items() if other.unavailable_reason(info) is None]
        raise UserError(f"{reason} Methods for this data: {', '.join(fitting)}.", field="method.name")
    backbone_name = resolve_backbone(config, spec, source)
    modality = modality_of(info)
    labels = source.labels()
    train_idx, val_idx = split_indices(
        len(source), config.data.val_fraction, config.train.seed, labels, groups=source.groups()
    )
    if config.data.train_on == "normal":
        train_idx = normal_only(train_idx, labels, info, config.data.normal_classes)
    # Same seed -> same initial weights, so a run is reproducible and a random-init baseline comparable;
    # under the global stream's lock, so a run building at the same time (a race) cannot take our numbers.
    with seeded_draws(config.train.seed):
        adapter = modality.input_adapter(source, train_idx, config.train.seed)
        mean, std = modality.encoder_stats(source, train_idx, config.train.seed, adapter)
        backbone = build_backbone(
            backbone_name,
            in_channels=info.channels,
            image_size=info.size_hint,
            mean=mean,
            std=std,
            modality=info.modality,
            info=info,
            params=config.method.backbone_params,
        )
        method = build_method(config.method.name, backbone, config.method.params, info, input_adapter=adapter)
    return Components(
        source=source,
        train_idx=train_idx,
        val_idx=val_idx,
        spec=spec,
        method=method,
        backbone_name=backbone_name,
    )
