"""Running MMQ-Net from the window: every analysis view shows the result, cancel, stale results, navigation."""

import importlib
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from app.analysis import SYNTHETIC_MODEL_LABEL, UNTRAINED_MODEL_LABEL, model_label
from app.analysis_banner import NO_ANALYSIS_TEXT, STALE_TEXT
from mmqnet_core.progress import check_cancel

from .conftest import CHANNELS, DURATION_S, wait_analysis


@pytest.fixture
def analysed(window, recording, tmp_path, qtbot, tiny_model):
    """The window with the test recording, a mask on Fz+GSR at 10-20 s, analysed with the tiny model."""
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.model.add_segment(10.0, 20.0, ["Fz", "GSR"])
    window.use_model(tiny_model)
    assert window.run_action.isEnabled()
    window.run_action.trigger()
    assert window.runner.busy and window.progress_bar.isVisibleTo(window)
    wait_analysis(qtbot, window)
    return window


def _click_view(qtbot, plot_widget, plot_item, x, y):
    """Left click at data coordinates (x, y) of ``plot_item`` inside ``plot_widget``."""
    scene = plot_item.getViewBox().mapViewToScene(QPointF(x, y))
    pos = plot_widget.mapFromScene(scene)
    qtbot.mouseClick(plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_every_view_shows_the_analysis(analysed, dialogs):
    win = analysed
    result = win.model.analysis
    n_t = int(DURATION_S)  # 1-s windows
    assert result.n_windows == n_t and not dialogs
    assert win.trajectory_dock.isVisible()  # raised when the analysis finished
    from app.main_window import ANALYSIS_DOCK_MIN_PX

    # tall enough to read (it was squeezed to ~140 px under the log's default height), where the window allows it
    assert win.trajectory_dock.height() >= min(ANALYSIS_DOCK_MIN_PX, win.height() // 2) - 20  # less the tab bar
    # Trajectory: one point per window per target, probabilities in [0, 1], and their entropy as its own trace.
    legend = [label.text for _, label in win.trajectory_view.legend.items]
    for k, name in enumerate(("valence", "arousal")):
        x, y = win.trajectory_view.curves[name].getData()
        assert len(x) == n_t and np.allclose(y, result.probabilities[:, k])
        xe, u = win.trajectory_view.entropy_curves[name].getData()
        assert np.array_equal(xe, x) and np.allclose(u, result.uncertainty[:, k])
        assert np.all((u >= 0) & (u <= 1)) and f"{name} entropy (bits, lower plot)" in legend
    # The masked span (2 of 7 channels) is in the bottom strip, not shaded full height.
    x, share = win.trajectory_view.masked_share.getData()
    assert share.max() == pytest.approx(2 / 7 * 0.12, rel=1e-3)
    assert win.trajectory_view.masked_spans.shown == []
    # Circumplex: one point per window.
    assert win.circumplex_view.n_points == n_t
    # Attention: (tokens present, windows); columns of the category family are attention shares.
    img = win.attention_view.image_data
    assert img.shape == (len(CHANNELS), n_t)
    assert win.attention_view.family == "category"
    assert np.all(img >= 0) and np.all(img.sum(axis=0) <= 1 + 1e-4)
    # the note says why tokens are hidden (issue 9), here the user's mask on Fz and GSR
    assert win.attention_view.note.text() == ("Fz: 10/60 windows hidden: 10 user mask\n"
                                              "GSR: 10/60 windows hidden: 10 user mask")
    win.attention_view.set_family("modality")
    assert not np.allclose(win.attention_view.image_data, img)
    hidden_windows = result.hidden.any(1)
    modality = win.attention_view.image_data
    if hidden_windows.all():
        assert "windows have hidden tokens" not in win.attention_view.note.text()
    else:  # only windows with hidden tokens are reconstructed, so only they have a modality map; the note says so
        assert f"{int(hidden_windows.sum())} of {n_t} windows have hidden tokens" in win.attention_view.note.text()
        assert np.abs(modality[:, ~hidden_windows]).max() == 0
    np.testing.assert_allclose(modality[:, hidden_windows].sum(0), 1.0, atol=1e-4)
    win.attention_view.present_only.setChecked(False)
    assert win.attention_view.image_data.shape == (len(result.token_names), n_t)
    # Reconstruction: selecting the mask in the Masks table shows its first channel with the span highlighted.
    view = win.reconstruction_view
    win.mask_table.table.selectRow(0)
    assert win.model.mask_focus.segment == 0
    assert view.token == "Fz" and view.feature == "psd_alpha" and not view.wave_plot.isVisible()
    assert view.focus_spans[0].shown == [(10.0, 20.0)]
    assert view.info.text().startswith("Fz: 10/60 windows hidden: 10 user mask")
    tip = win.channel_panel.item("GSR").toolTip(0)
    assert tip.startswith("GSR: GSR") and "\nGSR: 10/60 windows hidden: 10 user mask" in tip
    assert len(view.original_curve.getData()[0]) == n_t and np.array_equal(
        np.isfinite(view.recon_curve.getData()[1]), result.hidden[:, result.token_index("Fz")])  # hidden only
    view.set_token("GSR")  # a slow signal: level feature and the waveform plot
    # A user's mask is missing data from the cleaning on (issue #9): there is no original under it to score the
    # reconstruction against (a simulated mask keeps one: tests/core/inference/test_use_case.py).
    assert view.feature == "level" and view.wave_plot.isVisible() and view.rmse is None
    t, w = view.wave_recon.getData()
    inside = np.isfinite(w)
    assert inside.any() and t[inside].min() >= 10.0 and t[inside].max() <= 20.0
    t, w = view.wave_original.getData()
    assert np.isfinite(w[(t < 10.0) | (t > 20.0)]).all() and not np.isfinite(w[(t > 10.0) & (t < 20.0)]).any()
    # Every view says which model made it.
    for v in (win.trajectory_view, win.circumplex_view, win.attention_view, view):
        assert UNTRAINED_MODEL_LABEL in v.banner.plain_text and "SYNTHETIC recording" in v.banner.plain_text


def test_windows_without_visible_data_are_gaps_not_predictions(window, recording, tmp_path, qtbot, tiny_model):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.model.add_segment(8.0, 16.0, [])  # every channel: the middle windows see nothing
    window.use_model(tiny_model)
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    result = window.model.analysis
    blind = np.asarray(result.no_context, bool)
    assert blind.any() and not blind.all()
    for name in ("valence", "arousal"):
        _, y = window.trajectory_view.curves[name].getData()
        assert np.isnan(y[blind]).all() and np.isfinite(y[~blind]).all()
    assert window.circumplex_view.n_points == int((~blind).sum())


def test_probability_and_entropy_are_on_separate_time_aligned_axes(analysed, qtbot):
    win = analysed
    win.show_dock(win.trajectory_dock)
    view = win.trajectory_view
    qtbot.waitUntil(lambda: view.plot_widget.isVisible())
    for name in ("valence", "arousal"):
        assert view.curves[name] in view.plot.listDataItems()
        assert view.entropy_curves[name] in view.entropy_plot.listDataItems()
        assert view.entropy_curves[name] not in view.plot.listDataItems()
    assert view.plot.getAxis("left").labelText == "P(high)"
    # "bits" where the row is too short for the full title (test_reading_session10 checks which one fits)
    assert view.entropy_plot.getAxis("left").labelText in ("entropy (bits)", "bits")
    # One time axis: panning the probability row pans the entropy row, and the two view boxes line up in x.
    view.plot.setXRange(20.0, 30.0, padding=0)
    x0, x1 = view.entropy_plot.getViewBox().viewRange()[0]
    assert (x0, x1) == pytest.approx((20.0, 30.0))
    QTest.qWait(50)
    top, bottom = view.plot.getViewBox().sceneBoundingRect(), view.entropy_plot.getViewBox().sceneBoundingRect()
    assert (top.left(), top.right()) == pytest.approx((bottom.left(), bottom.right()), abs=1.0)
    assert bottom.top() >= top.bottom() and bottom.height() < top.height()
    # The cursor is drawn on both rows; a click in the entropy row moves it too.
    _click_view(qtbot, view.plot_widget, view.entropy_plot, 25.0, 0.5)
    assert win.model.cursor_s == pytest.approx(25.0, abs=0.5)
    assert view.entropy_cursor.value() == pytest.approx(view.cursor.value())


def test_clicking_a_masked_span_zooms_the_reconstruction_to_it(analysed, qtbot):
    win = analysed
    win.show_dock(win.reconstruction_dock)
    view = win.reconstruction_view
    view.set_token("Fz")  # masked 10-20 s
    qtbot.waitUntil(lambda: view.graphics.isVisible())
    QTest.qWait(50)
    full = view.feature_plot.getViewBox().viewRange()[0]
    assert full[0] < 1.0 and full[1] > DURATION_S - 1.0 and view.zoomed is None
    assert not view.reset_zoom_button.isEnabled()
    y = float(np.mean(view.feature_plot.getViewBox().viewRange()[1]))
    _click_view(qtbot, view.graphics, view.feature_plot, 40.0, y)  # outside the masked span: no zoom
    assert view.zoomed is None and view.feature_plot.getViewBox().viewRange()[0] == pytest.approx(full)
    _click_view(qtbot, view.graphics, view.feature_plot, 15.0, y)
    assert view.zoomed == (10.0, 20.0)
    x0, x1 = view.feature_plot.getViewBox().viewRange()[0]
    assert x0 == pytest.approx(10.0 - 2.5) and x1 == pytest.approx(20.0 + 2.5)  # 25 % margin each side
    assert view.reset_zoom_button.isEnabled()
    # Esc (focus in the plot after the click) shows everything again; so does the button.
    view.graphics.setFocus()
    QTest.keyClick(view.graphics, Qt.Key.Key_Escape)
    assert view.zoomed is None and view.feature_plot.getViewBox().viewRange()[0] == pytest.approx(full)
    assert view.zoom_to_span_at(12.0) and view.zoomed == (10.0, 20.0)
    view.reset_zoom_button.click()
    assert view.zoomed is None and view.feature_plot.getViewBox().viewRange()[0] == pytest.approx(full)
    # A channel without masked windows has no span to zoom to.
    view.set_token("Cz")
    assert not view.zoom_to_span_at(15.0) and view.zoomed is None


def test_masks_change_marks_the_analysis_stale(analysed, qtbot):
    win = analysed
    first = win.model.analysis
    assert not win.model.analysis_stale and "analysed" in win.analysis_label.text()
    win.model.add_segment(30.0, 31.0, ["Cz"])
    assert win.model.analysis_stale and win.model.analysis is first  # kept, marked stale
    assert STALE_TEXT in win.trajectory_view.banner.plain_text and "re-run" in win.analysis_label.text()
    win.run_analysis()
    qtbot.waitUntil(lambda: win.model.analysis is not first and not win.runner.busy, timeout=20000)
    assert not win.model.analysis_stale and STALE_TEXT not in win.trajectory_view.banner.plain_text
    assert win.model.analysis.user_masked[30, win.model.analysis.token_index("Cz")]


def test_the_occlusion_preference_switches_the_attribution_passes(analysed, qtbot):
    from dataclasses import replace

    win = analysed
    assert win.prefs.occlusion and win.model.analysis.occlusion is not None  # on by default
    first = win.model.analysis
    win.apply_preferences(replace(win.prefs, occlusion=False))
    assert win.run_analysis()
    qtbot.waitUntil(lambda: win.model.analysis is not first and not win.runner.busy, timeout=20000)
    assert win.model.analysis.occlusion is None and win.model.analysis.missing_evidence is None


def test_clicks_in_the_views_move_the_cursor_and_browser(analysed, qtbot):
    win = analysed
    win.show_dock(win.trajectory_dock)
    win.browser.set_page_length(10.0)
    view = win.trajectory_view
    _click_view(qtbot, view.plot_widget, view.plot, 42.0, 0.5)
    assert win.model.cursor_s == pytest.approx(42.0, abs=0.5)
    start, stop = win.browser.visible_range()
    assert (start + stop) / 2 == pytest.approx(42.0, abs=0.5)
    assert view.cursor.value() == pytest.approx(win.model.cursor_s)
    # Circumplex: a click on the point of window 7 moves to its centre.
    win.show_dock(win.circumplex_dock)
    qtbot.waitUntil(lambda: win.circumplex_view.isVisible())
    cv = win.circumplex_view
    p = win.model.analysis.probabilities[7]
    _click_view(qtbot, cv.graphics, cv.plot, float(p[0]), float(p[1]))
    # the click lands on a whole pixel: the window chosen is the one nearest to where it landed (points of a
    # short dock are a pixel or two apart)
    vb = cv.plot.getViewBox()
    landed = vb.mapSceneToView(cv.graphics.mapToScene(cv.graphics.mapFromScene(vb.mapViewToScene(
        QPointF(float(p[0]), float(p[1]))))))
    target = win.model.analysis.window_starts[cv.point_near(landed.x(), landed.y())] + 0.5
    assert win.model.cursor_s == pytest.approx(target)
    # Attention: a click at 25 s.
    win.show_dock(win.attention_dock)
    qtbot.waitUntil(lambda: win.attention_view.isVisible())
    av = win.attention_view
    _click_view(qtbot, av.graphics, av.plot, 25.0, 1.0)
    assert win.model.cursor_s == pytest.approx(25.0, abs=0.5) and av.cursor.value() == pytest.approx(win.model.cursor_s)


def _slow_run_contexts(started, *args, cancel=None, **kwargs):
    started.set()
    while not cancel.is_set():
        time.sleep(0.005)
    check_cancel(cancel)


def test_cancel_an_analysis_midway(window, recording, tmp_path, qtbot, tiny_model, monkeypatch, dialogs):
    started = threading.Event()
    core_analyze = importlib.import_module("mmqnet_core.inference.analyze")  # the package exports analyze()
    monkeypatch.setattr(core_analyze, "run_contexts", lambda *a, **k: _slow_run_contexts(started, *a, **k))
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.use_model(tiny_model)
    QTest.keyClick(window, Qt.Key.Key_F5)  # the shortcut
    assert started.wait(20)
    assert window.cancel_button.isVisibleTo(window)
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=5000)
    assert window.runner.wait_for_all(5) and window.runner.pool.activeThreadCount() == 0
    assert window.model.analysis is None and not dialogs
    assert NO_ANALYSIS_TEXT in window.trajectory_view.banner.plain_text
    assert "cancelled" in window.log_panel.contents()


def test_a_cancelled_analysis_is_said_in_the_status_bar(window, recording, tmp_path, qtbot, tiny_model,
                                                         monkeypatch):
    """The progress bar vanished and nothing but a log line said what happened."""
    from app.main_window import ANALYSIS_CANCELLED_TEXT

    started = threading.Event()
    core_analyze = importlib.import_module("mmqnet_core.inference.analyze")
    monkeypatch.setattr(core_analyze, "run_contexts", lambda *a, **k: _slow_run_contexts(started, *a, **k))
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.use_model(tiny_model)
    window.run_analysis()
    assert started.wait(20)
    window.cancel_button.click()
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=5000)
    assert window.statusBar().currentMessage() == ANALYSIS_CANCELLED_TEXT.format(title=recording.title)


