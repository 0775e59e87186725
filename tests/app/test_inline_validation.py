"""Setup without traps: problems show in words beside their field as one types and keep Start off until
fixed; a patch size of 0 reads "Automatic"; choices read in plain words and store the config's tokens;
every label in Setup explains itself in a tooltip."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QComboBox, QFormLayout, QLabel

from app.theme import LIGHT


def _type(qtbot, spin, text: str) -> None:
    """Select the spin box's text and type `text`, as a person does (no Enter)."""
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, text)
    QApplication.processEvents()


def test_a_patch_size_that_does_not_fit_shows_words_beside_it_and_keeps_start_off(qtbot, window):
    setup = window.setup_tab
    start = window.actions["start"]
    setup.method.set_method("mae")
    setup.training.image_size.setValue(8)
    assert start.isEnabled() and setup.start_blocker() == ""
    patch = setup.method.params.editor("patch_size")
    line = setup.method.params.errors.line("patch_size")
    assert not line.isVisibleTo(window)

    _type(qtbot, patch, "3")  # typed, not yet confirmed with Enter
    words = "The image size 8 is not a multiple of the patch size 3"
    assert words in line.text() and "(2, 4 or 8), or Automatic" in line.text()
    assert line.isVisibleTo(window)
    assert line.palette().color(line.foregroundRole()).name() == LIGHT.bad.lower()
    assert patch.property("invalid") is True and words in patch.toolTip()
    assert patch.palette().color(QPalette.ColorRole.Text).name() == LIGHT.bad.lower()  # the value in red
    assert "data.image_size" not in line.text() and "patch_size" not in line.text()  # words, not keys
    assert not start.isEnabled()
    assert words in start.toolTip() and "Patch size" in start.toolTip()

    setup.training.image_size.setValue(12)  # another field fixes it: the line and the block go
    assert not line.isVisibleTo(window) and start.isEnabled()
    setup.training.image_size.setValue(8)
    assert line.isVisibleTo(window) and not start.isEnabled()

    _type(qtbot, patch, "4")
    assert not line.isVisibleTo(window) and line.text() == ""
    assert patch.property("invalid") is False and words not in patch.toolTip()
    assert patch.palette().color(QPalette.ColorRole.Text).name() != LIGHT.bad.lower()
    assert start.isEnabled() and setup.start_blocker() == ""
    assert "Fix this first" not in start.toolTip()


def test_switching_method_clears_its_problems_and_back_shows_them(qtbot, window):
    setup = window.setup_tab
    start = window.actions["start"]
    setup.method.set_method("mae", {"patch_size": 3})
    setup.training.image_size.setValue(8)
    assert not start.isEnabled()
    setup.method.set_method("simclr")
    assert start.isEnabled() and setup.start_blocker() == ""
    setup.method.set_method("mae")  # its edited patch size comes back, and so does the problem
    assert "patch size 3" in setup.method.params.errors.line("patch_size").text()
    assert not start.isEnabled()


def test_a_problem_of_the_image_size_shows_under_the_image_size(qtbot, window):
    setup = window.setup_tab
    setup.method.set_method("mae")
    setup.training.image_size.setValue(13)  # prime: no patch of 2 px or more fits automatically
    line = setup.training.errors.line("data.image_size")
    assert line.isVisibleTo(window) and "multiple of 2, e.g. 12" in line.text()
    assert setup.training.image_size.property("invalid") is True
    assert not window.actions["start"].isEnabled()
    setup.training.image_size.setValue(12)
    assert not line.isVisibleTo(window) and window.actions["start"].isEnabled()


def test_a_patch_size_of_zero_reads_automatic(qtbot, window):
    setup = window.setup_tab
    setup.method.set_method("mae")
    patch = setup.method.params.editor("patch_size")
    patch.setValue(0)
    assert patch.text() == "Automatic"
    assert setup.method.overrides() == {}  # the config still holds 0
    assert "0: Automatic" in patch.toolTip()
    setup.method.set_method("cpc")
    assert setup.method.params.editor("window").text() == "Automatic"


def test_choices_read_in_plain_words_and_store_the_tokens(qtbot, window):
    setup = window.setup_tab
    setup.method.set_method("denoising_autoencoder")
    corruption: QComboBox = setup.method.params.editor("corruption")
    texts = [corruption.itemText(i) for i in range(corruption.count())]
    assert "Gaussian noise" in texts and "Salt-and-pepper noise" in texts
    assert corruption.itemData(0, Qt.ItemDataRole.ToolTipRole) == "Gaussian noise (gaussian)"
    assert "Gaussian noise (gaussian)" in corruption.toolTip()  # the field's tooltip names the tokens
    loss: QComboBox = setup.method.params.editor("loss")
    assert loss.currentText() == "Mean squared error"
    loss.setCurrentIndex(loss.findText("Mean absolute error"))
    corruption.setCurrentIndex(corruption.findText("Salt-and-pepper noise"))
    assert setup.method.overrides() == {"loss": "l1", "corruption": "salt_and_pepper"}
    cfg = setup.snapshot("")
    assert cfg.method.params == {"loss": "l1", "corruption": "salt_and_pepper"}
    setup.method.set_method("simclr")
    setup.load_config(cfg)  # a config's tokens come back as the plain words
    params = setup.method.params
    assert params.editor("corruption").currentText() == "Salt-and-pepper noise"
    assert params.editor("loss").currentText() == "Mean absolute error"


def test_labels_read_in_plain_words_with_the_technical_name_in_the_tooltip(qtbot, window):
    setup = window.setup_tab
    setup.method.set_method("simclr")
    label = setup.method.params.label("proj_hidden_dim")
    assert label.text() == "Projection head width"
    assert "proj_hidden_dim" in label.toolTip()
    assert "train.seed" in setup.training.labels["train.seed"].toolTip()


def _form_labels(widget) -> list[QLabel]:
    """The labels of every form row under `widget` (shown ones, with text)."""
    labels = []
    for form in widget.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            label = item.widget() if item is not None else None
            if isinstance(label, QLabel) and label.text():
                labels.append(label)
    return labels


def test_every_label_in_setup_has_a_tooltip(qtbot, window):
    setup = window.setup_tab
    for name in ("simclr", "mae", "denoising_autoencoder", "jigsaw"):
        setup.method.set_method(name)
        QApplication.processEvents()
        labels = _form_labels(setup) + [
            w for w in setup.data.findChildren(QLabel) if w.buddy() is None and w.text() in _titles(setup)
        ]
        assert labels
        missing = [label.text() for label in labels if not label.toolTip()]
        assert missing == [], (name, missing)


def _titles(setup) -> set[str]:
    from ssl_core.config_schema import SCHEMA

    return {f.title for f in SCHEMA.values()}
