"""Setup: data on the left; method, backbone, settings and training options on the right."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.widgets.data_panel import DataPanel
from app.widgets.method_panel import MethodPanel
from app.widgets.training_form import TrainingForm
from app.workers import JobRunner
from ssl_core.config import RunConfig
from ssl_core.errors import UserError


def _group(title: str, inner: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.addWidget(inner)
    return box


class SetupTab(QWidget):
    changed = Signal()

    def __init__(self, runner: JobRunner, start_action: QAction, parent: QWidget | None = None):
        super().__init__(parent)
        self.data = DataPanel(runner)
        self.method = MethodPanel()
        self.training = TrainingForm()
        self.data.loaded.connect(self.method.set_data_info)
        self.training.image_size_changed.connect(self.data.set_image_size)
        for signal in (
            self.data.loaded,
            self.method.method_changed,
            self.method.params.changed,
            self.training.changed,
        ):
            signal.connect(self.changed)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(_group("2. Method", self.method), 3)
        right_layout.addWidget(_group("3. Training", self.training), 0)
        right_scroll = QScrollArea()
        right_scroll.setWidgetResizable(True)
        right_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        right_scroll.setWidget(right)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("setup_splitter")
        split.addWidget(_group("1. Data", self.data))
        split.addWidget(right_scroll)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setChildrenCollapsible(False)
        self.splitter = split

        start = QToolButton()
        start.setDefaultAction(start_action)
        start.setProperty("role", "run")
        start.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        hint = QLabel("Pick data and a method, then start. Hover over any setting for an explanation.")
        hint.setProperty("role", "muted")
        bottom = QHBoxLayout()
        bottom.addWidget(hint, 1)
        bottom.addWidget(start)

        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)

    def engine_loaded(self) -> None:
        """Fill what comes from the engine's registries: methods, backbones, devices, data kinds."""
        self.method.populate()
        self.training.populate_devices()
        self.data.engine_loaded()

    # ---- config ------------------------------------------------------------------------------
    def config(self, runs_dir: str) -> RunConfig:
        """The run these settings describe; raises UserError (naming the field) when it cannot run."""
        if self.data.loading:
            raise UserError("The data is still loading; wait for the sample images to appear, then start.")
        reason = self.method.unavailable_reason()
        if reason:
            raise UserError(reason, field="method.name")
        cfg = self.snapshot(runs_dir)
        cfg.validate("Setup")
        return cfg

    def snapshot(self, runs_dir: str) -> RunConfig:
        """The settings as shown, unchecked (for remembering them between sessions)."""
        cfg = RunConfig()
        cfg.runs_dir = str(runs_dir)
        cfg.data.spec = self.data.spec()
        cfg.data.channels = self.data.channels()
        cfg.method.name = self.method.method()
        cfg.method.backbone = self.method.backbone_name()
        cfg.method.params = self.method.overrides()
        self.training.apply_to(cfg)
        return cfg

    def load_config(self, cfg: RunConfig) -> Any:
        """Show a config's settings; returns the data-loading worker when the data changes."""
        self.data.set_channels(cfg.data.channels)
        self.method.set_backbone(cfg.method.backbone)
        self.method.set_method(cfg.method.name, cfg.method.params)
        self.training.load_from(cfg)
        return self.data.open_spec(cfg.data.spec)
