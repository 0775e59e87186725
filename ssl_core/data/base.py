"""What every data source provides: a description and uint8 image tensors, in memory or streamed."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field

import torch


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass
class DataInfo:
    """A description of a loaded source, shown by `ssl-core data SPEC` and the GUI's data summary."""

    spec: str
    name: str
    size: int
    channels: int
    height: int
    width: int
    has_labels: bool
    class_names: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    native_size: tuple[int, int] | None = None  # (H, W) before resizing, when uniform
    notes: list[str] = field(default_factory=list)
    # False where a mirrored image means something else (digits, letters): views then skip h-flips.
    mirror_safe: bool = True  # how the source was read (split, label origin, resizing)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["image_shape"] = list(self.image_shape)
        return d


class DataSource(ABC):
    """A finite set of images (and maybe labels), all converted to one shape (C, H, W) as uint8.

    `read(indices)` returns a uint8 tensor (n, C, H, W) and int64 labels (n,) or None.
    Sources that decode everything up front keep it in memory; others decode in `read`.
    """

    info: DataInfo

    def __len__(self) -> int:
        return self.info.size

    @abstractmethod
    def read(self, indices: torch.Tensor | list[int]) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def labels(self) -> torch.Tensor | None:
        """All labels (N,) as int64, or None for unlabelled data; cheap (no image decoding)."""
        if not self.info.has_labels:
            return None
        return self.read(torch.arange(len(self)))[1]

    def nbytes(self) -> int:
        c, h, w = self.info.image_shape
        return len(self) * c * h * w

    @property
    def in_memory(self) -> bool:
        """True when `read` only indexes memory (no decoding), so worker processes would not help."""
        return False


class TensorSource(DataSource):
    """A source held entirely in memory as one uint8 tensor."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None, info: DataInfo):
        assert images.dtype == torch.uint8 and images.dim() == 4
        self.images = images
        self._labels = labels
        self.info = info

    def read(self, indices):
        idx = torch.as_tensor(indices, dtype=torch.long)
        return self.images[idx], (self._labels[idx] if self._labels is not None else None)

    def labels(self):
        return self._labels

    @property
    def in_memory(self) -> bool:
        return True
