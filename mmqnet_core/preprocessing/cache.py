"""One cleaning per recording, preprocessing configuration and mask state (:class:`CleaningCache`).

The app cleans the open recording for display, and the analysis needs the same cleaning: both ask the process-wide
cache (:func:`default_cache`), so running MMQ-Net right after the display cleaning does not clean again, and a
second caller asking for a cleaning that is still running waits for it instead of starting its own.

Key
    * the recording's identity: for a file, the data file(s) read (absolute path, size, modification time; the
      source file for a recording read whole into memory, such as a DEAP trial), the format and trial, the channels (name, modality, own rate, unit), rate and length; for a recording made in
      memory, the object itself (``Recording.raw``, held by the entry so that its id cannot be reused) - change
      such a recording in place and call :meth:`CleaningCache.clear`;
    * the :class:`~.config.PreprocessConfig` (frozen, compared field by field);
    * the masks' fingerprint: the masked sample spans of every channel on the recording's grid
      (:func:`~mmqnet_core.masking.mask_sample_spans`), so two mask sets hiding the same samples share an entry;
    * the span (``start_s``, ``stop_s``).

Bounded by number of entries and by bytes (raw + cleaned arrays), least recently used first out.

Long recordings are not cleaned whole: the display cleans them page by page
(:func:`~.on_demand.clean_for_display`) and the analysis in pieces (:mod:`mmqnet_core.inference.streaming`), with
the same fitted global quantities; this cache holds whole cleanings of short spans only.

Partial re-cleaning is not done: the common average reference, the EOG regression or ICA, line-noise detection
and muscle detection are fitted over the whole span, so a mask edit changes the fits and with them every
sample of every channel; a mask edit re-cleans the whole span (a few seconds for an hour at 128 Hz).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Hashable

from ..errors import ConfigError
from ..masking import MaskSet, mask_sample_spans
from ..progress import CancelToken, ProgressCallback, check_cancel, report
from ..recording import Recording
from .config import PreprocessConfig
from .pipeline import PreprocessResult, _check_span, preprocess

log = logging.getLogger(__name__)

#: Default bounds of :func:`default_cache`: entries, and bytes of signal arrays (an hour of 40 channels at 128 Hz,
#: raw + cleaned float32, is about 150 MB).
DEFAULT_MAX_ENTRIES = 4
DEFAULT_MAX_BYTES = 1 << 30


def recording_identity(recording: Recording) -> tuple[Hashable, Any]:
    """(hashable identity, object to keep alive) of a recording, as described in the module docstring."""
    chans = tuple((c.name, c.modality.value, float(c.sfreq), c.unit) for c in recording.channels)
    shape = (recording.source_format, recording.trial, float(recording.sfreq), recording.n_times, chans)
    files = [Path(f) for f in (getattr(recording.raw, "filenames", None) or ()) if f is not None]
    if not files and recording.source is not None and Path(recording.source).is_file():
        files = [Path(recording.source)]  # read whole into memory (a DEAP pickle): the trial is in ``shape``
    if files and all(f.is_file() for f in files):
        stats = tuple((str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
        return ("file", stats, shape), None
    return ("memory", id(recording.raw), shape), recording.raw


def mask_fingerprint(masks: MaskSet | None, recording: Recording, start_s: float = 0.0,
                     stop_s: float | None = None) -> str:
    """Hex digest of the samples ``masks`` hide in the span (``""`` when none): equal digests, equal cleaning."""
    if masks is None or masks.is_empty:
        return ""
    if not isinstance(masks, MaskSet):
        raise ConfigError(f"'masks' must be a MaskSet or None, got {type(masks).__name__}.")
    start, stop = _check_span(recording, start_s, stop_s)
    spans = mask_sample_spans(masks, recording.ch_names, recording.sfreq, stop - start,
                              offset_s=start / recording.sfreq)
    if not any(s.size for s in spans):
        return ""
    h = hashlib.sha256()
    for row, s in enumerate(spans):
        if s.size:
            h.update(row.to_bytes(4, "little"))
            h.update(s.astype("<i8").tobytes())
    return h.hexdigest()


@dataclass
class _Entry:
    result: PreprocessResult
    keep_alive: Any  # the in-memory recording's data object, so that its id stays unique
    nbytes: int


class CleaningCache:
    """A bounded, thread-safe store of :class:`~.pipeline.PreprocessResult` (see the module docstring).

    Parameters
    ----------
    max_entries : int
        Most results kept (>= 1).
    max_bytes : int
        Most bytes of ``raw`` + ``cleaned`` arrays kept; a single result larger than this is returned, not kept.
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ConfigError(f"Invalid value for 'max_entries': must be an integer >= 1, got {max_entries!r}.")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise ConfigError(f"Invalid value for 'max_bytes': must be an integer >= 0, got {max_bytes!r}.")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._pending: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self._on_demand: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # key -> OnDemandCleaning
        self.hits = 0  # results returned from the cache (or from a cleaning another caller was running)
        self.misses = 0  # cleanings run

    # --- inspection ------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Bytes of signal arrays held."""
        with self._lock:
            return sum(e.nbytes for e in self._entries.values())

    @staticmethod
    def key(recording: Recording, config: PreprocessConfig, masks: MaskSet | None = None, *, start_s: float = 0.0,
            stop_s: float | None = None) -> Hashable:
        """The cache key of a cleaning (recording identity, configuration, mask fingerprint, span)."""
        if not isinstance(config, PreprocessConfig):
            raise ConfigError(f"'config' must be a PreprocessConfig, got {type(config).__name__}.")
        ident, _ = recording_identity(recording)
        return (ident, config, mask_fingerprint(masks, recording, start_s, stop_s), float(start_s),
                None if stop_s is None else float(stop_s))

    def lookup(self, recording: Recording, config: PreprocessConfig, masks: MaskSet | None = None, *,
               start_s: float = 0.0, stop_s: float | None = None) -> PreprocessResult | None:
        """The cached result, or None (never cleans, never waits)."""
        key = self.key(recording, config, masks, start_s=start_s, stop_s=stop_s)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry.result

    def register_on_demand(self, recording: Recording, config: PreprocessConfig, masks: MaskSet | None,
                           cleaning: Any, *, start_s: float = 0.0, stop_s: float | None = None) -> None:
        """Make the display's on-demand cleaning of a long recording (:class:`~.on_demand.OnDemandCleaning`)
        findable by the analysis (:meth:`lookup_on_demand`). Held weakly: the entry goes when the display drops
        the cleaning (another recording, a mask edit)."""
        key = self.key(recording, config, masks, start_s=start_s, stop_s=stop_s)
        with self._lock:
            self._on_demand[key] = cleaning

    def lookup_on_demand(self, recording: Recording, config: PreprocessConfig, masks: MaskSet | None = None, *,
                         start_s: float = 0.0, stop_s: float | None = None) -> Any:
        """The registered on-demand cleaning of exactly this recording, configuration, masks and span, or None."""
        if not self._on_demand:
            return None
        key = self.key(recording, config, masks, start_s=start_s, stop_s=stop_s)
        with self._lock:
            return self._on_demand.get(key)

    # --- use -------------------------------------------------------------------------------------------------
    def get_or_clean(
        self,
        recording: Recording,
        config: PreprocessConfig = PreprocessConfig(),
        *,
        masks: MaskSet | None = None,
        start_s: float = 0.0,
        stop_s: float | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PreprocessResult:
        """The cleaning of ``recording`` with ``config`` and ``masks``: from the cache, else :func:`preprocess`.

        Arguments as :func:`~mmqnet_core.preprocessing.preprocess`. When another thread is running the same
        cleaning, this call waits for it (checking ``cancel`` every 0.1 s) and returns its result; if that
        cleaning fails or is cancelled, this call cleans itself.
        """
        key = self.key(recording, config, masks, start_s=start_s, stop_s=stop_s)
        _, keep_alive = recording_identity(recording)
        while True:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    log.info("cleaning of %s reused (cached)", recording.title)
                    report(progress, 1.0, "cleaning reused")
                    return entry.result
                waiting = self._pending.get(key)
                if waiting is None:
                    done = self._pending[key] = threading.Event()
                    break
            report(progress, 0.0, "waiting for the cleaning in progress")
            while not waiting.wait(0.1):
                check_cancel(cancel)
        try:
            result = preprocess(recording, config, masks=masks, start_s=start_s, stop_s=stop_s, progress=progress,
                                cancel=cancel)
            with self._lock:
                self.misses += 1
                self._store(key, _Entry(result, keep_alive, result.raw.data.nbytes + result.cleaned.data.nbytes))
            return result
        finally:
            with self._lock:
                self._pending.pop(key, None)
            done.set()

    def clear(self) -> None:
        """Forget every result (running cleanings still finish and are stored)."""
        with self._lock:
            self._entries.clear()
            self._on_demand.clear()

    def _store(self, key: Hashable, entry: _Entry) -> None:  # called with the lock held
        if entry.nbytes > self.max_bytes:
            log.info("cleaning not cached: %.0f MB is above the cache's %.0f MB", entry.nbytes / 1e6,
                     self.max_bytes / 1e6)
            return
        self._entries[key] = entry
        self._entries.move_to_end(key)
        total = sum(e.nbytes for e in self._entries.values())
        while len(self._entries) > self.max_entries or total > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            total -= old.nbytes


_DEFAULT: CleaningCache | None = None
_DEFAULT_LOCK = threading.Lock()


def default_cache() -> CleaningCache:
    """The process-wide cache shared by the app's display cleaning and the analysis."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = CleaningCache()
        return _DEFAULT


def cached_preprocess(
    recording: Recording,
    config: PreprocessConfig = PreprocessConfig(),
    *,
    masks: MaskSet | None = None,
    cache: CleaningCache | None = None,
    start_s: float = 0.0,
    stop_s: float | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PreprocessResult:
    """:func:`~mmqnet_core.preprocessing.preprocess` through ``cache`` (default: :func:`default_cache`)."""
    return (cache if cache is not None else default_cache()).get_or_clean(recording, config, masks=masks, start_s=start_s, stop_s=stop_s,
                                                   progress=progress, cancel=cancel)
