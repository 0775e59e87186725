"""The embeddings scatter's selection tools: the lasso's polygon test, and a lasso drawn with the mouse."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from app.widgets.scatter import EmbeddingScatter, points_in_polygon

L_SHAPE = np.array([[0, 0], [4, 0], [4, 1], [1, 1], [1, 4], [0, 4]], dtype=float)


def test_points_in_a_concave_polygon():
    points = np.array(
        [
            [0.5, 0.5],  # the corner of the L: in
            [3.0, 0.5],  # the foot: in
            [0.5, 3.0],  # the upright: in
            [3.0, 3.0],  # the notch between them: out
            [5.0, 0.5],  # right of it: out
            [-0.1, 2.0],  # left of it: out
            [2.0, 1.5],  # above the foot, right of the upright: out
        ]
    )
    assert points_in_polygon(points, L_SHAPE).tolist() == [True, True, True, False, False, False, False]
    assert not points_in_polygon(points, L_SHAPE[:2]).any()  # two vertices enclose nothing
    assert points_in_polygon(np.zeros((0, 2)), L_SHAPE).shape == (0,)


def _mouse(widget, kind: QEvent.Type, pos: QPoint, buttons) -> None:
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    local = QPointF(pos)
    event = QMouseEvent(
        kind, local, QPointF(widget.mapToGlobal(pos)), button, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)


def test_a_lasso_drawn_with_the_mouse_selects_what_it_encloses(qtbot):
    scatter = EmbeddingScatter()
    qtbot.addWidget(scatter)
    scatter.resize(600, 500)
    scatter.show()
    qtbot.waitExposed(scatter)
    gx, gy = np.meshgrid(np.linspace(0, 10, 21), np.linspace(0, 10, 21))
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    scatter.set_points(xy, (xy[:, 0] > 5).astype(int), ["left", "right"])
    scatter.set_select_mode("lasso")
    qtbot.wait(50)

    vb, viewport = scatter.view_box, scatter.viewport()

    def to_screen(x: float, y: float) -> QPoint:
        return scatter.mapFromScene(vb.mapViewToScene(QPointF(x, y)))

    # a triangle drawn through the middle of the grid, in several mouse moves per side
    corners = [(2.0, 2.0), (8.0, 3.0), (4.0, 8.0)]
    path = []
    for (ax, ay), (bx, by) in zip(corners, corners[1:] + corners[:1], strict=True):
        path += [to_screen(ax + (bx - ax) * t, ay + (by - ay) * t) for t in np.linspace(0, 1, 8)[:-1]]
    with qtbot.waitSignal(scatter.selected) as picked:
        _mouse(viewport, QEvent.Type.MouseButtonPress, path[0], Qt.MouseButton.LeftButton)
        for p in [*path[1:], path[0]]:
            qtbot.wait(20)  # pyqtgraph drops mouse moves that come faster than a screen refresh
            _mouse(viewport, QEvent.Type.MouseMove, p, Qt.MouseButton.LeftButton)
        _mouse(viewport, QEvent.Type.MouseButtonRelease, path[0], Qt.MouseButton.NoButton)
    chosen = np.sort(picked.args[0])
    expected = np.flatnonzero(points_in_polygon(xy, np.array(corners)))
    # the drawn polygon passes through screen pixels, so points on its edges may fall either way
    assert len(expected) > 10
    assert len(np.setxor1d(chosen, expected)) <= 0.15 * len(expected), (chosen, expected)
    assert set(chosen) <= set(np.flatnonzero((xy[:, 0] >= 1.9) & (xy[:, 0] <= 8.1) & (xy[:, 1] >= 1.9)))

    # with the lasso off, the same drag pans instead of selecting
    scatter.set_select_mode(None)
    before = vb.viewRange()
    got = []
    scatter.selected.connect(got.append)
    _mouse(viewport, QEvent.Type.MouseButtonPress, path[0], Qt.MouseButton.LeftButton)
    for p in path[1:6]:
        qtbot.wait(20)
        _mouse(viewport, QEvent.Type.MouseMove, p, Qt.MouseButton.LeftButton)
    _mouse(viewport, QEvent.Type.MouseButtonRelease, path[5], Qt.MouseButton.NoButton)
    assert got == [] and vb.viewRange() != before
