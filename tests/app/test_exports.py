"""Exports from the GUI (issue 15): loss curves, the runs comparison and evaluation results as CSV and
PNG/SVG, the evaluation report as JSON; files that reload with the numbers shown, normal permissions,
save dialogs that start in the home or last-used folder (never the working directory), a dialog naming
the file when it cannot be written; and an Evaluate tab that fits a 1024x700 window."""

from __future__ import annotations

import csv
import errno
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QFileDialog, QMainWindow, QWidget

from app import exports
from app.settings import Prefs, last_export_dir
from app.widgets.curves import CurveSet, make_plot
from app.workers import JobRunner

FRACTIONS = (0.01, 0.1, 1.0)
USED = (10, 143, 1438)
SEEDS = [0, 1, 2]


@pytest.fixture(autouse=True)
def _captured_dialogs(dialog_log):
    """A dialog shown by mistake is recorded, not left open waiting for a click."""
    return dialog_log


def _rows(means):
    rows = []
    for f, n, m in zip(FRACTIONS, USED, means, strict=True):
        values = [m] if f >= 1.0 else [m - 0.02, m, m + 0.02]
        spread = 0.0 if f >= 1.0 else 0.0163
        rows.append(
            {
                "fraction": f,
                "labels_used": n,
                "runs": len(values),
                "probe": {"mean": m, "std": spread, "values": values},
                "knn": {"mean": m - 0.03, "std": spread, "values": [v - 0.03 for v in values]},
            }
        )
    return rows


def _feature(name, title, means):
    return {
        "name": name,
        "title": title,
        "dim": 8,
        "probe": {"accuracy": means[-1], "confusion": [[5, 1], [0, 6]], "per_class_accuracy": [0.8, 1.0]},
        "knn": {"accuracy": means[-1] - 0.03},
        "label_efficiency": {"rows": _rows(means)},
    }


@pytest.fixture
def report() -> dict:
    return {
        "fractions": list(FRACTIONS),
        "seeds": SEEDS,
        "k": 20,
        "n_train": 1438,
        "samples": "images",
        "class_names": ["zero", "one"],
        "features": {
            "pretrained": _feature("pretrained", "pretrained", (0.65, 0.9, 0.986)),
            "random_init": _feature("random_init", "random init", (0.43, 0.88, 0.985)),
            "raw_input": _feature("raw_input", "raw pixels", (0.49, 0.91, 0.984)),
        },
    }


@pytest.fixture
def evaluate_tab(qtbot, report):
    from app.tabs.evaluate_tab import EvaluateTab

    tab = EvaluateTab(JobRunner())
    qtbot.addWidget(tab)
    tab.resize(1000, 560)
    tab.show()
    tab.show_report(report)
    return tab


@pytest.fixture
def train_curves(qtbot):
    """What export_training_curves reads of the Train tab: its curve sets and their plots."""
    loss_plot, lr_plot = make_plot("Loss", "loss"), make_plot("Learning rate", "lr")
    for plot in (loss_plot, lr_plot):
        qtbot.addWidget(plot)
        plot.resize(500, 260)
    loss, lr = CurveSet(loss_plot), CurveSet(lr_plot, smoothing=0.0, legend=False)
    steps = list(range(1, 41))
    loss.extend("loss", steps, [2.0 / s**0.5 for s in steps])
    loss.extend("loss/align", steps[::2], [1.0 / s for s in steps[::2]])
    lr.extend("learning rate", steps, [1e-3] * len(steps))
    for c in (loss, lr):
        c.refresh()
    return SimpleNamespace(loss_curves=loss, lr_curves=lr, loss_plot=loss_plot, lr_plot=lr_plot)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _check_figure(path: Path) -> None:
    assert path.stat().st_size > 0
    if path.suffix == ".png":
        image = QImage(str(path))
        assert not image.isNull() and image.width() > 0 and image.height() > 0
    else:
        root = ET.parse(path).getroot()
        assert root.tag.endswith("svg")
        assert len(list(root.iter())) > 10  # drawn content, not an empty document


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


