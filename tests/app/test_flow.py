"""The whole flow a newcomer follows, offscreen: digits + SimCLR, train, look, evaluate, reopen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from tests.app.conftest import tiny_training, train_and_wait

DIGITS = 1797


def test_first_launch_defaults(window, dialog_log):
    setup = window.setup_tab
    assert setup.data.spec() == "digits"
    assert setup.data.info.size == DIGITS
    assert setup.data.thumbnails.count() > 10
    assert "1,797 images" in setup.data.summary.text()
    assert "10 classes" in setup.data.summary.text()
    assert setup.method.method() == "simclr"
    assert "SimCLR" in setup.method.description.text()
    # the method's settings form comes from the registry, with help tooltips and ranges
    from ssl_core.methods import METHODS

    params = list(METHODS.get("simclr").params)
    editor = setup.method.params.editor(params[0].name)
    assert params[0].help.split()[0] in editor.toolTip()
    assert window.actions["start"].isEnabled()
    assert not window.actions["stop"].isEnabled()
    assert dialog_log.shown == []


def test_train_view_embed_evaluate_reopen(qtbot, window, dialog_log):
    tiny_training(window, "simclr", max_steps=8)
    train_and_wait(qtbot, window)
    assert dialog_log.shown == [], dialog_log.shown
    run = window.current_run
    assert run is not None and (run / "checkpoints" / "last.pt").is_file()

    # Train tab: the loss curve has one point per step, and the progress bar is full
    train = window.train_tab
    assert train.loss_curves.point_count("loss") == 8
    assert train.lr_curves.point_count("learning rate") == 8
    assert train.progress.value() == train.progress.maximum()
    assert "Checkpoint saved" in train.log.toPlainText()

    # Views: pairs of augmented views of the same images
    views = window.views_tab
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        window.compute_views()
    assert views.rows() == ["original", "view 1", "view 2"]
    assert views.columns() == 8
    assert type(views.renderer()).__name__ == "ImageGridView"  # images get the image-grid renderer

    # Embeddings: PCA shows one point per image, coloured by the 10 labels
    emb = window.embeddings_tab
    emb.projection.setCurrentIndex(emb.projection.findData("pca"))
    window.tabs.setCurrentWidget(emb)  # switching to the tab starts the computation
    qtbot.waitUntil(lambda: emb.result is not None and not emb.busy, timeout=60_000)
    assert emb.scatter.point_count() == DIGITS
    assert emb.scatter.classes == [str(d) for d in range(10)]  # one legend entry per label
    assert len(emb.scatter.legend.items) == 10

    # Evaluate: probe and kNN accuracies, clearly above chance (10%) on digits
    ev = window.evaluate_tab
    with qtbot.waitSignal(ev.evaluated, timeout=120_000):
        qtbot.mouseClick(ev.button, Qt.MouseButton.LeftButton)
    probe = ev.view.accuracy("pretrained", "probe")
    assert probe is not None and probe > 0.3
    assert ev.view.accuracy("raw_input", "knn") is not None
    assert ev.view.confusion.shape == (10, 10)
    assert "Linear probe" in ev.headline.text() and "%" in ev.headline.text()
    rows = ev.view.raw["features"]["pretrained"]["label_efficiency"]["rows"]
    assert ev.headline.text().startswith("<b>With ") and "labelled images" in ev.headline.text()
    assert (
        ev.probe_chart.getPlotItem().getAxis("bottom")._tickLevels[0][0][1]
        == f"1% ({rows[0]['labels_used']})"
    )
    qtbot.waitUntil(lambda: not ev.busy)

    # Runs: the run is listed with its probe accuracy
    runs = window.runs_tab
    runs.refresh()
    assert runs.table.rowCount() == 1
    assert runs.table.item(0, 0).text() == run.name
    assert runs.table.item(0, 7).text().endswith("%")

    # Reopen it in a fresh state: curves, settings and results come back
    window.setup_tab.method.set_method("byol")
    window.train_tab.clear()
    ev.set_run(None)
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        window.open_run(run)
    assert window.setup_tab.method.method() == "simclr"
    assert window.train_tab.loss_curves.point_count("loss") == 8
    assert ev.view is not None and abs(ev.view.accuracy("pretrained", "probe") - probe) < 1e-9
    assert views.rows() == ["original", "view 1", "view 2"]


def test_saved_embeddings_come_back_with_the_run(qtbot, window, copied_run):
    emb = window.embeddings_tab
    emb.projection.setCurrentIndex(emb.projection.findData("pca"))
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        window.open_run(copied_run)
    window.tabs.setCurrentWidget(emb)  # opening the tab computes the embeddings of the open run
    qtbot.waitUntil(lambda: emb.result is not None and not emb.busy, timeout=60_000)
    first = emb.result.embeddings.copy()
    saved = list((copied_run / "eval").glob("embeddings-*.npy"))
    assert saved, "embeddings are stored with the run"
    emb.set_run(None)
    emb.set_run(copied_run)
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        emb.compute(copied_run)
    np.testing.assert_array_equal(emb.result.embeddings, first)


def test_hover_click_and_box_selection(qtbot, window, copied_run, tmp_path):
    emb = window.embeddings_tab
    emb.projection.setCurrentIndex(emb.projection.findData("pca"))
    emb.set_run(copied_run)
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        emb.compute(copied_run)
    window.tabs.setCurrentWidget(emb)
    scatter = emb.scatter
    qtbot.waitUntil(lambda: scatter.view_box.sceneBoundingRect().width() > 50)

    rows, xy = emb.result.projections["pca"]
    target = int(np.argmax(xy[:, 0]))  # the right-most point is not hidden under others
    scene_pos = scatter.view_box.mapViewToScene(_qpoint(xy[target]))
    assert scatter.nearest(scene_pos) == target

    with qtbot.waitSignal(scatter.hovered) as hovered:
        scatter._mouse_moved(scene_pos)
    assert hovered.args == [target]
    label = emb.result.label_of(int(rows[target]))
    assert label in emb.hover_text.text()
    assert not emb.hover_image.pixmap().isNull()

    emb._clicked(target)
    assert emb.neighbours.count() == 1 + 8
    near = emb.result.neighbours("pca", target)
    x = emb.result.embeddings[rows]
    normed = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = normed @ normed[target]
    assert sims[near[0]] >= np.delete(sims, [target]).max() - 1e-6  # really the nearest

    # a box around the left half selects exactly the points whose x is below the middle
    from PySide6.QtCore import QRectF

    xs = np.sort(xy[:, 0])
    mid = float(xs[len(xs) // 2] + xs[len(xs) // 2 + 1]) / 2  # between two points, not on one
    box = QRectF(xy[:, 0].min() - 1, xy[:, 1].min() - 1, mid - xy[:, 0].min() + 1, np.ptp(xy[:, 1]) + 2)
    with qtbot.waitSignal(scatter.selected) as picked:
        scatter.view_box.box_selected.emit(box)
    expected = np.flatnonzero(xy[:, 0] <= mid)
    np.testing.assert_array_equal(np.sort(picked.args[0]), expected)
    assert emb.selection.count() == min(len(expected), 60)
    assert f"{len(expected)} images" in emb.selection_title.text()

    # exports
    png = emb.export_plot("png", str(tmp_path / "plot.png"))
    svg = emb.export_plot("svg", str(tmp_path / "plot.svg"))
    csv_path = emb.export_embeddings("csv", str(tmp_path / "emb.csv"))
    npy = emb.export_embeddings("npy", str(tmp_path / "emb.npy"))
    assert png.stat().st_size > 1000 and "<svg" in svg.read_text()
    lines = csv_path.read_text().splitlines()
    assert len(lines) == 1 + DIGITS and lines[0].startswith("index,label,pca_x,pca_y,e0")
    assert np.load(npy).shape == emb.result.embeddings.shape


def _qpoint(xy: np.ndarray):
    from PySide6.QtCore import QPointF

    return QPointF(float(xy[0]), float(xy[1]))


def test_runs_tab_compare_export_delete(qtbot, window, copied_run, dialog_log, tmp_path):
    runs = window.runs_tab
    runs.refresh()
    assert runs.table.rowCount() == 1
    runs.select_run(copied_run)
    assert runs.buttons["open"].isEnabled() and runs.buttons["delete"].isEnabled()
    with qtbot.waitSignal(window.runner.idle, timeout=30_000):
        runs.compare_selected()
    assert runs.compared_names() == [copied_run.name]
    runs.relative.setChecked(True)  # curves divided by their first value
    assert abs(runs._compare_items[0].yData[0] - 1.0) < 1e-9

    out = runs.export_selected(str(tmp_path / "backbone.pt"))
    assert out is not None and out.is_file()
    import torch

    saved = torch.load(out, weights_only=True)
    assert saved["backbone"] == "small_cnn" and saved["state_dict"]
    assert dialog_log.kinds() == ["info"]

    dialog_log.answer = False  # the user says no: nothing is deleted
    runs.delete_selected()
    assert copied_run.is_dir()
    dialog_log.answer = True
    runs.select_run(copied_run)
    runs.delete_selected()
    assert not copied_run.exists()
    assert runs.table.rowCount() == 0
    assert "cannot be undone" in dialog_log.questions[-1][1]


def test_config_save_and_load_round_trip(qtbot, window, tmp_path):
    from ssl_core.config import RunConfig

    setup = window.setup_tab
    setup.method.set_method("vicreg")
    setup.training.epochs.setValue(3)
    setup.training.seed.setValue(7)
    from ssl_core.methods import METHODS

    param = next(p for p in METHODS.get("vicreg").params if p.kind == "float" and p.high is not None)
    name = param.name
    new_value = round(param.low + (param.high - param.low) / 3, 3)
    assert new_value != param.default
    setup.method.params.editor(name).setValue(new_value)
    path = window.save_config(str(tmp_path / "exp.toml"))
    cfg = RunConfig.load(path)  # the CLI's --config format
    assert cfg.method.name == "vicreg" and cfg.train.epochs == 3 and cfg.train.seed == 7
    assert name in cfg.method.params
    assert cfg.runs_dir == str(window.runs_dir)

    setup.method.set_method("simclr")
    setup.training.epochs.setValue(10)
    window.load_config(str(path))
    assert setup.method.method() == "vicreg"
    assert setup.training.epochs.value() == 3
    assert setup.method.overrides() == cfg.method.params
    assert Path(path).read_text().count("[method") >= 1


def test_pretext_predictions_have_captions(qtbot, window, dialog_log):
    window.setup_tab.method.set_method("rotation")
    views = window.views_tab
    assert views.kind == "prediction"
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        window.compute_views()  # untrained model: the puzzle and its (guessed) answers
    assert dialog_log.shown == []
    name = views.rows()[0]
    captions = views.captions(name)
    assert name != "original" and len(captions) == views.columns() > 0
    assert all(captions)


def test_evaluate_headline_leads_with_the_verdict_where_the_runs_differ(qtbot):
    from app.tabs.evaluate_tab import EvaluateTab
    from app.workers import JobRunner

    def feature(title, means):
        rows = [
            {
                "fraction": f,
                "labels_used": n,
                "runs": 3,
                "probe": {"mean": m, "std": 0.01},
                "knn": {"mean": m},
            }
            for f, n, m in zip((0.01, 0.1, 1.0), (14, 144, 1437), means, strict=True)
        ]
        return {
            "title": title,
            "dim": 8,
            "probe": {"accuracy": means[-1]},
            "label_efficiency": {"rows": rows},
        }

    report = {
        "method": "simclr", "samples": "images", "n_train": 1437, "fractions": [0.01, 0.1, 1.0], "seeds": [0, 1, 2],
        "features": {
            "pretrained": feature("pretrained", (0.77, 0.93, 0.986)),
            "random_init": feature("random init", (0.44, 0.85, 0.986)),
            "raw_input": feature("raw pixels", (0.49, 0.90, 0.986)),
        },
    }  # fmt: skip
    tab = EvaluateTab(JobRunner())
    qtbot.addWidget(tab)
    with qtbot.waitSignal(tab.evaluated):
        tab.show_report(report)
    text = tab.headline.text()
    assert text.startswith(
        "<b>With 14 labelled images (1%), this run&#x27;s features reach 77%; the same network with random "
        "weights reaches 44% and the raw pixels 49%.</b><br>With all labels — Linear probe: <b>98.6%</b>"
    )
    assert "spread (standard deviation) over 3 random picks" in text
    ticks = [label for _, label in tab.knn_chart.getPlotItem().getAxis("bottom")._tickLevels[0]]
    assert ticks == ["1% (14)", "10% (144)", "100% (1,437)"]
