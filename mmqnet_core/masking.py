"""Masks: the parts of a recording whose data must not be used (user-masked, missing or simulated missing).

A :class:`MaskSet` holds two kinds of masks:

- whole channels (``MaskSet.channels``): the channel is masked for the whole recording;
- time segments (:class:`SegmentMask`): ``[start_s, end_s)`` on some channels, or on all channels when the
  segment names none.

A :class:`MaskSet` is immutable: every edit returns a new one, so the GUI keeps undo as a list of mask sets.
It is mapped onto the feature grid with :meth:`MaskSet.to_token_mask` (which tokens of which windows the
model must treat as missing), saved as a JSON sidecar beside the recording (:meth:`MaskSet.save`,
:func:`sidecar_path`), and exchanged with MNE as ``BAD_mask*`` annotations (:meth:`MaskSet.to_annotations`,
:meth:`MaskSet.from_annotations`).

For experiments on incomplete data (the MMQ-Net paper removes 10-70 % of the data), :func:`simulate_missing`
removes a given fraction of the physiological channel-time of a recording (whole-modality drop-outs plus
segments inside modalities) and :func:`random_token_mask` does the same directly on the token grid, fast
enough to be drawn for every training sample.

Times are seconds from the recording start; intervals are half-open, ``[start_s, end_s)``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Literal, Mapping, Sequence

import numpy as np

from .check import read_json_file
from .errors import MaskError
from .fileio import atomic_write_text
from .recording import PHYSIOLOGICAL, Annotation, ChannelInfo, Modality

if TYPE_CHECKING:  # pragma: no cover
    import mne
    import pandas as pd

    from .features import FeatureSet
    from .recording import Recording

log = logging.getLogger(__name__)

#: Value of the "format" key of a mask sidecar file.
FORMAT_NAME = "mmqnet-masks"
#: Version of the sidecar schema written by this code (and the only one it reads).
FORMAT_VERSION = 1
#: Where a segment came from: drawn by the user, made by :func:`simulate_missing`, read from annotations.
SOURCES = ("user", "simulated", "imported")

#: Annotation description of a user-drawn segment.
DESC_USER = "BAD_mask"
#: Annotation description of a simulated-missing segment.
DESC_SIMULATED = "BAD_mask_simulated"
#: Annotation description of a segment imported from another ``BAD_*`` annotation.
DESC_IMPORTED = "BAD_mask_imported"
#: Annotation description of a whole-channel mask (one span over the whole recording).
DESC_CHANNEL = "BAD_mask_channel"
_DESC_BY_SOURCE = {"user": DESC_USER, "simulated": DESC_SIMULATED, "imported": DESC_IMPORTED}
_SOURCE_BY_DESC = {v: k for k, v in _DESC_BY_SOURCE.items()}

#: Text of the ``channels`` column of :meth:`MaskSet.to_dataframe` for a segment on all channels.
ALL_CHANNELS = "*"
_CSV_SEP = ";"

# Floating-point slack (s) when comparing a window/segment overlap with zero.
_EPS = 1e-9


class MaskWarning(UserWarning):
    """A mask sidecar was read although it may not belong to the recording (see :meth:`MaskSet.load`)."""


# --------------------------------------------------------------------------------------------------------
# helpers on sorted intervals (written by hand: no library offers vectorised interval unions/overlaps on
# plain arrays; pandas.IntervalIndex cannot merge or measure coverage)
# --------------------------------------------------------------------------------------------------------
def _union(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of intervals ``[starts[i], ends[i])`` as sorted, disjoint, non-touching intervals."""
    starts = np.asarray(starts, dtype=float)
    ends = np.asarray(ends, dtype=float)
    if starts.size == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    run_end = np.maximum.accumulate(e)
    new = np.ones(s.size, dtype=bool)
    new[1:] = s[1:] > run_end[:-1]  # touching intervals (s == previous end) are merged
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, s.size - 1]
    return s[first], run_end[last]


