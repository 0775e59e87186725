"""Nothing stale, nothing fake: after a run switch every tab shows only the current run, a failed start
looks like a failure, and a disabled button says why (issue 15)."""

from __future__ import annotations

import shutil

import numpy as np

from tests.app.conftest import tiny_training, train_and_wait


def _side_panel_is_empty(tab) -> bool:
    return (
        tab.hover_image.pixmap().isNull()
        and "#" not in tab.hover_text.text()
        and tab.neighbours.count() == 0
        and tab.selection.count() == 0
        and "Selection</b>:" not in tab.selection_title.text()
        and "of " not in tab.neighbours_title.text()
    )


def test_embeddings_side_panel_is_cleared_on_run_switch(qtbot, window, copied_run, runs_dir):
    other = runs_dir / f"{copied_run.name}-other"
    shutil.copytree(copied_run, other)
    window.open_run(copied_run)
    qtbot.waitUntil(lambda: not window.runner.running("history"), timeout=30_000)
    tab = window.embeddings_tab
    tab.compute(copied_run, force=True)
    qtbot.waitUntil(lambda: tab.result is not None and tab.embed_worker is None, timeout=120_000)
    tab.scatter.hovered.emit(0)
    tab.scatter.clicked.emit(0)
    tab.scatter.selected.emit(np.arange(5))
    assert not _side_panel_is_empty(tab)

    window.open_run(other)
    qtbot.waitUntil(lambda: not window.runner.running("history"), timeout=30_000)
    assert tab.run_dir == other
    assert _side_panel_is_empty(tab)


def test_train_tab_speed_and_log_are_cleared_when_another_run_is_opened(qtbot, window, copied_run):
    tiny_training(window, max_steps=3)
    train_and_wait(qtbot, window)
    train = window.train_tab
    assert train.rate_value.text() != "–" and train.log.toPlainText()
    first = window.current_run

    window.open_run(copied_run)
    assert train.rate_value.text() == "–"
    assert first.name not in train.log.toPlainText()
    qtbot.waitUntil(lambda: not window.runner.running("history"), timeout=30_000)

    # a new run starts: the opened run's numbers and log go as well
    train.append_log("a line about the opened run")
    with qtbot.waitSignal(window.session.run_started, timeout=60_000):
        window.start_training()
    assert "opened run" not in train.log.toPlainText()
    qtbot.waitUntil(lambda: not window.session.busy, timeout=90_000)


def test_a_failed_start_looks_like_a_failure(qtbot, window, dialog_log, monkeypatch):
    from app import training

    def broken(*args, **kwargs):
        raise RuntimeError("the engine could not build the model")

    monkeypatch.setattr(training, "run_trainer", broken)
    train = window.train_tab
    train.progress.setRange(0, 1)
    train.progress.setValue(1)  # a full bar left from a finished run
    with qtbot.waitSignal(window.session.ended, timeout=30_000):
        window.start_training()
    message = window.statusBar().currentMessage()
    assert "failed" in message.lower() and "Starting" not in message
    assert train.progress.property("state") == "failed"
    assert train.progress.value() == train.progress.minimum()  # not a full "done" bar
    assert dialog_log.shown and dialog_log.shown[-1][0] == "bug"

    # the next start looks normal again
    train.clear()
    assert train.progress.property("state") is None


def test_disabled_job_buttons_say_why(qtbot, window, copied_run):
    buttons = (
        window.evaluate_tab.button,
        window.embeddings_tab.compute_button,
        window.anomalies_tab.button,
    )
    for button in buttons:  # no run open
        assert not button.isEnabled()
        assert "No run is open" in button.toolTip()

    window.open_run(copied_run)
    qtbot.waitUntil(lambda: not window.runner.running("history"), timeout=30_000)
    window.tabs.setCurrentWidget(window.evaluate_tab)
    for button in buttons:
        assert button.isEnabled(), button.objectName()
        assert "\n" not in button.toolTip()  # the plain description, no reason

    for tab in (window.evaluate_tab, window.embeddings_tab, window.anomalies_tab):
        tab.set_busy(True)  # what the window does while training runs
    for button in buttons:
        assert not button.isEnabled()
        assert "while training runs" in button.toolTip()


def test_evaluate_and_anomalies_leave_the_old_run_when_a_new_one_starts(qtbot, window, copied_run):
    window.open_run(copied_run)
    qtbot.waitUntil(lambda: not window.runner.running("history"), timeout=30_000)
    assert window.evaluate_tab.run_dir == copied_run
    assert window.anomalies_tab.run_dir == copied_run

    tiny_training(window, max_steps=200)
    started = []
    window.session.run_started.connect(
        lambda _event: started.append(
            (
                window.evaluate_tab.run_dir,
                window.evaluate_tab.headline.text(),
                window.anomalies_tab.run_dir,
            )
        )
    )
    with qtbot.waitSignal(window.session.ended, timeout=90_000):
        assert window.start_training() is not None
        # held before its first checkpoint (an epoch is 11 steps), however late the GUI sees it start: a
        # 3-step run on a loaded machine could finish before its RunStarted was shown
        window.session.control.pause()
        qtbot.waitUntil(lambda: bool(started), timeout=60_000)
        window.session.stop()
    new_run = window.current_run
    assert new_run != copied_run
    evaluate_run, headline, anomalies_run = started[0]
    # while it trains, both tabs are about the new run and say it is training, not "no checkpoint"
    assert evaluate_run == new_run and anomalies_run == new_run
    assert "training now" in headline and "resume it" not in headline
    # once it has stopped (with a checkpoint), the run can be evaluated
    assert "Press Evaluate" in window.evaluate_tab.headline.text()
