"""Screenshots of the race window: SimCLR against BYOL on the digits, mid-race and with both results.

Run under a virtual X server (a real window, real fonts):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshot_race.py

Writes docs/screenshots/race-running.png (both lanes training) and docs/screenshots/race.png (the few-label
accuracies side by side with the verdict), QWidget.grab of the race window, and prints the verdict.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--epochs", type=int, default=12, help="epochs of both runs on the digits")
    parser.add_argument("--second", default="byol", help="lane B's method (or no_pretraining)")
    parser.add_argument("--size", default="1400x900", help="race window size WIDTHxHEIGHT")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ssl-workbench-race-"))

    from app import dialogs
    from app.main import create_app
    from app.settings import Prefs
    from app.theme import ThemeManager

    app = create_app([sys.argv[0]])
    ThemeManager(app, "light").apply()
    dialogs.install_excepthook()
    from app.main_window import MainWindow

    window = MainWindow(Prefs.open(work / "settings.ini"), runs_dir=work / "runs", warm_umap=False)
    window.resize(1320, 860)
    window.move(40, 30)
    window.show()

    def wait(cond, timeout: float = 300.0, what: str = "") -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError(f"timed out waiting for {what}")
            app.processEvents()
            time.sleep(0.01)

    def settle(seconds: float = 0.6) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    wait(
        lambda: window.setup_tab.data.info is not None and not window.setup_tab.data.loading, 60, "the digits"
    )
    setup = window.setup_tab
    setup.method.set_method("simclr")
    setup.training.epochs.setValue(args.epochs)
    setup.training.batch_size.setValue(128)
    window.actions["race"].trigger()
    wait(lambda: window.race_window is not None and window.race_window.isVisible(), 30, "the race window")
    race = window.race_window
    race.resize(width, height)
    race.move(20, 20)
    race.second.setCurrentIndex(race.second.findData(args.second))
    settle()

    def shot(name: str) -> None:
        settle()
        path = args.out / f"{name}.png"
        race.grab().save(str(path))
        print("wrote", path)

    race.start()
    lanes = [lane for lane in race.lanes.values() if lane.trains]
    total = lambda lane: lane.progress.maximum()  # noqa: E731
    wait(lambda: all(lane.progress.value() > 0.4 * total(lane) for lane in lanes), 900, "half the steps")
    wait(lambda: all(lane.preview.renderer is not None for lane in lanes), 60, "the live previews")
    shot("race-running")
    wait(lambda: not race.busy and race.results.rows(), 900, "the results")
    shot("race")
    print("verdict:", race.results.verdict.text())
    print("rows:", race.results.rows())

    window.close()
    wait(lambda: not window.isVisible(), 60, "closing")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
