"""The training part of Setup: device, epochs, batch size, image size, seed (and a few extras)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QLineEdit, QSpinBox, QWidget

from app.widgets.param_form import FloatSpin
from ssl_core.config import RunConfig

AUTO = "auto"


def detected_devices() -> list[Any]:
    from ssl_core.device import describe_devices

    return describe_devices()


class TrainingForm(QWidget):
    changed = Signal()
    image_size_changed = Signal(object)  # int | None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)

        self.device = QComboBox()
        self.device.setObjectName("device")
        self.device.addItem("Automatic", AUTO)  # the devices are listed once the engine is loaded
        # grow with the device names that arrive later (a combo sizes itself on first show otherwise)
        self.device.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.device.setToolTip("Where training runs. Automatic picks a GPU when there is one, else the CPU.")

        self.epochs = self._spin("epochs", 1, 100_000, 10, "How many times training goes through all images.")
        self.max_steps = self._spin(
            "max_steps",
            0,
            10**9,
            0,
            "Stop after this many optimizer steps (0: no limit; handy for a quick try).",
        )
        self.max_steps.setSpecialValueText("No limit")
        self.batch_size = self._spin(
            "batch_size",
            1,
            65_536,
            1,
            "Images per step. Method default: the method's own, capped by the data size.",
        )
        self.batch_size.setSpecialValueText("Method default")
        self.lr = FloatSpin(log_scale=True)
        self.lr.setObjectName("lr")
        self.lr.setRange(0.0, 10.0)
        self.lr.setSpecialValueText("Method default")
        self.lr.setToolTip("Learning rate. Method default: the method's rate scaled by batch size / 256.")
        self.lr.valueChanged.connect(self.changed)
        self.image_size = self._spin(
            "image_size",
            3,
            1024,
            3,
            "Images are resized to this square size for training (Native: keep their size).",
        )
        self.image_size.setSpecialValueText("Native")
        self.image_size.valueChanged.connect(lambda _: self.image_size_changed.emit(self._image_size()))
        self.seed = self._spin(
            "seed", 0, 2**31 - 1, 0, "Random seed: the same seed and settings give the same run."
        )
        self.val_fraction = QDoubleSpinBox()
        self.val_fraction.setObjectName("val_fraction")
        self.val_fraction.setRange(0.0, 0.9)
        self.val_fraction.setSingleStep(0.05)
        self.val_fraction.setValue(0.2)
        self.val_fraction.setToolTip("Share of images held out from training, used to measure accuracy.")
        self.val_fraction.valueChanged.connect(self.changed)
        self.run_name = QLineEdit()
        self.run_name.setObjectName("run_name")
        self.run_name.setPlaceholderText("optional, becomes part of the run's folder name")

        form.addRow("Device", self.device)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Learning rate", self.lr)
        form.addRow("Image size", self.image_size)
        form.addRow("Seed", self.seed)
        form.addRow("Held-out share", self.val_fraction)
        form.addRow("Step limit", self.max_steps)
        form.addRow("Run name", self.run_name)

    def populate_devices(self) -> None:
        """List the devices torch can use (needs the engine imported)."""
        if self.device.count() > 1:
            return
        devices = detected_devices()
        if devices:
            self.device.setItemText(0, f"Automatic: {devices[0].label}")
        for dev in devices:
            self.device.addItem(f"{dev.label}  [{dev.name}]", dev.name)

    def _spin(self, name: str, low: int, high: int, value: int, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setRange(low, high)
        spin.setValue(value)
        spin.setToolTip(tip)
        spin.setKeyboardTracking(False)
        spin.valueChanged.connect(self.changed)
        return spin

    def _image_size(self) -> int | None:
        value = self.image_size.value()
        return None if value == self.image_size.minimum() else value

    # ---- to and from a RunConfig ---------------------------------------------------------------
    def apply_to(self, cfg: RunConfig) -> None:
        t = cfg.train
        t.device = self.device.currentData() or AUTO
        t.epochs = self.epochs.value()
        t.max_steps = self.max_steps.value() or None
        t.batch_size = (
            None if self.batch_size.value() == self.batch_size.minimum() else self.batch_size.value()
        )
        t.lr = self.lr.value() or None
        t.seed = self.seed.value()
        cfg.data.image_size = self._image_size()
        cfg.data.val_fraction = round(self.val_fraction.value(), 4)
        cfg.name = self.run_name.text().strip()

    def load_from(self, cfg: RunConfig) -> None:
        t = cfg.train
        index = self.device.findData(t.device)
        self.device.setCurrentIndex(index if index >= 0 else 0)
        self.epochs.setValue(t.epochs)
        self.max_steps.setValue(t.max_steps or 0)
        self.batch_size.setValue(t.batch_size or self.batch_size.minimum())
        self.lr.setValue(t.lr or 0.0)
        self.seed.setValue(t.seed)
        self.image_size.setValue(cfg.data.image_size or self.image_size.minimum())
        self.val_fraction.setValue(cfg.data.val_fraction)
        self.run_name.setText(cfg.name)