# ---- files that reload -----------------------------------------------------------------------------
def test_training_curves_export_as_csv_with_raw_and_smoothed_values(qtbot, train_curves, tmp_path):
    out = exports.export_training_curves(None, train_curves, "csv", path=str(tmp_path / "curves.csv"))
    rows = _read_csv(out)
    assert list(rows[0]) == exports.CURVE_HEADER
    loss = [r for r in rows if r["series"] == "loss"]
    smooth = train_curves.loss_curves.smooth["loss"].y
    assert [int(r["step"]) for r in loss] == list(range(1, 41))
    assert [float(r["raw"]) for r in loss] == pytest.approx([2.0 / s**0.5 for s in range(1, 41)])
    assert [float(r["smoothed"]) for r in loss] == pytest.approx(list(smooth))
    assert len([r for r in rows if r["series"] == "loss/align"]) == 20
    assert {float(r["raw"]) for r in rows if r["series"] == "learning rate"} == {1e-3}


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_training_curves_export_as_a_figure(qtbot, train_curves, tmp_path, fmt):
    out = exports.export_training_curves(None, train_curves, fmt, path=str(tmp_path / f"curves.{fmt}"))
    _check_figure(out)
    if fmt == "png":  # both plots, stacked, at twice the screen resolution
        image = QImage(str(out))
        assert image.height() >= 2 * 2 * 240 and image.width() >= 2 * 500


def test_runs_comparison_exports_what_it_plots(qtbot, tmp_path):
    from app.tabs.runs_tab import RunsTab

    tab = RunsTab(JobRunner())
    qtbot.addWidget(tab)
    tab.resize(900, 500)
    tab.show()
    steps = list(range(0, 50, 5))
    tab.show_curves({"run-a": (steps, [1.0 / (1 + s) for s in steps]), "run-b": (steps, [0.5] * len(steps))})
    out = exports.export_runs_comparison(None, tab, "csv", path=str(tmp_path / "compare.csv"))
    rows = _read_csv(out)
    assert list(rows[0])[:2] == ["run", "step"]
    plotted = {item.name(): item for item in tab.compare_plot.getPlotItem().listDataItems()}
    for name in ("run-a", "run-b"):
        mine = [r for r in rows if r["run"] == name]
        assert [int(r["step"]) for r in mine] == steps
        values = [float(list(r.values())[2]) for r in mine]
        assert values == pytest.approx(list(plotted[name].yData))
    for fmt in ("png", "svg"):
        _check_figure(exports.export_runs_comparison(None, tab, fmt, path=str(tmp_path / f"c.{fmt}")))


def test_evaluation_results_export_as_csv_with_every_seed(evaluate_tab, report, tmp_path):
    out = evaluate_tab.export("csv", tmp_path / "eval.csv")
    rows = _read_csv(out)
    assert len(rows) == 3 * 2 * 3  # feature sets x classifiers x fractions
    first = rows[0]
    assert list(first) == [
        "feature_set",
        "features",
        "classifier",
        "fraction",
        "labelled",
        "mean_accuracy_percent",
        "std_percent",
        "seed_0_percent",
        "seed_1_percent",
        "seed_2_percent",
    ]
    view = evaluate_tab.view
    for r in rows:
        kind = "probe" if r["classifier"] == "linear probe" else "knn"
        i = FRACTIONS.index(float(r["fraction"]))
        means, stds = view.series[r["feature_set"]][kind]
        assert float(r["mean_accuracy_percent"]) == pytest.approx(100 * means[i])  # as the chart shows it
        assert float(r["std_percent"]) == pytest.approx(100 * stds[i])
        assert int(r["labelled"]) == USED[i]
        assert r["features"] == view.title(r["feature_set"])
        seeds = [r[f"seed_{s}_percent"] for s in SEEDS]
        stat = report["features"][r["feature_set"]]["label_efficiency"]["rows"][i][kind]
        assert [float(v) for v in seeds if v] == pytest.approx([100 * v for v in stat["values"]])
    probe_pretrained = [
        r for r in rows if r["feature_set"] == "pretrained" and r["classifier"] == "linear probe"
    ]
    assert probe_pretrained[0]["seed_2_percent"] and not probe_pretrained[-1]["seed_2_percent"]  # 100%: one


