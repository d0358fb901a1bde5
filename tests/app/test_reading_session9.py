"""Session 9's clinician walkthrough (Xvfb, 1600 and 1024 px; the sample, pyedflib's EDF/BDF files, a 24-h
recording, damaged files): one test per defect found, each failing before its fix."""

import datetime as dt

import mne
import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication, QComboBox, QDoubleSpinBox, QPlainTextEdit

from mmqnet_core.errors import CheckpointError
from mmqnet_core.montage import montage_from_text
from mmqnet_core.recording import ChannelInfo, Modality, Recording

from .conftest import open_all_rows, wait_loaded

SFREQ = 128.0
EEG_1020 = ("Fp1", "F7", "T7", "P7", "O1", "Fp2", "F8", "T8", "P8", "O2", "F3", "C3", "P3", "F4", "C4", "P4",
            "Fz", "Cz", "Pz")


def make_eeg_recording(duration_s: float = 60.0, flat: tuple[str, ...] = ()) -> Recording:
    """SYNTHETIC 10-20 EEG: each electrode a sine of 5-23 µV plus a common 10 Hz; ``flat`` channels all zero."""
    n = int(duration_s * SFREQ)
    t = np.arange(n) / SFREQ
    rows = [10e-6 * np.sin(2 * np.pi * 10 * t) + (5 + i) * 1e-6 * np.sin(2 * np.pi * (1 + 0.5 * i) * t)
            for i in range(len(EEG_1020))]
    names = list(EEG_1020) + list(flat)
    data = np.vstack(rows + [np.zeros(n)] * len(flat))
    raw = mne.io.RawArray(data, mne.create_info(names, SFREQ, "eeg"), verbose=False)
    raw.set_meas_date(dt.datetime(2024, 3, 1, 14, 0, 0, tzinfo=dt.timezone.utc))
    raw.set_annotations(mne.Annotations([70.5 - 60.0 + 40.0], [0.0], ["SYNTHETIC spike"]))
    channels = tuple(ChannelInfo(nm, Modality.EEG, SFREQ, "V") for nm in names)
    return Recording(raw=raw, channels=channels, is_synthetic=True)


@pytest.fixture
def eeg_browser(window, tmp_path, qtbot, monkeypatch):
    return open_all_rows(window, make_eeg_recording(), tmp_path / "synthetic_eeg.bdf", qtbot, monkeypatch)


# --- the browser -------------------------------------------------------------------------------------------------
def test_spectrum_under_a_bipolar_montage_reads_the_channels_of_its_derivations(window, eeg_browser, dialogs):
    """Ctrl+Shift+F in the double banana said "No channel named 'Fp1-F7'" with advice about file formats."""
    eeg_browser.set_montage_index(3)  # double banana: rows "Fp1-F7", ...
    assert "Fp1-F7" in eeg_browser.page_channels
    dialog = window.review.show_spectrum()
    assert dialogs == []
    assert dialog is not None and dialog.spectrum is not None
    chosen = dialog.selected_channels()
    assert chosen and set(chosen) <= set(EEG_1020)
    assert chosen[:2] == ["Fp1", "F7"]  # the first derivation's channels, in row order
    dialog.close()


def test_mouse_read_out_follows_a_page_step_and_a_montage_with_fewer_rows(window, eeg_browser, dialogs):
    """A still mouse kept its (time, row): after a page step it read the old time, after a custom montage with
    fewer rows another channel, then an IndexError ("Unexpected error", twice)."""
    row = eeg_browser.row_of("Pz")  # the bottom row
    eeg_browser._on_mouse_moved(eeg_browser.view_box().mapViewToScene(QPointF(2.0, row)))
    assert "00:02" in eeg_browser.readout and "Pz" in eeg_browser.readout
    eeg_browser.set_start(20.0)
    assert "00:22" in eeg_browser.readout and "Pz" in eeg_browser.readout
    window.browser_controls.add_montage(montage_from_text("Two rows", "Fp1 - F7\nCz - Pz"))
    assert eeg_browser.visible_channels == ["Fp1-F7", "Cz-Pz"]
    assert dialogs == []
    assert "Pz " not in eeg_browser.readout  # no channel of the old row named under the mouse


