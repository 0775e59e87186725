"""Plots a person can read: no SI multiplier on any axis ("loss (x0.001)"), whole-number step axes, and a
flat curve (a constant learning rate) drawn flat rather than stretched to look steep."""

from __future__ import annotations

import numpy as np

from app.widgets.curves import CurveSet, IntegerAxis, legend_below, make_plot


def test_small_values_keep_their_own_units_on_the_axis(qtbot):
    plot = make_plot("Loss", "loss")
    qtbot.addWidget(plot)
    plot.resize(500, 300)
    plot.plot(np.arange(50), np.linspace(0.08, 0.22, 50) * 1e-3)
    plot.getPlotItem().vb.autoRange()
    for side in ("left", "bottom"):
        axis = plot.getPlotItem().getAxis(side)
        assert axis.autoSIPrefixScale == 1.0
        assert "x0.001" not in axis.labelString() and "(x" not in axis.labelString()


def test_step_axes_tick_only_whole_numbers(qtbot):
    plot = make_plot("Loss", "loss")
    qtbot.addWidget(plot)
    axis = plot.getPlotItem().getAxis("bottom")
    assert isinstance(axis, IntegerAxis)
    ticks = [v for _, values in axis.tickValues(0.0, 3.0, 600) for v in values]
    assert ticks and all(float(v).is_integer() for v in ticks)
    assert axis.tickStrings([1000.0, 2000.0], 1.0, 1000.0) == ["1,000", "2,000"]


def test_a_constant_learning_rate_looks_flat(qtbot):
    plot = make_plot("Learning rate", "lr", grid=False)
    qtbot.addWidget(plot)
    curves = CurveSet(plot)
    steps = list(range(1, 40))
    curves.extend("lr", steps, [1e-3 * (1 + 1e-6 * step) for step in steps])
    curves.range.update(force=True)
    y0, y1 = plot.getPlotItem().vb.viewRange()[1]
    assert (y1 - y0) >= 0.05 * 1e-3  # the view spans at least 5% of the value: a flat line looks flat


def test_curve_legends_sit_below_the_plot_never_over_the_data(qtbot):
    plot = make_plot("Loss", "loss")
    qtbot.addWidget(plot)
    plot.resize(420, 260)
    plot.show()
    curves = CurveSet(plot)
    steps = list(range(1, 200))
    curves.extend("loss", steps, [2.0 / s**0.3 for s in steps])
    curves.extend("loss/align", steps, [1.0 / s**0.2 for s in steps])
    curves.range.update(force=True)
    qtbot.waitUntil(lambda: bool(plot.getPlotItem().legend.items), timeout=2000)
    item = plot.getPlotItem()
    assert legend_below(item) is item.legend  # placed once, reused
    names = [label.text for _, label in item.legend.items]
    assert names == ["loss, raw", "loss, smoothed", "loss/align, smoothed"]  # raw told from smoothed
    # Once the layout has settled, the legend's box and the data's box do not overlap.
    qtbot.waitUntil(
        lambda: not item.legend.sceneBoundingRect().intersects(item.vb.sceneBoundingRect()), timeout=2000
    )
    assert item.legend.sceneBoundingRect().top() >= item.vb.sceneBoundingRect().bottom()
