"""The trajectory's legend has a row of its own: it never covers the P(high) curves, whatever the dock's height."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QRectF

from app.analysis import run_analysis
from app.model import AppModel
from app.trajectory_view import TrajectoryView

from .conftest import make_recording


@pytest.fixture(scope="module")
def full_result(tiny_model):
    """An analysis with every kind of legend entry: P(high), entropy, MC band and predicted score per target."""
    result = run_analysis(make_recording(), None, tiny_model, mc_samples=3).result
    scores = np.linspace(1.0, 9.0, result.n_windows)[:, None].repeat(len(result.targets), 1)
    return dataclasses.replace(result, scores=scores)


def _scene_rect(item) -> QRectF:
    return item.mapRectToScene(item.boundingRect())


def _legend_rects(view: TrajectoryView) -> list[QRectF]:
    """Scene rectangles of what the legend draws: its box and every entry shown (sample and label), and its
    "+N more" label when shown."""
    rects = [_scene_rect(view.legend)]
    for sample, label in view.legend.items:
        assert sample.isVisible() == label.isVisible()
        if label.isVisible():
            rects += [_scene_rect(sample), _scene_rect(label)]
    if view.legend.more.isVisible():
        rects.append(_scene_rect(view.legend.more))
    return rects


def _show(qtbot, view: TrajectoryView, width: int, height: int) -> None:
    view.resize(width, height)
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(30)  # the layouts settle at the turn of the event loop
    view.plot_widget.ci.layout.activate()


@pytest.mark.parametrize("size", [(520, 160), (900, 160), (520, 700)], ids=["short-narrow", "short-wide", "tall"])
def test_the_legend_never_covers_the_probability_plot(qtbot, full_result, size):
    model = AppModel()
    view = TrajectoryView(model)
    qtbot.addWidget(view)
    model.set_analysis(full_result, "")
    _show(qtbot, view, *size)
    texts = [label.text for _, label in view.legend.items]
    assert {"valence P(high)", "valence entropy (bits, lower plot)", "valence score (right axis)"} <= set(texts)
    assert any("± std" in t for t in texts)
    data_area = _scene_rect(view.plot.getViewBox())
    entropy_area = _scene_rect(view.entropy_plot.getViewBox())
    assert data_area.height() > 10 and entropy_area.height() > 10  # both plots are still there
    for rect in _legend_rects(view):
        assert rect.width() > 0 and rect.height() > 0
        assert not rect.intersects(data_area), (rect, data_area)
        assert not rect.intersects(entropy_area), (rect, entropy_area)
        # Inside the widget: nothing of the legend is cut off at its edges.
        assert rect.left() >= -0.5 and rect.right() <= view.plot_widget.width() + 0.5
    # Entries that did not fit on the legend's rows are named by the "+N more" label's tooltip.
    hidden = [label.text for _, label in view.legend.items if not label.isVisible()]
    assert view.legend.more.isVisible() == bool(hidden)
    if hidden:
        assert view.legend.more.text == f"+{len(hidden)} more" and view.legend.more.toolTip().split("\n") == hidden
    if size[1] >= 600:
        assert not hidden  # a tall dock shows every entry
    # The curves' points are in the probability plot's data area (the area the legend stays out of).
    x, y = view.curves["valence"].getData()
    finite = np.isfinite(y)
    points = view.plot.getViewBox().mapViewToScene
    for k in np.flatnonzero(finite)[:: max(1, finite.sum() // 10)]:
        assert data_area.adjusted(-1, -1, 1, 1).contains(points(pg_point(x[k], y[k])))


def test_the_legend_takes_fewer_rows_when_the_dock_is_wider(qtbot, full_result):
    model = AppModel()
    view = TrajectoryView(model)
    qtbot.addWidget(view)
    model.set_analysis(full_result, "")
    _show(qtbot, view, 420, 300)
    narrow_rows, narrow_height = view.legend.rowCount, _scene_rect(view.legend).height()
    _show(qtbot, view, 1500, 300)
    wide_rows, wide_height = view.legend.rowCount, _scene_rect(view.legend).height()
    assert wide_rows < narrow_rows and wide_height < narrow_height
    # Entries stay in order along each row: each target's P(high) comes before its entropy.
    texts = [label.text for _, label in view.legend.items]
    assert texts.index("valence P(high)") < texts.index("valence entropy (bits, lower plot)")
    # A result without band and scores: the legend shrinks to the entries left, without gaps.
    model.set_analysis(dataclasses.replace(full_result, scores=None, probability_std=None, mc_samples=0), "")
    view.plot_widget.ci.layout.activate()
    assert len(view.legend.items) == 2 * len(full_result.targets)
    rects = _legend_rects(view)[1:]
    assert max(r.bottom() for r in rects) - min(r.top() for r in rects) <= _scene_rect(view.legend).height() + 0.5
    assert not _scene_rect(view.legend).intersects(_scene_rect(view.plot.getViewBox()))


def pg_point(x: float, y: float):
    from PySide6.QtCore import QPointF

    return QPointF(float(x), float(y))
