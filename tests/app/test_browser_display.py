"""What the browser draws for a reader: names, time axis, legend, clipping, scale bar, calibration, montages,
display filters, measurement; and the window's shortcuts and focus."""

import datetime as dt
import os
import time

import mne
import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QAction, QKeySequence

from mmqnet_core.montage import electrode_key, montage_from_text
from mmqnet_core.preprocessing.display_filter import DisplayFilter
from mmqnet_core.recording import ChannelInfo, Modality, Recording

from .conftest import open_all_rows, wait_loaded

SFREQ = 128.0
EEG_1020 = ("Fp1", "F7", "T7", "P7", "O1", "Fp2", "F8", "T8", "P8", "O2", "F3", "C3", "P3", "F4", "C4", "P4",
            "Fz", "Cz", "Pz", "A1", "A2")
LONG_NAME = "a channel with a very long name that no gutter can hold in full"


def make_1020_recording(duration_s: float = 60.0) -> Recording:
    """SYNTHETIC 10-20 EEG (each electrode its own sine + a common 10 Hz), respiration, a 15 Hz sine, GSR."""
    n = int(duration_s * SFREQ)
    t = np.arange(n) / SFREQ
    common = 10e-6 * np.sin(2 * np.pi * 10 * t)
    eeg = [common + (5 + i) * 1e-6 * np.sin(2 * np.pi * (1 + 0.5 * i) * t) for i in range(len(EEG_1020))]
    names = list(EEG_1020) + ["Respiration", "sine 15 Hz", "GSR", LONG_NAME]
    data = np.vstack(eeg + [np.sin(2 * np.pi * 0.25 * t), np.sin(2 * np.pi * 15 * t),
                            5.0 + 2.0 * np.sin(2 * np.pi * 0.01 * t), np.sin(2 * np.pi * 1 * t)])
    mods = [Modality.EEG] * len(EEG_1020) + [Modality.RESP, Modality.MISC, Modality.GSR, Modality.MISC]
    info = mne.create_info(names, SFREQ, ["eeg"] * len(EEG_1020) + ["misc"] * 4)
    raw = mne.io.RawArray(data, info, verbose=False)
    raw.set_meas_date(dt.datetime(2024, 3, 1, 14, 0, 0, tzinfo=dt.timezone.utc))
    channels = tuple(ChannelInfo(nm, m, SFREQ, "V" if m == Modality.EEG else ("uS" if m == Modality.GSR else ""))
                     for nm, m in zip(names, mods))
    return Recording(raw=raw, channels=channels, is_synthetic=True)


@pytest.fixture
def rec1020() -> Recording:
    return make_1020_recording()


@pytest.fixture
def browser(window, rec1020, tmp_path, qtbot, monkeypatch):
    return open_all_rows(window, rec1020, tmp_path / "synthetic_1020.bdf", qtbot, monkeypatch)


def drawn(browser, name):
    """(times, values in the row's unit) drawn on the page for one row, before decimation."""
    page = browser._raw.page  # the raw trace set's page as drawn (montage and display filter applied)
    return page, page.values[browser.row_of(name)]


def test_every_channel_name_is_drawn_and_the_gutter_widens(browser):
    axis = browser._axis
    rows = {n: browser.row_of(n) for n in ("Respiration", "sine 15 Hz", "Fp1")}
    for name, row in rows.items():
        assert axis.drawn_text(row) == name  # drawn whole: the gutter widened to the longest short name
    long_row = browser.row_of(LONG_NAME)
    assert axis.drawn_text(long_row).endswith("\u2026") and len(axis.drawn_text(long_row)) < len(LONG_NAME)
    assert axis.width() <= 180  # the gutter's limit


