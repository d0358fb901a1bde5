"""The trajectory view's spectrogram track: one channel, a third row on the trajectory's time axis."""

import numpy as np
import pytest
from PySide6.QtCore import QSettings
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


def test_the_chosen_spectrogram_channel_is_remembered_for_the_next_recording(window, recording, tmp_path,
                                                                             settings_file):
    from app.trajectory_view import SPECTROGRAM_CHANNEL_KEY

    window.set_recording(recording, tmp_path / "rec.bdf")
    view = window.trajectory_view
    assert view.spectrogram_box.currentText() == "off"  # off by default
    view.spectrogram_box.setCurrentText("Cz")
    view.spectrogram_box.textActivated.emit("Cz")  # what a user's choice in the box sends
    view.wait_spectrogram()
    window.set_recording(recording, tmp_path / "again.bdf")  # the next recording that has Cz opens with its track
    assert view.spectrogram_box.currentText() == "Cz"
    view.wait_spectrogram()
    assert view.spectrogram_shown and view.spectrogram_track.ch_name == "Cz"
    settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
    assert settings.value(SPECTROGRAM_CHANNEL_KEY) == "Cz"  # stored with the user's settings
    view.spectrogram_box.setCurrentText("off")
    view.spectrogram_box.textActivated.emit("off")
    window.set_recording(recording, tmp_path / "third.bdf")
    assert view.spectrogram_box.currentText() == "off" and not view.spectrogram_shown
