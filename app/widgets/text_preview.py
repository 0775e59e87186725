"""The "token_text" preview renderer: sentences and what the model makes of them, one card per row.

Registered for the "token_text" payload type in app/widgets/previews.py. A text Preview carries its rows
in `meta["text_rows"]` (the format is set by the text modality and ssl_core/eval/try_text.py):

- "masked": a sentence with [MASK] blanks (numbered and highlighted) and, per blank, the model's top
  guesses with probability bars; the true word is marked (✓, in green) wherever it appears;
- "continuation": a prompt, the model's continuation in the accent colour, and the actual rest (muted);
- "neighbours": a word and its nearest words with their similarities;
- "views": the original and the two views, masked tokens highlighted and deleted words struck through;
- "embedding": a sentence on its own (the embedding map's hover).

Cards are created once and reused as new rows arrive (a live preview updates a few times a second), and
each card keeps the height it needs for its kind, so rows do not jump as the guesses change.
"""

from __future__ import annotations

import difflib
import html
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.theme import Colors, current_colors, theme_manager
from app.widgets.preview_base import MAX_SAMPLES, PreviewRenderer

MASK = "[MASK]"
TOP_K = 5  # guesses shown per blank (the rows may carry more)
MAX_SLOTS = 4  # blanks with guess bars per sentence (more blanks are numbered, without bars)
SLOT_COLUMNS = 4
LIST_MAX_PX = 260  # a guess list's width: bars long enough to compare, short enough to read across
TRUTH_MARK = "✓"
KIND_TITLES = {
    "masked": "Fill in the blanks",
    "continuation": "Continue the text",
    "neighbours": "Nearest words",
    "views": "Views",
    "embedding": "Text",
}


def esc(text: Any) -> str:
    return html.escape(str(text), quote=False)


def _rgba(colour: str, alpha: int) -> str:
    c = QColor(colour)
    return f"rgba({c.red()},{c.green()},{c.blue()},{alpha / 255:.2f})"


def blank_html(number: int, colors: Colors) -> str:
    """A numbered blank, highlighted like the slot boxes' titles."""
    return (
        f"<span style='background-color:{_rgba(colors.warn, 70)}; color:{colors.text}'>"
        f"<u>&nbsp;&nbsp;&nbsp;<b>{number}</b>&nbsp;&nbsp;&nbsp;</u></span>"
    )


def masked_html(text: str, colors: Colors) -> str:
    """A sentence with its [MASK] tokens as numbered, highlighted blanks."""
    parts = str(text).split(MASK)
    out = [esc(parts[0])]
    for i, part in enumerate(parts[1:], start=1):
        out.append(blank_html(i, colors))
        out.append(esc(part))
    return "".join(out)


def view_html(original: str, view: str, colors: Colors) -> str:
    """A view of `original` word by word: [MASK] highlighted, words it lost struck through (red), words
    it changed underlined in the warning colour."""
    a, b = str(original).split(), str(view).split()
    out: list[str] = []
    mask = f"<span style='background-color:{_rgba(colors.warn, 70)}'>&nbsp;{esc(MASK)}&nbsp;</span>"
    gone = f"<span style='color:{colors.bad}; background-color:{_rgba(colors.bad, 30)}'><s>{{}}</s></span>"
    changed = f"<span style='color:{colors.warn}'><u>{{}}</u></span>"
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out += [esc(w) for w in b[j1:j2]]
            continue
        new = [mask if w == MASK else changed.format(esc(w)) for w in b[j1:j2]]
        lost = [gone.format(esc(w)) for w in a[i1:i2]]
        if op == "replace" and all(w == MASK for w in b[j1:j2]) and j2 - j1 == i2 - i1:
            lost = []  # masked in place: the blank says it all (the original row shows the word)
        out += lost + new
    return " ".join(out)


def continuation_html(row: dict, colors: Colors) -> str:
    prompt, text, truth = (str(row.get(k) or "") for k in ("prompt", "text", "truth"))
    lines = [
        f"<span style='color:{colors.text}'>{esc(prompt)}</span> "
        f"<span style='color:{colors.accent}'><b>{esc(text)}</b></span>"
    ]
    if truth:
        lines.append(f"<span style='color:{colors.muted}'>actual: {esc(prompt)} <i>{esc(truth)}</i></span>")
    return "<br>".join(lines)


