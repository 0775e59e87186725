"""A form built from a registry ParamSet: one editor per Param, with its range and help as a tooltip.

Labels and choices read in plain words ("Error measure": "Mean squared error"); the tooltips add the
technical names the config files use ("loss", "mse"), and an int setting whose 0 means "choose for me"
shows its `zero_label` ("Automatic") at 0. Values stay the config's tokens. A problem with a setting is
shown under it in words (`show_problems`), as the person types."""

from __future__ import annotations

import html
import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.widgets.field_errors import FieldErrors
from ssl_core.params import Param, ParamSet


class FloatSpin(QDoubleSpinBox):
    """A spin box that shows floats compactly (0.005, 1e-06) and steps log-scaled values by factors."""

    def __init__(self, log_scale: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.log_scale = log_scale
        self.setDecimals(10)
        self.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.setKeyboardTracking(False)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt API
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt API
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):  # Qt API
        stripped = text.strip().replace(",", ".")
        if stripped in ("", "-", ".", "-.", "+") or stripped.lower().endswith(("e", "e-", "e+")):
            return QValidator.State.Intermediate, text, pos
        try:
            value = float(stripped)
        except ValueError:
            return QValidator.State.Invalid, text, pos
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt API
        value = self.value()
        if self.log_scale and value > 0:
            self.setValue(value * (2.0**steps))  # log-scaled settings move by factors, not by 0.01s
        else:
            super().stepBy(steps)


def _tooltip(p: Param) -> str:
    parts = [p.help]
    if p.low is not None or p.high is not None:
        parts.append(f"Range: {_fmt(p.low)} to {_fmt(p.high)}.")
    if p.zero_label and p.kind == "int":
        parts.append(f"0: {p.zero_label}.")
    if p.choices:
        parts.append("Choices: " + ", ".join(p.choice_text(c) for c in p.choices) + ".")
    parts.append(f"Default: {p.value_words(p.default)}.")
    parts.append(f"In config files: {p.name}.")
    return "<p>" + html.escape(" ".join(x for x in parts if x), quote=False) + "</p>"


def _fmt(value: Any) -> str:
    if value is None:
        return "any"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


class ParamForm(QWidget):
    """Editors for one method's hyperparameters; `overrides()` gives what differs from the defaults."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._params: list[Param] = []
        self._editors: dict[str, QWidget] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self._form_host = QWidget()
        self._form = QFormLayout(self._form_host)
        self._form.setContentsMargins(0, 0, 0, 0)
        self._form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.errors = FieldErrors(self._form)
        outer.addWidget(self._form_host)
        row = QHBoxLayout()
        self.empty_label = QLabel("This method has no settings to tune.")
        self.empty_label.setProperty("role", "muted")
        self.reset_button = QPushButton("Reset to defaults")
        self.reset_button.setToolTip("Put every setting of this method back to the value from its paper.")
        self.reset_button.clicked.connect(self.reset_defaults)
        row.addWidget(self.empty_label)
        row.addStretch(1)
        row.addWidget(self.reset_button)
        outer.addLayout(row)

    # ---- building ----------------------------------------------------------------------------
    def set_params(self, param_set: ParamSet, values: dict[str, Any] | None = None) -> None:
        while self._form.rowCount():
            self._form.removeRow(0)
        self.errors.clear_rows()
        self._params = list(param_set)
        self._editors = {}
        for p in self._params:
            editor = self._make_editor(p)
            editor.setObjectName(f"param_{p.name}")
            editor.setToolTip(_tooltip(p))
            label = QLabel(p.title)
            label.setObjectName(f"label_{p.name}")
            label.setToolTip(_tooltip(p))
            self._form.addRow(label, editor)
            self.errors.add_row(p.name, editor)
            self._editors[p.name] = editor
        self.empty_label.setVisible(not self._params)
        self.reset_button.setEnabled(bool(self._params))
        self.set_values(values or {})

    def _make_editor(self, p: Param) -> QWidget:
        kind = p.kind
        if kind == "bool":
            editor = QCheckBox()
            editor.toggled.connect(self.changed)
        elif kind == "choice":
            editor = QComboBox()
            for choice in p.choices:  # plain words shown, the config's token kept as the item's data
                editor.addItem(p.choice_word(choice), choice)
                editor.setItemData(editor.count() - 1, p.choice_text(choice), Qt.ItemDataRole.ToolTipRole)
            editor.currentIndexChanged.connect(self.changed)
        elif kind == "int":
            editor = QSpinBox()
            editor.setRange(
                int(p.low) if p.low is not None else -(2**31),
                int(p.high) if p.high is not None else 2**31 - 1,
            )
            if p.zero_label and editor.minimum() == 0:
                editor.setSpecialValueText(p.zero_label)  # shown at 0, which means "choose for me"
            editor.setKeyboardTracking(True)  # each key checks the value, so problems show as one types
            editor.valueChanged.connect(self.changed)
        elif kind == "float":
            editor = FloatSpin(log_scale=p.log_scale)
            editor.setKeyboardTracking(True)
            editor.setRange(
                float(p.low) if p.low is not None else -1e12, float(p.high) if p.high is not None else 1e12
            )
            editor.valueChanged.connect(self.changed)
        else:
            editor = QLineEdit()
            editor.textEdited.connect(self.changed)  # checked as one types, like the spin boxes
        return editor

    # ---- values ------------------------------------------------------------------------------
    def set_values(self, values: dict[str, Any]) -> None:
        """Show the defaults, then the given values where they are valid (stale ones are ignored)."""
        for p in self._params:
            value = values.get(p.name, p.default)
            try:
                value = p.coerce(value)
            except Exception:  # a value saved for an older version of the method: keep the default
                value = p.default
            self._set_editor(p, value)

    def _set_editor(self, p: Param, value: Any) -> None:
        editor = self._editors[p.name]
        if isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QComboBox):
            editor.setCurrentIndex(max(0, editor.findData(value)))
        elif isinstance(editor, QSpinBox | QDoubleSpinBox):
            editor.setValue(value)
        else:
            editor.setText(str(value))

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for p in self._params:
            editor = self._editors[p.name]
            if isinstance(editor, QCheckBox):
                out[p.name] = editor.isChecked()
            elif isinstance(editor, QComboBox):
                out[p.name] = editor.currentData()
            elif isinstance(editor, QSpinBox):
                out[p.name] = int(editor.value())
            elif isinstance(editor, QDoubleSpinBox):
                out[p.name] = float(editor.value())
            else:
                out[p.name] = editor.text()
        return out

    def overrides(self) -> dict[str, Any]:
        """Only the values that differ from the method's defaults (what a config file stores)."""
        result = {}
        current = self.values()
        for p in self._params:
            value = current[p.name]
            default = p.default
            if isinstance(default, float) and isinstance(value, float):
                if math.isclose(value, default, rel_tol=1e-9, abs_tol=1e-12):
                    continue
            elif value == default:
                continue
            result[p.name] = value
        return result

    def reset_defaults(self) -> None:
        self.set_values({})
        self.changed.emit()

    def editor(self, name: str) -> QWidget:
        return self._editors[name]

    def label(self, name: str) -> QWidget | None:
        """The label in front of a setting's editor."""
        return self._form.labelForField(self._editors[name])

    def show_problems(self, problems: dict[str, str]) -> None:
        """Show each setting's problem (by Param name) under it; clear the others."""
        self.errors.show(problems)

    def problems_shown(self) -> dict[str, str]:
        return self.errors.shown()
