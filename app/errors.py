"""The one path by which errors reach the user.

Every error of the application (a worker's failure, a bad file, a failed autosave, an exception escaping a Qt
slot) ends in :func:`notify_error`:

* a :class:`~mmqnet_core.errors.MMQNetError` is a user error: its message (which names the file or value) is
  shown in a dialog with a line saying what to do, and logged as a warning;
* :class:`~mmqnet_core.errors.Cancelled` is not an error: it is logged and nothing is shown;
* anything else is a bug: the one dialog names the step and the file (``context``) and the exception in one
  line; the full traceback goes ONLY to the log (shown in the log panel), never into the dialog.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Callable

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from mmqnet_core.annotations import AnnotationError
from mmqnet_core.check import safe_text
from mmqnet_core.errors import (
    Cancelled,
    CheckpointError,
    ConfigError,
    FileChangedError,
    MaskError,
    MMQNetError,
    OutputError,
    RecordingError,
)

log = logging.getLogger(__name__)

#: Under a recording's error. It said "Check that the file is a complete EDF/EDF+/BDF/BDF+ file ... then open it
#: again" under the core's "Check that the file is a recording and was copied completely.": the advice twice.
RECORDING_WHAT_TO_DO = ("MMQ-Net Studio reads EDF/EDF+/BDF/BDF+ files, DEAP sNN.dat files and MAHNOB-HCI session "
                        "folders (File > Open session folder): choose one of those, or a complete copy of this "
                        "file, then open it again.")

#: Under a recording that is not there (a path typed on the command line, a file moved since): the formats the
#: program reads and "a complete copy of this file" were beside the point.
MISSING_FILE_WHAT_TO_DO = ("Check the path (the file may have been moved or renamed), or choose the recording with "
                           "File > Open (Ctrl+O).")
#: The core's wording of a path with nothing there (``mmqnet_core.io.load_recording``).
MISSING_FILE_TEXT = ": no such file or folder."

#: Under a mask error of an analysis: the masks are the window's own (the file advice, "Delete or fix the mask
#: file named above", named no file when every channel had been masked by hand).
ANALYSIS_MASK_WHAT_TO_DO = ("Unmask at least one channel (channel panel or Masks list; Ctrl+Z undoes the last "
                            "mask edit, Edit > Clear simulated masks removes a simulation), then run MMQ-Net again "
                            "(F5).")
#: Under a checkpoint error: where the checkpoint is chosen (its message says what is wrong with it).
CHECKPOINT_WHAT_TO_DO = ("Choose a checkpoint trained with MMQ-Net Studio in Edit > Preferences > Model checkpoint "
                         "(empty: the shipped one).")
#: Under a checkpoint error whose message already says to choose another one ("...: choose a checkpoint saved by
#: MMQ-Net Studio.", "Choose another checkpoint."): only where, so that the advice is not given twice.
CHECKPOINT_WHERE = "The model checkpoint is set in Edit > Preferences > Model checkpoint."

#: Under a recording's error raised by an analysis (no EEG channel, too short for one window): the file was read,
#: and "choose ... a complete copy of this file, then open it again" sent the user after a file that was fine.
ANALYSIS_RECORDING_WHAT_TO_DO = ("The file itself was read; change what the message names (a channel's modality is "
                                 "set in the Modality column of the channel panel), then run MMQ-Net again (F5).")

#: Under a recording whose file changed on disk while it was open (another program truncated, rewrote or moved
#: it): the file advice ("choose ... a complete copy") and the analysis advice ("The file itself was read; change
#: what the message names") were both beside the point.
FILE_CHANGED_WHAT_TO_DO = ("What is on screen came from the file as it was when opened, and nothing was written to it. "
                           "Open it again with File > Open (Ctrl+O) once it is complete; its masks and annotations "
                           "are kept beside it.")

#: Under a file that could not be written (a full disk, a read-only folder): its message says why and what to do.
OUTPUT_WHAT_TO_DO = "The recording and everything shown in the window are unchanged; try again once that is done."

#: The contexts of the autosaves beside the recording, with what is saved and where a copy can be saved instead.
SIDECAR_CONTEXTS = {"saving the masks": ("masks", "File > Export masks"),
                    "saving the annotations": ("annotations", "Annotations > Export")}
#: Under an autosave that failed (a read-only or full folder beside the recording): said once per recording, not
#: at every edit; "Delete or fix the mask file named above" sent the user after a file that was fine.
SIDECAR_WHAT_TO_DO = ("The {what} in the window are kept while it is open but are not saved beside the recording: "
                      "save a copy elsewhere with {export}. Later edits are not saved there either (this is said "
                      "once).")


def sidecar_save_error(what: str, sidecar: Path, exc: BaseException, error: type[MMQNetError]) -> MMQNetError:
    """The error shown when the autosave of ``what`` ("masks", "annotations") to ``sidecar`` failed with ``exc``:
    the file and the reason in words (a read-only folder, a full disk), without the temporary file's name."""
    reason = getattr(exc, "reason", None)
    if reason is None:
        reason = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)).rstrip(".")
    return error(f"Cannot save the {what} to {safe_text(sidecar, 300)}: {safe_text(reason, 300)}.")


