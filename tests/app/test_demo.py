"""The guided demo, offscreen, over the real engine: every story from its first step to Finish with a
run of a few steps, Next/Back/Leave, leaving keeps the run and the settings, no dialogs mid-story, and
presentation mode."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QToolButton

from app.demo.stories import STORIES
from app.run_context import has_checkpoint

BUDGET = 3  # training steps instead of a story's time limit


def _next_ready(window) -> bool:
    return window.demo.narrator.next_button.isEnabled()


def _press_next(qtbot, window, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: _next_ready(window), timeout=timeout)
    qtbot.mouseClick(window.demo.narrator.next_button, Qt.MouseButton.LeftButton)


def _start(qtbot, window, key: str) -> None:
    window.embeddings_tab.projection.setCurrentIndex(window.embeddings_tab.projection.findData("pca"))
    window.demo.start(key, step_budget=BUDGET)
    qtbot.waitUntil(lambda: window.demo.index == 0, timeout=30_000)


@pytest.mark.parametrize("key", list(STORIES))
def test_story_runs_start_to_finish(qtbot, window, dialog_log, key):
    story = STORIES[key]
    demo = window.demo
    _start(qtbot, window, key)
    narrator = demo.narrator
    for index, step in enumerate(story.steps):
        assert demo.index == index
        assert narrator.counter.text() == f"Step {index + 1} of {len(story.steps)}"
        assert narrator.step_title.text() == step.title
        qtbot.waitUntil(lambda: _next_ready(window), timeout=60_000)
        if step.fact:  # a live result in words: the verdict, the detection score
            qtbot.waitUntil(lambda: "%" in narrator.fact.text(), timeout=5_000)
        if step.target:  # the ring is around the control the caption talks about
            qtbot.waitUntil(lambda: demo.highlight.isVisible(), timeout=5_000)
            assert demo.highlight.target.isVisible()
        _press_next(qtbot, window)
        assert narrator.problem_text() == "", narrator.problem_text()
    assert not demo.active and not narrator.isVisible()
    assert dialog_log.shown == [], dialog_log.shown
    run = window.current_run
    assert run is not None and run.parent == window.runs_dir


def test_back_next_and_leave_keep_the_run_and_settings(qtbot, window, dialog_log):
    demo = window.demo
    _start(qtbot, window, "without_labels")
    demo.ctx.step_budget = 100_000  # still training when the demo is left
    for _ in range(3):
        _press_next(qtbot, window)
    assert demo.index == 3 and window.tabs.currentWidget() is window.train_tab  # Practice: training started
    qtbot.waitUntil(lambda: demo.ctx.run_dir is not None, timeout=30_000)
    run = demo.ctx.run_dir

    demo.narrator.back_button.click()  # back to the method: shown again, nothing done again
    assert demo.index == 2 and window.tabs.currentWidget() is window.setup_tab
    assert "Training cannot start" not in demo.narrator.status.text()
    _press_next(qtbot, window)
    assert demo.index == 3 and window.session.busy and demo.ctx.run_dir == run
    assert sorted(p.name for p in window.runs_dir.iterdir()) == [run.name]  # one run, not two

    qtbot.mouseClick(demo.narrator.leave_button, Qt.MouseButton.LeftButton)
    assert not demo.active and not demo.narrator.isVisible() and not demo.highlight.isVisible()
    assert window.session.busy and window.current_run == run  # the run goes on in the workbench
    assert "keeps training" in window.statusBar().currentMessage()
    setup = window.setup_tab
    assert setup.data_spec() == "digits" and setup.method.method() == "simclr"
    assert setup.training.value("train.max_steps") == 100_000
    with qtbot.waitSignal(window.session.ended, timeout=30_000):
        window.stop_training()
    assert has_checkpoint(run) and window.current_run == run
    assert dialog_log.shown == []


def test_messages_go_to_the_narrator_not_dialogs(qtbot, window, dialog_log):
    from app import dialogs
    from ssl_core.errors import UserError

    _start(qtbot, window, "fill_in")
    dialogs.show_error(window, UserError("The disk is full."), title="Cannot save")
    assert dialog_log.shown == []
    assert window.demo.narrator.problem_text() == "Cannot save: The disk is full."
    _press_next(qtbot, window)
    assert window.demo.narrator.problem_text() == ""  # a new step starts clean
    window.demo.leave()
    dialogs.show_error(window, UserError("The disk is full."), title="Cannot save")
    assert [title for _, title, *_ in dialog_log.shown] == ["Cannot save"]  # dialogs again, outside a story


def test_a_story_cannot_change_a_training_run_and_says_so(qtbot, window, dialog_log):
    from tests.app.conftest import tiny_training

    tiny_training(window, max_steps=100_000)
    assert window.start_training() is not None
    _start(qtbot, window, "without_labels")
    _press_next(qtbot, window)
    assert "A run is training" in window.demo.narrator.problem_text()
    assert dialog_log.shown == []
    with qtbot.waitSignal(window.session.ended, timeout=30_000):
        window.stop_training()
    window.demo.leave()


def test_presentation_mode_is_full_screen_large_and_thick_and_undone(qtbot, window):
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    _start(qtbot, window, "without_labels")
    demo, app = window.demo, QApplication.instance()
    line = window.train_tab.loss_plot.plot([0, 1, 2], [3, 2, 1], pen=pg.mkPen("#ff0000", width=1))
    font_size, label_size = app.font().pointSizeF(), window.train_tab.status.font().pointSizeF()
    stop_keys = window.actions["stop"].shortcuts()
    demo.narrator.presentation.setChecked(True)
    assert window.isFullScreen() and app.font().pointSizeF() > font_size * 1.2
    assert window.train_tab.status.font().pointSizeF() > label_size * 1.2  # the workbench's own text too
    assert demo.narrator.scale > 1 and window.actions["stop"].shortcuts() == []  # Esc ends full screen only
    demo.presentation.restyle()
    assert line.opts["pen"].widthF() >= 4
    demo._escape.activated.emit()
    assert not demo.narrator.presentation.isChecked() and not window.isFullScreen()
    assert app.font().pointSizeF() == font_size and line.opts["pen"].widthF() == 1
    assert window.train_tab.status.font().pointSizeF() == label_size
    assert window.actions["stop"].shortcuts() == stop_keys
    demo.narrator.presentation.setChecked(True)
    demo.leave()  # leaving ends presentation mode too
    assert not window.isFullScreen() and app.font().pointSizeF() == font_size


def test_demo_menu_and_setup_invitation(qtbot, window):
    menu = window.menus["demo"]
    titles = [a.text() for a in menu.actions() if a.text()]
    assert titles[: len(STORIES)] == [f"{s.title}…" for s in STORIES.values()]
    start = window.setup_tab.findChild(QPushButton, "demo_banner_start")
    assert start is not None and start.isVisible()
    qtbot.mouseClick(start, Qt.MouseButton.LeftButton)
    assert window.demo.active and window.demo.story.key == "without_labels"
    window.demo.leave()
    hide = window.setup_tab.findChild(QToolButton, "demo_banner_hide")
    qtbot.mouseClick(hide, Qt.MouseButton.LeftButton)
    assert not start.isVisible() and window.prefs.get("demo/banner_hidden") is True


def test_next_keeps_the_keyboard_focus_so_keys_never_change_a_setting(qtbot, window):
    window.activateWindow()
    demo = window.demo
    _start(qtbot, window, "without_labels")
    narrator = demo.narrator
    qtbot.waitUntil(lambda: narrator.next_button.hasFocus(), timeout=5_000)
    narrator.set_waiting("Training…", ready=False)  # while Next waits, no other button takes the focus
    assert not narrator.leave_button.hasFocus() and not narrator.next_button.isEnabled()
    narrator.set_waiting("", ready=True)
    assert narrator.next_button.hasFocus()
    demo.leave()


def test_data_that_does_not_open_is_told_in_the_narrator(qtbot, window, dialog_log, monkeypatch):
    import dataclasses

    from app.demo import controller
    from app.demo.moves import ChooseData

    story = STORIES["motion"]
    steps = list(story.steps)
    steps[1] = dataclasses.replace(steps[1], enter=(ChooseData("series:NoSuchMotions"),))
    monkeypatch.setitem(controller.STORIES, "motion", dataclasses.replace(story, steps=tuple(steps)))
    _start(qtbot, window, "motion")
    _press_next(qtbot, window)
    narrator = window.demo.narrator
    qtbot.waitUntil(lambda: "did not open" in narrator.status.text(), timeout=30_000)
    assert "NoSuchMotions" in narrator.problem_text() and not narrator.next_button.isEnabled()
    assert dialog_log.shown == []
    window.demo.leave()
