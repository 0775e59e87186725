"""Live previews while training: "views" previews show the batch being trained on now, with new random
views at every step; reconstruction previews stay on the same held-out samples all run."""

from __future__ import annotations

import pytest
import torch

from ssl_core.config import RunConfig
from ssl_core.data.base import DataInfo, TensorSource
from ssl_core.train import builder
from ssl_core.train.events import EventBus, PreviewReady
from ssl_core.train.live_previews import CAPTION_KEY, ORIGINAL, PREVIEW_IMAGES, LivePreviews
from ssl_core.train.trainer import Trainer
from tests.modalities.test_modalities import _series_source
from tests.modalities.test_table_modality import synthetic_table

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N = 64
SMALL_CNN = "method.backbone=small_cnn"  # for images; series and tables take their own (auto)


def blobs(n: int = N, size: int = 8, channels: int = 1, source=TensorSource) -> TensorSource:
    """n tiny images, each one different (a random pattern): a sample is known by its pixels."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, channels, size, size), generator=g, dtype=torch.uint8)
    info = DataInfo(
        spec="test:blobs", name="blobs", size=n, channels=channels, height=size, width=size, has_labels=True,
        class_names=["a", "b"], mirror_safe=False,
    )  # fmt: skip
    return source(images, torch.arange(n) % 2, info)


class StreamedBlobs(TensorSource):
    """Blobs read like files on disk: the trainer streams them through DataLoader workers."""

    @property
    def in_memory(self) -> bool:
        return False


def run_previews(monkeypatch, tmp_path, method: str, *overrides: str, source: TensorSource | None = None):
    """Train `method` on `source` (the blobs) with a preview every step: (previews by step, stored batch by
    step, the source)."""
    source = source if source is not None else blobs()
    monkeypatch.setattr(builder, "open_config_source", lambda config, **kw: source)
    trained: dict[int, torch.Tensor] = {}
    step_once = Trainer._step

    def remember_batch(self, state, batch, epoch, total_steps):
        trained[self.step + 1] = batch.clone()  # the batch of the step being taken
        return step_once(self, state, batch, epoch, total_steps)

    monkeypatch.setattr(Trainer, "_step", remember_batch)
    cfg = RunConfig().with_overrides(
        [
            "data.spec='test:blobs'",
            f"method.name={method!r}",
            "train.device=cpu",
            "data.num_workers=0",
            "train.batch_size=16",
            "train.max_steps=3",
            f"runs_dir={str(tmp_path / 'runs')!r}",
            *overrides,
        ]
    )
    trainer = Trainer(cfg, preview_interval_s=0.0)
    previews: dict[int, object] = {}
    trainer.events.subscribe(
        lambda e: previews.update({e.step: e.preview}) if isinstance(e, PreviewReady) else None
    )
    result = trainer.run()
    assert result.status == "completed", result.message
    return previews, trained, source


def as_stored(images: torch.Tensor) -> torch.Tensor:
    """Preview images (float in [0, 1]) back as the uint8 the source stores."""
    return (images * 255).round().to(torch.uint8)


def test_views_previews_show_the_batch_trained_on_now_with_new_views_each_step(monkeypatch, tmp_path):
    previews, trained, source = run_previews(monkeypatch, tmp_path, "simclr", SMALL_CNN)
    assert sorted(previews) == [1, 2, 3]  # one per step; the last step's is not sent twice
    for step, preview in previews.items():
        assert preview.kind == "views"
        # the untouched samples are the first samples of that step's training batch
        assert torch.equal(as_stored(preview.images[ORIGINAL]), trained[step][:PREVIEW_IMAGES])
        assert f"training batch at step {step}" in preview.meta[CAPTION_KEY]
    first, second = previews[1], previews[2]
    assert not torch.equal(first.images[ORIGINAL], second.images[ORIGINAL])
    assert not torch.equal(first.images["view 1"], second.images["view 1"])

    # another run seed trains on other batches, so its previews differ too
    other, _, _ = run_previews(monkeypatch, tmp_path, "simclr", SMALL_CNN, "train.seed=7")
    assert not torch.equal(other[1].images[ORIGINAL], first.images[ORIGINAL])


def test_views_previews_come_from_batches_streamed_by_dataloader_workers(monkeypatch, tmp_path):
    """Larger than the memory budget: batches come from worker processes, not a resident tensor."""
    source = blobs(size=96, channels=3, source=StreamedBlobs)  # 1.8 MB
    overrides = (SMALL_CNN, "data.memory_budget_mb=1", "data.num_workers=2")
    previews, trained, _ = run_previews(monkeypatch, tmp_path, "simclr", *overrides, source=source)
    assert sorted(previews) == [1, 2, 3]
    for step, preview in previews.items():
        assert torch.equal(as_stored(preview.images[ORIGINAL]), trained[step][:PREVIEW_IMAGES])


def test_reconstruction_previews_stay_on_the_same_held_out_samples(monkeypatch, tmp_path):
    previews, trained, source = run_previews(monkeypatch, tmp_path, "autoencoder", SMALL_CNN)
    assert sorted(previews) == [1, 2, 3]
    inputs = [as_stored(p.images["input"]) for p in previews.values()]
    assert all(torch.equal(x, inputs[0]) for x in inputs)
    # held-out samples: never in a training batch
    seen = {bytes(sample.numpy()) for batch in trained.values() for sample in batch}
    assert not any(bytes(sample.numpy()) in seen for sample in inputs[0])
    assert all("the same samples all run" in p.meta[CAPTION_KEY] for p in previews.values())


@pytest.mark.parametrize(
    "method, make_source",
    [("simclr", lambda: _series_source()), ("scarf", lambda: synthetic_table())],
    ids=["series", "table"],
)
def test_views_previews_follow_the_batch_for_series_and_tables(monkeypatch, tmp_path, method, make_source):
    previews, trained, _ = run_previews(monkeypatch, tmp_path, method, source=make_source())
    assert sorted(previews) == [1, 2, 3] and all(p.kind == "views" for p in previews.values())
    assert all(len(p.images[ORIGINAL]) == PREVIEW_IMAGES for p in previews.values())
    first, second = (
        torch.nan_to_num(previews[s].images[ORIGINAL], nan=-1.0) for s in (1, 2)
    )  # missing cells
    assert not torch.equal(first, second)
    assert "training batch at step 2" in previews[2].meta[CAPTION_KEY]


def test_the_same_batch_gets_new_views_at_every_step():
    """The views come from a generator seeded by (run seed, step): never the same draw twice."""
    from ssl_core.methods import METHODS
    from ssl_core.train.builder import build_components

    cfg = RunConfig().with_overrides(
        ["data.spec='test:blobs'", "method.name=simclr", "method.backbone=small_cnn"]
    )
    parts = build_components(cfg, source=blobs())
    assert METHODS.get("simclr").preview_kind == "views"
    bus, seen = EventBus(), []
    bus.subscribe(seen.append)
    previews = LivePreviews(bus, 0.0, None, kind="views", seed=0)
    batch = blobs().images[:16]
    for step in (5, 6):
        previews.emit(parts.method, torch.device("cpu"), step, batch)
    a, b = (e.preview for e in seen)
    assert torch.equal(a.images[ORIGINAL], b.images[ORIGINAL])
    assert not torch.equal(a.images["view 1"], b.images["view 1"])
    # the same step of another run seed draws other views
    LivePreviews(bus, 0.0, None, kind="views", seed=1).emit(parts.method, torch.device("cpu"), 5, batch)
    assert not torch.equal(seen[-1].preview.images["view 1"], a.images["view 1"])
