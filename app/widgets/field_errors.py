"""Problems shown where they are: a line in words under the field of a form that has one, in the theme's
"bad" colour, and the field marked (its value in that colour, property invalid=true, its tooltip
leading with the problem).

    errors = FieldErrors(form)
    form.addRow(label, editor)
    errors.add_row("patch_size", editor)  # a hidden row under the field, for its problem
    errors.show({"patch_size": "The image size 8 is not a multiple of the patch size 3: ..."})
    errors.show({})  # fixed: every line hidden, every mark cleared
"""

from __future__ import annotations

import html

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QFormLayout, QLabel, QSizePolicy, QWidget

from app.theme import current_colors

TIP_KEY = "plain_tooltip"  # the field's own tooltip, kept while a problem leads it


class FieldErrors:
    """The error lines of one QFormLayout, one per field, keyed by the field's setting name."""

    def __init__(self, form: QFormLayout):
        self._form = form
        self._rows: dict[str, tuple[QWidget, QLabel]] = {}
        self._shown: dict[str, str] = {}
        self._hidden: set[str] = set()  # fields whose rows the form hides (e.g. image size for series)

    def add_row(self, key: str, editor: QWidget) -> QLabel:
        """A hidden line under `editor` (the row just added to the form) for the problem of `key`."""
        line = QLabel()
        line.setObjectName(f"error_{key.replace('.', '_')}")
        line.setProperty("role", "error")
        line.setWordWrap(True)
        line.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)  # wide, few lines
        self._form.addRow("", line)
        self._form.setRowVisible(line, False)
        self._rows[key] = (editor, line)
        return line

    def clear_rows(self) -> None:
        """Forget the rows (the form is being rebuilt; its rows are removed by the caller)."""
        self._rows.clear()
        self._shown.clear()
        self._hidden.clear()

    def set_field_shown(self, key: str, shown: bool) -> None:
        """The form shows or hides a field's row: its problem line follows (a hidden field shows none)."""
        if shown:
            self._hidden.discard(key)
        else:
            self._hidden.add(key)
        self.refresh()

    def keys(self) -> list[str]:
        return list(self._rows)

    def show(self, problems: dict[str, str]) -> None:
        """Show each field's problem under it and mark the field; clear the fields without one."""
        self._shown = {k: v for k, v in problems.items() if k in self._rows}
        bad = QColor(current_colors().bad)  # shown again when the theme changes, in its colour
        for key, (editor, line) in self._rows.items():
            words = self._shown.get(key, "")
            line.setText(words)
            if words:
                palette = line.palette()
                palette.setColor(QPalette.ColorRole.WindowText, bad)
                line.setPalette(palette)
            self._form.setRowVisible(line, bool(words) and key not in self._hidden)
            mark(editor, words)

    def refresh(self) -> None:
        """Show again what was shown (a field's row was hidden or shown)."""
        self.show(dict(self._shown))

    def shown(self) -> dict[str, str]:
        """The problems shown now (under a field whose row is shown), by field."""
        return {k: v for k, v in self._shown.items() if k not in self._hidden}

    def line(self, key: str) -> QLabel:
        return self._rows[key][1]


def mark(editor: QWidget, problem: str) -> None:
    """Mark a field as wrong (or not): a property a style sheet can draw, and its tooltip leads with it."""
    if editor.property(TIP_KEY) is None:
        editor.setProperty(TIP_KEY, editor.toolTip())
    plain = editor.property(TIP_KEY) or ""
    was = bool(editor.property("invalid"))
    editor.setProperty("invalid", bool(problem))
    editor.setToolTip(f"<p><b>{html.escape(problem, quote=False)}</b></p>{plain}" if problem else plain)
    if was != bool(problem):
        # The wrong value in the "bad" colour. A palette, not a style-sheet border: a border on a spin
        # box or combo box makes Qt draw their arrows as plain boxes. An empty palette inherits again.
        palette = QPalette()
        if problem:
            palette = editor.palette()
            palette.setColor(QPalette.ColorRole.Text, QColor(current_colors().bad))
        editor.setPalette(palette)
