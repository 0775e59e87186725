"""`torchvision:NAME[:ROOT]`: standard datasets read from a local folder (the training split).

Nothing is downloaded unless the caller passes download=True (the CLI's --download). STL10 gives its
5,000 labelled training images; STL10-unlabeled gives train + the 100,000 unlabelled images (no labels),
the set STL10 was made for in self-supervised learning.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssl_core.data.base import DataSource
from ssl_core.data.inmemory import in_memory_source
from ssl_core.data.spec import OpenOptions, SourceKind, user_path
from ssl_core.errors import UserError

log = logging.getLogger(__name__)

ROOT_ENV = "SSL_WORKBENCH_DATASETS"


def default_root() -> Path:
    """Where datasets live unless the spec names a folder: $SSL_WORKBENCH_DATASETS or the user cache."""
    env = os.environ.get(ROOT_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ssl-workbench" / "datasets"


@dataclass(frozen=True)
class TorchvisionSet:
    title: str  # as written by people and by torchvision
    class_name: str  # torchvision.datasets attribute
    layout: str  # of `.data`: "NHW", "NHWC" or "NCHW"
    labels_attr: str  # "targets" or "labels"
    kwargs: dict[str, Any] = field(default_factory=dict)
    labelled: bool = True
    note: str = "training split"
    mirror_safe: bool = True  # False for handwriting: a mirrored digit is not a digit


SETS: dict[str, TorchvisionSet] = {
    "mnist": TorchvisionSet("MNIST", "MNIST", "NHW", "targets", {"train": True}, mirror_safe=False),
    "fashionmnist": TorchvisionSet("FashionMNIST", "FashionMNIST", "NHW", "targets", {"train": True}),
    "cifar10": TorchvisionSet("CIFAR10", "CIFAR10", "NHWC", "targets", {"train": True}),
    "cifar100": TorchvisionSet("CIFAR100", "CIFAR100", "NHWC", "targets", {"train": True}),
    "stl10": TorchvisionSet("STL10", "STL10", "NCHW", "labels", {"split": "train"}),
    "stl10-unlabeled": TorchvisionSet(
        "STL10-unlabeled",
        "STL10",
        "NCHW",
        "labels",
        {"split": "train+unlabeled"},
        labelled=False,
        note="train + unlabeled splits, labels not used",
    ),
}


def _key(name: str) -> str:
    key = name.strip().lower().replace("_", "-")
    return key if key in SETS else key.replace("-", "")


def find_set(name: str) -> TorchvisionSet | None:
    return SETS.get(_key(name))


def _known() -> str:
    return ", ".join(s.title for s in SETS.values())


def _as_nchw(data: Any, layout: str) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(data) if not isinstance(data, torch.Tensor) else data)
    if tensor.dtype != torch.uint8:
        raise ValueError(f"unexpected dtype {tensor.dtype}")
    if layout == "NHW":
        return tensor.unsqueeze(1)
    if layout == "NHWC":
        return tensor.permute(0, 3, 1, 2)
    return tensor


def open_torchvision(spec: str, argument: str, options: OpenOptions) -> DataSource:
    name, _, root_text = argument.partition(":")
    if not name.strip():
        raise UserError(
            f"torchvision: needs a dataset name, e.g. torchvision:CIFAR10; known: {_known()}.",
            field="data.spec",
        )
    entry = find_set(name)
    if entry is None:
        raise UserError(
            f"Unknown torchvision dataset {name!r}; choose one of: {_known()}.", field="data.spec"
        )
    root = user_path(root_text) if root_text.strip() else default_root()
    import torchvision.datasets  # imported here: slow to import and rarely needed

    cls = getattr(torchvision.datasets, entry.class_name)
    if options.download:
        root.mkdir(parents=True, exist_ok=True)
        log.info("downloading %s into %s if it is not there yet", entry.title, root)
    try:
        dataset = cls(root=str(root), download=options.download, **entry.kwargs)
    except RuntimeError as exc:
        if options.download:
            raise UserError(
                f"Could not download {entry.title} into {root} ({str(exc).strip().splitlines()[0]}); check the "
                "internet connection, or copy the dataset files into that folder.",
                path=str(root),
            ) from None
        raise UserError(
            f"{entry.title} was not found in {root}. Pass --download to fetch it (in Python: "
            f"download=True), or name the folder that holds it: torchvision:{entry.title}:/path/to/datasets.",
            path=str(root),
        ) from None
    except OSError as exc:  # network or disk trouble during a download
        raise UserError(f"Could not get {entry.title} into {root}: {exc}.", path=str(root)) from None

    images = _as_nchw(dataset.data, entry.layout)
    labels, class_names = None, []
    if entry.labelled:
        labels = torch.as_tensor(np.asarray(getattr(dataset, entry.labels_attr)), dtype=torch.long)
        class_names = [str(c) for c in getattr(dataset, "classes", [])] or [
            str(i) for i in range(int(labels.max()) + 1)
        ]
    return in_memory_source(
        images,
        labels,
        class_names,
        spec=spec,
        name=entry.title,
        options=options,
        notes=[f"{entry.note}, from {root}"],
        mirror_safe=entry.mirror_safe,
    )


KIND = SourceKind(
    scheme="torchvision",
    title="Standard dataset (torchvision)",
    noun="torchvision dataset",
    description="MNIST, FashionMNIST, CIFAR10, CIFAR100 or STL10 (training split) from a local folder "
    "(default ~/.cache/ssl-workbench/datasets); downloaded only when you ask for it.",
    example="torchvision:CIFAR10",
    argument="NAME[:ROOT]",
    browse="name",
    choices=tuple(s.title for s in SETS.values()),
    opener=open_torchvision,
)
