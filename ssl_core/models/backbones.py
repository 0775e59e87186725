"""Backbone registry: encoders that map a batch to (B, feature_dim) features.

Image networks take (B, C, H, W) floats in [0, 1]; series networks (registered from
ssl_core/models/series.py, which imports nothing from here) take standardised (B, C, T) floats; table
networks (from ssl_core/models/table.py, likewise) take rows (B, F) in the table modality's column space;
text networks (from ssl_core/models/text.py, likewise) take int64 token ids (B, L), PAD = 0; audio
networks (from ssl_core/models/audio.py, likewise) take waveforms (B, C, T) in [-1, 1].
Every network is built from scratch (weights=None): nothing is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ssl_core.errors import UserError
from ssl_core.models.audio import AUDIO_BACKBONES
from ssl_core.models.audio import SEQUENCE_BACKBONES as AUDIO_SEQUENCE_BACKBONES
from ssl_core.models.gan import DCGANDiscriminator
from ssl_core.models.series import SERIES_BACKBONES
from ssl_core.models.table import TABLE_BACKBONES
from ssl_core.models.text import TEXT_BACKBONES
from ssl_core.params import ParamSet
from ssl_core.registry import Registry

PARAMS_FIELD = "method.backbone_params"  # where a run's backbone settings live (ssl_core.config)

# ResNets keep their ImageNet stem (7x7 stride-2 conv + max-pool) only from this size up; smaller
# images would shrink to nothing, so they get a 3x3 stride-1 stem and no pooling (as on CIFAR).
RESNET_FULL_STEM_MIN_SIZE = 64


@dataclass(frozen=True)
class BackboneSpec:
    """Registry entry. `factory(in_channels, size, **params)` returns a bare network with `.feature_dim`.

    `size` is the modality's size hint (`DataInfo.size_hint`): an image's side, a series' length.
    `modalities` names the kinds of data the network accepts (keys of ssl_core.modalities.MODALITIES).
    `params` are the network's settings (a run's `method.backbone_params`), with defaults, ranges and help;
    their resolved values reach the factory as keyword arguments. Most backbones have none.
    """

    name: str
    title: str
    description: str
    factory: Callable[..., nn.Module]
    modalities: tuple[str, ...] = ("image",)
    # True: the factory also takes the data's DataInfo, `factory(in_channels, size, info)` (a table's MLP
    # needs its column schema: which columns are categories and how many each has).
    uses_info: bool = False
    params: ParamSet = field(default_factory=ParamSet)

    def resolve_params(self, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
        """Every setting's value: the defaults with `overrides` applied, checked.

        Raises UserError naming `method.backbone_params.<key>` for an unknown key or a value out of range,
        and naming `method.backbone_params` when a backbone without settings is given some."""
        overrides = dict(overrides or {})
        if overrides and not self.params.names():
            having = ", ".join(name for name, spec in BACKBONES.items() if spec.params.names())
            raise UserError(
                f"The {self.name} backbone takes no settings, but {PARAMS_FIELD} sets "
                f"{', '.join(sorted(overrides))}; remove them, or choose a backbone that has settings "
                f"({having}).",
                field=PARAMS_FIELD,
            )
        return self.params.resolve(overrides, owner=PARAMS_FIELD)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "modalities": list(self.modalities),
            "params": [p.to_dict() for p in self.params],
        }


BACKBONES: Registry[BackboneSpec] = Registry("backbone")


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """Three conv-BN-ReLU stages (32, 64, 128 channels) and global average pooling.

    Stages 2 and 3 halve the resolution (8 -> 2 px on digits, 32 -> 8 px on CIFAR); images above
    32 px get a strided stem as well, so cost stays modest at larger sizes.
    """

    def __init__(self, in_channels: int, image_size: int, widths: Sequence[int] = (32, 64, 128)):
        super().__init__()
        w1, w2, w3 = widths
        stem_stride = 2 if image_size > 32 else 1
        layers: list[nn.Module] = [_conv_bn_relu(in_channels, w1, stem_stride)]
        if image_size > 64:
            layers.append(nn.MaxPool2d(3, stride=2, padding=1))
        layers += [
            _conv_bn_relu(w1, w1),
            _conv_bn_relu(w1, w2, stride=2),
            _conv_bn_relu(w2, w2),
            _conv_bn_relu(w2, w3, stride=2),
            _conv_bn_relu(w3, w3),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        ]
        self.layers = nn.Sequential(*layers)
        self.feature_dim = w3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ResNetTrunk(nn.Module):
    """A torchvision ResNet without its classifier, adapted to `in_channels` and small images."""

    def __init__(self, arch: str, in_channels: int, image_size: int):
        super().__init__()
        # Imported here: torchvision.models pulls in torch._dynamo (~0.9 s), paid only when a ResNet is built.
        from torchvision import models as tv_models

        net = getattr(tv_models, arch)(weights=None)
        if image_size < RESNET_FULL_STEM_MIN_SIZE:
            net.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        elif in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.feature_dim = int(net.fc.in_features)
        net.fc = nn.Identity()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _resnet(arch: str) -> Callable[[int, int], nn.Module]:
    def factory(in_channels: int, image_size: int) -> nn.Module:
        return ResNetTrunk(arch, in_channels, image_size)

    return factory


BACKBONES.register(
    "small_cnn",
    BackboneSpec(
        "small_cnn",
        "Small CNN",
        "Six 3x3 conv layers (32-64-128 channels) with global pooling; 128 features. Fast on a CPU and "
        "suited to small images such as 8x8 digits or 32x32 CIFAR.",
        lambda in_channels, image_size: SmallCNN(in_channels, image_size),
    ),
)
for _name, _title, _arch, _dim in (
    ("resnet18", "ResNet-18", "resnet18", 512),
    ("resnet34", "ResNet-34", "resnet34", 512),
    ("resnet50", "ResNet-50", "resnet50", 2048),
):
    BACKBONES.register(
        _name,
        BackboneSpec(
            _name,
            _title,
            f"torchvision {_title} trained from scratch; {_dim} features. Below "
            f"{RESNET_FULL_STEM_MIN_SIZE} px it uses a 3x3 stride-1 stem without max-pooling. "
            "Wants a GPU for anything beyond small experiments.",
            _resnet(_arch),
        ),
    )
BACKBONES.register(
    "dcgan_d",
    BackboneSpec(
        "dcgan_d",
        "DCGAN discriminator",
        "The GAN's discriminator (ssl_core/models/gan.py): strided 4x4 convolutions with LeakyReLU and no "
        "batch normalisation, 64 channels doubling per halving of the image; the pooled maps of every level "
        "as features (256 on 8x8 digits). Made for 8-64 px images.",
        lambda in_channels, image_size: DCGANDiscriminator(in_channels, image_size),
    ),
)
for _entry in SERIES_BACKBONES:
    BACKBONES.register(
        _entry.name,
        BackboneSpec(_entry.name, _entry.title, _entry.description, _entry.factory, ("series",)),
    )
for _modality, _entries in (("table", TABLE_BACKBONES), ("text", TEXT_BACKBONES), ("audio", AUDIO_BACKBONES)):
    for _entry in _entries:
        BACKBONES.register(
            _entry.name,
            BackboneSpec(
                _entry.name,
                _entry.title,
                _entry.description,
                _entry.factory,
                (_modality,),
                uses_info=True,
                params=_entry.params,
            ),
        )


@dataclass(frozen=True)
class _Layout:
    """How a modality's batches look to a backbone, and how its inputs are checked and normalised."""

    noun: str  # "images", "series": for messages
    axes: str  # the axes after (B, C), as in "(B, C, H, W)"
    rank: int  # dimensions of a batch
    default_mean: float
    default_std: float
    max_channels: int | None
    size_field: str
    min_size: int
    # What to say when a batch has the wrong number of channels ({n}: the number the network was built for).
    channels_hint: str = "Use data with {n} channel(s) or set data.channels."
    channels_field: str = "data.channels"
    # False: batches are integer token ids (B, L) that pass through untouched: no normalisation, and the
    # second axis is the sequence, not channels (text).
    normalised: bool = True

    def shape_text(self, channels: int) -> str:
        """The expected batch shape for messages: "(B, 3, H, W)", "(B, 6, T)", "(B, 12)", "(B, L)"."""
        if not self.normalised:
            return f"(B, {self.axes})"
        return f"(B, {channels}{', ' + self.axes if self.axes else ''})"