def test_evaluation_report_exports_as_json_equal_to_the_report(evaluate_tab, report, tmp_path):
    out = evaluate_tab.export("json", tmp_path / "report.json")
    assert json.loads(out.read_text(encoding="utf-8")) == report
    assert "\n  " in out.read_text(encoding="utf-8")  # pretty-printed


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_evaluation_charts_export_with_their_legend(evaluate_tab, tmp_path, fmt):
    out = evaluate_tab.export(fmt, tmp_path / f"charts.{fmt}")
    _check_figure(out)
    if fmt == "svg":
        text = out.read_text(encoding="utf-8")
        for words in ("Linear probe", "k-nearest neighbours", "Self-supervised (this run)"):
            assert words in text  # both charts and the legend above them


def test_the_evaluate_export_button_waits_for_results(qtbot, dialog_log):
    from app.tabs.evaluate_tab import EvaluateTab

    tab = EvaluateTab(JobRunner())
    qtbot.addWidget(tab)
    assert not tab.export_button.isEnabled()
    assert "Nothing to export" in tab.export_button.toolTip()
    assert tab.export("csv") is None
    assert dialog_log.shown[-1][1] == "Nothing to export"


# ---- permissions -----------------------------------------------------------------------------------
def test_exported_files_get_normal_permissions(evaluate_tab, train_curves, tmp_path):
    old = os.umask(0o022)
    try:
        private = tmp_path / "report.json"
        private.write_text("{}")
        private.chmod(0o600)  # an older file of the same name, private: the export is not
        written = [
            evaluate_tab.export("json", private),
            evaluate_tab.export("csv", tmp_path / "eval.csv"),
            evaluate_tab.export("png", tmp_path / "eval.png"),
            evaluate_tab.export("svg", tmp_path / "eval.svg"),
            exports.export_training_curves(None, train_curves, "csv", path=str(tmp_path / "curves.csv")),
        ]
        assert [_mode(p) for p in written] == [0o644] * len(written)
        os.umask(0o077)  # a user who keeps their files private gets what they asked for
        assert _mode(evaluate_tab.export("csv", tmp_path / "private.csv")) == 0o600
    finally:
        os.umask(old)
    assert not list(tmp_path.glob(".*"))  # no temporary (hidden) files left behind


def test_embed_map_files_follow_the_umask(tmp_path):
    from ssl_core.file_modes import give_normal_mode, normal_file_mode

    old = os.umask(0o027)
    try:
        assert normal_file_mode() == 0o640
        path = tmp_path / "map.png"
        path.write_bytes(b"x")
        path.chmod(0o600)
        give_normal_mode(path)
        assert _mode(path) == 0o640
    finally:
        os.umask(old)


# ---- where the dialog starts -----------------------------------------------------------------------
@pytest.fixture
def save_dialog(monkeypatch):
    """Replaces the save dialog: records the folder it would open in, answers with `answers`."""
    calls: list[str] = []
    answers: list[str] = []

    def get_save_file_name(parent, title, start, file_filter):
        calls.append(start)
        return (answers.pop(0) if answers else "", file_filter)

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(get_save_file_name))
    return SimpleNamespace(calls=calls, answers=answers)


def test_save_dialogs_start_at_home_then_in_the_last_used_folder(
    qtbot, report, save_dialog, settings_path, tmp_path, monkeypatch
):
    from app.tabs.evaluate_tab import EvaluateTab

    cwd = tmp_path / "working-directory"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(exports, "_session_dir", None)
    window = QMainWindow()  # the app's window keeps the preferences; the tab finds them through it
    qtbot.addWidget(window)
    window.prefs = Prefs.open(settings_path)
    evaluate_tab = EvaluateTab(JobRunner())
    window.setCentralWidget(evaluate_tab)
    window.resize(1000, 600)
    window.show()
    evaluate_tab.show_report(report)

    assert evaluate_tab.export("csv") is None  # cancelled: nothing written, nothing remembered
    assert Path(save_dialog.calls[0]).parent == Path.home()
    assert Path(save_dialog.calls[0]).name.endswith("evaluation.csv")

    chosen = tmp_path / "exports"
    chosen.mkdir()
    save_dialog.answers.append(str(chosen / "mine"))  # typed without a suffix
    out = evaluate_tab.export("json")
    assert out == chosen / "mine.json" and out.is_file()
    assert last_export_dir(Prefs.open(settings_path)) == chosen  # remembered for the next session

    save_dialog.answers.append(str(chosen / "charts.png"))
    evaluate_tab.export("png")
    assert Path(save_dialog.calls[-1]).parent == chosen
    assert not any(Path(c).parent == cwd for c in save_dialog.calls)


