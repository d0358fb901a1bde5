"""Session 8's clinician/researcher walkthrough of the analysis side: one test per defect found under Xvfb."""

from __future__ import annotations

import re

from app.plot_helpers import EMPTY_SPAN_S

from .conftest import make_recording, wait_analysis, wait_loaded


def _tick_strings(plot) -> list[str]:
    """The labels the bottom axis of ``plot`` draws for its current range."""
    axis = plot.getAxis("bottom")
    lo, hi = plot.getViewBox().viewRange()[0]
    levels = axis.tickValues(lo, hi, max(axis.width(), 600))
    values = [v for _, vs in levels for v in vs]
    return axis.tickStrings(values, 1.0, levels[0][0]) if values else []


def _empty_time_plots(win) -> dict[str, object]:
    tv, av, rv = win.trajectory_view, win.attention_view, win.reconstruction_view
    return {"trajectory": tv.entropy_plot, "attention": av.plot, "reconstruction": rv.feature_plot}


def test_empty_analysis_views_span_the_recording_not_negative_time(window, tmp_path, qtbot, tiny_model):
    # Before any analysis the attention view read "-00:00.4 ... 00:00.4" (pyqtgraph's default range around 0)
    # and the others "00:00.1 ... 00:00.9": times that belong to no recording.
    for name, plot in _empty_time_plots(window).items():
        lo, hi = plot.getViewBox().viewRange()[0]
        assert (lo, hi) == (0.0, EMPTY_SPAN_S), name
        assert not any(s.startswith("-") for s in _tick_strings(plot)), name
    recording = make_recording(45.0)  # not EMPTY_SPAN_S long
    window.set_recording(recording, tmp_path / "rec.bdf")
    wait_loaded(qtbot, window)
    for name, plot in _empty_time_plots(window).items():
        lo, hi = plot.getViewBox().viewRange()[0]
        assert lo == 0.0 and abs(hi - 45.0) < 1e-6, (name, lo, hi)
        strings = _tick_strings(plot)
        assert strings and not any(s.startswith("-") for s in strings), (name, strings)
    # after an analysis, a new recording clears the views back to its own span
    window.use_model(tiny_model)
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    window.set_recording(recording, tmp_path / "again.bdf")
    for name, plot in _empty_time_plots(window).items():
        lo, hi = plot.getViewBox().viewRange()[0]
        assert lo == 0.0 and abs(hi - 45.0) < 1e-6, (name, lo, hi)


def _eeg_only(recording):
    """``recording`` with its EEG channels only (the model's other tokens have no channel)."""
    from mmqnet_core.recording import Modality, Recording

    keep = [c for c in recording.channels if c.modality == Modality.EEG]
    raw = recording.raw.copy().pick([c.name for c in keep])
    return Recording(raw=raw, channels=tuple(keep), is_synthetic=True)


def test_attention_note_sums_up_absent_channels_and_the_occlusion_row_stays_readable(window, recording, tmp_path,
                                                                                     qtbot, tiny_model):
    # A one-channel EDF: the note listed the model's absent channels one per line ("Fp1: 120/120 windows hidden:
    # 120 no channel", ...) although "Only channels in the recording" was ticked, and the occlusion map's one row
    # was 47 px high: its colour bar's ticks ran into each other and its label was cut.
    from app.attention_map_view import OCCLUSION_MIN_PX, absent_text

    window.set_recording(_eeg_only(recording), tmp_path / "eeg.bdf")
    window.use_model(tiny_model)
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    view = window.attention_view
    result = window.model.analysis
    absent = [result.token_names[n] for n, c in enumerate(result.token_channels) if c is None]
    assert absent == ["hEOG", "GSR", "Resp"]
    note = view.note.text()
    assert absent_text(3, len(result.token_names)) in note
    assert not any(line.startswith(name + ":") for line in note.splitlines() for name in absent), note
    assert all(name in view.note.toolTip() for name in absent)  # every hidden channel still in the tooltip
    assert view.occ_rows == ["EEG"]
    assert view.occ_plot.maximumHeight() >= OCCLUSION_MIN_PX
    view.present_only.setChecked(False)  # every token: the absent ones are listed again
    assert any(line.startswith("hEOG:") for line in view.note.text().splitlines()) or "more channels" in \
        view.note.text()
    assert absent_text(3, len(result.token_names)) not in view.note.text()


