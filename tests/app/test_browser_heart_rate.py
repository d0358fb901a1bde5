"""The browser's heart-rate row: H / View menu, computed in the core in the background, drawn in bpm."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.app.conftest import wait_loaded  # noqa: F401
from tests.core.features.test_heart_rate import _recording


@pytest.fixture
def heart_browser(window, tmp_path, qtbot):
    window.set_recording(_recording(True), tmp_path / "synthetic_heart.bdf")
    wait_loaded(qtbot, window)
    b = window.browser
    b.set_page_length(10.0)
    b.setFocus()
    qtbot.wait(50)
    return b


def test_h_shows_the_heart_rate_row_in_bpm(heart_browser, qtbot, window):
    b = heart_browser
    row = b.heart_rate_row
    assert not row.shown and not window.review.heart_rate_action.isChecked()
    assert row.widget is None  # made when first shown: nothing to build at start-up
    qtbot.keyClick(b, Qt.Key.Key_H)
    assert b.state.heart_rate and row.shown
    assert window.review.heart_rate_action.isChecked()  # the View menu item follows the key
    row.wait()
    qtbot.waitUntil(lambda: row.trace is not None, timeout=5000)
    t, bpm = row.page_values()
    start, stop = b.visible_range()
    assert t.size > 20 and t.min() < start + 0.5 and t.max() > stop - 0.5  # the page's points only
    assert t.size < 60
    assert np.nanmedian(bpm) == pytest.approx(80, abs=1)  # the ECG beats at 80 bpm
    assert row.plot.getAxis("left").labelUnits == "bpm"
    assert "ECG" in row.caption_text() and "bpm" in row.caption_text()
    lo, hi = row.plot.getViewBox().viewRange()[1]
    assert lo < 80 < hi and hi - lo >= 20
    # Time-linked to the traces: the row pages with them.
    qtbot.keyClick(b, Qt.Key.Key_PageDown)
    t2, _ = row.page_values()
    assert t2.min() > t.max() - 1.0
    assert row.plot.getViewBox().viewRange()[0] == pytest.approx(b.view_box().viewRange()[0])
    qtbot.wait(20)
    assert row.plot.getAxis("left").width() == b._axis.width() >= 60  # time axes line up
    left = row.plot.getViewBox().sceneBoundingRect().left()
    assert left == b.view_box().sceneBoundingRect().left()
    # ... and end where the traces end (left of the scale bar's gutter); the two plots are as wide.
    assert row.plot.getViewBox().sceneBoundingRect().right() == b.view_box().sceneBoundingRect().right()
    assert row.widget.width() == b.plot_widget.width()
    qtbot.keyClick(b, Qt.Key.Key_H)
    assert not row.shown and not window.review.heart_rate_action.isChecked()
    window.review.heart_rate_action.trigger()  # the menu item works the same
    assert row.shown and b.state.heart_rate


def test_a_recording_without_heart_channel_says_so(browser, qtbot):
    qtbot.keyClick(browser, Qt.Key.Key_H)
    assert not browser.heart_rate_row.shown
    assert "no ECG or PPG channel" in browser.status
