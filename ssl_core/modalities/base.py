"""What a modality is: everything that differs between kinds of data, behind one interface.

Nothing outside `ssl_core/modalities/` asks "is this an image?": the trainer, the methods, evaluation and
the GUI ask the data's modality (`modality_of(info)`) instead. A modality owns
- the sample layout a DataSource returns and its conversion to float model input (`input_adapter`),
- the input normalisation statistics the backbone's Encoder carries (`encoder_stats`),
- the named view presets joint-embedding methods ask for (`view_pair`), the multi-crop views of DINO and
  SwAV (`multi_crop`, images only) and the corruptions generative methods use (`corrupt`),
- the backbones that accept it and the default one, and the decoder that rebuilds a sample
  (`reconstruction_head`),
- the raw-input baseline used by evaluation (`raw_features`),
- the preview payload it produces (`preview_payload`, `finish_preview`) and how a sample is described.
Adding a modality is a recipe (docs/modalities.md): one module here, its data source(s), its augmenter,
its backbones, its preview renderer in the GUI, its tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ssl_core.data.base import DataInfo, DataSource
from ssl_core.errors import UserError

# Samples used to estimate normalisation statistics on the training split.
STATS_SAMPLE = 4096


@dataclass(frozen=True)
class PreviewPayload:
    """The payload types the GUI has one renderer each for."""

    IMAGE_GRID = "image_grid"  # named tensors (n, C, H, W) in [0, 1]
    SIGNAL = "signal"  # named tensors (n, C, T); NaN where a curve has no value (e.g. before a forecast)
    # named tensors (n, F) in the table's own units (categorical columns as codes; NaN where a value is
    # missing or hidden), with the column names, kinds and categories in `Preview.meta`
    TABLE_ROWS = "table_rows"
    # named id arrays (n, L) as float32 (exact), with readable rows in `Preview.meta["text_rows"]`
    TOKEN_TEXT = "token_text"
    # named waveforms (n, C, T) in [-1, 1], or log-mel spectrograms (n, C, M, F) under names starting with
    # "spec"; the sample rate and spectrogram settings in `Preview.meta` ("sample_rate", "spectrogram")
    AUDIO = "audio"


class ReconstructionHead(nn.Module):
    """Feature vector -> a rebuilt sample, with the loss and error that fit the modality.

    `forward(features)` gives raw outputs (logits for images); `to_sample` maps them to the sample's
    value range; `loss(outputs, target)` is the training loss; `error(outputs, target)` is the per-sample
    error used for anomaly scores (B,).
    """

    def to_sample(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def loss(self, outputs: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None):
        raise NotImplementedError

    def error(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def sample_indices(indices: torch.Tensor, seed: int, limit: int = STATS_SAMPLE) -> torch.Tensor:
    """At most `limit` of `indices`, drawn with `seed` (all of them when there are few)."""
    if len(indices) <= limit:
        return indices
    g = torch.Generator().manual_seed(int(seed))
    return indices[torch.randperm(len(indices), generator=g)[:limit]]


class Modality(ABC):
    """One kind of data. Subclasses are registered in `ssl_core.modalities.MODALITIES`."""

    name: str = ""
    title: str = ""  # "Images"
    noun: str = "sample"  # one sample: "image", "series"
    plural: str = "samples"
    default_backbone: str = ""
    preview_payload: str = PreviewPayload.IMAGE_GRID
    raw_title: str = "raw input"  # how the raw-input baseline is named in tables and charts
    size_setting: str = ""  # the config setting that makes samples smaller ("data.image_size", "data.length")
    hidden_shown_as: float = 0.0  # how a preview draws values a method hid (grey pixels, gaps in curves)

    # ---- samples ----------------------------------------------------------------------------------
    @abstractmethod
    def describe(self, info: DataInfo) -> str:
        """One line about a sample's shape, e.g. "8 x 8 grayscale images" or "6 channels x 100 steps"."""

    def sample_dims(self) -> int:
        """Axes of one sample (3 for (C, H, W), 2 for (C, T))."""
        return 3

    @abstractmethod
    def input_adapter(self, source: DataSource, train_idx: torch.Tensor, seed: int) -> nn.Module:
        """A module turning a stored batch (source dtype, on the device) into float model input.

        It becomes the method's `input_adapter`, so whatever statistics it holds are saved with the run.
        """

    @abstractmethod
    def encoder_stats(
        self, source: DataSource, train_idx: torch.Tensor, seed: int, adapter: nn.Module
    ) -> tuple[list[float], list[float]]:
        """Per-channel (mean, std) of the adapted input, which the backbone's Encoder normalises with."""

    # ---- views and corruptions ----------------------------------------------------------------------
    @abstractmethod
    def view_pair(self, preset: str, info: DataInfo) -> tuple[nn.Module, nn.Module]:
        """Two augmenters `aug(x, generator) -> x'` for a joint-embedding method's named preset."""

    def multi_crop(
        self, preset: str, info: DataInfo, n_local: int | None = None, local_size: int | None = None
    ) -> nn.Module:
        """A multi-crop augmenter `crops(x, generator) -> [global_1, global_2, local_1..local_N]` for a
        named preset ("dino", "swav"): two large crops and `n_local` small ones of `local_size` (None: the
        modality's choice). Only modalities whose samples can be cropped to a smaller size offer it."""
        raise UserError(
            f"Multi-crop views (two large and several small crops of each sample) are only available for "
            f"images, not for {self.plural}; choose image data or a method without multi-crop.",
            field="method.name",
        )

    def corruptions(self) -> tuple[str, ...]:
        """Names `corrupt` accepts."""
        return ()

    def corruption_reason(self, name: str, info: DataInfo) -> str | None:
        """Why the offered corruption `name` cannot damage this data (a table without numeric columns
        has nothing for gaussian noise to act on), or None when it can."""
        return None

    def corrupt(
        self,
        name: str,
        x: torch.Tensor,
        generator: torch.Generator,
        *,
        info: DataInfo | None = None,
        **options: float,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(corrupted x, mask of hidden values or None) for a generative method's named corruption.

        `info` describes the data, for modalities whose corruptions depend on more than the shape (a
        table's gaussian noise touches its numeric columns only); others ignore it.
        """
        raise UserError(
            f"The corruption {name!r} is not available for {self.plural}; use one of: "
            f"{', '.join(self.corruptions()) or 'none'}.",
            field="method.params",
        )

    # ---- networks -----------------------------------------------------------------------------------
    def backbones(self) -> list[str]:
        from ssl_core.models.backbones import BACKBONES

        return [name for name, spec in BACKBONES.items() if self.name in spec.modalities]

    @abstractmethod
    def reconstruction_head(
        self, feature_dim: int, info: DataInfo, backbone: nn.Module, width: int
    ) -> ReconstructionHead:
        """A decoder rebuilding one sample from the backbone's feature vector."""

    # ---- evaluation and previews --------------------------------------------------------------------
    @abstractmethod
    def raw_features(self, batch: torch.Tensor, adapter: nn.Module) -> np.ndarray:
        """The raw-input baseline for a stored batch: (n, F) float32, affordable in size."""

    def preview_values(self, x: torch.Tensor, adapter: nn.Module | None) -> torch.Tensor:
        """Model input (or a method's output in the same units) -> the values a preview shows.

        The default shows them as they are (images in [0, 1], standardised series); a table shows its
        rows in the file's own units, through the input adapter's inverse. Applied once, by
        `ssl_core.train.live_previews.finished_preview`, to every array of a preview.
        """
        return x

    def finish_preview(self, x: torch.Tensor) -> torch.Tensor:
        """A preview tensor as the GUI receives it (float32 on the CPU, in the payload's range)."""
        return x.detach().float().cpu()

    def preview_meta(self, info: DataInfo) -> dict:
        """What a renderer needs besides the arrays (a table's column names, kinds and categories)."""
        return {}

    def describe_preview(self, preview, adapter: nn.Module | None):
        """A finished Preview with whatever the renderer needs that only the input adapter knows (text:
        the views' ids decoded into `meta["text_rows"]`). Called once, by
        `ssl_core.train.live_previews.finished_preview`; the default returns it unchanged."""
        return preview

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "noun": self.noun,
            "plural": self.plural,
            "default_backbone": self.default_backbone,
            "preview_payload": self.preview_payload,
            "raw_title": self.raw_title,
            "size_setting": self.size_setting,
            "backbones": self.backbones(),
        }
