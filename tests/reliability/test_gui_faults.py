"""Faults a person causes in the desktop app: double-clicking Start, quitting while UMAP runs, changing
the data while a probe runs, and opening a run whose files were deleted underneath the app.

The app runs offscreen (pytest-qt) with the fixtures of tests/app; dialogs are captured, not shown.
Every case checks the same rules as the rest of the suite: nothing crashes, nothing hangs, no Qt
warning, and what the user is told names the run and says what to do.
"""

# ruff: noqa: F811 - the fixtures imported from tests/app/conftest.py are test arguments below

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolButton

from tests.app.conftest import (  # noqa: F401 - fixtures are found by name
    _theme,
    close_window,
    copied_run,
    dialog_log,
    make_window,
    runs_dir,
    settings_path,
    tiny_training,
    trained_run,
    window,
)

GROUP = "GUI faults"
pytestmark = pytest.mark.timeout(180)

# The offscreen platform's own notice, not a problem of the app.
BENIGN_QT = ("This plugin does not support propagateSizeHints()",)


def qt_warnings(qtlog) -> list[str]:
    from PySide6.QtCore import QtMsgType

    bad = (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg)
    return [r.message for r in qtlog.records if r.type in bad and not r.message.startswith(BENIGN_QT)]


def run_dirs(runs: Path) -> list[Path]:
    return sorted(p for p in runs.iterdir() if (p / "config.toml").is_file())


def wait_idle(qtbot, win, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: not win.runner.running(), timeout=timeout)


# ---- double-clicking Start ---------------------------------------------------------------------
def test_double_clicking_start_starts_exactly_one_run(qtbot, window, runs_dir, dialog_log, qtlog, case):
    case.describe(
        "Start double-clicked on the Train tab, then pressed again with Ctrl+R and from Setup while the "
        "first run is starting",
        "exactly one run starts and finishes; the extra presses are ignored without a dialog",
    )
    tiny_training(window, "simclr", max_steps=4, batch_size=128)
    started = []
    window.session.run_started.connect(started.append)
    window.tabs.setCurrentWidget(window.train_tab)
    button = window.train_tab.findChild(QToolButton, "start_button")
    with qtbot.waitSignal(window.session.ended, timeout=90_000):
        qtbot.mouseDClick(button, Qt.MouseButton.LeftButton)
        window.actions["start"].trigger()
        assert window.start_training() is None  # refused while the first one runs
    wait_idle(qtbot, window)
    runs = run_dirs(runs_dir)
    assert len(started) == 1 and len(runs) == 1, (started, runs)
    assert window.train_tab.loss_curves.point_count("loss") == 4
    assert dialog_log.shown == []
    assert qt_warnings(qtlog) == []
    case.observe(f"{len(started)} run started, {len(runs)} run folder, no dialog, no Qt warning")


def test_double_clicking_resume_resumes_once(qtbot, window, copied_run, dialog_log, qtlog, case):
    case.describe(
        "Resume pressed twice quickly on a finished run in the Runs tab",
        "the run continues once: one training job, the curve continues from the saved step",
    )
    runs = window.runs_tab
    runs.refresh()
    runs.select_run(copied_run)
    started = []
    window.session.run_started.connect(started.append)
    with qtbot.waitSignal(window.session.ended, timeout=90_000):
        runs.buttons["resume"].click()
        runs.buttons["resume"].click()
    wait_idle(qtbot, window)
    assert len(started) == 1, started
    assert started[0].start_step == 6 and started[0].run_dir == copied_run
    assert dialog_log.shown == []
    assert qt_warnings(qtlog) == []
    case.observe(f"{len(started)} resume from step {started[0].start_step}, no dialog")


# ---- closing during UMAP -----------------------------------------------------------------------
def test_closing_during_umap_asks_cancels_and_exits(
    qtbot, settings_path, runs_dir, copied_run, dialog_log, qtlog, case, monkeypatch
):
    import ssl_core.eval.projection as projection

    # The fast path's 60 epochs on 1,797 points take ~0.1 s: the map would finish before the close.
    monkeypatch.setattr(projection, "FAST_EPOCHS", 3000)
    case.describe(
        "the window is closed while UMAP runs: first answering No, then Yes",
        "No: nothing changes; Yes: UMAP is cancelled and the window closes within ~3 s, no job left, "
        "no Qt warning",
    )
    win = make_window(qtbot, settings_path, runs_dir)
    emb = win.embeddings_tab
    emb.projection.setCurrentIndex(emb.projection.findData("umap"))
    win.open_run(copied_run)
    win.tabs.setCurrentWidget(emb)  # computes the embeddings, then starts UMAP
    qtbot.waitUntil(lambda: emb.umap_worker is not None, timeout=60_000)
    worker = emb.umap_worker
    messages: list[str] = []
    worker.progress.connect(lambda f, m: messages.append(m))
    qtbot.waitUntil(lambda: any("epoch" in m for m in messages), timeout=120_000)

    dialog_log.answer = False
    win.close()
    assert win.isVisible() and win.runner.running("umap")
    title, question = dialog_log.questions[-1]
    assert "UMAP" in question and "Cancel and quit" in question

    dialog_log.answer = True
    aborted = []
    worker.aborted.connect(lambda: aborted.append(True))
    pressed = time.perf_counter()
    win.close()
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=30_000)
    took = time.perf_counter() - pressed
    assert aborted, "UMAP was cancelled, not left to finish"
    assert not win.runner.running()
    assert took < 3.0, f"closing took {took:.1f} s"
    assert not list((copied_run / "eval").glob("projection-umap-*.npy"))  # nothing half-written
    assert [k for k in dialog_log.kinds() if k != "info"] == []
    warnings = qt_warnings(qtlog)
    assert warnings == [], warnings
    case.observe(f"No kept it running; Yes: cancelled and closed in {took:.2f} s, no Qt warning")


