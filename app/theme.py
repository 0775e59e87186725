"""Light and dark themes: follow the system colour scheme unless the user picked one (View menu)."""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from app.resources import resource_path

MODES = ("system", "light", "dark")

# Categorical colours readable on both backgrounds (Okabe-Ito + Tableau), one per class/series.
SERIES = [
    "#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2",
    "#B279A2", "#EECA3B", "#9D755D", "#FF9DA6", "#79706E",
    "#1F77B4", "#2CA02C", "#D62728", "#9467BD", "#8C564B",
    "#17BECF", "#BCBD22", "#7F7F7F", "#AEC7E8", "#FFBB78",
]  # fmt: skip


@dataclass(frozen=True)
class Colors:
    dark: bool
    window: str
    base: str
    alt_base: str
    text: str
    muted: str
    accent: str
    border: str
    plot_bg: str
    plot_fg: str
    good: str
    warn: str
    bad: str


LIGHT = Colors(False, "#f4f5f7", "#ffffff", "#f0f2f5", "#1d2330", "#5f6b7a", "#2f6fdb", "#d3d8e0",
               "#ffffff", "#333a45", "#2e7d32", "#b26a00", "#c62828")  # fmt: skip
DARK = Colors(True, "#1f2228", "#272b33", "#2d323b", "#e6e9ef", "#9aa4b2", "#5b9bff", "#3a404b",
              "#1b1e23", "#c9d1dc", "#66bb6a", "#ffb74d", "#ef5350")  # fmt: skip


def series_color(i: int) -> str:
    return SERIES[i % len(SERIES)]


def _palette(c: Colors) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    p.setColor(role.Window, QColor(c.window))
    p.setColor(role.WindowText, QColor(c.text))
    p.setColor(role.Base, QColor(c.base))
    p.setColor(role.AlternateBase, QColor(c.alt_base))
    p.setColor(role.ToolTipBase, QColor(c.base))
    p.setColor(role.ToolTipText, QColor(c.text))
    p.setColor(role.PlaceholderText, QColor(c.muted))
    p.setColor(role.Text, QColor(c.text))
    p.setColor(role.Button, QColor(c.alt_base))
    p.setColor(role.ButtonText, QColor(c.text))
    p.setColor(role.BrightText, QColor(c.bad))
    p.setColor(role.Highlight, QColor(c.accent))
    p.setColor(role.HighlightedText, QColor("#ffffff"))
    p.setColor(role.Link, QColor(c.accent))
    p.setColor(role.Mid, QColor(c.border))
    p.setColor(role.Midlight, QColor(c.alt_base))
    p.setColor(role.Dark, QColor(c.border))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, QColor(c.muted))
    return p


class ThemeManager(QObject):
    """Applies a palette + style sheet to the application and tells plots to recolour."""

    changed = Signal(object)  # Colors

    def __init__(self, app: QApplication, mode: str = "system"):
        super().__init__(app)
        self.app = app
        self.mode = mode if mode in MODES else "system"
        self.colors = LIGHT
        app.setStyle("Fusion")
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(lambda *_: self.mode == "system" and self.apply())

    def system_is_dark(self) -> bool:
        hints = QGuiApplication.styleHints()
        return hasattr(hints, "colorScheme") and hints.colorScheme() == Qt.ColorScheme.Dark

    def set_mode(self, mode: str) -> None:
        self.mode = mode if mode in MODES else "system"
        self.apply()

    def apply(self) -> Colors:
        dark = self.system_is_dark() if self.mode == "system" else self.mode == "dark"
        self.colors = DARK if dark else LIGHT
        self.app.setPalette(_palette(self.colors))
        self.app.setStyleSheet(_style_sheet(self.colors))
        pg.setConfigOptions(background=self.colors.plot_bg, foreground=self.colors.plot_fg, antialias=True)
        self.changed.emit(self.colors)
        return self.colors


def _style_sheet(c: Colors) -> str:
    text = resource_path("styles", "app.qss").read_text(encoding="utf-8")
    for name, value in vars(c).items():
        text = text.replace(f"@{name}", str(value))
    return text


def current_colors() -> Colors:
    """The active colours (for widgets created after the theme was applied)."""
    app = QApplication.instance()
    manager = app.findChild(ThemeManager) if app is not None else None
    return manager.colors if manager is not None else LIGHT


def theme_manager() -> ThemeManager | None:
    app = QApplication.instance()
    return app.findChild(ThemeManager) if app is not None else None
