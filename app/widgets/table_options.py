"""The Setup panel's options for tables: which column holds the labels, how each column is used, and
whether training sees every row or only the normal ones (anomaly detection).

The column list shows what the engine inferred for each column of the file (numeric, categorical,
boolean; identifier-like, constant and label columns left out, with the reason) and lets a person
override it: treat a column as categorical, or leave it out. Changing the label column or a column's use
opens the data again (`reopen`); the normal-class choice only changes the run's config (`changed`).
The choices map one to one onto the config's [data] settings (label_column, ignore_columns,
categorical, train_on, normal_classes), so a GUI session saved as a config file re-runs in the CLI.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ssl_core.config_schema import SCHEMA

INFERRED = ""  # the combo entry that leaves a choice to the engine
USE_AUTO, USE_CATEGORICAL, USE_IGNORED = "auto", "categorical", "ignored"
USE_WORDS = {USE_AUTO: "As inferred", USE_CATEGORICAL: "Categorical", USE_IGNORED: "Leave out"}
KIND_WORDS = {
    "numeric": "numeric",
    "boolean": "yes / no",
    "categorical": "categorical",
    "label": "label",
    "identifier": "row id",
    "constant": "constant",
    "ignored": "left out",
}
COLUMNS_SHOWN = 2000  # a table with more columns lists the first ones (the rest keep their inferred use)


def table_schema(info: Any) -> dict | None:
    """The column schema a table source put in its DataInfo (see ssl_core/data/table_schema.py)."""
    extra = getattr(info, "extra", None) or {}
    schema = extra.get("table")
    return schema if isinstance(schema, dict) else None


def column_rows(schema: dict) -> list[tuple[str, str, str]]:
    """(name, kind, detail) for every column of the file, features first in their order, then the others."""
    rows: list[tuple[str, str, str]] = []
    for col in schema.get("columns", []):
        kind = str(col.get("kind", "numeric"))
        details = []
        if kind == "categorical":
            details.append(f"{len(col.get('categories', []))} categories")
        if int(col.get("missing", 0) or 0):
            details.append(f"{int(col['missing']):,} missing")
        rows.append((str(col.get("name")), kind, ", ".join(details)))
    for col in schema.get("dropped", []):
        rows.append((str(col.get("name")), str(col.get("kind", "ignored")), str(col.get("reason", ""))))
    return rows


class TableOptions(QWidget):
    """Label column, per-column use and the anomaly-training choice for a loaded table."""

    reopen = Signal()  # the data must be opened again with the new options
    changed = Signal()  # a run setting changed that needs no reopening

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("table_options")
        self._class_names: list[str] = []
        self._uses: dict[str, str] = {}  # column -> USE_CATEGORICAL / USE_IGNORED (overrides only)
        self._normal: list[str] = []
        self._label = ""  # the label column a person chose ("" leaves it to the engine)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        self.label_box = QComboBox()
        self.label_box.setObjectName("table_label_column")
        self.label_box.setToolTip(_tip("data.label_column"))
        self.label_box.activated.connect(lambda _: self.reopen.emit())
        label_title = QLabel(SCHEMA["data.label_column"].title)
        label_title.setToolTip(_tip("data.label_column"))
        form.addRow(label_title, self.label_box)

        train_row = QHBoxLayout()
        self.train_on_box = QComboBox()
        self.train_on_box.setObjectName("table_train_on")
        field = SCHEMA["data.train_on"]
        for value, word in zip(field.choices, field.choice_words, strict=True):
            self.train_on_box.addItem(word.capitalize(), value)
        self.train_on_box.setToolTip(_tip("data.train_on"))
        self.train_on_box.currentIndexChanged.connect(lambda _: self._train_on_changed())
        self.normal_button = QToolButton()
        self.normal_button.setObjectName("table_normal_classes")
        self.normal_button.setToolTip(_tip("data.normal_classes"))
        self.normal_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.normal_menu = QMenu(self.normal_button)
        self.normal_button.setMenu(self.normal_menu)
        train_row.addWidget(self.train_on_box, 1)
        train_row.addWidget(self.normal_button)
        train_title = QLabel(field.title)
        train_title.setToolTip(_tip("data.train_on"))
        form.addRow(train_title, train_row)
        layout.addLayout(form)

        self.columns = QTableWidget(0, 3)
        self.columns.setObjectName("table_columns")
        self.columns.setHorizontalHeaderLabels(["Column", "Inferred", "Use"])
        self.columns.verticalHeader().hide()
        self.columns.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.columns.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        header = self.columns.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.columns.verticalHeader().setDefaultSectionSize(26)
        # Room for about six columns; longer tables scroll.
        self.columns.setMinimumHeight(190)
        self.columns.setMaximumHeight(190)
        layout.addWidget(self.columns)
        self._update_normal_button()

    # ---- showing a loaded table ---------------------------------------------------------------
    def set_info(self, info: Any) -> None:
        """Show the columns of a freshly opened table (its schema says what was inferred)."""
        schema = table_schema(info) or {}
        self._class_names = [str(c) for c in getattr(info, "class_names", [])]
        self._normal = [c for c in self._normal if c in self._class_names]
        names = [str(n) for n in schema.get("file_columns", [])] or [r[0] for r in column_rows(schema)]
        self.label_box.blockSignals(True)
        self.label_box.clear()
        current = schema.get("label_column")
        self.label_box.addItem(f"Inferred ({current})" if current else "Inferred (none found)", INFERRED)
        for name in names:
            self.label_box.addItem(name, name)
        chosen = self._label
        self.label_box.setCurrentIndex(max(0, self.label_box.findData(chosen)) if chosen else 0)
        self.label_box.blockSignals(False)
        self._fill_columns(schema)
        self._update_normal_button()

    def _fill_columns(self, schema: dict) -> None:
        rows = column_rows(schema)[:COLUMNS_SHOWN]
        self.columns.setRowCount(len(rows))
        for r, (name, kind, detail) in enumerate(rows):
            item = QTableWidgetItem(name)
            item.setToolTip(html.escape(name))
            self.columns.setItem(r, 0, item)
            inferred = QTableWidgetItem(KIND_WORDS.get(kind, kind))
            inferred.setToolTip(detail or KIND_WORDS.get(kind, kind))
            if detail:
                inferred.setText(f"{KIND_WORDS.get(kind, kind)} ({detail})")
            self.columns.setItem(r, 1, inferred)
            if kind == "label":
                self.columns.setCellWidget(r, 2, QLabel("labels"))
                continue
            use = QComboBox()
            use.setObjectName(f"use_{name}")
            for value in (USE_AUTO, USE_CATEGORICAL, USE_IGNORED):
                use.addItem(USE_WORDS[value], value)
            use.setCurrentIndex(max(0, use.findData(self._uses.get(name, USE_AUTO))))
            use.currentIndexChanged.connect(
                lambda _, n=name, box=use: self._use_changed(n, box.currentData())
            )
            self.columns.setCellWidget(r, 2, use)

    def _use_changed(self, name: str, use: str) -> None:
        if use == USE_AUTO:
            self._uses.pop(name, None)
        else:
            self._uses[name] = use
        self.reopen.emit()

    def _train_on_changed(self) -> None:
        self._update_normal_button()
        self.changed.emit()

    def _update_normal_button(self) -> None:
        normal_only = self.train_on_box.currentData() == "normal"
        self.normal_button.setEnabled(normal_only and bool(self._class_names))
        self.normal_menu.clear()
        for name in self._class_names:
            action = self.normal_menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(name in self._normal)
            action.toggled.connect(lambda on, n=name: self._normal_toggled(n, on))
        if self._normal:
            text = ", ".join(self._normal[:3]) + (" …" if len(self._normal) > 3 else "")
        else:
            text = "Most common class"
        self.normal_button.setText(f"Normal: {text}")

    def _normal_toggled(self, name: str, on: bool) -> None:
        chosen = set(self._normal) | {name} if on else set(self._normal) - {name}
        self._normal = [c for c in self._class_names if c in chosen]
        self._update_normal_button()
        self.changed.emit()

    # ---- the settings, as the config and open_source take them -------------------------------------
    def open_options(self) -> dict[str, Any]:
        """What opening the table needs: label column and per-column overrides (only those a person set)."""
        if self.label_box.count():
            self._label = self.label_box.currentData() or ""
        return {
            "label_column": self._label or None,
            "ignore_columns": sorted(n for n, u in self._uses.items() if u == USE_IGNORED),
            "categorical": sorted(n for n, u in self._uses.items() if u == USE_CATEGORICAL),
        }

    def run_options(self) -> dict[str, Any]:
        """The anomaly-training choice: train_on and normal_classes."""
        return {"train_on": self.train_on_box.currentData(), "normal_classes": list(self._normal)}

    def set_options(self, data: Any) -> None:
        """Show a config's [data] table settings (applied when the table opens)."""
        self._label = getattr(data, "label_column", None) or ""
        self._uses = {name: USE_IGNORED for name in getattr(data, "ignore_columns", [])}
        self._uses.update({name: USE_CATEGORICAL for name in getattr(data, "categorical", [])})
        self._normal = [str(c) for c in getattr(data, "normal_classes", [])]
        self.train_on_box.blockSignals(True)
        self.train_on_box.setCurrentIndex(
            max(0, self.train_on_box.findData(getattr(data, "train_on", "all")))
        )
        self.train_on_box.blockSignals(False)
        self._update_normal_button()


def _tip(key: str) -> str:
    return f"<p>{html.escape(SCHEMA[key].describe(), quote=False)}</p>"
