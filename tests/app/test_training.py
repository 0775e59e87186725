"""Training from the GUI: live curves and previews, a responsive GUI thread, pause/resume/stop, closing."""

from __future__ import annotations

import gc
import time

import numpy as np
from PySide6.QtCore import QTimer

from app.training import IDLE, PAUSED, RUNNING
from tests.app.conftest import close_window, make_window, tiny_training, train_and_wait
from tests.thread_clock import StallClock


def test_reconstruction_grid_updates_during_training(qtbot, settings_path, runs_dir, dialog_log):
    window = make_window(qtbot, settings_path, runs_dir, preview_interval_s=0.0)  # a preview every step
    try:
        tiny_training(window, "autoencoder", max_steps=12, batch_size=128, epochs=2)
        assert window.views_tab.kind == "reconstruction"
        previews = []
        window.session.preview.connect(lambda ev: previews.append((ev.step, ev.preview)))
        train_and_wait(qtbot, window)
        assert dialog_log.shown == []
        steps = [s for s, _ in previews]
        assert len(previews) >= 2 and steps == sorted(steps) and steps[-1] == 12
        views = window.views_tab
        assert views.rows()[0] == "input" and "reconstruction" in views.rows()
        assert views.last_step == 12
        # the reconstructions changed while the model learned (same input images, new output)
        first, last = previews[0][1], previews[-1][1]
        np.testing.assert_array_equal(first.images["input"].numpy(), last.images["input"].numpy())
        change = np.abs(first.images["reconstruction"].numpy() - last.images["reconstruction"].numpy()).mean()
        assert change > 1e-3
        assert "step 12" in views.status.text()

        # a reconstruction method gives anomaly scores: the map can be coloured by them
        emb = window.embeddings_tab
        emb.projection.setCurrentIndex(emb.projection.findData("pca"))
        emb.set_run(window.current_run)
        with qtbot.waitSignal(window.runner.idle, timeout=60_000):
            emb.compute(window.current_run)
        assert emb.result.anomaly is not None and emb.result.anomaly.shape == (1797,)
        emb.colour_by.setCurrentIndex(emb.colour_by.findData("score"))
        assert len(emb.scatter.items) == 1 and emb.scatter.point_count() == 1797
        assert emb.scatter._gradient is not None  # a colour scale instead of a class legend
        emb._hovered(0)
        assert "anomaly score" in emb.hover_text.text()
    finally:
        close_window(qtbot, window)


def test_gui_thread_stays_responsive_while_training(qtbot, window):
    tiny_training(window, "simclr", max_steps=60, batch_size=64, epochs=5)
    clock = StallClock()  # gaps between beats, less the time the process waited for a free CPU
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(clock.tick)
    batches = []
    window.session.steps.connect(lambda steps: batches.append(len(steps)))
    # A launched app freezes what existed before its window (gc_guard.freeze_startup, once per process); in a
    # test worker that has run other tests, their leftovers would make the GUI thread's collections walk a
    # heap no real session has (measured: a 177 ms full collection of earlier tests' objects).
    gc.collect()
    gc.freeze()
    timer.start()
    started = time.perf_counter()
    try:
        train_and_wait(qtbot, window)
    finally:
        gc.unfreeze()
    elapsed = time.perf_counter() - started
    timer.stop()
    assert len(clock.gaps) > 20
    worst = max(range(1, len(clock.gaps)), key=clock.gaps.__getitem__)
    assert clock.gaps[worst] < 0.25, (
        f"the GUI thread stalled for {clock.gaps[worst] * 1000:.0f} ms "
        f"({clock.wall_gaps[worst] * 1000:.0f} ms on the wall clock)"
    )
    assert sum(batches) == 60  # every step reached the plot...
    assert len(batches) <= 30 * elapsed + 5  # ...in at most ~25-30 updates a second
    assert window.train_tab.loss_curves.point_count("loss") == 60


