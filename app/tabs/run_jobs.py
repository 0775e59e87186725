"""What the tabs that run jobs on a run (embedding, evaluating) share: pausing for the app's own work, and
telling the window which run a job is reading."""

from __future__ import annotations

from pathlib import Path


class RunJobTab:
    """Mixin for a QWidget tab with `run_dir`, `busy` (a job is running) and `_update_controls()`."""

    run_dir: Path | None
    _blocked: bool = False  # the app is busy (training, loading): no new job until it is done

    def set_busy(self, busy: bool) -> None:
        """The app is training or loading: no new job until it is done."""
        self._blocked = busy
        self._update_controls()

    def run_in_use(self) -> Path | None:
        """The run a job of this tab is reading now (it must not be deleted or resumed meanwhile)."""
        return self.run_dir if self.busy else None
