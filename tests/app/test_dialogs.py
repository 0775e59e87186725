"""Errors: UserErrors become advice, bugs a copyable traceback; uncaught exceptions reach a dialog."""

from __future__ import annotations

import sys
import threading

from PySide6.QtGui import QGuiApplication

from app import dialogs
from app.dialogs import ErrorDialog
from ssl_core.errors import UserError


def test_user_error_and_bug_are_told_apart(dialog_log):
    dialogs.show_error(None, UserError("data.spec: folder /x does not exist; check the path.", path="/x"))
    try:
        {}["missing"]
    except KeyError as exc:
        dialogs.show_error(None, exc)
    (kind1, _, msg1, details1), (kind2, _, msg2, details2) = dialog_log.shown
    assert kind1 == "user" and "/x" in msg1 and details1 == ""
    assert kind2 == "bug" and msg2.startswith("KeyError") and "Traceback" in details2


def test_error_dialog_copies_the_traceback(qtbot):
    dialog = ErrorDialog(
        None, "Unexpected error", "ValueError: boom", "Traceback (most recent call last):\n  boom"
    )
    qtbot.addWidget(dialog)
    dialog.copy_details()
    assert QGuiApplication.clipboard().text().startswith("Traceback (most recent call last)")
    assert dialog.details.isReadOnly()


def test_uncaught_exceptions_from_any_thread_show_a_dialog(qtbot, dialog_log, monkeypatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    dialogs.install_excepthook(lambda: None)
    try:
        raise RuntimeError("in a slot")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    assert dialog_log.shown[-1][0] == "bug" and "in a slot" in dialog_log.shown[-1][2]

    def worker():
        raise ValueError("in a thread")

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: len(dialog_log.shown) == 2, timeout=5000)  # relayed to the GUI thread
    kind, _, message, details = dialog_log.shown[-1]
    assert kind == "bug" and "in a thread" in message and "worker" in details

    dialogs.show_failure(None, "The loss became nan; lower train.lr.", "", True, "Training stopped")
    assert dialog_log.shown[-1][:3] == ("user", "Training stopped", "The loss became nan; lower train.lr.")
