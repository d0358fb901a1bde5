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
    assert win.attention_view.occ_plot.getAxis("bottom").labelText.startswith("clock time")
    bar = win.circumplex_view.colour_bar.axis
    assert any(text.startswith("14:00:") for _, text in bar._tickLevels[0]), bar._tickLevels
    browser.state.set_clock_time(False)  # and back
    for name, axis in axes.items():
        levels = axis.tickValues(20.0, 40.0, 600)
        strings = axis.tickStrings([v for _, vs in levels for v in vs], 1.0, levels[0][0])
        assert "00:30" in strings and not any(s.startswith("14:") for s in strings), (name, strings)
    assert win.attention_view.occ_plot.getAxis("bottom").labelText == "time from start ([h:]mm:ss)"


@pytest.mark.parametrize("dialog", ["simulate", "about", "preferences"])
def test_window_shortcuts_work_after_a_modal_dialog_closes(window, browser, qtbot, dialog, monkeypatch):
    """With no window manager (Xvfb, a bare X session) nothing activated the main window again after a modal
    dialog closed: F5, Ctrl+G, A ... (window shortcuts) did nothing until the window was clicked."""
    from PySide6.QtCore import QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

    monkeypatch.setattr(QMessageBox, "exec", QDialog.exec)  # a real modal message box (the fixture records them)
    window.activateWindow()
    browser.setFocus()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=1000)
    layer = browser.annotation_layer

    def close_dialog():
        for w in QApplication.topLevelWidgets():
            if isinstance(w, QDialog) and w.isVisible():
                w.reject()

    QTimer.singleShot(200, close_dialog)
    {"simulate": window.ask_simulate_missing, "about": window.show_about,
     "preferences": window.ask_preferences}[dialog]()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=1000)
    QTest.keyClick(window.windowHandle(), Qt.Key.Key_A)  # a window shortcut: annotate mode
    qtbot.wait(30)
    assert layer.annotate_mode
    assert QApplication.focusWidget() is browser  # the keys go where they went before the dialog


def _seven_modalities():
    """SYNTHETIC: 4 EEG channels and one channel of each of six other modalities (the sample's seven)."""
    import mne

    from mmqnet_core.recording import ChannelInfo, Modality, Recording

    from .conftest import SFREQ

    rng = np.random.default_rng(3)
    t = np.arange(int(60 * SFREQ)) / SFREQ
    mods = [Modality.EEG] * 4 + [Modality.EOG, Modality.EMG, Modality.GSR, Modality.RESP, Modality.PPG,
                                 Modality.TEMP]
    names = ["Fp1", "Fz", "Cz", "Pz", "hEOG", "zEMG", "GSR", "Resp", "PPG", "Temp"]
    data = np.vstack([1e-5 * np.sin(2 * np.pi * (1 + i) * t) + 1e-6 * rng.standard_normal(t.size)
                      for i in range(len(names))])
    raw = mne.io.RawArray(data, mne.create_info(names, SFREQ, ["eeg"] * 4 + ["misc"] * 6), verbose=False)
    channels = tuple(ChannelInfo(n, m, SFREQ, "V") for n, m in zip(names, mods))
    return Recording(raw=raw, channels=channels, is_synthetic=True)


def _analysed_attention_view(window, qtbot, tmp_path, monkeypatch):
    """An attention view of the window after an analysis (untrained model) of :func:`_seven_modalities`."""
    from app.analysis import build_untrained_model
    from app.attention_map_view import AttentionMapView

    from .conftest import wait_analysis

    rec = _seven_modalities()
    model = build_untrained_model(rec, span_s=20.0, n_windows=4)
    open_all_rows(window, rec, tmp_path / "seven.bdf", qtbot, monkeypatch)
    window.use_model(model)
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    view = AttentionMapView(window.model)
    qtbot.addWidget(view)
    return view


def test_every_occlusion_row_is_named_in_a_short_attention_view(window, qtbot, tmp_path, monkeypatch):
    """In a short attention dock the occlusion map was squeezed to 70 px and its rows thinned out: of the
    sample's 7 modalities only EEG, EMG, RESP and TEMP were named, the others were unnamed coloured rows."""
    import torch

    from app.attention_map_view import GRAPHICS_MIN_PX

    torch.set_num_threads(1)
    view = _analysed_attention_view(window, qtbot, tmp_path, monkeypatch)
    view.resize(900, 200)  # as short as its dock lets it be
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(100)
    assert view.graphics.height() <= GRAPHICS_MIN_PX + 10
    rows = view.occ_rows
    assert len(rows) == 7
    named = [text for _, text in view.occ_plot.getAxis("left")._tickLevels[0]]
    assert named == rows  # every unit named, none skipped
    assert len(view.occ_plot.getAxis("right")._tickLevels[0]) == len(rows)  # and its mean |Δ|
    # The attention map keeps rows to read: its time labels are under the occlusion map (one time axis).
    assert view.plot.getViewBox().height() >= 40
    assert not view.plot.getAxis("bottom").style["showValues"] and view.occ_plot.getAxis("bottom").style["showValues"]