def test_no_checkpoint_shows_a_dialog(window, recording, tmp_path, dialogs, monkeypatch):
    from dataclasses import replace

    import mmqnet_core.inference.model_loading as loading

    monkeypatch.setattr(loading, "default_checkpoint_path", lambda: None)
    window.set_recording(recording, tmp_path / "rec.bdf")
    assert window.run_analysis() is False
    assert len(dialogs) == 1
    assert dialogs[0]["text"].startswith("No MMQ-Net checkpoint found at resources/checkpoint/model.safetensors")
    # what is wrong in the text, where to set a checkpoint under it: said once (it was in both)
    assert "Edit > Preferences > Model checkpoint" in dialogs[0]["informative"]
    assert (dialogs[0]["text"] + dialogs[0]["informative"]).count("Preferences") == 1
    window.apply_preferences(replace(window.prefs, checkpoint=str(tmp_path / "gone.safetensors")))
    assert window.run_analysis() is False
    assert f"No MMQ-Net checkpoint found at {tmp_path / 'gone.safetensors'}" in dialogs[1]["text"]
    assert not any(w.name.startswith("Analysing") for w in window.runner.workers)


def test_model_label():
    class Meta:
        def __init__(self, extra):
            self.extra = extra

    class Model:
        def __init__(self, extra, synthetic):
            self.meta, self.is_synthetic = Meta(extra), synthetic

    assert model_label(Model({"untrained": True}, False)) == UNTRAINED_MODEL_LABEL
    assert model_label(Model({"training_data": "synthetic"}, True)) == SYNTHETIC_MODEL_LABEL
    assert model_label(Model({"training_data": "DEAP"}, False)) == ""


