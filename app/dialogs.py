"""Every message box the app shows goes through here, so the wording is consistent and tests can
capture dialogs by replacing `present` and `ask` (call them as `dialogs.present(...)`).

A UserError becomes a plain warning saying what went wrong and how to fix it; anything else is a bug
and gets a dialog with the traceback and a Copy button; the app keeps running either way.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from ssl_core.errors import UserError

log = logging.getLogger(__name__)


class ErrorDialog(QDialog):
    """An unexpected error: a short message plus the traceback, selectable and copyable."""

    def __init__(self, parent: QWidget | None, title: str, message: str, details: str):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(560)
        layout = QVBoxLayout(self)
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical).pixmap(32, 32))
        text = QLabel(
            f"<b>{_escape(message)}</b><br><br>This is a bug in SSL Workbench, not something you did. "
            "Your runs are safe; you can keep working. Please copy the details below into a bug report."
        )
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QPlainTextEdit(details)
        self.details.setReadOnly(True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setMinimumHeight(220)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = QPushButton("Copy details")
        copy.clicked.connect(self.copy_details)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(icon)
        layout.addWidget(text)
        layout.addWidget(self.details)
        layout.addWidget(buttons)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details.toPlainText())


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def present(parent: QWidget | None, kind: str, title: str, message: str, details: str = "") -> None:
    """Show a modal message. kind: "user" (a fixable mistake), "bug" (with details), or "info"."""
    if kind == "bug":
        ErrorDialog(parent, title, message, details).exec()
    elif kind == "user":
        QMessageBox.warning(parent, title, message)
    else:
        QMessageBox.information(parent, title, message)


def ask(parent: QWidget | None, title: str, question: str) -> bool:
    """A yes/no question; returns True for yes."""
    answer = QMessageBox.question(
        parent,
        title,
        question,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


def show_error(parent: QWidget | None, exc: BaseException, tb: str = "", title: str | None = None) -> None:
    """Report an exception from a job or a slot: UserError as advice, anything else as a bug."""
    if isinstance(exc, UserError):
        present(parent, "user", title or "Cannot do that", str(exc))
    else:
        details = tb or "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        present(parent, "bug", title or "Unexpected error", f"{type(exc).__name__}: {exc}", details)


def show_failure(parent: QWidget | None, message: str, tb: str, user_error: bool, title: str) -> None:
    """Report a failure the engine described in an event (RunFailed) rather than raised."""
    if user_error or not tb:
        present(parent, "user", title, message)
    else:
        present(parent, "bug", title, message, tb)


class _Relay(QObject):
    """Moves reports of exceptions raised on other threads to the GUI thread."""

    raised = Signal(object, str)


_relay: _Relay | None = None
_parent_getter = None


def install_excepthook(parent_getter=None) -> None:
    """Route uncaught exceptions (GUI slots and Python threads) to the error dialog."""
    global _relay, _parent_getter
    _parent_getter = parent_getter
    _relay = _Relay()
    _relay.raised.connect(_show_uncaught, Qt.ConnectionType.QueuedConnection)
    sys.excepthook = _excepthook
    threading.excepthook = lambda args: _excepthook(args.exc_type, args.exc_value, args.exc_traceback)


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    log.error("Uncaught exception:\n%s", text)
    app = QApplication.instance()
    if app is None or _relay is None:
        sys.__excepthook__(exc_type, exc, tb)
        return
    if QThread.currentThread() == app.thread():
        _show_uncaught(exc, text)
    else:
        _relay.raised.emit(exc, text)


_showing = False


def _show_uncaught(exc: BaseException, text: str) -> None:
    global _showing
    if _showing:  # an error while showing an error: do not stack dialogs
        return
    _showing = True
    try:
        parent = _parent_getter() if _parent_getter else None
        show_error(parent, exc, text)
    except Exception:  # the dialog itself failed: fall back to stderr
        sys.__excepthook__(type(exc), exc, exc.__traceback__)
    finally:
        _showing = False
