"""SignalBrowser: paging, page length, amplitude, raw/cleaned display, spans and mask gestures."""

import math
import time

import mne
import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QInputDialog
from PySide6.QtTest import QTest

import app.signal_browser as signal_browser
from app.signal_browser import LABEL_GAP_PX, PAGE_LENGTHS, SCALE_STEP, stack_labels
from mmqnet_core.recording import Modality

from .conftest import DURATION_S, wait_loaded


def viewport_point(browser, t_s: float, row: float) -> QPoint:
    """Pixel of the plot viewport at time ``t_s`` (s) and channel row ``row``."""
    scene = browser.view_box().mapViewToScene(QPointF(t_s, row))
    return browser.plot_widget.mapFromScene(scene)


def label_point(browser, ch_name: str) -> QPoint:
    axis = browser.plot.getAxis("left")
    y = browser.view_box().mapViewToScene(QPointF(0, browser.row_of(ch_name))).y()
    return browser.plot_widget.mapFromScene(QPointF(axis.sceneBoundingRect().center().x(), y))


def drag(widget, p0: QPoint, p1: QPoint, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """Press, move in steps and release the left button, with ``modifiers`` held on every event."""
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton

    def send(kind, pos, button, buttons):
        pos = QPointF(pos)
        event = QMouseEvent(kind, pos, QPointF(widget.mapToGlobal(pos.toPoint())), button, buttons, modifiers)
        QApplication.sendEvent(widget, event)

    send(QEvent.Type.MouseButtonPress, p0, left, left)
    for f in np.linspace(0.1, 1.0, 6):
        send(QEvent.Type.MouseMove, QPoint(int(p0.x() + f * (p1.x() - p0.x())), p0.y()), none, left)
    send(QEvent.Type.MouseButtonRelease, p1, left, none)


def x_range(curve):
    x, _ = curve.getData()
    return float(x.min()), float(x.max())


def test_paging_keys_move_the_visible_window(browser, qtbot):
    assert browser.visible_range() == (0.0, 10.0)
    steps = [(Qt.Key.Key_PageDown, (10.0, 20.0)), (Qt.Key.Key_Right, (12.5, 22.5)),
             (Qt.Key.Key_Left, (10.0, 20.0)), (Qt.Key.Key_PageUp, (0.0, 10.0)),
             (Qt.Key.Key_PageUp, (0.0, 10.0)),  # clamped at the start
             (Qt.Key.Key_End, (DURATION_S - 10, DURATION_S)), (Qt.Key.Key_PageDown, (DURATION_S - 10, DURATION_S)),
             (Qt.Key.Key_Home, (0.0, 10.0))]
    for key, expected in steps:
        qtbot.keyClick(browser, key)
        assert browser.visible_range() == pytest.approx(expected), key
    # Only the page is drawn: the raw curves span the page, not the recording.
    qtbot.keyClick(browser, Qt.Key.Key_PageDown)
    lo, hi = x_range(browser.curves("Fz")[0])
    assert 10.0 <= lo < 10.1 and 19.9 < hi <= 20.0
    assert browser.view_box().viewRange()[0] == pytest.approx([10.0, 20.0])


def test_page_length_keys_and_ctrl_wheel(browser, qtbot):
    qtbot.keyClick(browser, Qt.Key.Key_Comma)
    assert browser.page_s == 5.0
    qtbot.keyClick(browser, Qt.Key.Key_Period)
    qtbot.keyClick(browser, Qt.Key.Key_Period)
    assert browser.page_s == 20.0
    browser._on_wheel(-120, Qt.KeyboardModifier.ControlModifier)
    assert browser.page_s == 30.0
    browser._on_wheel(-120, Qt.KeyboardModifier.NoModifier)  # plain wheel towards the user: next page
    assert browser.visible_range() == (30.0, 60.0)
    browser.set_page_length(7.0)  # between two entries: ',' goes to the lower one, '.' to the higher one
    browser.step_page_length(-1)
    assert browser.page_s == 5.0
    for _ in range(len(PAGE_LENGTHS) + 2):
        qtbot.keyClick(browser, Qt.Key.Key_Period)
    assert browser.page_s == PAGE_LENGTHS[-1]
    assert browser.visible_range() == (0.0, PAGE_LENGTHS[-1])  # longer than the recording: starts at 0


def _amplitude(browser, name):
    _, y = browser.curves(name)[0].getData()
    return float(np.ptp(y))


def test_amplitude_keys_scale_one_modality_or_all(browser, qtbot):
    browser.state.set_clip(False)  # compare whole traces; clipping to the row has its own test
    eeg0, gsr0 = browser.scale(Modality.EEG), browser.scale(Modality.GSR)
    fz0, gsr_amp0 = _amplitude(browser, "Fz"), _amplitude(browser, "GSR")
    qtbot.keyClick(browser, Qt.Key.Key_Plus)
    assert browser.scale(Modality.EEG) == pytest.approx(eeg0 / SCALE_STEP)
    assert browser.scale(Modality.GSR) == pytest.approx(gsr0 / SCALE_STEP)
    assert _amplitude(browser, "Fz") == pytest.approx(fz0 * SCALE_STEP, rel=1e-6)
    browser.set_scale_target(Modality.GSR)
    qtbot.keyClick(browser, Qt.Key.Key_Minus)
    qtbot.keyClick(browser, Qt.Key.Key_Minus)
    assert browser.scale(Modality.EEG) == pytest.approx(eeg0 / SCALE_STEP)
    assert browser.scale(Modality.GSR) == pytest.approx(gsr0 * SCALE_STEP)
    assert _amplitude(browser, "GSR") == pytest.approx(gsr_amp0 / SCALE_STEP, rel=1e-6)


def test_initial_scale_comes_from_the_data(browser):
    # EEG is ~20 uV alpha + noise: a row spacing of the order of its 1-99 % range, not a unit-less 1.0.
    assert 30e-6 < browser.scale(Modality.EEG) < 120e-6
    assert 0.05 < browser.scale(Modality.GSR) < 2.0


def test_long_page_is_decimated_but_keeps_the_spikes(browser, qtbot, recording):
    browser.state.set_clip(False)  # the spikes go beyond the row: compare them unclipped
    browser.set_page_length(60.0)
    x, y = browser.curves("Fz")[0].getData()
    width = int(browser.view_box().width())
    assert len(x) <= 2 * max(200, width) < recording.n_times
    data = recording.get_data(0.0, 60.0, picks=[recording.index("Fz")])[0]
    row, scale = browser.row_of("Fz"), browser.scale(Modality.EEG)
    # The 50 uV spikes are the maxima: the drawn minimum (y points down) is exactly the spike's position.
    assert y.min() == pytest.approx(row - (data.max() - data.mean()) / scale)
    assert y.max() == pytest.approx(row - (data.min() - data.mean()) / scale)


def test_c_cycles_raw_cleaned_and_both(window, browser, qtbot):
    wait_loaded(qtbot, window, cleaned=True)
    raw, clean = browser.curves("Cz")

    def n_points(curve):
        x = curve.getData()[0]
        return 0 if x is None else x.size

    assert browser.mode == "raw" and n_points(raw) > 0 and n_points(clean) == 0
    qtbot.keyClick(browser, Qt.Key.Key_C)
    assert browser.mode == "cleaned"
    assert n_points(raw) == 0 and n_points(clean) > 0
    lo, hi = x_range(clean)
    assert 0.0 <= lo < 0.1 and 9.9 < hi <= 10.0
    qtbot.keyClick(browser, Qt.Key.Key_C)
    assert browser.mode == "both"
    assert n_points(raw) > 0 and n_points(clean) > 0
    assert window.mode_combo.currentText() == "both"
    # The cleaned EEG lost its spikes' DC and noise: it differs from the raw trace drawn with it.
    assert not np.allclose(raw.getData()[1][:50], clean.getData()[1][:50])
    assert clean.opts["pen"].color().name() != raw.opts["pen"].color().name()
    qtbot.keyClick(browser, Qt.Key.Key_C)
    assert browser.mode == "raw"


def test_cleaned_mode_before_cleaning_shows_raw(window, recording, tmp_path, qtbot, monkeypatch):
    # Cleaning never finishes here: the browser says so and keeps drawing raw data.
    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    window.set_recording(recording, tmp_path / "r.bdf")
    window.browser.set_mode("cleaned")
    assert window.browser.curves("Fz")[0].getData()[0].size > 0
    assert "not ready" in window.browser.status


def test_annotations_on_the_page_are_shaded(browser, window, qtbot):
    # Cleaning adds interference spans (muscle) when it finishes: wait for it, then count annotations only.
    assert window.runner.wait_for_all(20)
    qtbot.wait(20)
    window.model.set_preprocess_result(None)
    assert browser.shown_annotation_count() == 1  # the 5-15 s stimulus; the 30 s button press is later
    labels = [item.textItem.toPlainText() for item in browser._labels.shown()]
    assert labels == ["SYNTHETIC stimulus"]
    browser.set_start(25.0)
    assert browser.shown_annotation_count() == 1  # the 30 s button press
    browser.set_start(40.0)
    assert browser.shown_annotation_count() == 0


def test_clicking_a_label_toggles_the_channel_mask(window, browser, qtbot):
    QTest.mouseClick(browser.plot_widget.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     label_point(browser, "Cz"))
    assert window.model.masks.channels == {"Cz"}
    assert browser._axis.masked == {"Cz"}
    rects = browser.shown_mask_rects()
    assert len(rects) == 1 and rects[0].top() == pytest.approx(browser.row_of("Cz") - 0.5)
    QTest.mouseClick(browser.plot_widget.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     label_point(browser, "Cz"))
    assert window.model.masks.channels == frozenset()
    assert window.model.undo_stack.count() == 2


def test_shift_drag_masks_a_segment_on_the_selected_channels(window, browser, qtbot):
    window.model.set_selection(["Fz", "Cz"])
    viewport = browser.plot_widget.viewport()
    drag(viewport, viewport_point(browser, 2.0, 1.0), viewport_point(browser, 4.0, 1.0),
         Qt.KeyboardModifier.ShiftModifier)
    segments = window.model.masks.segments
    assert len(segments) == 1
    seg = segments[0]
    px = 10.0 / browser.view_box().width()  # one pixel in seconds
    assert seg.start_s == pytest.approx(2.0, abs=2 * px) and seg.end_s == pytest.approx(4.0, abs=2 * px)
    assert seg.channels == ("Cz", "Fz") and seg.source == "user"
    assert len(browser.shown_mask_rects()) == 2
    assert not browser._drag_region.isVisible()


def test_plain_drag_does_nothing_outside_mask_mode(window, browser):
    viewport = browser.plot_widget.viewport()
    drag(viewport, viewport_point(browser, 2.0, 1.0), viewport_point(browser, 4.0, 1.0))
    assert window.model.masks.segments == ()
    assert browser.visible_range() == (0.0, 10.0)  # no panning either


def test_mask_mode_drag_then_right_click_deletes(window, browser, qtbot):
    qtbot.keyClick(browser, Qt.Key.Key_M)
    assert browser.mask_mode and window.mask_mode_action.isChecked()
    viewport = browser.plot_widget.viewport()
    drag(viewport, viewport_point(browser, 6.0, 2.0), viewport_point(browser, 8.0, 2.0))
    assert len(window.model.masks.segments) == 1
    assert window.model.masks.segments[0].channels == ()  # nothing selected: all channels
    assert len(browser.shown_mask_rects()) == 1
    QTest.mouseClick(viewport, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier,
                     viewport_point(browser, 1.0, 3.0))  # outside the mask: nothing happens
    assert len(window.model.masks.segments) == 1
    QTest.mouseClick(viewport, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier,
                     viewport_point(browser, 7.0, 3.0))
    assert window.model.masks.segments == ()
    assert browser.shown_mask_rects() == []


def test_left_click_moves_the_cursor(window, browser):
    QTest.mouseClick(browser.plot_widget.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     viewport_point(browser, 3.0, 1.0))
    assert window.model.cursor_s == pytest.approx(3.0, abs=0.05)
    assert browser._cursor.isVisible()


@pytest.mark.parametrize("typed, expected", [("33", 33.0), ("0:33", 33.0), ("00:00:33.5", 33.5), ("33 s", 33.0)])
def test_ctrl_g_jumps_to_the_time_entered(window, browser, qtbot, monkeypatch, typed, expected):
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: (typed, True))
    qtbot.keyClick(browser, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert browser.visible_range() == pytest.approx((expected, expected + 10.0))
    assert window.model.cursor_s == pytest.approx(expected)


def test_ctrl_g_refuses_a_time_beyond_the_recording(window, browser, qtbot, monkeypatch):
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("2:05", True))  # 125 s of a 60 s recording
    errors = []
    window.model.errorOccurred.connect(lambda exc, what: errors.append(str(exc)))
    qtbot.keyClick(browser, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert browser.visible_range() == (0.0, 10.0)
    assert errors and "outside the recording" in errors[0]


def test_hidden_channels_are_not_drawn(window, browser):
    window.model.set_channel_visible("GSR", False)
    assert "GSR" not in browser.visible_channels
    assert len(browser.visible_channels) == 6
    raw_item = browser.trace_items()[0]
    x, y = raw_item.getData()
    assert x.size == 6 * browser.curves("Fz")[0].getData()[0].size  # 6 rows laid end to end in one item
    assert not raw_item.opts["connect"][browser.curves("Fz")[0].getData()[0].size - 1]  # broken at a row end
    window.model.set_channel_visible("GSR", True)
    assert browser.visible_channels[-2:] == ["GSR", "Resp"]


def test_page_step_reuses_the_curve_items(browser, qtbot):
    items = browser.trace_items()
    n_items = len(browser.view_box().addedItems)
    n_children = len(browser.view_box().childGroup.childItems())
    for _ in range(4):
        qtbot.keyClick(browser, Qt.Key.Key_PageDown)
    assert browser.trace_items() == items
    assert len(browser.view_box().addedItems) <= n_items + 2  # at most the pooled span items of a new page
    assert len(browser.view_box().childGroup.childItems()) <= n_children + 2
    assert math.isclose(browser.start_s, 40.0)


def test_next_page_is_prefetched_and_matches_a_fresh_read(browser, qtbot, recording):
    browser.set_page_length(2.0)  # 256 samples: not decimated, so every sample can be compared
    browser.state.set_clip(False)  # every sample as read (clipping to the row has its own test)
    cache = browser.page_cache
    hits = cache.hits
    qtbot.keyClick(browser, Qt.Key.Key_PageDown)  # prepared in the background after the first page
    assert cache.hits == hits + 1
    qtbot.keyClick(browser, Qt.Key.Key_PageUp)  # the page shown before is still cached
    assert cache.hits == hits + 2
    qtbot.keyClick(browser, Qt.Key.Key_PageDown)
    # What the cache served is what a fresh read of the file gives.
    x, y = browser.curves("Cz")[0].getData()
    data = recording.get_data(2.0, 4.0, picks=[recording.index("Cz")])[0]
    row, scale = browser.row_of("Cz"), browser.scale(Modality.EEG)
    assert x[0] == pytest.approx(2.0) and y.size == data.size
    np.testing.assert_allclose(y, row - (data - data.mean()) / scale)
    browser.change_scale(2.0)  # a new scale is a new page: not served from the cache
    _, y2 = browser.curves("Cz")[0].getData()
    np.testing.assert_allclose(y2 - row, 2.0 * (y - row))


def test_two_pages_ahead_are_prepared_and_the_page_plan_is_reused(browser, qtbot):
    browser.set_page_length(5.0)
    browser.set_start(0.0)
    cache = browser.page_cache
    plan = browser._page_plan("raw")
    qtbot.keyClick(browser, Qt.Key.Key_PageDown)  # now at 5 s: 10 s and 15 s (ahead) and 0 s (behind) asked for
    keys = [k for k in cache._pages if k[0] == plan.page_key]
    assert {k[1] for k in keys} >= {0.0, 5.0, 10.0, 15.0}
    hits = cache.hits
    for _ in range(3):  # each of these pages was asked for two steps before it is shown
        qtbot.keyClick(browser, Qt.Key.Key_PageDown)
    assert cache.hits == hits + 3
    assert browser._page_plan("raw") is plan  # paging does not rebuild picks, montage plan, scales
    browser.change_scale(2.0)
    assert browser._page_plan("raw") is not plan  # a display change does


def test_overlapping_labels_go_to_different_lines():
    # (x, width) in px: three labels over each other, then one clear of the first line's label.
    placed = stack_labels([(0, 50), (10, 50), (20, 50), (60, 30)], 3)
    assert placed == [(0, 50), (1, 50), (2, 50), (0, 30)]
    # Labels clear of each other share the first line; the order of the input is kept.
    assert stack_labels([(100, 40), (0, 40), (50, 40)], 3) == [(0, 40), (0, 40), (0, 40)]


def test_a_label_with_no_free_line_shortens_the_earliest_or_is_hidden():
    # All three lines are taken at x = 60: the label starting earliest (x = 0) is cut to end a gap before.
    placed = stack_labels([(0, 100), (10, 100), (20, 100), (60, 40)], 3)
    assert placed == [(0, 60 - LABEL_GAP_PX), (1, 100), (2, 100), (0, 40)]
    # No room even then (the earliest starts 6 px before): hidden.
    assert stack_labels([(0, 100), (2, 100), (4, 100), (6, 100)], 3)[3] is None
    # Cut at the right edge: kept when enough is left, hidden otherwise.
    assert stack_labels([(550, 100), (590, 100)], 3, right=600) == [(0, 50), None]
    assert stack_labels([(0, 10)], 0) == [None]


def test_stacked_labels_never_overlap_on_a_line():
    rng = np.random.default_rng(0)
    extents = [(float(x), float(w)) for x, w in zip(rng.uniform(0, 800, 60), rng.uniform(20, 160, 60))]
    placed = stack_labels(extents, 3, right=900)
    assert any(p is None for p in placed) and sum(p is not None for p in placed) > 15
    for line in range(3):
        spans = sorted((x, x + p[1]) for (x, _), p in zip(extents, placed) if p is not None and p[0] == line)
        assert all(a_end + LABEL_GAP_PX <= b_start + 1e-9 for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
        assert all(end <= 900 for _, end in spans)


def test_dense_annotation_labels_are_stacked_on_the_page(window, recording, tmp_path, qtbot):
    onsets = np.arange(0.0, 10.0, 0.25)  # 40 events on a 10 s page: far more than one line can hold
    recording.raw.set_annotations(mne.Annotations(onsets, 0.1, [f"SYNTHETIC event {i}" for i in range(40)]))
    window.set_recording(recording, tmp_path / "dense.bdf")
    wait_loaded(qtbot, window)
    browser = window.browser
    browser.set_page_length(10.0)
    qtbot.wait(80)
    assert window.runner.wait_for_all(20)
    window.model.set_preprocess_result(None)  # annotations only (no interference spans)
    labels = browser.shown_labels()
    lines = sorted({y for _, _, y in labels})
    assert len(lines) == 3
    # The labels have their own strip above the traces: every label ends above the first row's margin.
    first_row_top = browser.view_box().mapViewToScene(QPointF(0, -0.7)).y()
    assert all(item.mapRectToScene(item.boundingRect()).bottom() <= first_row_top + 1
               for item in browser._labels.shown())
    # On each line, a label ends before the next one starts (pixels of the drawn text items).
    for y in lines:
        items = sorted((item for item in browser._labels.shown() if item.pos().y() == y),
                       key=lambda item: item.pos().x())
        rects = [item.mapRectToScene(item.boundingRect()) for item in items]
        assert all(a.right() <= b.left() + 1 for a, b in zip(rects, rects[1:]))
    # Labels were cut short (elided with "…") or hidden where no room was left; all start at their event.
    texts = [text for text, _, _ in sorted(labels, key=lambda label: label[1])]
    assert 10 < len(texts) < 40 and any(t.endswith("…") for t in texts)
    assert all(t.startswith("SYNT") for t in texts)
    assert all(item.toolTip().startswith("SYNTHETIC event") for item in browser._labels.shown())


def _pause(browser, qtbot) -> None:
    """Idle as between a reader's key presses: until neither a paint nor a page drawn happened for longer than
    ``BACK_TO_BACK_S`` (on a loaded machine a paint can take much of a fixed wait)."""
    deadline = time.perf_counter() + 10.0
    while time.perf_counter() - max(browser.plot_widget.painted_at, browser._refreshed_at) \
            <= signal_browser.BACK_TO_BACK_S + 0.005:
        assert time.perf_counter() < deadline, "the browser never went idle"
        qtbot.wait(int(1000 * signal_browser.BACK_TO_BACK_S) + 5)


def _cleaned(browser, qtbot) -> None:
    """Wait until the cleaned signals are shown (their arrival redraws the page)."""
    qtbot.waitUntil(lambda: browser.model.preprocess_result is not None, timeout=20000)
    qtbot.wait(20)


def test_prefetched_pages_are_copied_from_images_drawn_as_the_path_would_be(browser, qtbot, monkeypatch):
    """A page prepared ahead is drawn into an image in the prefetching thread; on screen that image gives the
    same pixels as stroking the page's path, and a page whose image no longer fits the view (rows scrolled) is
    stroked again."""
    from app.signal_browser import RasterTarget

    _cleaned(browser, qtbot)  # no redraw of its own from now on: the key presses' spacing is the test's
    browser.set_page_length(5.0)
    browser.set_start(0.0)
    curve = browser.trace_items()[0]
    viewport = browser.plot_widget.viewport()
    viewport.repaint()
    for _ in range(3):  # the first paint gives the geometry: pages prefetched after it have their image
        _pause(browser, qtbot)  # key presses spaced as a reader's (images are drawn then)
        qtbot.keyClick(browser, Qt.Key.Key_PageDown)
        viewport.repaint()
        # as between a user's key presses, the event loop runs: the prefetches held until the paint finish
        qtbot.waitUntil(lambda: all(f.done() for f in browser.page_cache._pages.values()), timeout=5000)
    assert curve.raster_paints >= 1
    copied = browser.plot_widget.grab().toImage()
    assert curve.raster_paints >= 2  # the grab painted the page from its image too
    paths = curve.path_paints
    with monkeypatch.context() as m:
        m.setattr(RasterTarget, "matches", lambda *_a, **_k: False)  # force stroking the path
        stroked = browser.plot_widget.grab().toImage()
    assert curve.path_paints == paths + 1
    assert copied == stroked
    # Scrolling the rows moves the view: the page's image is for the old rows and is not used.
    browser.set_channels_per_page(4)
    rasters, paths = curve.raster_paints, curve.path_paints
    browser.plot_widget.grab()
    assert (curve.raster_paints, curve.path_paints) == (rasters, paths + 1)


def test_only_the_channel_and_time_axes_are_shown(browser):
    plot = browser.plot
    assert plot.getAxis("left").isVisible() and plot.getAxis("bottom").isVisible()
    assert not plot.getAxis("top").isVisible() and not plot.getAxis("right").isVisible()


def test_a_page_step_prepares_its_neighbours_only_after_its_page_is_painted(browser, qtbot):
    """The prefetch of the next pages waits for the step's paint (it competed with it for the interpreter lock
    and the cores: 21.7 ms wall for 9.1 ms of GUI CPU per step), and never makes a page that is needed now wait."""
    _cleaned(browser, qtbot)  # no redraw of its own from now on: the key presses' spacing is the test's
    browser.set_page_length(5.0)
    browser.set_start(0.0)
    cache = browser.page_cache
    browser.plot_widget.viewport().repaint()
    _pause(browser, qtbot)  # a reader's key press, not one as soon as the page is painted
    qtbot.keyClick(browser, Qt.Key.Key_PageDown)
    assert not browser.back_to_back
    assert not cache._go.is_set()  # held: the page just laid out has not been painted yet
    browser.plot_widget.viewport().repaint()
    qtbot.waitUntil(cache._go.is_set, timeout=2000)  # released at the turn of the event loop after the paint
    qtbot.waitUntil(lambda: all(f.done() for f in cache._pages.values()), timeout=5000)
    hits = cache.hits
    qtbot.keyClick(browser, Qt.Key.Key_PageDown)
    assert cache.hits == hits + 1  # prepared in the background after the paint
    qtbot.keyClick(browser, Qt.Key.Key_PageDown)  # no paint in between: the held page is released, not waited for
    assert cache.hits == hits + 2 and browser.start_s == pytest.approx(15.0)


def test_back_to_back_steps_prepare_their_neighbours_at_once_and_without_images(browser, qtbot, monkeypatch):
    """Steps that come as soon as the page is painted (or before) leave no idle time in which to draw the next
    pages into images: the neighbours are laid out at once and the GUI thread strokes their path (with images
    the one prefetching thread was the limit on 2 cores: 28.8 ms per plain step instead of 16.6 ms); spaced
    steps go back to waiting for the paint and drawing images. (Where the stroke runs without the interpreter
    lock, back-to-back pages get images too: tests/app/test_browser_raster.py.)"""
    monkeypatch.setattr(signal_browser, "gil_free_available", lambda: False)
    # A wide margin, so that a loaded machine cannot stretch the test's back-to-back steps into spaced ones.
    monkeypatch.setattr(signal_browser, "BACK_TO_BACK_S", 0.25)
    _cleaned(browser, qtbot)  # no redraw of its own from now on: the key presses' spacing is the test's
    browser.set_page_length(5.0)
    browser.set_start(0.0)
    cache = browser.page_cache
    curve = browser.trace_items()[0]
    page_key = browser._page_plan("raw").page_key  # pages in the cache: (page_key, start s, stop s)
    viewport = browser.plot_widget.viewport()
    viewport.repaint()
    _pause(browser, qtbot)
    qtbot.keyClick(browser, Qt.Key.Key_PageDown)  # spaced: held until the paint
    assert not browser.back_to_back and not cache._go.is_set()
    viewport.repaint()
    qtbot.waitUntil(lambda: all(f.done() for f in cache._pages.values()), timeout=5000)
    viewport.repaint()
    rasters, paths = curve.raster_paints, curve.path_paints
    seen = []
    for _ in range(4):  # each as soon as the previous page is painted: never held, no image drawn
        qtbot.keyClick(browser, Qt.Key.Key_PageDown)
        seen.append((browser.back_to_back, cache._go.is_set()))
        viewport.repaint()
    assert seen == [(True, True)] * 4
    for start in (25.0, 30.0, 35.0):  # the page shown and the two ahead, all asked for by back-to-back steps
        assert cache._pages[(page_key, start, start + 5.0)].result(timeout=5).raster is None
    # The first two of these pages were prefetched by the spaced step (with images), the others were not.
    assert curve.raster_paints - rasters <= 2 and curve.path_paints - paths >= 2
    assert browser.start_s == pytest.approx(25.0)
    _pause(browser, qtbot)  # a pause: spaced again, the next pages get their images
    qtbot.keyClick(browser, Qt.Key.Key_PageDown)
    assert not browser.back_to_back
    viewport.repaint()
    qtbot.waitUntil(lambda: all(f.done() for f in cache._pages.values()), timeout=5000)
    assert cache._pages[(page_key, 40.0, 45.0)].result().raster is not None


def test_no_annotation_label_is_drawn_with_fewer_than_four_characters(window, recording, tmp_path, qtbot):
    """40 events 0.25 s apart on a 10-s page in a narrower window: a label that would keep fewer than 4 characters
    of its text ("SYN…") is not drawn; its full text stays in the span's tooltip and the event list."""
    onsets = np.arange(0.0, 10.0, 0.25)
    recording.raw.set_annotations(mne.Annotations(onsets, 0.1, [f"SYNTHETIC event {i}" for i in range(40)]))
    window.set_recording(recording, tmp_path / "dense.bdf")
    wait_loaded(qtbot, window)
    browser = window.browser
    browser.set_page_length(10.0)
    assert window.runner.wait_for_all(20)
    window.model.set_preprocess_result(None)
    counts = []
    for width in (1200, 1100, 1024, 960, 900):
        window.resize(width, 760)
        qtbot.wait(80)
        browser.refresh()
        items = list(browser._labels.shown())
        counts.append(len(items))
        for item in items:
            shown, full = item.textItem.toPlainText(), item.toolTip()
            assert shown == full or (shown.endswith("…") and len(shown) - 1 >= 4), (width, shown)
    assert min(counts) > 5  # labels are still drawn, only the too-short ones are left out


def test_stacked_labels_take_a_minimum_width_per_label():
    # The label at 0 would be shortened to 60 - gap px to make room for the one at 60: done when its own
    # minimum allows it; when it does not, the label at 60 has no room and is hidden.
    extents = [(0, 100), (10, 100), (20, 100), (60, 40)]
    assert stack_labels(extents, 3, min_width=[50, 10, 10, 10])[0] == (0, 60 - LABEL_GAP_PX)
    assert stack_labels(extents, 3, min_width=[60, 10, 10, 10])[3] is None
