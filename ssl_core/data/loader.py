"""Batches of training images on the training device, in an order that depends only on (seed, epoch).

Two paths give identical batches:
- resident: the selected images fit the memory budget, so they are held as ONE uint8 tensor on the
  device (the GPU when training there) and each batch is an index_select; no DataLoader, no copies.
- streamed: a torch DataLoader whose workers call `source.read` on whole batches of indices, with
  pinned memory and non_blocking copies on CUDA, and persistent workers across epochs.

The epoch order is a permutation from a CPU generator seeded from (seed, epoch), so the same epoch
always yields the same batches and a resume can start at batch `start_batch` without reading the
earlier ones.

With several processes (torch.distributed), `batch_size` is the global batch: every process computes the
same permutation and takes rows rank, rank + W, ... of each global batch (DistributedSampler's stride), so
the processes' batches together are exactly the one-process batch, the steps per epoch do not change, and a
streamed source is read by each process for its own rows only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ssl_core.data.base import DataSource
from ssl_core.errors import UserError

log = logging.getLogger(__name__)

Batch = tuple[torch.Tensor, torch.Tensor | None]
_FILL_CHUNK = 256  # images per read when filling the resident tensor from a decoding source


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order of epoch `epoch`: a permutation of range(n) that depends only on (seed, epoch, n)."""
    # SeedSequence mixes the pair well, so neighbouring seeds/epochs give unrelated orders.
    state = np.random.SeedSequence([int(seed) % (1 << 64), int(epoch) % (1 << 64)]).generate_state(
        1, np.uint64
    )
    generator = torch.Generator().manual_seed(int(state[0]))
    return torch.randperm(n, generator=generator)


class _SourceBatches(Dataset):
    """Item = a whole batch: `dataset[list_of_source_indices]` reads them in one call."""

    def __init__(self, source: DataSource):
        self.source = source

    def __getitem__(self, indices: torch.Tensor) -> Batch:
        return self.source.read(indices)

    def __len__(self) -> int:
        return len(self.source)


class _EpochSampler(Sampler):
    """Yields the batches (index tensors) set for the current epoch; the DataLoader outlives epochs."""

    def __init__(self) -> None:
        self.batches: list[torch.Tensor] = []

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter(list(self.batches))

    def __len__(self) -> int:
        return len(self.batches)


def _keep(batch: Batch) -> Batch:
    return batch


