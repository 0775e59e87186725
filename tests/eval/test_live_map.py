"""The live map's engine: a fixed subset, layouts aligned so that points move rather than jump, UMAP that
continues its previous layout, and PCA until UMAP is compiled."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from ssl_core.errors import UserError
from ssl_core.eval import live_map
from ssl_core.eval.live_map import (
    LiveMapper,
    align_layout,
    layout_motion,
    live_subset,
    normalise_layout,
)
from ssl_core.eval.projection import project_pca, project_umap
from ssl_core.runs.checkpoint import load_checkpoint, save_checkpoint
from ssl_core.runs.store import RunPaths
from tests.tiny_runs import train_tiny

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_tiny(tmp_path_factory.mktemp("live-map-runs"), "train.max_steps=4")


@pytest.fixture
def tiny_run(trained, tmp_path):
    """A private copy of the module's run: tests change its checkpoint."""
    return Path(shutil.copytree(trained, tmp_path / trained.name))


@pytest.fixture
def cold_umap(monkeypatch):
    """UMAP counts as not compiled yet, whatever ran before in this process."""
    monkeypatch.setattr(live_map, "_UMAP_WARM", threading.Event())


def nudge_checkpoint(run_dir, scale: float, seed: int) -> None:
    """Move every weight of the run's checkpoint a little, as one more epoch of training would."""
    path = RunPaths(run_dir).checkpoint
    state = load_checkpoint(path)
    gen = torch.Generator().manual_seed(seed)
    for name, value in state["model"].items():
        if value.is_floating_point() and value.numel() > 1 and "running" not in name:
            value.add_(torch.randn(value.shape, generator=gen) * scale * value.std().nan_to_num(0.0))
    state["step"] += 4
    state["epoch"] += 1
    save_checkpoint(path, state)


def test_subset_is_fixed_by_its_seed():
    a = live_subset(1797, 600, seed=0)
    assert np.array_equal(a, live_subset(1797, 600, seed=0))
    assert len(a) == 600 and len(np.unique(a)) == 600 and np.all(np.diff(a) > 0)
    assert a.min() >= 0 and a.max() < 1797
    assert not np.array_equal(a, live_subset(1797, 600, seed=1))
    assert np.array_equal(live_subset(50, 600), np.arange(50))
    assert len(live_subset(0, 600)) == 0


def test_alignment_undoes_rotation_reflection_scale_and_shift():
    rng = np.random.default_rng(0)
    before = normalise_layout(rng.normal(size=(400, 2)) * [3.0, 1.0])
    angle = 2.0
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    after = (before @ turn) * [-1.0, 1.0] * 7.5 + [40.0, -3.0] + rng.normal(scale=0.02, size=before.shape)

    aligned = align_layout(after, before)
    unaligned = normalise_layout(after)
    assert layout_motion(aligned, before) < 0.05
    assert layout_motion(unaligned, before) > 0.5
    assert aligned.dtype == np.float32 and aligned.shape == before.shape
    # a first layout has nothing to align to: it is only normalised (centred, unit RMS radius)
    first = align_layout(after)
    np.testing.assert_allclose(first.mean(axis=0), 0.0, atol=1e-5)
    assert np.sqrt(np.mean(np.sum(first.astype(np.float64) ** 2, axis=1))) == pytest.approx(1.0, abs=1e-5)
    # degenerate layouts do not crash
    assert align_layout(np.zeros((5, 2)), np.zeros((5, 2))).shape == (5, 2)
    assert align_layout(np.zeros((0, 2)), None).shape == (0, 2)
    assert layout_motion(np.zeros((3, 2)), np.zeros((4, 2))) == 0.0


def test_pca_frames_follow_checkpoints_and_move_less_than_unaligned(tiny_run, cold_umap):
    mapper = LiveMapper(tiny_run, points=300)
    assert mapper.choose_kind() == "pca"  # UMAP is not compiled: the map must not stall on it
    first = mapper.update()
    assert first.kind == "pca" and first.number == 1 and first.moved == 0.0
    assert first.xy.shape == (300, 2) and np.array_equal(first.rows, live_subset(1797, 300))
    assert first.labels is not None and len(first.labels) == 300 and first.total == 1797
    assert (first.step, first.epoch) == (4, 0)
    # another mapper of the same checkpoint draws the same picture
    np.testing.assert_allclose(LiveMapper(tiny_run, points=300).update().xy, first.xy, atol=1e-5)

    nudge_checkpoint(tiny_run, 0.3, seed=1)
    second = mapper.update()
    assert (second.step, second.epoch, second.number) == (8, 1, 2)
    assert np.array_equal(second.rows, first.rows)
    unaligned = normalise_layout(project_pca(mapper.features()))
    assert 0.0 < second.moved < 0.8
    assert second.moved <= layout_motion(unaligned, first.xy) + 1e-6


def test_umap_continues_its_layout_and_moves_less_than_a_fresh_map(tiny_run, cold_umap):
    mapper = LiveMapper(tiny_run, points=300)
    mapper.update()  # PCA while UMAP is cold
    live_map.mark_umap_warm()
    assert mapper.choose_kind() == "umap"
    first = mapper.update()  # UMAP, started from the PCA picture
    assert first.kind == "umap" and live_map.umap_is_warm()

    nudge_checkpoint(tiny_run, 0.3, seed=2)
    second = mapper.update()
    assert second.kind == "umap"
    fresh = normalise_layout(project_umap(mapper.features(), seed=0, knn="exact", n_epochs=60))
    assert second.moved < layout_motion(fresh, first.xy), "continuing the layout beats starting again"
    assert second.moved < layout_motion(align_layout(fresh, first.xy), first.xy), "...even aligned"
    # Small steps keep a continued layout steadier than umap-learn's default rate from the same start.
    default_rate = project_umap(mapper.features(), seed=0, knn="exact", n_epochs=60, init=first.xy)
    default_moved = layout_motion(align_layout(normalise_layout(default_rate), first.xy), first.xy)
    assert second.moved < default_moved


def test_bad_projection_and_missing_checkpoint_are_user_errors(tmp_path):
    with pytest.raises(UserError):
        LiveMapper(tmp_path, projection="tsne")
    with pytest.raises(UserError):
        LiveMapper(tmp_path / "nothing-here").update()