def test_the_trajectorys_shadings_and_masked_strip_are_in_its_legend(window, recording, tmp_path, qtbot, tiny_model):
    # The red strip along the bottom of the P(high) axis (share of channels masked) and the red/orange/grey
    # shadings had no legend entry: the strip read as a probability of ~0.1.
    from app.trajectory_view import SPAN_LEGEND

    window.set_recording(recording, tmp_path / "rec.bdf")
    window.model.add_segment(10.0, 20.0, ["Fz", "GSR"])
    window.use_model(tiny_model)
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    view = window.trajectory_view
    assert SPAN_LEGEND["share"] in view.span_legend
    assert SPAN_LEGEND["masked"] not in view.span_legend  # nothing drawn: no entry
    legend_texts = [label.text for _, label in view.legend.items]
    assert legend_texts.index(SPAN_LEGEND["share"]) > legend_texts.index("valence P(high)")  # after the curves
    window.model.add_segment(30.0, 40.0, [])  # every channel
    window.run_action.trigger()
    qtbot.waitUntil(lambda: not window.runner.busy and SPAN_LEGEND["masked"] in view.span_legend, timeout=30000)
    assert view.masked_spans.shown
    assert view.span_legend.count(SPAN_LEGEND["share"]) == 1  # kept, not repeated
    window.model.set_analysis(None)
    assert view.span_legend == []


def test_the_circumplex_colour_bar_reads_time_like_the_time_axes(window, recording, tmp_path, qtbot, tiny_model):
    # Its colour bar read "time (s)" with 0-200 beside views in h:mm:ss (a 3-h recording: 0-10800), and an empty
    # plane showed a 0-1 s bar.
    from app.circumplex_view import TIME_BAR_LABEL, CircumplexView

    view = window.circumplex_view
    assert not view.colour_bar.isVisible()
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.use_model(tiny_model)
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    assert view.colour_bar.isVisible()
    assert view.colour_bar.getAxis("left").labelText == TIME_BAR_LABEL
    ticks = view.colour_bar.axis._tickLevels[0]
    assert [text for _, text in ticks] == ["00:10", "00:20", "00:30", "00:40", "00:50"]
    hours = [text for _, text in CircumplexView.time_ticks(0.0, 3 * 3600.0)]
    assert hours == ["00:00", "30:00", "1:00:00", "1:30:00", "2:00:00", "2:30:00", "3:00:00"]  # as TimeAxis
    window.model.set_analysis(None)
    assert not view.colour_bar.isVisible()


def test_the_report_lists_masks_in_the_time_axes_clock():
    # The report listed "3700.0-3725.5 s" where the time axes and the mask table said 1:01:40.
    from app.report import mask_lines
    from mmqnet_core.masking import MaskSet, SegmentMask

    masks = MaskSet(segments=(SegmentMask(start_s=3700.0, end_s=3725.5, channels=("Cz",)),))
    assert mask_lines(masks) == ("Cz: 1:01:40.0-1:02:05.5 (user)",)


def test_spectrum_dialog_reads_time_like_the_axes_and_shows_spectrogram_errors_on_its_tab(qtbot, recording,
                                                                                          monkeypatch):
    # Its span read "20.00 s" and its spectrogram's axis was pyqtgraph's "time (s)" (ks on long recordings);
    # a spectrogram error went to a label on the other tab, so the spectrogram tab stayed blank without a word.
    import app.spectrum_dialog as spectrum_dialog
    from app.plot_helpers import TIME_LABEL, TimeAxis
    from mmqnet_core.errors import MMQNetError

    dialog = spectrum_dialog.SpectrumDialog(recording, ["Fz"], 5.0, 20.0)
    qtbot.addWidget(dialog)
    assert dialog.start_edit.text() == "00:05.00" and dialog.stop_edit.text() == "00:20.00"
    assert dialog.stop_edit.valueFromText("0:30") == 30.0 and dialog.stop_edit.valueFromText("45") == 45.0
    dialog.stop_edit.lineEdit().setText("00:30")
    dialog.stop_edit.interpretText()
    assert dialog.stop_edit.value() == 30.0
    dialog.update_spectrum()
    assert dialog.spectrum.stop_s == 30.0 and dialog.windowTitle().endswith("00:05.0-00:30.0")
    axis = dialog.sg_plot.getPlotItem().getAxis("bottom")
    assert isinstance(axis, TimeAxis) and axis.labelText == TIME_LABEL

    def fail(*_args, **_kwargs):
        raise MMQNetError("Cannot compute a spectrogram of Fz: too short.")

    monkeypatch.setattr(spectrum_dialog, "spectrogram_track", fail)
    dialog.tabs.setCurrentIndex(1)
    assert dialog.sg_message.text() == "Cannot compute a spectrogram of Fz: too short."
    assert dialog.tabs.currentWidget().isAncestorOf(dialog.sg_message)  # on the tab shown