class BatchPipeline:
    """Serve shuffled batches (B, *sample_shape) of `source[indices]` on `device`, in the source's dtype."""

    def __init__(
        self,
        source: DataSource,
        indices: torch.Tensor,
        batch_size: int,
        device: torch.device,
        memory_budget_bytes: int,
        num_workers: int = 2,
        drop_last: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.source = source
        self.rank, self.world_size = int(rank), int(world_size)
        self.indices = torch.as_tensor(indices, dtype=torch.long).cpu().flatten()
        self.device = torch.device(device)
        self.drop_last = drop_last
        n = len(self.indices)
        if n < 2:
            raise UserError(
                f"{source.info.name} has {n} sample(s) to train on; at least 2 are needed for a batch. Add "
                "data or lower data.val_fraction.",
                field="data.spec",
            )
        if drop_last and batch_size < 2:
            raise UserError(
                f"train.batch_size = {batch_size}; a batch needs at least 2 samples.",
                field="train.batch_size",
            )
        if batch_size < 1:
            raise UserError(f"batch_size = {batch_size}; use 1 or more.", field="train.batch_size")
        self.batch_size = min(int(batch_size), n)  # more than the data: the whole set is one batch
        if self.batch_size < batch_size:
            log.info("batch size %d > %d images: using all images as one batch", batch_size, n)
        self.nbytes = n * source.info.sample_nbytes
        self.resident = self.nbytes <= memory_budget_bytes
        self._pin = self.device.type == "cuda"
        self._images: torch.Tensor | None = None
        self._labels: torch.Tensor | None = None
        self._sampler: _EpochSampler | None = None
        self._loader: DataLoader | None = None
        # In-memory sources only index a tensor: worker processes would only add copying.
        self.num_workers = 0 if source.in_memory else max(0, int(num_workers))
        if self.resident:
            self._make_resident()
        else:
            self._sampler = _EpochSampler()
            self._loader = self._make_loader(self._sampler)
        log.info(
            "%d images (%.1f MB) %s, batch %d, %d step(s) per epoch",
            n,
            self.nbytes / 2**20,
            f"resident on {self.device}" if self.resident else "streamed",
            self.batch_size,
            self.steps_per_epoch(),
        )

    # ---- shape of an epoch ------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return len(self.indices)

    def images_per_step(self, batch: torch.Tensor) -> int:
        """Samples trained on per step by every process together (`batch` is this process's share)."""
        return self.batch_size if self.world_size > 1 else batch.shape[0]

    def steps_per_epoch(self) -> int:
        n = len(self.indices)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _positions(self, epoch: int, seed: int, start_batch: int) -> list[torch.Tensor]:
        """Positions into self.indices of each batch from `start_batch` on."""
        if start_batch < 0:
            raise ValueError(f"start_batch must be >= 0, got {start_batch}")
        perm = epoch_permutation(len(self.indices), seed, epoch)
        b, rank, world = self.batch_size, self.rank, self.world_size
        return [perm[k * b : (k + 1) * b][rank::world] for k in range(start_batch, self.steps_per_epoch())]

    # ---- iteration --------------------------------------------------------------------------------
    def epoch(self, epoch: int, seed: int, start_batch: int = 0) -> Iterator[Batch]:
        """Yield (samples (B, *sample_shape), labels (B,) or None), both on the device."""
        positions = self._positions(epoch, seed, start_batch)
        if self.resident:
            return self._resident_epoch(positions)
        return self._streamed_epoch(positions)

    def _resident_epoch(self, positions: list[torch.Tensor]) -> Iterator[Batch]:
        assert self._images is not None
        for pos in positions:
            pos = pos.to(self.device, non_blocking=True)
            labels = self._labels.index_select(0, pos) if self._labels is not None else None
            yield self._images.index_select(0, pos), labels

    def _streamed_epoch(self, positions: list[torch.Tensor]) -> Iterator[Batch]:
        assert self._loader is not None and self._sampler is not None
        self._sampler.batches = [self.indices[pos] for pos in positions]
        if not positions:
            return
        for images, labels in self._loader:
            images = images.to(self.device, non_blocking=self._pin)
            if labels is not None:
                labels = labels.to(self.device, non_blocking=self._pin)
            yield images, labels

    # ---- setup ------------------------------------------------------------------------------------
    def _make_loader(self, sampler: Sampler, persistent: bool = True) -> DataLoader:
        workers = self.num_workers
        return DataLoader(
            _SourceBatches(self.source),
            sampler=sampler,
            batch_size=None,  # the sampler yields whole batches of indices
            collate_fn=_keep,
            num_workers=workers,
            pin_memory=self._pin,
            persistent_workers=persistent and workers > 0,
            prefetch_factor=2 if workers > 0 else None,
        )

    def _make_resident(self) -> None:
        if self.source.in_memory:
            images, labels = self.source.read(self.indices)
        else:  # decode once, with the workers, in order
            sampler = _EpochSampler()
            sampler.batches = list(torch.split(self.indices, _FILL_CHUNK))
            images = torch.empty(
                (len(self.indices), *self.source.info.sample_shape),
                dtype=getattr(torch, self.source.info.sample_dtype),
            )
            parts: list[torch.Tensor] = []
            start = 0
            for chunk_images, chunk_labels in self._make_loader(sampler, persistent=False):
                images[start : start + len(chunk_images)] = chunk_images
                start += len(chunk_images)
                if chunk_labels is not None:
                    parts.append(chunk_labels)
            labels = torch.cat(parts) if parts else None
        self._images = images.contiguous().to(self.device)
        self._labels = labels.to(self.device) if labels is not None else None

    def close(self) -> None:
        """Stop the worker processes now (they also stop when the pipeline is garbage collected)."""
        loader, self._loader = self._loader, None
        iterator = getattr(loader, "_iterator", None) if loader is not None else None
        if iterator is not None and hasattr(iterator, "_shutdown_workers"):
            iterator._shutdown_workers()

    def __enter__(self) -> BatchPipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