def test_time_axis_is_hh_mm_ss_and_never_kiloseconds(window, tmp_path, qtbot, monkeypatch):
    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    window.set_recording(make_1020_recording(3100.0), tmp_path / "long.bdf")
    wait_loaded(qtbot, window)
    b = window.browser
    b.set_page_length(60.0)
    b.set_start(3000.0)
    axis = b.plot.getAxis("bottom")
    assert axis.autoSIPrefixScale == 1.0 and "ks" not in axis.labelString()
    assert axis.tickStrings([3000.0, 3030.0], 1.0, 30.0) == ["50:00", "50:30"]
    qtbot.keyClick(b, Qt.Key.Key_T)  # clock time from the recording's start (14:00:00)
    assert b.state.clock_time
    assert axis.tickStrings([3000.0], 1.0, 30.0) == ["14:50:00"]
    assert "clock time" in axis.labelString()
    assert "14:50:00" in window.page_label.text()


def test_legend_names_raw_and_the_cleaned_model_input(browser):
    assert "raw" in browser.legend_text() and "cleaned" not in browser.legend_text()
    browser.set_mode("both")  # cleaning never ran here: raw only, said in the status
    assert "not ready" in browser.status


def test_slow_signals_stay_in_their_row_unless_clipping_is_off(browser, qtbot):
    browser.change_scale(8.0, Modality.GSR)  # GSR 8x larger: it would cross its neighbours' rows
    row = browser.row_of("GSR")
    _, y = browser.curves("GSR")[0].getData()
    assert np.nanmax(np.abs(y - row)) <= 0.5 + 1e-9
    qtbot.keyClick(browser, Qt.Key.Key_K)
    assert not browser.state.clip
    _, y = browser.curves("GSR")[0].getData()
    assert np.nanmax(np.abs(y - row)) > 1.0


def test_scale_bar_and_sensitivity_match_the_scale(window, browser):
    browser.state.set_px_per_mm(4.0)
    browser.set_sensitivity(7.0)  # µV/mm for the top row's modality (EEG)
    assert browser.state.sensitivity(Modality.EEG) * 1e6 == pytest.approx(7.0)
    assert browser.calibration_text().startswith("EEG 7 \u00b5V/mm")
    assert window.browser_controls.sens_combo.currentText() == "7"
    value = float(browser.scale_bar_text.split()[0])
    assert browser.scale_bar_text.endswith("\u00b5V")
    x, y = browser._scale_bar.getData()
    assert abs(y[1] - y[0]) * browser.scale(Modality.EEG) * 1e6 == pytest.approx(value)
    browser.set_timebase(30.0)
    assert browser.state.timebase_mm_s == pytest.approx(30.0)
    assert browser.page_s == pytest.approx(browser.view_box().width() / 4.0 / 30.0)


def test_selected_channels_get_their_own_gain(window, browser, qtbot):
    browser.state.set_clip(False)
    fz0 = np.ptp(browser.curves("Fz")[0].getData()[1])
    cz0 = np.ptp(browser.curves("Cz")[0].getData()[1])
    window.model.set_selection(["Fz"])
    qtbot.keyClick(browser, Qt.Key.Key_BracketRight)
    assert np.ptp(browser.curves("Fz")[0].getData()[1]) == pytest.approx(fz0 * np.sqrt(2), rel=1e-6)
    assert np.ptp(browser.curves("Cz")[0].getData()[1]) == pytest.approx(cz0, rel=1e-6)
    qtbot.keyClick(browser, Qt.Key.Key_Backslash)
    assert browser.state.gains == {}


def test_bipolar_montage_draws_differences_and_leaves_the_model_input_alone(window, browser, qtbot, rec1020):
    qtbot.keyClick(browser, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)  # double banana
    names = browser.visible_channels
    assert names[:4] == ["Fp1-F7", "F7-T7", "T7-P7", "P7-O1"] and "Fz-Cz" in names
    assert names[-4:] == ["Respiration", "sine 15 Hz", "GSR", LONG_NAME]  # other modalities as recorded
    page, values = drawn(browser, "Fp1-F7")
    data = rec1020.get_data(0.0, 10.0, picks=[rec1020.index("Fp1"), rec1020.index("F7")])
    np.testing.assert_allclose(values, data[0] - data[1])
    assert "Bipolar longitudinal" in browser.display_summary() and "model input unchanged" in browser.display_summary()
    assert "Bipolar longitudinal" in window.browser_controls.display_label.text()
    assert window.model.recording is rec1020  # the model reads the recording as it was
    # A mask on F7 is drawn on every row that uses F7.
    window.model.toggle_channel_mask("F7")
    tops = sorted(r.top() + 0.5 for r in browser.shown_mask_rects())
    assert tops == [browser.row_of("Fp1-F7"), browser.row_of("F7-T7")]


