"""AnnotationModel: the annotations of the open recording, their undo commands and their sidecar file.

The model sits beside the :class:`~app.model.AppModel` (a child QObject of it, found with :func:`annotation_model`)
and shares its QUndoStack, so Ctrl+Z undoes mask and annotation edits in the order they were made. An
:class:`~mmqnet_core.annotations.AnnotationSet` is immutable: each :class:`AnnotationEditCommand` keeps the set
before and after the edit, as ``MaskEditCommand`` does for masks. Every change is saved at once beside the
recording (``<file>.annotations.json``, atomic; the recording itself is never written).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand

from mmqnet_core.annotations import AnnotationError, AnnotationSet, sidecar_path
from mmqnet_core.errors import MMQNetError

from .model import AppModel

log = logging.getLogger(__name__)


class AnnotationEditCommand(QUndoCommand):
    """One undoable annotation edit: the AnnotationSet before and after it."""

    def __init__(self, model: "AnnotationModel", before: AnnotationSet, after: AnnotationSet, text: str) -> None:
        super().__init__(text)
        self.model = model
        self.before = before
        self.after = after

    def redo(self) -> None:  # noqa: D102 (Qt API)
        self.model.set_annotations(self.after)

    def undo(self) -> None:  # noqa: D102 (Qt API)
        self.model.set_annotations(self.before)


class AnnotationModel(QObject):
    """The annotations of the open recording (its own, read-only, and the user's)."""

    annotationsChanged = Signal(object)  # AnnotationSet

    def __init__(self, app_model: AppModel) -> None:
        super().__init__(app_model)
        self.setObjectName("annotationModel")
        self.app_model = app_model
        self.annotations = AnnotationSet()
        self.autosave = True  # save beside the recording on every change
        self._unsaved_sidecar: Path | None = None  # the sidecar whose failed autosave was said (once)
        app_model.recordingLoaded.connect(self._on_recording_loaded)
        if app_model.recording is not None:  # created after a recording was opened
            self._on_recording_loaded(app_model.recording)

    # --- loading and saving -------------------------------------------------------------------------------
    @property
    def sidecar(self) -> Path | None:
        """Where the user's annotations are saved (``None`` for a recording without a file)."""
        masks = self.app_model.sidecar
        return None if masks is None else sidecar_path(masks)

    def _on_recording_loaded(self, recording: Any) -> None:
        self._unsaved_sidecar = None
        own = AnnotationSet.from_recording(recording.annotations)
        sidecar = self.sidecar
        if sidecar is not None and sidecar.exists():
            try:
                own = own.merged_with(AnnotationSet.load(sidecar))
            except MMQNetError as exc:
                self.app_model.errorOccurred.emit(exc, f"reading the annotations of {recording.title}")
            except OSError as exc:
                err = AnnotationError(f"Cannot read the annotation file {sidecar}: {exc}. Check its permissions.")
                self.app_model.errorOccurred.emit(err, f"reading the annotations of {recording.title}")
            else:
                log.info("read %d annotation(s) from %s", len(own.user_entries), sidecar.name)
        self.annotations = own
        self.annotationsChanged.emit(own)

    def set_annotations(self, annotations: AnnotationSet) -> None:
        """Replace the annotations without an undo step (used by the undo commands); saves them."""
        self.annotations = annotations
        self._autosave()
        self.annotationsChanged.emit(annotations)

    def _autosave(self) -> None:
        sidecar = self.sidecar
        if not self.autosave or sidecar is None:
            return
        if not self.annotations.user_entries and not sidecar.exists():
            return  # nothing to keep: do not litter the data folder
        from .errors import save_sidecar

        annotations = self.annotations
        self._unsaved_sidecar = save_sidecar(lambda: annotations.save(sidecar, recording=self.app_model.path),
                                             "annotations", sidecar, AnnotationError, self._unsaved_sidecar,
                                             self.app_model.errorOccurred.emit)

    # --- edits (each one undo step) -----------------------------------------------------------------------
    def edit(self, annotations: AnnotationSet, text: str) -> bool:
        """Replace the annotations by ``annotations`` as one undoable step named ``text``."""
        if annotations == self.annotations:
            return False
        self.app_model.undo_stack.push(AnnotationEditCommand(self, self.annotations, annotations, text))
        return True

    def _clip(self, onset: float, duration: float) -> tuple[float, float]:
        """Onset and duration (s) kept inside the recording."""
        rec = self.app_model.recording
        onset, duration = max(0.0, float(onset)), max(0.0, float(duration))
        if rec is not None:
            onset = min(onset, rec.duration_s)
            duration = min(duration, rec.duration_s - onset)
        return onset, duration

    def add(self, onset: float, duration: float, text: str, kind: str = "note",
            channels: Sequence[str] = ()) -> int | None:
        """Add an annotation (s); returns its id, or ``None`` after reporting an invalid value."""
        onset, duration = self._clip(onset, duration)
        try:
            new = self.annotations.added(onset, duration, text, kind, channels)
        except AnnotationError as exc:
            self.app_model.errorOccurred.emit(exc, "adding an annotation")
            return None
        entry_id = self.annotations.next_id
        self.edit(new, f"Annotate '{text.strip()}' at {onset:.2f} s")
        return entry_id

    def change(self, entry_id: int, **changes: Any) -> bool:
        """Change onset/duration (s), text, kind or channels of annotation ``entry_id`` as one undo step."""
        if "onset" in changes or "duration" in changes:
            old = self.annotations.get(entry_id) if entry_id in self.annotations else None
            if old is not None:
                changes["onset"], changes["duration"] = self._clip(changes.get("onset", old.onset),
                                                                   changes.get("duration", old.duration))
        try:
            new = self.annotations.replaced(entry_id, **changes)
        except AnnotationError as exc:
            self.app_model.errorOccurred.emit(exc, "editing an annotation")
            return False
        return self.edit(new, f"Edit annotation '{new.get(entry_id).text}'")

    def delete(self, entry_id: int) -> bool:
        """Delete annotation ``entry_id`` as one undo step."""
        try:
            entry = self.annotations.get(entry_id)
            new = self.annotations.removed(entry_id)
        except AnnotationError as exc:
            self.app_model.errorOccurred.emit(exc, "deleting an annotation")
            return False
        return self.edit(new, f"Delete annotation '{entry.text}'")


def annotation_model(app_model: AppModel) -> AnnotationModel:
    """The AnnotationModel of ``app_model`` (created on first use, then found as its child)."""
    found = app_model.findChild(AnnotationModel, "annotationModel")
    return found if found is not None else AnnotationModel(app_model)
