"""lightly's documented SimCLR and BYOL pipelines: the second reference of bench_train_throughput.py.

What lightly 1.6 documents for 32 px images (its `examples/pytorch/simclr.py` and `byol.py`, which train on
CIFAR-10), written here for a given backbone:

- data: a map-style dataset like torchvision's CIFAR10 (uint8 HWC arrays in memory; each item is a PIL image
  made by `Image.fromarray`, transformed, with its target), in a torch DataLoader (shuffle, drop_last);
- views: `SimCLRTransform(input_size=32, gaussian_blur=0.0)`, or `BYOLTransform` of
  `BYOLView1Transform` / `BYOLView2Transform(input_size=32, gaussian_blur=0.0)`: per-sample torchvision
  transforms on PIL images, ToTensor and ImageNet normalisation (the examples switch blur off at 32 px);
- heads and losses: `SimCLRProjectionHead(D, 512, 128)` + `NTXentLoss()` (temperature 0.5);
  `BYOLProjectionHead(D, 1024, 256)`, `BYOLPredictionHead(256, 1024, 256)`, a momentum copy of backbone and
  projection head (`deactivate_requires_grad`, `update_momentum` with `cosine_schedule(.., 0.996, 1)`) and
  `NegativeCosineSimilarity()` symmetrised; D is the backbone's feature width (512 for ResNet-18, as in the
  examples; the widths are the examples' otherwise);
- training: one forward per view, float32, `torch.optim.SGD(lr=0.06)`, no gradient clipping, the default
  memory format, or channels_last for model and inputs where asked (`channels_last=True`).

The backbone is the caller's (the bench passes the engine's own small CNN or ResNet-18 with the engine's
initial weights), so only the pipeline differs. lightly is an optional extra (`pip install -e .[bench]`);
`missing()` says why it cannot be used, and nothing here imports it before it is needed.

Worker processes: lightly's examples use `num_workers=8`. `default_workers()` keeps that where the machine
has the cores and otherwise leaves one core to the training process (1 worker on 2 cores): on a CPU the
workers and the model share the cores, and more workers than the cores left only take turns.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

LIGHTLY_VERSION = "1.6.0"  # the version docs/method_defaults.md describes; pinned by the `bench` extra
METHODS = ("simclr", "byol")
EXAMPLE_WORKERS = 8  # examples/pytorch/{simclr,byol}.py
LEARNING_RATE = 0.06  # examples/pytorch/{simclr,byol}.py: torch.optim.SGD(model.parameters(), lr=0.06)
PREFETCH = 2  # batches each worker makes ahead (the DataLoader's default prefetch_factor)


def missing() -> str | None:
    """None where lightly's pipeline can run; otherwise why not (a sentence for the bench's output)."""
    try:
        import lightly.loss  # noqa: F401
        import lightly.models.modules  # noqa: F401
        import lightly.models.utils  # noqa: F401
        import lightly.transforms  # noqa: F401
        import lightly.utils.scheduler  # noqa: F401
    except Exception as exc:  # ImportError, or a lightly that does not match the installed torch
        return (
            f"lightly is not importable ({type(exc).__name__}: {exc}); "
            "install it with `pip install -e .[bench]`"
        )
    return None


def version() -> str:
    import lightly

    return str(getattr(lightly, "__version__", "unknown"))


def default_workers() -> int:
    """The examples' 8 worker processes, at most one fewer than the logical cores, at least 1."""
    return max(1, min(EXAMPLE_WORKERS, (os.cpu_count() or 1) - 1))


# ---- data: as torchvision's CIFAR10 hands images to a transform --------------------------------------------
class PILImages(Dataset):
    """Item i: (transform(PIL image i), 0), the images held as one uint8 (N, H, W, C) array like CIFAR10's."""

    def __init__(self, images: torch.Tensor, transform: Callable) -> None:
        self.data = np.ascontiguousarray(images.permute(0, 2, 3, 1).numpy())  # (N, C, H, W) -> (N, H, W, C)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.data[i])), 0


