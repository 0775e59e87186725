"""The newcomer's flow on time series, offscreen: GunPoint + SimCLR, train, look, embed, evaluate, and back
to the digits. Every kind of data goes through the same seam: the method list, backbones, previews,
thumbnails and texts come from the data's modality."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from tests.app.conftest import train_and_wait

GUNPOINT = 200  # series of 1 channel x 150 steps, 2 classes
IMAGE_ONLY = ("rotation", "jigsaw", "mae", "inpainting", "colorization")
SERIES_BACKBONES = ["cnn1d", "gru", "lstm", "transformer1d"]


def _open(qtbot, window, spec: str):
    setup = window.setup_tab
    with qtbot.waitSignal(setup.data_info_loaded, timeout=60_000):
        setup.data.open_spec(spec)
    qtbot.waitUntil(lambda: not setup.data_loading, timeout=10_000)
    return setup.data.info


def _backbones(panel) -> list[str]:
    return [panel.backbone.itemData(i) for i in range(panel.backbone.count())]


def _enabled(panel, name: str) -> bool:
    return panel.backbone.model().item(panel.backbone.findData(name)).isEnabled()


def test_series_setup_train_views_embeddings_evaluate(qtbot, window, dialog_log):
    from ssl_core.methods import METHODS

    setup, panel = window.setup_tab, window.setup_tab.method

    # ---- Setup: series data, described as series --------------------------------------------------------
    info = _open(qtbot, window, "series:GunPoint")
    assert info.modality == "series" and info.size == GUNPOINT
    summary = setup.data.summary.text()
    assert "200 series" in summary and "1 channel × 150 steps" in summary and "2 classes" in summary
    assert setup.data.thumbnails.count() == 12  # sparklines, wider than tall
    assert setup.data.thumbnails.aspect > 1
    assert setup.data.samples_caption.text() == "Sample series"
    assert setup.data.colour_row.isHidden()  # colours and image size are image settings
    assert not setup.training.shown("data.image_size")

    # image-only methods are greyed with a reason that names series; the others are offered
    for name in IMAGE_ONLY:
        assert not panel.available(name), name
        assert "series" in panel.method_reason(name), name
        item = next(i for i in panel._items() if i.data(0, Qt.ItemDataRole.UserRole) == name)
        assert "series" in item.toolTip(0) and "images only" in item.text(0)
    for name in ("simclr", "byol", "vicreg", "autoencoder"):
        assert panel.available(name), name

    # the backbones are the series ones, after an Auto entry naming this method's default
    panel.set_method("simclr")
    assert _backbones(panel) == ["auto", *SERIES_BACKBONES]
    assert panel.backbone_name() == "auto" and "1-D CNN" in panel.backbone.itemText(0)
    if "autoregressive" in METHODS:  # next-step prediction needs a recurrent backbone
        panel.set_method("autoregressive")
        assert "GRU" in panel.backbone.itemText(0)
        assert not _enabled(panel, "cnn1d") and _enabled(panel, "gru")
        assert panel.backbone.itemData(panel.backbone.findData("cnn1d"), Qt.ItemDataRole.ToolTipRole)
        panel.set_method("simclr")
        assert _enabled(panel, "cnn1d")

    # ---- Train: a tiny run; the live preview is drawn as signals ---------------------------------------
    setup.training.epochs.setValue(2)
    setup.training.batch_size.setValue(64)
    setup.training.seed.setValue(0)
    train_and_wait(qtbot, window)
    assert dialog_log.shown == [], dialog_log.shown
    run = window.current_run
    assert run is not None and (run / "checkpoints" / "last.pt").is_file()
    train = window.train_tab
    assert train.rate_caption.text() == "series / second"
    live = train.live_preview.renderer
    assert type(live).__name__ == "SignalPreview"
    assert {"view 1", "view 2"} <= set(live.rows())
    assert live.curve_count() == len(live.rows()) * live.columns() > 0

    # ---- Views: on-demand previews are signal plots too -----------------------------------------------
    views = window.views_tab
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        window.compute_views()
    assert type(views.renderer()).__name__ == "SignalPreview"
    assert views.rows() == ["original", "view 1", "view 2"] and views.columns() == 8
    assert views.renderer().curve_count() == 24
    assert views.renderer().legend.names() == ["original", "view 1", "view 2"]
    assert "same series" in views.explain.text()

    # ---- Embeddings: one point per series; hover and neighbours show sparklines ------------------------
    emb = window.embeddings_tab
    emb.projection.setCurrentIndex(emb.projection.findData("pca"))
    window.tabs.setCurrentWidget(emb)  # switching to the tab starts the computation
    qtbot.waitUntil(lambda: emb.result is not None and not emb.busy, timeout=60_000)
    assert emb.scatter.point_count() == GUNPOINT
    assert "200 series" in emb.scatter.getPlotItem().titleLabel.text
    rows, xy = emb.result.projections["pca"]
    target = int(np.argmax(xy[:, 0]))
    emb._hovered(target)
    pixmap = emb.hover_image.pixmap()
    assert not pixmap.isNull() and pixmap.width() > pixmap.height()  # a sparkline, not a square image
    image = pixmap.toImage()
    assert len({image.pixel(x, y) for x in range(0, image.width(), 3) for y in range(image.height())}) > 3
    assert f"series #{int(rows[target])}" in emb.hover_text.text()
    emb._clicked(target)
    assert emb.neighbours.count() == 1 + 8 and emb.neighbours.aspect > 1
    assert "of series #" in emb.neighbours_title.text()

    # ---- Evaluate: pretrained, random init and the raw input, in the series' words ----------------------
    ev = window.evaluate_tab
    window.tabs.setCurrentWidget(ev)
    with qtbot.waitSignal(ev.evaluated, timeout=120_000):
        qtbot.mouseClick(ev.button, Qt.MouseButton.LeftButton)
    for key in ("pretrained", "random_init", "raw_input"):
        assert ev.view.accuracy(key, "probe") is not None, key
        assert ev.view.accuracy(key, "knn") is not None, key
    assert ev.view.title("raw_input") == "Raw input"
    assert "raw input" in ev.headline.text()
    assert "held-out series" in ev.explain.text() and "pixels" not in ev.explain.text()
    assert ev.view.confusion.shape == (2, 2)
    qtbot.waitUntil(lambda: not ev.busy)

    # ---- back to the digits: image methods and backbones come back -------------------------------------
    window.tabs.setCurrentWidget(setup)
    info = _open(qtbot, window, "digits")
    assert info.modality == "image"
    for name in ("rotation", "jigsaw", "inpainting"):
        assert panel.available(name), name
    assert "small_cnn" in _backbones(panel) and "cnn1d" not in _backbones(panel)
    assert "Small CNN" in panel.backbone.itemText(0)
    assert not setup.data.colour_row.isHidden() and setup.training.shown("data.image_size")
    assert setup.data.samples_caption.text() == "Sample images"
    assert dialog_log.shown == [], dialog_log.shown


def test_a_loaded_backbone_waits_for_its_data(qtbot, window):
    """A config naming an image backbone, shown while series are loaded, gets it back with the images."""
    panel = window.setup_tab.method
    _open(qtbot, window, "series:GunPoint")
    panel.set_backbone("resnet18")
    assert panel.backbone_name() == "auto"  # not a series backbone: Auto until the images are back
    _open(qtbot, window, "digits")
    assert panel.backbone_name() == "resnet18"


def test_series_with_gaps_can_be_imputed_from_setup(qtbot, window, dialog_log, tmp_path):
    """Gaps are refused with the message naming data.missing; the Missing values box then imputes them,
    the summary says so, and the run's config carries the choice."""
    path = tmp_path / "gaps.csv"
    path.write_text("label,t0,t1,t2,t3,t4,t5\na,1,2,3,4,5,6\nb,2,,4,5,6,7\na,1,2,3,4,5,6\nb,3,4,5,6,7,8\n")
    data = window.setup_tab.data
    with qtbot.waitSignal(data.loading_changed, timeout=30_000, check_params_cb=lambda busy: not busy):
        data.open_spec(f"series:{path}")
    assert dialog_log.shown and "data.missing" in dialog_log.shown[-1][2]
    assert not data.series_row.isHidden()  # the choice the message names is offered
    with qtbot.waitSignal(window.setup_tab.data_info_loaded, timeout=30_000):
        data.missing_box.setCurrentIndex(data.missing_box.findData("impute"))
    assert data.info.size == 4 and "Imputed 1 NaN value" in data.summary.text()
    data.length_box.setValue(4)  # crop every series to 4 steps
    qtbot.waitUntil(lambda: data.info.sample_shape == (1, 4) and not data.loading, timeout=30_000)
    cfg = window.setup_tab.snapshot(str(tmp_path))
    assert (cfg.data.missing, cfg.data.length) == ("impute", 4)


