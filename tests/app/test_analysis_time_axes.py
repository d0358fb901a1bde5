"""The analysis views read time as the browser does (h:mm:ss from the start), never "time (ks)" on long recordings."""

from __future__ import annotations

import pytest

from app.plot_helpers import TIME_LABEL, TimeAxis

from .test_analysis_views import analysed  # noqa: F401 (fixture)


def _time_plots(win) -> dict[str, object]:
    """Every analysis plot whose bottom axis is the recording's time."""
    tv, av, rv = win.trajectory_view, win.attention_view, win.reconstruction_view
    return {"trajectory P(high)": tv.plot, "trajectory entropy": tv.entropy_plot,
            "spectrogram track": tv.spectrogram_plot, "attention": av.plot, "occlusion": av.occ_plot,
            "reconstruction feature": rv.feature_plot, "reconstruction waveform": rv.wave_plot}


def test_an_hour_reads_in_hours_minutes_seconds_in_every_view(analysed, qtbot):  # noqa: F811
    win = analysed
    for name, plot in _time_plots(win).items():
        plot.setXRange(0.0, 3600.0, padding=0)
        axis = plot.getAxis("bottom")
        # pyqtgraph's default axis with units="s" rescaled this to "time (ks)" with ticks 0.5, 1, 1.5 ...
        assert axis.autoSIPrefixScale == 1.0, name
        assert "ks" not in axis.labelString(), name
        levels = axis.tickValues(0.0, 3600.0, 600)
        values = [v for _, vs in levels for v in vs]
        strings = axis.tickStrings(values, 1.0, levels[0][0])
        assert "1:00:00" in strings and "30:00" in strings, (name, strings)
    # the attention map's time labels and title are under the occlusion map below it (one time axis, session 11)
    shown = [win.trajectory_view.entropy_plot, win.attention_view.occ_plot, win.reconstruction_view.feature_plot]
    for plot in shown:
        assert plot.getAxis("bottom").labelText == TIME_LABEL


@pytest.mark.parametrize(("span_s", "size_px", "step_s"), [
    (10.0, 700, 1.0),  # a page of the browser's length: every second
    (240.0, 600, 30.0),  # the sample recording in a narrow dock
    (3600.0, 1200, 300.0),  # an hour: every 5 minutes
    (86400.0, 1200, 7200.0),  # a day: every 2 hours
])
def test_ticks_fall_on_clock_steps_that_fit_the_width(span_s, size_px, step_s):
    assert TimeAxis.step_for(span_s, size_px) == step_s
    assert span_s / step_s * 64 <= size_px  # labels of "0:00:00" never overlap
