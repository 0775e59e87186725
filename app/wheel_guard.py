"""The mouse wheel scrolls the page, not the setting under the pointer.

A combo box, spin box or slider takes wheel events only once it has the keyboard focus (clicked or
tabbed into); until then the wheel event is left unaccepted, so Qt passes it on to the enclosing scroll
area, and the page scrolls instead of the backbone silently turning into another one. The wheel alone
no longer focuses them either (Qt.FocusPolicy.StrongFocus instead of Qt's default WheelFocus).

One filter, installed once on the QApplication (`install_wheel_guard`), guards every such widget in the
app, including those created later."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDial,
    QSlider,
    QWidget,
)

# Widgets whose value the wheel changes. Scroll bars are sliders too, but scrolling is their job.
GUARDED = (QComboBox, QAbstractSpinBox, QSlider, QDial)


def is_guarded(obj: QObject) -> bool:
    return isinstance(obj, GUARDED)


def guard_focus(widget: QWidget) -> None:
    """Let clicks and Tab focus the widget, but not the wheel."""
    if widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)


class WheelGuard(QObject):
    """An application-wide event filter: see the module's docstring."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        kind = event.type()
        if kind == QEvent.Type.Wheel:
            if is_guarded(obj) and not obj.hasFocus():
                event.ignore()  # unaccepted: Qt offers it to the parents (the scroll area)
                return True  # ... and the widget itself never sees it
        elif kind == QEvent.Type.Polish and is_guarded(obj):
            guard_focus(obj)  # every widget is polished before it is first shown
        return False


def install_wheel_guard(app: QApplication | None = None) -> WheelGuard:
    """Install the guard on the application once (later calls return the same one); widgets that
    already exist get their focus policy fixed now, later ones when they are polished."""
    app = app or QApplication.instance()
    existing = app.findChild(WheelGuard)
    if existing is not None:
        return existing
    guard = WheelGuard(app)
    app.installEventFilter(guard)
    for top in app.allWidgets():
        if is_guarded(top):
            guard_focus(top)
    return guard
