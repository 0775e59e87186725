"""Backbone registry: image encoders that map (B, C, H, W) floats in [0, 1] to (B, feature_dim) features.

Every network is built from scratch (weights=None): nothing is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ssl_core.errors import UserError
from ssl_core.registry import Registry

# ResNets keep their ImageNet stem (7x7 stride-2 conv + max-pool) only from this size up; smaller
# images would shrink to nothing, so they get a 3x3 stride-1 stem and no pooling (as on CIFAR).
RESNET_FULL_STEM_MIN_SIZE = 64


@dataclass(frozen=True)
class BackboneSpec:
    """Registry entry. `factory(in_channels, size)` returns a bare network with `.feature_dim`.

    `size` is the modality's size hint (`DataInfo.size_hint`): an image's side, a series' length.
    `modalities` names the kinds of data the network accepts (keys of ssl_core.modalities.MODALITIES).
    """

    name: str
    title: str
    description: str
    factory: Callable[[int, int], nn.Module]
    modalities: tuple[str, ...] = ("image",)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "modalities": list(self.modalities),
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


def _stats(values: Sequence[float] | None, default: float, channels: int, what: str) -> torch.Tensor:
    if values is None:
        values = [default] * channels
    values = [float(v) for v in values]
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise UserError(
            f"Normalisation {what} has {len(values)} values but the images have {channels} channel(s); "
            f"give one value or one per channel.",
            field=what,
        )
    if what == "std" and any(v <= 0 for v in values):
        raise UserError(f"Normalisation std must be positive; got {values}.", field=what)
    return torch.tensor(values, dtype=torch.float32).view(1, channels, 1, 1)


class Encoder(nn.Module):
    """A backbone with its input normalisation built in, so an exported state_dict is self-contained.

    Takes float images in [0, 1], shape (B, in_channels, H, W); returns (B, feature_dim) features.
    """

    def __init__(
        self,
        net: nn.Module,
        name: str,
        in_channels: int,
        image_size: int,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ):
        super().__init__()
        self.net = net
        self.name = name
        self.in_channels = in_channels
        self.image_size = image_size
        self.feature_dim = int(net.feature_dim)
        # Buffers, not constants: they travel in state_dict() and follow .to(device).
        self.register_buffer("mean", _stats(mean, 0.5, in_channels, "mean"))
        self.register_buffer("std", _stats(std, 0.5, in_channels, "std"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise UserError(
                f"The {self.name} backbone expects images of shape (B, {self.in_channels}, H, W); got "
                f"{tuple(x.shape)}. Use data with {self.in_channels} channel(s) or set data.channels.",
                field="data.channels",
            )
        x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return self.net(x)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, in_channels={self.in_channels}, image_size={self.image_size}, feature_dim={self.feature_dim}"


def build_backbone(
    name: str,
    in_channels: int,
    image_size: int,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Encoder:
    """Build the registered backbone `name` wrapped in an Encoder.

    mean/std: per-channel (or one shared) normalisation statistics of the [0, 1] input; None uses 0.5,
    which maps [0, 1] to [-1, 1].
    """
    spec = BACKBONES.get(name)
    if not 1 <= int(in_channels) <= 4:
        raise UserError(f"data.channels = {in_channels} is not supported; use 1 to 4.", field="data.channels")
    if int(image_size) < 4:
        raise UserError(
            f"data.image_size = {image_size} is too small; use at least 4.", field="data.image_size"
        )
    net = spec.factory(int(in_channels), int(image_size))
    return Encoder(net, spec.name, int(in_channels), int(image_size), mean, std)
