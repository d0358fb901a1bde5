"""ReviewTools: the window's annotation and inspection commands, menus and the event list dock.

Built by the main window with one call (``ReviewTools(window)``) so that the window keeps only hook lines:

- **Annotations** menu: annotate mode (A), annotate the cursor (Shift+A), export as mne CSV or EDF+;
- **View > Event list** (Alt+6): the :class:`~app.event_list.EventList` dock; double-click a row to jump there;
- **View > Heart-rate row** (H): the browser's heart-rate row (:mod:`app.browser_heart_rate`);
- **Tools > Power spectrum...** (Ctrl+Shift+F): :class:`~app.spectrum_dialog.SpectrumDialog` over the page;
- **File > Recording info...** (Ctrl+I): :class:`~app.header_dialog.HeaderDialog`;
- **File > Export page (PNG/PDF)...**: the page as shown, captioned with its montage and display filters
  (:mod:`app.browser_export`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMenu, QMessageBox

from mmqnet_core.annotations import AnnotationError
from mmqnet_core.errors import MMQNetError
from mmqnet_core.recording import Modality, Recording

from .elided_label import warning_label
from .event_list import EventList
from .key_bindings import shortcuts

if TYPE_CHECKING:  # pragma: no cover
    from .header_dialog import HeaderDialog
    from .spectrum_dialog import SpectrumDialog
    from .main_window import MainWindow

log = logging.getLogger(__name__)

#: Free space kept on the output's disk beyond the size of an EDF+ export, bytes (the disk must not fill up).
EDF_EXPORT_SPARE_BYTES = 64 * 1024**2


def edf_export_refusal(recording, path: str | os.PathLike) -> AnnotationError | None:
    """Why ``recording`` cannot be exported as EDF+ into ``path`` (checked before anything is read), or ``None``.

    The export streams the recording in chunks (:mod:`mmqnet_core.io.edf_writer`), so its length is no reason any
    more (it held about three copies of the signal in memory: a recording above 1.5 GB of signal was refused). Left:
    a file name the export refuses (another extension, the recording itself) and a disk without room for the file.
    """
    import shutil

    from mmqnet_core.io.edf_writer import ExportError, export_plan

    try:
        plan = export_plan(path, recording, ())
    except ExportError as exc:
        return AnnotationError(str(exc))
    try:
        free = shutil.disk_usage(Path(path).parent).free
    except OSError:  # a missing folder: the write says so, naming the file
        return None
    if free < plan.n_bytes + EDF_EXPORT_SPARE_BYTES:
        return AnnotationError(
            f"Not enough space to export {recording.title} as {Path(path).name}: the file needs "
            f"{plan.n_bytes / 1e9:.2f} GB and {Path(path).parent} has {free / 1e9:.2f} GB free. Choose a folder on "
            "another disk, or free some space; nothing was written.")
    return None


def edf_export_notes(recording, path: str | os.PathLike) -> tuple[str, ...]:
    """What the user must know about exporting ``recording`` as EDF+ into ``path`` (a BDF requantised to 16 bits,
    EDF+D records written end to end, a padded last record: :func:`mmqnet_core.io.edf_writer.export_plan`'s notes,
    read from the header only); () when there is none or the export is refused (said by the refusal)."""
    from mmqnet_core.io.edf_writer import ExportError, export_plan

    try:
        return tuple(export_plan(path, recording, ()).notes)
    except (ExportError, OSError):
        return ()


class ReviewTools:
    """Annotation, spectrum and header commands of a :class:`~app.main_window.MainWindow`."""

    def __init__(self, window: "MainWindow") -> None:
        self.window = window
        self.layer = window.browser.annotation_layer
        self.store = self.layer.store
        self.event_list = EventList(self.store, window)
        self.event_list.jumpRequested.connect(window.browser.center_on)
        self.event_list.jumpRequested.connect(window.model.set_cursor)
        self.event_list.editRequested.connect(self.layer.edit)
        self.event_list.leaveRequested.connect(lambda: window.browser.setFocus(Qt.FocusReason.ShortcutFocusReason))
        self.event_dock = QDockWidget("Event list", window)
        self.event_dock.setObjectName("Event listDock")
        self.event_dock.setWidget(self.event_list)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.event_dock)
        window.tabifyDockWidget(window.mask_dock, self.event_dock)
        window.mask_dock.raise_()
        self.spectrum_dialog: SpectrumDialog | None = None
        self.header_dialog: HeaderDialog | None = None

        def action(text: str, slot, keys: tuple[str, ...] = (), tip: str = "", checkable: bool = False) -> QAction:
            a = QAction(text, window)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setStatusTip(tip)
            a.setToolTip(f"{tip} ({' or '.join(keys)})" if keys else tip)
            a.setCheckable(checkable)
            (a.toggled if checkable else a.triggered).connect(slot)
            window.addAction(a)  # shortcuts work whatever widget has the focus
            return a

        # The keys come from the one key table (app/key_bindings.py), which also lists them in the dialog and README.
        self.annotate_mode_action = action("&Annotate mode", self.layer.set_annotate_mode, shortcuts("annotate_mode"),
                                           "Drag across the traces to create an annotation", checkable=True)
        self.layer.annotateModeChanged.connect(self.annotate_mode_action.setChecked)
        self.annotate_cursor_action = action("Annotate at the c&ursor...", self.layer.create_at_cursor,
                                             shortcuts("annotate_cursor"),
                                             "Add an annotation at the cursor (the green line)")
        self.export_csv_action = action("Export annotations as &CSV (mne)...", self.ask_export_csv,
                                        tip="Save every annotation as an mne CSV file (mne.read_annotations)")
        self.export_edf_action = action("Export recording with annotations as &EDF+...", self.ask_export_edf,
                                        tip="Write a new EDF+ file (BDF+ for a BDF recording) with the signals, each "
                                            "channel at its own rate, and every annotation")
        self.export_page_action = action("Export &page (PNG/PDF)...", self.ask_export_page,
                                         tip="Save the page of traces as shown, with a caption naming the montage "
                                             "and display filters")
        self.show_events_action = action("Show event list", self.show_event_list, shortcuts("event_list"),
                                         "Show the table of annotations and type in its search box (Enter: the "
                                         "first match, Enter again: go there; Esc: back to the traces)")
        self.spectrum_action = action("Power &spectrum...", self.show_spectrum, shortcuts("spectrum"),
                                      "Welch power spectrum of the selected channels over the page")
        self.info_action = action("Recording &info...", self.show_header, shortcuts("recording_info"),
                                  "Header, patient and recording information, channels as recorded")
        # The heart-rate row's key (H) is the browser's (the key table); the menu shows it without binding it twice.
        self.heart_rate_action = action("&Heart-rate row\tH", window.browser.state.set_heart_rate,
                                        tip="Heart rate (bpm) from the first ECG, else PPG channel, in a row under "
                                            "the traces", checkable=True)
        window.browser.displayChanged.connect(self._sync_heart_rate_action)
        window.browser.displayChanged.connect(self._sync_event_clock)  # the event list reads time as the axis
        self.recording_actions = (self.annotate_mode_action, self.annotate_cursor_action, self.export_csv_action,
                                  self.export_edf_action, self.spectrum_action, self.info_action,
                                  self.export_page_action)
        for a in self.recording_actions:
            a.setEnabled(False)
        window.model.recordingLoaded.connect(self._on_recording_loaded)
        self._build_menus()
        # What the last EDF+ export changed (a BDF requantised to 16 bits): stays in the status bar until clicked
        # away or another recording is opened (a temporary message went as soon as a menu's status tip showed);
        # hidden, like the bar's other labels, only while a temporary message shows.
        self.export_note_label = warning_label(window, self.show_export_note_details)
        # after "SYNTHETIC data" and a damaged file's warning; twice the share of the room left that the montage and
        # filter text gets
        window.statusBar().insertWidget(2, self.export_note_label, 2)

    def table_actions(self) -> dict[str, QAction]:
        """The window actions whose keys the key table owns, by their name there (``Binding.action``)."""
        w = self.window
        return {"annotate_mode": self.annotate_mode_action, "annotate_cursor": self.annotate_cursor_action,
                "event_list": self.show_events_action, "spectrum": self.spectrum_action,
                "recording_info": self.info_action, "undo": w.undo_action, "redo": w.redo_action,
                "go_to_time": w.jump_action}

    @property
    def shortcut_actions(self) -> list[QAction]:
        """The actions with a keyboard shortcut (for the shortcuts dialog)."""
        return [self.annotate_mode_action, self.annotate_cursor_action, self.show_events_action,
                self.spectrum_action, self.info_action]

    def _menu(self, title: str) -> QMenu | None:
        for a in self.window.menuBar().actions():
            if a.menu() is not None and a.text().replace("&", "") == title:
                return a.menu()
        return None

    def _build_menus(self) -> None:
        bar = self.window.menuBar()
        file_menu, view_menu = self._menu("File"), self._menu("View")
        analysis, help_menu = self._menu("Analysis"), self._menu("Help")
        if file_menu is not None:
            quit_action = self.window.quit_action
            file_menu.insertAction(quit_action, self.export_page_action)
            file_menu.insertAction(quit_action, self.info_action)
            file_menu.insertSeparator(quit_action)
        if view_menu is not None:
            before = self.window.reset_layout_action
            view_menu.insertAction(before, self.heart_rate_action)
            view_menu.insertAction(before, self.event_dock.toggleViewAction())
            view_menu.insertAction(before, self.show_events_action)
            view_menu.insertSeparator(before)
        self.annotations_menu = QMenu("A&nnotations", bar)
        for a in (self.annotate_mode_action, self.annotate_cursor_action, None, self.show_events_action, None,
                  self.export_csv_action, self.export_edf_action):
            self.annotations_menu.addSeparator() if a is None else self.annotations_menu.addAction(a)
        self.tools_menu = QMenu("&Tools", bar)
        self.tools_menu.addAction(self.spectrum_action)
        self.tools_menu.addAction(self.info_action)
        bar.insertMenu(analysis.menuAction() if analysis is not None else None, self.annotations_menu)
        bar.insertMenu(help_menu.menuAction() if help_menu is not None else None, self.tools_menu)

    def _sync_heart_rate_action(self) -> None:
        a = self.heart_rate_action
        if a.isChecked() != self.window.browser.state.heart_rate:
            a.blockSignals(True)
            a.setChecked(self.window.browser.state.heart_rate)
            a.blockSignals(False)

    def show_event_list(self) -> None:
        """Alt+6: the event list's dock in front, with the keyboard in its search box."""
        self.window.show_dock(self.event_dock)
        self.event_list.focus_search()

    def _sync_event_clock(self) -> None:
        state = self.window.browser.state
        self.event_list.set_clock_start(state.start_time if state.clock_time else None)

    def _on_recording_loaded(self, _recording) -> None:
        for a in self.recording_actions:
            a.setEnabled(True)
        self.export_note_label.hide()  # about the previous recording's export
        if self.spectrum_dialog is not None:
            self.spectrum_dialog.close()
            self.spectrum_dialog = None

    # --- commands -----------------------------------------------------------------------------------------
    def show_spectrum(self) -> SpectrumDialog | None:
        """Spectrum of the selected channels (else the EEG channels of the page, else the page's) over the page."""
        rec = self.window.model.recording
        if rec is None:
            return None
        browser = self.window.browser
        channels = list(self.window.model.selection)
        if not channels:  # the channels drawn on the page (under a montage: those its derivations read)
            page = browser.page_recorded_channels or rec.ch_names
            eeg = [n for n in page if rec.channels[rec.index(n)].modality == Modality.EEG]
            channels = (eeg or page)[:8]
        start, stop = browser.visible_range()
        if self.spectrum_dialog is not None:
            self.spectrum_dialog.close()
        from .spectrum_dialog import SpectrumDialog  # on first use: it pulls in scipy.signal (start-up)

        self.spectrum_dialog = SpectrumDialog(rec, channels, start, min(stop, rec.duration_s), self.window,
                                              runner=self.window.runner, clock=browser.state)
        self.spectrum_dialog.show()
        return self.spectrum_dialog

    def show_header(self) -> HeaderDialog | None:
        rec = self.window.model.recording
        if rec is None:
            return None
        try:
            from .header_dialog import HeaderDialog  # on first use

            self.header_dialog = HeaderDialog(rec, self.window)
        except (MMQNetError, OSError) as exc:
            self.window.report_error(exc, f"reading the header of {rec.title}")
            return None
        self.header_dialog.show()
        return self.header_dialog

    def _ask_path(self, title: str, suffix: str, filters: str) -> Path | None:
        base = self.window.model.path.with_suffix("") if self.window.model.path is not None else Path("annotations")
        path, _ = QFileDialog.getSaveFileName(self.window, title, str(base) + suffix, filters)
        return Path(path) if path else None

    def ask_export_csv(self) -> None:
        path = self._ask_path("Export annotations", ".annotations.csv", "mne CSV (*.csv)")
        if path is not None:
            self.export_csv(path)

    def ask_export_edf(self) -> None:
        """Ask for a file name, then export in the background: ``.bdf`` (BDF+, 24-bit) is proposed for a BDF
        recording, whose samples a ``.edf`` file would requantise to 16 bits."""
        rec = self.window.model.recording
        if rec is None:
            return
        from mmqnet_core.io.edf_writer import source_kind

        if source_kind(rec) == "bdf":  # a BDF file (or a MAHNOB-HCI session's)
            path = self._ask_path("Export recording with annotations", ".annotated.bdf",
                                  "BDF+ (24-bit, as recorded) (*.bdf);;EDF+ (16-bit) (*.edf)")
        else:
            path = self._ask_path("Export recording with annotations", ".annotated.edf", "EDF+ (*.edf)")
        if path is not None:
            self.export_edf_in_background(path)

    def _recording_to_export(self, path: str | os.PathLike) -> Recording | None:
        """The recording to export as EDF+ into ``path``, or None (no recording, or refused: reported)."""
        rec = self.window.model.recording
        if rec is None:
            return None
        refusal = edf_export_refusal(rec, path)
        if refusal is not None:
            self.window.report_error(refusal, f"exporting {rec.title} as EDF+")
            return None
        return rec

    def export_edf_in_background(self, path: str | os.PathLike) -> bool:
        """Write the EDF+ export in a worker, streamed in chunks (progress in the status bar, cancelled by the
        status bar's cancel button or Ctrl+.: nothing is left written); False when it was refused or there is no
        recording."""
        rec = self._recording_to_export(path)
        if rec is None:
            return False
        annotations = self.store.annotations  # the set as it is now (an edit makes a new set)
        name = Path(path).name
        notes = edf_export_notes(rec, path)

        def done(out: Path) -> None:
            log.info("recording with annotations exported to %s", out)
            if notes:
                self.show_export_notes(Path(out).name, notes)  # "⚠ <file>: <what changed>" says it was written
            else:
                self.export_note_label.hide()
                self.window.statusBar().showMessage(f"exported {Path(out).name}", 5000)

        def cancelled() -> None:
            log.info("EDF+ export to %s cancelled; nothing written", path)
            self.window.statusBar().showMessage(f"Export of {name} cancelled; nothing was written.", 5000)

        self.window.runner.submit(annotations.export_edf, Path(path), rec, key="export_edf",
                                  name=f"Exporting {name}", on_result=done, on_cancelled=cancelled,
                                  on_error=lambda exc: self.window.report_error(
                                      self.window._write_error(exc, path), f"exporting the annotations to {path}"))
        return True

    def show_export_notes(self, name: str, notes: Sequence[str]) -> None:
        """Say what an export changed (e.g. 16-bit samples of a BDF) in the status bar until clicked away, not in
        a dialog (it was an info line in the log panel only, written by the export); no notes: nothing shown."""
        label = self.export_note_label
        if not notes:
            label.hide()
            return
        more = f" (+{len(notes) - 1} more)" if len(notes) > 1 else ""
        label.setText(f"\u26a0 Export: {notes[0]}{more}")  # what changed first: the bar elides the end
        label.setToolTip("\n".join([f"Exported {name}:", *notes, "(click for details; then it goes)"]))
        self._export_notes = (name, tuple(notes))
        self.window._set_status_widget_visible(label, True)  # not over a temporary message shown meanwhile

    def show_export_note_details(self) -> None:
        """The last export's notes in full, asked for by a click on the status bar's note, which then goes."""
        name, notes = self._export_notes
        self.export_note_label.hide()
        if not notes:
            return
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle(f"Exported {name}")
        box.setText(f"{name} was written; what the export changed:")
        box.setInformativeText("\n\n".join(notes))
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.exec()

    def ask_export_page(self) -> None:
        path = self._ask_path("Export page", ".page.png", "PNG image (*.png);;PDF (*.pdf)")
        if path is not None:
            self.export_page(path)

    def export_page(self, path: str | os.PathLike) -> Path | None:
        """The browser's page as PNG (or PDF for .pdf) with its montage and display filters named; None after
        reporting an error."""
        if self.window.model.recording is None:
            return None
        from .browser_export import save_page

        try:
            out = save_page(self.window.browser, path)
        except Exception as exc:  # noqa: BLE001 - one error path
            self.window.report_error(self.window._write_error(exc, path), f"exporting the page to {path}")
            return None
        log.info("page exported to %s", out)
        return out

    def export_csv(self, path: str | os.PathLike) -> Path | None:
        """Every annotation as an mne CSV file (dated from the recording start when it is known)."""
        rec = self.window.model.recording
        orig_time = rec.raw.info.get("meas_date") if rec is not None else None
        try:
            out = self.store.annotations.export_csv(path, orig_time=orig_time)
        except Exception as exc:  # noqa: BLE001 - one error path
            self.window.report_error(self.window._write_error(exc, path), f"exporting the annotations to {path}")
            return None
        log.info("annotations exported to %s", out)
        return out

    def export_edf(self, path: str | os.PathLike) -> Path | None:
        """The recording's signals with every annotation as a new EDF+ file, in this thread (the recording is not
        written; :meth:`export_edf_in_background` is the menu's)."""
        rec = self._recording_to_export(path)
        if rec is None:
            return None
        try:
            out = self.store.annotations.export_edf(path, rec)
        except Exception as exc:  # noqa: BLE001 - one error path
            self.window.report_error(self.window._write_error(exc, path), f"exporting the annotations to {path}")
            return None
        log.info("recording with annotations exported to %s", out)
        return out
