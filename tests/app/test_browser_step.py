"""Work a page step no longer repeats: the time axis' ticks and the grid lines, when the page moves by whole
tick steps."""

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QPicture



def _specs(axis, fresh: bool):
    """The time axis' draw specs as plain values: from its cache (``fresh=False``) or pyqtgraph's own code."""
    picture = QPicture()
    painter = QPainter(picture)
    try:
        specs = pg.AxisItem.generateDrawSpecs(axis, painter) if fresh else axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    axis_spec, ticks, texts = specs
    return ((axis_spec[1].x(), axis_spec[1].y(), axis_spec[2].x(), axis_spec[2].y(), axis_spec[0].color().rgba()),
            [(a.x(), a.y(), b.x(), b.y(), pen.color().rgba()) for pen, a, b in ticks],
            [(r.getRect(), int(flags.value if hasattr(flags, "value") else flags), text) for r, flags, text in texts])


def _traces_582_px_wide(browser, qtbot) -> None:
    """Widen the window by the scale bar's gutter: the traces as wide as these tests were written for (582 px, a
    5-s page then has 0.5-s ticks; 530 px with the gutter has 1-s ticks)."""
    window = browser.window()
    window.resize(window.width() + browser._scale_bar.width(), window.height())
    qtbot.waitUntil(lambda: browser.view_box().width() >= 582, timeout=2000)
    qtbot.wait(120)  # let the resize settle (the page is drawn again)


def test_time_axis_places_ticks_and_labels_as_pyqtgraph_would_without_its_general_code(browser, qtbot,
                                                                                        monkeypatch):
    """After a page step the time axis' specs (axis line, ticks, label rectangles and texts) equal pyqtgraph's,
    made without running pyqtgraph's general code again; also after a change of page length, with clock time and
    after a step that is not a whole number of ticks."""
    _traces_582_px_wide(browser, qtbot)
    axis = browser.plot.getAxis("bottom")
    general = pg.AxisItem.generateDrawSpecs
    calls = []
    monkeypatch.setattr(pg.AxisItem, "generateDrawSpecs", lambda *a: calls.append(1) or general(*a))
    for page_s, steps in ((10.0, 4), (5.0, 3)):
        browser.set_page_length(page_s)
        for _ in range(steps):
            qtbot.keyClick(browser, Qt.Key.Key_PageDown)
            before = len(calls)
            ours = _specs(axis, fresh=False)
            assert len(calls) == before  # not run: the axis line and tick pen of its last run kept
            theirs = _specs(axis, fresh=True)
            assert ours[0] == theirs[0] and ours[1] == theirs[1]
            assert [t[2] for t in ours[2]] == [t[2] for t in theirs[2]] and ours[2] == theirs[2]
            assert len(ours[2]) >= 5 and all(":" in text for _, _, text in ours[2])
    browser.toggle_clock_time()
    qtbot.keyClick(browser, Qt.Key.Key_PageDown)
    assert _specs(axis, fresh=False) == _specs(axis, fresh=True)
    browser.set_start(browser.start_s + 0.25)  # ticks move relative to the axis
    before = len(calls)
    assert _specs(axis, fresh=False) == _specs(axis, fresh=True)
    assert len(calls) == before + 1  # only the fresh one


def _grid_lines(browser) -> list[float]:
    """Times (s, view coordinates) of the vertical grid lines drawn."""
    return sorted(round(t, 9) for t in browser._grid.times())


