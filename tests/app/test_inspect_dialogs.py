"""Inspect: power spectrum (Welch, log scale, bands), spectrogram, recording information; menu entries."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from app.header_dialog import HeaderDialog
from app.spectrum_dialog import BANDS, SpectrumDialog
from mmqnet_core.errors import ConfigError
from mmqnet_core.features.psd import spectrogram, welch_spectrum


def test_welch_spectrum_finds_the_alpha_peak_in_uv(recording):
    # The test EEG is a 10 Hz sine of 20 uV: Welch's peak at 10 Hz, power in uV^2/Hz.
    spec = welch_spectrum(recording, [recording.index("Fz"), recording.index("Cz")], 0.0, 30.0, fmax=40.0)
    assert spec.ch_names == ("Fz", "Cz") and spec.units == ("uV", "uV")
    assert spec.power.shape == (2, spec.freqs.size) and spec.freqs[-1] <= 40.0
    assert np.all(spec.freqs[spec.power.argmax(axis=1)] == pytest.approx(10.0, abs=0.5))
    df = spec.freqs[1] - spec.freqs[0]
    band = (spec.freqs > 8) & (spec.freqs < 12)
    assert spec.power[0, band].sum() * df == pytest.approx(20.0**2 / 2, rel=0.3)  # sine power A^2 / 2 in uV^2
    with pytest.raises(ConfigError, match="at least 1 s long"):
        welch_spectrum(recording, [0], 10.0, 10.5)
    with pytest.raises(ConfigError, match="pick at least one channel"):
        welch_spectrum(recording, [], 0.0, 10.0)


def test_spectrogram_has_the_recording_time_axis(recording):
    sg = spectrogram(recording, recording.index("Fz"), fmax=30.0)
    assert sg.power.shape == (sg.freqs.size, sg.times.size)
    assert sg.times[0] == pytest.approx(1.0) and sg.times[-1] <= recording.duration_s
    assert sg.freqs[sg.power.mean(axis=1).argmax()] == pytest.approx(10.0, abs=0.5)


def test_spectrum_dialog_draws_log_power_and_band_shading(qtbot, recording):
    dialog = SpectrumDialog(recording, ["Fz", "Pz"], 0.0, 20.0)
    qtbot.addWidget(dialog)
    assert dialog.selected_channels() == ["Fz", "Pz"]
    assert dialog.plot.getPlotItem().ctrl.logYCheck.isChecked()  # log power axis
    items = dialog.plot.getPlotItem().items
    curves = [i for i in items if isinstance(i, pg.PlotDataItem)]
    regions = [i.getRegion() for i in items if isinstance(i, pg.LinearRegionItem)]
    assert len(curves) == 2
    assert regions == [(lo, hi) for _, lo, hi in BANDS]
    x, y = curves[0].getData()
    assert x[np.nanargmax(y)] == pytest.approx(10.0, abs=0.5)
    assert "\u00b5V\u00b2/Hz" in dialog.plot.getPlotItem().getAxis("left").labelText  # as the browser writes µV
    dialog.stop_edit.setValue(0.5)  # too short: a message, no crash
    dialog.update_spectrum()
    assert "at least 1 s long" in dialog.message.text() and dialog.spectrum is None
    dialog.tabs.setCurrentIndex(1)
    assert dialog.spectrogram is not None and dialog.spectrogram.ch_name == "Fz"


def test_header_dialog_of_a_bdf_file_shows_the_header_as_recorded(qtbot, bdf_path):
    from mmqnet_core.io import load_recording

    rec = load_recording(bdf_path)
    dialog = HeaderDialog(rec)
    qtbot.addWidget(dialog)
    assert dialog.field_text("Format") == "BDF"
    assert dialog.field_text("Data record") == "1 s"
    table = dialog.table
    assert table.rowCount() == rec.n_channels
    rows = {table.item(r, 0).text(): [table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())}
    assert rows["Fz"][1:4] == ["EEG", "128", "uV"]
    assert rows["GSR"][3] == "uS"
    assert bdf_path.name in dialog.field_text("File")


def test_header_of_an_in_memory_recording(qtbot, recording):
    dialog = HeaderDialog(recording)
    qtbot.addWidget(dialog)
    assert dialog.field_text("File") == "(in memory)"
    assert dialog.field_text("Data").startswith("SYNTHETIC")
    assert dialog.table.rowCount() == recording.n_channels


def test_menus_and_commands_of_the_window(window, recording, tmp_path):
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions() if a.menu() is not None}
    assert {"Annotations", "Tools"} <= set(menus)
    assert window.review.spectrum_action in menus["Tools"].actions()
    assert window.review.info_action in menus["File"].actions()
    assert window.review.event_dock.toggleViewAction() in menus["View"].actions()
    assert not window.review.spectrum_action.isEnabled()  # nothing open yet
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.model.set_selection(["Cz"])
    dialog = window.review.show_spectrum()
    assert dialog.selected_channels() == ["Cz"]
    assert (dialog.start_edit.value(), dialog.stop_edit.value()) == window.browser.visible_range()
    info = window.review.show_header()
    assert info is not None and info.table.rowCount() == recording.n_channels
    keys = dict(window.shortcut_rows())
    assert any("Annotate mode" in k or "Annotate mode" in v for k, v in keys.items())


def test_exports_from_the_window(window, recording, tmp_path):
    import mne

    window.set_recording(recording, tmp_path / "rec.bdf")
    window.review.store.add(20.0, 3.0, "mine", "event")
    csv = window.review.export_csv(tmp_path / "out.csv")
    assert sorted(mne.read_annotations(csv).description) == ["SYNTHETIC stimulus", "button", "mine"]
    edf = window.review.export_edf(tmp_path / "out.edf")
    raw = mne.io.read_raw_edf(edf, verbose="error")
    assert "mine" in list(raw.annotations.description)
    assert window.review.export_csv(tmp_path / "missing" / "x.csv") is None  # reported, not raised
    assert window.last_error is not None
