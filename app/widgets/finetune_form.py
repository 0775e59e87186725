"""The fine-tuning form: how many labels (a share, or a number per class), how many epochs, and whether to
also try pseudo-labels or FixMatch with their confidence threshold. `settings(defaults)` puts the form's
values over the engine's `FinetuneSettings` and checks them; a wrong field is marked (`mark_problem`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QSpinBox,
    QWidget,
)

from app.widgets.field_errors import mark

# The labels box: text -> labels setting (a share of the training labels; None: a number per class)
LABEL_CHOICES = [("1% of the labels", 0.01), ("10% of the labels", 0.1), ("All the labels", 1.0)]
PER_CLASS = "A number per class"


def _row(*widgets: QWidget, stretch_last: bool = False) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        row.addWidget(w)
    if stretch_last:
        row.addStretch(1)
    return row


class FinetuneForm(QWidget):
    """The editors of the settings a person picks; the rest keep the engine's defaults."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.labels = QComboBox()
        self.labels.setObjectName("finetune_labels")
        for text, value in LABEL_CHOICES:
            self.labels.addItem(text, value)
        self.labels.addItem(PER_CLASS, None)
        self.labels.setToolTip("How many of the training labels the fine-tuning may use.")
        self.per_class = QSpinBox()
        self.per_class.setObjectName("finetune_per_class")
        self.per_class.setRange(1, 100_000)
        self.per_class.setValue(5)
        self.per_class.setSuffix(" per class")
        self.per_class.setToolTip("Labelled samples kept of every class.")
        self.epochs = QSpinBox()
        self.epochs.setObjectName("finetune_epochs")
        self.epochs.setRange(1, 10_000)
        self.epochs.setToolTip("At most this many passes over the labelled samples; it stops sooner when "
                               "the accuracy on a validation split stops improving.")  # fmt: skip
        self.pseudo = QCheckBox("Pseudo-labels")
        self.pseudo.setObjectName("finetune_pseudo")
        self.pseudo.setToolTip("Also label the unlabelled samples with the fine-tuned model's (FixMatch's, "
                               "when that is ticked too) confident predictions and train again on "
                               "both.")  # fmt: skip
        self.fixmatch = QCheckBox("FixMatch")
        self.fixmatch.setObjectName("finetune_fixmatch")
        self.fixmatch.setToolTip("Also train so that a strongly altered view of an unlabelled sample gets "
                                 "the class its lightly altered view is confidently given.")  # fmt: skip
        self.distill = QCheckBox("Distillation")
        self.distill.setObjectName("finetune_distill")
        self.distill.setToolTip("Also train a fresh copy of the network to match the last model's "
                                "predictions (pseudo-labels, else FixMatch, else the fine-tune) on every "
                                "training sample.")  # fmt: skip
        self.threshold = QDoubleSpinBox()
        self.threshold.setObjectName("finetune_threshold")
        self.threshold.setRange(0.01, 0.999)
        self.threshold.setDecimals(3)
        self.threshold.setSingleStep(0.01)
        self.threshold.setToolTip(
            "How sure a prediction must be to count as a label. Pseudo-labels: as many unlabelled samples "
            "get one as there are predictions this sure, each class's most confident ones."
        )
        self.labels.currentIndexChanged.connect(self._changed)
        self.pseudo.toggled.connect(self._changed)
        self.fixmatch.toggled.connect(self._changed)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Labels", _row(self.labels, self.per_class))
        form.addRow("Epochs", self.epochs)
        form.addRow("Also try", _row(self.pseudo, self.fixmatch, self.distill, stretch_last=True))
        form.addRow("Confidence", self.threshold)
        self.editors: dict[str, QWidget] = {  # a setting's name -> its editor, to mark a wrong one
            "labels": self.labels,
            "epochs": self.epochs,
            "threshold": self.threshold,
            "pseudo_labels": self.pseudo,
            "fixmatch": self.fixmatch,
            "distill": self.distill,
        }
        self._changed()

    def _changed(self, *_: object) -> None:
        self.per_class.setVisible(self.labels.currentData() is None)
        self.threshold.setEnabled(self.isEnabled() and (self.pseudo.isChecked() or self.fixmatch.isChecked()))

    def setEnabled(self, enabled: bool) -> None:  # noqa: N802 - Qt API
        super().setEnabled(enabled)
        self._changed()

    def show_defaults(self, defaults: Any) -> None:
        """The engine's defaults in the editors (FinetuneSettings)."""
        self.epochs.setValue(int(defaults.epochs))
        self.threshold.setValue(float(defaults.threshold))

    def choose_labels(self, value: float | int) -> None:
        """Pick a share of the labels (a float from the box) or a number per class (an int)."""
        if isinstance(value, int):
            self.labels.setCurrentIndex(self.labels.findData(None))
            self.per_class.setValue(value)
        else:
            index = self.labels.findData(float(value))
            if index < 0:
                raise ValueError(f"{value!r} is not a share the labels box offers ({LABEL_CHOICES})")
            self.labels.setCurrentIndex(index)

    def settings(self, defaults: Any) -> Any:
        """The form's values over `defaults` (FinetuneSettings), checked: a UserError names a wrong field."""
        value = self.labels.currentData()
        labels = int(self.per_class.value()) if value is None else float(value)
        chosen = replace(
            defaults,
            labels=labels,
            epochs=int(self.epochs.value()),
            pseudo_labels=self.pseudo.isChecked(),
            fixmatch=self.fixmatch.isChecked(),
            distill=self.distill.isChecked(),
            threshold=float(self.threshold.value()),
        )
        return chosen.checked()

    def mark_problem(self, field: str | None, problem: str) -> None:
        """Mark the editor of `field` with `problem` (every other editor cleared); no field: clear all."""
        for key, editor in self.editors.items():
            mark(editor, problem if key == field else "")