def test_grid_lines_sit_at_the_ticks_and_a_page_step_only_moves_them(browser, qtbot):
    """The grid's lines are at the time axis' ticks, drawn where they are (a darker pixel column in the margin
    over the rows, where no trace reaches), and a page step changes neither the item's place nor its bounding
    rectangle (no re-index of the scene, no path built)."""
    from app.browser_state import ROW_MARGIN

    _traces_582_px_wide(browser, qtbot)
    axis = browser.plot.getAxis("bottom")
    vb = browser.view_box()
    for page_s in (10.0, 5.0):
        browser.set_page_length(page_s)
        for _ in range(3):
            qtbot.keyClick(browser, Qt.Key.Key_PageDown)
            start, stop = browser.visible_range()
            step = axis.tick_step(stop - start)
            expected = [round(k * step, 9) for k in range(int(np.ceil(start / step - 1e-9)),
                                                          int(np.floor(stop / step + 1e-9)) + 1)]
            assert _grid_lines(browser) == expected
    image = browser.plot_widget.grab().toImage()
    # The margin over the first row (under the label strip): no trace reaches it (nor the time axis' ticks,
    # drawn up into the plot's bottom margin).
    y = round(vb.mapViewToScene(pg.QtCore.QPointF(0, browser.first_channel - 0.5 - ROW_MARGIN / 2)).y())
    for t in _grid_lines(browser)[1:-1]:
        x = int(np.floor(vb.mapViewToScene(pg.QtCore.QPointF(t, 0)).x()))
        assert image.pixelColor(x, y).lightness() < image.pixelColor(x + 3, y).lightness() - 20, t
    rect, pos = browser._grid.boundingRect(), browser._grid.pos()
    qtbot.keyClick(browser, Qt.Key.Key_PageDown)
    assert browser._grid.boundingRect() == rect and browser._grid.pos() == pos
    browser.set_start(browser.start_s + 0.5)  # lines at other places relative to the page: still at the ticks
    start, stop = browser.visible_range()
    assert _grid_lines(browser)[0] == pytest.approx(np.ceil(start / 0.5) * 0.5)


def test_scale_bar_is_in_its_gutter_beside_its_row_never_over_a_trace(browser, qtbot):
    """The scale bar and its value lie in the gutter right of the traces (they covered the top trace's right end),
    inside the gutter's rectangle (a repaint covers them), beside the row they belong to; a page step leaves them
    where they are; the pixels there are the bar's."""
    gutter = browser._scale_bar
    traces = browser.view_box().sceneBoundingRect()
    row = browser.state.first_row
    vb = browser.view_box()
    placed = None
    for _ in range(3):
        qtbot.keyClick(browser, Qt.Key.Key_PageDown)
        bar, text = gutter.mapRectToScene(gutter.bar_rect()), gutter.mapRectToScene(gutter.text_rect())
        for rect in (bar, text):
            assert not rect.intersects(traces) and rect.left() >= traces.right()
            assert gutter.sceneBoundingRect().contains(rect)
        assert bar.center().y() == pytest.approx(vb.mapViewToScene(pg.QtCore.QPointF(0, row)).y(), abs=0.5)
        assert bar.height() > 5
        assert placed is None or (bar, text) == placed  # not moved by the page step
        placed = (bar, text)
    image = browser.plot_widget.grab().toImage()
    x = round(bar.center().x() - 0.5)  # the bar's two pixel columns: x and x + 1
    dark = [image.pixelColor(x, round(y)).lightness() < 100 for y in np.linspace(bar.top() + 1, bar.bottom() - 1, 9)]
    assert all(dark)


def test_time_axis_labels_never_overlap_in_a_narrow_browser(browser, qtbot):
    """A 10-s page on a narrow axis: the tick step grows so that neighbouring labels (measured in the axis' font)
    keep a gap; they ran together ("00:0100:0200:03") with up to 12 ticks whatever the width."""
    from PySide6.QtGui import QFontMetricsF

    from app.signal_browser import TICK_LABEL_GAP_PX

    axis = browser.plot.getAxis("bottom")
    window = browser.window()
    for width in (1024, 800, 640):
        window.resize(width, 700)
        qtbot.wait(60)
        for page_s in (10.0, 30.0, 5.0):
            browser.set_page_length(page_s)
            qtbot.wait(20)
            lo, hi = axis.range
            size = axis.width()
            levels = axis.tickValues(lo, hi, size)
            spacing, values = levels[0]
            strings = axis.tickStrings(values, 1.0, spacing)
            font = axis.style["tickFont"] if axis.style["tickFont"] is not None else axis.font()
            metrics = QFontMetricsF(font)
            xs = [(v - lo) / (hi - lo) * size for v in values]
            assert len(values) >= 2, (width, page_s)
            for (x0, t0), (x1, t1) in zip(zip(xs, strings), zip(xs[1:], strings[1:])):
                room = (metrics.horizontalAdvance(t0) + metrics.horizontalAdvance(t1)) / 2 + TICK_LABEL_GAP_PX
                assert x1 - x0 >= room - 1e-6, (width, page_s, size, strings)