def test_a_flat_channel_does_not_set_its_modality_scale(window, tmp_path, qtbot, monkeypatch):
    """Flat EEG channels (a level stored in steps of ~1e-17, as an EDF gives zeros) beside live ones opened at
    4.7e-17 µV/mm: every live trace a clipped block."""
    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    rec = make_eeg_recording(flat=("flat1", "flat2", "flat3", "flat4", "flat5", "flat6", "flat7", "flat8", "flat9",
                                   "flat10", "flat11", "flat12", "flat13", "flat14", "flat15", "flat16", "flat17",
                                   "flat18", "flat19", "flat20"))
    data = rec.raw._data
    data[len(EEG_1020):] = 1e-23 * np.random.default_rng(0).standard_normal(data[len(EEG_1020):].shape)
    window.set_recording(rec, tmp_path / "flat.bdf")
    wait_loaded(qtbot, window)
    scale = window.browser.scale(Modality.EEG)  # V per row spacing
    # the live channels span 2 x (15-33) µV: their median range sets it, not the flat channels' 1e-22 V
    assert 20e-6 < scale < 80e-6


def test_event_list_reads_clock_time_when_the_axis_does(window, eeg_browser, qtbot):
    """T put the axis in clock time (14:00:50) while the event list still read 0:50.5 from the start."""
    events = window.review.event_list
    model = events.table_model
    row = next(i for i, e in enumerate(model.entries) if e.text == "SYNTHETIC spike")
    assert model.data(model.index(row, 0)) == "0:50.5"
    eeg_browser.toggle_clock_time()
    assert eeg_browser.state.clock_time
    assert model.data(model.index(row, 0)) == "14:00:50.5"
    assert "14:00:50.500" in model.data(model.index(row, 0), 3)  # the tooltip (ToolTipRole)
    text_px = events.table.fontMetrics().horizontalAdvance("14:00:50.5")
    assert events.table.columnWidth(0) >= text_px + 8  # not elided ("00:00:...")
    eeg_browser.toggle_clock_time()
    assert model.data(model.index(row, 0)) == "0:50.5"


def test_clock_time_rounds_into_the_next_second():
    from app.browser_state import format_clock

    start = dt.datetime(2000, 1, 1, 23, 59, 0)
    assert format_clock(59.97, start, decimals=1) == "00:00:00.0"  # read "23:59:59.0": a second early
    assert format_clock(12.25, start, decimals=1) == "23:59:12.2"


# --- dialogs -----------------------------------------------------------------------------------------------------
def test_display_filter_dialog_tabs_along_each_row_from_eeg_high_pass(qtbot):
    """Focus started on EEG's notch and Tab went down the Notch column before any Hz box."""
    from app.browser_dialogs import DisplayFilterDialog

    dialog = DisplayFilterDialog([Modality.EEG, Modality.EOG], {}, 256.0)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    owners: list = []  # the widgets Tab visits, in order (a spin box's line edit counted as its spin box)
    w = dialog.nextInFocusChain()
    while w is not dialog and len(owners) < 6:
        owner = w.parent() if isinstance(w.parent(), QDoubleSpinBox) else w
        tab = w.focusPolicy().value & Qt.FocusPolicy.TabFocus.value
        if tab and w.isVisible() and w.isEnabled() and (not owners or owners[-1] is not owner):
            owners.append(owner)
        w = w.nextInFocusChain()
    hp, lp, notch = dialog.boxes[Modality.EEG]
    hp2, lp2, notch2 = dialog.boxes[Modality.EOG]
    assert owners == [hp, lp, notch, hp2, lp2, notch2]
    assert isinstance(owners[2], QComboBox)


def test_montage_editor_tab_leaves_the_text_and_absent_channels_are_said(qtbot):
    """Tab typed a tab into the derivations (Save unreachable by keyboard); 'Xx - Yy' was saved without a word
    and silently not drawn."""
    from app.browser_dialogs import MontageEditor

    dialog = MontageEditor(None, list(EEG_1020))
    qtbot.addWidget(dialog)
    assert isinstance(dialog.text_edit, QPlainTextEdit) and dialog.text_edit.tabChangesFocus()
    dialog.text_edit.setPlainText("Fp1 - F7\nXx - Yy")
    assert "Xx-Yy" in dialog.error_label.text() and "not drawn" in dialog.error_label.text()
    assert dialog.error_label.property("error") is False  # a note: the montage may serve other recordings
    dialog.text_edit.setPlainText("Fp1 - F7")
    assert dialog.error_label.text() == ""


