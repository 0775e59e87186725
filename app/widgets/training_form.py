"""The training part of Setup: device, epochs, batch size, image size, seed (and a few extras).

Every editor is built from the config schema (ssl_core.config_schema): its limits, its tooltip, its
default and what "empty" means come from there, the same entries RunConfig.validate checks against.
Labels read in plain words with a tooltip naming the config key; a problem with a setting shows under it
(`show_problems`), as the person types."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from app.widgets.field_errors import FieldErrors
from app.widgets.param_form import FloatSpin
from ssl_core.config import RunConfig
from ssl_core.config_schema import SCHEMA, ConfigField

AUTO = "auto"
DEVICE = "train.device"
PROCESSES = "train.processes"  # set by the device choice ("All N GPUs"), not an editor of its own
SYNC_BN = "train.sync_batchnorm"
ALL_GPUS = "all-gpus"  # the device item that trains on every GPU, one process each
IMAGE_SIZE = "data.image_size"
# The settings shown, in this order; the others keep their config value (or default).
FORM_KEYS = (
    DEVICE,
    SYNC_BN,  # shown only with "All N GPUs": it means nothing to one process
    "train.epochs",
    "train.batch_size",
    "train.lr",
    IMAGE_SIZE,
    "train.seed",
    "data.val_fraction",
    "train.max_steps",
    "train.time_limit_s",  # demos and races: the same minute on any machine
    "name",
)
# Attribute and object names that differ from the setting's own name.
WIDGET_NAMES = {"name": "run_name"}
# Settings that mean something only for some kinds of data (modality names); hidden for the others.
ONLY_FOR = {IMAGE_SIZE: ("image",)}


def detected_devices() -> list[Any]:
    from ssl_core.device import describe_devices

    return describe_devices()


def all_gpus_label(gpus: list[Any]) -> str:
    """The device item of data-parallel training: "All 4 GPUs (NVIDIA H200 (140 GB))"."""
    labels = list(dict.fromkeys(dev.label for dev in gpus))
    return f"All {len(gpus)} GPUs ({', '.join(labels)})"


def empty_value(field: ConfigField) -> float | None:
    """The editor value that stands for None ("Method default", "Native"): just below the range."""
    if not field.optional or field.low is None:
        return None
    if field.type is int:
        return int(field.low) - 1
    return 0.0 if field.low > 0 else field.low - (field.step or 1.0)


def decimals(field: ConfigField) -> int:
    """Decimals a plain (not log-scaled) float editor shows: enough for its step, at least 2."""
    step = f"{field.step:f}".rstrip("0") if field.step else ""
    return max(2, len(step.partition(".")[2]))


def tooltip(field: ConfigField) -> str:
    return f"<p>{html.escape(field.describe(), quote=False)} In config files: {field.key}.</p>"


class TrainingForm(QWidget):
    changed = Signal()
    image_size_changed = Signal(object)  # int | None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        form = QFormLayout(self)
        self.form = form
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.editors: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}
        self.errors = FieldErrors(form)
        for key in FORM_KEYS:
            field = SCHEMA[key]
            editor = self._make_editor(field)
            name = WIDGET_NAMES.get(key, field.name)
            editor.setObjectName(name)
            editor.setToolTip(tooltip(field))
            setattr(self, name, editor)  # self.epochs, self.run_name, ...: what tests and people click
            self.editors[key] = editor
            label = QLabel(field.title)
            label.setObjectName(f"label_{name}")
            label.setToolTip(tooltip(field))  # the label explains itself too, not only the field
            self.labels[key] = label
            form.addRow(label, editor)
            self.errors.add_row(key, editor)
            self.set_value(key, field.default)
        self.editors[IMAGE_SIZE].valueChanged.connect(
            lambda _: self.image_size_changed.emit(self.value(IMAGE_SIZE))
        )
        self.gpu_count = 0  # CUDA devices listed; "All N GPUs" is offered from 2
        self.editors[DEVICE].currentIndexChanged.connect(self._device_changed)
        self._device_changed()

    def set_data_info(self, info: Any) -> None:
        """Show only the settings that apply to the loaded kind of data (no image size for series)."""
        modality = getattr(info, "modality", "image")
        for key, modalities in ONLY_FOR.items():
            self._show_row(key, modality in modalities)

    def _show_row(self, key: str, shown: bool) -> None:
        self.form.setRowVisible(self.editors[key], shown)
        self.errors.set_field_shown(key, shown)  # its problem line goes with it

    def _device_changed(self) -> None:
        self._show_row(SYNC_BN, self.all_gpus)

    def shown(self, key: str) -> bool:
        """Whether a setting's row is shown for the loaded data."""
        return self.form.isRowVisible(self.editors[key])

    # ---- editors -----------------------------------------------------------------------------
    def _make_editor(self, field: ConfigField) -> QWidget:
        if field.key == DEVICE:
            return self._device_box()
        if field.choices:
            editor = QComboBox()
            if field.optional:
                editor.addItem(field.none_label or "Automatic", None)
            words = field.choice_words or tuple(str(c) for c in field.choices)
            for choice, word in zip(field.choices, words, strict=True):
                editor.addItem(word[:1].upper() + word[1:], choice)  # the word shown, the token kept
                editor.setItemData(editor.count() - 1, f"{word} ({choice})", Qt.ItemDataRole.ToolTipRole)
            editor.currentIndexChanged.connect(self.changed)
            return editor
        if field.type is bool:
            editor = QCheckBox()
            editor.toggled.connect(self.changed)
            return editor
        if field.type is int:
            editor = QSpinBox()
            low = empty_value(field) if field.optional else field.low
            editor.setRange(int(low if low is not None else -(2**31)), int(field.high or 2**31 - 1))
            editor.setKeyboardTracking(True)  # each key checks the value, so problems show as one types
        elif field.type is float:
            if field.log_scale:
                editor = FloatSpin(log_scale=True)
            else:
                editor = QDoubleSpinBox()
                editor.setDecimals(decimals(field))
            editor.setKeyboardTracking(True)
            low = empty_value(field) if field.optional else field.low
            editor.setRange(float(low if low is not None else -1e12), float(field.high or 1e12))
            if field.step:
                editor.setSingleStep(field.step)
        else:
            editor = QLineEdit()
            editor.setPlaceholderText(field.none_label or field.help)
            editor.editingFinished.connect(self.changed)
            return editor
        if field.optional:
            editor.setSpecialValueText(field.none_label)  # shown at the minimum, which stands for None
        editor.valueChanged.connect(self.changed)
        return editor

    def _device_box(self) -> QComboBox:
        box = QComboBox()
        box.addItem("Automatic", AUTO)  # the devices are listed once the engine is loaded
        # grow with the device names that arrive later (a combo sizes itself on first show otherwise)
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        box.currentIndexChanged.connect(self.changed)
        return box

    def populate_devices(self) -> None:
        """List the devices torch can use (needs the engine imported); with two GPUs or more, first
        "All N GPUs": one training process per GPU (train.processes = N, in a child process)."""
        box = self.editors[DEVICE]
        if box.count() > 1:
            return
        devices = detected_devices()
        if devices:
            box.setItemText(0, f"Automatic: {devices[0].label}")
        gpus = [dev for dev in devices if dev.name.startswith("cuda")]
        self.gpu_count = len(gpus)
        if len(gpus) >= 2:
            box.addItem(f"{all_gpus_label(gpus)}  [cuda × {len(gpus)}]", ALL_GPUS)
            box.setItemData(
                box.count() - 1,
                f"Data-parallel training: one process per GPU, each taking a share of every batch "
                f"(the batch size stays the whole batch). In config files: train.device = cuda, "
                f"train.processes = {len(gpus)}.",
                Qt.ItemDataRole.ToolTipRole,
            )
        for dev in devices:
            box.addItem(f"{dev.label}  [{dev.name}]", dev.name)

    @property
    def all_gpus(self) -> bool:
        """Whether "All N GPUs" is chosen."""
        return self.editors[DEVICE].currentData() == ALL_GPUS

    def processes(self) -> int:
        """train.processes for the chosen device: N for "All N GPUs", else 1."""
        return self.gpu_count if self.all_gpus else 1

    def editor(self, key: str) -> QWidget:
        """The editor of a schema key ("train.epochs")."""
        return self.editors[key]

    def show_problems(self, problems: dict[str, str]) -> None:
        """Show each setting's problem (by config key) under it; clear the others."""
        self.errors.show(problems)

    def problems_shown(self) -> dict[str, str]:
        return self.errors.shown()

    # ---- values ------------------------------------------------------------------------------
    def value(self, key: str) -> Any:
        """The setting as the config holds it: None where the editor shows its empty value."""
        field, editor = SCHEMA[key], self.editors[key]
        if isinstance(editor, QComboBox):
            data = editor.currentData()
            if key == DEVICE:
                return "cuda" if data == ALL_GPUS else data or AUTO
            return data
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QLineEdit):
            return editor.text().strip()
        value = editor.value()
        if field.optional and value == editor.minimum():
            return None
        if isinstance(editor, QSpinBox):
            return int(value)
        return float(value) if isinstance(editor, FloatSpin) else round(float(value), editor.decimals())

    def set_value(self, key: str, value: Any) -> None:
        editor = self.editors[key]
        if isinstance(editor, QComboBox):
            editor.setCurrentIndex(max(0, editor.findData(value)))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QLineEdit):
            editor.setText("" if value is None else str(value))
        else:
            editor.setValue(editor.minimum() if value is None else value)

    # ---- to and from a RunConfig ---------------------------------------------------------------
    def apply_to(self, cfg: RunConfig) -> None:
        for key in self.editors:
            SCHEMA[key].set_on(cfg, self.value(key))
        SCHEMA[PROCESSES].set_on(cfg, self.processes())

    def load_from(self, cfg: RunConfig) -> None:
        """Show a config; one asking for several processes shows as "All N GPUs" where this machine has
        them (elsewhere its device, which then trains in one process)."""
        for key in self.editors:
            self.set_value(key, SCHEMA[key].value_of(cfg))
        box = self.editors[DEVICE]
        if SCHEMA[PROCESSES].value_of(cfg) > 1 and box.findData(ALL_GPUS) >= 0:
            box.setCurrentIndex(box.findData(ALL_GPUS))
