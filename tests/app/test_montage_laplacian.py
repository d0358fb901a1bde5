"""The Laplacian (Hjorth) montage in the browser: menu, combo and Ctrl+6, rows against a hand computation, the
status line and an exported page's caption naming the electrodes it cannot derive, display filters, masks and the
cleaned view."""

from __future__ import annotations

import mne
import numpy as np
import pytest
from PySide6.QtCore import Qt

from mmqnet_core.recording import ChannelInfo, Modality, Recording

from .conftest import open_all_rows, wait_loaded

SFREQ = 128.0
# A 10-20 patch: C4 has one neighbour recorded (Cz), so it cannot be derived.
EEG = ["Fz", "Cz", "Pz", "C3", "C4", "F3", "P3"]
HAND = {"Fz": ["F3", "Cz"], "Cz": ["Fz", "Pz", "C3", "C4"], "Pz": ["Cz", "P3"], "C3": ["F3", "P3", "Cz"],
        "F3": ["Fz", "C3"], "P3": ["Pz", "C3"]}


def patch_recording() -> Recording:
    rng = np.random.default_rng(4)
    t = np.arange(int(60 * SFREQ)) / SFREQ
    eeg = [20e-6 * np.sin(2 * np.pi * (6 + i) * t + i) + 5e-6 * rng.standard_normal(t.size) for i in range(len(EEG))]
    ecg = 1e-3 * np.sin(2 * np.pi * 1.2 * t)
    raw = mne.io.RawArray(np.vstack(eeg + [ecg]), mne.create_info(EEG + ["ECG"], SFREQ, ["eeg"] * len(EEG) + ["ecg"]),
                          verbose=False)
    channels = tuple(ChannelInfo(n, Modality.EEG, SFREQ, "V") for n in EEG) + (
        ChannelInfo("ECG", Modality.ECG, SFREQ, "V"),)
    return Recording(raw=raw, channels=channels, is_synthetic=True)


def hand(data: dict[str, np.ndarray], electrode: str, k: int) -> float:
    return float(data[electrode][k] - np.mean([data[n][k] for n in HAND[electrode]]))


def test_laplacian_is_offered_drawn_and_said(window, tmp_path, qtbot, monkeypatch):
    from app.browser_export import page_caption

    rec = patch_recording()
    b = open_all_rows(window, rec, tmp_path / "patch.bdf", qtbot, monkeypatch)
    combo = window.browser_controls.montage_combo
    assert "Laplacian (Hjorth)" in [combo.itemText(i) for i in range(combo.count())]
    qtbot.keyClick(b, Qt.Key.Key_6, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: b.state.montage.kind == "laplacian")
    qtbot.wait(50)
    assert combo.currentText() == "Laplacian (Hjorth)"
    names = [d.name for d in b._row_defs]
    assert names == ["Fz-lap", "Cz-lap", "Pz-lap", "C3-lap", "F3-lap", "P3-lap", "ECG"]
    status = window.browser_controls.display_label.toolTip()
    assert "montage: Laplacian (Hjorth) (not derivable, not drawn: C4)" in status
    caption = " ".join(page_caption(b))
    assert "Montage: Laplacian (Hjorth) (not derivable, not drawn: C4)" in caption
    data = dict(zip(EEG, rec.raw.get_data(picks=EEG)))
    page = b._current_page()
    for t in (1.0, 3.3, 7.9):
        k = int(round(t * SFREQ))
        for electrode in HAND:
            assert page.value_at(names.index(f"{electrode}-lap"), t) == pytest.approx(hand(data, electrode, k),
                                                                                      abs=1e-12)
    # The menu shows it with its key.
    window.browser_controls._fill_montage_menu()
    texts = [a.text() for a in window.browser_controls.montage_menu.actions()]
    assert "Laplacian (Hjorth)\tCtrl+6" in texts


