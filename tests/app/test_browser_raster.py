"""Page images drawn in the prefetching thread: the lock-free stroke (app/page_raster.py), the clipped image, and
back-to-back page steps that find their page drawn."""

import sys
import threading
import time

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter, QTransform

import app.page_raster as page_raster
import app.signal_browser as signal_browser
from app.signal_browser import RasterTarget, layout_page, path_in_view, render_raster

from .test_signal_browser import _cleaned, _pause


def _page(n_rows: int = 12, n_times: int = 2560, seed: int = 0):
    """A laid-out page of noisy rows (some clipped), 10 s at 256 Hz from t = 5 s."""
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((n_rows, n_times)).cumsum(axis=1) * 1e-6
    data[3, 100:140] = np.nan  # a gap: that row goes through pyqtgraph's connect="finite" path
    return layout_page(data, 5.0, 256.0, 400, np.full(n_rows, 20e-6), clip=0.5)


def _target(n_rows: int, *, rows_in_view: float, antialias: bool = False, first_row: int = 0) -> RasterTarget:
    """Where the page is painted: 400 x 300 px plot area at x = 50, showing ``rows_in_view`` rows from
    ``first_row``."""
    w, h = 400, 300
    m11, m22 = w / 10.0, h / rows_in_view
    return RasterTarget(transform=(m11, 0.0, 0.0, m22, 50 - 5.0 * m11, (0.5 - first_row) * m22), rect=(50, 0, w, h),
                        dpr=1.0,
                        pen=pg.mkPen(QColor("#1f4e9c"), width=1), antialias=antialias)


def _stroked(path, target: RasterTarget) -> QImage:
    """The page as stroked without clip nor lock-free call (what render_raster drew before)."""
    x, y, w, h = target.rect
    image = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, target.antialias)
    m11, m12, m21, m22, dx, dy = target.transform
    painter.setTransform(QTransform(m11, m12, m21, m22, dx - x, dy - y))
    painter.setPen(target.pen)
    painter.drawPath(path)
    painter.end()
    return image


@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("rows_in_view, first_row", [(12.0, 0), (5.0, 0), (4.0, 5)])
def test_page_image_has_the_pixels_of_the_stroked_path(qapp, antialias, rows_in_view, first_row):
    """The clipped image, stroked through Qt's function without the lock from the rows in view only, has exactly
    the pixels of the plain stroke of the whole page, with all rows in view and with rows off the image."""
    page = _page()
    target = _target(page.n_rows, rows_in_view=rows_in_view, antialias=antialias, first_row=first_row)
    drawn = render_raster(page, target).image
    expected = _stroked(page.path, target)
    subset = path_in_view(page, target)
    # 5 rows in view: only the rows that reach the image are stroked (the first 6 or 7), the same pixels
    assert (subset.elementCount() < page.path.elementCount()) == (rows_in_view < page.n_rows)
    blank = QImage(expected.size(), expected.format())
    blank.fill(Qt.GlobalColor.transparent)
    assert expected != blank
    assert drawn == expected


def test_page_path_is_made_on_first_use_and_is_the_rows_polyline(qapp):
    """The polyline of all rows is made when first asked for (a page drawn from its image never needs it), once,
    and shared with the copy that carries the image; the curve item strokes that path."""
    page = _page()
    assert "path" not in page.made
    target = _target(page.n_rows, rows_in_view=5.0)
    with_image = render_raster(page, target)
    assert "path" not in page.made  # 5 rows in view: only their path was made
    path = page.path
    assert page.path is path
    expected = signal_browser.rows_path(page.times, page.y)
    assert path == expected
    import dataclasses

    copy = dataclasses.replace(page, raster=with_image)
    assert copy.path is path
    curve = signal_browser._PageCurve()
    curve.set_page(page)
    assert curve.getPath() == expected


def test_plot_area_in_pixels_does_not_flicker_with_rounding():
    """The plot area's edges lie on whole pixels up to rounding: 49.9999999 and 50.0000001 px give the same
    pixels (toAlignedRect gave (49, 0, 795, 434) and (50, 0, 794, 434) at successive page steps, so that a
    third of the prefetched images did not fit their paint); edges really inside a pixel are covered as by Qt."""
    from PySide6.QtCore import QRect, QRectF

    from app.signal_browser import aligned_rect

    for left in (49.9999999, 50.0, 50.0000001):
        assert aligned_rect(QRectF(left, 0.0, 844.0 - left, 434.0000001)) == QRect(50, 0, 794, 434)
    for rect in (QRectF(49.5, 0.25, 794.2, 433.5), QRectF(-3.7, 2.0, 10.0, 0.5), QRectF(0.0, 0.0, 0.0, 0.0)):
        assert aligned_rect(rect) == rect.toAlignedRect()