def test_reconstruction_legend_names_only_what_is_drawn_and_says_why_there_is_no_error(window, recording, tmp_path,
                                                                                       qtbot, tiny_model):
    # With nothing hidden the legend still named "reconstruction" and "baseline"; with a user mask over the whole
    # channel it named an "original" that is not drawn, and no line said why no error was shown.
    from app.reconstruction_view import NO_ORIGINAL_TEXT

    window.set_recording(recording, tmp_path / "rec.bdf")
    window.model.set_channel_masked("Cz", True)
    window.use_model(tiny_model)
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    view = window.reconstruction_view
    window.show_dock(window.reconstruction_dock)

    def legend(plot_legend):
        return [label.text for _, label in plot_legend.items]

    view.set_token("Pz")  # nothing hidden: the original only
    assert view.feature is not None
    assert legend(view.feature_legend) == ["original"]
    view.set_token("Cz")  # masked as a whole: no original, a reconstruction
    assert legend(view.feature_legend) == ["reconstruction (MMQ-Net)"]
    assert view.errors_label.text() == NO_ORIGINAL_TEXT and not view.errors_label.isHidden()
    window.model.set_analysis(None)
    assert legend(view.feature_legend) == [] and legend(view.wave_legend) == []


def test_every_analysis_view_says_how_many_of_the_models_channels_the_recording_has(window, recording, tmp_path,
                                                                                      qtbot, tiny_model):
    # A one-channel EDF gave a smooth trajectory with nothing saying it rested on 1 of the model's 40 inputs.
    from app.analysis_banner import coverage_text

    window.set_recording(recording, tmp_path / "rec.bdf")
    window.use_model(tiny_model)
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    assert coverage_text(window.model.analysis) == ""  # every channel of the model is there: nothing said
    assert "channels in this recording" not in window.trajectory_view.banner.plain_text
    window.set_recording(_eeg_only(recording), tmp_path / "eeg.bdf")
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    text = "4 of the model's 7 channels in this recording"
    assert coverage_text(window.model.analysis) == text
    for view in window.analysis_views().values():
        assert text in view.banner.plain_text


def test_shortcuts_list_the_reconstruction_zoom_and_show_every_action_whole(window, qtbot):
    # The reconstruction view's click-to-zoom and Esc were in no list, and at 560 px the dialog cut its longest
    # actions ("Go to a time (hh:mm:ss, mm:ss, seconds, ...").
    dialog = window.show_shortcuts()
    qtbot.addWidget(dialog)
    rows = dict((what, keys) for keys, what in dialog.rows())
    zoom = next(what for what in rows if what.startswith("Zoom to it"))
    assert "reconstruction view" in rows[zoom] and "Esc" in zoom
    qtbot.waitExposed(dialog)
    table = dialog.table
    fm = table.fontMetrics()
    for r in range(table.rowCount()):
        for c in range(2):
            item = table.item(r, c)
            assert item.toolTip() == item.text()
            assert fm.horizontalAdvance(item.text()) <= table.columnWidth(c), item.text()
    dialog.close()


def test_subject_files_remove_and_clear_act_only_when_there_is_something(qtbot, tmp_path):
    # Remove and Clear were enabled over an empty list (buttons that did nothing).
    from app.subject_files_dialog import SubjectFilesDialog

    from .conftest import write_test_bdf

    other = write_test_bdf(tmp_path / "synthetic_other.bdf", duration_s=5.0)
    dialog = SubjectFilesDialog([], find_automatically=True, recording_source=tmp_path / "own.bdf")
    qtbot.addWidget(dialog)
    assert not dialog.remove_button.isEnabled() and not dialog.clear_button.isEnabled()
    dialog.add_paths([other])
    assert dialog.clear_button.isEnabled() and not dialog.remove_button.isEnabled()
    dialog.list.item(0).setSelected(True)
    assert dialog.remove_button.isEnabled()
    dialog.remove_selected()
    assert not dialog.remove_button.isEnabled() and not dialog.clear_button.isEnabled()


