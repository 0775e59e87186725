"""The race window: two lanes on the data open in Setup, one Start for both, the results side by side.

Lane A is the method chosen in Setup; lane B another method (BYOL by default) or no pretraining at all.
The engine (ssl_core.train.race) makes both configs share seed, split, batch size and step budget and
says what differs. Both runs land in the runs folder as normal runs; closing the window stops them
cleanly (each saves a checkpoint and stays resumable) without asking anything.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from app.race.lane import RaceLane
from app.race.results import RaceResults, evaluate_lane
from app.workers import Worker
from ssl_core.errors import UserError

log = logging.getLogger(__name__)

WATCH_MS = 300  # how often the window checks whether the main window is quitting (it cancels all jobs)
SHARED_CPU = (
    "On this computer's CPU both lanes share the processor cores, so each trains at about half the speed "
    "it would alone. Both get the same number of steps, so the comparison stays fair."
)
SHARED_GPU = "Both lanes share the GPU; both get the same number of steps, so the comparison stays fair."


class RaceWindow(QWidget):
    def __init__(self, main: Any):
        super().__init__(main, Qt.WindowType.Window)
        self.main = main
        self.setObjectName("race_window")
        self.setWindowTitle("Race two methods — SSL Workbench")
        self.plan: Any = None
        self._racing = False  # between Start and the end of both lanes' training
        self._closing = False  # closed mid-race: stop, score nothing
        self._evaluations: dict[str, Worker] = {}
        self._reports: dict[str, dict] = {}
        self._eval_errors: list[str] = []
        self._eval_progress: dict[str, float] = {}

        self.lane_a_label = QLabel()
        self.lane_a_label.setObjectName("race_lane_a_method")
        self.second = QComboBox()
        self.second.setObjectName("race_second_method")
        self.second.setToolTip("What lane A races against: another method, or the same network untrained.")
        self.second.currentIndexChanged.connect(self._update_plan)
        self.start_button = QPushButton("Start both")
        self.start_button.setObjectName("race_start")
        self.start_button.setProperty("role", "run")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop both")
        self.stop_button.setObjectName("race_stop")
        self.stop_button.clicked.connect(self.stop)
        choose = QHBoxLayout()
        choose.addWidget(QLabel("Lane A:"))
        choose.addWidget(self.lane_a_label)
        choose.addSpacing(16)
        choose.addWidget(QLabel("against lane B:"))
        choose.addWidget(self.second, 1)
        choose.addWidget(self.start_button)
        choose.addWidget(self.stop_button)
        self.fairness = QLabel()
        self.fairness.setObjectName("race_fairness")
        self.fairness.setWordWrap(True)
        self.sharing = QLabel()
        self.sharing.setObjectName("race_sharing")
        self.sharing.setWordWrap(True)
        self.sharing.setProperty("role", "muted")
        self.status = QLabel()
        self.status.setObjectName("race_status")
        self.status.setWordWrap(True)

        preview_s = getattr(main.session, "preview_interval_s", 1.0)
        self.lanes = {key: RaceLane(key, main.runner, preview_s) for key in ("A", "B")}
        lanes = QSplitter(Qt.Orientation.Horizontal)
        for lane in self.lanes.values():
            lane.ended.connect(self._lane_ended)
            lanes.addWidget(lane)
        lanes.setChildrenCollapsible(False)
        self.results = RaceResults()
        self.results.open_run.connect(self._open_run)

        layout = QVBoxLayout(self)
        layout.addLayout(choose)
        layout.addWidget(self.fairness)
        layout.addWidget(self.sharing)
        layout.addWidget(self.status)
        layout.addWidget(lanes, 1)
        layout.addWidget(self.results)
        self.resize(1400, 900)

        self._watch = QTimer(self)
        self._watch.setInterval(WATCH_MS)
        self._watch.timeout.connect(self._watch_main)
        main.setup_tab.changed.connect(self._setup_changed)
        self._update_buttons()

    # ---- what races --------------------------------------------------------------------------
    def refresh_from_setup(self) -> None:
        """Lane A and lane B's choices from the data and method open in Setup (while not racing)."""
        if self.busy:
            return
        from ssl_core.train.race import default_second, method_title, second_choices

        setup = self.main.setup_tab
        info, first = setup.data.info, setup.method.method()
        self.lane_a_label.setText(f"<b>{method_title(first)}</b>" if first else "(no method)")
        previous = self.second.currentData()
        image_size = setup.snapshot("").data.image_size
        choices = second_choices(first, info, image_size) if first else []
        self.second.blockSignals(True)
        self.second.clear()
        for name in choices:
            self.second.addItem(method_title(name), name)
        wanted = (
            previous if previous in choices else (default_second(first, info, image_size) if first else None)
        )
        self.second.setCurrentIndex(max(0, self.second.findData(wanted)))
        self.second.blockSignals(False)
        self._update_plan()

    def _setup_changed(self) -> None:
        if self.isVisible() and not self.busy:
            self.refresh_from_setup()

    def _base_config(self, checked: bool):
        setup, runs_dir = self.main.setup_tab, str(self.main.runs_dir)
        return setup.config(runs_dir) if checked else setup.snapshot(runs_dir)

    def _update_plan(self) -> None:
        """Say what both lanes share and what differs, for the choices shown."""
        if self.busy:
            return
        from ssl_core.device import select_device
        from ssl_core.train.race import plan_race

        second = self.second.currentData()
        if not second:
            self.status.setText("Choose data and a method in Setup first: lane A races with them.")
            self._update_buttons()
            return
        try:
            plan = plan_race(self._base_config(False), second, self.main.setup_tab.data_info)
        except UserError as exc:
            self.fairness.setText("")
            self.status.setText(f"Cannot race these settings yet: {exc}")
            self._update_buttons()
            return
        same_race = self.plan is not None and plan.summary() == self.plan.summary()
        self.fairness.setText(plan.summary())
        try:
            device = select_device(plan.a.config.train.device)
            self.sharing.setText(SHARED_GPU if device.type == "cuda" else SHARED_CPU)
        except UserError:  # a device Setup names but this machine lacks: Start says so
            self.sharing.setText(SHARED_CPU)
        for lane, planned in zip(self.lanes.values(), plan.lanes, strict=True):
            lane.set_method(planned.title, planned.trains)
        if not same_race:  # the last race's results stay until the settings change
            self.results.clear((plan.a.title, plan.b.title))
            self.status.setText("Press Start to train both lanes at once.")
        self._update_buttons()

    # ---- commands ----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._racing or bool(self._evaluations)

    def start(self) -> bool:
        """Start both lanes from Setup's settings; False (saying why in the window) when they cannot."""
        if self.busy:
            return False
        from ssl_core.train.race import plan_race

        if not self.second.currentData():
            return False
        try:
            plan = plan_race(
                self._base_config(True), self.second.currentData(), self.main.setup_tab.data_info
            )
        except UserError as exc:
            self.status.setText(f"Cannot start: {exc}")
            return False
        self.plan = plan
        self._closing = False
        self._racing = True
        self._reports, self._eval_errors, self._eval_progress = {}, [], {}
        self.results.clear((plan.a.title, plan.b.title))
        self.status.setText("Racing: both lanes train at once.")
        self._watch.start()
        for lane, planned in zip(self.lanes.values(), plan.lanes, strict=True):
            lane.set_method(planned.title, planned.trains)
        self._update_buttons()
        for lane, planned in zip(self.lanes.values(), plan.lanes, strict=True):
            lane.start(planned.config)
        return True

    def stop(self) -> None:
        """Stop both lanes (each saves a checkpoint); they are still scored."""
        for lane in self.lanes.values():
            lane.stop()

    def stop_everything(self) -> None:
        """Stop both lanes and any scoring; nothing is scored afterwards."""
        self._closing = True
        self.stop()
        for worker in self._evaluations.values():
            worker.quit()

    # ---- the end of a race -------------------------------------------------------------------
    def _lane_ended(self) -> None:
        self._update_buttons()
        if not self._racing or any(lane.busy for lane in self.lanes.values()):
            return
        self._racing = False
        if self._closing:
            self._watch.stop()
            self.status.setText("The race was stopped; both runs are saved and can be resumed.")
            return
        self._evaluate()

    def _evaluate(self) -> None:
        from app.run_context import has_checkpoint

        a, b = self.lanes["A"], self.lanes["B"]
        jobs = {}
        for lane in (a, b):
            if lane.trains and (lane.status == "failed" or not has_checkpoint(lane.run_dir)):
                why = lane.message or "it saved no checkpoint"
                self.results.show_problem(f"Lane {lane.key} cannot be scored: {why}")
                self.status.setText("The race ended without results.")
                self._watch.stop()
                self._update_buttons()
                return
            if lane.trains:
                # the random-weights lane is scored from lane A's baseline (the same starting weights)
                jobs[lane.key] = (lane.run_dir, lane is a and not b.trains)
        self.results.set_runs({key: run_dir for key, (run_dir, _) in jobs.items()})
        self.status.setText("Both lanes have trained. Scoring them with few labels…")
        self.results.scoring(0.0, "")
        for key, (run_dir, baselines) in jobs.items():
            worker = Worker(evaluate_lane, run_dir, baselines, inject=("progress", "cancel"))
            worker.progress.connect(lambda f, m, k=key: self._scoring(k, f, m))
            worker.returned.connect(lambda report, k=key: self._reports.__setitem__(k, report))
            worker.errored.connect(lambda exc, _tb, k=key: self._eval_errors.append(f"lane {k}: {exc}"))
            worker.finished.connect(lambda k=key: self._evaluation_ended(k))
            self._evaluations[key] = worker
            self.main.runner.start(worker, f"race-eval-{key.lower()}")
        self._update_buttons()

    def _scoring(self, key: str, fraction: float, message: str) -> None:
        self._eval_progress[key] = fraction
        share = sum(self._eval_progress.values()) / max(1, len(self._evaluations))
        self.results.scoring(share, f"lane {key}, {message}" if message else "")

    def _evaluation_ended(self, key: str) -> None:
        self._evaluations.pop(key, None)
        if self._evaluations:
            return
        self._watch.stop()
        self._update_buttons()
        if self._closing:
            return
        if self._eval_errors or len(self._reports) < sum(lane.trains for lane in self.lanes.values()):
            problems = "; ".join(self._eval_errors) or "the scoring was cancelled"
            self.results.show_problem(f"The lanes could not be scored: {problems}.")
            self.status.setText("The race ended without results.")
            return
        self._show_results()

    def _show_results(self) -> None:
        from ssl_core.eval.race_verdict import lane_scores, race_verdict, table_rows

        plan = self.plan
        report_a = self._reports["A"]
        a = lane_scores(report_a, plan.a.title)
        b = (
            lane_scores(self._reports["B"], plan.b.title)
            if plan.b.trains
            else lane_scores(report_a, plan.b.title, features="random_init")
        )
        verdict = race_verdict(a, b)
        self.results.show_rows(table_rows(a, b), verdict.text)
        self.status.setText("Done. Both runs are in the runs folder: open either one in the workbench.")
        self.main.runs_tab.refresh()

    # ---- window ------------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        self.start_button.setEnabled(not self.busy and self.second.count() > 0)
        self.second.setEnabled(not self.busy)
        self.stop_button.setEnabled(self._racing)

    def _open_run(self, run_dir: Path) -> None:
        self.main.open_run(Path(run_dir))
        self.main.raise_()
        self.main.activateWindow()

    def _watch_main(self) -> None:
        """The main window cancels every job when it quits: a race stops then too (trainers obey their
        own stop, not the runner's cancel)."""
        for key in ("a", "b"):
            if any(w.abort_requested for w in self.main.runner.workers(f"race-{key}")):
                self.stop_everything()
                self.close()
                return

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.refresh_from_setup()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        # No question mid-demo: the runs stop at their next step with a checkpoint and stay resumable.
        if self.busy:
            self.stop_everything()
            self.status.setText("Stopping both lanes…")
        event.accept()