def _covered(us: np.ndarray, ue: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Length of ``[a, b)`` covered by the disjoint sorted intervals ``[us, ue)``, elementwise over a, b.

    Uses the cumulative coverage function C(x) = measure of the union below x, so the cost is
    O((len(a) + len(us)) log len(us)) with no loop.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if us.size == 0:
        return np.zeros(np.broadcast(a, b).shape)
    lengths = ue - us
    before = np.r_[0.0, np.cumsum(lengths)[:-1]]  # coverage below us[k]

    def cum(x: np.ndarray) -> np.ndarray:
        k = np.searchsorted(us, x, side="right") - 1
        kc = np.clip(k, 0, None)
        val = before[kc] + np.clip(x - us[kc], 0.0, lengths[kc])
        return np.where(k >= 0, val, 0.0)

    return cum(b) - cum(a)


def _as_name_tuple(channels: Any, what: str) -> tuple[str, ...]:
    if isinstance(channels, str):
        channels = (channels,)
    try:
        names = tuple(channels)
    except TypeError:
        raise MaskError(f"Invalid value for '{what}': expected a list of channel names, got {channels!r}.") from None
    bad = [c for c in names if not isinstance(c, str) or not c.strip()]
    if bad:
        raise MaskError(f"Invalid channel name(s) in '{what}': {bad!r}; channel names must be non-empty text.")
    return names


# --------------------------------------------------------------------------------------------------------
# SegmentMask
# --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SegmentMask:
    """A masked time span ``[start_s, end_s)`` on some channels (all channels if ``channels`` is empty)."""

    start_s: float  # start, seconds from the recording start (>= 0)
    end_s: float  # end, seconds (> start_s); the end itself is not masked
    channels: tuple[str, ...] = ()  # channel names, stored sorted and unique; empty = all channels
    source: str = "user"  # "user" (drawn), "simulated" (simulate_missing) or "imported" (from annotations)

    def __post_init__(self) -> None:
        for name in ("start_s", "end_s"):
            value = getattr(self, name)
            try:
                as_float = float(value)
            except (TypeError, ValueError):
                raise MaskError(
                    f"Invalid value for '{name}' of a mask segment: expected seconds, got {value!r}."
                ) from None
            if not math.isfinite(as_float) or as_float < 0:
                raise MaskError(
                    f"Invalid value for '{name}' of a mask segment: must be a finite time >= 0 s, got {value!r}."
                )
            object.__setattr__(self, name, as_float)
        if not self.start_s < self.end_s:
            raise MaskError(
                f"Invalid mask segment: start_s must be before end_s, got start_s={self.start_s} s, "
                f"end_s={self.end_s} s."
            )
        object.__setattr__(self, "channels", tuple(sorted(set(_as_name_tuple(self.channels, "channels")))))
        if self.source not in SOURCES:
            raise MaskError(
                f"Invalid value for 'source' of a mask segment: allowed {', '.join(SOURCES)}, got {self.source!r}."
            )

    @property
    def duration_s(self) -> float:
        """Length of the segment, seconds."""
        return self.end_s - self.start_s

    @property
    def all_channels(self) -> bool:
        """True if the segment masks every channel."""
        return not self.channels

    def applies_to(self, ch_name: str) -> bool:
        """True if the segment masks channel ``ch_name``."""
        return not self.channels or ch_name in self.channels


# --------------------------------------------------------------------------------------------------------
# MaskSet
# --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MaskSet:
    """All masks of one recording; immutable (every edit returns a new :class:`MaskSet`)."""

    channels: frozenset[str] = frozenset()  # channels masked for the whole recording
    segments: tuple[SegmentMask, ...] = ()  # masked time spans, in the order they were added

    def __post_init__(self) -> None:
        # per-channel interval unions, filled lazily; a plain attribute, not a field (no effect on ==, repr)
        object.__setattr__(self, "_cache", {})
        object.__setattr__(self, "channels", frozenset(_as_name_tuple(self.channels, "channels")))
        segs = tuple(self.segments)
        bad = [s for s in segs if not isinstance(s, SegmentMask)]
        if bad:
            raise MaskError(f"Invalid mask segments: expected SegmentMask objects, got {bad[:3]!r}.")
        object.__setattr__(self, "segments", segs)

    # --- inspection -----------------------------------------------------------------------------------
    @property
    def is_empty(self) -> bool:
        """True if nothing is masked."""
        return not self.channels and not self.segments

    def channel_intervals(self, ch_name: str, *, duration_s: float | None = None) -> np.ndarray:
        """Masked spans of one channel as a sorted, disjoint ``(K, 2)`` array of ``[start_s, end_s)``, seconds.

        A whole-masked channel gives one span ``[0, duration_s)`` (``[0, inf)`` when ``duration_s`` is None).
        """
        if ch_name in self.channels:
            return np.array([[0.0, math.inf if duration_s is None else float(duration_s)]])
        us, ue = self._intervals(ch_name)
        if duration_s is not None:
            keep = us < duration_s
            us, ue = us[keep], np.minimum(ue[keep], duration_s)
        return np.column_stack([us, ue]) if us.size else np.zeros((0, 2))

    def _intervals(self, ch_name: str) -> tuple[np.ndarray, np.ndarray]:
        """Union of the segments that apply to ``ch_name`` (cached; whole-channel masks not included)."""
        cached = self._cache.get(ch_name)
        if cached is None:
            segs = [s for s in self.segments if s.applies_to(ch_name)]
            cached = _union(np.array([s.start_s for s in segs]), np.array([s.end_s for s in segs]))
            self._cache[ch_name] = cached
        return cached

    def is_masked(self, ch_name: str, t_s: float | np.ndarray) -> bool | np.ndarray:
        """Whether channel ``ch_name`` is masked at time ``t_s`` (seconds; a scalar or an array of times).

        Returns a bool for a scalar time, a bool array of the same shape for an array.
        """
        t = np.asarray(t_s, dtype=float)
        if ch_name in self.channels:
            out = np.ones(t.shape, dtype=bool)
        else:
            us, ue = self._intervals(ch_name)
            if us.size == 0:
                out = np.zeros(t.shape, dtype=bool)
            else:
                k = np.searchsorted(us, t, side="right") - 1
                out = (k >= 0) & (t < ue[np.clip(k, 0, None)])
        return bool(out) if out.ndim == 0 else out

    def masked_fraction(self, channels: Sequence[ChannelInfo | str], duration_s: float) -> float:
        """Fraction of the channel-time ``len(channels) * duration_s`` that is masked (0-1).

        Give the physiological channels to get the missing rate that :func:`simulate_missing` targets.
        """
        names = [c.name if isinstance(c, ChannelInfo) else str(c) for c in channels]
        if not names or not duration_s > 0:
            raise MaskError(
                f"Cannot compute a masked fraction over {len(names)} channel(s) and {duration_s} s; "
                "give at least one channel and a duration > 0 s."
            )
        total = 0.0
        for name in names:
            if name in self.channels:
                total += duration_s
            else:
                us, ue = self._intervals(name)
                total += float(_covered(us, ue, 0.0, float(duration_s)))
        return total / (len(names) * duration_s)

    # --- editing (each returns a new MaskSet) ---------------------------------------------------------
    def with_channel(self, name: str, masked: bool = True) -> MaskSet:
        """Return a copy with channel ``name`` masked (``masked=True``) or unmasked for the whole recording."""
        (name,) = _as_name_tuple((name,), "name")
        chans = self.channels | {name} if masked else self.channels - {name}
        return MaskSet(channels=chans, segments=self.segments)

    def with_segment(self, seg: SegmentMask) -> MaskSet:
        """Return a copy with segment ``seg`` added at the end."""
        if not isinstance(seg, SegmentMask):
            raise MaskError(f"Expected a SegmentMask, got {seg!r}.")
        return MaskSet(channels=self.channels, segments=self.segments + (seg,))

    def _check_index(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(self.segments):
            raise MaskError(
                f"No mask segment with index {index!r}; this mask set has {len(self.segments)} segment(s) "
                f"(valid indices 0 to {len(self.segments) - 1})."
            )
        return int(index)

    def without_segment(self, index: int) -> MaskSet:
        """Return a copy without the segment at position ``index`` of :attr:`segments`."""
        i = self._check_index(index)
        return MaskSet(channels=self.channels, segments=self.segments[:i] + self.segments[i + 1 :])

    def replace_segment(self, index: int, seg: SegmentMask) -> MaskSet:
        """Return a copy with the segment at position ``index`` replaced by ``seg``."""
        i = self._check_index(index)
        if not isinstance(seg, SegmentMask):
            raise MaskError(f"Expected a SegmentMask, got {seg!r}.")
        return MaskSet(channels=self.channels, segments=self.segments[:i] + (seg,) + self.segments[i + 1 :])

    def without_source(self, source: str) -> MaskSet:
        """Return a copy without the segments of one source, e.g. ``"simulated"`` to clear a simulation."""
        if source not in SOURCES:
            raise MaskError(f"Invalid value for 'source': allowed {', '.join(SOURCES)}, got {source!r}.")
        return MaskSet(channels=self.channels, segments=tuple(s for s in self.segments if s.source != source))

    def union(self, other: MaskSet) -> MaskSet:
        """Return the masks of both sets (not merged; call :meth:`merged` to simplify)."""
        return MaskSet(channels=self.channels | other.channels, segments=self.segments + other.segments)

    def merged(self) -> MaskSet:
        """Return an equivalent, simpler mask set (same :meth:`is_masked` everywhere).

        - channels that are whole-channel masked are dropped from segments (a segment left with no channel
          is removed);
        - segments on the same channel set and of the same source that overlap or touch are merged into one
          (segments of different sources are kept apart so that, e.g., a simulation can still be cleared);
        - a segment on some channels that lies inside the all-channel segments is removed;
        - segments are sorted by start time.
        """
        groups: dict[tuple[tuple[str, ...], str], list[SegmentMask]] = {}
        for seg in self.segments:
            chans = seg.channels
            if chans:
                chans = tuple(c for c in chans if c not in self.channels)
                if not chans:
                    continue  # redundant: every channel of it is masked for the whole recording
            groups.setdefault((chans, seg.source), []).append(seg)
        out: list[SegmentMask] = []
        for (chans, source), segs in groups.items():
            us, ue = _union(np.array([s.start_s for s in segs]), np.array([s.end_s for s in segs]))
            out.extend(SegmentMask(float(a), float(b), chans, source) for a, b in zip(us, ue))
        all_s, all_e = _union(
            np.array([s.start_s for s in out if not s.channels]), np.array([s.end_s for s in out if not s.channels])
        )
        if all_s.size:
            out = [
                s
                for s in out
                if not s.channels
                or float(_covered(all_s, all_e, s.start_s, s.end_s)) < s.duration_s - _EPS
            ]
        out.sort(key=lambda s: (s.start_s, s.end_s, s.channels, s.source))
        return MaskSet(channels=self.channels, segments=tuple(out))

    # --- feature grid ---------------------------------------------------------------------------------
    def to_token_mask(self, features: FeatureSet, *, min_overlap: float = 0.0) -> np.ndarray:
        """Map the masks onto the token grid of ``features``.

        Parameters
        ----------
        features : FeatureSet
            Uses ``window_starts`` (T,) in s, ``window_s`` in s and ``tokens[n].channel``.
        min_overlap : float
            Fraction of a window (0 to < 1) that a mask must cover for the window's token to be masked;
            0 masks a token as soon as any positive overlap exists.

        Returns
        -------
        np.ndarray
            (T, N) bool; True where token n of window t is masked: its channel is whole-channel masked, or
            the segments on its channel (or on all channels) cover more than ``min_overlap`` of the window.
            Tokens without a channel (``channel=None``: absent from the recording) are never masked here:
            ``FeatureSet.missing`` already marks them.
        """
        try:
            mo = float(min_overlap)
        except (TypeError, ValueError):
            mo = math.nan
        if not 0.0 <= mo < 1.0:
            raise MaskError(
                f"Invalid value for 'min_overlap': allowed 0 to < 1 (fraction of a window), got {min_overlap!r}."
            )
        starts = np.asarray(features.window_starts, dtype=float)
        window_s = float(features.window_s)
        if starts.ndim != 1 or not window_s > 0:
            raise MaskError(
                f"Cannot map masks on a feature grid with window_starts of shape {starts.shape} and "
                f"window_s={window_s} s; expected a 1-D array and window_s > 0."
            )
        tokens = tuple(features.tokens)
        out = np.zeros((starts.size, len(tokens)), dtype=bool)
        columns: dict[str, list[int]] = {}
        for n, tok in enumerate(tokens):
            if tok.channel is not None:
                columns.setdefault(tok.channel, []).append(n)
        threshold = mo * window_s + _EPS
        ends = starts + window_s
        for ch, cols in columns.items():  # one vectorised pass per channel (not per window)
            if ch in self.channels:
                out[:, cols] = True
                continue
            us, ue = self._intervals(ch)
            if us.size:
                hit = _covered(us, ue, starts, ends) > threshold
                out[:, cols] = hit[:, None]
        return out

    # --- JSON sidecar ---------------------------------------------------------------------------------
    def to_dict(self, *, recording: str | os.PathLike | Recording | None = None) -> dict:
        """Plain JSON-ready dict (schema ``mmqnet-masks`` version 1).

        ``recording`` (a path or a :class:`Recording`) records the recording's file name and size so that
        :meth:`load` can tell when the sidecar is used with another or a changed file.
        """
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "recording": _recording_identity(recording),
            "channels": sorted(self.channels),
            "segments": [
                {"start_s": s.start_s, "end_s": s.end_s, "channels": list(s.channels), "source": s.source}
                for s in self.segments
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, origin: str = "mask data") -> MaskSet:
        """Build a mask set from :meth:`to_dict` output; ``origin`` names the data in error messages."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT_NAME:
            got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise MaskError(
                f"{origin} is not an MMQ-Net mask file (expected \"format\": \"{FORMAT_NAME}\", got {got!r}); "
                "choose a file saved by MMQ-Net Studio."
            )
        version = data.get("version")
        if version != FORMAT_VERSION:
            raise MaskError(
                f"{origin} has mask format version {version!r}, but this version of MMQ-Net Studio reads only "
                f"version {FORMAT_VERSION}; update MMQ-Net Studio or delete the mask file."
            )
        chans = data.get("channels", [])
        if not isinstance(chans, list):
            raise MaskError(f"Invalid 'channels' in {origin}: expected a list of channel names, got {chans!r}.")
        segs_in = data.get("segments", [])
        if not isinstance(segs_in, list):
            raise MaskError(f"Invalid 'segments' in {origin}: expected a list, got {type(segs_in).__name__}.")
        segs = []
        for i, item in enumerate(segs_in):
            try:
                if not isinstance(item, Mapping):
                    raise MaskError(f"expected an object with start_s and end_s, got {item!r}")
                missing = [k for k in ("start_s", "end_s") if k not in item]
                if missing:
                    raise MaskError(f"missing key(s) {', '.join(missing)}")
                for key in ("start_s", "end_s"):
                    if isinstance(item[key], bool) or not isinstance(item[key], (int, float)) \
                            or not math.isfinite(item[key]):
                        raise MaskError(f"'{key}' must be a number of seconds, got {item[key]!r}")
                ch = item.get("channels", [])
                if not isinstance(ch, list):
                    raise MaskError(f"'channels' must be a list of names, got {ch!r}")
                segs.append(SegmentMask(item["start_s"], item["end_s"], tuple(ch), item.get("source", "user")))
            except MaskError as exc:
                raise MaskError(
                    f"Invalid mask segment #{i} in {origin}: {str(exc).rstrip('.')}; fix or delete the mask file."
                ) from None
        try:
            return cls(channels=frozenset(_as_name_tuple(chans, "channels")), segments=tuple(segs))
        except MaskError as exc:
            raise MaskError(f"Invalid mask channels in {origin}: {exc}") from None

    def save(self, path: str | os.PathLike, *, recording: str | os.PathLike | Recording | None = None) -> Path:
        """Write the mask set as JSON to ``path`` atomically; return the path.

        The JSON goes to a temporary file in the same folder, is flushed and fsynced, then renamed over
        ``path`` with :func:`os.replace`, so ``path`` holds either the old or the new content, never a
        partial file. ``recording`` (see :meth:`to_dict`) lets :meth:`load` detect a mismatch.
        """
        path = Path(path)
        text = json.dumps(self.to_dict(recording=recording), indent=1, allow_nan=False) + "\n"
        if not path.parent.is_dir():
            raise MaskError(f"Cannot save masks to {path}: folder {path.parent} does not exist.")
        atomic_write_text(path, text)
        log.debug("saved %d mask segment(s), %d masked channel(s) to %s", len(self.segments), len(self.channels), path)
        return path

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        *,
        recording_path: str | os.PathLike | None = None,
        on_mismatch: Literal["raise", "warn", "ignore"] = "raise",
    ) -> MaskSet:
        """Read a mask set saved by :meth:`save`.

        Parameters
        ----------
        path : path-like
            The JSON sidecar.
        recording_path : path-like, optional
            The recording the masks are loaded for. If the sidecar recorded a recording of another size, the
            recording changed and the masks may not line up: ``on_mismatch`` says what to do ("raise" a
            :class:`MaskError`, "warn" with a :class:`MaskWarning`, or "ignore"). A different file name alone
            (the pair was renamed) only warns.
        """
        if on_mismatch not in ("raise", "warn", "ignore"):
            raise MaskError(f"Invalid value for 'on_mismatch': allowed raise, warn, ignore, got {on_mismatch!r}.")
        path = Path(path)
        # A regular file of at most 16 MiB, UTF-8, no deep nesting or 5000-digit numbers, never a FIFO
        # (opening one would hang): see mmqnet_core.check.read_json_file.
        # A file not named .json is most likely another file given by mistake (a recording passed to --masks):
        # never advise deleting it.
        advice = ("fix or delete it" if path.name.lower().endswith(".json") else
                  "give the mask file saved beside the recording (<recording>.masks.json) instead")
        data = read_json_file(path, "Mask file", max_bytes=16 * 1024**2, error=MaskError, advice=advice)
        masks = cls.from_dict(data, origin=f"Mask file {path}")
        if recording_path is not None and on_mismatch != "ignore":
            _check_identity(data.get("recording"), Path(recording_path), path, on_mismatch)
        return masks

    # --- MNE annotations and tables -------------------------------------------------------------------
    def to_annotations(
        self, *, orig_time: Any = None, duration_s: float | None = None, whole_channels: bool = True
    ) -> mne.Annotations:
        """Masks as :class:`mne.Annotations` (channel-specific where a mask names channels).

        Segments become ``BAD_mask`` (user), ``BAD_mask_simulated`` or ``BAD_mask_imported`` spans;
        whole-channel masks become one ``BAD_mask_channel`` span ``[0, duration_s)`` over those channels, so
        ``duration_s`` (the recording length, s) is needed when channels are whole-masked.

        Note that MNE (1.13) ignores ``ch_names`` when it rejects data by annotation
        (``reject_by_annotation``): there every ``BAD_*`` span drops all channels, and a whole-channel mask
        would drop the whole recording. For MNE processing pass ``whole_channels=False`` and set
        ``raw.info["bads"] = sorted(masks.channels)`` instead.
        """
        import mne

        onset, duration, desc, chs = [], [], [], []
        if self.channels and whole_channels:
            if duration_s is None or not float(duration_s) > 0:
                raise MaskError(
                    f"Whole-channel masks ({', '.join(sorted(self.channels))}) need the recording length: "
                    f"pass duration_s (seconds, > 0), got {duration_s!r}."
                )
            onset.append(0.0)
            duration.append(float(duration_s))
            desc.append(DESC_CHANNEL)
            chs.append(tuple(sorted(self.channels)))
        for s in self.segments:
            onset.append(s.start_s)
            duration.append(s.duration_s)
            desc.append(_DESC_BY_SOURCE[s.source])
            chs.append(s.channels)
        return mne.Annotations(onset, duration, desc, orig_time=orig_time, ch_names=chs)

    @classmethod
    def from_annotations(cls, ann: mne.Annotations | Iterable[Annotation | Mapping[str, Any]]) -> MaskSet:
        """Read masks from annotations: every ``BAD_*`` span becomes a segment, the rest is ignored.

        Accepts :class:`mne.Annotations` (onsets in seconds from the recording start, as for a Raw whose
        first sample is 0) or :class:`~mmqnet_core.recording.Annotation` objects (e.g. the interference
        spans of preprocessing). The descriptions written by :meth:`to_annotations` come back losslessly
        (source and whole-channel masks); any other ``BAD_*`` span becomes a segment with
        ``source="imported"``. Zero-length ``BAD_*`` events are skipped.
        """
        channels: set[str] = set()
        segs: list[SegmentMask] = []
        for a in ann:
            if isinstance(a, Annotation):
                onset, dur, desc, chs = a.onset, a.duration, a.description, a.ch_names
            else:
                onset, dur, desc = float(a["onset"]), float(a["duration"]), str(a["description"])
                chs = tuple(a.get("ch_names", ()) or ())
            if not desc.upper().startswith("BAD"):
                continue
            if not dur > 0:
                log.debug("skipping zero-length annotation %r at %.3f s", desc, onset)
                continue
            if desc == DESC_CHANNEL and chs:
                channels.update(chs)
                continue
            start = max(0.0, float(onset))
            end = float(onset) + float(dur)
            if end <= start:
                continue
            segs.append(SegmentMask(start, end, tuple(chs), _SOURCE_BY_DESC.get(desc, "imported")))
        return cls(channels=frozenset(channels), segments=tuple(segs))

    def to_dataframe(self, *, duration_s: float | None = None) -> pd.DataFrame:
        """One row per mask: columns ``kind``, ``channels``, ``start_s``, ``end_s``, ``source``.

        ``kind`` is "channel" (whole-channel mask; ``end_s`` = ``duration_s`` or NaN) or "segment";
        ``channels`` joins names with ";" and is ``"*"`` for a segment on all channels.
        """
        import pandas as pd

        end = math.nan if duration_s is None else float(duration_s)
        rows = [("channel", ch, 0.0, end, "user") for ch in sorted(self.channels)]
        rows += [
            ("segment", _CSV_SEP.join(s.channels) if s.channels else ALL_CHANNELS, s.start_s, s.end_s, s.source)
            for s in self.segments
        ]
        return pd.DataFrame(rows, columns=["kind", "channels", "start_s", "end_s", "source"])

    def to_csv(self, path: str | os.PathLike, *, duration_s: float | None = None) -> Path:
        """Write :meth:`to_dataframe` as CSV (for spreadsheets and reports); return the path."""
        path = Path(path)
        self.to_dataframe(duration_s=duration_s).to_csv(path, index=False)
        return path

    @classmethod
    def from_dataframe(cls, df: pd.DataFrame) -> MaskSet:
        """Inverse of :meth:`to_dataframe` (e.g. after ``pandas.read_csv``)."""
        missing = {"kind", "channels", "start_s", "end_s", "source"} - set(df.columns)
        if missing:
            raise MaskError(f"Mask table lacks column(s) {', '.join(sorted(missing))}; was it written by to_csv?")
        channels: set[str] = set()
        segs = []
        for i, row in enumerate(df.itertuples(index=False)):
            names = "" if not isinstance(row.channels, str) else row.channels
            if row.kind == "channel":
                channels.add(names)
            elif row.kind == "segment":
                chs = () if names in ("", ALL_CHANNELS) else tuple(names.split(_CSV_SEP))
                segs.append(SegmentMask(row.start_s, row.end_s, chs, row.source))
            else:
                raise MaskError(f"Invalid 'kind' in mask table row {i}: allowed channel, segment, got {row.kind!r}.")
        return cls(channels=frozenset(channels), segments=tuple(segs))


# --------------------------------------------------------------------------------------------------------
# sidecar files
# --------------------------------------------------------------------------------------------------------
def sidecar_path(recording_path: str | os.PathLike, *, trial: int | str | None = None) -> Path:
    """Where the masks of a recording are saved.

    ``<recording file>.masks.json`` beside a file (``rec.bdf`` -> ``rec.bdf.masks.json``); for a recording
    that is a folder (a MAHNOB-HCI session) ``<folder>/<folder name>.masks.json``. For a file holding several
    trials (DEAP ``sNN.dat``) give ``trial`` to get one sidecar per trial: ``s01.dat.trial3.masks.json``.
    """
    p = Path(recording_path)
    suffix = ".masks.json" if trial is None else f".trial{trial}.masks.json"
    if p.is_dir():
        return p / (p.name + suffix)
    return p.with_name(p.name + suffix)


def masks_for(path: str | os.PathLike, recording: Any = None, *, masks: str | os.PathLike | None = None,
              no_masks: bool = False) -> tuple["MaskSet | None", str]:
    """The masks a command applies to the recording at ``path``, and a note saying which.

    ``masks`` (a mask JSON) when given; else, unless ``no_masks``, the recording's sidecar (:func:`sidecar_path`;
    for a trial of a DEAP file its own ``sNN.dat.trialK.masks.json`` when it exists, as the app saves them)
    when it exists; else none. The note is ``"masks from <file>"`` or ``"no masks"``. Every command that reads a
    recording (``analyze``, ``features``, ``preprocess``) takes its masks from here, so a mask means missing
    data in all of them.
    """
    if masks:
        return MaskSet.load(masks), f"masks from {masks}"
    if no_masks:
        return None, "no masks"
    side = sidecar_path(path)
    trial = getattr(recording, "trial", None)
    if getattr(recording, "source_format", None) == "deap" and trial:  # the app saves one sidecar per DEAP trial
        own = sidecar_path(path, trial=trial)
        side = own if own.is_file() or not side.is_file() else side
    if side.is_file():
        return MaskSet.load(side), f"masks from {side}"
    return None, "no masks"


def _recording_identity(recording: Any) -> dict | None:
    if recording is None:
        return None
    src = getattr(recording, "source", recording)  # a Recording or a path
    if src is None:
        return None
    p = Path(src)
    size = p.stat().st_size if p.is_file() else None
    return {"name": p.name, "size": size}


def _check_identity(saved: Any, recording_path: Path, path: Path, on_mismatch: str) -> None:
    if not isinstance(saved, Mapping):
        return  # saved without a recording: nothing to compare
    now = _recording_identity(recording_path) or {}
    saved_size, size = saved.get("size"), now.get("size")
    if saved_size is not None and size is not None and saved_size != size:
        msg = (
            f"Mask file {path} was saved for {saved.get('name')!r} of {saved_size} bytes, but "
            f"{recording_path} has {size} bytes: the recording changed and the masks may not line up. "
            "Check the masks, or delete the mask file to start afresh."
        )
        if on_mismatch == "raise":
            raise MaskError(msg)
        warnings.warn(msg, MaskWarning, stacklevel=3)
        log.warning(msg)
    elif saved.get("name") not in (None, now.get("name")):
        msg = (
            f"Mask file {path} was saved for {saved.get('name')!r}, not {recording_path.name!r} "
            "(same size, probably renamed); using it."
        )
        warnings.warn(msg, MaskWarning, stacklevel=3)
        log.warning(msg)




# --------------------------------------------------------------------------------------------------------
# masks on the signals (what preprocessing treats as missing)
# --------------------------------------------------------------------------------------------------------
def mask_samples(
    masks: MaskSet,
    ch_names: Sequence[str],
    sfreq: float,
    n_times: int,
    *,
    offset_s: float = 0.0,
) -> np.ndarray:
    """Which samples of a signal array the masks hide: ``(n_channels, n_times)`` bool, True = masked.

    Sample ``k`` of a row lies at ``offset_s + k / sfreq`` seconds of the recording and is masked when that
    time falls in a masked interval ``[start_s, end_s)`` of the row's channel (or the channel is masked
    whole). This is how masks reach :func:`~mmqnet_core.preprocessing.preprocess`, where masked samples are
    missing data.

    Parameters
    ----------
    masks : MaskSet
        The masks (user-drawn, simulated, imported).
    ch_names : sequence of str
        Channel of each row; names the masks do not mention are never masked.
    sfreq : float
        Sampling rate of the array, Hz.
    n_times : int
        Number of samples per row.
    offset_s : float
        Recording time of sample 0, s.
    """
    out = np.zeros((len(ch_names), int(n_times)), dtype=bool)
    for row, spans in enumerate(mask_sample_spans(masks, ch_names, sfreq, n_times, offset_s=offset_s)):
        for a, b in spans:
            out[row, a:b] = True
    return out


def mask_sample_spans(
    masks: MaskSet,
    ch_names: Sequence[str],
    sfreq: float,
    n_times: int,
    *,
    offset_s: float = 0.0,
) -> list[np.ndarray]:
    """The masked samples of each row as ``(K, 2)`` int arrays of ``[start, stop)`` sample indices.

    Same rule and arguments as :func:`mask_samples`, without allocating the (n_channels, n_times) array: two
    mask sets with the same spans hide the same samples (used to fingerprint masks for the cleaning cache).
    """
    if not isinstance(masks, MaskSet):
        raise MaskError(f"Expected a MaskSet, got {type(masks).__name__}.")
    if not (isinstance(sfreq, (int, float)) and math.isfinite(sfreq) and sfreq > 0):
        raise MaskError(f"Invalid value for 'sfreq': must be a rate > 0 Hz, got {sfreq!r}.")
    n = int(n_times)
    out = []
    for name in ch_names:
        if name in masks.channels:
            out.append(np.array([[0, n]], dtype=np.int64) if n else np.zeros((0, 2), np.int64))
            continue
        us, ue = masks._intervals(name)
        # first sample at or after each edge: k >= (t - offset) * sfreq
        lo = np.clip(np.ceil((us - offset_s) * sfreq - 1e-9), 0, n).astype(np.int64)
        hi = np.clip(np.ceil((ue - offset_s) * sfreq - 1e-9), 0, n).astype(np.int64)
        keep = hi > lo
        out.append(np.column_stack([lo[keep], hi[keep]]) if keep.any() else np.zeros((0, 2), np.int64))
    return out


# --------------------------------------------------------------------------------------------------------
# simulated missingness
# --------------------------------------------------------------------------------------------------------
def _check_fraction(name: str, value: float, hi: float, meaning: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not 0.0 <= v <= hi:
        raise MaskError(f"Invalid value for '{name}': allowed 0 to {hi:g} ({meaning}), got {value!r}.")
    return v


def simulate_missing(
    channels: Sequence[ChannelInfo],
    duration_s: float,
    rate: float,
    *,
    seed: int,
    dropout_share: float = 0.3,
    segment_s: tuple[float, float] = (2.0, 10.0),
) -> MaskSet:
    """Remove a fraction of a recording's physiological channel-time, as sensors failing would.

    Parameters
    ----------
    channels : sequence of ChannelInfo
        The recording's channels; STIM and MISC channels are never masked and do not count.
    duration_s : float
        Recording length, s.
    rate : float
        Fraction (0 to 0.9) of the total physiological channel-time ``n_channels * duration_s`` to remove.
    seed : int
        Seed of the random generator: the same arguments give the same masks.
    dropout_share : float
        Share (0-1) of the removed time taken by whole-modality drop-outs: all channels of one modality
        masked for a long span (a quarter of the recording up to all of it; shorter when the budget is
        small). The rest is removed as segments on single channels.
    segment_s : (float, float)
        Range of segment lengths, s (a segment may be cut shorter to meet the rate exactly).

    Returns
    -------
    MaskSet
        Segments with ``source="simulated"`` (merged). The achieved rate, ``masks.masked_fraction(phys,
        duration_s)``, equals ``rate`` to within the time grid used (about 0.05 s per channel).

    Notes
    -----
    Masks are placed on a time grid with a coverage matrix so overlapping draws do not lower the rate: each
    draw only counts the channel-time it newly removes and the last one is cut to hit the target.
    """
    rate = _check_fraction("rate", rate, 0.9, "fraction of physiological channel-time to remove")
    dropout_share = _check_fraction("dropout_share", dropout_share, 1.0, "share of the removed time as drop-outs")
    try:
        dur = float(duration_s)
    except (TypeError, ValueError):
        dur = math.nan
    if not (math.isfinite(dur) and dur > 0):
        raise MaskError(f"Invalid value for 'duration_s': must be a finite time > 0 s, got {duration_s!r}.")
    try:
        seg_lo, seg_hi = (float(x) for x in segment_s)
    except (TypeError, ValueError):
        seg_lo = seg_hi = math.nan
    if not (0 < seg_lo <= seg_hi and math.isfinite(seg_hi)):
        raise MaskError(
            f"Invalid value for 'segment_s': expected (min, max) seconds with 0 < min <= max, got {segment_s!r}."
        )
    names = [c.name for c in channels]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise MaskError(f"Duplicate channel name(s) {dup}; channel names must be unique to simulate missing data.")
    phys = [c for c in channels if c.modality in PHYSIOLOGICAL]
    if rate == 0.0:
        return MaskSet()
    if not phys:
        raise MaskError(
            f"Cannot simulate missing data: none of the {len(channels)} channel(s) is physiological "
            "(all are STIM/MISC); set the channel modalities first."
        )

    rng = np.random.default_rng(seed)
    n_bins = int(math.ceil(dur / max(0.05, dur / 200_000)))  # grid of ~0.05 s, at most 200k bins per channel
    res = dur / n_bins
    cov = np.zeros((len(phys), n_bins), dtype=bool)
    target = int(round(rate * cov.size))
    covered = 0
    placed: list[tuple[tuple[str, ...], int, int]] = []

    def place(rows: np.ndarray | int, start: int, stop: int, need: int) -> int:
        """Mask rows over bins [start, stop), cut so that at most ``need`` new cells are masked."""
        block = ~cov[rows, start:stop]
        new = block.sum(axis=0) if block.ndim == 2 else block.astype(int)
        cs = np.cumsum(new)
        if cs.size == 0 or cs[-1] == 0:
            return 0
        if cs[-1] > need:
            stop = start + int(np.searchsorted(cs, need)) + 1
        cov[rows, start:stop] = True
        chans = tuple(phys[r].name for r in np.atleast_1d(rows))
        placed.append((chans, start, stop))
        return int(min(cs[-1], need))

    # 1. whole-modality drop-outs
    by_mod: dict[Modality, list[int]] = {}
    for i, c in enumerate(phys):
        by_mod.setdefault(c.modality, []).append(i)
    mods = [np.array(v) for v in by_mod.values()]
    drop_target = int(round(dropout_share * target))
    for _ in range(200):  # bounded number of drop-out draws
        need = drop_target - covered
        fitting = [rows for rows in mods if rows.size <= need]
        if not fitting:
            break
        rows = fitting[int(rng.integers(len(fitting)))]
        span = n_bins if rng.random() < 1 / 3 else int(rng.uniform(0.25, 1.0) * n_bins)
        span = max(1, min(span, n_bins, need // rows.size))
        start = int(rng.integers(0, n_bins - span + 1))
        covered += place(rows, start, start + span, need)

    # 2. segments on single channels
    lo_bins = max(1, int(round(seg_lo / res)))
    hi_bins = max(lo_bins, int(round(seg_hi / res)))
    expected = (target - covered) / ((lo_bins + hi_bins) / 2)
    for _ in range(int(20 * expected) + 1000):  # bounded; the sweep below guarantees the target
        need = target - covered
        if need <= 0:
            break
        row = int(rng.integers(len(phys)))
        span = min(n_bins, int(rng.integers(lo_bins, hi_bins + 1)))
        start = int(rng.integers(0, n_bins - span + 1))
        covered += place(row, start, start + span, need)
    if covered < target:  # pragma: no cover - only reached if random draws kept missing the free time
        for row in range(len(phys)):
            free = np.flatnonzero(~cov[row])
            if not free.size or covered >= target:
                continue
            covered += place(row, int(free[0]), n_bins, target - covered)

    def to_s(b: int) -> float:
        return dur if b >= n_bins else b * res

    segs = tuple(SegmentMask(to_s(a), to_s(b), chans, "simulated") for chans, a, b in placed)
    log.debug("simulated %.1f %% missing over %d channels (%d draws)", 100 * covered / cov.size, len(phys), len(placed))
    return MaskSet(segments=segs).merged()


def random_token_mask(
    n_windows: int,
    groups: np.ndarray,
    rate: float,
    rng: np.random.Generator,
    *,
    dropout_share: float = 0.3,
    run_windows: tuple[int, int] = (2, 10),
) -> np.ndarray:
    """Random missingness on the token grid, fast enough to draw for every training sample.

    The token-grid analogue of :func:`simulate_missing`: a share ``dropout_share`` of the masked cells comes
    from group drop-outs (all tokens of one group masked over a run of windows, a quarter of the windows or
    more when the budget allows), the rest from runs of ``run_windows`` windows on single tokens.

    Parameters
    ----------
    n_windows : int
        T, number of windows.
    groups : np.ndarray
        (N,) int, the group (modality id) of each token.
    rate : float
        Fraction (0-1) of the T*N cells to mask. The mask hits ``round(rate*T*N)`` cells exactly, except
        that at least one token per window always stays visible when ``rate < 1`` (a window with all tokens
        masked gets one random token back, so very high rates come out slightly lower); ``rate == 1`` masks
        everything. With a single token nothing can be masked unless ``rate == 1``.
    rng : np.random.Generator
        Source of randomness (the caller seeds it).
    dropout_share : float
        Share (0-1) of the masked cells taken by group drop-outs.
    run_windows : (int, int)
        Range of run lengths, in windows, of the single-token runs (clipped to T).

    Returns
    -------
    np.ndarray
        (T, N) bool, True = masked.
    """
    rate = _check_fraction("rate", rate, 1.0, "fraction of tokens to mask")
    dropout_share = _check_fraction("dropout_share", dropout_share, 1.0, "share of the masked tokens as drop-outs")
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.size == 0 or not np.issubdtype(groups.dtype, np.integer):
        raise MaskError(
            "Invalid value for 'groups': expected a non-empty 1-D int array (N,), "
            f"got shape {groups.shape} dtype {groups.dtype}."
        )
    if isinstance(n_windows, bool) or not isinstance(n_windows, (int, np.integer)) or n_windows < 1:
        raise MaskError(f"Invalid value for 'n_windows': must be an int >= 1, got {n_windows!r}.")
    lo, hi = (int(x) for x in run_windows)
    if not 1 <= lo <= hi:
        raise MaskError(
            f"Invalid value for 'run_windows': expected (min, max) with 1 <= min <= max, got {run_windows!r}."
        )
    T, N = int(n_windows), groups.size
    total = T * N
    mask = np.zeros((T, N), dtype=bool)
    if rate == 1.0:
        mask[:] = True
        return mask
    target = min(int(round(rate * total)), T * (N - 1))  # keep one token per window visible
    if target <= 0:
        return mask

    # 1. group drop-outs: a handful of rectangle draws (never more than the drop-out budget)
    ids, sizes = np.unique(groups, return_counts=True)
    drop_target = int(round(dropout_share * target))
    covered = 0
    for _ in range(4 * ids.size):
        need = drop_target - covered
        fit = np.flatnonzero(sizes <= need)
        if not fit.size:
            break
        k = fit[rng.integers(fit.size)]
        cols = groups == ids[k]
        max_span = min(T, need // int(sizes[k]))
        span = int(rng.integers(min(max_span, max(1, T // 4)), max_span + 1))
        start = int(rng.integers(0, T - span + 1))
        mask[start : start + span, cols] = True
        covered = int(mask.sum())

    # 2. single-token runs: draw runs at random, rank them, keep the first cells (in draw order) that reach
    #    the target exactly. Everything is array work; the loop only retries if too few runs were drawn.
    need = target - covered
    lo, hi = min(lo, T), min(hi, T)
    free = total - covered
    n_runs = 0
    while need > 0:
        mean_len = (lo + hi) / 2 * T / (T + (lo + hi) / 2 - 1)  # expected in-range cells per run
        frac = min(need / free, 0.999)
        n_runs = max(2 * n_runs, int(1.3 * -math.log1p(-frac) * total / mean_len) + 8)
        tok = rng.integers(0, N, n_runs)
        length = rng.integers(lo, hi + 1, n_runs)
        start = rng.integers(1 - length, T)  # runs may stick out at both ends: every cell equally likely
        run_id = np.repeat(np.arange(n_runs), length)
        t = start[run_id] + (np.arange(run_id.size) - np.repeat(np.cumsum(length) - length, length))
        inside = (t >= 0) & (t < T)
        run_id, t = run_id[inside], t[inside]
        cell = t * N + tok[run_id]
        first = np.full(total, n_runs)
        np.minimum.at(first, cell, run_id)  # the first run that reaches each cell
        first[mask.ravel()] = n_runs  # already masked cells do not count
        cand = np.flatnonzero(first < n_runs)
        if cand.size < need:
            continue  # rare: draw more runs
        chosen = cand[np.lexsort((cand, first[cand]))[:need]]
        mask.reshape(-1)[chosen] = True  # a view: mask is C-contiguous
        break

    full = np.flatnonzero(mask.all(axis=1))
    if full.size:
        mask[full, rng.integers(0, N, full.size)] = False
    return mask


__all__ = [
    "ALL_CHANNELS",
    "DESC_CHANNEL",
    "DESC_IMPORTED",
    "DESC_SIMULATED",
    "DESC_USER",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MaskSet",
    "MaskWarning",
    "SOURCES",
    "SegmentMask",
    "masks_for",
    "random_token_mask",
    "mask_sample_spans",
    "mask_samples",
    "sidecar_path",
    "simulate_missing",
]
