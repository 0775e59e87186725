"""The threshold's rule as a person sets it: a contamination rate (in percent), a percentile of the
calibration scores, or a fixed value, with the parameter's range, unit and help for each rule. The
engine (ssl_core.anomaly.thresholds.ThresholdRule) turns the rule into a threshold; this box only holds
the choice, in the engine's terms through `setting()` (contamination as a share)."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

# rule -> (menu text, spin box: low, high, decimals, suffix, default as shown, help)
RULES = {
    "contamination": (
        "Contamination rate",
        (0.0, 99.9, 2, " %", 5.0),
        "The share of samples you expect to be anomalous: the threshold flags that share of the "
        "calibration samples (their labels are never used).",
    ),
    "percentile": (
        "Percentile",
        (0.0, 100.0, 2, "", 95.0),
        "The threshold is this percentile of the calibration samples' scores (95 flags the top 5%).",
    ),
    "value": (
        "Fixed value",
        (-1e12, 1e12, 6, "", 0.0),
        "The threshold itself, on the scale of the scores (dragging the line on the histogram sets it).",
    ),
}


class ThresholdRuleBox(QWidget):
    """A rule menu and its parameter; `edited` when a person changes either."""

    edited = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.threshold = 0.0  # the threshold shown now: "Fixed value" starts from it
        self.rule = QComboBox()
        self.rule.setObjectName("threshold_rule")
        for key, (text, _, tip) in RULES.items():
            self.rule.addItem(text, key)
            self.rule.setItemData(self.rule.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.value = QDoubleSpinBox()
        self.value.setObjectName("threshold_value")
        self.value.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.value.setKeyboardTracking(False)  # one change when typing ends, not one per key
        self.show_rule("contamination", None)
        self.rule.currentIndexChanged.connect(self._rule_changed)
        self.value.valueChanged.connect(lambda _: self.edited.emit())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Threshold:"))
        layout.addWidget(self.rule)
        layout.addWidget(self.value)

    def current_rule(self) -> str:
        return str(self.rule.currentData())

    def setting(self) -> tuple[str, float]:
        """The rule and its parameter as the engine takes them (contamination as a share)."""
        rule, value = self.current_rule(), float(self.value.value())
        return rule, value / 100.0 if rule == "contamination" else value

    def show_rule(self, rule: str, param: float | None) -> None:
        """Show a rule and its parameter in the engine's terms (None: the rule's default); no signal."""
        rule = rule if rule in RULES else "contamination"
        low, high, decimals, suffix, default = RULES[rule][1]
        value = default
        if param is not None and math.isfinite(param):
            value = 100.0 * float(param) if rule == "contamination" else float(param)
        for w in (self.rule, self.value):
            w.blockSignals(True)
        self.rule.setCurrentIndex(self.rule.findData(rule))
        self.value.setDecimals(decimals)
        self.value.setRange(low, high)
        self.value.setSuffix(suffix)
        self.value.setValue(value)
        for w in (self.rule, self.value):
            w.setToolTip(RULES[rule][2])
            w.blockSignals(False)

    def _rule_changed(self) -> None:
        rule = self.current_rule()
        self.show_rule(rule, self.threshold if rule == "value" else None)
        self.edited.emit()
