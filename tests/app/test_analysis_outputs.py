"""Exports of an analysis (CSV, view PNGs, one-page report as PNG/PDF, analysis folder), shortcuts, layout."""

import json

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QImage, QPainter

from app.main_window import MainWindow
from app.report import MASK_LIST_HEADING, MAX_MASK_LINES, PAGE_H, PAGE_W, STALE_REPORT_TEXT, ReportInfo, mask_lines, paint_report
from mmqnet_core.masking import MaskSet, SegmentMask

from .conftest import DURATION_S, wait_analysis


@pytest.fixture
def analysed(window, recording, tmp_path, qtbot, tiny_model):
    window.set_recording(recording, tmp_path / "rec.bdf")
    window.model.add_segment(10.0, 20.0, ["GSR"])
    window.use_model(tiny_model)
    window.run_analysis()
    wait_analysis(qtbot, window)
    return window


def test_exports_write_files(analysed, tmp_path, dialogs):
    win = analysed
    result = win.model.analysis
    assert all(a.isEnabled() for a in win.analysis_output_actions)
    csv = win.export_trajectories(tmp_path / "out" / "traj.csv")
    table = pd.read_csv(csv)
    assert len(table) == result.n_windows == int(DURATION_S)
    assert np.allclose(table["valence_prob"], result.probabilities[:, 0], atol=1e-5)
    assert list(tmp_path.joinpath("out").iterdir()) == [csv]  # no temporary file left behind
    pngs = win.export_views(tmp_path / "views", prefix="rec_")
    assert sorted(p.name for p in pngs) == ["rec_attention.png", "rec_circumplex.png", "rec_reconstruction.png",
                                            "rec_trajectory.png"]
    for p in pngs:
        image = QImage(str(p))
        assert image.width() >= 400 and image.height() >= 200
        grid = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
        assert len(grid) > 10  # drawn, not blank
    report = win.export_report(tmp_path / "report.png")
    image = QImage(str(report))
    assert (image.width(), image.height()) == (PAGE_W, PAGE_H)
    pdf = win.export_report(tmp_path / "report.pdf")
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000
    files = win.save_analysis(tmp_path / "folder")
    summary = json.loads(files["summary"].read_text())
    assert summary["n_windows"] == result.n_windows and "UNTRAINED" in summary["model"]
    assert not dialogs


def test_export_error_goes_to_the_dialog(analysed, tmp_path, dialogs):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert analysed.export_trajectories(blocker / "traj.csv") is None  # a file where a folder should be
    assert len(dialogs) == 1 and dialogs[0]["title"] == "Error while exporting the trajectories to traj.csv"
    assert dialogs[0]["text"].startswith(f"Cannot write {blocker / 'traj.csv'}") and not dialogs[0]["details"]


def test_report_text(analysed):
    info = analysed.report_info()
    assert isinstance(info, ReportInfo)
    assert info.synthetic_recording and "UNTRAINED" in info.model_label and not info.stale
    assert "1 user" in info.masking and set(info.means) == {"valence", "arousal"}
    analysed.model.add_segment(30.0, 32.0)
    assert analysed.report_info().stale


class _TextRecorder(QPainter):
    """A painter that remembers every string drawn (the report is painted by Python code)."""

    def __init__(self, device) -> None:
        super().__init__(device)
        self.texts: list[str] = []

    def drawText(self, *args) -> None:  # noqa: N802 - Qt API
        self.texts.append(args[-1])
        super().drawText(*args)


