"""The GAN in the GUI: while it trains, the live preview shows a grid of samples from fixed latents and an
interpolation strip, refreshed as the generator learns; the loss plot shows both players' losses; the
Views tab explains what the rows are."""

from __future__ import annotations

from tests.app.conftest import close_window, make_window, tiny_training

ROWS = ["real", "samples", "more samples", "interpolation"]


def shown(panel, row: str) -> list:
    """The images a preview panel shows in one row (QImages compare by their pixels)."""
    return panel.renderer.images(row) if panel.renderer is not None else []


def test_gan_sample_grid_appears_and_refreshes_while_training(qtbot, settings_path, runs_dir, dialog_log):
    window = make_window(qtbot, settings_path, runs_dir, preview_interval_s=0.0)  # a preview every step
    views, train = window.views_tab, window.train_tab
    try:
        tiny_training(window, "gan", max_steps=400, batch_size=32, epochs=40)  # stopped long before
        assert views.kind == "samples" and "generator" in views.explain.text()
        assert "same random numbers" in views.explain.text() and views.button.text() == "Refresh"
        live = []
        window.session.preview.connect(lambda ev: live.append(ev))
        assert window.start_training() is not None
        qtbot.waitUntil(lambda: bool(live and shown(train.live_preview, "samples")), timeout=120_000)
        assert train.live_preview.rows() == ROWS and views.rows() == ROWS
        first = shown(train.live_preview, "samples")
        first_real, first_strip = (
            shown(train.live_preview, "real"),
            shown(train.live_preview, "interpolation"),
        )
        assert first and first_strip
        # the generator learns: the same latents give other drawings a few updates later, the real row stays
        qtbot.waitUntil(lambda: shown(train.live_preview, "samples") != first, timeout=120_000)
        assert shown(train.live_preview, "real") == first_real
        assert shown(train.live_preview, "interpolation") != first_strip
        assert "the same samples all run" in train.live_caption.text()
        assert views.captions("interpolation")[0] == "0%" and views.captions("interpolation")[-1] == "100%"
        # the Train tab shows fewer columns: the strip keeps both ends, evenly spaced, not its first steps
        strip = train.live_preview.captions("interpolation")
        assert (
            strip[0] == "0%" and strip[-1] == "100%" and len(strip) == len(shown(train.live_preview, "real"))
        )
        # both players' losses are plotted as parts of the loss
        qtbot.waitUntil(
            lambda: {"discriminator", "generator"} <= set(train.loss_curves.names()), timeout=60_000
        )
        with qtbot.waitSignal(window.session.ended, timeout=120_000):
            window.session.stop()
        assert dialog_log.shown == []
    finally:
        close_window(qtbot, window)
