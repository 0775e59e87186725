"""What every data source provides: a description and sample tensors, in memory or streamed.

A sample's layout belongs to its modality (ssl_core/modalities): images are uint8 (C, H, W), series are
float32 (C, T). `DataInfo.modality` names it and `DataInfo.sample_shape` gives the shape of one sample.
"""

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
    height: int  # images only (0 for other modalities)
    width: int  # images only (0 for other modalities)
    has_labels: bool
    class_names: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    native_size: tuple[int, int] | None = None  # (H, W) before resizing, when uniform
    notes: list[str] = field(default_factory=list)
    # False where a mirrored image means something else (digits, letters): views then skip h-flips.
    mirror_safe: bool = True  # how the source was read (split, label origin, resizing)
    modality: str = "image"  # a key of ssl_core.modalities.MODALITIES
    # The shape of one sample in the modality's layout; images leave it empty: (channels, height, width).
    sample_shape: tuple[int, ...] = ()
    sample_dtype: str = "uint8"  # the dtype `DataSource.read` returns ("uint8" images, "float32" series)
    extra: dict = field(default_factory=dict)  # modality-specific facts for summaries (e.g. original lengths)

    def __post_init__(self) -> None:
        if not self.sample_shape:
            self.sample_shape = (self.channels, self.height, self.width)
        self.sample_shape = tuple(int(v) for v in self.sample_shape)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)

    @property
    def length(self) -> int:
        """The last axis of a sample: time steps of a series, width of an image."""
        return int(self.sample_shape[-1])

    @property
    def size_hint(self) -> int:
        """The one number backbones are sized by: an image's side, a series' length."""
        return int(self.height) if self.modality == "image" else self.length

    @property
    def sample_nbytes(self) -> int:
        itemsize = 1 if self.sample_dtype == "uint8" else 4
        n = itemsize
        for v in self.sample_shape:
            n *= int(v)
        return n

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sample_shape"] = list(self.sample_shape)
        if self.modality == "image":
            d["image_shape"] = list(self.image_shape)
        return d


class DataSource(ABC):
    """A finite set of samples (and maybe labels), all converted to one shape `info.sample_shape`.

    `read(indices)` returns a tensor (n, *sample_shape) of dtype `info.sample_dtype` (uint8 (n, C, H, W)
    for images, float32 (n, C, T) for series) and int64 labels (n,) or None.
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

    def groups(self) -> torch.Tensor | None:
        """The group of each sample (N,) int64, e.g. the sound file each audio clip was cut from, or None
        when every sample stands alone. Train/validation splits keep a group on one side."""
        return None

    def facets(self) -> dict[str, tuple[torch.Tensor, list[str]]]:
        """Other labelings of the same samples: name -> (int64 codes (N,), names of the codes), e.g.
        {"voice": (codes, ["en-us male", ...])} for synthetic speech. Empty when there are none."""
        return {}

    def nbytes(self) -> int:
        return len(self) * self.info.sample_nbytes

    @property
    def in_memory(self) -> bool:
        """True when `read` only indexes memory (no decoding), so worker processes would not help."""
        return False


class TensorSource(DataSource):
    """A source held entirely in memory as one tensor (uint8 images, float32 series, ...)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None, info: DataInfo):
        assert tuple(images.shape[1:]) == tuple(info.sample_shape), (images.shape, info.sample_shape)
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
