"""The main window: tabs, menus and shortcuts, and the wiring between the training session, the tabs
and the run store. It holds no computation; each tab owns its widgets and each job runs in a worker."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QStyle, QTabWidget, QWidget

from app import dialogs, exports
from app.demo import install_demo
from app.engine import EngineLoader
from app.gc_guard import GuiThreadCollector
from app.glyphs import GLYPHS, glyph_icon
from app.help import IntroDialog, about
from app.race import install_race
from app.report_actions import install_report
from app.resources import app_icon
from app.run_context import file_names, has_checkpoint, run_is_gone, run_paths
from app.settings import Prefs, chosen_runs_dir, default_runs_dir
from app.tabs.anomalies_tab import AnomaliesTab
from app.tabs.embeddings_tab import EmbeddingsTab, warm_up_umap
from app.tabs.evaluate_tab import EXPORTS as EVALUATE_EXPORTS
from app.tabs.evaluate_tab import EvaluateTab
from app.tabs.runs_tab import RunsTab
from app.tabs.setup_tab import SetupTab
from app.tabs.train_tab import TrainTab
from app.tabs.views_tab import ViewsTab
from app.theme import MODES, current_colors, theme_manager
from app.training import IDLE, PAUSED, RUNNING, STARTING, TrainingSession
from app.wheel_guard import install_wheel_guard
from app.workers import JobRunner, Worker
from ssl_core.config import RunConfig
from ssl_core.errors import UserError
from ssl_core.file_modes import give_normal_mode

log = logging.getLogger(__name__)

APP_TITLE = "SSL Workbench"
WARM_UP_DELAY_MS = 2000  # UMAP's numba compile starts this long after the window was built
EXPORT_MENU = [  # File > Export: a submenu per thing shown, the formats inside
    ("Training curves", ["export_curves_csv", "export_curves_png", "export_curves_svg"]),
    ("Runs comparison", ["export_compare_csv", "export_compare_png", "export_compare_svg"]),
    ("Evaluation", ["export_eval_csv", "export_eval_png", "export_eval_svg", "export_eval_json"]),
    ("Embeddings", ["export_plot", "export_svg", "export_csv", "export_npy"]),
]


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    from ssl_core.runs.store import read_metrics

    return read_metrics(run_dir)


class MainWindow(QMainWindow):
    def __init__(
        self,
        prefs: Prefs,
        runs_dir: str | Path | None = None,
        warm_umap: bool = True,
        preview_interval_s: float | None = 1.0,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.prefs = prefs
        install_wheel_guard()  # the wheel scrolls pages, never a setting that lacks the focus
        self.setWindowTitle(APP_TITLE)
        self.setWindowIcon(app_icon())
        # A folder given on the command line is for this session; one chosen in the app is remembered;
        # otherwise the engine's default, the folder `ssl-core` uses too.
        self.runs_dir = Path(runs_dir or chosen_runs_dir(prefs) or default_runs_dir())
        self.current_run: Path | None = None
        self._closing = False
        self._pending_epochs = 0  # of the run being started, for the progress text

        self.runner = JobRunner(self)
        # Cyclic garbage (Qt objects among it) is collected here, never on a job's thread.
        self.collector = GuiThreadCollector(parent=self)
        self.collector.start()
        self.session = TrainingSession(self.runner, parent=self)
        self.session.preview_interval_s = preview_interval_s
        self.actions: dict[str, QAction] = {}
        self._make_actions()

        self.setup_tab = SetupTab(self.runner, self.actions["start"])
        self.train_tab = TrainTab(self.actions)
        self.views_tab = ViewsTab(self.runner)
        self.embeddings_tab = EmbeddingsTab(self.runner)
        self.evaluate_tab = EvaluateTab(self.runner)
        self.anomalies_tab = AnomaliesTab(self.runner)
        self.runs_tab = RunsTab(self.runner)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("main_tabs")
        self.tabs.setDocumentMode(True)
        for widget, title, tip in (
            (self.setup_tab, "Setup", "Choose data, method and training settings."),
            (self.train_tab, "Train", "Start, pause or stop training and watch the loss."),
            (self.views_tab, "Views", "What the method sees: augmented views, reconstructions or puzzles."),
            (
                self.embeddings_tab,
                "Embeddings",
                "Every sample (image, series) as a point; similar samples end up close together.",
            ),
            (self.evaluate_tab, "Evaluate", "How useful the learned features are, with few and many labels."),
            (
                self.anomalies_tab,
                "Anomalies",
                "Which samples the model finds unusual: scores, a threshold, and detection against baselines.",
            ),
            (self.runs_tab, "Runs", "Saved runs: open, resume, compare, delete, export."),
        ):
            index = self.tabs.addTab(widget, title)
            self.tabs.setTabToolTip(index, tip)
        self.setCentralWidget(self.tabs)
        self.tabs.currentChanged.connect(self._tab_changed)

        self._make_menus()
        self._make_toolbar()
        self._make_status_bar()
        self._connect()
        # Extensions that add their own menu entries and windows over this one.
        install_demo(self)  # Demo menu and the start page's entry: guided stories (app/demo)
        install_race(self)  # Run > Race two methods (app/race)
        install_report(self)  # File > Export > Run report (app/report_actions.py)
        self._restore_window_prefs()
        self.warm_umap = warm_umap
        self.engine_ready = False
        self._when_ready: list[Any] = []
        # The window is drawn before PyTorch and the registries are imported (seconds): they load on a
        # thread, and what needs them (methods, devices, runs, the data) is filled in when they are in.
        self.engine = EngineLoader(self)
        self.engine.loaded.connect(self._engine_loaded_later)
        self.engine.failed.connect(self._engine_failed)
        if self.engine.start():
            self._engine_loaded()
        else:
            self.statusBar().showMessage("Loading PyTorch and the methods…")
            self.setup_tab.show_data_message("Loading PyTorch and the methods…")
        self._update_actions()

    # ---- construction ------------------------------------------------------------------------
    def _action(
        self,
        key: str,
        text: str,
        slot,
        shortcut: str | QKeySequence | None = None,
        icon: QStyle.StandardPixmap | str | None = None,
        tip: str = "",
    ) -> QAction:
        """A window action; `icon` is a Qt standard icon, or the name of a themed glyph (app.glyphs)."""
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if isinstance(icon, str):
            action.setIcon(glyph_icon(icon, current_colors()))
            action.setData(icon)  # redrawn in the new colours when the theme changes
        elif icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.actions[key] = action
        self.addAction(action)
        return action

    def _make_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self._action(
            "start",
            "Start training",
            self.start_training,
            "Ctrl+R",
            "start",
            "Train the chosen method on the chosen data (Ctrl+R).",
        )
        self._action("pause", "Pause", self.session.pause, None, "pause", "Pause after the current step.")
        self._action("resume", "Resume", self.session.resume, None, "resume", "Continue training.")
        self._action(
            "stop",
            "Stop",
            self.stop_training,
            "Esc",
            "stop",
            "Stop after the current step and save a checkpoint; the run can be resumed (Esc).",
        )
        self._action(
            "open_data",
            "Open data…",
            self.open_data,
            "Ctrl+O",
            sp.SP_DialogOpenButton,
            "Open an image folder, a time-series file, an array file or a dataset.",
        )
        self._action(
            "save_config",
            "Save experiment config…",
            self.save_config,
            "Ctrl+S",
            sp.SP_DialogSaveButton,
            "Save these settings as a TOML file (also usable with ssl-core train --config).",
        )
        self._action(
            "load_config",
            "Load experiment config…",
            self.load_config,
            "Ctrl+Shift+O",
            None,
            "Load settings from a TOML config file.",
        )
        self._action(
            "runs_dir",
            "Choose runs folder…",
            self.choose_runs_dir,
            None,
            None,
            "Where runs (checkpoints, curves, results) are saved.",
        )
        self._action("export_plot", "Embedding plot as PNG…", lambda: self.embeddings_tab.export_plot("png"))
        self._action("export_svg", "Embedding plot as SVG…", lambda: self.embeddings_tab.export_plot("svg"))
        self._action("export_csv", "Embeddings as CSV…", lambda: self.embeddings_tab.export_embeddings("csv"))
        self._action("export_npy", "Embeddings as NPY…", lambda: self.embeddings_tab.export_embeddings("npy"))
        self._action("export_backbone", "Backbone weights of the current run…", self.export_backbone)
        for fmt in ("csv", "png", "svg"):
            self._action(
                f"export_curves_{fmt}",
                f"Training curves as {fmt.upper()}…",
                lambda _=False, f=fmt: exports.export_training_curves(
                    self, self.train_tab, f, self.current_run
                ),
            )
            self._action(
                f"export_compare_{fmt}",
                f"Runs comparison as {fmt.upper()}…",
                lambda _=False, f=fmt: exports.export_runs_comparison(self, self.runs_tab, f),
            )
        for fmt, text in EVALUATE_EXPORTS.items():
            self._action(f"export_eval_{fmt}", text, lambda _=False, f=fmt: self.evaluate_tab.export(f))
        self._action("quit", "Quit", self.close, QKeySequence.StandardKey.Quit)
        self._action(
            "intro", "What is self-supervised learning?", self.show_intro, "F1", sp.SP_MessageBoxQuestion
        )
        self._action("about", "About SSL Workbench", lambda: about(self))

    def _make_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.menus: dict[str, Any] = {"file": file_menu}  # what install_* extensions add their entries to
        for key in ("open_data", None, "save_config", "load_config", None, "runs_dir"):
            file_menu.addSeparator() if key is None else file_menu.addAction(self.actions[key])
        export = self.menus["export"] = file_menu.addMenu("Export")
        for title, keys in EXPORT_MENU:
            submenu = export.addMenu(title)
            for key in keys:
                submenu.addAction(self.actions[key])
        export.addSeparator()
        export.addAction(self.actions["export_backbone"])
        file_menu.addSeparator()
        file_menu.addAction(self.actions["quit"])

        run_menu = self.menus["run"] = bar.addMenu("&Run")
        for key in ("start", "pause", "resume", "stop"):
            run_menu.addAction(self.actions[key])

        view_menu = self.menus["view"] = bar.addMenu("&View")
        theme_menu = view_menu.addMenu("Theme")
        self.theme_group = QActionGroup(self)
        for mode in MODES:
            action = QAction({"system": "Follow the system", "light": "Light", "dark": "Dark"}[mode], self)
            action.setCheckable(True)
            action.setData(mode)
            action.triggered.connect(lambda _=False, m=mode: self.set_theme(m))
            self.theme_group.addAction(action)
            theme_menu.addAction(action)
            self.actions[f"theme_{mode}"] = action
        view_menu.addSeparator()
        for i in range(self.tabs.count()):
            action = QAction(self.tabs.tabText(i), self)
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            action.triggered.connect(lambda _=False, k=i: self.tabs.setCurrentIndex(k))
            view_menu.addAction(action)

        help_menu = self.menus["help"] = bar.addMenu("&Help")
        help_menu.addAction(self.actions["intro"])
        help_menu.addAction(self.actions["about"])

    def _make_toolbar(self) -> None:
        toolbar = self.addToolBar("Run")
        toolbar.setObjectName("run_toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for key in ("open_data", "save_config", None, "start", "pause", "resume", "stop", None, "intro"):
            toolbar.addSeparator() if key is None else toolbar.addAction(self.actions[key])

    def _make_status_bar(self) -> None:
        self.run_label = QLabel("No run open")
        self.run_label.setObjectName("status_run")
        self.statusBar().addPermanentWidget(self.run_label)

    def _connect(self) -> None:
        s = self.session
        s.state_changed.connect(self._state_changed)
        s.run_started.connect(self._run_started)
        s.steps.connect(self.train_tab.add_steps)
        s.epoch_ended.connect(self.train_tab.epoch_ended)
        s.checkpoint_saved.connect(self.train_tab.checkpoint_saved)
        s.warning.connect(lambda text: self.train_tab.append_log(text, "warning"))
        s.preview.connect(self._preview_ready)
        s.run_finished.connect(self._run_finished)
        s.run_failed.connect(self._run_failed)
        s.job_error.connect(self._job_error)
        s.ended.connect(self._training_ended)
        self.embeddings_tab.follow_session(self.session)
        self.setup_tab.method_changed.connect(self._method_changed)
        self.views_tab.request.connect(self.compute_views)
        self.runs_tab.open_requested.connect(self.open_run)
        self.runs_tab.resume_requested.connect(self.resume_run)
        self.runs_tab.deleted.connect(self._run_deleted)
        self.runner.changed.connect(self._update_actions)
        self.setup_tab.data_loading_changed.connect(lambda _: self._update_actions())
        self.setup_tab.problems_changed.connect(lambda _: self._update_actions())
        self.evaluate_tab.evaluated.connect(lambda _: self.runs_tab.refresh())
        self.evaluate_tab.finetuned.connect(lambda _: self.runs_tab.refresh())  # its run is listed
        self.anomalies_tab.exported.connect(lambda text: self.statusBar().showMessage(text, 8000))
        for tab in (
            self.embeddings_tab,
            self.evaluate_tab,
            self.anomalies_tab,
            self.views_tab,
            self.runs_tab,
        ):
            tab.run_missing.connect(self._run_gone)
        self.setup_tab.data_loaded.connect(self.evaluate_tab.set_setup_data)
        for tab in (self.views_tab, self.train_tab):
            self.setup_tab.data_info_loaded.connect(tab.set_data_info)
        manager = theme_manager()
        if manager is not None:
            for action in self.theme_group.actions():
                action.setChecked(action.data() == manager.mode)
            manager.changed.connect(self._theme_changed)

    def _theme_changed(self, colors) -> None:
        """Toolbar glyphs in the new theme's text colour (Fusion's own are dark on dark)."""
        for action in self.actions.values():
            if isinstance(action.data(), str) and action.data() in GLYPHS:
                action.setIcon(glyph_icon(action.data(), colors))

    # ---- training ----------------------------------------------------------------------------
    def start_training(self) -> Worker | None:
        if self.session.busy:
            return None
        try:
            config = self.setup_tab.config(str(self.runs_dir))
        except UserError as exc:
            dialogs.show_error(self, exc, title="Cannot start training")
            return None
        self._pending_epochs = config.train.epochs
        self.tabs.setCurrentWidget(self.train_tab)
        self.train_tab.clear()
        self.train_tab.set_status("Preparing data and model…")
        return self.session.start(config)

    def stop_training(self) -> None:
        if self.session.busy:
            self.session.stop()
            self.train_tab.set_status("Stopping after the current step and saving a checkpoint…")

    def resume_run(self, run_dir: Path) -> Worker | None:
        """Continue a saved run: show its settings and curves first, then train on."""
        if self.session.busy:
            return None
        if run_is_gone(run_dir):
            self._run_gone(Path(run_dir), "Cannot resume this run")
            return None
        try:
            config = RunConfig.load(run_paths(run_dir).config)
        except UserError as exc:
            dialogs.show_error(self, exc, title="Cannot resume this run")
            return None
        self.setup_tab.load_config(config)
        self._pending_epochs = config.train.epochs
        self.tabs.setCurrentWidget(self.train_tab)
        self.train_tab.clear()  # the curves are read again below; the last run's log and speed go
        self.train_tab.set_status(f"Resuming {Path(run_dir).name}…")
        # Curves first, then training: live steps then simply continue the loaded history.
        worker = Worker(read_history, Path(run_dir))
        worker.returned.connect(self.train_tab.load_history)
        worker.finished.connect(lambda: self._resume_after_history(Path(run_dir)))
        self._set_current_run(Path(run_dir))
        return self.runner.start(worker, "history")

    def _resume_after_history(self, run_dir: Path) -> None:
        if not self._closing and not self.session.busy:
            self.session.resume_run(run_dir)

    def _state_changed(self, state: str) -> None:
        texts = {STARTING: "Starting…", RUNNING: "Training", PAUSED: "Paused"}
        if state in texts:
            self.statusBar().showMessage(texts[state])
        if state == PAUSED:
            self.train_tab.set_status("Paused. Press Resume to continue, or Stop to end the run.")
        elif state == RUNNING and self.current_run is not None:
            self.train_tab.set_status(f"Training {self.current_run.name}")
        self._update_actions()

    def _run_started(self, event: Any) -> None:
        self._set_current_run(Path(event.run_dir))
        # a new run: the last run's map, accuracies and anomaly scores are about another model
        self.embeddings_tab.set_run(Path(event.run_dir))
        self.evaluate_tab.set_run(Path(event.run_dir))
        self.anomalies_tab.set_run(Path(event.run_dir))
        self.train_tab.run_started(event, self._pending_epochs)
        self.runs_tab.refresh()

    def _preview_ready(self, event: Any) -> None:
        """A live preview from the trainer (already throttled): the Train and Views tabs draw it."""
        self.train_tab.show_preview(event.preview, event.step)
        self.views_tab.show_preview(event.preview, event.step)

    def _run_finished(self, event: Any) -> None:
        self.train_tab.finished(event)
        self.statusBar().showMessage(f"Run {Path(event.run_dir).name} {event.status}.", 8000)
        self.runs_tab.refresh()
        self.runs_tab.select_run(Path(event.run_dir))
        # the checkpoint changed: old embeddings and results are stale
        self.embeddings_tab.set_run(Path(event.run_dir), reload=True)
        self.evaluate_tab.set_run(Path(event.run_dir), reload=True)
        self.anomalies_tab.set_run(Path(event.run_dir), reload=True)

    def _run_failed(self, event: Any) -> None:
        self.train_tab.failed(event.message)
        self.statusBar().showMessage("Training failed: see the Train tab's log.")
        self.runs_tab.refresh()
        if not self._closing:
            dialogs.show_failure(self, event.message, event.traceback, event.user_error, "Training stopped")

    def _job_error(self, exc: BaseException, tb: str) -> None:
        self.train_tab.failed(str(exc))
        self.statusBar().showMessage("Training failed to start: see the Train tab's log.")
        if not self._closing:
            dialogs.show_error(self, exc, tb, title="Cannot train")

    def _training_ended(self) -> None:
        self._update_actions()
        if self._closing:
            self.close()

    # ---- runs --------------------------------------------------------------------------------
    def _set_current_run(self, run_dir: Path | None) -> None:
        self.current_run = run_dir
        self.run_label.setText(f"Run: {run_dir.name}" if run_dir else "No run open")
        # The app's name last and once: Qt appends the display name to a title that does not end with it.
        self.setWindowTitle(f"{run_dir.name} — {APP_TITLE}" if run_dir else APP_TITLE)

    def open_run(self, run_dir: Path) -> Worker | None:
        """Show a saved run: its settings, curves, preview, embeddings and evaluation results."""
        if self.session.busy:
            return None
        if run_is_gone(run_dir):
            self._run_gone(Path(run_dir), "Cannot open this run")
            return None
        try:
            config = RunConfig.load(run_paths(run_dir).config)
        except UserError as exc:
            dialogs.show_error(self, exc, title="Cannot open this run")
            return None
        self.setup_tab.load_config(config)
        self._set_current_run(Path(run_dir))
        self.train_tab.clear()  # nothing of the run shown before: speed, log, progress
        self.train_tab.set_status(f"Opened run {Path(run_dir).name}.")
        self.embeddings_tab.set_run(Path(run_dir))
        self.evaluate_tab.set_run(Path(run_dir))
        self.anomalies_tab.set_run(Path(run_dir))
        if has_checkpoint(run_dir):
            self.views_tab.compute(config, Path(run_dir))
        worker = Worker(read_history, Path(run_dir))
        worker.returned.connect(self._history_loaded)
        worker.errored.connect(
            lambda exc, tb: dialogs.show_error(self, exc, tb, "Cannot read the run's curves")
        )
        self.statusBar().showMessage(f"Opened {Path(run_dir).name}", 5000)
        return self.runner.start(worker, "history")

    def _history_loaded(self, records: list[dict[str, Any]]) -> None:
        self.train_tab.load_history(records)
        if records:
            self.train_tab.show_saved_run(int(records[-1]["step"]))

    def _run_gone(self, run_dir: Path, title: str) -> None:
        """A run's folder was deleted or moved underneath the app: say so, forget it, refresh the list."""
        run_dir = Path(run_dir)
        self._run_deleted(run_dir)
        self.runs_tab.refresh()
        if self._closing:
            return
        dialogs.present(
            self,
            "user",
            title,
            f"Run {run_dir.name} is no longer in {run_dir.parent}: its folder (or its {file_names()[0]}) was "
            "deleted or moved outside SSL Workbench.\n\nThe Runs list has been refreshed. Pick another run "
            "there, or, if you moved the run, choose its new folder with File → Choose runs folder.",
        )

    def _run_deleted(self, run_dir: Path) -> None:
        if self.current_run == run_dir:
            self._set_current_run(None)
        for tab in (self.embeddings_tab, self.evaluate_tab, self.anomalies_tab):
            if tab.run_dir == run_dir:
                tab.set_run(None)

    def export_backbone(self) -> None:
        if self.current_run is None:
            dialogs.present(
                self, "user", "No run", "Train a model or open a run first, then export its backbone."
            )
            return
        self.runs_tab.select_run(self.current_run)
        self.runs_tab.export_selected()

    # ---- views -------------------------------------------------------------------------------
    def _method_changed(self, name: str) -> None:
        from ssl_core.methods import METHODS

        self.views_tab.set_kind(METHODS.get(name).preview_kind)

    def compute_views(self, automatic: bool = False) -> Worker | None:
        try:
            config = self.setup_tab.config(str(self.runs_dir))
        except UserError as exc:
            if automatic:  # opening the tab should not pop up a dialog; say it in place instead
                self.views_tab.set_status(str(exc))
            else:
                dialogs.show_error(self, exc, title="Cannot make a preview")
            return None
        run_dir = None
        run = self.current_run
        if run is not None and not self.session.busy and has_checkpoint(run):
            try:
                if RunConfig.load(run_paths(run).config).method.name == config.method.name:
                    run_dir = run  # the trained model of this method
            except UserError:
                pass
        return self.views_tab.compute(config, run_dir)

    # ---- tabs, actions -----------------------------------------------------------------------
    def _tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        run = self.current_run
        ready = run is not None and not self.session.busy and has_checkpoint(run)
        if widget is self.embeddings_tab and ready:
            self.embeddings_tab.set_run(run)
            self.embeddings_tab.compute(run)
        elif widget is self.views_tab and not self.views_tab.rows() and not self.session.busy:
            self.compute_views(automatic=True)
        elif widget is self.runs_tab:
            self.runs_tab.refresh()  # runs may have been added, deleted or moved outside the app

    def _update_actions(self) -> None:
        state = self.session.state
        busy = state != IDLE or self.runner.running("history") or not self.engine_ready
        a = self.actions
        # A setting Setup shows a problem beside keeps Start off; its tooltip says which (setup_tab).
        a["start"].setEnabled(
            not busy and not self.setup_tab.data_loading and not self.setup_tab.start_blocker()
        )
        a["pause"].setEnabled(state == RUNNING)
        a["resume"].setEnabled(state == PAUSED)
        a["stop"].setEnabled(state in (STARTING, RUNNING, PAUSED))
        for key in ("load_config", "runs_dir", "open_data"):
            a[key].setEnabled(not busy)
        self.setup_tab.setEnabled(not busy)  # settings of a running job can't change under it
        for tab in (self.views_tab, self.embeddings_tab, self.evaluate_tab, self.anomalies_tab):
            tab.set_busy(busy)
        in_use = {
            p
            for p in (
                self.current_run if busy else None,
                self.embeddings_tab.run_in_use(),
                self.evaluate_tab.run_in_use(),
                self.anomalies_tab.run_in_use(),
            )
            if p is not None
        }
        self.runs_tab.set_locked(in_use, busy)

    # ---- files -------------------------------------------------------------------------------
    def save_config(self, path: str | None = None) -> Path | None:
        try:
            config = self.setup_tab.config(str(self.runs_dir))
        except UserError as exc:
            dialogs.show_error(self, exc, title="Cannot save these settings")
            return None
        if not path:
            start = str(Path(self.prefs.get("last_config_dir", str(Path.home()))) / "experiment.toml")
            path, _ = QFileDialog.getSaveFileName(
                self, "Save experiment config", start, "TOML config (*.toml)"
            )
            if not path:
                return None
        out = Path(path)
        try:
            config.save(out)
        except OSError as exc:  # the store's DiskWriteError keeps the errno, not the OS's words for it
            reason = exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))
            dialogs.show_error(
                self,
                UserError(
                    f"Cannot write {out}: {reason}. Choose a folder you can write to, or free some space."
                ),
                title="Cannot save these settings",
            )
            return None
        give_normal_mode(out)  # a file to share and edit, not one of a run's private files
        self.prefs.set("last_config_dir", str(out.parent))
        self.statusBar().showMessage(f"Saved {out}", 5000)
        return out

    def load_config(self, path: str | None = None) -> RunConfig | None:
        if not path:
            path, _ = QFileDialog.getOpenFileName(
                self,
                "Load experiment config",
                self.prefs.get("last_config_dir", str(Path.home())),
                "TOML config (*.toml)",
            )
            if not path:
                return None
        try:
            config = RunConfig.load(path)
        except UserError as exc:
            dialogs.show_error(self, exc, title="Cannot load this config")
            return None
        self.setup_tab.load_config(config)
        self.prefs.set("last_config_dir", str(Path(path).parent))
        self.tabs.setCurrentWidget(self.setup_tab)
        self.statusBar().showMessage(f"Loaded {path}", 5000)
        return config

    def choose_runs_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Runs folder", str(self.runs_dir))
        if folder:
            self.set_runs_dir(Path(folder))

    def set_runs_dir(self, folder: Path) -> None:
        self.runs_dir = Path(folder)
        self.prefs.set("runs_dir", str(self.runs_dir))
        self.runs_tab.set_runs_dir(self.runs_dir)

    def open_data(self) -> None:
        self.tabs.setCurrentWidget(self.setup_tab)
        self.setup_tab.show_open_menu()

    # ---- help, theme -------------------------------------------------------------------------
    def show_intro(self) -> None:
        IntroDialog(self).exec()

    def set_theme(self, mode: str) -> None:
        manager = theme_manager()
        if manager is not None:
            manager.set_mode(mode)
        self.prefs.set("theme", mode)

    # ---- the engine --------------------------------------------------------------------------
    def _engine_loaded_later(self) -> None:
        """The engine came in while the window was on screen: fill it without moving or resizing it."""
        size = self.size()
        self._engine_loaded()
        QTimer.singleShot(0, lambda: self._keep_size(size))  # after the layouts took the new content

    def _engine_loaded(self) -> None:
        if self.engine_ready:
            return
        self.engine_ready = True
        self.statusBar().clearMessage()
        self.setup_tab.engine_loaded()
        self.runs_tab.set_runs_dir(self.runs_dir)
        self.setup_tab.restore_settings(self.prefs)  # starts loading the data on a worker...
        self.collector.freeze_startup()  # ...while the one full collection of the session runs here
        self._update_actions()
        if self.warm_umap:
            # After the window is up, not during the launch: the compile competes for the two things
            # a launch needs, a CPU core and the GIL.
            QTimer.singleShot(WARM_UP_DELAY_MS, self._start_warm_up)
        pending, self._when_ready = self._when_ready, []
        for fn in pending:
            fn()

    def _engine_failed(self, exc: BaseException, tb: str) -> None:
        self.statusBar().showMessage("PyTorch could not be loaded; see the error.")
        dialogs.show_error(self, exc, tb, "Cannot load PyTorch")

    def when_ready(self, fn) -> None:
        """Call `fn` now if the engine is loaded, else as soon as it is."""
        if self.engine_ready:
            fn()
        else:
            self._when_ready.append(fn)

    def _start_warm_up(self) -> None:
        if self._closing:
            return
        # A daemon thread: numba's compile can't be interrupted, and quitting must not wait for it.
        threading.Thread(target=self._warm_up, name="umap-warmup", daemon=True).start()

    def _warm_up(self) -> None:
        try:
            warm_up_umap()
        except Exception:  # only a speed-up: a failure here must not disturb the user
            log.debug("UMAP warm-up failed", exc_info=True)

    # ---- preferences -------------------------------------------------------------------------
    def _restore_window_prefs(self) -> None:
        """What can be restored before the engine is loaded: the layout, the tab, the geometry."""
        p = self.prefs
        state = p.get_bytes("window/state")
        if state is not None:
            self.restoreState(state)
        self.setup_tab.restore_state(p)
        tab = p.get("window/tab", 0)
        if isinstance(tab, int) and 0 <= tab < self.tabs.count():
            self.tabs.blockSignals(True)
            self.tabs.setCurrentIndex(tab)
            self.tabs.blockSignals(False)
        self._restore_geometry()

    def _restore_geometry(self) -> None:
        geometry = self.prefs.get_bytes("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1320, 860)

    def _keep_size(self, size) -> None:
        """Undo a resize caused by filling the panels (longer texts raise their size hints)."""
        if self.size() != size and not (self.isMaximized() or self.isFullScreen()):
            self.resize(size)

    def save_prefs(self) -> None:
        p = self.prefs
        p.set_bytes("window/geometry", self.saveGeometry())
        p.set_bytes("window/state", self.saveState())
        p.set("window/tab", self.tabs.currentIndex())
        self.setup_tab.save_state(p, str(self.runs_dir))
        p.sync()  # runs_dir is stored when the user chooses one (set_runs_dir), never the default

    # ---- closing -----------------------------------------------------------------------------
    def _close_question(self) -> tuple[str, str] | None:
        """What to ask before quitting, if a job the user started is still running."""
        if self.session.busy:
            return (
                "Quit while training?",
                "Training is still running. Stop it and quit?\n\nThe run is saved "
                "at the current step and can be resumed later from the Runs tab.",
            )
        jobs = [
            text
            for name, text in (
                ("evaluate", "an evaluation"),
                ("finetune", "a fine-tuning"),
                ("anomalies", "the anomaly detection"),
                ("umap", "a UMAP map"),
                ("embed", "the embeddings"),
            )
            if self.runner.running(name)
        ]
        if jobs:
            return (
                "Quit now?",
                f"SSL Workbench is still computing {' and '.join(jobs)}. Cancel and quit?\n\n"
                "Nothing is lost: it can be computed again later.",
            )
        return None

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if self.runner.running():
            if not self._closing:
                question = self._close_question()
                if question is not None and not dialogs.ask(self, *question):
                    event.ignore()
                    return
                self._closing = True
                self.save_prefs()
                self.session.stop()
                self.embeddings_tab.cancel()
                self.evaluate_tab.cancel()
                self.anomalies_tab.cancel()
                self.runner.cancel()
                self.setEnabled(False)
                self.statusBar().showMessage("Stopping running jobs, then quitting…")
                self.runner.idle.connect(self.close)
            event.ignore()  # closes again once the last job ended
            return
        if not self._closing:
            self.save_prefs()
        self.collector.stop()
        event.accept()
