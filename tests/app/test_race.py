"""The race window (app/race): two tiny runs train at once, each pausable on its own, and both are scored
side by side with a verdict; closing it mid-race asks nothing and leaves both runs stopped and resumable."""

from __future__ import annotations

import re
import threading

import pytest

from ssl_core.runs.store import read_summary
from ssl_core.train.events import StepEnded
from tests.app.conftest import tiny_training

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _open_race(qtbot, window, method: str = "simclr", max_steps: int = 8):
    tiny_training(window, method, max_steps=max_steps, batch_size=64)
    window.actions["race"].trigger()
    race = window.race_window
    qtbot.waitUntil(race.isVisible, timeout=5_000)
    return race


def _wait_for_results(qtbot, race) -> None:
    qtbot.waitUntil(lambda: not race.busy and bool(race.results.rows()), timeout=60_000)


def test_two_lanes_train_at_once_and_show_both_results(qtbot, window, runs_dir, dialog_log):
    race = _open_race(qtbot, window)
    assert race.second.currentData() == "byol"  # lane B's default against SimCLR
    assert "SimCLR" in race.lane_a_label.text()
    assert "share the processor cores" in race.sharing.text()
    assert "seed 0" in race.fairness.text() and "batch size 64" in race.fairness.text()
    lane_a, lane_b = race.lanes["A"], race.lanes["B"]

    # Lane A pauses after its first step; lane B keeps training meanwhile: two jobs, not one after the
    # other. The pause is asked on A's training thread as the step is published (the GUI's throttled step
    # signal may come several steps later on a fast CPU); the GUI then takes the paused state.
    publish = lane_a.session.coalescer.push
    first_step = threading.Event()

    def publish_and_pause(event) -> None:
        publish(event)
        if isinstance(event, StepEnded) and not first_step.is_set():
            first_step.set()
            lane_a.session.control.pause()

    lane_a.session.coalescer.push = publish_and_pause  # what lane A's trainer publishes its events to

    def pause_a(_steps) -> None:
        lane_a.session.pause()

    lane_a.session.steps.connect(pause_a)
    assert race.start()
    assert window.runner.running("race-a") and window.runner.running("race-b")
    qtbot.waitUntil(lambda: lane_a.session.state == "paused", timeout=30_000)
    qtbot.waitUntil(lambda: lane_b.status == "completed", timeout=30_000)  # B ran to its end meanwhile
    assert lane_a.curves.point_count("loss") <= 2 and lane_a.resume_button.isEnabled()  # (a step in flight)
    lane_a.session.steps.disconnect(pause_a)
    lane_a.resume_button.click()

    _wait_for_results(qtbot, race)
    for lane in (lane_a, lane_b):
        assert lane.status == "completed" and lane.curves.point_count("loss") == 8
        assert lane.preview.renderer is not None  # its live preview was drawn
        assert not (lane.pause_button.isEnabled() or lane.stop_button.isEnabled())
        summary = read_summary(lane.run_dir)  # a normal run in the runs folder, scored like any other
        assert lane.run_dir.parent == runs_dir and summary["status"] == "completed"
        assert 0.0 <= summary["probe_accuracy"] <= 1.0
    assert {lane_a.run_dir.name.count("race-a"), lane_b.run_dir.name.count("race-b")} == {1}
    rows = race.results.rows()
    assert [r[0].split(" ")[0] for r in rows] == ["1%", "10%", "100%"]
    assert all(re.fullmatch(r"\d+%( ± \d+)?", cell) for row in rows for cell in row[1:])
    assert "SimCLR" in race.results.verdict.text() and "BYOL" in race.results.verdict.text()
    assert race.results.open_buttons["B"].isVisible()
    assert not dialog_log.shown and not dialog_log.questions

    race.results.open_buttons["B"].click()  # opens in the main window as a normal run
    qtbot.waitUntil(lambda: window.current_run == lane_b.run_dir, timeout=10_000)


def test_no_pretraining_lane_is_scored_from_lane_a_baseline(qtbot, window, runs_dir):
    race = _open_race(qtbot, window, max_steps=6)
    race.second.setCurrentIndex(race.second.findData("no_pretraining"))
    assert "does not train" in race.fairness.text()
    assert race.start()
    _wait_for_results(qtbot, race)
    assert race.lanes["B"].run_dir is None and race.lanes["A"].status == "completed"
    assert len([p for p in runs_dir.iterdir() if p.is_dir()]) == 1
    rows = race.results.rows()
    assert len(rows) == 3 and "random weights" in race.results.verdict.text()

    race.close()  # reopened with the same settings, the results are still there
    window.actions["race"].trigger()
    assert race.isVisible() and race.results.rows() == rows


def test_the_race_follows_setup_and_is_in_the_run_menu(qtbot, window):
    assert window.actions["race"] in window.menus["run"].actions()
    race = _open_race(qtbot, window)
    window.setup_tab.method.set_method("byol")
    assert "BYOL" in race.lane_a_label.text() and race.second.currentData() == "simclr"
    assert race.lanes["A"].heading.text() == "A · BYOL"


def test_closing_mid_race_asks_nothing_and_stops_both_cleanly(qtbot, window, dialog_log):
    race = _open_race(qtbot, window, max_steps=400)
    assert race.start()
    lanes = list(race.lanes.values())
    qtbot.waitUntil(lambda: all(lane.curves.point_count("loss") for lane in lanes), timeout=30_000)
    race.close()
    qtbot.waitUntil(lambda: not race.busy and not window.runner.running(), timeout=30_000)
    assert not dialog_log.questions and not dialog_log.shown
    for lane in lanes:
        assert lane.status == "stopped"
        assert read_summary(lane.run_dir)["status"] == "stopped"  # resumable from its checkpoint
        assert (lane.run_dir / "checkpoints" / "last.pt").is_file()
    assert not race.results.rows()  # nothing scored after a close


def test_quitting_the_workbench_mid_race_stops_both_lanes(qtbot, window, dialog_log):
    race = _open_race(qtbot, window, max_steps=400)
    assert race.start()
    lanes = list(race.lanes.values())
    qtbot.waitUntil(lambda: all(lane.curves.point_count("loss") for lane in lanes), timeout=30_000)
    window.close()  # cancels every job: the race window stops its lanes (trainers obey their own stop)
    qtbot.waitUntil(lambda: not window.runner.running() and not window.isVisible(), timeout=30_000)
    assert not race.isVisible() and all(lane.status == "stopped" for lane in lanes)
    assert not dialog_log.questions