def test_mask_table_gives_a_whole_channel_mask_its_times(window, tmp_path, qtbot):
    # A whole-channel mask had blank Start and End cells; the "whole channel" word is in the last column, out of
    # sight in the dock, so the row read as a mask of unknown times.
    from app.mask_table import COLUMNS

    window.set_recording(make_recording(45.0), tmp_path / "rec.bdf")
    window.model.toggle_channel_mask("GSR")
    table = window.mask_table.table
    start, end = COLUMNS.index("Start"), COLUMNS.index("End")
    assert (table.item(0, start).text(), table.item(0, end).text()) == ("00:00.00", "00:45.00")
    assert "whole recording" in table.item(0, start).toolTip()


def test_analysing_with_every_channel_masked_says_what_to_do_in_the_window(window, recording, tmp_path, qtbot,
                                                                         tiny_model, dialogs):
    # The dialog said "Delete or fix the mask file named above" under a message that named no file: the masks
    # were made in the window.
    from app.errors import ANALYSIS_MASK_WHAT_TO_DO

    window.set_recording(recording, tmp_path / "rec.bdf")
    for name in recording.ch_names:
        window.model.set_channel_masked(name, True)
    window.use_model(tiny_model)
    window.run_action.trigger()
    qtbot.waitUntil(lambda: not window.runner.busy and bool(dialogs), timeout=30000)
    assert "masked or missing" in dialogs[0]["text"]
    assert dialogs[0]["informative"] == ANALYSIS_MASK_WHAT_TO_DO and "file" not in dialogs[0]["informative"]
    assert window.model.analysis is None