def save_sidecar(save: Callable[[], object], what: str, sidecar: Path, error: type[MMQNetError],
                 unsaved: Path | None, report: Callable[[BaseException, str], object]) -> Path | None:
    """Autosave ``what`` ("masks", "annotations") with ``save()`` to ``sidecar``; a failure is reported through
    ``report(exc, context)`` once per sidecar (``unsaved``: the sidecar whose save failed last; a repeat only goes to
    the log), as :func:`sidecar_save_error` words it for a read-only or full folder. Returns the sidecar when the
    save failed (the next ``unsaved``), else None."""
    try:
        save()
    except Exception as exc:  # noqa: BLE001 - reported through the one error path
        if isinstance(exc, OSError) or not isinstance(exc, MMQNetError):  # a read-only or full folder
            exc = sidecar_save_error(what, sidecar, exc, error)
        if unsaved == sidecar:  # said once per recording, not at every edit
            log.warning("%s", exc)
        else:
            report(exc, f"saving the {what}")
        return sidecar
    return None


#: The context of a time typed after Ctrl+G that cannot be read or lies outside the recording, and what to do.
GO_TO_TIME_CONTEXT = "going to a time"
GO_TO_TIME_WHAT_TO_DO = ("Press Ctrl+G again and type a time inside the recording: h:mm:ss, mm:ss, seconds, or "
                         "@hh:mm:ss for a clock time.")

#: The context of an analysis' errors (main_window: "analysing <recording>").
ANALYSIS_CONTEXT = "analysing "

#: What the user can do about each kind of error (the most specific class wins).
WHAT_TO_DO: tuple[tuple[type[BaseException], str], ...] = (
    (FileChangedError, FILE_CHANGED_WHAT_TO_DO),
    # (the core's message already says what to check in the file: this line adds what the program reads)
    (RecordingError, RECORDING_WHAT_TO_DO),
    (MaskError, "Delete or fix the mask file named above; the masks shown in the window are kept in memory."),
    (AnnotationError, "The annotations shown in the window are unchanged (they are kept beside the recording as "
                      "<file>.annotations.json)."),
    (CheckpointError, CHECKPOINT_WHAT_TO_DO),
    (OutputError, OUTPUT_WHAT_TO_DO),
    (ConfigError, "Change the value in Edit > Preferences and try again."),
    (MMQNetError, "See the log panel (View > Log) for details."),
)

#: False in the self-test and other unattended runs: errors are logged, no dialog waits for a click.
dialogs_enabled = True

