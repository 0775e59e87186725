"""Live views in the GUI: the Train tab shows the batch being trained on, with new views at every update,
and the Views tab keeps the views the user drew (New views) until they ask to follow training again."""

from __future__ import annotations

from app.widgets.previews import LIVE_CAPTION_KEY
from ssl_core.train.live_previews import CAPTION_KEY, ORIGINAL
from tests.app.conftest import close_window, make_window, tiny_training


def shown(panel, row: str = "view 1") -> list:
    """The images a preview panel shows in one row (QImages compare by their pixels)."""
    return panel.renderer.images(row) if panel.renderer is not None else []


def test_new_views_survive_live_previews_while_the_train_tab_follows(
    qtbot, settings_path, runs_dir, dialog_log
):
    assert LIVE_CAPTION_KEY == CAPTION_KEY  # the GUI reads the line the trainer writes
    window = make_window(qtbot, settings_path, runs_dir, preview_interval_s=0.0)  # a preview every step
    views, train = window.views_tab, window.train_tab
    try:
        tiny_training(window, "simclr", max_steps=400, batch_size=64, epochs=40)  # stopped long before
        live = []
        window.session.preview.connect(lambda ev: live.append(ev))
        assert window.start_training() is not None
        qtbot.waitUntil(lambda: len(live) >= 2, timeout=60_000)
        # live views differ from one update to the next: the batch trained on now, new random views
        assert shown(train.live_preview) and views.following
        assert "training batch at step" in train.live_caption.text()
        assert "training batch at step" in views.status.text()

        # the user asks for new views while training goes on: they stay, the Train tab keeps following
        window.tabs.setCurrentWidget(views)
        assert views.button.isEnabled() and views.button.text() == "New views"
        views.button.click()
        qtbot.waitUntil(lambda: not views.following and views.worker is None, timeout=30_000)
        assert views.rows()[0] == ORIGINAL
        mine, train_then, seen = shown(views.preview), shown(train.live_preview), len(live)
        qtbot.waitUntil(lambda: len(live) >= seen + 2, timeout=30_000)
        assert shown(views.preview) == mine
        assert shown(train.live_preview) != train_then
        assert views.kept_row.isVisible() and "Showing your new views" in views.kept_note.text()
        assert "Train tab" in views.kept_note.text() and views.follow_button.isVisible()
        assert "training batch" not in views.status.text()

        # Follow training: the newest live views come back and keep coming
        views.follow_training()
        assert views.following and not views.kept_row.isVisible()
        newest = shown(train.live_preview)  # the Train tab shows fewer samples
        assert newest and shown(views.preview)[: len(newest)] == newest
        assert "training batch at step" in views.status.text()

        with qtbot.waitSignal(window.session.ended, timeout=60_000):
            window.session.stop()
        # the user's views after the run, then a new run: the tab follows training again
        views.button.click()
        qtbot.waitUntil(lambda: not views.following and views.worker is None, timeout=30_000)
        tiny_training(window, "simclr", max_steps=2, batch_size=64)
        with qtbot.waitSignal(window.session.ended, timeout=60_000):
            assert window.start_training() is not None
            assert views.following
        assert dialog_log.shown == []
    finally:
        close_window(qtbot, window)