def test_subject_recordings_chosen_in_the_dialog_reach_the_analysis(window, recording, tmp_path, qtbot,
                                                                    tiny_model, monkeypatch):
    import app.main_window as main_window
    import app.subject_files_dialog as subject_files_dialog

    other = tmp_path / "other.bdf"
    chosen: dict = {}

    class FakeDialog:  # stands in for SubjectFilesDialog: the user adds a file and unticks the automatic search
        def __init__(self, paths, auto, *, recording_source=None, parent=None):
            chosen["shown_with"] = (tuple(paths), auto, recording_source)

        def exec(self):
            return True

        def values(self):
            return (other,), False

    monkeypatch.setattr(subject_files_dialog, "SubjectFilesDialog", FakeDialog)  # imported when first used
    assert not window.subject_files_action.isEnabled()  # nothing open yet
    window.set_recording(recording, tmp_path / "rec.bdf")
    assert window.subject_files_action.isEnabled()
    window.subject_files_action.trigger()
    assert chosen["shown_with"] == ((), True, tmp_path / "rec.bdf")
    assert window.model.subject_files == (other,) and window.model.find_subject_recordings is False
    seen: dict = {}

    def spy(rec, masks, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop here")

    monkeypatch.setattr(main_window, "run_analysis", spy)
    window.use_model(tiny_model)
    window.run_action.trigger()
    qtbot.waitUntil(lambda: "subject_files" in seen and not window.runner.busy)
    assert seen["subject_files"] == (other,) and seen["find_subject_recordings"] is False
    # another recording starts with no subject files and the automatic search on
    window.set_recording(recording, tmp_path / "rec2.bdf")
    assert window.model.subject_files == () and window.model.find_subject_recordings is True


def test_channels_per_page_combo_follows_the_keys(window, recording, tmp_path, qtbot):
    window.set_recording(recording, tmp_path / "rec.bdf")
    assert window.channels_combo.currentText() == "auto"
    window.channels_combo.setCurrentIndex(3)
    window.channels_combo.activated.emit(3)
    before = window.browser.channels_per_page_choice
    assert before == int(window.channels_combo.currentText())
    QTest.keyClick(window.browser, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert window.browser.channels_per_page_choice > before  # more channels per page
    qtbot.waitUntil(lambda: window.channels_combo.currentText() == str(window.browser.channels_per_page_choice))


def test_status_bar_names_the_channels_in_view(window, recording, tmp_path, qtbot):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.browser.set_channels_per_page(3)
    qtbot.waitUntil(lambda: f"ch 1-3/{len(CHANNELS)}" in window.page_label.text())
    window.browser.scroll_channels(2)
    qtbot.waitUntil(lambda: f"ch 3-5/{len(CHANNELS)}" in window.page_label.text())
    window.browser.set_channels_per_page(None)  # everything fits: no channel range
    window.resize(1400, 1000)
    qtbot.waitUntil(lambda: " ch " not in window.page_label.text())


def test_the_reconstruction_legends_never_cover_the_curves(analysed, qtbot):
    win = analysed
    win.show_dock(win.reconstruction_dock)
    view = win.reconstruction_view
    view.set_token(next(n for n in win.model.analysis.token_names if "GSR" in n))  # a waveform too
    qtbot.waitUntil(lambda: view.graphics.isVisible())
    QTest.qWait(50)
    for plot in (view.feature_plot, view.wave_plot):
        if not plot.isVisible():
            continue
        legend = plot.legend
        names = [label.text for _, label in legend.items]
        assert names, "the legend names the curves"
        box = plot.getViewBox().sceneBoundingRect()
        # It sat over the first seconds of the curves (top left of the plot); now it has a row of its own.
        assert not legend.sceneBoundingRect().intersects(box), names
        assert legend.sceneBoundingRect().bottom() <= box.top()


def test_many_hidden_channels_leave_the_attention_maps_readable(window, recording, tmp_path, qtbot, tiny_model):
    """After Simulate missing data the note listed 6 channels and "... and 34 more": in the default dock the maps
    under it were squeezed to one row of pixels, their colour-bar labels drawn over each other."""
    from app.attention_map_view import GRAPHICS_MIN_PX, NOTE_LINES

    window.set_recording(recording, tmp_path / "rec.bdf")
    names = [c[0] for c in CHANNELS]
    for k, name in enumerate(names[:5]):
        window.model.add_segment(5.0 + 8 * k, 10.0 + 8 * k, [name])
    window.use_model(tiny_model)
    window.run_analysis()
    wait_analysis(qtbot, window)
    window.show_dock(window.attention_dock)
    view = window.attention_view
    qtbot.waitUntil(lambda: view.graphics.isVisible())
    QTest.qWait(50)
    lines = view.note.text().split("\n")
    assert len(lines) <= NOTE_LINES + 1 and "and 3 more channels" in lines[-1]
    assert all(name in view.note.toolTip() for name in names[:5])  # every one, on hover
    assert view.graphics.height() >= GRAPHICS_MIN_PX
    assert view.plot.getViewBox().height() >= 40 and view.occ_plot.getViewBox().height() >= 25


def test_view_combos_fit_their_items_when_the_view_was_opened_before_the_analysis(window, recording, tmp_path,
                                                                                  qtbot, tiny_model):
    """Opened while empty, the combos kept an empty combo's width: "P(high va", "category"."""
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.show_dock(window.attention_dock)
    view = window.attention_view
    qtbot.waitUntil(lambda: view.family_combo.isVisible())
    window.use_model(tiny_model)
    window.run_analysis()
    wait_analysis(qtbot, window)
    QTest.qWait(50)
    for combo in (view.family_combo, view.target_combo):
        fm = combo.fontMetrics()
        assert combo.width() > fm.horizontalAdvance(combo.currentText()), combo.currentText()