# ---- changing data during a probe ---------------------------------------------------------------
@pytest.fixture
def other_data(tmp_path) -> str:
    rng = np.random.default_rng(0)
    path = tmp_path / "other.npz"
    np.savez(path, images=rng.integers(0, 256, (40, 8, 8), dtype=np.uint8), labels=np.arange(40) % 4)
    return f"npz:{path}"


class HeldProbe:
    """Stands in for the Evaluate tab's job: a real (small) evaluation that finishes only when released,
    and ignores Cancel, like a probe that was just finishing when the user acted."""

    def __init__(self):
        self.release = threading.Event()
        self.entered = threading.Event()

    def __call__(self, run_dir, progress=None, cancel=None):
        from ssl_core.eval import evaluate_run

        self.entered.set()
        assert self.release.wait(60)
        return evaluate_run(run_dir, fractions=(0.1, 1.0), seeds=(0,), include_baselines=False).to_dict()


def test_changing_data_during_a_probe(
    qtbot, window, copied_run, other_data, dialog_log, monkeypatch, qtlog, case, tmp_path
):
    case.describe(
        "while a linear probe of a digits run runs, an .npz file is opened in Setup",
        "the probe finishes; its result is shown for the run it measured, labelled with that run and its "
        "data and saying it is not for the new data; no crash, no dialog",
    )
    import app.tabs.evaluate_tab as evaluate_tab

    held = HeldProbe()
    monkeypatch.setattr(evaluate_tab, "run_evaluation", held)
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        window.open_run(copied_run)
    ev = window.evaluate_tab
    window.tabs.setCurrentWidget(ev)
    assert ev.evaluate() is not None
    assert held.entered.wait(10)

    with qtbot.waitSignal(window.setup_tab.data.loaded, timeout=30_000):
        window.setup_tab.data.open_spec(other_data)
    assert window.setup_tab.data.spec() == other_data
    with qtbot.waitSignal(ev.evaluated, timeout=60_000):
        held.release.set()
    qtbot.waitUntil(lambda: not ev.busy)
    caption = ev.run_caption.text()
    assert ev.run_dir == copied_run and ev.view is not None
    assert ev.view.raw["run_dir"] == str(copied_run) and ev.view.raw["data"] == "digits"
    assert copied_run.name in caption and "on digits" in caption
    assert "not for" in caption and other_data in caption
    assert dialog_log.shown == []
    assert qt_warnings(qtlog) == []
    case.observe(f"result shown for its own run; caption: {anonymous(_plain(caption), copied_run, tmp_path)}")


def test_opening_another_run_during_a_probe(
    qtbot, window, copied_run, runs_dir, dialog_log, monkeypatch, qtlog, case
):
    case.describe(
        "while run A is being probed, run B is opened; A's probe then finishes anyway",
        "B is shown without A's numbers (stale results are dropped); A's results are saved with A and come "
        "back when A is reopened",
    )
    import app.tabs.evaluate_tab as evaluate_tab

    other = runs_dir / f"{copied_run.name}-copy"
    shutil.copytree(copied_run, other)
    shutil.rmtree(other / "eval", ignore_errors=True)
    held = HeldProbe()
    monkeypatch.setattr(evaluate_tab, "run_evaluation", held)
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        window.open_run(copied_run)
    ev = window.evaluate_tab
    ev.evaluate()
    assert held.entered.wait(10)
    window.open_run(other)  # cancels A's probe, which ignores it and finishes
    held.release.set()
    wait_idle(qtbot, window)
    assert ev.run_dir == other and ev.view is None, "A's result must not be drawn under B"
    assert other.name in ev.run_caption.text()
    assert "Press Evaluate" in ev.headline.text()
    assert (copied_run / "eval" / "report.json").is_file()
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        window.open_run(copied_run)
    assert ev.view is not None and ev.view.raw["run_dir"] == str(copied_run)
    assert dialog_log.shown == []
    assert qt_warnings(qtlog) == []
    case.observe("B shown with no results; A's report saved and shown on reopening A; no dialog")