def test_pause_resume_stop_then_resume_run(qtbot, window, dialog_log):
    tiny_training(window, "simclr", max_steps=0, batch_size=32, epochs=50)
    session = window.session
    seen: list[int] = []
    session.steps.connect(lambda steps: seen.extend(s.step for s in steps))
    window.start_training()
    qtbot.waitUntil(lambda: len(seen) >= 3, timeout=60_000)
    assert window.actions["pause"].isEnabled() and not window.actions["start"].isEnabled()
    assert not window.setup_tab.isEnabled()  # settings of a running job are locked

    with qtbot.waitSignal(session.state_changed):
        window.actions["pause"].trigger()
    assert session.state == PAUSED and window.actions["resume"].isEnabled()
    qtbot.wait(400)  # let a step in flight finish
    paused_at = len(seen)
    qtbot.wait(600)
    assert len(seen) == paused_at, "no steps while paused"

    window.actions["resume"].trigger()
    assert session.state == RUNNING
    qtbot.waitUntil(lambda: len(seen) >= paused_at + 3, timeout=60_000)

    finished = []
    session.run_finished.connect(finished.append)
    with qtbot.waitSignal(session.ended, timeout=60_000):
        window.actions["stop"].trigger()
    assert finished and finished[0].status == "stopped"
    stopped_at = finished[0].step
    assert session.state == IDLE and window.setup_tab.isEnabled()
    run = window.current_run
    assert (run / "checkpoints" / "last.pt").is_file()
    assert (
        "resumable" in window.train_tab.progress.format() or "resumed" in window.train_tab.log.toPlainText()
    )

    # resume it from the Runs tab: the curve continues where it stopped
    window.runs_tab.refresh()
    window.runs_tab.select_run(run)
    started = []
    session.run_started.connect(started.append)
    window.runs_tab.buttons["resume"].click()
    qtbot.waitUntil(lambda: bool(started), timeout=60_000)
    assert started[0].start_step == stopped_at
    # The stopped run's curve is reloaded; resumed steps may already have been appended (no gap, no reset).
    assert stopped_at <= window.train_tab.loss_curves.point_count("loss") <= max(seen)
    qtbot.waitUntil(lambda: seen[-1] > stopped_at + 2, timeout=60_000)
    with qtbot.waitSignal(session.ended, timeout=60_000):
        window.stop_training()
    assert dialog_log.shown == []


def test_close_during_training_stops_cleanly(qtbot, settings_path, runs_dir, dialog_log, qtlog):
    window = make_window(qtbot, settings_path, runs_dir)
    tiny_training(window, "simclr", max_steps=0, batch_size=32, epochs=50)
    seen = []
    window.session.steps.connect(seen.extend)
    window.start_training()
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=60_000)

    dialog_log.answer = False  # "Stop it and quit?" -> No: nothing happens
    window.close()
    assert window.isVisible() and window.session.busy
    assert "Quit while training?" in dialog_log.questions[-1][0]

    dialog_log.answer = True
    finished = []
    window.session.run_finished.connect(finished.append)
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)
    assert not window.runner.running()
    assert finished and finished[0].status == "stopped"
    run = finished[0].run_dir
    assert (run / "checkpoints" / "last.pt").is_file()
    from ssl_core.runs.store import read_summary

    assert read_summary(run)["status"] == "stopped"  # resumable
    assert not [r for r in qtlog.records if "Destroyed while thread" in r.message]


def test_start_refuses_unavailable_method_with_a_dialog(qtbot, window, dialog_log):
    window.setup_tab.method.set_method("colorization")  # needs colour; the digits are grayscale
    assert window.start_training() is None
    kind, title, message, _ = dialog_log.shown[-1]
    assert kind == "user" and "colour" in message.lower()
    assert not window.session.busy


def test_close_right_after_start(qtbot, settings_path, runs_dir, dialog_log):
    window = make_window(qtbot, settings_path, runs_dir)
    window.start_training()
    window.close()  # while the trainer is still building the model
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)
    assert not window.runner.running()


def test_a_failed_run_is_reported(qtbot, window, dialog_log):
    from ssl_core.train.events import RunFailed

    message = "The loss became nan at step 3 (epoch 1); lower the learning rate (train.lr) and resume."
    with qtbot.waitSignal(window.session.run_failed):
        window.session.coalescer.push(RunFailed(None, 3, message, "", True))
    assert dialog_log.shown[-1][:3] == ("user", "Training stopped", message)
    assert "train.lr" in window.train_tab.log.toPlainText()
    assert window.train_tab.progress.format() == "Failed"

    bug = RunFailed(
        None, 5, "ZeroDivisionError: division by zero", "Traceback (most recent call last): ...", False
    )
    with qtbot.waitSignal(window.session.run_failed):
        window.session.coalescer.push(bug)
    assert dialog_log.shown[-1][0] == "bug" and "Traceback" in dialog_log.shown[-1][3]
