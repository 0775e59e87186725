"""Setup: data on the left; method, backbone, settings and training options on the right; above Start,
how many optimizer steps the run will take, and a warning in words when that is too few to learn.

Settings are checked as they change (`check_settings`): each problem shows in words under its field (a
method's rules, from `MethodSpec.setup_problems`; single values, from the config schema), and Start stays
disabled, its tooltip saying why (`start_blocker`), until every problem is fixed."""

from __future__ import annotations

import html
import logging
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

from app.settings import Prefs
from app.theme import current_colors, theme_manager
from app.widgets.data_panel import DEFAULT_SPEC, DataPanel
from app.widgets.method_panel import MethodPanel
from app.widgets.training_form import IMAGE_SIZE, TrainingForm
from app.workers import JobRunner
from ssl_core.config import RunConfig
from ssl_core.config_schema import SCHEMA
from ssl_core.errors import UserError

log = logging.getLogger(__name__)
EPOCHS = "train.epochs"

# Where the tab keeps its state between sessions (the names older versions used, so nothing is lost).
SPLITTER_KEY = "setup/splitter"
RECENT_KEY = "data/recent"
METHOD_PARAMS_KEY = "setup/method_params"
CONFIG_KEY = "setup/config"


def _group(title: str, inner: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.addWidget(inner)
    return box


class SetupTab(QWidget):
    """What the window asks of Setup goes through this class: its signals and public methods."""

    changed = Signal()
    method_changed = Signal(str)  # the chosen method's registry name
    data_loaded = Signal(str)  # the spec of the data now loaded
    data_info_loaded = Signal(object)  # its DataInfo (modality, sample shape, classes)
    data_loading_changed = Signal(bool)  # True while data opens on a worker
    problems_changed = Signal(str)  # why Start cannot run with these settings, in words ("" when it can)

    def __init__(self, runner: JobRunner, start_action: QAction, parent: QWidget | None = None):
        super().__init__(parent)
        self.data = DataPanel(runner)
        self.method = MethodPanel()
        self.training = TrainingForm()
        self._engine_ready = False
        # Setup proposes the epochs for the data until someone else (the person, a loaded config, the
        # demo) sets them: the field then differs from what Setup last left there.
        self._epochs_chosen = False
        self._epochs_left: int = SCHEMA[EPOCHS].default
        self._start_action = start_action
        self._start_tip = start_action.toolTip()
        self._blocker = ""  # the first problem of the settings, in words: why Start is disabled
        self.data.loaded.connect(self.method.set_data_info)
        self.data.loaded.connect(self.training.set_data_info)
        self.data.loaded.connect(lambda _: self.data_loaded.emit(self.data.spec()))
        self.data.loaded.connect(self.data_info_loaded)
        self.data.loading_changed.connect(self.data_loading_changed)
        self.method.method_changed.connect(self.method_changed)
        self.training.image_size_changed.connect(self.data.set_image_size)
        for signal in (
            self.data.loaded,
            self.method.method_changed,
            self.method.params.changed,
            self.method.backbone_params.changed,
            self.training.changed,
        ):
            signal.connect(self.changed)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(_group("2. Method", self.method))
        right_layout.addWidget(_group("3. Training", self.training))
        right_layout.addStretch(1)  # spare height goes to the bottom: the groups keep their places
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
        self.step_plan = QLabel()
        self.step_plan.setObjectName("step_plan")
        self.step_plan.setToolTip(
            "How long the run is: each optimizer step trains on one batch; an epoch is one pass over "
            "the training samples (those not held out for evaluation)."
        )
        self.step_warning = QLabel()
        self.step_warning.setObjectName("step_warning")
        self.step_warning.setWordWrap(True)
        self.step_warning.setTextFormat(Qt.TextFormat.RichText)
        self.step_warning.setVisible(False)
        # Problems whose setting has no field here (the data itself, e.g. a table of one column).
        self.setup_problem = QLabel()
        self.setup_problem.setObjectName("setup_problem")
        self.setup_problem.setProperty("role", "error")
        self.setup_problem.setWordWrap(True)
        self.setup_problem.setTextFormat(Qt.TextFormat.RichText)
        self.setup_problem.setVisible(False)
        notes = QVBoxLayout()
        notes.setSpacing(2)
        notes.addWidget(self.setup_problem)
        notes.addWidget(self.step_plan)
        notes.addWidget(self.step_warning)
        notes.addWidget(hint)
        bottom = QHBoxLayout()
        bottom.addLayout(notes, 1)
        bottom.addWidget(start, 0, Qt.AlignmentFlag.AlignBottom)
        self.changed.connect(self.update_step_plan)
        self.changed.connect(self.check_settings)
        self.data.loading_changed.connect(lambda _: self.check_settings())
        manager = theme_manager()
        if manager is not None:  # the warning's colour follows the theme
            manager.changed.connect(self._theme_changed)  # a bound slot: disconnected when self is deleted

        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)

    def add_banner(self, widget: QWidget) -> None:
        """A line above the settings offering a way in (the guided demo's entry, app/demo)."""
        self.layout().insertWidget(0, widget)

    # ---- how long the run is ------------------------------------------------------------------
    def update_step_plan(self) -> None:
        """Say how many steps the settings make on the loaded data, and warn when that is too few."""
        info = self.data.info
        estimate = None
        suggested = False
        if self._engine_ready and info is not None and self.method.method():
            from ssl_core.modalities import MODALITIES
            from ssl_core.train.plan import estimate as estimate_steps

            noun = MODALITIES.get(info.modality).plural if info.modality in MODALITIES else "samples"
            try:
                estimate = estimate_steps(self.snapshot(""), info.size, noun)
                before = self.training.value(EPOCHS)
                suggested = self._suggest_epochs(estimate.plan.steps_per_epoch)
                if self.training.value(EPOCHS) != before:
                    return  # the proposal emitted `changed`: the plan was worked out again for it
            except UserError as exc:  # a setting the run would refuse: Start names it
                log.debug("No step plan: %s", exc)
        text = f"This run: {estimate.summary()}" if estimate is not None else ""
        if text and suggested:
            from ssl_core.train.plan import SUGGESTED_MIN_STEPS

            text += f" Epochs suggested for this much data (at least {SUGGESTED_MIN_STEPS} steps); change them freely."
        self.step_plan.setText(text)
        warning = estimate.warning() if estimate is not None else ""
        if warning:
            color = current_colors().warn
            warning = f"<span style='color:{color}'><b>Too short to learn:</b> {html.escape(warning)}</span>"
        self.step_warning.setText(warning)
        self.step_warning.setVisible(bool(warning))

    def _suggest_epochs(self, steps_per_epoch: int) -> bool:
        """Propose epochs for the plan's steps per epoch (ssl_core.train.plan.epochs_for_steps) until someone
        sets them: a number the person, a loaded config or the demo put there stays. Returns whether the
        field shows a proposal above the default."""
        from ssl_core.train.plan import epochs_for_steps

        current = self.training.value(EPOCHS)
        self._epochs_chosen = self._epochs_chosen or current != self._epochs_left
        if self._epochs_chosen:
            return False
        proposal = epochs_for_steps(steps_per_epoch)
        self._epochs_left = proposal
        if proposal != current:
            self.training.set_value(EPOCHS, proposal)  # emits changed: the plan is worked out again
        return proposal != SCHEMA[EPOCHS].default

    def _theme_changed(self, _colors: object) -> None:
        self.update_step_plan()
        self.check_settings()  # the problems' lines take the new theme's colour

    # ---- problems beside their fields -----------------------------------------------------------
    def settings_problems(self) -> dict[str, str]:
        """What would stop a run with the settings shown, in words, by field: a method setting's name
        ("patch_size") or a config key ("data.image_size"). Cheap: nothing is built."""
        problems: dict[str, str] = {}
        for key in self.training.editors:
            if self.training.shown(key):
                words = SCHEMA[key].problem(self.training.value(key))
                if words:
                    problems[key] = words
        name = self.method.method()
        if not self._engine_ready or not name:
            return problems
        from ssl_core.methods import METHODS

        info = None if self.data.loading else self.data.info
        image_size = self.training.value(IMAGE_SIZE)
        for problem in METHODS.get(name).setup_problems(self.method.overrides(), info, image_size):
            problems.setdefault(problem.field, problem.words)
        return problems

    def check_settings(self) -> None:
        """Show each problem under its field, and keep Start disabled (saying why) while there is one."""
        problems = self.settings_problems()
        param_names = set(self.method.params.errors.keys())
        self.method.params.show_problems({k: v for k, v in problems.items() if k in param_names})
        self.training.show_problems({k: v for k, v in problems.items() if k in self.training.editors})
        shown = {**self.method.params.problems_shown(), **self.training.problems_shown()}
        elsewhere = [v for k, v in problems.items() if k not in shown]
        colour = current_colors().bad
        self.setup_problem.setText(
            " ".join(f"<span style='color:{colour}'>{html.escape(v)}</span>" for v in elsewhere)
        )
        self.setup_problem.setVisible(bool(elsewhere))
        first = next(iter(problems.items()), None)
        blocker = f"{self._field_title(first[0])}: {first[1]}" if first else ""
        self._start_action.setToolTip(
            f"{self._start_tip}\n\nFix this first: {blocker}" if blocker else self._start_tip
        )
        if blocker != self._blocker:
            self._blocker = blocker
            self.problems_changed.emit(blocker)

    def start_blocker(self) -> str:
        """Why Start cannot run with the settings shown, in words ("" when it can)."""
        return self._blocker

    def _field_title(self, key: str) -> str:
        """A field's label: a config key's title, or the chosen method's setting's."""
        if key in SCHEMA:
            return SCHEMA[key].title
        from ssl_core.methods import METHODS

        titles = {p.name: p.title for p in METHODS.get(self.method.method()).params}
        return titles.get(key, key)

    def step_plan_text(self) -> tuple[str, str]:
        """What Setup says about the run's length: (the plan, the warning or "")."""
        return self.step_plan.text(), self.step_warning.text() if self.step_warning.isVisible() else ""

    def engine_loaded(self) -> None:
        """Fill what comes from the engine's registries: methods, backbones, devices, data kinds."""
        self._engine_ready = True
        self.method.populate()
        self.training.populate_devices()
        self.data.engine_loaded()
        self.check_settings()

    # ---- data --------------------------------------------------------------------------------
    @property
    def data_loading(self) -> bool:
        return self.data.loading

    @property
    def data_info(self) -> Any:
        """The open data's DataInfo (modality, sample shape, classes); None until some data has loaded."""
        return self.data.info

    def data_spec(self) -> str:
        return self.data.spec()

    def open_data(self, spec: str) -> Any:
        """Open the data a spec names (e.g. `ssl-workbench PATH`) on a worker; returns it (None: already open)."""
        return self.data.open_spec(spec)

    def show_open_menu(self) -> None:
        """Pop up the data's Open menu (File → Open data…)."""
        self.data.show_open_menu()

    def show_data_message(self, text: str) -> None:
        """A line where the data's summary goes, e.g. while the engine loads."""
        self.data.show_message(text)

    # ---- config ------------------------------------------------------------------------------
    def config(self, runs_dir: str) -> RunConfig:
        """The run these settings describe; raises UserError (naming the field) when it cannot run."""
        if self.data.loading:
            raise UserError("The data is still loading; wait for the samples to appear, then start.")
        reason = self.method.unavailable_reason()
        if reason:
            raise UserError(reason, field="method.name")
        self.check_settings()
        if self._blocker:  # the words shown beside the field, not a config key after Start
            raise UserError(self._blocker)
        cfg = self.snapshot(runs_dir)
        cfg.validate("Setup")
        return cfg

    def snapshot(self, runs_dir: str) -> RunConfig:
        """The settings as shown, unchecked (for remembering them between sessions)."""
        cfg = RunConfig()
        cfg.runs_dir = str(runs_dir)
        cfg.data.spec = self.data.spec()
        cfg.data.channels = self.data.channels()
        series = self.data.series_options()
        cfg.data.length, cfg.data.missing = series["length"], series["missing"]
        for key, value in self.data.table_run_options().items():
            setattr(cfg.data, key, value)
        cfg.method.name = self.method.method()
        cfg.method.backbone = self.method.backbone_name()
        cfg.method.params = self.method.overrides()
        cfg.method.backbone_params = self.method.backbone_overrides()
        self.training.apply_to(cfg)
        return cfg

    def load_config(self, cfg: RunConfig) -> Any:
        """Show a config's settings; returns the data-loading worker when the data changes."""
        self.data.set_channels(cfg.data.channels)
        self.data.set_series_options(cfg.data.length, cfg.data.missing)
        self.data.set_table_options(cfg.data)
        self.method.set_backbone(cfg.method.backbone, cfg.method.backbone_params)
        self.method.set_method(cfg.method.name, cfg.method.params)
        self.training.load_from(cfg)
        return self.data.open_spec(cfg.data.spec)

    # ---- state between sessions --------------------------------------------------------------
    def restore_state(self, prefs: Prefs) -> None:
        """What can be restored before the engine is loaded: the layout and the recent data specs."""
        splitter = prefs.get_bytes(SPLITTER_KEY)
        if splitter is not None:
            self.splitter.restoreState(splitter)
        self.data.set_recent(prefs.get(RECENT_KEY, []) or [])

    def restore_settings(self, prefs: Prefs) -> Any:
        """The last session's settings (the methods must be known) and its data, opened on a worker;
        returns that worker. Settings from an older version fall back to the defaults."""
        edited = prefs.get(METHOD_PARAMS_KEY, {}) or {}
        self.method.restore_edited_settings(edited if isinstance(edited, dict) else {})
        raw = prefs.get(CONFIG_KEY)
        config = None
        if isinstance(raw, dict):
            try:
                config = RunConfig.from_dict(raw, source="saved settings")
            except UserError as exc:  # settings from an older version: start from the defaults
                log.info("Ignoring saved setup: %s", exc)
        if config is not None and config.method.name:
            return self.load_config(config)
        return self.data.open_spec(DEFAULT_SPEC)

    def save_state(self, prefs: Prefs, runs_dir: str) -> None:
        prefs.set_bytes(SPLITTER_KEY, self.splitter.saveState())
        prefs.set(RECENT_KEY, self.data.recent)
        if self._engine_ready:  # before that the tab is not filled in: keep the saved settings
            prefs.set(METHOD_PARAMS_KEY, self.method.edited_settings())
            prefs.set(CONFIG_KEY, self.snapshot(str(runs_dir)).to_dict())