# Images arrive in [0, 1] (0.5 / 0.5 maps them to [-1, 1]); series arrive standardised per channel, so
# their default statistics leave them as they are.
_LAYOUTS: dict[str, _Layout] = {
    "image": _Layout("images", "H, W", 4, 0.5, 0.5, 4, "data.image_size", 4),
    "series": _Layout("series", "T", 3, 0.0, 1.0, None, "data.length", 2),
    # Table rows (B, F): one value per column; the table's adapter standardised the numeric ones.
    "table": _Layout(
        "rows",
        "",
        2,
        0.0,
        1.0,
        None,
        "data.spec",
        1,
        channels_hint="Use a table with the {n} feature column(s) the network was built for.",
        channels_field="data.spec",
    ),
    # Token ids (B, L) as int64, PAD = 0: the text adapter tokenised the stored bytes; nothing to normalise.
    "text": _Layout(
        "token ids",
        "L",
        2,
        0.0,
        1.0,
        None,
        "data.length",
        1,
        channels_hint="Text networks take int64 token ids from the text modality's adapter.",
        channels_field="data.spec",
        normalised=False,
    ),
    # Waveforms (B, C, T) in [-1, 1] at the data's sample rate, passed through (statistics 0 / 1); the audio
    # networks check clip lengths themselves, in words that name data.clip_seconds.
    "audio": _Layout(
        "clips",
        "T",
        3,
        0.0,
        1.0,
        None,
        "data.clip_seconds",
        1,
        channels_hint="Use clips with {n} channel(s) (data.audio_channels).",
        channels_field="data.audio_channels",
    ),
}


