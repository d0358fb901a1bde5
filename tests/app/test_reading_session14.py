"""Session 14 (read14), the signal browser's display path: one test per defect, each failing before its fix."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from mmqnet_core.preprocessing.display_filter import DisplayFilter, filter_rows
from mmqnet_core.recording import ChannelInfo, Modality, Recording

from tests.core.preprocessing.test_display_filter_ends import eeg_like

from .conftest import open_all_rows, use_small_tiles

SFREQ = 256.0


def _eeg_like(n: int, seed: int) -> np.ndarray:
    """SYNTHETIC EEG-like row in V (the signal of tests/core/preprocessing/test_display_filter_ends.py)."""
    return eeg_like(SFREQ, n / SFREQ, seed) * 1e-6


# --- Display filters at the recording's first and last seconds ----------------------------------------------------
@pytest.mark.parametrize("where", ["first page", "last page"])
def test_display_filters_do_not_bend_the_first_and_last_seconds(window, tmp_path, qtbot, monkeypatch, where):
    """The last ~0.2-0.5 s of a recording (and its first) were bent by the filters: no padding can be read there
    and scipy's short odd extension stood in for it. The page drawn there is compared with the same filter over a
    longer signal that goes on past both ends of the recording (what the page would show inside a recording)."""
    names = ["Fz", "Cz", "Pz"]
    longer = np.vstack([_eeg_like(int(60 * SFREQ), seed) for seed in range(len(names))])
    a, b = int(10 * SFREQ), int(50 * SFREQ)  # the recording: 10-50 s of the longer signal
    raw = mne.io.RawArray(longer[:, a:b], mne.create_info(names, SFREQ, "eeg"), verbose=False)
    rec = Recording(raw=raw, channels=tuple(ChannelInfo(n, Modality.EEG, SFREQ, "V") for n in names),
                    is_synthetic=True)
    browser = open_all_rows(window, rec, tmp_path / "ends.bdf", qtbot, monkeypatch)
    f = DisplayFilter(0.5, 35.0, 50.0)
    window.browser_controls.set_filters({Modality.EEG: f})
    goes_on = filter_rows(longer, SFREQ, [f] * len(names))
    edge = int(0.5 * SFREQ)
    browser.set_start(0.0 if where == "first page" else 30.0)
    page = browser._raw.page
    assert page.values.shape[1] == int(10 * SFREQ)
    errors = []
    for i, name in enumerate(names):
        drawn = page.values[browser.row_of(name)]
        truth = goes_on[i, a:a + edge] if where == "first page" else goes_on[i, b - edge:b]
        got = drawn[:edge] if where == "first page" else drawn[-edge:]
        errors.append(np.abs(got - truth).max() / goes_on[i, a:b].std())
    assert np.median(errors) < 0.45, errors  # was 0.63 (first page) and 1.30 (last page)


# --- The cleaned view of a long recording: a page step never waits for a whole tile's cleaning --------------------
def test_a_page_step_does_not_wait_for_its_tiles_cleaning(window, recording, tmp_path, qtbot, monkeypatch):
    """Paging through the cleaned view of a long recording (cleaned on demand in 120-s tiles) held the window at
    each new tile until the tile was cleaned (0.12-0.18 s quiet, up to 0.5 s loaded; bench_browser.py
    --with-cleaning). The page is drawn at once without its cleaned trace, the legend says so, and the trace follows
    when the tile is cleaned. Here the tile's cleaning is held until the test lets it go (at the latest after 10 s:
    a step that waited for it returns only then)."""
    import threading

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from mmqnet_core.preprocessing import on_demand, streaming

    SmallTiles = use_small_tiles(monkeypatch)
    window.set_recording(recording, tmp_path / "rec.bdf")
    qtbot.waitUntil(lambda: isinstance(window.model.preprocess_result, SmallTiles), timeout=20000)
    result = window.model.preprocess_result
    browser = window.browser
    browser.set_page_length(5.0)
    browser.set_mode("cleaned")
    qtbot.waitUntil(lambda: getattr(browser, "cleaning_pending", None) is None and browser.trace_items()[1].isVisible(),
                    timeout=20000)
    assert result.data.has_tile(0) and not result.data.has_tile(4)

    go = threading.Event()
    release = threading.Timer(10.0, go.set)  # never a hang: a step that waits returns after 10 s
    release.start()
    original = streaming.clean_piece

    def held(*args, **kwargs):
        go.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(on_demand, "clean_piece", held)
    try:
        browser.set_start(20.0)  # tile 4 (20-25 s): not cleaned
        qtbot.wait(150)  # a reader's step, not back to back
        browser.setFocus()
        QTest.keyClick(browser, Qt.Key.Key_PageDown)  # 25 s: tile 5, not cleaned either
        assert not go.is_set(), "the step waited for the tile's cleaning"
        assert browser.start_s == 25.0
        assert browser.cleaning_pending is not None
        assert not browser.trace_items()[1].isVisible()  # no stale trace of another page
        assert "cleaning..." in browser.legend_text()
    finally:
        go.set()
        release.cancel()
    qtbot.waitUntil(lambda: browser.cleaning_pending is None and browser.trace_items()[1].isVisible(), timeout=20000)
    assert "cleaning..." not in browser.legend_text()
    assert result.data.has_tile(5)
    k = int(25.0 * result.sfreq)
    _, y = browser.curves("Fz")[1].getData()
    assert y is not None and np.isfinite(y).any()
    assert np.isfinite(result.cleaned.data[[0], k:k + 10]).all()
