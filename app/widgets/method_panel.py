"""The method part of Setup: methods grouped by family with a plain description, the backbone, and a
hyperparameter form generated from the registry.

What the loaded data allows comes from the engine: a method that cannot run on it is greyed with its
`MethodSpec.unavailable_reason` (and a short note, e.g. "images only"); the backbone box lists the data's
modality's backbones after an "Auto (<this method's default>)" entry, greying those the method refuses
(`MethodSpec.backbone_reason`). A backbone with settings (`BackboneSpec.params`: the table MLP's width,
depth, dropout) gets a small form under the box, for the backbone the run would use ("auto" resolved).

The list and the description beside it keep one height whatever the settings below need, so nothing
jumps when the method changes; the description scrolls when it is longer than that (it is the teaching
text: never cut off), and the chosen method is scrolled into view in the list."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QLabel,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.widgets.method_description import MethodDescription, family_title, method_html
from app.widgets.param_form import ParamForm
from ssl_core.config_schema import SCHEMA
from ssl_core.params import ParamSet

NAME_ROLE = Qt.ItemDataRole.UserRole
AUTO = "auto"
TOP_HEIGHT = 300  # the list and its description before the methods are known; a long description scrolls


def _methods():
    from ssl_core.methods import METHODS

    return METHODS


def _backbones():
    from ssl_core.models.backbones import BACKBONES

    return BACKBONES


def _modality_plural(name: str) -> str:
    from ssl_core.modalities import MODALITIES

    return MODALITIES.get(name).plural if name in MODALITIES else name


def short_reason(spec: Any, info: Any) -> str:
    """A few words for an unavailable method's entry: "images only", or "not for this data"."""
    if info is not None and info.modality not in spec.modalities:
        return " or ".join(_modality_plural(m) for m in spec.modalities) + " only"
    return "not for this data"