def test_the_time_cursor_moves_by_keyboard_in_the_analysis_views(window, recording, tmp_path, qtbot, tiny_model):
    # The time cursor of the analysis views moved by mouse clicks only.
    from PySide6.QtCore import Qt

    window.set_recording(recording, tmp_path / "rec.bdf")
    window.use_model(tiny_model)
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    result = window.model.analysis
    w = result.window_s
    first = float(result.window_starts[0]) + w / 2
    last = float(result.window_starts[-1]) + w / 2
    views = {"trajectory": window.trajectory_view.plot_widget, "circumplex": window.circumplex_view.graphics,
             "attention": window.attention_view.graphics}
    for name, widget in views.items():
        jumps = []
        view = window.analysis_views()[name]
        view.jumpRequested.connect(jumps.append)
        assert widget.focusPolicy() == Qt.FocusPolicy.StrongFocus, name  # Tab reaches it
        qtbot.keyClick(widget, Qt.Key.Key_Home)
        assert window.model.cursor_s == first, name
        qtbot.keyClick(widget, Qt.Key.Key_Right)
        assert window.model.cursor_s == first + w, name
        qtbot.keyClick(widget, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
        assert window.model.cursor_s == first + 11 * w, name
        qtbot.keyClick(widget, Qt.Key.Key_Left)
        assert window.model.cursor_s == first + 10 * w, name
        qtbot.keyClick(widget, Qt.Key.Key_End)
        qtbot.keyClick(widget, Qt.Key.Key_Right)  # not past the last window
        assert window.model.cursor_s == last, name
        assert jumps[-1] == last and len(jumps) == 6, (name, jumps)
        view.jumpRequested.disconnect(jumps.append)


def test_the_attention_and_occlusion_maps_share_one_time_scale_on_screen(window, recording, tmp_path, qtbot,
                                                                          tiny_model):
    # Each map's axes sized themselves to their own labels: with "Cz"... over "EEG" the occlusion map's plot area
    # started further right than the attention map's, so a time on one was not under the same time on the other.
    window.set_recording(_eeg_only(recording), tmp_path / "eeg.bdf")
    window.use_model(tiny_model)
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    window.show_dock(window.attention_dock)
    view = window.attention_view
    qtbot.waitUntil(lambda: view.graphics.isVisible() and view.occ_plot.isVisible())
    qtbot.wait(100)
    a = view.plot.getViewBox().sceneBoundingRect()
    o = view.occ_plot.getViewBox().sceneBoundingRect()
    assert abs(a.left() - o.left()) <= 1 and abs(a.right() - o.right()) <= 1, (a, o)


def test_the_reports_headline_gives_the_share_of_windows_predicted_high(tiny_model):
    # "Mean probability of the high class - valence: 0.48 (low)" for a recording whose valence was high in half
    # of its windows: the verdict "(low)" came from averaging two states.
    import dataclasses

    import numpy as np

    from app.analysis import run_analysis
    from app.report import ReportInfo, headline

    mc_result = run_analysis(make_recording(), None, tiny_model).result
    probs = np.asarray(mc_result.probabilities, float).copy()
    n = probs.shape[0]
    probs[: n // 2, 0], probs[n // 2:, 0] = 0.9, 0.06  # two states of valence, mean below 0.5
    result = dataclasses.replace(mc_result, probabilities=probs, no_context=np.zeros(n, bool))
    info = ReportInfo.from_analysis(result)
    name = result.targets[0]
    assert info.high_share[name] == (n // 2) / n
    line = headline(info)
    assert f"{name}: mean P(high) {info.means[name]:.2f}, high in {100 * (n // 2) / n:.0f} % of windows" in line
    assert re.search(r"\d \((low|high)\)", line) is None  # no verdict from the mean


def test_p_high_axes_say_what_p_high_means(window):
    # "P(high)" on the axes was explained nowhere in the window.
    from app.trajectory_view import P_HIGH_TIP

    assert "probability" in P_HIGH_TIP and "1-9" in P_HIGH_TIP
    assert window.trajectory_view.plot.getAxis("left").toolTip() == P_HIGH_TIP
    for side in ("left", "bottom"):
        assert window.circumplex_view.plot.getAxis(side).toolTip() == P_HIGH_TIP


def test_tab_reaches_the_reconstruction_plots_so_esc_resets_the_zoom(window, recording, tmp_path, qtbot,
                                                                     tiny_model):
    # The plots took focus by mouse click only: without a mouse, Esc (reset zoom) never reached the view.
    from PySide6.QtCore import Qt

    view = window.reconstruction_view
    assert view.graphics.focusPolicy() == Qt.FocusPolicy.StrongFocus
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.model.add_segment(10.0, 20.0, ["Fz"])
    window.use_model(tiny_model)
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    window.show_dock(window.reconstruction_dock)
    view.set_token("Fz")
    qtbot.waitUntil(view.graphics.isVisible)
    assert view.zoom_to_span_at(15.0) and view.zoomed is not None
    view.graphics.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(view.graphics.hasFocus)
    qtbot.keyClick(view.graphics, Qt.Key.Key_Escape)
    assert view.zoomed is None


def test_the_attention_statement_before_an_analysis_speaks_of_no_map_below(window):
    from app.attention_map_view import NO_RESULT_STATEMENT

    view = window.attention_view
    assert view.statement.text() == NO_RESULT_STATEMENT and "below" not in NO_RESULT_STATEMENT
    assert NO_RESULT_STATEMENT.startswith("Attention is not attribution")


def _drawn_tick_labels(axis) -> list[str]:
    """The tick labels ``axis`` paints at its current size (pyqtgraph leaves out those that would stick out)."""
    from PySide6.QtGui import QImage, QPainter

    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [text for _, _, text in specs[2]] if specs else []


def test_a_short_trajectory_dock_keeps_the_0_and_1_labels(window, recording, tmp_path, qtbot, tiny_model):
    # In a short dock P(high) read 0.2-0.8 and the entropy row "0.5" alone: the labels of 0 and 1 stuck out of
    # the rows' fixed 5 % / 12 % padding and pyqtgraph left them out.
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.use_model(tiny_model)
    window.run_action.trigger()
    wait_analysis(qtbot, window)
    window.show_dock(window.trajectory_dock)
    window.trajectory_dock.setFloating(True)
    tv = window.trajectory_view
    for height in (250, 600):
        window.trajectory_dock.resize(1000, height)
        qtbot.wait(200)
        p_labels = _drawn_tick_labels(tv.plot.getAxis("left"))
        assert {"0", "1.0"} <= set(p_labels), (height, p_labels)
        # 0 and 1 always; 0.5 too where it does not overlap them (test_reading_session10: in a 250-px dock the row
        # is ~35 px high and "0.5" was drawn over both)
        entropy_labels = _drawn_tick_labels(tv.entropy_plot.getAxis("left"))
        assert entropy_labels == (["0", "0.5", "1"] if height >= 600 else ["0", "1"]), height
    window.trajectory_dock.setFloating(False)
