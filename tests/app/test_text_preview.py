"""The "token_text" renderer on hand-made rows (the contract's format), offscreen: blanks, guesses with the
truth marked, continuations, neighbours, views with masked and deleted words, the text thumbnail painter,
and cards that keep their place and height as the guesses change."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from app.widgets.previews import PREVIEW_RENDERERS, PreviewPanel
from app.widgets.sample_thumbnails import TextThumbnails, decode_texts, thumbnail_painter
from app.widgets.text_preview import TextPreview, view_html

MASKED = {
    "kind": "masked",
    "text": "the [MASK] sat on the [MASK]",
    "slots": [
        {"truth": "cat", "top": [["dog", 0.30], ["cat", 0.25], ["man", 0.1], ["it", 0.05], ["he", 0.01]]},
        {"truth": "mat", "top": [["mat", 0.6], ["floor", 0.2]]},
    ],
}
ROWS = [
    MASKED,
    {"kind": "continuation", "prompt": "once upon a", "text": "time there", "truth": "time in a land"},
    {"kind": "neighbours", "word": "love", "top": [["life", 0.81], ["hate", 0.5]]},
    {"kind": "views", "texts": {"original": "a b c d", "view 1": "a [MASK] c d", "view 2": "a c d"}},
    {"kind": "embedding", "text": "just a sentence"},
]


def _preview(rows, kind="prediction"):
    return SimpleNamespace(kind=kind, images={}, captions={}, payload="token_text", meta={"text_rows": rows})


def test_every_kind_of_row_is_drawn(qtbot):
    assert PREVIEW_RENDERERS["token_text"] is TextPreview
    panel = PreviewPanel(8)
    qtbot.addWidget(panel)
    panel.resize(900, 700)
    panel.show()
    panel.show_preview(_preview(ROWS))
    r = panel.renderer
    assert isinstance(r, TextPreview) and r.columns() == 5
    assert r.rows() == ["masked", "continuation", "neighbours", "original", "view 1", "view 2", "embedding"]
    # blanks are numbered, each with its guesses; the truth is marked where the model guessed it
    sentence = r.card_text(0).splitlines()[0]
    assert "[MASK]" not in sentence and sentence.split() == ["the", "1", "sat", "on", "the", "2"]
    first, second = r.guesses(0)
    assert [t for t, _, _ in first] == ["dog", "cat", "man", "it", "he"]
    assert [truth for _, _, truth in first] == [False, True, False, False, False]
    assert second[0] == ("mat", 0.6, True) and len(second) == 2
    assert "time there" in r.card_text(1) and "actual: once upon a time in a land" in r.card_text(1)
    assert r.guesses(2) == [[("life", 0.81, False), ("hate", 0.5, False)]]
    assert "Words closest to love" in r.card_text(2)
    assert "just a sentence" in r.card_text(4)


def test_views_show_masked_and_deleted_words():
    from app.theme import LIGHT

    masked = view_html("a b c d", "a [MASK] c d", LIGHT)
    assert "[MASK]" in masked and "<s>" not in masked
    deleted = view_html("a b c d", "a c d", LIGHT)
    assert "<s>b</s>" in deleted


def test_cards_are_reused_and_keep_their_height(qtbot):
    r = TextPreview(8)
    qtbot.addWidget(r)
    r.resize(900, 600)
    r.show()
    r.set_rows([MASKED])
    qtbot.wait(20)
    card, height = r.cards[0], r.cards[0].sizeHint().height()
    later = {**MASKED, "slots": [{"truth": "cat", "top": [["cat", 0.9], ["dog", 0.05]]}, MASKED["slots"][1]]}
    r.set_rows([later])
    qtbot.wait(20)
    assert r.cards[0] is card and card.sizeHint().height() == height  # no jump as the guesses change
    assert r.guesses(0)[0][0] == ("cat", 0.9, True)
    r.set_rows([])
    assert r.columns() == 0 and not card.isVisible()


def test_text_thumbnails_draw_the_decoded_text(qtbot):
    texts = ["hello world, a short one", "é" * 3 + " accents", ""]
    raw = np.zeros((3, 40), dtype=np.uint8)
    for i, t in enumerate(texts):
        b = t.encode("utf-8")
        raw[i, : len(b)] = np.frombuffer(b, dtype=np.uint8)
    assert decode_texts(raw) == texts
    painter = thumbnail_painter("text")
    assert isinstance(painter, TextThumbnails) and painter.aspect > 1
    images = painter.paint(raw, 240, 100)
    assert [im.width() for im in images] == [240] * 3
    ink = [
        sum(im.pixel(x, y) >> 24 != 0 for x in range(0, 240, 2) for y in range(0, 100, 2)) for im in images
    ]
    assert ink[0] > 20 and ink[1] > 10  # text was drawn
    # a long text still fits: it ends in an ellipsis instead of running off the thumbnail
    long = painter.paint_text("word " * 400, 120, 50)
    assert long.height() == 50


def test_try_it_box_asks_on_a_worker_and_shows_errors_in_words(qtbot, tmp_path, monkeypatch):
    """The Try-it box against the try_text contract (the model faked): rows drawn by the same renderer,
    a UserError shown under the box in words, nothing asked without a run or a text."""
    from app.widgets import try_it
    from app.workers import JobRunner
    from ssl_core.errors import UserError

    def fake(run_dir, text, k, cached):
        if "[MASK]" not in text:
            raise UserError("This masked-token model needs a [MASK] in the sentence.")
        return ("key", SimpleNamespace(step=42), [{**MASKED, "text": text}])

    monkeypatch.setattr(try_it, "ask_model", fake)
    runner = JobRunner()
    box = try_it.TryItBox(runner)
    qtbot.addWidget(box)
    box.show()
    assert box.try_text("the [MASK] sat") is None and "first" in box.error_text()  # no run yet
    box.set_run_provider(lambda: tmp_path)
    assert box.edit.placeholderText() == "Type a sentence with [MASK], a prompt, or one word"
    assert box.try_text("   ") is None
    with qtbot.waitSignal(box.answered, timeout=10_000):
        box.try_text("the [MASK] sat on the [MASK]")
    qtbot.waitUntil(lambda: box.worker is None)
    assert box.result.isVisible() and box.result.columns() == 1
    assert box.result.guesses(0)[0][1] == ("cat", 0.25, True) and "step 42" in box.error_text()
    with qtbot.waitSignal(runner.idle, timeout=10_000):
        box.try_text("no blank here")
    assert "needs a [MASK]" in box.error_text() and box.button.isEnabled()
