"""BatchPipeline — resident and streamed paths give the same batches; epochs, resume, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ssl_core.data import DataInfo, DataSource, TensorSource, open_source
from ssl_core.data import folder as folder_module
from ssl_core.data.loader import BatchPipeline
from ssl_core.errors import UserError

CPU = torch.device("cpu")
BIG = 1 << 30


def _indexed_source(n: int, labelled: bool = True) -> TensorSource:
    """Image i is filled with the value i (n <= 256) and labelled i % 3, so batches can be checked."""
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    labels = torch.arange(n) % 3 if labelled else None
    info = DataInfo("test", "indexed", n, 1, 4, 4, labelled, ["0", "1", "2"] if labelled else [])
    return TensorSource(images, labels, info)


class CountingSource(DataSource):
    """Decodes on demand (not in memory) and records which indices were read."""

    def __init__(self, inner: TensorSource):
        self.inner = inner
        self.info = inner.info
        self.read_indices: list[int] = []

    def read(self, indices):
        self.read_indices += torch.as_tensor(indices).tolist()
        return self.inner.read(indices)

    def labels(self):
        return self.inner.labels()


def _ids(batches) -> list[list[int]]:
    return [images[:, 0, 0, 0].tolist() for images, _ in batches]


def test_resident_when_it_fits_and_streamed_when_not():
    source = _indexed_source(40)
    assert BatchPipeline(source, torch.arange(40), 8, CPU, memory_budget_bytes=40 * 16).resident
    assert not BatchPipeline(source, torch.arange(40), 8, CPU, memory_budget_bytes=40 * 16 - 1).resident


def test_batches_follow_the_selected_indices_and_labels_match_images():
    source = _indexed_source(50)
    indices = torch.arange(10, 50, 2)  # 20 images: 10, 12, ..., 48
    pipe = BatchPipeline(source, indices, 6, CPU, BIG)
    assert pipe.steps_per_epoch() == 3  # 20 // 6, last partial batch dropped
    seen = []
    for images, labels in pipe.epoch(0, seed=1):
        assert images.dtype == torch.uint8 and images.shape == (6, 1, 4, 4)
        ids = images[:, 0, 0, 0].long()
        assert torch.equal(labels, ids % 3)
        seen += ids.tolist()
    assert len(set(seen)) == 18 and set(seen) <= set(indices.tolist())


def test_same_epoch_same_order_and_epochs_differ():
    pipe = BatchPipeline(_indexed_source(64), torch.arange(64), 16, CPU, BIG)
    first, again, second = _ids(pipe.epoch(0, 5)), _ids(pipe.epoch(0, 5)), _ids(pipe.epoch(1, 5))
    assert first == again
    assert first != second
    assert (
        sorted(sum(first, [])) == sorted(sum(second, [])) == list(range(64))
    )  # each epoch sees every image once
    other_seed = _ids(pipe.epoch(0, 6))
    assert other_seed != first


def test_start_batch_skips_without_reading():
    counting = CountingSource(_indexed_source(40))
    pipe = BatchPipeline(counting, torch.arange(40), 8, CPU, memory_budget_bytes=0, num_workers=0)
    assert not pipe.resident
    full = _ids(pipe.epoch(3, 0))
    counting.read_indices.clear()
    resumed = _ids(pipe.epoch(3, 0, start_batch=2))
    assert resumed == full[2:]
    assert sorted(counting.read_indices) == sorted(sum(full[2:], []))  # batches 0 and 1 were never read
    assert list(pipe.epoch(3, 0, start_batch=5)) == []


def test_resident_and_streamed_through_a_tensor_source_agree():
    source = _indexed_source(30)
    resident = BatchPipeline(source, torch.arange(30), 7, CPU, BIG)
    streamed = BatchPipeline(source, torch.arange(30), 7, CPU, 0)
    assert resident.resident and not streamed.resident
    for epoch in range(2):
        r, s = list(resident.epoch(epoch, 9, 1)), list(streamed.epoch(epoch, 9, 1))
        assert len(r) == len(s) == 3
        for (ri, rl), (si, sl) in zip(r, s, strict=True):
            assert torch.equal(ri, si) and torch.equal(rl, sl)


@pytest.mark.timeout(120)
def test_resident_and_streamed_with_worker_processes_agree(tmp_path, monkeypatch):
    # A folder too large (by the patched limit) to decode on open: it decodes in read(), so the
    # streamed pipeline really runs DataLoader workers, and the resident one fills itself through them.
    root = tmp_path / "imgs"
    for i in range(24):
        sub = root / ("even" if i % 2 == 0 else "odd")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((6, 6), i * 10, np.uint8)).save(sub / f"{i:02d}.png")
    monkeypatch.setattr(folder_module, "EAGER_DECODE_BYTES", 0)
    source = open_source(f"folder:{root}")
    assert not source.in_memory
    indices = torch.arange(2, 24)
    resident = BatchPipeline(source, indices, 5, CPU, BIG, num_workers=2)
    with BatchPipeline(source, indices, 5, CPU, 0, num_workers=2) as streamed:
        assert resident.resident and not streamed.resident and streamed.num_workers == 2
        for epoch in (0, 1, 0):  # a repeated epoch reuses the persistent workers
            r, s = list(resident.epoch(epoch, 3)), list(streamed.epoch(epoch, 3))
            assert len(r) == len(s) == 4
            for (ri, rl), (si, sl) in zip(r, s, strict=True):
                assert torch.equal(ri, si) and torch.equal(rl, sl)
        # stopping an epoch early and starting another must not leak stale batches
        partial = streamed.epoch(1, 3)
        next(partial)
        del partial
        assert _ids(streamed.epoch(1, 3, start_batch=1)) == _ids(resident.epoch(1, 3, start_batch=1))


def test_batch_larger_than_the_data_is_one_batch_of_everything():
    pipe = BatchPipeline(_indexed_source(10), torch.arange(10), 256, CPU, BIG)
    assert pipe.batch_size == 10 and pipe.steps_per_epoch() == 1
    ((images, _),) = list(pipe.epoch(0, 0))
    assert sorted(images[:, 0, 0, 0].tolist()) == list(range(10))


def test_keep_last_partial_batch_when_asked():
    pipe = BatchPipeline(_indexed_source(10), torch.arange(10), 4, CPU, BIG, drop_last=False)
    assert pipe.steps_per_epoch() == 3
    assert [len(b) for b in _ids(pipe.epoch(0, 0))] == [4, 4, 2]


def test_unlabelled_sources_give_none_labels():
    pipe = BatchPipeline(_indexed_source(8, labelled=False), torch.arange(8), 4, CPU, BIG)
    assert all(labels is None for _, labels in pipe.epoch(0, 0))
    streamed = BatchPipeline(_indexed_source(8, labelled=False), torch.arange(8), 4, CPU, 0)
    assert all(labels is None for _, labels in streamed.epoch(0, 0))


def test_fewer_than_two_images_is_a_user_error():
    with pytest.raises(UserError, match="at least 2"):
        BatchPipeline(_indexed_source(5), torch.tensor([3]), 4, CPU, BIG)
    with pytest.raises(UserError, match="at least 2"):
        BatchPipeline(_indexed_source(5), torch.arange(5), 1, CPU, BIG)


def test_digits_end_to_end():
    from ssl_core.data import split_indices

    source = open_source("digits")
    train, _ = split_indices(len(source), 0.2, 0, source.labels())
    pipe = BatchPipeline(source, train, 256, CPU, BIG)
    images, labels = next(iter(pipe.epoch(0, 0)))
    assert images.shape == (256, 1, 8, 8) and labels.shape == (256,) and int(images.max()) == 255


def test_a_streaming_folder_source_pickles_for_spawned_workers(tmp_path, monkeypatch):
    import pickle

    for i in range(3):
        Image.fromarray(np.full((5, 5), i, np.uint8)).save(tmp_path / f"{i}.png")
    monkeypatch.setattr(folder_module, "EAGER_DECODE_BYTES", 0)
    source = open_source(f"folder:{tmp_path}")
    copy = pickle.loads(pickle.dumps(source))
    assert torch.equal(copy.read([0, 2])[0], source.read([0, 2])[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_resident_batches_live_on_the_gpu_and_match_streamed_ones():
    cuda = torch.device("cuda")
    source = _indexed_source(40)
    resident = BatchPipeline(source, torch.arange(40), 8, cuda, BIG)
    streamed = BatchPipeline(source, torch.arange(40), 8, cuda, 0)
    assert resident.resident and resident._images.device.type == "cuda"
    for (ri, rl), (si, sl) in zip(resident.epoch(2, 0), streamed.epoch(2, 0), strict=True):
        assert ri.device.type == si.device.type == "cuda"
        assert torch.equal(ri.cpu(), si.cpu()) and torch.equal(rl.cpu(), sl.cpu())
