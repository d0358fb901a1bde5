"""The trajectory view's spectrogram track: one channel, a third row on the trajectory's time axis."""

import numpy as np
import pytest
from PySide6.QtTest import QTest

from .test_analysis_views import analysed  # noqa: F401 (fixture)


def test_spectrogram_track_under_the_trajectory(analysed, qtbot, dialogs):  # noqa: F811
    win = analysed
    win.show_dock(win.trajectory_dock)
    view = win.trajectory_view
    qtbot.waitUntil(lambda: view.plot_widget.isVisible())
    assert not view.spectrogram_shown and view.spectrogram_caption() == ""
    assert [view.spectrogram_box.itemText(i) for i in range(view.spectrogram_box.count())][:3] == ["off", "Fp1", "Fz"]
    view.spectrogram_box.setCurrentText("Cz")
    view.wait_spectrogram()
    assert view.spectrogram_shown and view.spectrogram_track.ch_name == "Cz"
    track = view.spectrogram_track
    # The test EEG carries a 10 Hz alpha: the brightest band of the track.
    assert track.freqs_hz[np.argmax(track.power_db.mean(axis=0))] == pytest.approx(10.0)
    assert "Spectrogram track: Cz, 0-45 Hz" in view.spectrogram_caption()
    assert view.spectrogram_plot.getAxis("left").labelText == "Cz (Hz)"
    # Same time axis as the trajectory: panning one pans the other, the view boxes line up in x.
    view.plot.setXRange(20.0, 30.0, padding=0)
    assert view.spectrogram_plot.getViewBox().viewRange()[0] == pytest.approx([20.0, 30.0])
    QTest.qWait(50)
    top = view.plot.getViewBox().sceneBoundingRect()
    low = view.spectrogram_plot.getViewBox().sceneBoundingRect()
    assert (top.left(), top.right()) == pytest.approx((low.left(), low.right()), abs=1.0)
    assert low.top() >= view.entropy_plot.getViewBox().sceneBoundingRect().bottom()
    image = view.spectrogram_image.mapRectToParent(view.spectrogram_image.boundingRect())
    # Columns centred on their 2-s segments (1 s apart): the track spans the recording but half a step at its ends.
    assert image.left() == pytest.approx(0.5) and image.right() == pytest.approx(59.5)
    # The exported image names the channel (the box itself is left out).
    parts = view.export_parts()
    assert view.spectrogram_caption() in parts and view.controls not in parts
    images = win.view_images()
    assert images["trajectory"].height() > 200
    # Back to off: the row goes away.
    view.spectrogram_box.setCurrentText("off")
    assert not view.spectrogram_shown and view.spectrogram_track is None
    assert not dialogs
