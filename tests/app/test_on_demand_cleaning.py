"""A long recording is cleaned for display page by page (only the fit runs in the cleaning task)."""

from __future__ import annotations

import numpy as np

from .conftest import wait_loaded


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
    _, y = window.browser.curves("Fz")[1].getData()
    assert y is not None and np.isfinite(y).any()
    whole = preprocess(recording, result.config)
    got = result.cleaned.data[[0, 1], 0:whole.cleaned.n_times]
    np.testing.assert_allclose(got, whole.cleaned.data[[0, 1]], atol=1e-4 * np.abs(whole.cleaned.data[[0, 1]]).max())
