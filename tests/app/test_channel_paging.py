"""SignalBrowser channel paging: channels per page, Up/Down keys, the scroll bar, masking and modes on page 2."""

import mne
import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from app.signal_browser import MIN_ROW_PX, auto_channels_per_page
from mmqnet_core.recording import ChannelInfo, Modality, Recording

from .conftest import SFREQ, wait_loaded

N_CHANNELS = 40
NAMES = [f"E{i + 1:02d}" for i in range(N_CHANNELS)]
SHIFT, CTRL = Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier


def make_40_channels(duration_s: float = 30.0) -> Recording:
    """A SYNTHETIC 40-channel EEG recording (10 Hz alpha of 20 uV plus noise, a different phase per channel)."""
    rng = np.random.default_rng(1)
    t = np.arange(int(duration_s * SFREQ)) / SFREQ
    data = np.vstack([20e-6 * np.sin(2 * np.pi * 10 * t + i) + 4e-6 * rng.standard_normal(t.size)
                      for i in range(N_CHANNELS)])
    raw = mne.io.RawArray(data, mne.create_info(NAMES, SFREQ, "eeg"), verbose=False)
    channels = tuple(ChannelInfo(n, Modality.EEG, SFREQ, "V") for n in NAMES)
    return Recording(raw=raw, channels=channels, is_synthetic=True)


@pytest.fixture
def browser(window, tmp_path, qtbot):
    window.set_recording(make_40_channels(), tmp_path / "synthetic_40.bdf")
    wait_loaded(qtbot, window)
    b = window.browser
    b.setFocus()
    qtbot.wait(80)  # let the first resize settle
    return b


def y_range(browser):
    """The view's y range below the label strip (which holds the legend even without annotations), rows."""
    top, bottom = browser.view_box().viewRange()[1]
    return [top + browser._strip_rows(), bottom]


def label_point(browser, row: float):
    """Pixel of the plot viewport on the channel-name axis at view row ``row``."""
    axis = browser.plot.getAxis("left")
    y = browser.view_box().mapViewToScene(QPointF(0, row)).y()
    return browser.plot_widget.mapFromScene(QPointF(axis.sceneBoundingRect().center().x(), y))


def test_auto_channels_per_page_counts_rows_of_at_least_min_row_px():
    assert auto_channels_per_page(0, 40) == 40  # height not known yet: all
    assert auto_channels_per_page(1000, 7) == 7  # all fit
    assert auto_channels_per_page(300, 40) == 13  # 300 / 13.4 = 22.4 px per row; 14 would give 20.8
    assert 300 / (13 + 0.4) >= MIN_ROW_PX > 300 / (14 + 0.4)
    assert auto_channels_per_page(10, 40) == 1  # never fewer than one
    assert auto_channels_per_page(500, 0) == 0


def test_default_page_holds_the_channels_that_fit_and_follows_the_height(window, browser, qtbot):
    height = browser.view_box().height() - sum(browser._strips)  # the rows' room (the legend has a line above)
    n = browser.channels_per_page
    assert n == auto_channels_per_page(height, N_CHANNELS) < N_CHANNELS
    assert height / (n + 0.4) >= MIN_ROW_PX
    assert browser.page_channels == NAMES[:n]
    assert y_range(browser) == pytest.approx([-0.7, n - 0.3])
    bar = browser.channel_scroll_bar
    assert bar.isVisible() and bar.maximum() == N_CHANNELS - n and bar.pageStep() == n
    window.resize(900, 600)  # a smaller window: fewer channels, still >= MIN_ROW_PX each
    qtbot.waitUntil(lambda: browser.channels_per_page < n)
    assert browser.view_box().height() / (browser.channels_per_page + 0.4) >= MIN_ROW_PX


def test_paging_keys_move_the_channel_window_and_clamp(browser, qtbot):
    browser.set_channels_per_page(10)
    time_range = browser.visible_range()
    steps = [(Qt.Key.Key_Down, Qt.KeyboardModifier.NoModifier, 1), (Qt.Key.Key_Down, SHIFT, 11),
             (Qt.Key.Key_Up, SHIFT, 1), (Qt.Key.Key_Up, Qt.KeyboardModifier.NoModifier, 0),
             (Qt.Key.Key_Up, Qt.KeyboardModifier.NoModifier, 0),  # clamped at the top
             (Qt.Key.Key_Up, SHIFT, 0)]
    steps += [(Qt.Key.Key_Down, SHIFT, first) for first in (10, 20, 30, 30)]  # clamped: the last 10 channels
    steps += [(Qt.Key.Key_Down, Qt.KeyboardModifier.NoModifier, 30)]
    for key, mods, first in steps:
        qtbot.keyClick(browser, key, mods)
        assert browser.first_channel == first, (key, mods)
        assert y_range(browser) == pytest.approx([first - 0.7, first + 9.7])
        assert browser.channel_scroll_bar.value() == first
    assert browser.page_channels == NAMES[30:]
    assert browser.visible_range() == time_range  # channel keys leave the time page alone


