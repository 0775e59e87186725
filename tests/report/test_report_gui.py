"""File > Export > Run report (HTML)… and the Runs tab's Report… button: the report is made in a worker
(the GUI stays responsive), can be cancelled, and lands as one valid HTML file."""

import shutil

import pytest
from PySide6.QtWidgets import QFileDialog

from tests.app.conftest import _theme, dialog_log, make_window, runs_dir, settings_path, window  # noqa: F401
from tests.report.conftest import check_html

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def two_runs(tiny_runs, runs_dir):
    copies = []
    for run in tiny_runs:
        target = runs_dir / run.name
        shutil.copytree(run, target)
        copies.append(target)
    return copies


def _wait_for_report(qtbot, window, worker, timeout=60_000):
    assert worker is not None
    qtbot.waitUntil(lambda: not window.runner.running("report"), timeout=timeout)


def test_export_menu_writes_the_open_runs_report(qtbot, window, two_runs, dialog_log, tmp_path):
    action = window.actions["export_report"]
    assert action in window.menus["export"].actions() and action.text() == "Run report (HTML)…"
    window.open_run(two_runs[0])
    out = tmp_path / "mine.html"
    worker = window.reporter.export_current(out)
    assert window.runner.running("report")  # made in a worker, not on the GUI thread
    _wait_for_report(qtbot, window, worker)
    assert window.reporter.last_path == out
    parsed = check_html(out.read_text(encoding="utf-8"))
    assert "probe-all" in parsed.data_keys
    assert ("info", "Run report saved") in [(k, t) for k, t, *_ in dialog_log.shown]
    assert str(out) in window.statusBar().currentMessage()


def test_runs_tab_report_button_compares_two_selected_runs(qtbot, window, two_runs, tmp_path, monkeypatch):
    out = tmp_path / "both"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "HTML report (*.html)"))
    )
    tab = window.runs_tab
    tab.refresh()
    button = tab.buttons["report"]
    tab.table.selectAll()
    assert button.isEnabled()
    with qtbot.waitSignal(window.runner.changed, timeout=10_000):
        button.click()
    qtbot.waitUntil(lambda: not window.runner.running("report"), timeout=60_000)
    written = out.with_name("both.html")  # the suffix is added when the name has none
    text = written.read_text(encoding="utf-8")
    check_html(text)
    assert all(run.name in text for run in two_runs) and 'id="comparison"' in text


def test_nothing_to_report_and_a_cancelled_report(qtbot, window, two_runs, dialog_log, tmp_path):
    assert window.reporter.export_current(tmp_path / "x.html") is None  # no run open
    assert dialog_log.shown[-1][1] == "Nothing to export"
    window.runs_tab.refresh()
    assert window.reporter.export_selected(tmp_path / "x.html") is None  # nothing selected
    assert dialog_log.shown[-1][1] == "Select one or two runs"

    fresh = two_runs[1]
    shutil.rmtree(fresh / "eval", ignore_errors=True)  # no evaluation: a long report
    aborted = []
    worker = window.reporter.export([fresh], tmp_path / "cancelled.html")
    worker.aborted.connect(lambda: aborted.append(True))
    worker.quit()  # what the progress window's Cancel does
    _wait_for_report(qtbot, window, worker)
    assert aborted and not (tmp_path / "cancelled.html").exists()
    assert "cancelled" in window.statusBar().currentMessage()