# --- the analysis path as a new user -----------------------------------------------------------------------------
def _drawn_texts(axis) -> list[str]:
    """The tick labels ``axis`` draws (pyqtgraph leaves out those that do not fit its rectangle)."""
    from PySide6.QtGui import QImage, QPainter

    img = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(img)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [text for _, _, text in specs[2]] if specs else []


def test_circumplex_colour_bar_reads_clock_times(analysed_clock, qtbot):
    """After T the circumplex's time bar had its ticks but no times: "00:01:00" did not fit the axis' width kept
    from "1:00", and pyqtgraph dropped every label; its title still said h:mm:ss from the start."""
    from app.circumplex_view import CircumplexView
    from app.plot_helpers import follow_clock

    win = analysed_clock
    win.browser.state.set_clock_time(True)
    view = CircumplexView(win.model)
    qtbot.addWidget(view)
    follow_clock(view, win.browser.state)
    view.resize(900, 400)
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(50)
    axis = view.colour_bar.axis
    wanted = [text for _, text in axis._tickLevels[0]]
    assert wanted and all(text.startswith("14:0") for text in wanted), wanted
    assert _drawn_texts(axis) == wanted  # every time drawn
    assert "clock time" in view.colour_bar.getAxis("left").labelText  # its title, once
    assert not axis.labelText  # not a second title beside the times
    win.circumplex_view  # the window's own view follows too
    assert win.circumplex_view.colour_bar.axis._tickLevels[0][0][1].startswith("14:0")


def test_attention_colour_bar_titles_fit_their_bars(window, qtbot, tmp_path, monkeypatch):
    """In a short attention dock the two colour bars' titles, "attention share" and "ΔP(high valence)", written
    along bars ~50 px high, ran into each other: each bar now shows the longest form of its title that fits."""
    from PySide6.QtGui import QFontMetrics

    view = _analysed_attention_view(window, qtbot, tmp_path, monkeypatch)
    for height in (200, 700):
        view.resize(900, height)
        view.show()
        qtbot.waitExposed(view)
        qtbot.wait(100)
        for bar, full in ((view.colour_bar, "attention share"), (view.occ_bar, "ΔP(high valence)")):
            axis = bar.getAxis("left")
            room = bar.getViewBox().height()
            assert QFontMetrics(axis.label.font()).horizontalAdvance(axis.labelText) <= room, (height, axis.labelText)
            assert axis.toolTip() == full
        if height == 700:  # room enough for the attention map's whole title
            assert view.colour_bar.getAxis("left").labelText == "attention share"
        assert view.occ_bar.getAxis("left").labelText.startswith("ΔP")  # the occlusion bar's is never empty


def test_exported_views_read_clock_time_like_the_window(analysed_clock, monkeypatch):
    """File > Export analysis views renders a view whose dock is closed (or too small) from a fresh copy: the copy
    read time from the start while the window's views and browser showed clock time."""
    import app.view_export as view_export

    win = analysed_clock
    win.browser.state.set_clock_time(True)
    rendered = []
    real = view_export.view_image
    monkeypatch.setattr(view_export, "view_image", lambda w: (rendered.append(w), real(w))[1])
    win.render_view("attention", size=(900, 500))  # a size: always a copy
    copy = rendered[-1]
    assert copy is not win.attention_view
    axis = copy.occ_plot.getAxis("bottom")
    levels = axis.tickValues(20.0, 40.0, 600)
    strings = axis.tickStrings([v for _, vs in levels for v in vs], 1.0, levels[0][0])
    assert "14:00:35" in strings, strings
    assert axis.labelText.startswith("clock time")


def test_reconstruction_caption_gives_the_mask_in_clock_time(window, tmp_path, qtbot, tiny_model):
    """The reconstruction view's caption named the focused mask "mask 00:10.0-00:20.0" under a clock-time axis."""
    import datetime as dt

    from .conftest import make_recording, wait_analysis

    rec = make_recording()
    rec.raw.set_meas_date(dt.datetime(2024, 3, 1, 14, 0, 5, tzinfo=dt.timezone.utc))
    window.set_recording(rec, tmp_path / "rec.bdf")
    window.model.add_segment(10.0, 20.0, ["Fz"])
    window.use_model(tiny_model)
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    window.browser.state.set_clock_time(True)
    view = window.reconstruction_view
    window.model.focus_segment(0, "Fz")
    assert "mask 14:00:15.0-14:00:25.0" in view.info.text(), view.info.text()
    window.browser.state.set_clock_time(False)
    assert "mask 00:10.0-00:20.0" in view.info.text(), view.info.text()