def test_embeddings_and_anomalies_dialogs_do_not_start_in_the_working_directory(
    qtbot, save_dialog, tmp_path, monkeypatch
):
    from app.tabs.anomalies_tab import AnomaliesTab
    from app.tabs.embeddings_tab import EmbeddingsTab

    cwd = tmp_path / "working-directory"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(exports, "_session_dir", None)
    embeddings = EmbeddingsTab(JobRunner())
    qtbot.addWidget(embeddings)
    embeddings.result = SimpleNamespace()  # something shown; the dialog is cancelled before it is read
    embeddings.export_plot("png")
    anomalies = AnomaliesTab(JobRunner())
    qtbot.addWidget(anomalies)
    anomalies.view = SimpleNamespace(run_dir=tmp_path / "run-1")
    anomalies.export_flagged()
    assert [Path(c).parent for c in save_dialog.calls] == [Path.home(), Path.home()]
    assert Path(save_dialog.calls[1]).name == "run-1-flagged.csv"


# ---- failures --------------------------------------------------------------------------------------
def test_an_unwritable_target_is_a_dialog_naming_the_file(evaluate_tab, dialog_log, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    target = blocker / "eval.csv"
    assert evaluate_tab.export("csv", target) is None
    kind, title, message, _ = dialog_log.shown[-1]
    assert kind == "user" and title == "Cannot export the evaluation results"
    assert str(target) in message and "try again" in message  # which file, and what to do


def test_a_full_disk_is_a_dialog_saying_so(evaluate_tab, dialog_log, tmp_path, monkeypatch):
    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)  # the atomic write's rename
    target = tmp_path / "report.json"
    assert evaluate_tab.export("json", target) is None
    kind, _, message, details = dialog_log.shown[-1]
    assert kind == "user" and not details  # advice, not a traceback
    assert str(target) in message and "disk is full" in message and "Free some disk space" in message
    assert not target.exists() and not list(tmp_path.glob(".*"))


# ---- the Evaluate tab at 1024x700 ------------------------------------------------------------------
def _text_rect(text_item):
    """Where a text item's text is: its bounding rect less the blank margin of its document."""
    margin = text_item.document().documentMargin()
    return text_item.sceneBoundingRect().adjusted(margin, margin, -margin, -margin)


def _drawn_ticks(axis) -> list[str]:
    """The tick texts an axis draws (pyqtgraph leaves out those that would not fit)."""
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [text for _, _, text in specs[2]]


def _in_window(widget: QWidget):
    top_left = widget.mapTo(widget.window(), widget.rect().topLeft())
    return widget.rect().translated(top_left)


def test_the_evaluate_tab_fits_a_1024x700_window_without_overlaps(qtbot, window, report):
    tab = window.evaluate_tab
    window.tabs.setCurrentWidget(tab)
    tab.show_report(report)  # the longest headline: verdict, all-label figures and the error bars
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.height() <= 700 and tab.height() > 0, timeout=3000)
    qtbot.wait(50)
    chrome = window.height() - tab.height()
    assert tab.minimumSizeHint().height() <= 700 - chrome
    assert tab.minimumSizeHint().width() <= 1024
    assert window.height() == 700  # the tab does not force the window taller
    probe, knn = tab.probe_chart, tab.knn_chart
    assert not _in_window(probe).intersects(_in_window(knn))
    for chart in (probe, knn):
        # the whole plot (title, axes, axis labels) is inside the chart's view, none cut off or spilling
        visible = chart.mapToScene(chart.viewport().rect()).boundingRect().adjusted(-1, -1, 1, 1)
        item = chart.getPlotItem()
        for part in (item.titleLabel.item, item.getAxis("bottom").label, item.getAxis("left").label):
            assert visible.contains(_text_rect(part)), (chart.objectName(), part.toPlainText())
        axis = item.getAxis("bottom")
        label = _text_rect(axis.label)
        assert label.top() >= item.vb.sceneBoundingRect().bottom()  # below the data
        assert axis.sceneBoundingRect().left() <= label.left() and label.right() <= visible.right()
        assert _drawn_ticks(axis) == ["1% (10)", "10% (143)", "100% (1,438)"]  # none dropped for room
    assert tab.confusion.width() >= tab.confusion.fontMetrics().horizontalAdvance(tab.confusion.title) * 1.2


