"""No dialogs mid-story: while a story runs, the messages the workbench would show in a dialog (every one
goes through app.dialogs.present) go to the narrator instead, so a room never watches a modal box. Yes/no
questions (quitting while training) are still asked: they answer something the person did.

Only what this module put in place is taken away again: if something else replaced `present` meanwhile
(a test's capture), that stays."""

from __future__ import annotations

import logging
from collections.abc import Callable

from app import dialogs

log = logging.getLogger(__name__)


class QuietDialogs:
    def __init__(self, tell: Callable[[str], None]):
        self.tell = tell  # shows a message in the narrator
        self._previous: Callable | None = None
        self._hook = self._present  # one bound method, to recognise it later

    @property
    def active(self) -> bool:
        return dialogs.present is self._hook

    def start(self) -> None:
        if not self.active:
            self._previous = dialogs.present
            dialogs.present = self._hook

    def stop(self) -> None:
        if self.active and self._previous is not None:
            dialogs.present = self._previous
        self._previous = None

    def _present(self, parent, kind: str, title: str, message: str, details: str = "") -> None:
        if details:  # a bug's traceback: kept in the log, the narrator says what happened
            log.error("%s: %s\n%s", title, message, details)
        try:
            self.tell(f"{title}: {message}")
        except RuntimeError:  # the narrator is gone (the window closed): show it the usual way
            previous = self._previous
            self.stop()
            if previous is not None:
                previous(parent, kind, title, message, details)