class MethodPanel(QWidget):
    """Emits `method_changed(name)`; remembers edited settings per method while the app runs."""

    method_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._info: Any = None
        self._current = ""
        self._edited: dict[str, dict[str, Any]] = {}
        self._wanted_backbone = AUTO  # the last one chosen (or loaded); kept while the data lacks it
        self._backbone_edited: dict[str, dict[str, Any]] = {}  # per backbone, while the app runs
        self._shown_backbone: str | None = None  # whose settings the backbone form shows, if any
        # A loaded config's backbone settings, waiting for the backbone they belong to to be known (the
        # data may still be loading when "auto" is loaded).
        self._pending_backbone_params: dict[str, Any] | None = None

        self.tree = QTreeWidget()
        self.tree.setObjectName("method_tree")
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(14)
        self.tree.currentItemChanged.connect(self._item_changed)
        # The description scrolls inside the list's fixed height: its whole text, and no jumps.
        self.description_area = MethodDescription()
        self.description = self.description_area.label

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.tree)
        top.addWidget(self.description_area)
        top.setStretchFactor(0, 2)
        top.setStretchFactor(1, 3)
        top.setChildrenCollapsible(False)
        top.setFixedHeight(TOP_HEIGHT)  # the settings below never squeeze or stretch it
        self._top = top

        self.backbone = QComboBox()
        self.backbone.setObjectName("backbone")
        self.backbone.activated.connect(self._backbone_chosen)
        self.backbone.currentIndexChanged.connect(lambda _: self._show_description())
        self.backbone.currentIndexChanged.connect(lambda _: self._refresh_backbone_params())
        self.backbone_params = ParamForm()
        self.backbone_params.setObjectName("backbone_params")
        self.backbone_params.reset_button.setToolTip(
            "Put every setting of this backbone back to its default."
        )
        self.backbone_params.changed.connect(self._remember_backbone_edits)
        self.backbone_settings = QWidget()
        self.backbone_settings.setObjectName("backbone_settings")
        backbone_layout = QVBoxLayout(self.backbone_settings)
        backbone_layout.setContentsMargins(0, 0, 0, 0)
        backbone_label = QLabel("Backbone settings")
        backbone_label.setProperty("role", "muted")
        backbone_label.setToolTip("Settings of the chosen backbone network (method.backbone_params).")
        backbone_layout.addWidget(backbone_label)
        backbone_layout.addWidget(self.backbone_params)
        self.backbone_settings.setVisible(False)
        self.params = ParamForm()
        self.params.setObjectName("method_params")
        self.params.changed.connect(self._remember_edits)

        form = QFormLayout()
        backbone_title = QLabel(SCHEMA["method.backbone"].title)
        backbone_title.setToolTip(
            "<p>The network that turns a sample into features; each method trains it its own way. Auto: "
            "the one this method usually uses on this kind of data. In config files: method.backbone.</p>"
        )
        self.backbone.setToolTip(backbone_title.toolTip())
        form.addRow(backbone_title, self.backbone)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(top)
        layout.addLayout(form)
        layout.addWidget(self.backbone_settings)
        settings_label = QLabel("Method settings")
        settings_label.setProperty("role", "muted")
        settings_label.setToolTip(
            "Settings of the chosen method, with the values from its paper; hover over one for what it does "
            "(method.params)."
        )
        layout.addWidget(settings_label)
        layout.addWidget(self.params)
        layout.addStretch(1)  # spare height goes below the settings, not into the list
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
                group = QTreeWidgetItem(self.tree, [family_title(spec.family)])
                group.setFont(0, bold)
                group.setFlags(Qt.ItemFlag.ItemIsEnabled)
                group.setExpanded(True)
                groups[spec.family] = group
            item = QTreeWidgetItem(group, [spec.title])
            item.setData(0, NAME_ROLE, name)
            item.setToolTip(0, spec.summary)
        self.tree.expandAll()
        self._fit_every_method()
        self._fill_backbones()
        self.set_method("simclr" if "simclr" in _methods() else next(iter(_methods().names()), ""))

    def _fit_every_method(self) -> None:
        """Make the list tall enough for every method and family heading, so none hides below a scroll
        bar; the height stays fixed from then on (nothing jumps when the settings below change)."""
        rows = 0
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            rows += 1 + group.childCount()
        row_height = max(self.tree.sizeHintForRow(0), self.tree.fontMetrics().height() + 6)
        frame = 2 * self.tree.frameWidth() + 4
        self._top.setFixedHeight(max(TOP_HEIGHT, rows * row_height + frame))

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
        self._fill_backbones()
        self._show_description()
        self.keep_selection_visible()
        self.method_changed.emit(name)

    def _remember_edits(self) -> None:
        if self._current:
            self._edited[self._current] = self.params.overrides()

    def _show_description(self) -> None:
        if not self._current:
            return
        spec = _methods().get(self._current)
        self.description_area.set_html(method_html(spec, self.unavailable_reason()))

    def keep_selection_visible(self) -> None:
        """Scroll the chosen method fully into the list's view, now and once the layout has settled."""
        self._scroll_to_current()
        QTimer.singleShot(0, self, self._scroll_to_current)  # not after this panel is gone

    def _scroll_to_current(self) -> None:
        item = self.tree.currentItem()
        if item is not None:
            self.tree.scrollToItem(item, QAbstractItemView.ScrollHint.EnsureVisible)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.keep_selection_visible()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self.keep_selection_visible()

    # ---- public ------------------------------------------------------------------------------
    def set_data_info(self, info: Any) -> None:
        """Grey out methods that cannot run on this data and say why; list the data's backbones."""
        self._info = info
        muted = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            available = 0
            for j in range(group.childCount()):
                item = group.child(j)
                spec = _methods().get(item.data(0, NAME_ROLE))
                reason = spec.unavailable_reason(info)
                # Still selectable (a loaded config may name it before its data is open), but greyed,
                # with a few words inline and the whole reason as its tooltip.
                item.setText(0, f"{spec.title}  ·  {short_reason(spec, info)}" if reason else spec.title)
                item.setForeground(0, QBrush(muted) if reason else QBrush())
                item.setToolTip(0, reason or spec.summary)
                available += reason is None
            group.setForeground(0, QBrush(muted) if not available else QBrush())
        self._fill_backbones()
        # A loaded config's backbone settings were waiting for this data; its backbone takes none.
        self._pending_backbone_params = None
        self._show_description()
        self.keep_selection_visible()  # the entries' texts changed: the list may have scrolled

    def available(self, name: str) -> bool:
        """Whether a method can run on the loaded data."""
        return _methods().get(name).unavailable_reason(self._info) is None

    def method_reason(self, name: str) -> str | None:
        """Why a method cannot run on the loaded data (its entry's tooltip), or None."""
        return _methods().get(name).unavailable_reason(self._info)

    # ---- backbones ---------------------------------------------------------------------------
    def backbone_choices(self) -> list[str]:
        """The backbones listed (after "auto"): the loaded data's modality's, all of them before."""
        if self._info is None:
            return list(_backbones().names())
        from ssl_core.modalities import modality_of

        return modality_of(self._info).backbones()

    def _fill_backbones(self) -> None:
        """List "Auto (<default>)" and the data's backbones, greying those the method refuses."""
        if not self.populated:
            return
        spec = _methods().get(self._current) if self._current else None
        box = self.backbone
        box.blockSignals(True)
        box.clear()
        if spec is not None and self._info is not None:
            default = spec.backbone_for(self._info, AUTO)
            title = _backbones().get(default).title if default in _backbones() else default
            box.addItem(f"Auto ({title})", AUTO)
            box.setItemData(
                0,
                f"The backbone this method uses on {self._info.name} unless you choose one: {title}.",
                Qt.ItemDataRole.ToolTipRole,
            )
        else:
            box.addItem("Auto", AUTO)
            box.setItemData(0, "The data's default backbone.", Qt.ItemDataRole.ToolTipRole)
        model = box.model()
        for name in self.backbone_choices():
            bspec = _backbones().get(name)
            box.addItem(bspec.title, name)
            index = box.count() - 1
            reason = spec.backbone_reason(name, self._info) if spec is not None else None
            box.setItemData(index, reason or bspec.description, Qt.ItemDataRole.ToolTipRole)
            if reason:
                model.item(index).setEnabled(False)
        wanted = box.findData(self._wanted_backbone)
        usable = wanted >= 0 and model.item(wanted).isEnabled()
        box.setCurrentIndex(wanted if usable else 0)
        box.blockSignals(False)
        self._refresh_backbone_params()

    def _backbone_chosen(self, index: int) -> None:
        self._wanted_backbone = self.backbone.itemData(index) or AUTO
        self._pending_backbone_params = None  # the person chose: a loaded config's settings are moot

    def backbone_reason(self) -> str | None:
        """Why the chosen backbone cannot serve the method on this data, or None."""
        name = self.backbone_name()
        if not self._current or name == AUTO:
            return None
        return _methods().get(self._current).backbone_reason(name, self._info)

    def method(self) -> str:
        return self._current

    def unavailable_reason(self) -> str | None:
        if not self._current:
            return "Choose a method first."
        return _methods().get(self._current).unavailable_reason(self._info) or self.backbone_reason()

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
        """The backbone setting: a registry name, or "auto" for the method's default on this data."""
        return self.backbone.currentData() or AUTO

    def set_backbone(self, name: str, params: dict[str, Any] | None = None) -> None:
        """Choose a backbone (e.g. from a config); one the data does not offer is kept for when it does.

        `params`: its settings (`method.backbone_params`), shown once the backbone they belong to is known."""
        self._wanted_backbone = str(name or AUTO).lower()
        if params is not None:
            self._pending_backbone_params = dict(params)
        index = self.backbone.findData(self._wanted_backbone)
        if index >= 0 and self.backbone.model().item(index).isEnabled():
            self.backbone.setCurrentIndex(index)
        self._refresh_backbone_params()

    # ---- backbone settings -------------------------------------------------------------------
    def effective_backbone(self) -> str | None:
        """The backbone a run would use: the chosen one, or what "auto" means for this method and data
        (None while that is unknown, and before the registries are loaded)."""
        if not self.populated:
            return None
        name = self.backbone_name()
        if name == AUTO:
            if not self._current or self._info is None:
                return None
            name = _methods().get(self._current).backbone_for(self._info, AUTO)
        return name if name in _backbones() else None

    def _refresh_backbone_params(self) -> None:
        """Show the effective backbone's settings form, or hide it when that backbone has none."""
        if not self.populated:
            return
        self._remember_backbone_edits()
        name = self.effective_backbone()
        param_set = _backbones().get(name).params if name is not None else None
        has_params = param_set is not None and bool(param_set.names())
        pending = self._pending_backbone_params
        if has_params and pending is not None:
            self._backbone_edited[name] = pending
            self._pending_backbone_params = None
        shown = name if has_params else None
        if shown != self._shown_backbone or (has_params and pending is not None):
            self._shown_backbone = shown
            self.backbone_params.blockSignals(True)
            self.backbone_params.set_params(
                param_set if has_params else ParamSet(), self._backbone_edited.get(name, {})
            )
            self.backbone_params.blockSignals(False)
        self.backbone_settings.setVisible(has_params)

    def _remember_backbone_edits(self) -> None:
        if self._shown_backbone:
            self._backbone_edited[self._shown_backbone] = self.backbone_params.overrides()

    def backbone_overrides(self) -> dict[str, Any]:
        """The backbone settings that differ from its defaults (`method.backbone_params`)."""
        if self._shown_backbone:
            return self.backbone_params.overrides()
        if self._pending_backbone_params is not None:
            return dict(self._pending_backbone_params)  # loaded, their backbone not shown yet
        return {}

    def edited_settings(self) -> dict[str, dict[str, Any]]:
        self._remember_edits()
        return {k: v for k, v in self._edited.items() if v}

    def restore_edited_settings(self, edited: dict[str, dict[str, Any]]) -> None:
        self._edited.update({k: dict(v) for k, v in edited.items() if isinstance(v, dict)})
        if self._current in self._edited:
            self.params.set_values(self._edited[self._current])
