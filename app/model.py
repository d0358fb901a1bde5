"""AppModel: the state of the application, and the Qt signals that say when it changes.

Widgets subscribe to the model and ask it for changes; they never talk to each other directly (napari's
``Dims`` model + ``QtDims`` view). The model holds plain core objects (a :class:`~mmqnet_core.recording.Recording`,
a ``PreprocessResult``, a ``MaskSet``) and does no signal processing itself.

Mask edits go through :meth:`AppModel.edit_masks`, which pushes a :class:`MaskEditCommand` on the model's
QUndoStack: a ``MaskSet`` is immutable, so each command keeps the set before and after the edit. Every change
of the masks is saved at once beside the recording (``<file>.masks.json``, atomic write by ``MaskSet.save``).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from mmqnet_core.errors import MaskError, MMQNetError
from mmqnet_core.recording import Modality, Recording

if TYPE_CHECKING:  # pragma: no cover
    from mmqnet_core.masking import MaskSet

log = logging.getLogger(__name__)


def _masking():
    """The masking module of the core (imported when first needed, so the app starts without it)."""
    from mmqnet_core import masking

    return masking


@dataclass(frozen=True)
class MaskFocus:
    """The mask the user picked: its channel and span; the reconstruction view shows it."""

    channel: str | None  # recording channel whose reconstruction to show (None: the view's current choice)
    start_s: float  # start of the masked span, s
    end_s: float  # end of the masked span, s
    segment: int | None = None  # index in MaskSet.segments; None for a whole-channel mask


class MaskEditCommand(QUndoCommand):
    """One undoable mask edit: the MaskSet before and after it."""

    def __init__(self, model: "AppModel", before: "MaskSet", after: "MaskSet", text: str) -> None:
        super().__init__(text)
        self.model = model
        self.before = before
        self.after = after

    def redo(self) -> None:  # noqa: D102 (Qt API)
        self.model.set_masks(self.after)

    def undo(self) -> None:  # noqa: D102 (Qt API)
        self.model.set_masks(self.before)


class AppModel(QObject):
    """State of the open recording and what the user did with it."""

    recordingLoaded = Signal(object)  # Recording: a new recording was opened
    recordingChanged = Signal(object)  # Recording: same file, channel descriptions edited (modality)
    cleanedReady = Signal(object)  # PreprocessResult (or None when cleared)
    masksChanged = Signal(object)  # MaskSet
    selectionChanged = Signal(object)  # tuple[str, ...] of selected channel names
    visibilityChanged = Signal(object)  # frozenset[str] of hidden channel names
    cursorMoved = Signal(float)  # time cursor, s
    analysisFinished = Signal(object)  # AnalysisResult of a finished analysis (or None when cleared)
    analysisStaleChanged = Signal(bool)  # True: masks or channels changed since the analysis was run
    maskFocusChanged = Signal(object)  # MaskFocus | None: the mask the user picked (table row, click on a mask)
    errorOccurred = Signal(object, str)  # exception, what was being done

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None  # file or folder the recording was opened from
        self.recording: Recording | None = None
        self.preprocess_result: Any = None  # mmqnet_core.preprocessing.PreprocessResult of the whole recording
        self.masks: MaskSet | None = None
        self.selection: tuple[str, ...] = ()
        self.hidden: frozenset[str] = frozenset()
        self.cursor_s: float = 0.0
        self.analysis: Any = None  # mmqnet_core.inference.AnalysisResult of the last analysis, or None
        self.analysis_stale: bool = False  # the masks or channels changed after the analysis was run
        self.analysis_masks: MaskSet | None = None  # the masks the analysis was run with (None: not known)
        self.analysis_model_label: str = ""  # e.g. "model trained on SYNTHETIC data" (shown on every view)
        self.analysis_notes: tuple[str, ...] = ()  # what the analysis left out and why (shown on every view)
        self.mask_focus: MaskFocus | None = None
        self.subject_files: tuple[Path, ...] = ()  # other recordings of the subject (per-subject statistics)
        self.find_subject_recordings: bool = True  # also use the subject's sessions / trials found automatically
        self.autosave: bool = True  # save masks beside the recording on every change
        self._unsaved_sidecar: Path | None = None  # the sidecar whose failed autosave was said (once)
        self.undo_stack = QUndoStack(self)

    # --- recording ------------------------------------------------------------------------------------------
    def set_recording(self, recording: Recording, path: str | Path | None = None) -> None:
        """Make ``recording`` the open recording; masks are read from its sidecar file if there is one."""
        self.recording = recording
        self.path = Path(path) if path is not None else recording.source
        from mmqnet_core.fileio import protect_source

        protect_source(self.path, recording.source)  # no export of this window ever writes over the recording
        self.preprocess_result = None
        self.analysis = None
        self.analysis_notes = ()
        self.analysis_masks = None
        self.analysis_stale = False
        self.mask_focus = None
        self.subject_files = ()
        self.find_subject_recordings = True
        self.selection = ()
        self.hidden = frozenset()
        self.cursor_s = 0.0
        self.undo_stack.clear()
        self._unsaved_sidecar = None  # the sidecar whose failed autosave was said (said once, not at every edit)
        self.masks = self._read_sidecar()
        log.info("opened %s: %d channels, %.1f s at %g Hz", recording.title, recording.n_channels,
                 recording.duration_s, recording.sfreq)
        self.recordingLoaded.emit(recording)
        self.analysisFinished.emit(None)
        self.maskFocusChanged.emit(None)
        self.masksChanged.emit(self.masks)
        self.selectionChanged.emit(self.selection)
        self.visibilityChanged.emit(self.hidden)

    def set_modality(self, ch_name: str, modality: Modality | str) -> None:
        """Set the modality of one channel (the user corrects what was inferred from its name)."""
        if self.recording is None:
            return
        modality = Modality.parse(modality)
        if self.recording.channels[self.recording.index(ch_name)].modality == modality:
            return
        self.recording = self.recording.with_modalities({ch_name: modality})
        log.info("channel %s set to %s", ch_name, modality.value)
        self.recordingChanged.emit(self.recording)
        self.mark_analysis_stale()

    def set_preprocess_result(self, result: Any) -> None:
        """Store the cleaned signals of the open recording."""
        self.preprocess_result = result
        self.cleanedReady.emit(result)

    # --- analysis -------------------------------------------------------------------------------------------
    def set_analysis(self, result: Any, model_label: str = "", masks: "MaskSet | None" = None,
                     notes: Sequence[str] = ()) -> None:
        """Store a finished analysis (``AnalysisResult``); ``model_label`` is shown on every analysis view;
        ``masks`` are the masks it was run with (the report lists them, also after the masks changed); ``notes``
        what the user must see about it (a damaged trial left out of the subject's statistics), on every view."""
        self.analysis = result
        self.analysis_model_label = model_label
        self.analysis_notes = tuple(notes)
        self.analysis_masks = masks
        was_stale, self.analysis_stale = self.analysis_stale, False
        self.analysisFinished.emit(result)
        if was_stale:
            self.analysisStaleChanged.emit(False)

    def mark_analysis_stale(self) -> None:
        """Say that the analysis no longer matches the masks/channels (it is kept and shown, marked stale)."""
        if self.analysis is not None and not self.analysis_stale:
            self.analysis_stale = True
            log.info("masks changed since the analysis: press F5 to run it again")
            self.analysisStaleChanged.emit(True)

    def set_mask_focus(self, focus: "MaskFocus | None") -> None:
        """Pick the mask whose reconstruction is shown (``None``: none)."""
        if focus != self.mask_focus:
            self.mask_focus = focus
            self.maskFocusChanged.emit(focus)

    def focus_segment(self, index: int, ch_name: str | None = None) -> None:
        """Focus segment mask ``index`` (on channel ``ch_name``, default: its first channel or the selection)."""
        if self.masks is None or not 0 <= index < len(self.masks.segments):
            return
        seg = self.masks.segments[index]
        if ch_name is None:
            ch_name = seg.channels[0] if seg.channels else (self.selection[0] if self.selection else None)
        self.set_mask_focus(MaskFocus(channel=ch_name, start_s=seg.start_s, end_s=seg.end_s, segment=index))

    def focus_channel(self, ch_name: str) -> None:
        """Focus the whole-channel mask of ``ch_name`` (or just that channel)."""
        end = self.recording.duration_s if self.recording is not None else 0.0
        self.set_mask_focus(MaskFocus(channel=ch_name, start_s=0.0, end_s=end, segment=None))

    # --- view state -----------------------------------------------------------------------------------------
    def set_selection(self, names: Iterable[str]) -> None:
        names = tuple(names)
        if names != self.selection:
            self.selection = names
            self.selectionChanged.emit(names)

    def set_hidden(self, names: Iterable[str]) -> None:
        names = frozenset(names)
        if names != self.hidden:
            self.hidden = names
            self.visibilityChanged.emit(names)

    def set_channel_visible(self, name: str, visible: bool) -> None:
        self.set_hidden(self.hidden - {name} if visible else self.hidden | {name})

    def set_cursor(self, t_s: float) -> None:
        self.cursor_s = float(t_s)
        self.cursorMoved.emit(self.cursor_s)

    # --- masks ----------------------------------------------------------------------------------------------
    @property
    def sidecar(self) -> Path | None:
        """Where the masks of the open recording are saved (``None`` for a recording without a file)."""
        if self.path is None:
            return None
        rec = self.recording
        # A file holding several trials (DEAP sNN.dat) gets one sidecar per trial.
        trial = rec.trial if rec is not None and rec.source_format == "deap" and rec.trial else None
        return Path(_masking().sidecar_path(self.path, trial=trial))

    def _read_sidecar(self) -> "MaskSet | None":
        try:
            masking = _masking()
        except ImportError:
            log.warning("mmqnet_core.masking is not available: masking is disabled")
            return None
        sidecar = self.sidecar
        if sidecar is not None and sidecar.exists():
            try:
                with warnings.catch_warnings():  # a renamed or changed recording: the core logs a warning
                    warnings.simplefilter("ignore", masking.MaskWarning)
                    masks = masking.MaskSet.load(sidecar, recording_path=self.path, on_mismatch="warn")
            except MMQNetError as exc:
                self.errorOccurred.emit(exc, f"reading the masks of {self.path.name}")
                return masking.MaskSet()
            except Exception as exc:  # noqa: BLE001 - a broken sidecar must not stop the recording from opening
                err = MaskError(f"Cannot read the mask file {sidecar}: {exc}. It will be replaced by the next "
                                "mask edit; move it away first to keep it.")
                self.errorOccurred.emit(err, f"reading the masks of {self.path.name}")
                return masking.MaskSet()
            log.info("read %d channel mask(s) and %d segment mask(s) from %s", len(masks.channels),
                     len(masks.segments), sidecar.name)
            return masks
        return masking.MaskSet()

    def set_masks(self, masks: "MaskSet") -> None:
        """Replace the masks without an undo step (used by the undo commands); saves them."""
        self.masks = masks
        self._autosave()
        focus = self.mask_focus
        if focus is not None and focus.segment is not None:
            # Keep the focus on the segment if it is still there (an adjusted edge), else drop it.
            if focus.segment < len(masks.segments):
                seg = masks.segments[focus.segment]
                if (seg.start_s, seg.end_s) != (focus.start_s, focus.end_s):
                    focus = MaskFocus(focus.channel, seg.start_s, seg.end_s, focus.segment)
            else:
                focus = None
            self.set_mask_focus(focus)
        self.masksChanged.emit(masks)
        self.mark_analysis_stale()

    def _autosave(self) -> None:
        if not self.autosave or self.masks is None:
            return
        sidecar = self.sidecar
        if sidecar is None:
            return
        if not self.masks.channels and not self.masks.segments and not sidecar.exists():
            return  # nothing to keep: do not litter the data folder
        from .errors import save_sidecar

        masks = self.masks
        self._unsaved_sidecar = save_sidecar(lambda: masks.save(sidecar, recording=self.path), "masks", sidecar,
                                             MaskError, self._unsaved_sidecar, self.errorOccurred.emit)

    def edit_masks(self, masks: "MaskSet", text: str) -> bool:
        """Replace the masks by ``masks`` as one undoable step named ``text``; ``False`` if nothing changed."""
        if self.masks is None or masks == self.masks:
            return False
        self.undo_stack.push(MaskEditCommand(self, self.masks, masks, text))
        return True

    def toggle_channel_mask(self, name: str) -> bool:
        """Mask the whole channel ``name``, or unmask it if masked; returns whether it is now masked."""
        if self.masks is None:
            return False
        masked = name not in self.masks.channels
        self.edit_masks(self.masks.with_channel(name, masked), f"{'Mask' if masked else 'Unmask'} {name}")
        return masked

    def set_channel_masked(self, name: str, masked: bool) -> None:
        if self.masks is not None and (name in self.masks.channels) != masked:
            self.edit_masks(self.masks.with_channel(name, masked), f"{'Mask' if masked else 'Unmask'} {name}")

    def add_segment(self, start_s: float, end_s: float, channels: Iterable[str] = ()) -> None:
        """Mask the span [start_s, end_s] (s) on ``channels`` (all channels when empty)."""
        if self.masks is None:
            return
        start_s, end_s = sorted((float(start_s), float(end_s)))
        if self.recording is not None:
            start_s, end_s = max(0.0, start_s), min(self.recording.duration_s, end_s)
        if end_s <= start_s:
            return
        seg = _masking().SegmentMask(start_s=start_s, end_s=end_s, channels=tuple(channels), source="user")
        where = ", ".join(seg.channels) if seg.channels else "all channels"
        self.edit_masks(self.masks.with_segment(seg).merged(), f"Mask {start_s:.2f}-{end_s:.2f} s on {where}")

    def remove_segment(self, index: int) -> None:
        if self.masks is None:
            return
        seg = self.masks.segments[index]
        self.edit_masks(self.masks.without_segment(index), f"Unmask {seg.start_s:.2f}-{seg.end_s:.2f} s")

    def adjust_segment(self, index: int, start_s: float, end_s: float) -> bool:
        """Move the edges of segment mask ``index`` to [start_s, end_s] (s) as one undoable step.

        Returns ``False`` when nothing changed or the new span is empty.
        """
        if self.masks is None or not 0 <= index < len(self.masks.segments):
            return False
        start_s, end_s = sorted((float(start_s), float(end_s)))
        if self.recording is not None:
            start_s, end_s = max(0.0, start_s), min(self.recording.duration_s, end_s)
        if end_s - start_s < 1e-3:
            return False
        seg = self.masks.segments[index]
        new = _masking().SegmentMask(start_s=start_s, end_s=end_s, channels=seg.channels, source=seg.source)
        return self.edit_masks(self.masks.replace_segment(index, new),
                               f"Adjust mask to {start_s:.2f}-{end_s:.2f} s")

    def segment_at(self, t_s: float, ch_name: str | None) -> int | None:
        """Index of the last-drawn segment mask covering time ``t_s`` on channel ``ch_name``, or ``None``."""
        if self.masks is None:
            return None
        for i in range(len(self.masks.segments) - 1, -1, -1):
            seg = self.masks.segments[i]
            if seg.start_s <= t_s <= seg.end_s and (not seg.channels or ch_name in seg.channels):
                return i
        return None