def test_channels_per_page_keys_and_setting_change_the_rows_in_view(browser, qtbot):
    browser.set_channels_per_page(10)
    assert len(browser.page_channels) == 10 and y_range(browser) == pytest.approx([-0.7, 9.7])
    qtbot.keyClick(browser, Qt.Key.Key_Down, CTRL | SHIFT)
    assert browser.channels_per_page == 12 and browser.page_channels == NAMES[:12]
    assert y_range(browser) == pytest.approx([-0.7, 11.7])
    for _ in range(3):
        qtbot.keyClick(browser, Qt.Key.Key_Up, CTRL | SHIFT)
    assert browser.channels_per_page == 6 and browser.channel_scroll_bar.pageStep() == 6
    browser.set_first_channel(30)
    qtbot.keyClick(browser, Qt.Key.Key_Down, CTRL | SHIFT)
    assert (browser.first_channel, browser.channels_per_page) == (30, 8)  # the top row stays
    browser.set_channels_per_page(12)
    assert browser.first_channel == 28  # the window stays within the channels
    browser.set_channels_per_page(100)  # more than there are: all of them, no scroll bar
    assert browser.channels_per_page == N_CHANNELS and browser.first_channel == 0
    assert not browser.channel_scroll_bar.isVisible()
    for _ in range(3):
        qtbot.keyClick(browser, Qt.Key.Key_Down, CTRL | SHIFT)
    assert browser.channels_per_page == N_CHANNELS
    browser.set_channels_per_page(None)  # back to automatic
    assert browser.channels_per_page == auto_channels_per_page(browser.view_box().height() - sum(browser._strips),
                                                               N_CHANNELS)
    with pytest.raises(ValueError, match="channels per page must be a whole number >= 1.*got 0"):
        browser.set_channels_per_page(0)


def test_scroll_bar_and_shift_wheel_move_the_window(browser):
    browser.set_channels_per_page(10)
    browser.channel_scroll_bar.setValue(7)
    assert browser.first_channel == 7 and y_range(browser) == pytest.approx([6.3, 16.7])
    browser._on_wheel(-120, SHIFT)  # towards the user: channels below
    assert browser.first_channel == 10
    browser._on_wheel(120, SHIFT)
    browser._on_wheel(120, SHIFT)
    assert browser.first_channel == 4
    assert browser.visible_range() == (0.0, 10.0)  # Shift+wheel does not page in time


def test_clicking_a_label_on_the_second_page_masks_that_channel(window, browser, qtbot):
    browser.set_channels_per_page(10)
    qtbot.keyClick(browser, Qt.Key.Key_Down, SHIFT)
    assert browser.page_channels[0] == "E11"
    viewport = browser.plot_widget.viewport()
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     label_point(browser, browser.row_of("E15")))
    assert window.model.masks.channels == {"E15"}
    rects = browser.shown_mask_rects()
    assert len(rects) == 1 and rects[0].top() == pytest.approx(browser.row_of("E15") - 0.5)
    # The margin above the top row is not the channel above the window (E10, out of view).
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     label_point(browser, browser.first_channel - 0.6))
    assert window.model.masks.channels == {"E15"}
    # A masked channel out of view gets no mask item; back in view it does.
    qtbot.keyClick(browser, Qt.Key.Key_Down, SHIFT)
    assert browser.shown_mask_rects() == []
    qtbot.keyClick(browser, Qt.Key.Key_Up, SHIFT)
    assert len(browser.shown_mask_rects()) == 1


def test_hidden_channels_stay_hidden_and_the_top_channel_stays_in_view(window, browser):
    browser.set_channels_per_page(10)
    browser.set_first_channel(10)
    window.model.set_channel_visible("E02", False)  # above the window: E11 stays on top
    assert "E02" not in browser.visible_channels and len(browser.visible_channels) == N_CHANNELS - 1
    assert browser.page_channels == NAMES[10:20] and browser.first_channel == 9
    window.model.set_channel_visible("E13", False)  # in the window: the next channel moves up
    assert browser.page_channels == NAMES[10:12] + NAMES[13:21]
    assert browser.channel_scroll_bar.maximum() == N_CHANNELS - 2 - 10


def test_modes_and_prepared_pages_work_with_channel_paging(window, browser, qtbot):
    wait_loaded(qtbot, window, cleaned=True)
    browser.set_channels_per_page(10)
    qtbot.keyClick(browser, Qt.Key.Key_Down, SHIFT)
    cache = browser.page_cache
    misses = cache.misses
    for key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
        qtbot.keyClick(browser, key, SHIFT)
    assert cache.misses == misses  # moving the channel window reads and decimates nothing
    qtbot.keyClick(browser, Qt.Key.Key_C)
    qtbot.keyClick(browser, Qt.Key.Key_C)
    assert browser.mode == "both"
    raw, clean = browser.curves("E15")
    assert raw.getData()[0].size > 0 and clean.getData()[0].size > 0
    row = browser.row_of("E15")
    # The channel's traces lie around its row, which is in view.
    assert abs(float(np.median(clean.getData()[1])) - row) < 0.5
    lo, hi = sorted(y_range(browser))
    assert lo < row < hi


def test_shortcuts_dialog_lists_the_channel_keys(window, qtbot):
    dialog = window.show_shortcuts()
    qtbot.addWidget(dialog)
    rows = dict(dialog.rows())
    assert rows["Down / Up"] == "Channels: one row down / up"
    assert rows["Shift+Down / Shift+Up"] == "Next / previous page of channels"
    assert rows["Ctrl+Shift+Down / Ctrl+Shift+Up"] == "More / fewer channels per page"