def test_a_saved_series_run_reopens_with_anomaly_scores(qtbot, window, dialog_log, runs_dir):
    """A generative run on series, trained by the engine and opened in the app: its settings, reconstruction
    preview (signals) and embeddings come back, and the map can be coloured by anomaly score."""
    from ssl_core.config import RunConfig
    from ssl_core.train.trainer import Trainer

    cfg = RunConfig()
    cfg.runs_dir = str(runs_dir)
    cfg.data.spec = "series:GunPoint"
    cfg.method.name = "autoencoder"
    cfg.train.epochs, cfg.train.max_steps, cfg.train.batch_size = 1, 3, 64
    cfg.data.num_workers = 0
    run = Trainer(cfg).run().run_dir

    with qtbot.waitSignal(window.setup_tab.data_info_loaded, timeout=60_000):
        window.open_run(run)
    qtbot.waitUntil(lambda: not window.runner.running(), timeout=60_000)
    assert window.setup_tab.data.spec() == "series:GunPoint"
    assert window.setup_tab.method.method() == "autoencoder"
    views = window.views_tab
    assert type(views.renderer()).__name__ == "SignalPreview" and "reconstruction" in views.rows()

    emb = window.embeddings_tab
    emb.projection.setCurrentIndex(emb.projection.findData("pca"))
    window.tabs.setCurrentWidget(emb)
    qtbot.waitUntil(lambda: emb.result is not None and not emb.busy, timeout=60_000)
    assert emb.result.anomaly is not None and emb.result.anomaly.shape == (GUNPOINT,)
    emb.colour_by.setCurrentIndex(emb.colour_by.findData("score"))
    assert emb.scatter.point_count() == GUNPOINT
    emb._hovered(0)
    assert "anomaly score" in emb.hover_text.text() and "series #" in emb.hover_text.text()
    assert dialog_log.shown == [], dialog_log.shown