def test_average_and_linked_ears_references(browser, rec1020, qtbot):
    qtbot.keyClick(browser, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    _, values = drawn(browser, "Fz-avg")
    eeg = rec1020.get_data(0.0, 10.0, picks=[rec1020.index(n) for n in EEG_1020])
    np.testing.assert_allclose(values, eeg[EEG_1020.index("Fz")] - eeg.mean(axis=0), atol=1e-12)
    qtbot.keyClick(browser, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert "Cz-A1A2" in browser.visible_channels and "A1-A1A2" not in browser.visible_channels
    qtbot.keyClick(browser, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert browser.visible_channels[0] == "Fp1" and browser.display_summary() == ""


def test_custom_montage_is_saved_as_json_and_read_by_the_next_window(window, browser, settings_file):
    controls = window.browser_controls
    controls.add_montage(montage_from_text("Temporal chain", "T7 - P7\nT8 - P8\n# comment\nCz"))
    assert browser.visible_channels[:3] == ["T7-P7", "T8-P8", "Cz"]
    saved = (settings_file.parent / "montages.json").read_text()
    assert '"T7 - P7"' in saved
    from PySide6.QtCore import QSettings
    from app.browser_controls import BrowserControls

    again = BrowserControls(browser, QSettings(str(settings_file), QSettings.Format.IniFormat), window)
    assert [m.name for m in again.user_montages] == ["Temporal chain"]


def test_display_filter_acts_on_the_drawn_page_only(window, browser, rec1020):
    window.browser_controls.set_filters({Modality.MISC: DisplayFilter(lowpass_hz=5.0)})
    browser.set_start(20.0)  # padding on both sides (the file's first page has none before it)
    page, values = drawn(browser, "sine 15 Hz")
    assert np.ptp(values) < 0.05  # the 15 Hz sine (peak-to-peak 2) is gone from the drawn page
    raw = rec1020.get_data(20.0, 30.0, picks=[rec1020.index("sine 15 Hz")])[0]
    assert np.ptp(raw) > 1.9  # the recording is untouched
    assert "display filter: MISC LP 5 Hz" in browser.display_summary()
    assert "display filter" in browser.legend_text()
    _, eeg = drawn(browser, "Fz")
    np.testing.assert_allclose(eeg, rec1020.get_data(20.0, 30.0, picks=[rec1020.index("Fz")])[0])  # not EEG
    browser.toggle_filters()
    _, values = drawn(browser, "sine 15 Hz")
    assert np.ptp(values) > 1.9


def test_display_filter_has_no_edge_transient_thanks_to_the_padding(window, browser, rec1020):
    window.browser_controls.set_filters({Modality.EEG: DisplayFilter(highpass_hz=5.0)})
    browser.set_start(20.0)
    _, values = drawn(browser, "Fz")
    t = 20.0 + np.arange(values.size) / SFREQ
    # Fz = 10 uV at 10 Hz (kept) + 21 uV at 9.5 Hz (kept) -- compare with the same filter over the whole file.
    from mmqnet_core.preprocessing.display_filter import filter_rows

    whole = filter_rows(rec1020.get_data(picks=[rec1020.index("Fz")]), SFREQ, [DisplayFilter(highpass_hz=5.0)])[0]
    np.testing.assert_allclose(values, whole[int(20 * SFREQ):int(20 * SFREQ) + values.size], atol=0.2e-6)
    assert t[0] == pytest.approx(20.0)


def test_measurement_cursors_give_dt_frequency_and_amplitude(browser, qtbot):
    row = browser.row_of("sine 15 Hz")
    browser.set_measure(1.0, 1.5, row)
    page, values = drawn(browser, "sine 15 Hz")
    a, b = values[int(1.0 * SFREQ)], values[int(1.5 * SFREQ)]
    assert "\u0394t 0.500 s (2 Hz)" in browser.readout
    assert f"\u0394sine 15 Hz {b - a:.4g} a.u." in browser.readout
    qtbot.keyClick(browser, Qt.Key.Key_Q)
    assert not browser.measuring
    qtbot.keyClick(browser, Qt.Key.Key_Q)
    assert browser.measuring


def test_crosshair_reads_time_and_value_under_the_mouse(window, browser):
    row = browser.row_of("Cz")
    scene = browser.view_box().mapViewToScene(QPointF(2.0, row))
    browser._on_mouse_moved(scene)
    assert "Cz" in browser.readout and "\u00b5V" in browser.readout and "00:02" in browser.readout
    label = browser.readout_label
    assert label.isVisible() and label.isEnabled() and label.text() == browser.readout
    # The read-out is a strip of its own under the plot: it covers no trace and no annotation label.
    assert not browser.plot_widget.isAncestorOf(label)
    assert not label.geometry().intersects(browser.plot_widget.geometry())
    assert label.geometry().top() >= browser.plot_widget.geometry().bottom()
    browser._hover = None  # the mouse left the traces: the strip keeps its place and shows the (greyed) hint
    browser._update_readout()
    assert browser.readout == "" and label.isVisible() and not label.isEnabled() and label.text()


def test_no_window_shortcut_is_ambiguous_and_redo_has_ctrl_y(window):
    keys = [k.toString() for a in window.findChildren(QAction) for k in a.shortcuts() if not k.isEmpty()]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    redo = [k.toString() for k in window.redo_action.shortcuts()]
    assert redo[:2] == ["Ctrl+Y", "Ctrl+Shift+Z"]
    browser_keys = {QKeySequence(k).toString() for b in __import__("app.key_bindings").key_bindings.browser_bindings()
                    for k in b.keys}
    # The browser's own keys never collide with a window shortcut (the window's keys, Ctrl+G included, are the
    # key table's rows with an action: bound once, by the window).
    assert browser_keys & set(keys) == set()


def test_toolbar_controls_hand_the_focus_back_to_the_browser(window, browser, qtbot):
    combo = window.page_combo
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus)
    combo.activated.emit(2)
    assert browser.hasFocus()
    montage = window.browser_controls.montage_combo
    montage.setFocus()
    montage.activated.emit(3)
    assert browser.hasFocus() and browser.visible_channels[0] == "Fp1-F7"


def test_electrode_names_match_old_and_new_10_20_names():
    assert electrode_key("EEG FP1-REF") == "fp1" and electrode_key("T3") == "t7" == electrode_key("T7")


def test_calibration_dialog_scales_pixels_per_mm_by_the_measured_length(window, qtbot):
    from app.browser_dialogs import CalibrationDialog

    dialog = CalibrationDialog(4.0, None, window)
    qtbot.addWidget(dialog)
    dialog.measured.setValue(80.0)  # the "100 mm" bar measured 80 mm: the screen has more pixels per mm
    assert dialog.px_per_mm() == pytest.approx(5.0)
    window.browser_controls.set_px_per_mm(dialog.px_per_mm())
    assert window.browser.state.px_per_mm == 5.0
    assert float(window.settings.value("browser/px_per_mm")) == 5.0


def test_filter_dialog_presets_and_montage_editor_errors(window, qtbot):
    from app.browser_dialogs import DisplayFilterDialog, MontageEditor

    dialog = DisplayFilterDialog([Modality.EEG, Modality.GSR], {}, 256.0, 60.0, window)
    qtbot.addWidget(dialog)
    assert dialog.filters() == {}
    dialog.apply_presets(60.0)
    assert dialog.filters() == {Modality.EEG: DisplayFilter(0.5, 35.0, 60.0), Modality.GSR: DisplayFilter(None, 1.0)}
    hp, lp, _ = dialog.boxes[Modality.EEG]
    hp.setValue(40.0)
    dialog._accept()
    assert "must be below low-pass" in dialog.error_label.text() and dialog.result() == 0
    editor = MontageEditor(None, ["Fz", "Cz"], window)
    qtbot.addWidget(editor)
    editor.text_edit.setPlainText("Fz - Cz - Pz")
    editor._accept()
    assert "Invalid derivation" in editor.error_label.text()


def test_exported_page_names_montage_and_display_filters(window, browser, qtbot, tmp_path, dialogs):
    from PySide6.QtGui import QImage

    from app.browser_export import page_caption

    plain = page_caption(browser)
    assert "Montage: as recorded; no display filter" in plain[1]
    qtbot.keyClick(browser, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)  # double banana
    window.browser_controls.set_filters({Modality.EEG: DisplayFilter(0.5, 35.0, 50.0)})
    caption = page_caption(browser)
    assert "(SYNTHETIC)" in caption[0] and "page 00:00.0 to 00:10.0 (10 s): raw signals" in caption[0]
    assert "Montage: Bipolar longitudinal" in caption[1]
    assert "display filters EEG 0.5-35 Hz, notch 50 Hz" in caption[1]
    assert "the cleaned signal used by the model is neither re-referenced nor filtered" in caption[1]
    assert "mm/s" in caption[2]
    browser.set_measure(2.0, 3.0)  # the read-out is shown on screen, not in the exported page
    assert browser.readout and browser.readout_label.text() == browser.readout
    grabbed = []
    monkey_grab = browser.plot_widget.grab

    def grab():
        grabbed.append(browser.plot_widget)
        return monkey_grab()

    browser.plot_widget.grab = grab
    png = window.review.export_page(tmp_path / "page.png")
    # The exported image is the plot widget's, and the read-out strip is not inside it.
    assert grabbed == [browser.plot_widget] and not browser.plot_widget.isAncestorOf(browser.readout_label)
    image = QImage(str(png))
    plot_h = browser.plot_widget.height()
    assert image.width() >= browser.plot_widget.width() and image.height() > plot_h + 20  # caption above the plot
    top = {image.pixel(x, y) for x in range(0, image.width(), 3) for y in range(0, image.height() - plot_h, 2)}
    assert len(top) > 2  # the caption is drawn (text, not a blank strip)
    pdf = window.review.export_page(tmp_path / "page.pdf")
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000
    assert sorted(p.name for p in tmp_path.glob("page*")) == ["page.pdf", "page.png"]  # no temporary file left
    browser.toggle_filters()  # F: off, remembered
    assert "display filters off" in page_caption(browser)[1]
    assert not dialogs


def test_report_says_which_display_was_shown():
    from app.report import ReportInfo

    from .test_analysis_outputs import _painted_text

    info = ReportInfo(title="rec (SYNTHETIC)", synthetic_recording=True, model_description="m", model_label="",
                      stale=False, n_windows=10, window_s=1.0, means={"valence": 0.5}, masking="no masks",
                      hidden_fraction=0.0, display="montage: Bipolar longitudinal; display filter: EEG 0.5-35 Hz")
    painted = " ".join(_painted_text(info))
    assert "Signal display at export: montage: Bipolar longitudinal; display filter: EEG 0.5-35 Hz" in painted
    assert "the model read the cleaned signals" in painted
    from dataclasses import replace

    assert "Signal display" not in " ".join(_painted_text(replace(info, display="")))


def test_measure_button_follows_the_q_key_without_a_page_step(window, browser, qtbot):
    action = window.browser_controls.measure_action
    assert not action.isChecked()
    qtbot.keyClick(browser, Qt.Key.Key_Q)
    assert browser.measuring and action.isChecked()
    qtbot.keyClick(browser, Qt.Key.Key_Q)
    assert not browser.measuring and not action.isChecked()


def test_legend_names_the_top_rows_filter_and_counts_the_others(window, browser):
    window.browser_controls.set_filters({Modality.EEG: DisplayFilter(0.5, 35.0, 50.0),
                                         Modality.MISC: DisplayFilter(lowpass_hz=5.0),
                                         Modality.GSR: DisplayFilter(lowpass_hz=1.0)})
    assert browser.row_modality(browser.first_channel) == Modality.EEG
    assert "display filter: EEG 0.5-35 Hz, notch 50 Hz; +2 more" in browser.legend_text()
    assert "MISC" not in browser.legend_text()  # the whole list is in the status bar, not over the labels
    assert "MISC LP 5 Hz" in browser.display_summary()


def test_pages_of_one_filter_block_are_filtered_once_and_match_the_whole_file(window, browser, rec1020):
    from mmqnet_core.preprocessing.display_filter import filter_rows

    window.browser_controls.set_filters({Modality.EEG: DisplayFilter(highpass_hz=5.0, lowpass_hz=40.0)})
    whole = filter_rows(rec1020.get_data(picks=[rec1020.index("Fz")]), SFREQ,
                        [DisplayFilter(highpass_hz=5.0, lowpass_hz=40.0)], ends=(True, True))[0]  # a recording
    plan = browser._page_plan("raw")
    for start in (30.0, 40.0, 50.0):  # one block of three pages (30-60 s)
        browser.set_start(start)
        _, values = drawn(browser, "Fz")
        k = int(start * SFREQ)
        np.testing.assert_allclose(values, whole[k:k + values.size], atol=0.2e-6)
    assert list(plan.blocks) == [(0.0, 30.0), (30.0, 60.0)][-len(plan.blocks):]  # the prefetch may hold 0-30 s
    assert (30.0, 60.0) in plan.blocks
    browser.set_start(42.5)  # not in step with the blocks: filtered alone, still right
    _, values = drawn(browser, "Fz")
    k = int(42.5 * SFREQ)
    np.testing.assert_allclose(values, whole[k:k + values.size], atol=0.2e-6)


def test_two_prefetching_threads_filter_a_block_once_with_the_same_pages(window, browser, monkeypatch):
    """Two threads preparing two pages of one filter block at once (the prefetcher has two): the block is read and
    filtered once, by the first; the second waits for it; both pages equal those of a plan used by one thread."""
    import dataclasses
    import threading
    from collections import OrderedDict

    import app.signal_browser as signal_browser

    assert browser.page_cache.threads == signal_browser.PREFETCH_THREADS == (2 if (os.cpu_count() or 1) > 1 else 1)
    window.browser_controls.set_filters({Modality.EEG: DisplayFilter(highpass_hz=5.0, lowpass_hz=40.0)})
    plan = browser._page_plan("raw")
    alone = dataclasses.replace(plan, blocks=OrderedDict(), pending={}, lock=threading.Lock())
    expected = {start: alone.compute(start, start + 10.0) for start in (30.0, 40.0)}
    plan = dataclasses.replace(plan, blocks=OrderedDict(), pending={}, lock=threading.Lock())
    real, calls, gate = signal_browser.filter_rows, [], threading.Event()

    def slow_filter(*args, **kwargs):
        calls.append(threading.current_thread().name)
        gate.wait(5)  # the other thread asks for the block while this one filters it
        return real(*args, **kwargs)

    monkeypatch.setattr(signal_browser, "filter_rows", slow_filter)
    pages: dict[float, object] = {}
    threads = [threading.Thread(target=lambda s=s: pages.__setitem__(s, plan.compute(s, s + 10.0)), name=f"t{s:g}")
               for s in (30.0, 40.0)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while not (calls and plan.pending) and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)  # the second thread reaches the block meanwhile
    gate.set()
    for thread in threads:
        thread.join(10)
    assert len(calls) == 1 and list(plan.blocks) == [(30.0, 60.0)] and not plan.pending
    for start, page in pages.items():
        np.testing.assert_array_equal(page.values, expected[start].values)
        np.testing.assert_array_equal(page.y, expected[start].y)


def test_a_failed_block_is_not_left_pending(window, browser, monkeypatch):
    """A block whose filtering failed raises in the thread that filtered it and is not left under way: the next
    page of that block filters it again."""
    import dataclasses
    import threading
    from collections import OrderedDict

    import app.signal_browser as signal_browser

    window.browser_controls.set_filters({Modality.EEG: DisplayFilter(highpass_hz=5.0, lowpass_hz=40.0)})
    plan = dataclasses.replace(browser._page_plan("raw"), blocks=OrderedDict(), pending={}, lock=threading.Lock())
    real = signal_browser.filter_rows

    def broken(*args, **kwargs):
        raise MemoryError("no room for the block")

    monkeypatch.setattr(signal_browser, "filter_rows", broken)
    with pytest.raises(MemoryError):
        plan.compute(30.0, 40.0)
    assert not plan.pending and not plan.blocks
    monkeypatch.setattr(signal_browser, "filter_rows", real)
    assert plan.compute(40.0, 50.0).values.shape[1] > 0 and list(plan.blocks) == [(30.0, 60.0)]


def test_new_montage_shows_a_neutral_hint_until_saved_or_typed_wrong(window, qtbot):
    """An empty new montage is not an error before the reader has typed or saved anything: a neutral hint; the
    error (in red) once something invalid is typed or the empty montage is saved."""
    from app.browser_dialogs import MontageEditor

    editor = MontageEditor(None, ["Fz", "Cz"], window)
    qtbot.addWidget(editor)
    editor.show()
    label = editor.error_label
    assert "no derivations" not in label.text() and label.text() == editor.EMPTY_HINT
    assert "#b71c1c" not in label.styleSheet() and not label.property("error")
    editor.text_edit.setPlainText("Fz - Cz - Pz")  # typed wrong: the error at once
    assert "Invalid derivation" in label.text() and label.property("error") and "#b71c1c" in label.styleSheet()
    editor.text_edit.setPlainText("Fz - Cz")
    assert label.text() == "" and not label.property("error")
    editor.text_edit.setPlainText("  # only a comment")
    assert label.text() == editor.EMPTY_HINT and not label.property("error")
    editor._accept()  # saving an empty montage: now it is an error
    assert "has no derivations" in label.text() and label.property("error") and editor.result() == 0


def test_one_channel_recording_opens_with_its_trace_inside_its_row(window, tmp_path, qtbot, monkeypatch):
    """A one-channel recording: its row is the whole plot, so the autoscale fits the trace inside it (opened at
    0.5 µV/mm before, its peaks cut at the plot's top and bottom); many rows keep their 1-99 % range."""
    from app.signal_browser import CLIP_ROWS

    n = int(60 * SFREQ)
    rng = np.random.default_rng(2)
    data = 20e-6 * rng.standard_normal((1, n)) + 8e-6 * np.sin(2 * np.pi * 3 * np.arange(n) / SFREQ)
    raw = mne.io.RawArray(data, mne.create_info(["Cz"], SFREQ, ["eeg"]), verbose=False)
    rec = Recording(raw=raw, channels=(ChannelInfo("Cz", Modality.EEG, SFREQ, "V"),), is_synthetic=True)
    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    window.set_recording(rec, tmp_path / "one.bdf")
    wait_loaded(qtbot, window)
    browser = window.browser
    browser.set_page_length(10.0)
    qtbot.wait(50)
    page = data[0, :int(10 * SFREQ)]
    scale = browser.scale(Modality.EEG)
    lo, hi = np.percentile(page, [1, 99])
    assert scale > (hi - lo) * 1.2  # wider than the 1-99 % range that many rows use
    deflection = np.abs(page - page.mean()) / scale
    assert np.mean(deflection >= CLIP_ROWS) <= 0.002  # at most the 0.1 % tails on each side reach the clip
    assert browser.state.sensitivity(Modality.EEG) * 1e6 > 0.5  # not the 0.5 µV/mm it opened at


def test_many_rows_keep_the_one_to_ninety_nine_percent_range(browser, rec1020):
    """With more rows than FIT_ROWS the autoscale is the median of the channels' 1-99 % ranges, as before."""
    from app.signal_browser import FIT_ROWS

    assert len(browser.visible_channels) > FIT_ROWS
    page = rec1020.get_data(0.0, 10.0)
    eeg = [i for i, c in enumerate(rec1020.channels) if c.modality == Modality.EEG]
    ranges = np.diff(np.percentile(page[eeg], [1, 99], axis=1), axis=0)[0]
    assert browser.scale(Modality.EEG) == pytest.approx(float(np.median(ranges)))


def test_legend_says_whether_the_cleaned_trace_is_the_model_input(window, recording, tmp_path, qtbot):
    """The cleaned trace is the model's input only while the display cleaning's settings equal the checkpoint's:
    a band-pass changed in Preferences cleans the display differently, and the legend must stop saying so."""
    import dataclasses

    window.set_recording(recording, tmp_path / "synthetic_rec.bdf")
    wait_loaded(qtbot, window, cleaned=True)
    browser = window.browser
    browser.set_mode("both")
    qtbot.waitUntil(lambda: "cleaned (model input)" in browser.legend_text(), timeout=5000)
    window.apply_preferences(dataclasses.replace(window.prefs, eeg_high_hz=30.0))
    qtbot.waitUntil(lambda: "not the model's" in browser.legend_text(), timeout=20000)
    assert "model input" not in browser.legend_text()
    window.apply_preferences(dataclasses.replace(window.prefs, eeg_high_hz=45.0))
    qtbot.waitUntil(lambda: "cleaned (model input)" in browser.legend_text(), timeout=20000)


@pytest.mark.parametrize("montage", ["bipolar_longitudinal", "bipolar_transverse", "average", "linked_ears",
                                     "custom"])
def test_montage_rows_are_those_of_subtracting_reference_by_reference(montage):
    """The montage plan writes each row once (anode - reference): bit-equal to copying the anodes and subtracting
    each distinct reference from its rows (the way it was computed before), missing samples included; a mean
    reference over channels read apart (not a contiguous run) too. An average reference (3+ channels) is the
    mean of the channels present where one is missing (session 13)."""
    from mmqnet_core.montage import AVERAGE_MIN_CHANNELS, BUILTIN, Derivation, plan
    from mmqnet_core.recording import Modality

    names = ["Fp1", "F7", "T7", "P7", "O1", "Fp2", "F8", "T8", "P8", "O2", "F3", "C3", "P3", "F4", "C4", "P4",
             "Fz", "Cz", "Pz", "A1", "A2", "ECG"]
    if montage == "custom":
        rows = [Derivation("Cz", ("A1", "Fz", "O2")), Derivation("Fp1", ("A1", "Fz", "O2")),
                Derivation("C3", ("P3",)), Derivation("ECG")]
    else:
        chosen = next(m for m in BUILTIN if m.kind == montage)
        rows = chosen.derive([(n, Modality.ECG if n == "ECG" else Modality.EEG) for n in names])
    p = plan(rows, names)
    assert len(p.references) >= 1
    rng = np.random.default_rng(3)
    data = rng.standard_normal((len(p.picks), 2000)) * 1e-4
    data[1, 10:20] = np.nan
    expected = data[list(p.anodes)]
    for cols, used_by in p.references:
        ref = data[cols[0]] if len(cols) == 1 else data[list(cols)].mean(axis=0)
        if len(cols) >= AVERAGE_MIN_CHANNELS and np.isnan(ref).any():
            gaps = np.isnan(ref)
            ref[gaps] = np.nanmean(data[list(cols)][:, gaps], axis=0)
        expected[list(used_by)] -= ref
    got = p.apply(data)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert np.array_equal(got, expected, equal_nan=True)


def test_scale_bar_values_read_without_an_exponent():
    from app.signal_browser import format_value

    assert format_value(5000.0, "\u00b5V") == "5000 \u00b5V"  # read "5e+03 µV"
    assert format_value(20.0, "\u00b5V") == "20 \u00b5V"
    assert format_value(0.5, "\u00b5S") == "0.5 \u00b5S"
    assert format_value(1.5, "a.u.") == "1.5 a.u."
    assert format_value(0.002, "") == "0.002"
    assert format_value(123.456, "bpm") == "123 bpm"
    assert format_value(2e9, "x") == "2e+09 x"