# ---- File > Export in the window -------------------------------------------------------------------
def _menu(window, *titles):
    menu = window.menuBar()
    for title in titles:
        menu = next(a.menu() for a in menu.actions() if a.menu() and a.text().replace("&", "") == title)
    return menu


def test_file_export_menu_saves_the_open_runs_curves(
    qtbot, window, copied_run, dialog_log, save_dialog, tmp_path
):
    for title, keys in (
        ("Training curves", ["export_curves_csv", "export_curves_png", "export_curves_svg"]),
        ("Runs comparison", ["export_compare_csv", "export_compare_png", "export_compare_svg"]),
        ("Evaluation", ["export_eval_csv", "export_eval_png", "export_eval_svg", "export_eval_json"]),
    ):
        assert _menu(window, "File", "Export", title).actions() == [window.actions[k] for k in keys]

    window.actions["export_compare_csv"].trigger()  # nothing compared yet: said, no dialog to cancel
    assert dialog_log.shown[-1][1] == "Nothing to export" and not save_dialog.calls

    window.open_run(copied_run)
    curves = window.train_tab.loss_curves
    qtbot.waitUntil(lambda: not window.runner.running("history") and bool(curves.names()), timeout=20_000)
    save_dialog.answers.append(str(tmp_path / "curves.csv"))
    window.actions["export_curves_csv"].trigger()
    start = Path(save_dialog.calls[-1])
    assert start.parent == Path.home() and start.name == f"{copied_run.name}-training-curves.csv"
    rows = _read_csv(tmp_path / "curves.csv")
    name = curves.names()[0]
    assert len([r for r in rows if r["series"] == name]) == curves.point_count(name)
    assert [float(r["raw"]) for r in rows if r["series"] == name] == pytest.approx(list(curves.raw[name].y))
    assert _mode(tmp_path / "curves.csv") == 0o666 & ~_umask()
    assert "Saved the training curves" in window.statusBar().currentMessage()

    save_dialog.answers.append(str(tmp_path / "curves.svg"))
    window.actions["export_curves_svg"].trigger()
    assert Path(save_dialog.calls[-1]).parent == tmp_path  # the folder used last time
    _check_figure(tmp_path / "curves.svg")


def _umask() -> int:
    from ssl_core.file_modes import current_umask

    return current_umask()


def test_a_saved_config_and_an_exported_backbone_get_normal_permissions(qtbot, window, copied_run, tmp_path):
    old = os.umask(0o022)
    try:
        config = window.save_config(str(tmp_path / "experiment.toml"))
        assert config is not None and _mode(config) == 0o644
        window.runs_tab.refresh()
        window.runs_tab.select_run(copied_run)
        backbone = window.runs_tab.export_selected(str(tmp_path / "backbone.pt"))
        assert backbone is not None and _mode(backbone) == 0o644
    finally:
        os.umask(old)


def test_saving_a_config_where_it_cannot_be_written_says_so(qtbot, window, dialog_log, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    target = blocker / "experiment.toml"
    assert window.save_config(str(target)) is None
    kind, title, message, _ = dialog_log.shown[-1]
    assert kind == "user" and title == "Cannot save these settings"
    assert str(target) in message and "Choose a folder" in message
    assert message.count(str(target)) == 1  # said once, with the system's reason ("File exists")
    assert "File exists" in message