def test_browser_and_analysis_views_share_one_time_axis(browser, qtbot):
    """The browser's time axis is the analysis views' TimeAxis: one table of steps, one label format, one rule
    for the step (labels measured in the axis' font); the browser's reads its state (clock time)."""
    from app import plot_helpers, signal_browser
    from app.plot_helpers import TimeAxis

    axis = browser.plot.getAxis("bottom")
    assert isinstance(axis, TimeAxis) and signal_browser.GRID_STEPS is plot_helpers.TIME_STEPS
    other = TimeAxis("bottom")
    other.setStyle(tickFont=axis.style["tickFont"])
    for lo, hi, size in ((0.0, 10.0, 800.0), (3590.0, 3650.0, 700.0), (0.0, 3600.0, 600.0)):
        levels = axis.tickValues(lo, hi, size)
        assert levels == other.tickValues(lo, hi, size)
        spacing, values = levels[0]
        assert spacing in plot_helpers.TIME_STEPS
        assert axis.tickStrings(values, 1.0, spacing) == other.tickStrings(values, 1.0, spacing)
    assert axis.tickStrings([3605.0], 1.0, 5.0) == ["1:00:05"]
    if browser.state.start_time is not None:  # clock time: the same steps, labels of the clock
        before = axis.tickStrings([3605.0], 1.0, 5.0)
        browser.toggle_clock_time()
        assert axis.tickStrings([3605.0], 1.0, 5.0) != before
        browser.toggle_clock_time()


def test_an_axis_without_data_reads_from_zero_not_negative_times(qtbot):
    """An empty view's range (-0.5 to 0.5 s) had ticks "-00:00.4", "-00:00.2": no tick before the start."""
    from app.browser_state import format_hms
    from app.plot_helpers import TimeAxis

    axis = TimeAxis("bottom")
    levels = axis.tickValues(-0.5, 0.5, 400.0)
    values = [v for _, vs in levels for v in vs]
    assert values and min(values) >= 0.0 and 0.0 in values
    strings = axis.tickStrings(values, 1.0, levels[0][0])
    assert strings[0] == "00:00.0" and not any(s.startswith("-") for s in strings)
    assert format_hms(-0.04, decimals=1) == "00:00.0" and format_hms(-0.0) == "00:00"
    assert format_hms(-3.0) == "-00:03"  # a real negative time keeps its sign
    assert axis.tickValues(2.0, 12.0, 400.0) == TimeAxis("bottom").tickValues(2.0, 12.0, 400.0)  # unchanged


def test_time_axis_tick_values_are_pyqtgraphs(qtbot):
    """The time axis computes its one level of ticks without pyqtgraph's general code: the same numbers."""
    import pyqtgraph as pg

    from app.plot_helpers import TimeAxis

    axis = TimeAxis("bottom")
    rng = np.random.default_rng(5)
    for _ in range(300):
        lo = float(rng.uniform(0.0, 90000.0)) * float(rng.choice([1e-3, 1.0]))
        span = float(rng.choice([0.7, 5.0, 10.0, 30.0, 300.0, 3600.0, 86400.0])) * float(rng.uniform(0.5, 1.5))
        size = float(rng.uniform(150.0, 2000.0))
        for a, b in ((lo, lo + span), (lo + span, lo)):
            assert axis.tickValues(a, b, size) == pg.AxisItem.tickValues(axis, a, b, size)


def test_time_axis_drawn_straight_onto_the_painter_equals_pyqtgraphs_picture(browser, qtbot):
    """The browser's time axis (cached in device pixels) is painted without pyqtgraph's QPicture: the same pixels
    as pyqtgraph's paint (record the picture, play it back), after page steps and a change of page length."""
    from PySide6.QtGui import QImage

    axis = browser.plot.getAxis("bottom")
    rect = axis.boundingRect()

    def render(paint) -> QImage:
        image = QImage(int(rect.width()) + 2, int(rect.height()) + 2, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0xFFFFFFFF)
        painter = QPainter(image)
        painter.translate(-rect.left() + 1, -rect.top() + 1)
        paint(painter)
        painter.end()
        return image

    for page_s in (10.0, 5.0, 60.0):
        browser.set_page_length(page_s)
        qtbot.keyClick(browser, Qt.Key.Key_PageDown)
        ours = render(lambda p: axis.paint(p, None, None))
        axis.picture = None

        def theirs(p):
            pg.AxisItem.paint(axis, p, None, None)

        assert render(theirs) == ours
        assert ours != render(lambda p: None)  # something drawn
