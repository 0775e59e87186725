"""Fine-tuning from the Evaluate tab (issue 14), with the real engine on a tiny SimCLR digits run: the job
runs on a worker, its results fill the table and draw lines on the linear probe's chart (also after the
run is opened again), the classifier exports; Cancel stops the job, saves nothing and leaves the tab
ready for the next one; a wrong setting is a dialog naming the field."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from app.widgets.finetune_chart import DODGE
from tests.app.conftest import make_window

# Small enough for a loaded 2-core machine: one seed, a few epochs of the small CNN on 8x8 digits.
QUICK = {"seeds": (0,), "epochs": 3, "patience": 2}


@pytest.fixture
def opened(qtbot, settings_path, runs_dir, copied_run, dialog_log):
    """The main window with the tiny run opened and the Evaluate tab's fine-tuning panel in front."""
    window = make_window(qtbot, settings_path, runs_dir)
    window.open_run(copied_run)
    tab = window.evaluate_tab
    window.tabs.setCurrentWidget(tab)
    tab.show_finetune()
    panel = tab.finetune
    qtbot.waitUntil(lambda: panel.button.isEnabled(), timeout=30_000)  # the run's history read, views made
    panel.defaults = replace(panel.defaults, **QUICK)
    return window, tab, panel


def _line_points(tab) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each fine-tuning line on the probe chart: its title -> (x, y)."""
    lines = {}
    for item in tab.finetune_lines.items:
        if hasattr(item, "getData") and item.name():
            lines[item.name()] = item.getData()
    return lines


def test_finetune_from_evaluate_finishes_draws_the_line_and_exports(
    qtbot, opened, copied_run, dialog_log, tmp_path
):
    from ssl_core.finetune import saved_finetune_results

    window, tab, panel = opened
    assert panel.table.rowCount() == 0 and not tab.finetune_legend.isVisible()
    assert not panel.export_button.isEnabled()
    panel.form.choose_labels(0.1)
    panel.form.pseudo.setChecked(True)
    with qtbot.waitSignal(panel.finetuned, timeout=240_000) as done:
        qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
        assert panel.busy and panel.cancel_button.isVisible() and not panel.button.isEnabled()
        assert window.evaluate_tab.run_in_use() == copied_run  # the Runs tab must not delete it meanwhile
    report = done.args[0]
    qtbot.waitUntil(lambda: not panel.busy, timeout=10_000)
    assert dialog_log.shown == []
    variants = {r["variant"]: r for r in report["rows"]}
    assert {"fine-tune", "fine-tune (random init)", "linear probe", "pseudo-labels"} <= set(variants)
    for row in variants.values():
        assert 0.0 <= row["accuracy"] <= 1.0
    assert variants["fine-tune"]["accuracy"] > 0.3  # ten classes: well above chance after pretraining

    # the table: one row per variant, the accuracies of the report
    cells = panel.table.cells()
    assert len(cells) == len(report["rows"])
    assert f"{100 * variants['fine-tune']['accuracy']:.1f}%" in " ".join(c[2] for c in cells)
    assert "%" in panel.status.text() and not panel.progress.isVisible()

    # the chart: a fine-tune and a pseudo-label line at 10% (the middle tick), at the report's accuracy
    lines = _line_points(tab)
    assert set(lines) == {"Fine-tuned", "Fine-tuned + pseudo-labels"}
    x, y = lines["Fine-tuned"]
    assert x == pytest.approx([1.0 + DODGE]) and y == pytest.approx([100 * variants["fine-tune"]["accuracy"]])
    assert lines["Fine-tuned + pseudo-labels"][1] == pytest.approx(
        [100 * variants["pseudo-labels"]["accuracy"]]
    )
    assert tab.finetune_legend.isVisible() and tab.finetune_legend.names() == list(lines)
    assert "fine-tuning" in tab.probe_chart.getPlotItem().titleLabel.text

    # stored with the run: opening it again draws the same line
    assert saved_finetune_results(copied_run)
    tab.set_run(None)
    assert tab.finetune_lines.items == [] and panel.table.rowCount() == 0
    tab.set_run(copied_run)
    assert _line_points(tab)["Fine-tuned"][1] == pytest.approx(y)
    assert panel.table.rowCount() == len(report["rows"])

    # the classifier exports (on a worker) and loads as a plain state_dict
    target = tmp_path / "digits-classifier.pt"
    assert panel.export_button.isEnabled()
    with qtbot.waitSignal(panel.exported, timeout=60_000):
        panel.export_classifier(target)
    assert dialog_log.shown == []
    assert target.is_file()
    saved = torch.load(target, weights_only=True)
    assert saved["class_names"] == [str(i) for i in range(10)] and saved["state_dict"]
    assert str(target) in panel.status.text()

    # the fine-tuned run is listed in Runs and opens: the panel names its parent and exports it
    child = Path(report["run_dir"])
    assert child in [r.path for r in window.runs_tab.records]
    assert window.open_run(child) is not None
    qtbot.waitUntil(lambda: not window.runner.running(), timeout=60_000)
    assert dialog_log.shown == []
    assert not panel.button.isEnabled() and copied_run.name in panel.status.text()
    assert panel.exportable() == child and panel.export_button.isEnabled()
    assert tab.finetune_lines.items == []  # its own results are drawn on its parent's chart


def test_cancel_stops_the_finetune_saves_nothing_and_the_tab_goes_on(
    qtbot, opened, copied_run, runs_dir, monkeypatch
):
    from app.tabs import finetune_panel
    from ssl_core.finetune import saved_finetune_results

    window, tab, panel = opened
    before = sorted(p.name for p in runs_dir.iterdir())
    panel.form.choose_labels(2)  # two labelled images per class

    # The real job, held at its first progress report until Cancel was clicked: the click always lands
    # while it runs, however busy the machine (no sleeps, no race with a fast job).
    reached, clicked = threading.Event(), threading.Event()
    real = finetune_panel.run_finetune

    def held(run_dir, settings, progress=None, cancel=None):
        def report(fraction, message):
            progress(fraction, message)
            reached.set()
            clicked.wait(60)

        return real(run_dir, settings, progress=report, cancel=cancel)

    monkeypatch.setattr(finetune_panel, "run_finetune", held)
    qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
    worker = panel.worker
    assert worker is not None
    with qtbot.waitSignals([worker.aborted, worker.finished], timeout=120_000):
        qtbot.waitUntil(reached.is_set, timeout=60_000)
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
        clicked.set()
    qtbot.waitUntil(lambda: not panel.busy, timeout=10_000)
    assert "cancelled" in panel.status.text().lower()
    assert saved_finetune_results(copied_run) == []
    assert sorted(p.name for p in runs_dir.iterdir()) == before  # no half-written fine-tune run
    assert tab.finetune_lines.items == [] and panel.table.rowCount() == 0
    assert not panel.cancel_button.isVisible() and panel.button.isEnabled()
    assert tab.button.isEnabled() and tab.run_in_use() is None

    # the tab goes on: the next fine-tuning runs to the end
    monkeypatch.setattr(finetune_panel, "run_finetune", real)
    panel.defaults = replace(panel.defaults, compare=False, epochs=1)
    with qtbot.waitSignal(panel.finetuned, timeout=180_000):
        qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.busy, timeout=10_000)
    assert list(_line_points(tab)) == ["Fine-tuned"]


def test_a_wrong_setting_is_a_dialog_naming_the_field(qtbot, opened, dialog_log):
    window, tab, panel = opened
    panel.defaults = replace(panel.defaults, patience=0)  # what the form does not show is checked too
    assert panel.start() is None
    kind, title, message, _ = dialog_log.shown[-1]
    assert kind == "user" and "patience" in message and "fine-tune" in title.lower()
    assert not panel.busy

    # a field of the form: its editor is marked as well (a value its spin box would not allow)
    panel.defaults = replace(panel.defaults, patience=2)
    panel.form.pseudo.setChecked(True)
    panel.form.threshold.setMaximum(1.5)
    panel.form.threshold.setValue(1.2)
    assert panel.start() is None
    assert "threshold" in dialog_log.shown[-1][2]
    assert panel.form.threshold.property("invalid") is True and not panel.busy


def _report(means):
    rows = [
        {"fraction": f, "labels_used": n, "runs": 3, "probe": {"mean": m, "std": 0.01}, "knn": {"mean": m}}
        for f, n, m in zip((0.01, 0.1, 1.0), (14, 144, 1437), means, strict=True)
    ]
    feature = {"title": "pretrained", "probe": {"accuracy": means[-1]}, "label_efficiency": {"rows": rows}}
    return {"samples": "images", "n_train": 1437, "fractions": [0.01, 0.1, 1.0], "seeds": [0, 1, 2],
            "features": {"pretrained": feature}}  # fmt: skip


def _saved(variant, fraction, accuracy, setting, n):
    return {"labels": fraction, "labels_setting": setting, "labels_text": str(setting), "variant": variant,
            "accuracy": accuracy, "std": 0.02, "n_labels": n, "values": [accuracy] * 3,
            "run_dir": f"/runs/ft-{n}", "created": f"2026-01-01T00:00:{n % 60:02d}"}  # fmt: skip


def test_stored_results_draw_beside_the_probe_and_the_tab_still_fits_1024x700(qtbot, window):
    """Lines from stored results (no engine job): a share asked for sits on its tick, a count per class
    between the ticks on a log scale; the legend gets a second line and the tab fits a small window."""
    tab = window.evaluate_tab
    window.tabs.setCurrentWidget(tab)
    tab.show_report(_report((0.7, 0.9, 0.98)))
    results = [
        _saved("fine-tune", 0.0097, 0.85, 0.01, 14),
        _saved("fine-tune", 0.0348, 0.9, 5, 50),  # 5 per class: 50 of 1,437 labels
        _saved("fine-tune (random init)", 0.0097, 0.5, 0.01, 14),
        _saved("pseudo-labels", 0.0097, 0.87, 0.01, 14),
    ]
    tab.finetune.results_changed.emit(results)
    lines = _line_points(tab)
    assert list(lines) == ["Fine-tuned", "Fine-tuned + pseudo-labels"]  # random init: only in the table
    x, y = lines["Fine-tuned"]
    assert x - DODGE == pytest.approx([0.0, np.log10(0.0348 / 0.01)]) and y == pytest.approx([85.0, 90.0])
    assert lines["Fine-tuned + pseudo-labels"][0] == pytest.approx([2 * DODGE])  # beside, not on top
    assert tab.finetune_legend.names() == list(lines)

    tab.show_finetune()
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.height() <= 700 and tab.height() > 0, timeout=3000)
    assert window.height() == 700 and window.width() == 1024  # the panel and legend do not force it bigger
    chrome = window.height() - tab.height()
    assert tab.minimumSizeHint().height() <= 700 - chrome and tab.minimumSizeHint().width() <= 1024
    assert tab.finetune_legend.width() >= tab.finetune_legend.sizeHint().width()  # every entry readable