def test_lock_free_stroke_is_found_and_checked_here(qapp):
    """On Linux (the platform the tests and packages run on) Qt's drawPath is called without the lock."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the lock-free call is looked up under the Itanium C++ ABI's name; checked on Linux")
    assert page_raster.gil_free_available()


def test_lock_free_stroke_can_be_turned_off(qapp, monkeypatch):
    """``MMQNET_LOCKFREE_PAINT=0`` gives the ordinary call (a support switch), with the same pixels."""
    monkeypatch.setattr(page_raster, "_state", {})
    monkeypatch.setenv("MMQNET_LOCKFREE_PAINT", "0")
    assert not page_raster.gil_free_available()
    monkeypatch.setattr(page_raster, "_state", {})
    monkeypatch.delenv("MMQNET_LOCKFREE_PAINT")
    assert page_raster.gil_free_available() == sys.platform.startswith("linux")


def _gui_runs_before_the_stroke_ends(stroke) -> bool:
    """Whether the main thread gets the interpreter lock back while another thread is inside
    ``stroke(painter, path)`` (a long stroke: 40 rows of 50,000 points), rather than only after it returned.

    Python hands the lock over on its own only every 2 s here (``sys.setswitchinterval``): well before that, the
    main thread runs again only if the drawing thread lets go of the lock.
    """
    rng = np.random.default_rng(1)
    times = np.linspace(0.0, 10.0, 50_000)
    path = signal_browser.rows_path(times, np.arange(40.0)[:, None] + 0.3 * rng.standard_normal((40, times.size)))
    target = _target(40, rows_in_view=40.0)
    x, y, w, h = target.rect
    image = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(image)
    m11, m12, m21, m22, dx, dy = target.transform
    painter.setTransform(QTransform(m11, m12, m21, m22, dx - x, dy - y))
    painter.setPen(target.pen)
    started = threading.Event()
    ended: list[float] = []

    def draw() -> None:
        started.set()
        stroke(painter, path)
        ended.append(time.perf_counter())

    interval = sys.getswitchinterval()
    thread = threading.Thread(target=draw)
    sys.setswitchinterval(2.0)
    try:
        thread.start()
        started.wait(10)  # waits without the lock; returning here needs the lock again
        back = time.perf_counter()
    finally:
        sys.setswitchinterval(interval)
        thread.join()
        painter.end()
    return back < ended[0]


def test_the_drawing_thread_lets_the_gui_thread_run(qapp):
    """While the prefetching thread strokes a page, the GUI thread can run (with ``QPainter.drawPath`` it waited
    for the whole stroke: measured in the browser, a Python loop ran at 2-25 % of its speed meanwhile)."""
    if not page_raster.gil_free_available():
        pytest.skip("no lock-free stroke on this platform")
    assert _gui_runs_before_the_stroke_ends(page_raster.stroke_path)
    assert not _gui_runs_before_the_stroke_ends(QPainter.drawPath)  # the ordinary call holds the lock


def test_back_to_back_steps_find_their_pages_drawn_into_images(browser, qtbot, monkeypatch):
    """With the lock-free stroke, steps that come as soon as the page is painted prepare their neighbours at once
    (never held) and with images, so that the GUI thread copies each page instead of stroking it."""
    if not page_raster.gil_free_available():
        pytest.skip("no lock-free stroke on this platform: back-to-back pages are stroked (test_signal_browser)")
    # A wide margin, so that a loaded machine cannot stretch the test's back-to-back steps into spaced ones.
    monkeypatch.setattr(signal_browser, "BACK_TO_BACK_S", 0.25)
    _cleaned(browser, qtbot)
    browser.set_page_length(5.0)
    browser.set_start(0.0)
    cache = browser.page_cache
    curve = browser.trace_items()[0]
    page_key = browser._page_plan("raw").page_key
    viewport = browser.plot_widget.viewport()
    viewport.repaint()
    _pause(browser, qtbot)
    qtbot.keyClick(browser, Qt.Key.Key_PageDown)
    viewport.repaint()
    qtbot.waitUntil(lambda: all(f.done() for f in cache._pages.values()), timeout=5000)
    rasters, paths = curve.raster_paints, curve.path_paints
    seen = []
    for _ in range(4):  # each as soon as the previous page is painted
        qtbot.keyClick(browser, Qt.Key.Key_PageDown)
        seen.append((browser.back_to_back, cache._go.is_set()))
        viewport.repaint()
    assert seen == [(True, True)] * 4  # never held
    for start in (25.0, 30.0, 35.0):  # the page shown and the two ahead, all asked for by back-to-back steps
        assert cache._pages[(page_key, start, start + 5.0)].result(timeout=5).raster is not None
    # Copied from their images (the first may be stroked: the view's plot area can move by a pixel after the
    # first page step, as the time axis' labels change; the next pages are drawn for the new area).
    assert curve.raster_paints - rasters >= 3 and curve.path_paints - paths <= 1
    assert browser.start_s == pytest.approx(25.0)
    # The page on screen was copied from its image: the curve item never asked for its path.
    assert curve._page is cache._pages[(page_key, 25.0, 30.0)].result(timeout=5) and curve.path is None
