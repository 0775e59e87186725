"""The method part of Setup: methods grouped by family with a plain description, the backbone, and a
hyperparameter form generated from the registry."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QFont, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.widgets.param_form import ParamForm

FAMILY_TITLES = {
    "contrastive": "Contrastive",
    "self-distillation": "Self-distillation",
    "redundancy reduction": "Redundancy reduction",
    "generative": "Generative (reconstruction)",
    "pretext": "Pretext tasks",
}
NAME_ROLE = Qt.ItemDataRole.UserRole


def _methods():
    from ssl_core.methods import METHODS

    return METHODS


def _backbones():
    from ssl_core.models.backbones import BACKBONES

    return BACKBONES


def method_html(spec: Any, reason: str | None = None) -> str:
    family = FAMILY_TITLES.get(spec.family, spec.family.capitalize())
    parts = [
        f"<p style='margin:0'><b style='font-size:14px'>{html.escape(spec.title)}</b>"
        f" &nbsp;<span style='color:gray'>{html.escape(family)}</span></p>",
        f"<p><i>{html.escape(spec.summary)}</i></p>",
        f"<p>{html.escape(spec.description)}</p>",
    ]
    if spec.paper:
        parts.append(f"<p style='color:gray'>Paper: {html.escape(spec.paper)}</p>")
    if reason:
        parts.append(
            f"<p style='color:#c62828'><b>Not available for this data:</b> {html.escape(reason)}</p>"
        )
    return "".join(parts)


class MethodPanel(QWidget):
    """Emits `method_changed(name)`; remembers edited settings per method while the app runs."""

    method_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._info: Any = None
        self._current = ""
        self._edited: dict[str, dict[str, Any]] = {}

        self.tree = QTreeWidget()
        self.tree.setObjectName("method_tree")
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(14)
        self.tree.setMinimumHeight(170)
        self.tree.currentItemChanged.connect(self._item_changed)
        self.description = QLabel()
        self.description.setObjectName("method_description")
        self.description.setWordWrap(True)
        self.description.setTextFormat(Qt.TextFormat.RichText)
        self.description.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.description.setProperty("role", "banner")
        self.description.setMinimumWidth(240)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.tree)
        top.addWidget(self.description)
        top.setStretchFactor(0, 2)
        top.setStretchFactor(1, 3)
        top.setChildrenCollapsible(False)

        self.backbone = QComboBox()
        self.backbone.setObjectName("backbone")
        self.params = ParamForm()
        self.params.setObjectName("method_params")
        self.params.changed.connect(self._remember_edits)

        form = QFormLayout()
        form.addRow("Backbone", self.backbone)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(top, 1)
        layout.addLayout(form)
        settings_label = QLabel("Method settings")
        settings_label.setProperty("role", "muted")
        layout.addWidget(settings_label)
        layout.addWidget(self.params)
        self.description.setText("Loading the methods…")
        self.populated = False

    def populate(self) -> None:
        """Fill the method list and backbones from the registries (once the engine is imported)."""
        if self.populated:
            return
        self.populated = True
        bold = QFont()
        bold.setBold(True)
        groups: dict[str, QTreeWidgetItem] = {}
        for name, spec in _methods().items():
            group = groups.get(spec.family)
            if group is None:
                group = QTreeWidgetItem(self.tree, [FAMILY_TITLES.get(spec.family, spec.family.capitalize())])
                group.setFont(0, bold)
                group.setFlags(Qt.ItemFlag.ItemIsEnabled)
                group.setExpanded(True)
                groups[spec.family] = group
            item = QTreeWidgetItem(group, [spec.title])
            item.setData(0, NAME_ROLE, name)
            item.setToolTip(0, spec.summary)
        for name, spec in _backbones().items():
            self.backbone.addItem(spec.title, name)
            self.backbone.setItemData(
                self.backbone.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole
            )
        self.tree.expandAll()
        self.set_method("simclr" if "simclr" in _methods() else next(iter(_methods().names()), ""))

    def _items(self):
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            for j in range(group.childCount()):
                yield group.child(j)

    def _item_changed(self, item: QTreeWidgetItem | None, previous: QTreeWidgetItem | None) -> None:
        name = item.data(0, NAME_ROLE) if item is not None else None
        if not name:
            if previous is not None and previous.data(0, NAME_ROLE):
                self.tree.setCurrentItem(previous)  # a family heading is not a choice
            return
        if self._current:
            self._edited[self._current] = self.params.overrides()
        self._current = name
        spec = _methods().get(name)
        self.params.set_params(spec.params, self._edited.get(name, {}))
        self._show_description()
        self.method_changed.emit(name)

    def _remember_edits(self) -> None:
        if self._current:
            self._edited[self._current] = self.params.overrides()

    def _show_description(self) -> None:
        if not self._current:
            return
        spec = _methods().get(self._current)
        self.description.setText(method_html(spec, spec.unavailable_reason(self._info)))

    # ---- public ------------------------------------------------------------------------------
    def set_data_info(self, info: Any) -> None:
        """Grey out methods that cannot run on this data and say why."""
        self._info = info
        muted = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        for item in self._items():
            spec = _methods().get(item.data(0, NAME_ROLE))
            reason = spec.unavailable_reason(info)
            # Still selectable (a loaded config may name it before its data is open), but greyed.
            item.setForeground(0, QBrush(muted) if reason else QBrush())
            item.setToolTip(0, reason or spec.summary)
        self._show_description()

    def method(self) -> str:
        return self._current

    def unavailable_reason(self) -> str | None:
        if not self._current:
            return "Choose a method first."
        return _methods().get(self._current).unavailable_reason(self._info)

    def set_method(self, name: str, overrides: dict[str, Any] | None = None) -> None:
        if overrides is not None:
            self._edited[name] = dict(overrides)
        for item in self._items():
            if item.data(0, NAME_ROLE) == name:
                if name == self._current:
                    self.params.set_values(self._edited.get(name, {}))
                else:
                    self.tree.setCurrentItem(item)
                return

    def overrides(self) -> dict[str, Any]:
        return self.params.overrides()

    def backbone_name(self) -> str:
        return self.backbone.currentData() or "small_cnn"

    def set_backbone(self, name: str) -> None:
        index = self.backbone.findData(name)
        if index >= 0:
            self.backbone.setCurrentIndex(index)

    def edited_settings(self) -> dict[str, dict[str, Any]]:
        self._remember_edits()
        return {k: v for k, v in self._edited.items() if v}

    def restore_edited_settings(self, edited: dict[str, dict[str, Any]]) -> None:
        self._edited.update({k: dict(v) for k, v in edited.items() if isinstance(v, dict)})
        if self._current in self._edited:
            self.params.set_values(self._edited[self._current])
