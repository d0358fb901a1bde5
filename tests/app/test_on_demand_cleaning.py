"""A long recording is cleaned for display page by page (only the fit runs in the cleaning task)."""

from __future__ import annotations

import numpy as np

from .conftest import use_small_tiles, wait_loaded


def test_a_long_recording_is_cleaned_on_demand_like_the_whole_cleaning(window, recording, tmp_path, qtbot,
                                                                       monkeypatch):
    from mmqnet_core.preprocessing import on_demand, preprocess

    monkeypatch.setattr(on_demand, "ON_DEMAND_ABOVE_BYTES", 0)  # the 60-s test recording counts as long
    window.set_recording(recording, tmp_path / "rec.bdf")
    wait_loaded(qtbot, window, cleaned=True)
    result = window.model.preprocess_result
    assert isinstance(result, on_demand.OnDemandCleaning)
    window.browser.set_mode("cleaned")
    qtbot.waitUntil(lambda: result.data.cleaned_tiles >= 1, timeout=20000)  # the page asked for its tile

    def drawn() -> bool:  # since session 14 the page is drawn first and its cleaned trace follows its tile
        _, y = window.browser.curves("Fz")[1].getData()
        return y is not None and bool(np.isfinite(y).any())

    qtbot.waitUntil(drawn, timeout=20000)  # the cleaned trace reaches the page
    whole = preprocess(recording, result.config)
    got = result.cleaned.data[[0, 1], 0:whole.cleaned.n_times]
    np.testing.assert_allclose(got, whole.cleaned.data[[0, 1]], atol=1e-4 * np.abs(whole.cleaned.data[[0, 1]]).max())


def test_the_cleaned_view_cleans_the_tile_ahead_in_the_background(window, recording, tmp_path, qtbot,
                                                                  monkeypatch):
    """The tile that holds the page TILE_AHEAD_PAGES ahead is cleaned before it is drawn (a reader holding
    PageDown waited for each new tile: the pages' own prefetch, two ahead, asked for it ~70 ms before), and only
    that one: the tile between is left to the pages that need it."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from app.signal_browser import TILE_AHEAD_PAGES

    SmallTiles = use_small_tiles(monkeypatch)
    window.set_recording(recording, tmp_path / "rec.bdf")
    wait_loaded(qtbot, window, cleaned=True)
    result = window.model.preprocess_result
    assert isinstance(result, SmallTiles) and len(result.data.bounds) >= 4
    browser = window.browser
    browser.set_page_length(1.0)
    browser.set_mode("cleaned")  # page 0-1 s and its neighbours lie in tile 0 (0-5 s)
    qtbot.wait(100)  # a reader's step, not one back to back (then the tile ahead would only take CPU)
    browser.setFocus()
    QTest.keyClick(browser, Qt.Key.Key_PageDown)
    assert browser.start_s == 1.0 and not browser.back_to_back
    at = (browser.start_s + TILE_AHEAD_PAGES * browser.page_s) * result.sfreq
    ahead = int(np.searchsorted(result.data.starts, at, side="right")) - 1
    assert ahead >= 2
    qtbot.waitUntil(lambda: result.data.has_tile(ahead), timeout=20000)
    assert result.data.has_tile(0) and not result.data.has_tile(1)