def _painted_text(info: ReportInfo) -> list[str]:
    image = QImage(PAGE_W, PAGE_H, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = _TextRecorder(image)
    try:
        paint_report(painter, info, {})
    finally:
        painter.end()
    return painter.texts


def test_report_lists_the_masks_with_channels_times_and_source(analysed, qtbot):
    win = analysed
    masks = win.model.masks.with_channel("Cz").with_segment(
        SegmentMask(start_s=40.0, end_s=45.5, channels=("Fz", "Pz"), source="simulated"))
    win.model.edit_masks(masks, "test masks")
    win.run_analysis()  # the report lists the masks of the analysis (see the stale test below)
    wait_analysis(qtbot, win)
    lines = win.report_info().masks
    assert lines == ("Cz: whole recording (user)", "GSR: 00:10.0-00:20.0 (user)",
                     "Fz, Pz: 00:40.0-00:45.5 (simulated)")  # h:mm:ss as the time axes and the mask table
    painted = "\n".join(_painted_text(win.report_info()))
    assert MASK_LIST_HEADING in painted
    for line in lines:
        assert line in painted
    # Without masks nothing is listed; past MAX_MASK_LINES the rest is counted, not drawn.
    assert mask_lines(None) == () and mask_lines(MaskSet()) == ()
    many = MaskSet(segments=tuple(SegmentMask(start_s=float(i), end_s=i + 0.5) for i in range(MAX_MASK_LINES + 3)))
    info = ReportInfo.from_analysis(win.model.analysis, many)
    assert len(info.masks) == MAX_MASK_LINES + 3 and info.masks[0] == "all channels: 00:00.0-00:00.5 (user)"
    painted = _painted_text(info)
    assert sum("all channels:" in t for t in painted) == MAX_MASK_LINES
    assert any("and 3 more" in t for t in painted)


def test_a_stale_report_lists_the_masks_the_analysis_was_run_with(analysed):
    """Masks changed after the analysis: the report listed the new masks beside the analysis' own figures
    ("segments: 294 simulated; 0.0 % of tokens masked by the user")."""
    win = analysed
    win.model.edit_masks(win.model.masks.with_channel("Cz").with_segment(SegmentMask(start_s=40.0, end_s=45.5)),
                         "after the analysis")
    info = win.report_info()
    assert info.stale
    assert info.masks == ("GSR: 00:10.0-00:20.0 (user)",)  # what the results were computed with
    assert "0 whole channel(s) masked; segments: 1 user" in info.masking
    painted = "\n".join(_painted_text(info))
    assert STALE_REPORT_TEXT in painted and "Cz" not in painted


def test_shortcuts_dialog_lists_the_analysis_keys(window, qtbot):
    dialog = window.show_shortcuts()
    qtbot.addWidget(dialog)
    rows = dict((what, keys) for keys, what in dialog.rows())
    assert rows["Run MMQ-Net"] == "F5 / Ctrl+R"
    assert rows["Keyboard shortcuts"] == "F1"
    assert rows["Simulate missing data"] == "Ctrl+Shift+M"
    assert "Show trajectory" in rows and "Mask mode on/off (Esc leaves it)" in rows
    keys = [k for k, _ in dialog.rows()]
    assert len(keys) == len(set(keys)), "two actions share a shortcut"


def test_the_shortcuts_dialog_filters_by_key_or_action(window, qtbot):
    """~60 rows, 15 visible at a time: a reader looking for the montage keys had to scroll through them all."""
    dialog = window.show_shortcuts()
    qtbot.addWidget(dialog)
    total = len(dialog.rows())
    qtbot.keyClicks(dialog.filter_edit, "montage")
    shown = dialog.shown_rows()
    assert 0 < len(shown) < total
    assert all("montage" in f"{keys} {what}".lower() for keys, what in shown)
    assert any("Ctrl+4" in keys for keys, _ in shown)  # double banana
    dialog.filter_edit.setText("ctrl+g")
    assert [what for _, what in dialog.shown_rows()] and all("ctrl+g" in k.lower() for k, _ in dialog.shown_rows())
    dialog.filter_edit.clear()
    assert len(dialog.shown_rows()) == total
    # rows as tall as their text, so that more of them fit
    assert dialog.table.verticalHeader().defaultSectionSize() <= dialog.fontMetrics().height() + 8


def test_dock_layout_is_restored(qtbot, settings_file):
    settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.show()
    assert [d.toggleViewAction() in win.menuBar().actions()[2].menu().actions() for d in win.analysis_docks]
    win.circumplex_dock.toggleViewAction().trigger()  # View menu: hide it
    assert not win.circumplex_dock.isVisible()
    win.close()
    again = MainWindow(settings=QSettings(str(settings_file), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    again.show()
    assert not again.circumplex_dock.isVisible() and again.tabifiedDockWidgets(again.log_dock)
    again.close()


def _rows(image: QImage, top: int, height: int) -> QImage:
    return image.copy(0, top, image.width(), height).convertToFormat(QImage.Format.Format_RGB32)


def test_view_images_show_the_plots_without_the_controls(analysed, qtbot):
    from app.reconstruction_view import NO_ORIGINAL_TEXT
    from app.view_export import _caption_image

    win = analysed
    for name, dock in (("trajectory", win.trajectory_dock), ("reconstruction", win.reconstruction_dock)):
        win.show_dock(dock)
        dock.setFloating(True)
        dock.resize(1000, 420)
        view = win.analysis_views()[name]
        qtbot.waitUntil(lambda v=view: v.isVisible() and v.width() >= 400 and v.height() >= 200)
        qtbot.wait(50)
        image = win.render_view(name)  # grabbed from the window, as File > Export analysis views does
        plot = view.plot_widget if name == "trajectory" else view.graphics
        banner, graphics = view.banner.grab().toImage(), plot.grab().toImage()
        assert image.width() == graphics.width()
        # The banner (it labels synthetic data and the model) on top, the plots at the bottom, pixel for pixel.
        assert _rows(image, 0, banner.height()) == _rows(banner, 0, banner.height())
        assert _rows(image, image.height() - graphics.height(), graphics.height()) == _rows(
            graphics, 0, graphics.height())
        middle = image.height() - banner.height() - graphics.height()
        if name == "trajectory":
            assert middle == 0  # nothing else
        else:  # the combo boxes and the Reset zoom button are replaced by one caption saying what they chose
            caption = view.export_parts()[1]
            assert caption.startswith("Channel GSR") and "feature level" in caption
            # and, under it, the line on the reconstruction error (here: why there is none, a user mask)
            lines = view.export_parts()[1:-1]
            assert lines[1:] == [NO_ORIGINAL_TEXT]
            assert middle == sum(_caption_image(line, image.width(), 1.0).height() for line in lines)
        dock.setFloating(False)