def test_view_and_results_folder_dialogs_start_in_the_recordings_folder(window, browser, monkeypatch, tmp_path):
    """Export analysis views and Save analysis folder opened their folder dialog in the working directory (the
    other exports start beside the recording)."""
    from PySide6.QtWidgets import QFileDialog

    asked = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a: (asked.append(a), "")[1]))
    window.ask_export_views()
    window.ask_save_analysis()
    assert [a[2] for a in asked] == [str(tmp_path), str(tmp_path)]


def test_circumplex_draws_one_symbol_per_colour_level_and_clock_time_leaves_the_points(window, tmp_path, qtbot,
                                                                                        tiny_model, monkeypatch):
    """The circumplex gave every window its own brush, and pyqtgraph renders a symbol per brush: the 4-min sample
    froze the window 0.2-0.45 s when the analysis finished and again at each T (which redrew the points); an hour
    is 3,600 symbols. Now the points share TIME_COLOUR_LEVELS brushes and T only changes the time bar."""
    import datetime as dt

    from app.circumplex_view import TIME_COLOUR_LEVELS

    from .conftest import make_recording, wait_analysis

    rec = make_recording(duration_s=200.0)
    rec.raw.set_meas_date(dt.datetime(2024, 3, 1, 14, 0, 5, tzinfo=dt.timezone.utc))
    window.set_recording(rec, tmp_path / "long.bdf")
    window.use_model(tiny_model)
    window.run_action.trigger()
    wait_analysis(qtbot, window, timeout=60000)
    view = window.circumplex_view
    brushes = view.points.data["brush"]
    assert len(brushes) > 2 * TIME_COLOUR_LEVELS
    assert len({id(b) for b in brushes}) <= TIME_COLOUR_LEVELS
    first, last = brushes[0].color().name(), brushes[-1].color().name()
    assert first != last  # still coloured by time, start to end
    redrawn = []
    monkeypatch.setattr(view.points, "setData", lambda *a, **k: redrawn.append(k))
    window.browser.state.set_clock_time(True)
    assert not redrawn
    assert view.colour_bar.axis._tickLevels[0][0][1].startswith("14:0")


def test_progress_text_is_not_cut_when_the_status_bar_has_room(window, browser, qtbot):
    """At 1600 px the progress bar stayed 150 px wide beside an empty status bar and read "Fitting the cleani...
    8 %"; it now widens to its step's text (up to PROGRESS_MAX_PX)."""
    from app.main_window import PROGRESS_MAX_PX

    window.resize(1200, 800)  # the status bar full: the page label is long, the bar got its minimum
    window._on_busy(True)
    qtbot.wait(50)
    window._on_progress("Cleaning rec.bdf", 0.08, "fitting the cleaning (10 blocks)")
    qtbot.wait(50)
    assert window.progress_bar.format() == "fitting the cleaning (10 blocks) 8 %"
    assert window.progress_bar.width() <= PROGRESS_MAX_PX
    window._on_progress("Cleaning rec.bdf", 0.5, "a step far too long to be shown whole in the status bar at all")
    assert "\u2026" in window.progress_bar.format() and window.progress_bar.format().endswith("50 %")
    window._on_busy(False)


def test_an_analysis_refused_for_lack_of_eeg_does_not_ask_for_another_file(window, qtbot, tmp_path, monkeypatch,
                                                                           dialogs):
    """F5 on pyedflib's test_generator.bdf (no EEG channel): under "...has no EEG channel...; set their modality"
    the dialog said "MMQ-Net Studio reads EDF/EDF+/BDF/BDF+ files ...: choose one of those, or a complete copy of
    this file, then open it again" -- about a file that had been read fine."""
    from mmqnet_core.recording import ChannelInfo, Modality, Recording

    from .conftest import make_recording

    rec = make_recording()
    rec = Recording(raw=rec.raw, channels=tuple(ChannelInfo(c.name, Modality.MISC, c.sfreq, c.unit)
                                                for c in rec.channels), is_synthetic=True)
    open_all_rows(window, rec, tmp_path / "no_eeg.bdf", qtbot, monkeypatch)
    window.run_action.trigger()
    qtbot.waitUntil(lambda: bool(dialogs) and not window.runner.busy, timeout=30000)
    shown = dialogs[-1]
    assert "no EEG channel" in shown["text"]
    assert "complete copy" not in shown["informative"] and "open it again" not in shown["informative"]
    assert "Modality column" in shown["informative"] and "(F5)" in shown["informative"]