# --- analysis side ------------------------------------------------------------------------------------------------
def test_checkpoint_error_gives_its_advice_once():
    """'...: set one in Preferences (Edit > Preferences > Model checkpoint).' was followed by 'Choose a checkpoint
    trained with MMQ-Net Studio in Edit > Preferences.'"""
    from app.analysis import resolve_checkpoint
    from app.errors import describe_error

    with pytest.raises(CheckpointError) as info:
        resolve_checkpoint("/nonexistent/model.safetensors")
    shown = describe_error(info.value, "running MMQ-Net")
    assert (shown.text + shown.what_to_do).count("Preferences") == 1
    assert "Edit > Preferences > Model checkpoint" in shown.what_to_do
    # a core message that already says to choose another: the line under it says only where
    core = CheckpointError("x/config.json is not an MMQ-Net checkpoint config (format 'y', expected 'z'): choose a "
                           "checkpoint saved by MMQ-Net Studio.")
    shown = describe_error(core)
    assert "choose" not in shown.what_to_do.lower() and "Preferences" in shown.what_to_do


def test_circumplex_of_a_one_target_model_says_why_it_is_empty(qtbot):
    from types import SimpleNamespace

    from app.circumplex_view import CircumplexView
    from app.model import AppModel

    view = CircumplexView(AppModel())
    qtbot.addWidget(view)
    view.show()
    assert not view.note.isVisible()
    result = SimpleNamespace(targets=["arousal"], probabilities=np.full((4, 1), 0.5), window_starts=np.arange(4.0),
                             window_s=1.0, no_context=np.zeros(4, bool))
    view.set_result(result)
    assert view.n_points == 0
    assert view.note.isVisible() and "only arousal" in view.note.text() and "Alt+1" in view.note.text()
    view.set_result(None)
    assert not view.note.isVisible()
    QApplication.processEvents()


def test_event_list_by_keyboard_alt6_search_enter_enter_esc(window, eeg_browser, qtbot):
    """Alt+6 showed the list but the keys stayed in the traces: typing a search did nothing."""
    from PySide6.QtTest import QTest

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    review, events = window.review, window.review.event_list
    review.store.add(42.0, 2.0, "late event", "event")
    review.show_events_action.trigger()  # Alt+6
    qtbot.waitUntil(lambda: events.search_edit.hasFocus(), timeout=2000)
    QTest.keyClicks(events.search_edit, "late")
    assert [e.text for e in events.shown_entries()] == ["late event"]
    QTest.keyClick(events.search_edit, Qt.Key.Key_Return)  # to the first match
    qtbot.waitUntil(lambda: events.table.hasFocus(), timeout=2000)
    QTest.keyClick(events.table, Qt.Key.Key_Return)  # go there
    qtbot.waitUntil(lambda: window.model.cursor_s == 42.0, timeout=2000)
    assert eeg_browser.state.start_s <= 42.0 <= eeg_browser.state.stop_s
    QTest.keyClick(events.table, Qt.Key.Key_Escape)  # back to the traces: their keys work again
    qtbot.waitUntil(lambda: eeg_browser.hasFocus(), timeout=2000)


def test_annotation_dialog_reads_and_takes_the_onset_in_hms(qtbot):
    """The onset read "70.480 s" beside an axis, event list and Ctrl+G in h:mm:ss."""
    from mmqnet_core.annotations import AnnotationEntry

    from app.annotation_layer import AnnotationDialog

    dialog = AnnotationDialog(AnnotationEntry(onset=70.48, duration=0.0, text="spike", kind="note"), 7200.0,
                              ["spike"], "Edit annotation")
    qtbot.addWidget(dialog)
    assert dialog.onset_edit.text() == "01:10.480"
    dialog.onset_edit.lineEdit().setText("1:02:05.5")
    dialog.onset_edit.interpretText()
    assert dialog.values()["onset"] == pytest.approx(3725.5)
    dialog.onset_edit.lineEdit().setText("125")  # seconds still work
    dialog.onset_edit.interpretText()
    assert dialog.values()["onset"] == pytest.approx(125.0)