def test_bad_series_files_show_a_dialog_naming_the_file(qtbot, window, dialog_log, tmp_path):
    """Each bad series file is refused in a dialog that names it; the digits stay loaded and usable."""
    bad = {
        "ragged.csv": "label,t0,t1,t2\na,1,2,3\nb,1,2,3,4,5\n",
        "text.csv": "label,t0,t1,t2\na,1,2,3\nb,1,oops,3\n",
        "infinite.csv": "label,t0,t1,t2\na,1,2,3\nb,1,inf,3\n",
        "one_step.csv": "label,t0\na,1\nb,2\n",
        "broken.ts": "@problemName x\n@univariate maybe\n@data\n1,2,3:a\n",
    }
    panel = window.setup_tab.data
    for name, text in bad.items():
        path = tmp_path / name
        path.write_text(text)
        before = len(dialog_log.shown)
        with qtbot.waitSignal(panel.loading_changed, timeout=30_000, check_params_cb=lambda busy: not busy):
            panel.open_spec(f"series:{path}")
        assert len(dialog_log.shown) == before + 1, name
        kind, title, message, _ = dialog_log.shown[-1]
        assert kind == "user" and name in message, (name, message)
        assert panel.spec() == "digits" and panel.info.size == 1797
    np.save(tmp_path / "rank4.npy", np.zeros((3, 2, 2, 2, 2), dtype=np.float32))
    with qtbot.waitSignal(panel.loading_changed, timeout=30_000, check_params_cb=lambda busy: not busy):
        panel.open_spec(f"series:{tmp_path / 'rank4.npy'}")
    assert "rank4.npy" in dialog_log.shown[-1][2] and panel.spec() == "digits"
    assert window.actions["start"].isEnabled()