#: Shown for unexpected exceptions (bugs); the traceback is only in the log.
GENERIC_MESSAGE = "An unexpected error occurred{context}."
GENERIC_WHAT_TO_DO = (
    "The error was {error}. The full traceback is in the log panel (View > Log); please report it with the "
    "steps that led to the error."
)


@dataclass(frozen=True)
class ErrorMessage:
    """What is shown to the user for one error."""

    title: str  # window title of the dialog
    text: str  # the main message
    what_to_do: str  # the informative line under it
    unexpected: bool = False  # a bug (not an MMQNetError): its traceback was logged, never shown here


def describe_error(exc: BaseException, context: str = "") -> ErrorMessage | None:
    """Build the message for ``exc``; ``None`` when nothing should be shown (cancellation).

    Parameters
    ----------
    exc : BaseException
        The error.
    context : str
        What was being done, e.g. ``"opening recording.bdf"``.
    """
    if isinstance(exc, Cancelled):
        return None
    if isinstance(exc, MMQNetError):
        todo = next(t for cls, t in WHAT_TO_DO if isinstance(exc, cls))
        if isinstance(exc, MaskError) and context.startswith(ANALYSIS_CONTEXT):
            todo = ANALYSIS_MASK_WHAT_TO_DO
        if context in SIDECAR_CONTEXTS:
            what, export = SIDECAR_CONTEXTS[context]
            todo = SIDECAR_WHAT_TO_DO.format(what=what, export=export)
        if context == GO_TO_TIME_CONTEXT:
            todo = GO_TO_TIME_WHAT_TO_DO
        if isinstance(exc, RecordingError) and str(exc).endswith(MISSING_FILE_TEXT):
            todo = MISSING_FILE_WHAT_TO_DO
        elif isinstance(exc, RecordingError) and not isinstance(exc, FileChangedError) and context.startswith(
                ANALYSIS_CONTEXT):
            todo = ANALYSIS_RECORDING_WHAT_TO_DO
        if isinstance(exc, CheckpointError) and "choose" in str(exc).lower():
            todo = CHECKPOINT_WHERE
        title = f"Error while {context}" if context else "Error"
        return ErrorMessage(title=title, text=str(exc), what_to_do=todo)
    text = GENERIC_MESSAGE.format(context=f" while {context}" if context else "")
    summary = type(exc).__name__ + (f": {exc}" if str(exc) else "")
    return ErrorMessage(title="Unexpected error", text=text,
                        what_to_do=GENERIC_WHAT_TO_DO.format(error=safe_text(summary, 300).rstrip(".")),
                        unexpected=True)  # rstrip: "...below 60.. The full traceback"


def show_message(message: ErrorMessage, parent: QWidget | None = None) -> None:
    """Show ``message`` in one modal QMessageBox, without a details pane (tests replace ``QMessageBox.exec``)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Critical if message.unexpected else QMessageBox.Icon.Warning)
    box.setWindowTitle(message.title)
    box.setText(message.text)
    box.setInformativeText(message.what_to_do)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.exec()


def notify_error(exc: BaseException, parent: QWidget | None = None, context: str = "") -> ErrorMessage | None:
    """Log ``exc`` and show it to the user; return what was shown (``None`` for a cancellation)."""
    message = describe_error(exc, context)
    if message is None:
        log.info("%s: cancelled", context or "task")
        return None
    if message.unexpected:
        log.error("Unexpected error%s", f" while {context}" if context else "",
                  exc_info=(type(exc), exc, exc.__traceback__))
    else:
        log.warning("%s: %s", message.title, message.text)
    if dialogs_enabled and QApplication.instance() is not None:
        show_message(message, parent)
    return message


def install_excepthook(parent_getter=lambda: None) -> None:
    """Send exceptions that escape Qt slots to :func:`notify_error` instead of only printing them.

    ``parent_getter`` returns the widget to parent the dialog to (the main window), or ``None``.
    """
    previous = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        exc.__traceback__ = tb
        notify_error(exc, parent_getter())

    sys.excepthook = hook
