"""Two methods racing on the same data: Run > Race two methods… opens the race window (app/race/window.py),
whose two lanes (app/race/lane.py) train at once and are scored side by side (app/race/results.py)."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction

RACE_TIP = "Train two methods on the data open in Setup at once, and compare their few-label accuracy."


def open_race(window: Any) -> Any:
    """Show the race window (one per main window, kept between openings so a race can go on)."""
    from app.race.window import RaceWindow

    race = getattr(window, "race_window", None)
    if race is None:
        race = window.race_window = RaceWindow(window)
    race.show()
    race.raise_()
    race.activateWindow()
    return race


def install_race(window: Any) -> None:
    """Add Run > Race two methods… to `window` (a MainWindow); it opens once the engine has loaded."""
    window.race_window = None
    action = QAction("Race two methods…", window)
    action.setToolTip(RACE_TIP)
    action.setStatusTip(RACE_TIP)
    action.triggered.connect(lambda: window.when_ready(lambda: open_race(window)))
    window.actions["race"] = action
    menu = window.menus["run"]
    menu.addSeparator()
    menu.addAction(action)