def _layout(modality: str) -> _Layout:
    if modality not in _LAYOUTS:
        raise ValueError(f"no input layout for modality {modality!r}; known: {', '.join(_LAYOUTS)}")
    return _LAYOUTS[modality]


def _stats(
    values: Sequence[float] | None, default: float, channels: int, what: str, layout: _Layout
) -> torch.Tensor:
    """Per-channel statistics shaped to broadcast over a batch: (1, C, 1, 1) images, (1, C, 1) series."""
    if values is None:
        values = [default] * channels
    values = [float(v) for v in values]
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise UserError(
            f"Normalisation {what} has {len(values)} values but the {layout.noun} have {channels} "
            f"channel(s); give one value or one per channel.",
            field=what,
        )
    if what == "std" and any(v <= 0 for v in values):
        raise UserError(f"Normalisation std must be positive; got {values}.", field=what)
    return torch.tensor(values, dtype=torch.float32).view(1, channels, *(1,) * (layout.rank - 2))


class Encoder(nn.Module):
    """A backbone with its input normalisation built in, so an exported state_dict is self-contained.

    Takes float images in [0, 1], shape (B, in_channels, H, W), standardised series (B, in_channels, T),
    table rows (B, in_channels) or int64 token ids (B, L), passed through untouched (`modality`); returns
    (B, feature_dim) features. `image_size` is the size hint the network was built
    for: an image's side, a series' length. Series networks also give per-step latents through
    `forward_sequence`, described by `causal`, `sequence_dim` and `downsample` (see models/series.py).
    """

    def __init__(
        self,
        net: nn.Module,
        name: str,
        in_channels: int,
        image_size: int,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        modality: str = "image",
    ):
        super().__init__()
        layout = _layout(modality)
        self.net = net
        self.name = name
        self.modality = modality
        self.in_channels = in_channels
        self.image_size = image_size
        self.feature_dim = int(net.feature_dim)
        self._layout = layout
        # Buffers, not constants: they travel in state_dict() and follow .to(device).
        self.register_buffer("mean", _stats(mean, layout.default_mean, in_channels, "mean", layout))
        self.register_buffer("std", _stats(std, layout.default_std, in_channels, "std", layout))

    @property
    def causal(self) -> bool:
        """True when step t of `forward_sequence` depends on input steps <= t only."""
        return bool(getattr(self.net, "causal", False))

    @property
    def sequence_dim(self) -> int | None:
        """The width D of `forward_sequence`'s (B, T', D) output; None without a sequence output."""
        value = getattr(self.net, "sequence_dim", None)
        return None if value is None else int(value)

    @property
    def downsample(self) -> int | None:
        """About T / T': input steps per step of `forward_sequence`; None without a sequence output."""
        value = getattr(self.net, "downsample", None)
        return None if value is None else int(value)

    @property
    def vocab_size(self) -> int | None:
        """Rows of a text network's input table (`embedding`); None for other networks."""
        value = getattr(self.net, "vocab_size", None)
        return None if value is None else int(value)

    @property
    def embedding(self) -> nn.Embedding | None:
        """A text network's input table nn.Embedding(vocab_size, D) (LM heads tie to it); else None."""
        value = getattr(self.net, "embedding", None)
        return value if isinstance(value, nn.Embedding) else None

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        layout = self._layout
        if not layout.normalised:  # token ids pass through as they are
            if x.dim() != layout.rank or x.is_floating_point():
                raise UserError(
                    f"The {self.name} backbone expects {layout.noun} of shape {layout.shape_text(1)}; got "
                    f"{x.dtype} of shape {tuple(x.shape)}. " + layout.channels_hint,
                    field=layout.channels_field,
                )
            return x
        if x.dim() != layout.rank or x.shape[1] != self.in_channels:
            raise UserError(
                f"The {self.name} backbone expects {layout.noun} of shape "
                f"{layout.shape_text(self.in_channels)}; got {tuple(x.shape)}. "
                + layout.channels_hint.format(n=self.in_channels),
                field=layout.channels_field,
            )
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self._normalise(x))

    def forward_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step latents (B, T', sequence_dim) of a normalised (B, C, T) series, before pooling."""
        if not hasattr(self.net, "forward_sequence"):
            if self.modality == "audio":
                kind, names = "waveform", ", ".join(AUDIO_SEQUENCE_BACKBONES)
            else:
                kind = "series"
                names = ", ".join(name for name, spec in BACKBONES.items() if "series" in spec.modalities)
            raise UserError(
                f"The {self.name} backbone has no per-step output, which this method needs; choose a "
                f"{kind} backbone ({names}).",
                field="method.backbone",
            )
        return self.net.forward_sequence(self._normalise(x))

    def extra_repr(self) -> str:
        return f"name={self.name!r}, in_channels={self.in_channels}, image_size={self.image_size}, feature_dim={self.feature_dim}"


def build_backbone(
    name: str,
    in_channels: int,
    image_size: int,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    *,
    modality: str | None = None,
    info=None,
    params: Mapping[str, Any] | None = None,
) -> Encoder:
    """Build the registered backbone `name` wrapped in an Encoder.

    image_size: the size hint (`DataInfo.size_hint`): an image's side, a series' length.
    mean/std: per-channel (or one shared) normalisation statistics of the input; None uses 0.5 for
    images, which maps [0, 1] to [-1, 1], and 0 / 1 for series, which arrive standardised.
    modality: the data's modality; None takes the backbone's first (its only one, for all built-ins).
    info: the data's DataInfo, handed to factories that need more than a size (`BackboneSpec.uses_info`).
    params: the backbone's settings (`method.backbone_params`); unset ones take their defaults. A
    backbone without settings given some, an unknown key or a value out of range is a UserError.
    """
    spec = BACKBONES.get(name)
    if modality is None:
        modality = spec.modalities[0]
    elif modality not in spec.modalities:
        kinds = " or ".join(spec.modalities)
        raise UserError(
            f"The {spec.name} backbone works on {kinds} data, not {modality}; choose another backbone "
            f"or 'auto'.",
            field="method.backbone",
        )
    settings = spec.resolve_params(params)
    layout = _layout(modality)
    channels, size = int(in_channels), int(image_size)
    if channels < 1 or (layout.max_channels is not None and channels > layout.max_channels):
        allowed = f"1 to {layout.max_channels}" if layout.max_channels is not None else "at least 1"
        raise UserError(
            f"data.channels = {in_channels} is not supported; use {allowed}.", field="data.channels"
        )
    if size < layout.min_size:
        raise UserError(
            f"{layout.size_field} = {image_size} is too small; use at least {layout.min_size}.",
            field=layout.size_field,
        )
    if spec.uses_info and info is None:
        raise ValueError(f"the {spec.name} backbone needs the data's DataInfo (info=...)")
    if spec.uses_info:
        net = spec.factory(channels, size, info, **settings)
    else:
        net = spec.factory(channels, size, **settings)
    return Encoder(net, spec.name, channels, size, mean, std, modality=modality)