def transform_for(method: str, size: int) -> Callable:
    """The examples' view transform at `size` px (blur off, as they set it for 32 px CIFAR-10 images)."""
    from lightly.transforms import BYOLTransform, BYOLView1Transform, BYOLView2Transform, SimCLRTransform

    if method == "simclr":
        return SimCLRTransform(input_size=size, gaussian_blur=0.0)
    if method == "byol":
        return BYOLTransform(
            view_1_transform=BYOLView1Transform(input_size=size, gaussian_blur=0.0),
            view_2_transform=BYOLView2Transform(input_size=size, gaussian_blur=0.0),
        )
    raise ValueError(f"lightly reference has no pipeline for {method!r} (only {', '.join(METHODS)})")


# ---- models: the examples' modules around the caller's backbone --------------------------------------------
class SimCLRModel(nn.Module):
    def __init__(self, backbone: nn.Module, feature_dim: int) -> None:
        from lightly.loss import NTXentLoss
        from lightly.models.modules import SimCLRProjectionHead

        super().__init__()
        self.backbone = backbone
        self.projection_head = SimCLRProjectionHead(feature_dim, 512, 128)
        self.criterion = NTXentLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection_head(self.backbone(x).flatten(start_dim=1))

    def loss(self, x0: torch.Tensor, x1: torch.Tensor, step: int, total_steps: int) -> torch.Tensor:
        return self.criterion(self(x0), self(x1))


class BYOLModel(nn.Module):
    def __init__(self, backbone: nn.Module, feature_dim: int) -> None:
        from lightly.loss import NegativeCosineSimilarity
        from lightly.models.modules import BYOLPredictionHead, BYOLProjectionHead
        from lightly.models.utils import deactivate_requires_grad

        super().__init__()
        self.backbone = backbone
        self.projection_head = BYOLProjectionHead(feature_dim, 1024, 256)
        self.prediction_head = BYOLPredictionHead(256, 1024, 256)
        self.backbone_momentum = copy.deepcopy(backbone)
        self.projection_head_momentum = copy.deepcopy(self.projection_head)
        deactivate_requires_grad(self.backbone_momentum)
        deactivate_requires_grad(self.projection_head_momentum)
        self.criterion = NegativeCosineSimilarity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prediction_head(self.projection_head(self.backbone(x).flatten(start_dim=1)))

    def forward_momentum(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection_head_momentum(self.backbone_momentum(x).flatten(start_dim=1)).detach()

    def loss(self, x0: torch.Tensor, x1: torch.Tensor, step: int, total_steps: int) -> torch.Tensor:
        from lightly.models.utils import update_momentum
        from lightly.utils.scheduler import cosine_schedule

        # The example steps the schedule once per epoch; per step (as lightly's ImageNet benchmarks do)
        # costs the same.
        m = cosine_schedule(step, total_steps, 0.996, 1)
        update_momentum(self.backbone, self.backbone_momentum, m=m)
        update_momentum(self.projection_head, self.projection_head_momentum, m=m)
        p0, z0 = self(x0), self.forward_momentum(x0)
        p1, z1 = self(x1), self.forward_momentum(x1)
        return 0.5 * (self.criterion(p0, z1) + self.criterion(p1, z0))


MODELS: dict[str, type[nn.Module]] = {"simclr": SimCLRModel, "byol": BYOLModel}


# ---- timing -------------------------------------------------------------------------------------------------
@dataclass
class LightlyResult:
    images_per_sec: float
    waiting: float  # share of the timed window spent waiting for the DataLoader (and the copy to the device)
    workers: int
    warmup: int  # warm-up steps actually taken (the caller's plus PREFETCH per worker)


def _batches(loader: DataLoader) -> Iterator:
    while True:  # epoch after epoch, as the examples' `for epoch in range(epochs)` loops
        yield from loader


def lightly_rate(
    method: str,
    backbone: nn.Module,
    feature_dim: int,
    images: torch.Tensor,
    *,
    batch_size: int,
    warmup: int,
    steps: int,
    workers: int,
    device: torch.device,
    seed: int = 0,
    channels_last: bool = False,
) -> LightlyResult:
    """Source images per second of lightly's `method` pipeline training `backbone` on uint8 `images`
    (N, C, H, W), over `steps` steps after `warmup` (plus PREFETCH per worker, so batches the workers made
    ahead are not counted). `backbone` is trained in place: pass a fresh copy."""
    torch.manual_seed(seed)  # the heads' initial weights
    model = MODELS[method](backbone, feature_dim).to(device).train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    loader = DataLoader(
        PILImages(images, transform_for(method, images.shape[-1])),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        generator=torch.Generator().manual_seed(seed),
    )
    batches = _batches(loader)
    warmup = warmup + PREFETCH * workers
    total = warmup + steps
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    waited = start = 0.0
    for step in range(total):
        if step == warmup:
            _sync(device)
            start, waited = time.perf_counter(), 0.0
        before = time.perf_counter()
        (x0, x1), _ = next(batches)
        x0 = x0.to(device).contiguous(memory_format=fmt)
        x1 = x1.to(device).contiguous(memory_format=fmt)
        waited += time.perf_counter() - before
        loss = model.loss(x0, x1, step, total)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    _sync(device)
    seconds = time.perf_counter() - start
    del batches  # ends the loader's worker processes
    return LightlyResult(steps * batch_size / seconds, waited / seconds, workers, warmup)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---- training to a budget (bench_time_to_quality.py) ----------------------------------------------------------
class PILImagesAnyChannels(PILImages):
    """PILImages that also hold one-channel images: each item a mode "L" PIL image, as torchvision's MNIST
    hands grayscale images to a transform (`Image.fromarray` refuses an (H, W, 1) array)."""

    def __getitem__(self, i: int):
        from PIL import Image

        image = self.data[i]
        return self.transform(Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)), 0