def test_a_missing_file_is_told_to_check_the_path(window, tmp_path, dialogs, qtbot):
    """'Cannot open rec.edf: no such file or folder.' came with advice on file formats and complete copies."""
    window.open_file(tmp_path / "moved_away.edf")
    qtbot.waitUntil(lambda: len(dialogs) == 1, timeout=10000)
    assert dialogs[0]["text"].endswith("no such file or folder.")
    assert "Check the path" in dialogs[0]["informative"] and "EDF/EDF+" not in dialogs[0]["informative"]


def test_a_display_filter_of_a_modality_not_drawn_is_not_announced(window, eeg_browser):
    """An EDF without EEG (pyedflib's test_generator.edf, MISC only) read "display filter: EEG 0.5-35 Hz, notch
    50 Hz" in the legend (over the label strip), the status bar and the exported page's caption."""
    from mmqnet_core.preprocessing.display_filter import DisplayFilter

    from app.browser_export import page_caption

    window.browser_controls.set_filters({Modality.ECG: DisplayFilter(highpass_hz=1.0, lowpass_hz=40.0)})
    assert eeg_browser.legend_filters_text() == ""
    assert "display filter" not in eeg_browser.display_summary()
    assert "no display filter" in " ".join(page_caption(eeg_browser))
    window.browser_controls.set_filters({Modality.ECG: DisplayFilter(highpass_hz=1.0),
                                         Modality.EEG: DisplayFilter(highpass_hz=0.5)})
    assert eeg_browser.legend_filters_text() == "EEG HP 0.5 Hz"
    assert "ECG" not in eeg_browser.legend_filters_text() and "ECG" not in eeg_browser.display_summary()


def test_spectrum_of_a_channel_read_in_volts_is_in_uv2_per_hz_and_readable(qtbot):
    """pyedflib's test_generator.edf (MISC channels recorded in uV, read in V): "power (V²/Hz) (x1e-09)" from
    1e-36 to 1 (the sines' numerical floor), the peaks squeezed into the top tenth."""
    from app.spectrum_dialog import DECADES, SpectrumDialog

    n = int(60 * SFREQ)
    t = np.arange(n) / SFREQ
    data = np.vstack([100e-6 * np.sin(2 * np.pi * 8 * t), 50e-6 * np.sin(2 * np.pi * 17 * t)])
    raw = mne.io.RawArray(data, mne.create_info(["sine 8 Hz", "sine 17 Hz"], SFREQ, "misc"), verbose=False)
    rec = Recording(raw=raw, channels=tuple(ChannelInfo(nm, Modality.MISC, SFREQ, "V") for nm in raw.ch_names),
                    is_synthetic=True)
    dialog = SpectrumDialog(rec, ["sine 8 Hz", "sine 17 Hz"], 0.0, 20.0)
    qtbot.addWidget(dialog)
    axis = dialog.plot.getPlotItem().getAxis("left")
    assert "\u00b5V\u00b2/Hz" in axis.labelString() and "(x" not in axis.labelString()
    np.testing.assert_allclose(dialog.power_shown, dialog.spectrum.power * 1e12, rtol=1e-9)
    low, high = dialog.plot.getPlotItem().viewRange()[1]  # log10 units
    top = np.log10(np.nanmax(dialog.power_shown))
    assert high == pytest.approx(top, abs=1.0) and low >= top - DECADES - 1.0


def test_go_to_time_typo_is_the_users_error_not_a_bug_report(window, eeg_browser, dialogs, monkeypatch):
    """Ctrl+G with "1:99:00" showed "An unexpected error occurred while going to a time ... please report it"
    (a ValueError)."""
    from PySide6.QtWidgets import QInputDialog

    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("1:99:00", True)))
    eeg_browser.ask_jump()
    assert len(dialogs) == 1
    shown = dialogs[0]
    assert shown["title"] == "Error while going to a time"
    assert "minutes and seconds must be below 60" in shown["text"]
    assert "Ctrl+G" in shown["informative"] and "report" not in shown["informative"]
    assert eeg_browser.state.start_s == 0.0


def test_unexpected_error_line_has_one_full_stop():
    from app.errors import describe_error

    shown = describe_error(ValueError("Invalid time '1:99:00': minutes and seconds must be below 60."), "x")
    assert "below 60. The full traceback" in shown.what_to_do and ".." not in shown.what_to_do


