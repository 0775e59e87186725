"""The window on small screens and in the dark theme (issue 15): it fits a 1024x700 screen, and in the
dark theme toolbar glyphs, axis text and legends are readable (enough contrast), not dark grey on black."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QColor, QIcon

from app.glyphs import GLYPHS


def _luminance(color: QColor) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio: 4.5 is the minimum for normal text, 3 for large text and graphics."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _ink(icon: QIcon, mode: QIcon.Mode) -> QColor:
    """The mean colour of an icon's opaque pixels."""
    image = icon.pixmap(24, 24, mode).toImage()
    pixels = [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())]
    ink = [c for c in pixels if c.alpha() > 200]
    assert ink, "the icon draws nothing"
    n = len(ink)
    return QColor(
        sum(c.red() for c in ink) // n, sum(c.green() for c in ink) // n, sum(c.blue() for c in ink) // n
    )


@pytest.fixture
def dark(window):
    window.set_theme("dark")
    yield window
    window.set_theme("light")


def test_the_window_fits_a_1024x700_screen(window):
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 700, hint
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        hint = window.minimumSizeHint()
        assert hint.width() <= 1024 and hint.height() <= 700, (window.tabs.tabText(i), hint)


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_toolbar_glyphs_are_readable_in_both_themes(window, mode):
    window.set_theme(mode)
    try:
        background = window.palette().window().color()
        for name in GLYPHS:
            icon = window.actions[name].icon()
            assert contrast(_ink(icon, QIcon.Mode.Normal), background) >= 4.5, (mode, name)
            disabled = contrast(_ink(icon, QIcon.Mode.Disabled), background)
            assert 1.5 <= disabled < contrast(_ink(icon, QIcon.Mode.Normal), background), (mode, name)
    finally:
        window.set_theme("light")


def test_plot_text_and_legends_are_readable_in_the_dark_theme(dark):
    from app.theme import current_colors

    assert current_colors().dark
    plots = dark.findChildren(pg.PlotWidget)
    assert len(plots) >= 5  # loss, learning rate, run comparison, probe, kNN, ...
    for plot in plots:
        background = plot.backgroundBrush().color()
        item = plot.getPlotItem()
        for side in ("left", "bottom"):
            text = item.getAxis(side).textPen().color()
            assert contrast(text, background) >= 4.5, (plot.objectName(), side)
        if item.legend is not None:
            for _sample, label in item.legend.items:
                color = QColor(label.opts.get("color") or label.item.defaultTextColor())
                assert contrast(color, background) >= 4.5, (plot.objectName(), label.text)


def test_the_faint_raw_loss_line_stays_visible_in_the_dark_theme(dark):
    from app.theme import current_colors

    curves = dark.train_tab.loss_curves
    curves.clear()
    curves.extend("loss", [1, 2, 3], [3.0, 2.0, 1.0])
    raw = curves._raw_items["loss"].opts["pen"].color()
    background = QColor(current_colors().plot_bg)
    # blended over the background, the raw line must stand out as a graphic (3:1)
    alpha = raw.alphaF()
    blended = QColor.fromRgbF(
        raw.redF() * alpha + background.redF() * (1 - alpha),
        raw.greenF() * alpha + background.greenF() * (1 - alpha),
        raw.blueF() * alpha + background.blueF() * (1 - alpha),
    )
    assert contrast(blended, background) >= 2.0
