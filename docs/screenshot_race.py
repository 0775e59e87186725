"""Screenshots of the race window: SimCLR against BYOL on the digits, mid-race and with both results.

Run under a virtual X server (a real window, real fonts):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshot_race.py

Writes docs/screenshots/race-running.png (both lanes training) and docs/screenshots/race.png (the few-label
accuracies side by side with the verdict), QWidget.grab of the race window, and prints the verdict.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from screenshot_kit import ROOT, Shots, parse_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--epochs", type=int, default=12, help="epochs of both runs on the digits")
    parser.add_argument("--second", default="byol", help="lane B's method (or no_pretraining)")
    parser.add_argument("--size", default="1400x900", help="race window size WIDTHxHEIGHT")
    args = parser.parse_args()
    race_size = parse_size(args.size)
    args.out.mkdir(parents=True, exist_ok=True)
    kit = Shots("ssl-workbench-race-", out=args.out, warm_umap=False)
    window, wait, settle = kit.window, kit.wait, kit.settle
    kit.wait_for_data("the digits")
    setup = window.setup_tab
    setup.method.set_method("simclr")
    setup.training.epochs.setValue(args.epochs)
    setup.training.batch_size.setValue(128)
    window.actions["race"].trigger()
    wait(lambda: window.race_window is not None and window.race_window.isVisible(), 30, "the race window")
    race = window.race_window
    race.resize(*race_size)
    race.move(20, 20)
    race.second.setCurrentIndex(race.second.findData(args.second))
    settle()

    race.start()
    lanes = [lane for lane in race.lanes.values() if lane.trains]
    total = lambda lane: lane.progress.maximum()  # noqa: E731
    wait(lambda: all(lane.progress.value() > 0.4 * total(lane) for lane in lanes), 900, "half the steps")
    wait(lambda: all(lane.preview.renderer is not None for lane in lanes), 60, "the live previews")
    kit.shot("race-running", race)
    wait(lambda: not race.busy and race.results.rows(), 900, "the results")
    kit.shot("race", race)
    print("verdict:", race.results.verdict.text())
    print("rows:", race.results.rows())

    kit.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