def test_browser_hints_reach_the_status_bar(window, recording, tmp_path, qtbot, monkeypatch):
    """H on a recording without ECG/PPG, ] with no channel selected, T without a start time: the browser set a
    hint for the status bar, which only followed page changes, so none was ever shown."""
    monkeypatch.setattr(window, "start_cleaning", lambda: None)
    recording.raw.set_meas_date(None)
    window.set_recording(recording, tmp_path / "no_heart.bdf")
    wait_loaded(qtbot, window)
    browser = window.browser
    browser.toggle_heart_rate()
    assert "no ECG or PPG channel" in window.page_label.text()
    browser.set_start(10.0)  # the next page: the hint is gone
    assert "ECG" not in window.page_label.text()
    browser.change_selected_gain(True)
    assert "select channels" in window.page_label.text()
    browser.set_start(20.0)
    browser.toggle_clock_time()
    assert "no start time" in window.page_label.text()


def test_event_list_f2_edits_the_current_annotation(window, eeg_browser, qtbot, monkeypatch):
    """Editing an annotation took a double-click on the traces: no way with the keyboard alone."""
    from PySide6.QtTest import QTest

    from app import key_bindings

    review, events = window.review, window.review.event_list
    entry_id = review.store.add(42.0, 2.0, "late event", "event")
    asked = []

    def fake_ask(entry, title):
        asked.append((entry.id, title))
        return {"onset": 43.0, "duration": 1.0, "text": "later event", "kind": "event", "channels": ()}

    monkeypatch.setattr(review.layer, "_ask", fake_ask)
    review.show_event_list()
    events.search_edit.setText("late")
    events.focus_table()
    QTest.keyClick(events.table, Qt.Key.Key_F2)
    assert asked == [(entry_id, "Edit annotation")]
    assert review.store.annotations.get(entry_id).text == "later event"
    assert any("F2 edit" in text for _, text in key_bindings.rows())  # listed in F1's dialog and the README


def test_shortcuts_dialog_opens_with_the_keys_in_its_filter(qtbot):
    """F1 then "event" moved between table rows: the filter box did not have the focus."""
    from PySide6.QtTest import QTest

    from app import key_bindings
    from app.shortcuts_dialog import ShortcutsDialog

    dialog = ShortcutsDialog(key_bindings.rows())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=2000)
    QTest.keyClicks(QApplication.focusWidget(), "event list")
    assert dialog.filter_edit.text() == "event list"
    assert dialog.shown_rows() and all("event list" in (k + " " + a).lower() for k, a in dialog.shown_rows())


def test_a_mistyped_sensitivity_or_timebase_is_a_hint_not_a_bug_report(window, eeg_browser, dialogs):
    """"abc" in the Sens box showed "An unexpected error occurred ... please report it" (ValueError, with
    Python's "could not convert string to float")."""
    from PySide6.QtTest import QTest

    controls = window.browser_controls
    before = controls.sens_combo.currentText()
    items = controls.sens_combo.count()
    controls.sens_combo.setEditText("abc")
    QTest.keyClick(controls.sens_combo.lineEdit(), Qt.Key.Key_Return)
    assert dialogs == []
    assert "invalid sensitivity 'abc'" in window.page_label.text()
    assert controls.sens_combo.currentText() == before  # the value in force is shown again
    controls.timebase_combo.setEditText("-3")
    QTest.keyClick(controls.timebase_combo.lineEdit(), Qt.Key.Key_Return)
    assert dialogs == [] and "invalid timebase '-3'" in window.page_label.text()
    controls.sens_combo.setEditText("7.3")
    QTest.keyClick(controls.sens_combo.lineEdit(), Qt.Key.Key_Return)
    assert float(controls.sens_combo.currentText()) == pytest.approx(7.3)
    assert controls.sens_combo.count() == items  # typed values were appended to the list ("abc", "7.3")


