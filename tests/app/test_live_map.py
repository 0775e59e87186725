"""The Embeddings tab's live map: it follows a real training run from its checkpoints, points glide between
pictures, it stops with the run, and the full map still works afterwards."""

from __future__ import annotations

import threading

import numpy as np

from tests.app.conftest import tiny_training, train_and_wait


def test_live_map_follows_a_run_and_stops_with_it(qtbot, window, dialog_log, monkeypatch):
    from ssl_core.eval import live_map
    from ssl_core.eval.live_map import LIVE_POINTS
    from ssl_core.train.events import CheckpointSaved

    monkeypatch.setattr(live_map, "_UMAP_WARM", threading.Event())  # PCA: no UMAP compile in this test

    emb = window.embeddings_tab
    window.tabs.setCurrentWidget(emb)
    tiny_training(window, epochs=2, batch_size=256)
    steps = window.setup_tab.training.max_steps
    steps.setValue(steps.minimum())  # no step limit: two whole epochs, two checkpoints
    frames, captions, moves = [], [], []

    def arrived(frame):
        frames.append(frame)
        captions.append("" if emb.live_caption.isHidden() else emb.live_caption.text())

    def drawn(frame):  # after the tab drew it: later pictures move the points instead of redrawing
        moves.append(emb.live_map.animator.running)

    emb.live_updated.connect(arrived)
    emb.live_updated.connect(drawn)
    train_and_wait(qtbot, window)
    qtbot.waitUntil(lambda: not emb.live_map.live.updating, timeout=30_000)

    assert len(frames) >= 2, "one picture per checkpoint: at least two for two epochs"
    assert [f.number for f in frames] == list(range(1, len(frames) + 1))
    assert all(len(f.rows) == LIVE_POINTS and f.plural == "images" for f in frames)
    assert all(np.array_equal(f.rows, frames[0].rows) for f in frames), "the same samples in every picture"
    assert [f.epoch for f in frames] == sorted(f.epoch for f in frames) and frames[-1].epoch == 1
    assert all(c.startswith("Live map of 600 images") for c in captions), captions
    # while the run trains the caption says so; the last picture may come after the end (the final checkpoint)
    assert "Live map of 600 images, epoch 1 (PCA) — updates after each checkpoint" in captions[0]
    assert moves[0] is False and all(moves[1:]), "the first picture is drawn, later ones animate"
    # aligned pictures move the points a bounded amount (unit-RMS layouts: unrelated ones move ~1.3)
    assert all(f.moved < 1.0 for f in frames[1:])

    # the run ended: the last picture stays, captioned, with the points where it put them
    qtbot.waitUntil(lambda: not emb.live_map.animator.running, timeout=5_000)
    assert emb.scatter.point_count() == LIVE_POINTS
    np.testing.assert_allclose(emb.scatter.xy, frames[-1].xy, atol=1e-6)
    assert not emb.live_caption.isHidden()
    assert "at the end of training (epoch 2" in emb.live_caption.text()
    assert "map all 1,797" in emb.live_caption.text()

    # nothing after the end: a late checkpoint signal starts no update
    count = len(frames)
    run_dir = window.current_run
    window.session.checkpoint_saved.emit(CheckpointSaved(run_dir / "checkpoints" / "last.pt", 99, 5))
    assert not emb.live_map.live.updating
    qtbot.wait(300)
    assert len(frames) == count

    # the normal workflow: the full map of every sample replaces the live one (PCA: no UMAP compile here)
    emb.projection.setCurrentIndex(emb.projection.findData("pca"))
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        emb.compute(run_dir, force=True)
    assert emb.result is not None and emb.scatter.point_count() == 1797
    assert emb.live_caption.isHidden()
    assert dialog_log.shown == []


def test_live_map_of_another_run_is_dropped(qtbot, window, copied_run, dialog_log):
    """A resumed run is mapped at once; opening another run drops its live map and any late picture."""
    emb = window.embeddings_tab
    emb.set_run(copied_run)
    frames = []
    emb.live_map.live.frame_ready.connect(frames.append)
    emb.live_map.live.start(
        copied_run
    )  # as the session's run_started does for a resumed run with a checkpoint
    assert emb.live_map.live.updating and not emb.live_caption.isHidden()
    qtbot.waitUntil(lambda: not emb.live_map.live.updating, timeout=30_000)
    assert len(frames) == 1 and emb.scatter.point_count() == 600

    emb.live_map.live.request()  # one more picture in flight, then another run is opened
    emb.set_run(None)
    qtbot.waitUntil(lambda: not emb.live_map.live.updating, timeout=30_000)
    qtbot.wait(100)
    assert len(frames) == 1 and emb.live_map.live.frame is None
    assert emb.live_caption.isHidden() and emb.scatter.point_count() == 0
    assert dialog_log.shown == []


def test_points_glide_to_a_new_layout_keeping_their_colours(qtbot):
    from app.live_map import ANIMATION_MS, PointAnimator
    from app.widgets.scatter import EmbeddingScatter

    scatter = EmbeddingScatter()
    qtbot.addWidget(scatter)
    rng = np.random.default_rng(0)
    start, end = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    labels = np.arange(50) % 3
    scatter.set_points(start, labels, ["a", "b", "c"])
    colours = [b.color().name() for b in scatter.items[0].data["brush"]]
    animator = PointAnimator(scatter)
    seen = []
    animator.timer.timeout.connect(lambda: seen.append(scatter.xy.copy()))
    animator.move_to(end)
    qtbot.waitUntil(lambda: not animator.running, timeout=ANIMATION_MS + 2_000)

    np.testing.assert_allclose(scatter.xy, end)
    between = [xy for xy in seen[:-1] if not np.allclose(xy, end)]
    assert len(between) >= 2, "positions in between: the points move, they do not jump"
    for xy in between:  # each point on the straight way from its start to its end
        t = np.sum((xy - start) * (end - start), axis=1) / np.sum((end - start) ** 2, axis=1)
        np.testing.assert_allclose(xy, start + t[:, None] * (end - start), atol=1e-9)
        assert np.all((t > -1e-9) & (t < 1 + 1e-9))
    assert [b.color().name() for b in scatter.items[0].data["brush"]] == colours
    assert scatter.point_count() == 50 and scatter.classes == ["a", "b", "c"]
