"""What the tabs that run jobs on a run (embedding, evaluating) share: pausing for the app's own work, and
telling the window which run a job is reading."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QAbstractButton


class RunJobTab:
    """Mixin for a QWidget tab with `run_dir`, `busy` (a job is running) and `_update_controls()`."""

    run_dir: Path | None
    _blocked: bool = False  # the app is busy (training, loading): no new job until it is done

    def set_busy(self, busy: bool) -> None:
        """The app is training or loading: no new job until it is done."""
        self._blocked = busy
        self._update_controls()

    def show_enabled(self, button: QAbstractButton, ready: bool, tip: str) -> None:
        """Enable `button` when `ready` and the app is free; a disabled one says why in its tooltip."""
        button.setEnabled(ready and not self._blocked)
        button.setToolTip(tip if button.isEnabled() else f"{tip}\n\n{self.why_disabled()}")

    def why_disabled(self) -> str:
        """Why this tab's job cannot start now, in words."""
        if self.run_dir is None:
            return "No run is open: train a model, or open a run in the Runs tab."
        if self._blocked:
            return (
                "Not available while training runs (or data and the model are loading): wait until it ends."
            )
        if self.busy:
            return "Already working on this run: wait for it to finish, or cancel it."
        return "This run has no checkpoint yet: resume it from the Runs tab to train it first."

    def _progress(self, fraction: float, message: str) -> None:
        """A job's progress on the tab's bar (`self.progress`): a count and a percentage that agree."""
        from ssl_core.progress import progress_words

        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(progress_words(message, fraction))

    def run_in_use(self) -> Path | None:
        """The run a job of this tab is reading now (it must not be deleted or resumed meanwhile)."""
        return self.run_dir if self.busy else None