def test_edf_export_runs_in_a_worker_and_refuses_a_disk_without_room(window, eeg_browser, tmp_path, qtbot,
                                                                      dialogs, monkeypatch):
    """The EDF+ export ran in the window's thread (9 s frozen for 1 h x 40 ch at 256 Hz, 880 MB) and a 24-h
    recording needed ~21 GB. Since session 14 it streams the file in chunks in a worker, so length is no reason to
    refuse (a recording above 1.5 GB of signal was refused); a disk without room for the file still is."""
    import shutil
    from collections import namedtuple

    from PySide6.QtWidgets import QFileDialog

    import app.review_tools as review_tools

    assert not hasattr(review_tools, "EDF_EXPORT_MAX_BYTES")  # no length limit left
    review = window.review
    review.store.add(20.0, 3.0, "mine", "event")
    out = tmp_path / "exported.edf"
    assert review.export_edf_in_background(out) is True
    assert window.runner.busy  # in a worker, the window's thread is free
    qtbot.waitUntil(lambda: out.exists() and not window.runner.busy, timeout=20000)
    raw = mne.io.read_raw_edf(out, verbose="error")
    assert "mine" in list(raw.annotations.description) and dialogs == []
    # a disk with 1 MB free: said before anything is written (the file needs more)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**12, 10**12 - 10**6, 10**6))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "full.edf"), ""))
    review.ask_export_edf()
    assert len(dialogs) == 1 and "Not enough space to export" in dialogs[0]["text"]
    assert "GB free" in dialogs[0]["text"] and "nothing was written" in dialogs[0]["text"]
    assert not window.runner.busy and not (tmp_path / "full.edf").exists()
    assert review.export_edf(tmp_path / "again.edf") is None and not (tmp_path / "again.edf").exists()
    assert len(dialogs) == 2


def test_spectrum_dialog_bounds_its_work_on_a_long_recording(window, eeg_browser, qtbot, monkeypatch):
    """On a 24-h recording the Spectrogram tab took 21.7 s in the window's thread (a 121 x 86399 image) and a
    spectrum typed over 0-24 h 52 s and 4.3 GB: the spectrogram is now the chunked track, at most
    SPECTROGRAM_COLUMNS columns, computed in the window's worker, and a spectrum's span at most an hour."""
    import app.spectrum_dialog as spectrum_dialog

    monkeypatch.setattr(spectrum_dialog, "SPECTROGRAM_COLUMNS", 20)
    monkeypatch.setattr(spectrum_dialog, "MAX_SPECTRUM_SPAN_S", 30.0)
    dialog = window.review.show_spectrum()
    assert dialog.runner is window.runner
    dialog.tabs.setCurrentIndex(1)
    assert window.runner.busy or dialog.spectrogram is not None  # in the worker, not in this thread
    qtbot.waitUntil(lambda: dialog.spectrogram is not None, timeout=10000)
    track = dialog.spectrogram
    assert track.power_db.shape[0] <= 20 and track.ch_name == dialog.sg_channel.currentText()
    assert dialog.sg_image.image.shape == track.power_db.T.shape
    assert "dB re 1 \u00b5V\u00b2/Hz" in dialog.sg_plot.getPlotItem().titleLabel.text
    dialog.start_edit.setValue(0.0)
    dialog.stop_edit.setValue(40.0)
    dialog.update_spectrum()
    assert dialog.spectrum is None and "at most 00:30" in dialog.message.text()
    dialog.stop_edit.setValue(20.0)
    dialog.update_spectrum()
    assert dialog.spectrum is not None and dialog.message.text() == ""
    dialog.close()


def test_menu_items_of_browser_keys_show_their_key(window):
    """View > Raw / cleaned / both and Edit > Mask mode showed no key beside items that did (Heart-rate row  H)."""
    from PySide6.QtWidgets import QToolBar, QToolButton

    from app import key_bindings

    keys = {b.command: b.keys[0] for b in key_bindings.BINDINGS if b.keys and b.command}
    assert window.cycle_mode_action.text().split("\t")[1] == keys["cycle_mode"]
    assert window.mask_mode_action.text().split("\t")[1] == keys["toggle_mask_mode"]
    assert window.mask_mode_action.shortcuts() == []  # shown only: the browser binds the key
    toolbar = window.findChild(QToolBar, "ToolsToolBar")  # the main toolbar's second half since session 12
    button = toolbar.widgetForAction(window.mask_mode_action)
    assert isinstance(button, QToolButton) and button.text() == "Mask mode"
