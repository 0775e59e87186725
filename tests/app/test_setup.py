"""Setup panel: opening data (good and bad), the method form, settings that persist, themes, help."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.app.conftest import close_window, make_window


def _wait_loaded(qtbot, window, spec: str):
    panel = window.setup_tab.data
    # connect before starting: a fast job could end before a later waitSignal is listening
    with qtbot.waitSignal(panel.loading_changed, timeout=30_000, check_params_cb=lambda busy: not busy):
        assert panel.open_spec(spec) is not None
    return panel


def test_invalid_folder_shows_a_dialog_and_the_app_stays_usable(qtbot, window, dialog_log, tmp_path):
    missing = tmp_path / "no-such-folder"
    panel = _wait_loaded(qtbot, window, f"folder:{missing}")
    assert len(dialog_log.shown) == 1
    kind, title, message, _ = dialog_log.shown[0]
    assert kind == "user" and title == "Cannot open this data"
    assert str(missing) in message  # names the path
    # the previous data is still loaded and training can start
    assert panel.spec() == "digits" and panel.info.size == 1797
    assert window.actions["start"].isEnabled()

    empty = tmp_path / "only-text"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    _wait_loaded(qtbot, window, f"folder:{empty}")
    assert len(dialog_log.shown) == 2 and str(empty) in dialog_log.shown[1][2]
    assert panel.spec() == "digits"


def test_image_folder_with_classes_and_a_corrupt_file(qtbot, window, dialog_log, tmp_path):
    root = tmp_path / "shapes"
    rng = np.random.default_rng(0)
    for cls in ("circles", "squares"):
        (root / cls).mkdir(parents=True)
        for i in range(6):
            arr = rng.integers(0, 255, size=(20, 20, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / cls / f"{i}.png")
    (root / "squares" / "broken.png").write_bytes(b"this is not a png")
    panel = _wait_loaded(qtbot, window, f"folder:{root}")
    assert dialog_log.shown == []
    assert panel.info.size == 12 and panel.info.has_labels
    text = panel.summary.text()
    assert "12 images" in text and "2 classes" in text and "circles" in text
    assert "Skipped 1" in text and "broken.png" in text
    assert panel.thumbnails.count() == 12
    # colour data: the colour-only method is now selectable without a warning
    window.setup_tab.method.set_method("colorization")
    assert window.setup_tab.method.unavailable_reason() is None


def test_array_file(qtbot, window, dialog_log, tmp_path):
    images = (np.random.default_rng(1).random((30, 16, 16)) > 0.5).astype(np.uint8) * 255
    path = tmp_path / "blobs.npz"
    np.savez(path, images=images, labels=np.arange(30) % 3)
    panel = _wait_loaded(qtbot, window, f"npz:{path}")
    assert dialog_log.shown == []
    assert panel.info.size == 30 and panel.info.num_classes == 3
    assert panel.spec() == f"npz:{path}"
    assert panel.recent[0] == f"npz:{path}" and "digits" in panel.recent


def test_param_form_from_registry(qtbot):
    from app.widgets.param_form import ParamForm
    from ssl_core.params import Param, params

    form = ParamForm()
    qtbot.addWidget(form)
    ps = params(
        Param("temperature", 0.5, "Softmax temperature.", low=0.01, high=2.0, log_scale=True),
        Param("queue", 4096, "Queue length.", low=256, high=65536),
        Param("loss", "mse", "Reconstruction loss.", choices=("mse", "bce")),
        Param("norm_pix", False, "Normalise targets."),
    )
    form.set_params(ps, {"queue": 1024, "unknown": 3, "temperature": 99.0})  # stale values are ignored
    assert form.values() == {"temperature": 0.5, "queue": 1024, "loss": "mse", "norm_pix": False}
    assert form.overrides() == {"queue": 1024}
    temp = form.editor("temperature")
    assert (temp.minimum(), temp.maximum()) == (0.01, 2.0)
    assert "Softmax temperature." in temp.toolTip() and "0.01 to 2" in temp.toolTip()
    temp.stepBy(1)  # log-scaled: doubles rather than adding 0.01
    assert abs(temp.value() - 1.0) < 1e-9
    form.editor("loss").setCurrentIndex(1)
    form.editor("norm_pix").setChecked(True)
    assert form.overrides() == {"temperature": 1.0, "queue": 1024, "loss": "bce", "norm_pix": True}
    form.reset_defaults()
    assert form.overrides() == {}


def test_choices_persist_between_sessions(qtbot, settings_path, runs_dir, dialog_log, tmp_path):
    first = make_window(qtbot, settings_path, runs_dir)
    first.setup_tab.method.set_method("byol")
    first.setup_tab.training.epochs.setValue(4)
    first.setup_tab.training.seed.setValue(11)
    first.resize(1111, 777)
    first.tabs.setCurrentWidget(first.runs_tab)
    first.set_theme("dark")
    close_window(qtbot, first)
    assert settings_path.is_file()

    second = make_window(qtbot, settings_path, runs_dir)
    try:
        assert second.setup_tab.method.method() == "byol"
        assert second.setup_tab.training.epochs.value() == 4
        assert second.setup_tab.training.seed.value() == 11
        assert second.tabs.currentWidget() is second.runs_tab
        assert (second.width(), second.height()) == (1111, 777)
        assert second.prefs.get("theme") == "dark"
    finally:
        second.set_theme("light")
        close_window(qtbot, second)


def test_damaged_settings_fall_back_to_defaults(qtbot, settings_path, runs_dir, dialog_log):
    settings_path.parent.mkdir(parents=True, exist_ok=True)
    settings_path.write_text(
        '[setup]\nconfig="{\\"method\\": {\\"name\\": 5, \\"bogus\\": 1}}"\n[window]\ntab=garbage\n'
    )
    window = make_window(qtbot, settings_path, runs_dir)
    try:
        assert window.setup_tab.method.method() == "simclr"
        assert window.setup_tab.data.spec() == "digits"
        assert dialog_log.shown == []
    finally:
        close_window(qtbot, window)


def test_theme_switch_recolours_app_and_plots(qtbot, window, qapp):
    from app.theme import DARK, LIGHT, theme_manager

    window.set_theme("dark")
    assert theme_manager().colors is DARK
    assert qapp.palette().window().color().name() == DARK.window
    assert window.train_tab.loss_plot.backgroundBrush().color().name() == DARK.plot_bg
    assert window.actions["theme_dark"].isChecked() or window.prefs.get("theme") == "dark"
    window.set_theme("light")
    assert qapp.palette().window().color().name() == LIGHT.window
    assert window.train_tab.loss_plot.backgroundBrush().color().name() == LIGHT.plot_bg


def test_help_page_explains_ssl(qtbot, window):
    from app.help import IntroDialog

    dialog = IntroDialog(window)
    qtbot.addWidget(dialog)
    text = dialog.browser.toPlainText()
    assert "self-supervised" in text.lower() and "linear probe" in text.lower()
    assert window.actions["intro"].shortcut().toString() == "F1"
    assert window.actions["start"].shortcut().toString() == "Ctrl+R"
    assert window.actions["stop"].shortcut().toString() == "Esc"