def transform_for_data(method: str, size: int, mean: list[float], std: list[float]) -> Callable:
    """`transform_for`, normalised with the data's own per-channel mean and std (lightly's `normalize`
    argument, as its docs set it for data other than ImageNet), so grayscale images keep one channel."""
    from lightly.transforms import BYOLTransform, BYOLView1Transform, BYOLView2Transform, SimCLRTransform

    normalize = {"mean": list(mean), "std": list(std)}
    if method == "simclr":
        return SimCLRTransform(input_size=size, gaussian_blur=0.0, normalize=normalize)
    if method == "byol":
        return BYOLTransform(
            view_1_transform=BYOLView1Transform(input_size=size, gaussian_blur=0.0, normalize=normalize),
            view_2_transform=BYOLView2Transform(input_size=size, gaussian_blur=0.0, normalize=normalize),
        )
    raise ValueError(f"lightly reference has no pipeline for {method!r} (only {', '.join(METHODS)})")


def channel_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 (N, C, H, W) images scaled to [0, 1]."""
    x = images.float().div(255.0)
    return x.mean(dim=(0, 2, 3)).tolist(), x.std(dim=(0, 2, 3)).clamp_min(1e-6).tolist()


def lightly_train(
    method: str,
    backbone: nn.Module,
    feature_dim: int,
    images: torch.Tensor,
    *,
    batch_size: int,
    epochs: int,
    workers: int,
    device: torch.device,
    on_step: Callable[[int, int], bool],
    seed: int = 0,
) -> int:
    """Train `backbone` in place with lightly's `method` pipeline on uint8 `images` (N, C, H, W) for `epochs`
    epochs, as the examples' `for epoch in range(epochs)` loop does, normalised with the images' own
    statistics. `on_step(step, total_steps)` runs after every optimizer step (in train mode) and returns
    False to stop early. Returns the steps taken."""
    torch.manual_seed(seed)  # the heads' initial weights
    model = MODELS[method](backbone, feature_dim).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    mean, std = channel_stats(images)
    loader = DataLoader(
        PILImagesAnyChannels(images, transform_for_data(method, images.shape[-1], mean, std)),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        generator=torch.Generator().manual_seed(seed),
    )
    total, step = epochs * len(loader), 0
    for _ in range(epochs):
        for (x0, x1), _ in loader:
            loss = model.loss(x0.to(device), x1.to(device), step, total)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            step += 1
            if not on_step(step, total):
                return step
    return step
