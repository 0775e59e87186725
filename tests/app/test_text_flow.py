"""The teacher's flow on text, offscreen: open a small text file through the data panel, choose masked-token
modelling with a tiny Transformer, train, watch the masked-word guesses change, ask the Try-it box, hover a
sentence on the embedding map, evaluate; and bad text files refused in a dialog naming the file."""

from __future__ import annotations

import random

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from app.widgets.data_panel import is_text_spec
from tests.app.conftest import train_and_wait

ANIMALS = ["cat", "dog", "bird", "fish", "horse", "mouse"]
PLACES = ["mat", "sofa", "roof", "floor", "table", "bed"]
VERBS = ["sat", "slept", "jumped", "waited", "stood"]
FOODS = ["bread", "soup", "rice", "cheese", "apples", "cake"]
PEOPLE = ["i", "we", "they", "you", "she"]
N = 160


def write_corpus(path, n: int = N, seed: int = 0):
    """A CSV of n short sentences from a small grammar in two topics (the label column): the words repeat,
    so a tiny model learns in a few dozen steps, and a probe has something to tell apart."""
    rng = random.Random(seed)
    lines = ["text,label"]
    for i in range(n):
        if i % 2:
            lines.append(
                f"the {rng.choice(ANIMALS)} {rng.choice(VERBS)} on the {rng.choice(PLACES)} today,animals"
            )
        else:
            lines.append(
                f"{rng.choice(PEOPLE)} ate the {rng.choice(FOODS)} with some {rng.choice(FOODS)},food"
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _text_kind():
    from ssl_core.data import DATA_SOURCES

    return DATA_SOURCES.get("text")


def _open_file(qtbot, window, monkeypatch, path):
    """Open → Text → a file, as a person picks it in the file dialog."""
    panel = window.setup_tab.data
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    with qtbot.waitSignal(panel.loading_changed, timeout=60_000, check_params_cb=lambda busy: not busy):
        assert panel.browse(_text_kind()) is not None
    return panel


def test_text_setup_train_try_embeddings_evaluate(qtbot, window, dialog_log, monkeypatch, tmp_path):
    setup, panel = window.setup_tab, window.setup_tab.method
    # ---- the Open menu offers text, with the bundled fortunes -------------------------------------------
    data = setup.data
    data.engine_loaded()
    data._refresh_open_menu()
    menu = next(m for m in data._kind_menus if m.objectName() == "open_text")
    assert menu.title() == "Text" and "fortunes" in menu.menuAction().toolTip()
    entries = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert entries == ["fortunes", "Open a file…"], entries

    # ---- Setup: a small text file, opened through the panel ---------------------------------------------
    data = _open_file(qtbot, window, monkeypatch, write_corpus(tmp_path / "topics.csv"))
    assert dialog_log.shown == [], dialog_log.shown
    info = data.info
    assert info.modality == "text" and info.size == N and info.class_names == ["animals", "food"]
    assert f"{N} texts" in data.summary.text(), data.summary.text()
    assert data.samples_caption.text() == "Sample texts" and data.thumbnails.count() == 12
    assert not data.text_options.isHidden() and data.table_options.isHidden()
    assert data.colour_row.isHidden() and data.series_row.isHidden()
    options = data.text_options
    options.tokenizer_box.setCurrentIndex(options.tokenizer_box.findData("wordpiece"))
    qtbot.waitUntil(lambda: not data.loading, timeout=30_000)
    with qtbot.waitSignal(setup.data_info_loaded, timeout=30_000):
        options.length_box.setValue(16)
    qtbot.waitUntil(lambda: not data.loading, timeout=30_000)
    options.vocab_box.setValue(120)
    qtbot.waitUntil(lambda: not data.loading, timeout=30_000)
    assert dialog_log.shown == [], dialog_log.shown

    panel.set_method("masked_token")
    assert panel.available("masked_token")
    panel.set_backbone("text_transformer", {"layers": 1, "width": 32, "heads": 2})
    setup.training.epochs.setValue(60)
    setup.training.max_steps.setValue(50)
    setup.training.batch_size.setValue(32)
    setup.training.seed.setValue(0)
    cfg = setup.config(str(tmp_path / "runs"))
    assert (cfg.data.tokenizer, cfg.data.vocab_size, cfg.data.length) == ("wordpiece", 120, 16)
    # max tokens is data.length for text only: series opened next keep their own length
    assert data.series_options(text=False)["length"] is None
    assert is_text_spec("text:fortunes") and is_text_spec("/x/notes.txt") and not is_text_spec("series:a")

    # ---- Train: the live preview shows masked sentences whose guesses change ----------------------------
    train = window.train_tab
    seen: list[list] = []

    def record(_event):
        live = train.live_preview.renderer
        if live is not None and type(live).__name__ == "TextPreview" and live.columns():
            seen.append([live.guesses(i) for i in range(live.columns())])

    window.session.preview.connect(lambda ev: qtbot.wait(0) or record(ev))
    train_and_wait(qtbot, window, timeout=120_000)
    assert dialog_log.shown == [], dialog_log.shown
    live = train.live_preview.renderer
    assert type(live).__name__ == "TextPreview" and "masked" in live.rows()
    record(None)
    assert len(seen) >= 2 and seen[0] != seen[-1], seen  # the guesses moved as it learned
    guesses = live.guesses(0)
    assert guesses and all(0.0 <= p <= 1.0 for slot in guesses for _, p, _ in slot)

    # ---- Try it: a sentence with a blank, answered from the run's checkpoint ----------------------------
    views = window.views_tab
    window.tabs.setCurrentWidget(views)
    box = views.try_it
    assert box.isVisible() and "[MASK]" in box.edit.placeholderText()
    with qtbot.waitSignal(box.answered, timeout=60_000):
        box.try_text("the cat [MASK] on the mat today")
    qtbot.waitUntil(lambda: box.worker is None, timeout=10_000)
    answer = box.result.guesses(0)
    assert box.result.columns() == 1 and answer and len(answer[0]) >= 3, answer
    with qtbot.waitSignal(window.runner.idle, timeout=60_000):
        box.try_text("   the cat sat   ")
    assert box.error_text()  # answered or told why not, in words, without a dialog
    assert dialog_log.shown == [], dialog_log.shown

    # ---- Embeddings: one point per sentence; hover shows its text ---------------------------------------
    emb = window.embeddings_tab
    emb.projection.setCurrentIndex(emb.projection.findData("pca"))
    window.tabs.setCurrentWidget(emb)
    qtbot.waitUntil(lambda: emb.result is not None and not emb.busy, timeout=60_000)
    assert emb.scatter.point_count() == N
    rows, xy = emb.result.projections["pca"]
    target = int(np.argmax(xy[:, 0]))
    emb._hovered(target)
    sentence = emb.result.text_of(int(rows[target]))
    assert " the " in f" {sentence} " and sentence in emb.hover_text.text()
    assert f"text #{int(rows[target])}" in emb.hover_text.text()
    assert emb.hover_image.isHidden()  # the text is shown in words, not as a picture of words
    emb._clicked(target)
    assert emb.neighbours.count() == 1 + 8

    # ---- Embeddings, words mode: one point per frequent word, placed by the model's word vectors --------
    assert emb.points.isVisibleTo(emb)  # offered for text runs only
    emb.points.setCurrentIndex(emb.points.findData("words"))
    qtbot.waitUntil(
        lambda: emb.result is not None and emb.result.points == "words" and not emb.busy, timeout=60_000
    )
    vocabulary = set(
        ANIMALS + PLACES + VERBS + FOODS + PEOPLE + ["the", "on", "today", "ate", "with", "some"]
    )
    words = emb.result.source.texts()
    assert emb.scatter.point_count() == len(words) >= 10
    assert words[0] == "the"  # most frequent first
    # whole words of the corpus, or (small vocabulary) the first piece of one
    assert all(any(v.startswith(w) for v in vocabulary) for w in words if w.isalpha()), words
    emb._hovered(0)
    assert words[0] in emb.hover_text.text()
    emb.points.setCurrentIndex(emb.points.findData("samples"))
    qtbot.waitUntil(
        lambda: emb.result is not None and emb.result.points == "samples" and not emb.busy, timeout=60_000
    )
    assert emb.scatter.point_count() == N

    # ---- Evaluate: pretrained, random init and the TF-IDF baseline, on the held-out texts ---------------
    ev = window.evaluate_tab
    window.tabs.setCurrentWidget(ev)
    with qtbot.waitSignal(ev.evaluated, timeout=120_000):
        qtbot.mouseClick(ev.button, Qt.MouseButton.LeftButton)
    for key in ("pretrained", "random_init", "raw_input"):
        assert ev.view.accuracy(key, "probe") is not None, key
    assert ev.view.title("raw_input") == "TF-IDF"
    assert ev.view.confusion.shape == (2, 2)
    qtbot.waitUntil(lambda: not ev.busy)
    assert dialog_log.shown == [], dialog_log.shown


def test_bad_text_files_show_a_dialog_naming_the_file(qtbot, window, dialog_log, monkeypatch, tmp_path):
    """A Latin-1, a binary and an empty .txt are refused in a dialog naming the file; the digits stay."""
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("café au lait\nnaïve crème brûlée\n".encode("latin-1"))
    binary = tmp_path / "binary.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    panel = window.setup_tab.data
    for path in (latin, binary, empty):
        before = len(dialog_log.shown)
        _open_file(qtbot, window, monkeypatch, path)
        assert len(dialog_log.shown) == before + 1, path.name
        kind, _title, message, _ = dialog_log.shown[-1]
        assert kind == "user" and path.name in message, (path.name, message)
        assert panel.spec() == "digits" and panel.info.modality == "image"
    assert window.actions["start"].isEnabled()
