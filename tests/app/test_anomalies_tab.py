"""The Anomalies tab and its widgets: the score histogram with its draggable threshold, the ROC/PR curves,
the top-anomalies table, the table-rows preview renderer, and the whole flow on a table (load, train on
normal rows, evaluate, drag the threshold, export the flagged list and read it back)."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from tests.app.conftest import train_and_wait


def scores_and_truth(normal: int = 200, anomalies: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    scores = np.concatenate([rng.normal(0.0, 1.0, normal), rng.normal(3.5, 1.0, anomalies)])
    truth = np.concatenate([np.zeros(normal, dtype=bool), np.ones(anomalies, dtype=bool)])
    return scores, truth


def reference_metrics(scores, truth, threshold):
    flagged = scores > threshold
    return {
        "tp": int((flagged & truth).sum()),
        "fp": int((flagged & ~truth).sum()),
        "fn": int((~flagged & truth).sum()),
        "tn": int((~flagged & ~truth).sum()),
    }


def drag_line(qtbot, histogram, to_value: float, steps: int = 12) -> None:
    """Drag the threshold line with the mouse, as a person would, to `to_value` on the score axis."""
    plot = histogram.plot
    view_box = plot.getPlotItem().getViewBox()
    y = float(np.mean(view_box.viewRange()[1]))

    def viewport_point(value: float) -> QPoint:
        x = float(histogram.to_axis(np.asarray([value]))[0])  # log10 on a log axis
        scene = view_box.mapViewToScene(QPointF(x, y))
        return plot.mapFromScene(scene)

    start, end = viewport_point(histogram.threshold()), viewport_point(to_value)
    viewport = plot.viewport()
    QTest.mouseMove(viewport, start)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, steps + 1):
        qtbot.wait(25)  # pyqtgraph drops mouse moves that come faster than a screen refreshes
        point = start + (end - start) * (i / steps)
        QTest.mouseMove(viewport, point)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


# ---- the histogram with its threshold --------------------------------------------------------------------
def test_dragging_the_threshold_updates_the_counts_throttled(qtbot):
    from app.widgets.anomaly_histogram import AnomalyHistogram
    from ssl_core.anomaly import threshold_metrics

    scores, truth = scores_and_truth()
    widget = AnomalyHistogram(interval_ms=50, metrics_fn=threshold_metrics)
    qtbot.addWidget(widget)
    widget.resize(900, 400)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_scores(scores, truth, 2.0)
    assert widget.metrics == threshold_metrics(scores, truth, 2.0)
    assert widget.counts.values == reference_metrics(scores, truth, 2.0)
    assert "precision" in widget.counts.text() and "F1" in widget.counts.text()
    assert widget.legend.names() == ["normal (200)", "anomalies (20)"]

    seen: list[float] = []
    widget.threshold_changed.connect(seen.append)
    before = widget.updates
    drag_line(qtbot, widget, 0.5)
    qtbot.waitUntil(lambda: bool(seen) and abs(seen[-1] - widget.threshold()) < 1e-9, timeout=3000)
    moved = widget.threshold()
    assert 0.0 < moved < 1.2, moved  # followed the mouse
    assert widget.metrics == threshold_metrics(scores, truth, moved)
    assert widget.metrics["fp"] > reference_metrics(scores, truth, 2.0)["fp"]  # more false alarms now
    assert widget.updates - before < 12  # 12 mouse moves, coalesced into fewer updates
    assert len(seen) >= 1

    # set_threshold (a rule) moves the line without reporting a drag
    count = len(seen)
    widget.set_threshold(3.0)
    assert widget.threshold() == 3.0 and len(seen) == count
    assert widget.metrics == threshold_metrics(scores, truth, 3.0)


def test_scores_spanning_decades_are_drawn_on_a_log_axis(qtbot):
    from app.widgets.anomaly_histogram import AnomalyHistogram
    from ssl_core.anomaly import threshold_metrics

    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.lognormal(-3, 1, 300), rng.lognormal(1, 1.5, 30)])
    truth = np.arange(330) >= 300
    widget = AnomalyHistogram(metrics_fn=threshold_metrics)
    qtbot.addWidget(widget)
    widget.resize(900, 400)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_scores(scores, truth, 1.0)
    assert widget.log and widget.line.value() == pytest.approx(0.0)  # log10(1)
    ticks = widget.plot.getPlotItem().getAxis("bottom")._tickLevels[0]
    assert {"0.01", "0.1", "1", "10"} <= {text for _, text in ticks}  # powers of ten, as scores
    drag_line(qtbot, widget, 0.1)
    qtbot.waitUntil(lambda: widget.threshold() < 0.3, timeout=3000)
    assert 0.03 < widget.threshold() < 0.3  # a real score, not its logarithm
    assert widget.metrics == threshold_metrics(scores, truth, widget.threshold())
    assert (
        "threshold 0.1" in widget.line.label.toPlainText()
        or "threshold 0.0" in widget.line.label.toPlainText()
    )


def fake_view(tmp_path, labelled: bool):
    """An AnomalyView as the worker hands it over, built from synthetic scores (no engine run)."""
    from app.anomalies import AnomalyView
    from app.widgets.top_anomalies import TopSamples

    scores, truth = scores_and_truth()
    n = len(scores)
    rng = np.random.default_rng(2)
    order = rng.permutation(n)
    result = SimpleNamespace(
        scores=scores, is_anomaly=truth if labelled else None, train_idx=order[:100],
        calib_idx=np.sort(order[100:160]), test_idx=np.sort(order[160:]), threshold=2.0,
        threshold_rule="contamination", threshold_param=0.05, score_kind="kNN distance", method="simclr",
        method_title="SimCLR", metrics={}, metrics_std={}, seeds=[0], baselines={}, samples="images",
    )  # fmt: skip
    top_rows = np.argsort(-scores)[:5]
    top = TopSamples(rows=top_rows, scores=scores[top_rows], samples=rng.random((5, 1, 8, 8)), modality="image",
                     splits=["test"] * 5)  # fmt: skip
    return AnomalyView(run_dir=tmp_path, result=result, top=top, plural="images")


def test_a_run_without_labels_shows_scores_only_and_says_why(qtbot, tmp_path):
    from app.tabs.anomalies_tab import AnomaliesTab
    from app.workers import JobRunner

    tab = AnomaliesTab(JobRunner())
    qtbot.addWidget(tab)
    assert "No run is open" in tab.empty_text() and not tab.button.isEnabled()
    assert not tab.export_button.isEnabled()
    tab.show_view(fake_view(tmp_path, labelled=False))
    assert tab.empty_text() == ""
    assert tab.histogram.metrics is None and tab.histogram.legend.names() == ["scores (60)"]
    assert "no labels" in tab.curves.message.text() and tab.curves.legend_texts() == []
    assert "no detection metrics" in tab.headline.text()
    assert tab.top.rowCount() == 5 and "label" not in tab.top.header_names()
    assert tab.export_button.isEnabled()
    # the rule still sets a threshold on the calibration scores
    threshold = tab.set_rule("percentile", 50.0)
    assert threshold == pytest.approx(np.median(tab.view.result.scores[tab.view.result.calib_idx]))
    box = tab.rule_box
    box.rule.setCurrentIndex(box.rule.findData("value"))  # a fixed value starts from the threshold shown
    assert box.value.value() == pytest.approx(threshold, abs=1e-6)
    assert tab.histogram.threshold() == pytest.approx(threshold, abs=1e-6)

    tab.show_view(fake_view(tmp_path, labelled=True))
    assert tab.histogram.metrics is not None and "ROC-AUC" in tab.headline.text()


def test_without_labels_the_histogram_only_counts_flagged_samples(qtbot):
    from app.widgets.anomaly_histogram import AnomalyHistogram

    scores, _ = scores_and_truth()
    widget = AnomalyHistogram(metrics_fn=lambda *a: pytest.fail("no metrics without labels"))
    qtbot.addWidget(widget)
    widget.set_scores(scores, None, 2.0)
    assert widget.metrics is None
    assert f"Flagged <b>{int((scores > 2.0).sum())}</b> of 220" in widget.counts.text()
    assert widget.legend.names() == ["scores (220)"]


# ---- ROC / PR ----------------------------------------------------------------------------------------
def test_roc_pr_curves_name_auc_and_ap_and_mark_the_threshold(qtbot):
    from app.widgets.roc_pr import CurveSet, RocPrCurves
    from ssl_core.anomaly import curves, ranking_metrics

    scores, truth = scores_and_truth()
    rng = np.random.default_rng(1)
    sets = []
    for name, s, is_method in (
        ("Autoencoder", scores, True),
        ("LOF", scores + rng.normal(0, 2, len(scores)), False),
    ):
        c, m = curves(s, truth), ranking_metrics(s, truth)
        sets.append(CurveSet(name, c["roc"], c["pr"], m["roc_auc"], m["average_precision"], is_method))
    widget = RocPrCurves()
    qtbot.addWidget(widget)
    widget.set_curves(sets, prevalence=float(truth.mean()))
    texts = widget.legend_texts()
    assert texts[0].startswith("Autoencoder (AUC 0.9") and "AP " in texts[0]
    assert texts[1].startswith("LOF (AUC") and texts[-1] == "chance"
    assert widget.curve_points("Autoencoder", "roc") > 2 and widget.curve_points("LOF", "pr") > 2
    widget.set_operating_point(0.1, 0.8, 0.8, 0.5)
    assert len(widget.points["roc"].data) == 1
    widget.show_message("no labels")
    assert widget.legend_texts() == [] and widget.stack.currentWidget() is widget.message


# ---- table rows: the preview renderer, thumbnails, the top table -------------------------------------
TABLE_META = {
    "columns": ["age", "city", "member", "income"],
    "kinds": ["numeric", "categorical", "boolean", "numeric"],
    "categories": {"city": ["Lille", "Lyon", "Paris"]},
}


def table_preview():
    nan = np.nan
    given = np.array([[40.0, 2, 1, 50_000.0], [61.5, 0, 0, nan], [33.0, 1, 1, 42_000.0]])
    corrupted = np.array([[40.0, 1, 1, nan], [nan, 0, 0, nan], [33.0, 1, 0, 42_000.0]])
    rebuilt = np.array([[40.5, 1, 1, 61_000.0], [55.0, 0, 0, 48_000.0], [33.1, 1, 1, 42_010.0]])
    return SimpleNamespace(
        kind="reconstruction",
        payload="table_rows",
        images={"input": given, "corrupted": corrupted, "reconstruction": rebuilt},
        captions={"reconstruction": ["err 0.1", "err 0.3", "err 0.01"]},
        meta=TABLE_META,
    )


def test_table_preview_renders_rows_with_hidden_and_changed_cells_marked(qtbot):
    from app.widgets.previews import PREVIEW_RENDERERS, PreviewPanel
    from app.widgets.table_preview import TablePreview

    assert PREVIEW_RENDERERS["table_rows"] is TablePreview
    panel = PreviewPanel(8)
    qtbot.addWidget(panel)
    panel.show_preview(table_preview())
    view = panel.renderer
    assert isinstance(view, TablePreview)
    assert view.rows() == ["input", "corrupted", "reconstruction"] and view.columns() == 3
    assert view.feature_names() == TABLE_META["columns"]
    assert view.captions("reconstruction") == ["err 0.1", "err 0.3", "err 0.01"]
    # values in the data's own terms: category names, yes/no, numbers; missing as a dash
    assert [view.cell_text(0, "input", j) for j in range(4)] == ["40", "Paris", "yes", "50000"]
    assert view.cell_text(1, "input", 3) == "—" and view.cell_state(1, "input", 3) == "hidden"
    # the corruption: a category changed, a value hidden
    assert view.cell_text(0, "corrupted", 1) == "Lyon" and view.cell_state(0, "corrupted", 1) == "changed"
    assert view.cell_state(0, "corrupted", 3) == "hidden" and view.cell_state(0, "corrupted", 0) == ""
    assert view.cell_state(2, "corrupted", 2) == "changed"  # yes -> no
    # the reconstruction: a wrong category and a far-off number are errors; a close one is not
    assert view.cell_state(0, "reconstruction", 1) == "error"
    assert view.cell_state(0, "reconstruction", 3) == "error"
    assert view.cell_state(2, "reconstruction", 0) == ""
    assert view.table.item(1, 2 + 3).font().bold() is False  # the input row is never bold
    assert view.table.item(2, 2 + 3).font().bold()  # rebuilt a hidden income: bold
    assert "changed" in view.key.text() and "hidden" in view.key.text()


def test_table_thumbnails_draw_a_strip_of_deviations(qtbot):
    from app.widgets.sample_thumbnails import SAMPLE_THUMBNAILS, TableThumbnails, thumbnail_painter

    assert SAMPLE_THUMBNAILS["table"] is TableThumbnails
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, (300, 5))
    painter = thumbnail_painter("table", reference)
    rows = np.array([[0, 0, 0, 0, 0], [6, -6, 0, np.nan, 1]], dtype=np.float32)
    levels = painter.levels(rows[1])
    assert levels[0] == 1.0 and levels[1] == -1.0 and np.isnan(levels[3])
    assert abs(painter.levels(rows[0])).max() < 0.1
    images = painter.paint(rows, 80, 24)
    assert [(im.width(), im.height()) for im in images] == [(80, 24), (80, 24)]
    pixels = {images[1].pixel(x, y) for x in range(80) for y in range(24)}
    assert len(pixels) > 3


def test_top_anomalies_highlight_the_most_unusual_values(qtbot):
    from app.widgets.top_anomalies import TopAnomalies, TopSamples

    rng = np.random.default_rng(0)
    reference = np.column_stack(
        [
            rng.normal(40, 5, 400),
            rng.integers(0, 3, 400) * 0 + 2,
            rng.integers(0, 2, 400),
            rng.normal(5e4, 5e3, 400),
        ]
    )
    samples = np.array([[95.0, 0, 1, 5e4], [40.0, 2, 0, 1e4]])
    top = TopSamples(
        rows=np.array([17, 3]),
        scores=np.array([9.0, 4.0]),
        samples=samples,
        modality="table",
        ids=["C17", "C03"],
        id_name="customer",
        labels=["b", "a"],
        anomalous=[True, False],
        splits=["test", "calibration"],
        reference=reference,
        table=TABLE_META,
    )
    widget = TopAnomalies()
    qtbot.addWidget(widget)
    widget.set_samples(top, threshold=5.0)
    names = widget.header_names()
    assert (
        names[:6] == ["#", "customer", "score", "flagged", "label", "split"]
        and names[-4:] == TABLE_META["columns"]
    )
    assert widget.text(0, "customer") == "C17" and widget.text(0, "flagged") == "yes"
    assert widget.flagged_count() == 1
    assert widget.unusual_cells(0) == ["age", "city"]  # 11 spreads above; a category no normal row has
    assert "age 95" in widget.text(0, "most unusual")
    assert widget.unusual_cells(1) == ["income"]
    widget.set_threshold(1.0)
    assert widget.flagged_count() == 2


# ---- the whole flow ------------------------------------------------------------------------------------
def test_table_train_detect_drag_and_export(qtbot, window, dialog_log, tmp_path):
    from ssl_core.anomaly import threshold_metrics

    setup = window.setup_tab
    with qtbot.waitSignal(setup.data_info_loaded, timeout=60_000):
        setup.data.open_spec("table:wine")
    assert setup.data.info.modality == "table"
    options = setup.data.table_options
    options.train_on_box.setCurrentIndex(options.train_on_box.findData("normal"))  # most common class
    setup.method.set_method("autoencoder")
    setup.training.epochs.setValue(3)
    setup.training.batch_size.setValue(32)
    setup.training.seed.setValue(0)

    tab = window.anomalies_tab
    window.tabs.setCurrentWidget(tab)
    assert "No run is open" in tab.empty_text()
    qtbot.waitUntil(lambda: not setup.data_loading, timeout=30_000)
    assert dialog_log.shown == [], dialog_log.shown
    train_and_wait(qtbot, window)
    assert dialog_log.shown == [], dialog_log.shown
    qtbot.waitUntil(lambda: not tab.busy, timeout=30_000)  # looked for saved results: none yet
    assert "Press Evaluate anomalies" in tab.empty_text()

    window.tabs.setCurrentWidget(tab)
    with qtbot.waitSignal(tab.evaluated, timeout=180_000):
        qtbot.mouseClick(tab.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.busy, timeout=10_000)
    assert dialog_log.shown == [], dialog_log.shown
    assert tab.empty_text() == ""
    view = tab.view
    result = view.result
    truth = result.is_anomaly[result.test_idx]
    scores = result.scores[result.test_idx]
    assert truth.any() and not truth.all()
    hist = tab.histogram
    assert hist.threshold() == pytest.approx(result.threshold)
    assert hist.metrics == threshold_metrics(scores, truth, result.threshold)
    assert "ROC-AUC" in tab.headline.text()
    assert tab.curves.names()[0] == result.method_title and set(tab.curves.names()[1:]) == {
        "IsolationForest",
        "LOF",
        "PCA",
    }
    assert tab.top.rowCount() == min(30, len(result.scores))
    assert tab.top.header_names()[-1] == view.top.table["columns"][-1]  # table rows, feature by feature

    # drag the threshold to the lowest test score: everything is flagged, recall is 1
    before = dict(hist.metrics)
    low = float(np.sort(scores)[0]) - 1e-6
    drag_line(qtbot, hist, low)
    qtbot.waitUntil(lambda: hist.metrics["fn"] == 0, timeout=3000)
    assert hist.metrics != before and hist.metrics["tp"] == int(truth.sum())
    assert hist.metrics == threshold_metrics(scores, truth, hist.threshold())
    box = tab.rule_box
    assert box.current_rule() == "value"
    assert box.value.value() == pytest.approx(hist.threshold(), abs=1e-5)

    # a rule puts it back on the calibration scores
    box.rule.setCurrentIndex(box.rule.findData("contamination"))
    assert box.value.value() == 5.0 and box.value.suffix() == " %"
    box.value.setValue(10.0)
    expected = float(np.quantile(result.scores[result.calib_idx], 0.9))
    assert hist.threshold() == pytest.approx(expected)

    # export the flagged list and read it back
    out = tmp_path / "flagged.csv"
    with qtbot.waitSignal(tab.exported, timeout=10_000):
        tab.export_flagged(str(out))
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    above = np.flatnonzero(result.scores > hist.threshold())
    assert sorted(int(r["index"]) for r in rows) == sorted(above.tolist())
    assert [float(r["score"]) for r in rows] == sorted((float(r["score"]) for r in rows), reverse=True)
    assert {r["flag"] for r in rows} == {"1"} and set(rows[0]) >= {"index", "score", "flag", "split", "label"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".flagged")] == []  # no temporary left

    # a file that cannot be written: a dialog names it, nothing else happens
    blocked = tmp_path / "flagged.csv" / "inside.csv"  # its folder is a file
    with qtbot.waitSignal(window.runner.idle, timeout=10_000):
        tab.export_flagged(str(blocked))
    kind, _, message, _ = dialog_log.shown.pop()
    assert kind == "user" and str(blocked) in message

    # reopening the run shows the saved results again, without evaluating
    run = window.current_run
    window.anomalies_tab.set_run(None)
    with qtbot.waitSignal(tab.evaluated, timeout=60_000):
        window.open_run(run)
    qtbot.waitUntil(lambda: not window.runner.running(), timeout=60_000)
    assert tab.view.result.threshold == pytest.approx(result.threshold)
    assert dialog_log.shown == [], dialog_log.shown


def test_an_image_run_is_scored_by_knn_distance_with_thumbnails(qtbot, window, dialog_log, copied_run):
    """A SimCLR run on the digits (no reconstruction): kNN-distance scores, images in the top table, and
    the saved result comes back when the run is opened again."""
    tab = window.anomalies_tab
    window.open_run(copied_run)  # the digits are loaded already: only the run's files are read
    qtbot.waitUntil(lambda: not window.runner.running(), timeout=60_000)
    assert "Press Evaluate anomalies" in tab.empty_text()
    with qtbot.waitSignal(tab.evaluated, timeout=180_000):
        tab.evaluate()
    qtbot.waitUntil(lambda: not tab.busy, timeout=10_000)
    assert dialog_log.shown == [], dialog_log.shown
    assert tab.view.result.score_kind == "kNN distance" and "kNN distance" in tab.explain.text()
    column = tab.top.column_of("sample")
    pixmap = tab.top.item(0, column).data(Qt.ItemDataRole.DecorationRole)
    assert pixmap is not None and not pixmap.isNull()
    assert "label" in tab.top.header_names() and "most unusual" not in tab.top.header_names()

    tab.set_run(None)
    with qtbot.waitSignal(tab.evaluated, timeout=60_000):
        tab.set_run(copied_run)
    assert tab.view.result.score_kind == "kNN distance"
