"""Session 11's clinician walkthrough (Xvfb at 1600 and 1024 px; the sample, pyedflib's EDF/BDF files, a 1-h
recording; the analysis path as a new user) and the defects session 10 left alone: one test per defect, each
failing before its fix."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from .conftest import open_all_rows


@pytest.fixture
def browser(window, recording, tmp_path, qtbot, monkeypatch):
    return open_all_rows(window, recording, tmp_path / "rec.bdf", qtbot, monkeypatch)


def _sensitivity(b) -> float:
    from mmqnet_core.recording import Modality

    return b.state.sensitivity(Modality.EEG) * 1e6  # V/mm -> µV/mm


# --- session 10's left-alone defects ------------------------------------------------------------------------------
def test_sensitivity_set_by_the_user_stays_when_a_dock_changes_the_rows_height(window, browser, qtbot):
    """7 µV/mm typed in the toolbar became 10.3 µV/mm when the analysis dock opened under the browser (the scales
    were amplitudes per row, and the rows got lower): the µV/mm is now what stays, as in EDFbrowser."""
    browser.set_sensitivity(7.0)
    qtbot.wait(50)
    assert _sensitivity(browser) == pytest.approx(7.0, rel=1e-6)
    row_px = browser.state.row_px
    window.log_dock.show()
    window.resizeDocks([window.log_dock], [420], Qt.Orientation.Vertical)  # the analysis dock, taller
    qtbot.waitUntil(lambda: abs(browser.state.row_px - row_px) > 2, timeout=3000)
    qtbot.wait(300)  # the resize settles and the page is drawn again
    assert _sensitivity(browser) == pytest.approx(7.0, rel=1e-6)
    assert "7 \u00b5V/mm" in browser.calibration_text()
    window.resize(1200, 640)  # a smaller window: the same
    qtbot.waitUntil(lambda: abs(browser.state.row_px - row_px) > 6, timeout=3000)
    assert _sensitivity(browser) == pytest.approx(7.0, rel=1e-6)
    # The drawn trace follows: a row's scale is its sensitivity times its height in mm.
    mm = browser.state.row_px / browser.state.px_per_mm
    assert browser.state.scale("EEG") == pytest.approx(7e-6 * mm, rel=1e-6)


@pytest.fixture
def analysed_clock(window, tmp_path, qtbot, tiny_model):
    """The test recording started at 14:00:05 (a start time, so T can switch to clock time), analysed."""
    import datetime as dt

    from .conftest import make_recording, wait_analysis

    rec = make_recording()
    rec.raw.set_meas_date(dt.datetime(2024, 3, 1, 14, 0, 5, tzinfo=dt.timezone.utc))
    window.set_recording(rec, tmp_path / "rec.bdf")
    window.use_model(tiny_model)
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    return window


def _views_time_axes(win) -> dict[str, object]:
    tv, av, rv = win.trajectory_view, win.attention_view, win.reconstruction_view
    plots = {"trajectory entropy": tv.entropy_plot, "spectrogram track": tv.spectrogram_plot, "attention": av.plot,
             "occlusion": av.occ_plot, "reconstruction feature": rv.feature_plot,
             "reconstruction waveform": rv.wave_plot}
    return {name: plot.getAxis("bottom") for name, plot in plots.items()}


def test_analysis_views_follow_the_browsers_clock_time(analysed_clock, qtbot):
    """T switched the browser's axis to clock time, but the trajectory, attention, occlusion and reconstruction
    views kept reading "time from start": a time read in a view (14:00:35) could not be found in the browser."""
    win = analysed_clock
    axes = _views_time_axes(win)
    browser = win.browser
    browser.state.set_clock_time(True)
    qtbot.wait(20)
    assert browser.state.clock_time
    for name, axis in axes.items():
        levels = axis.tickValues(20.0, 40.0, 600)
        values = [v for _, vs in levels for v in vs]
        strings = axis.tickStrings(values, 1.0, levels[0][0])
        assert "14:00:35" in strings, (name, strings)  # clock time, on whole clock seconds
        assert "00:30" not in strings, (name, strings)
    assert win.trajectory_view.entropy_plot.getAxis("bottom").labelText.startswith("clock time")
    assert win.attention_view.plot.getAxis("bottom").labelText.startswith("clock time")
    bar = win.circumplex_view.colour_bar.axis
    assert any(text.startswith("14:00:") for _, text in bar._tickLevels[0]), bar._tickLevels
    browser.state.set_clock_time(False)  # and back
    for name, axis in axes.items():
        levels = axis.tickValues(20.0, 40.0, 600)
        strings = axis.tickStrings([v for _, vs in levels for v in vs], 1.0, levels[0][0])
        assert "00:30" in strings and not any(s.startswith("14:") for s in strings), (name, strings)
    assert win.attention_view.plot.getAxis("bottom").labelText == "time from start (h:mm:ss)"