# ---- a run deleted underneath the app -----------------------------------------------------------
def test_opening_a_deleted_run(qtbot, window, copied_run, trained_run, runs_dir, dialog_log, qtlog, case):
    case.describe(
        "a run listed in the Runs tab is deleted outside the app, then opened from the list",
        "a dialog names the run and says what to do; the list is refreshed; the app stays usable "
        "(another run opens, training can start)",
    )
    runs = window.runs_tab
    runs.refresh()
    assert runs.table.rowCount() == 1
    runs.select_run(copied_run)
    shutil.rmtree(copied_run)
    runs.buttons["open"].click()
    kind, title, message, _ = dialog_log.shown[-1]
    assert kind == "user" and title == "Cannot open this run"
    assert copied_run.name in message and "deleted or moved" in message and "Choose runs folder" in message
    assert runs.table.rowCount() == 0
    assert window.current_run is None

    survivor = runs_dir / "survivor"
    shutil.copytree(trained_run, survivor)
    window.tabs.setCurrentWidget(runs)  # showing the tab reads the folder again
    assert runs.table.rowCount() == 1
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        assert window.open_run(survivor) is not None
    assert window.current_run == survivor
    assert window.actions["start"].isEnabled() and window.isEnabled()
    assert len(dialog_log.shown) == 1
    assert qt_warnings(qtlog) == []
    case.observe(
        f"{kind} dialog '{title}': {anonymous(message, copied_run, copied_run.parent)}; list refreshed"
    )


def test_a_run_deleted_while_open(qtbot, window, copied_run, dialog_log, qtlog, case):
    case.describe(
        "an open run's folder is deleted, then Evaluate, Compute embeddings and Resume are pressed",
        "each says the run is gone and what to do (no traceback dialog); the run is closed in the app "
        "and the Runs list refreshed",
    )
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        window.open_run(copied_run)
    emb, ev = window.embeddings_tab, window.evaluate_tab
    window.runs_tab.refresh()
    assert window.runs_tab.table.rowCount() == 1
    shutil.rmtree(copied_run)

    assert ev.button.isEnabled()
    ev.button.click()
    wait_idle(qtbot, window)
    assert [(k, t) for k, t, *_ in dialog_log.shown] == [("user", "Cannot evaluate")], dialog_log.shown
    assert copied_run.name in dialog_log.shown[-1][2] and "Runs list" in dialog_log.shown[-1][2]
    assert window.current_run is None and emb.run_dir is None and ev.run_dir is None
    assert window.runs_tab.table.rowCount() == 0

    assert emb.compute(copied_run, force=True) is not None  # e.g. a request made just before
    wait_idle(qtbot, window)
    assert dialog_log.shown[-1][:2] == ("user", "Cannot compute embeddings")
    assert emb.run_dir is None

    assert window.resume_run(copied_run) is None
    assert dialog_log.shown[-1][:2] == ("user", "Cannot resume this run")
    assert [k for k, *_ in dialog_log.shown] == ["user"] * 3  # advice, never a bug report
    assert not window.session.busy and window.actions["start"].isEnabled()
    assert qt_warnings(qtlog) == []
    case.observe("Evaluate, Compute embeddings and Resume each gave one 'run is gone' advice dialog")


def test_a_run_without_its_checkpoint(qtbot, window, copied_run, dialog_log, qtlog, case):
    case.describe(
        "a run whose checkpoints/last.pt was deleted is opened",
        "its settings and curves open; Embeddings and Evaluate say there is no checkpoint and how to get "
        "one, with their buttons disabled; no dialog",
    )
    (copied_run / "checkpoints" / "last.pt").unlink()
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        window.open_run(copied_run)
    assert window.current_run == copied_run
    assert window.train_tab.loss_curves.point_count("loss") == 6
    emb, ev = window.embeddings_tab, window.evaluate_tab
    window.tabs.setCurrentWidget(emb)
    assert not emb.compute_button.isEnabled() and not ev.button.isEnabled()
    assert "no checkpoint" in emb.scatter.placeholder.textItem.toPlainText()
    assert "no checkpoint" in ev.headline.text() and "resume" in ev.headline.text()
    assert dialog_log.shown == []
    assert qt_warnings(qtlog) == []
    case.observe("opened with curves; Embeddings and Evaluate explain the missing checkpoint")


def anonymous(text: str, run_dir: Path, tmp: Path) -> str:
    """The text with the run's timestamped name and the temporary folder replaced (a stable report)."""
    return text.replace(str(tmp), "TMP").replace(run_dir.name, "RUN")


def _plain(html_text: str) -> str:
    import re

    return re.sub(r"<[^>]+>", "", html_text)