class GuessBar(QWidget):
    """One guess: its token over a bar as long as its probability, the percentage on the right; the
    true token is marked with a tick and drawn in the 'good' colour."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.token, self.p, self.truth = "", 0.0, False
        self.similarity = False  # a cosine similarity (shown as 0.81), not a probability (81%)
        self.setMinimumWidth(120)
        self.setFixedHeight(self.fontMetrics().height() + 6)

    def set_guess(self, token: str, p: float, truth: bool) -> None:
        token, p = str(token), max(0.0, min(1.0, float(p)))
        if (token, p, truth) != (self.token, self.p, self.truth):
            self.token, self.p, self.truth = token, p, truth
            value = f"similarity {p:.3f}" if self.similarity else f"{p:.1%}"
            self.setToolTip(f"{token}: {value}" + (" (the true word)" if truth else ""))
            self.update()

    def text(self) -> str:
        return f"{TRUTH_MARK} {self.token}" if self.truth else self.token

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(170, self.height())

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        if not self.token:
            return
        colors = current_colors()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        fm = self.fontMetrics()
        pct_w = fm.horizontalAdvance("100%") + 6
        r = QRectF(0.5, 1.5, max(10.0, self.width() - pct_w - 1), self.height() - 3)
        path = QPainterPath()
        path.addRoundedRect(r, 3, 3)
        painter.fillPath(path, QColor(colors.alt_base))
        fill = QColor(colors.good if self.truth else colors.accent)
        fill.setAlpha(150 if self.truth else 95)
        bar = QPainterPath()
        bar.addRoundedRect(QRectF(r.left(), r.top(), max(2.0, r.width() * self.p), r.height()), 3, 3)
        painter.fillPath(bar, fill)
        font = QFont(self.font())
        font.setBold(self.truth)
        painter.setFont(font)
        painter.setPen(QColor(colors.text))
        label = fm.elidedText(self.text(), Qt.TextElideMode.ElideRight, int(r.width()) - 8)
        painter.drawText(
            r.adjusted(5, 0, -3, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, label
        )
        painter.setFont(self.font())
        painter.setPen(QColor(colors.muted))
        pct = f"{self.p:.0%}" if self.p >= 0.01 or self.p == 0 else "<1%"
        if self.similarity:
            pct = f"{self.p:.2f}"
        painter.drawText(
            QRectF(r.right(), 0, pct_w, self.height()),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
            pct,
        )
        painter.end()


class GuessList(QWidget):
    """A title ("blank 1 · true: cat") over the top guesses of one blank (or one word's neighbours)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMaximumWidth(LIST_MAX_PX)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.title)
        self.bars = [GuessBar() for _ in range(TOP_K)]
        for bar in self.bars:
            layout.addWidget(bar)
        layout.addStretch(1)

    def set_list(self, title: str, top: list, truth: str | None, similarity: bool = False) -> None:
        self.title.setText(title)
        for i, bar in enumerate(self.bars):
            bar.similarity = similarity
            if i < len(top):
                token, p = top[i][0], top[i][1]
                bar.set_guess(str(token), float(p), truth is not None and _same(token, truth))
                bar.show()
            else:
                bar.set_guess("", 0.0, False)
                bar.setVisible(bool(top))  # an empty place keeps its height: the list does not jump
                bar.setToolTip("")

    def guesses(self) -> list[tuple[str, float, bool]]:
        return [(b.token, b.p, b.truth) for b in self.bars if b.token]


def _same(token: Any, truth: Any) -> bool:
    """A guess is the truth when they match ignoring case and a word-piece marker ("##", "Ġ", "▁")."""

    def norm(s: Any) -> str:
        return str(s).strip().lower().removeprefix("##").lstrip("Ġ▁")

    return norm(token) == norm(truth) and norm(truth) != ""


class RowCard(QFrame):
    """One text row: a header, the sentence (rich text) and, for blanks and neighbours, guess lists."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("text_row")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.row: dict = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.setSpacing(4)
        self.header = QLabel()
        self.header.setProperty("role", "muted")
        self.body = QLabel()
        self.body.setObjectName("text_row_body")
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        big = QFont(self.body.font())
        big.setPointSizeF(big.pointSizeF() * 1.15)
        self.body.setFont(big)
        layout.addWidget(self.header)
        layout.addWidget(self.body)
        self.lists_box = QWidget()
        self.lists_layout = QGridLayout(self.lists_box)
        self.lists_layout.setContentsMargins(0, 2, 0, 0)
        self.lists_layout.setHorizontalSpacing(18)
        self.lists_layout.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.lists: list[GuessList] = []
        layout.addWidget(self.lists_box)

    def _list(self, i: int) -> GuessList:
        while len(self.lists) <= i:
            g = GuessList()
            n = len(self.lists)
            self.lists_layout.addWidget(g, n // SLOT_COLUMNS, n % SLOT_COLUMNS)
            self.lists.append(g)
        return self.lists[i]

    def set_row(self, label: str, row: dict, colors: Colors) -> None:
        self.row = row
        kind = str(row.get("kind", "embedding"))
        self.header.setText(f"{label} {KIND_TITLES.get(kind, kind)}")
        used = 0
        if kind == "masked":
            self.body.setText(masked_html(row.get("text", ""), colors))
            for i, slot in enumerate(list(row.get("slots") or [])[:MAX_SLOTS]):
                truth = slot.get("truth")
                title = f"<span style='background-color:{_rgba(colors.warn, 70)}'>&nbsp;{i + 1}&nbsp;</span>"
                if truth:
                    title += f" true: <b style='color:{colors.good}'>{esc(truth)}</b>"
                self._list(i).set_list(title, list(slot.get("top") or [])[:TOP_K], truth)
                used = i + 1
        elif kind == "neighbours":
            word = row.get("word", "")
            self.body.setText(f"Words closest to <b>{esc(word)}</b>")
            self._list(0).set_list("cosine similarity", list(row.get("top") or [])[:TOP_K], None, True)
            used = 1
        elif kind == "continuation":
            self.body.setText(continuation_html(row, colors))
        elif kind == "views":
            self.body.setText(self._views_html(dict(row.get("texts") or {}), colors))
        else:
            self.body.setText(esc(row.get("text", "")))
        for i, g in enumerate(self.lists):
            g.setVisible(i < used)
        self.lists_box.setVisible(used > 0)

    @staticmethod
    def _views_html(texts: dict, colors: Colors) -> str:
        original = str(texts.get("original", ""))
        lines = []
        for name, text in texts.items():
            shown = esc(text) if name == "original" else view_html(original, str(text), colors)
            lines.append(
                f"<tr><td style='color:{colors.muted}; padding-right:10px'>{esc(name)}</td>"
                f"<td>{shown}</td></tr>"
            )
        return "<table cellspacing='2'>" + "".join(lines) + "</table>"

    def plain_text(self) -> str:
        """What the card says, without markup (for tests and copying)."""
        doc = self.body.text()
        from PySide6.QtGui import QTextDocument

        d = QTextDocument()
        d.setHtml(doc)
        lines = [d.toPlainText()]
        for g in self.lists:
            if g.isVisibleTo(self):
                lines.append("; ".join(f"{'✓' if t else ''}{tok} {p:.0%}" for tok, p, t in g.guesses()))
        return "\n".join(lines)


class TextPreview(PreviewRenderer):
    """Text rows (meta["text_rows"]) as cards in a scroll area, reused from one update to the next."""

    reading_hint = (
        "Each card is one {noun}. Blanks are numbered; under each blank the model's top guesses, the bar "
        "as long as its probability, the true word ticked in green. Continuations show the model's text in "
        "colour after the prompt; in views, masked words are highlighted and deleted words struck through."
    )

    def __init__(self, max_samples: int = MAX_SAMPLES, parent: QWidget | None = None, label: str = ""):
        super().__init__(max_samples, parent)
        self.label = label  # each card's header starts with it ("Your text:"); empty: the card's number
        self._rows: list[dict] = []
        self.cards: list[RowCard] = []
        self.inner = QWidget()
        self.inner.setObjectName("text_preview")
        self.cards_layout = QVBoxLayout(self.inner)
        self.cards_layout.setContentsMargins(4, 4, 4, 4)
        self.cards_layout.setSpacing(6)
        self.cards_layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.inner)
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll)
        manager = theme_manager()
        if manager is not None:
            manager.changed.connect(self._theme_changed)  # a bound slot: disconnected when self is deleted

    # ---- what it shows -------------------------------------------------------------------------------
    def show_preview(self, preview: Any) -> None:
        meta = getattr(preview, "meta", None) or {}
        rows = meta.get("text_rows") if isinstance(meta, dict) else None
        self.set_rows(list(rows or []))

    def set_rows(self, rows: list[dict]) -> None:
        """Draw these rows (dicts in the "text_rows" format), reusing the cards already made."""
        self._rows = [r for r in rows if isinstance(r, dict)][: self.max_samples]
        self._redraw()

    def text_rows(self) -> list[dict]:
        return list(self._rows)

    def rows(self) -> list[str]:
        """The names of what is shown: the views' names for views, else the kinds of rows."""
        names: list[str] = []
        for row in self._rows:
            keys = list((row.get("texts") or {}).keys()) if row.get("kind") == "views" else [row.get("kind")]
            names += [str(k) for k in keys if str(k) not in names]
        return names

    def columns(self) -> int:
        return len(self._rows)

    def captions(self, name: str) -> list[str]:
        del name
        return []

    def card_text(self, i: int) -> str:
        return self.cards[i].plain_text() if 0 <= i < len(self._rows) else ""

    def guesses(self, i: int) -> list[list[tuple[str, float, bool]]]:
        """Per blank (or the neighbour list) of row i: (token, probability, is the truth) as drawn."""
        if not 0 <= i < len(self._rows):
            return []
        return [g.guesses() for g in self.cards[i].lists if g.isVisibleTo(self.cards[i])]

    # ---- drawing -------------------------------------------------------------------------------------
    def _theme_changed(self, _colors=None) -> None:
        self._redraw()

    def _redraw(self) -> None:
        colors = current_colors()
        bar = self.scroll.verticalScrollBar()
        keep = bar.value()
        while len(self.cards) < len(self._rows):
            card = RowCard()
            self.cards_layout.insertWidget(len(self.cards), card)
            self.cards.append(card)
        for i, card in enumerate(self.cards):
            if i < len(self._rows):
                card.set_row(self.label or f"{i + 1}.", self._rows[i], colors)
                card.show()
            else:
                card.hide()
        bar.setValue(keep)