def test_laplacian_with_display_filters_is_the_laplacian_of_the_filtered_channels(window, tmp_path, qtbot,
                                                                                   monkeypatch):
    """Display filters are linear: the filtered Laplacian row equals the electrode's filtered trace minus the mean
    of its neighbours' filtered traces (as recorded)."""
    from mmqnet_core.preprocessing.display_filter import DisplayFilter

    rec = patch_recording()
    b = open_all_rows(window, rec, tmp_path / "patch.bdf", qtbot, monkeypatch)
    window.browser_controls.set_filters({Modality.EEG: DisplayFilter(1.0, 15.0, None)})
    qtbot.wait(50)
    t = 4.2
    page = b._current_page()
    filtered = {d.name: page.value_at(r, t) for r, d in enumerate(b._row_defs)}
    b.set_montage_index(5)
    qtbot.wait(50)
    assert "display filter: EEG" in b.display_summary() and "Laplacian" in b.display_summary()
    page = b._current_page()
    names = [d.name for d in b._row_defs]
    for electrode in HAND:
        want = filtered[electrode] - np.mean([filtered[n] for n in HAND[electrode]])
        assert page.value_at(names.index(f"{electrode}-lap"), t) == pytest.approx(want, abs=1e-11)


def test_masked_channels_leave_the_neighbour_mean(window, tmp_path, qtbot, monkeypatch):
    """A channel masked whole is left out of its neighbours' means (its own row stays); a channel masked over a
    segment is missing in the cleaned signal there: the cleaned Laplacian rows of its neighbours are drawn there
    (the mean of the other neighbours), its own row is not."""
    rec = patch_recording()
    b = open_all_rows(window, rec, tmp_path / "patch.bdf", qtbot, monkeypatch)
    b.set_montage_index(5)
    qtbot.wait(50)
    window.model.toggle_channel_mask("Pz")
    qtbot.wait(50)
    names = [d.name for d in b._row_defs]
    by_name = {d.name: d for d in b._row_defs}
    assert "Pz" not in by_name["Cz-lap"].reference and "Pz" not in by_name["P3-lap"].reference
    assert "Pz-lap" in names
    data = dict(zip(EEG, rec.raw.get_data(picks=EEG)))
    k = int(round(2.0 * SFREQ))
    page = b._current_page()
    cz = data["Cz"][k] - np.mean([data[n][k] for n in ("Fz", "C3", "C4")])
    assert page.value_at(names.index("Cz-lap"), 2.0) == pytest.approx(cz, abs=1e-12)
    p3 = data["P3"][k] - data["C3"][k]
    assert page.value_at(names.index("P3-lap"), 2.0) == pytest.approx(p3, abs=1e-12)
    window.model.toggle_channel_mask("Pz")
    window.model.add_segment(2.0, 4.0, ["Cz"])
    type(window).start_cleaning(window)  # open_all_rows left the cleaning out
    wait_loaded(qtbot, window, cleaned=True)
    b.set_mode("cleaned")
    qtbot.wait(100)
    b.refresh()
    page = b._current_page()
    names = [d.name for d in b._row_defs]
    assert np.isnan(page.value_at(names.index("Cz-lap"), 3.0))  # its own row: missing under its mask
    for name in ("Fz-lap", "Pz-lap", "C3-lap", "F3-lap", "P3-lap"):
        assert np.isfinite(page.value_at(names.index(name), 3.0)), name  # the neighbours present
        assert np.isfinite(page.value_at(names.index(name), 6.0)), name


def test_a_channels_spans_are_drawn_on_its_own_laplacian_row_only(window, tmp_path, qtbot, monkeypatch):
    """A mask or annotation of one channel is drawn on the rows that show that channel: under a Laplacian, the
    electrode's own row (as under the average reference), whether its neighbours' rows have 2 or 4 neighbours
    (Fz-lap, of F3 and Cz, drew F3's and Cz's spans; Cz-lap, of 4, did not)."""
    rec = patch_recording()
    b = open_all_rows(window, rec, tmp_path / "patch.bdf", qtbot, monkeypatch)
    b.set_montage_index(5)
    qtbot.wait(50)
    names = [d.name for d in b._row_defs]
    for electrode in HAND:
        assert b._rows_of[electrode] == [names.index(f"{electrode}-lap")], electrode
    assert "C4" not in b._rows_of  # not drawn
