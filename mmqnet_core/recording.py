"""Typed objects that describe a recording: modalities, channels, annotations and the lazy recording itself.

These are the shared vocabulary of the core: ``io`` produces a :class:`Recording`, ``preprocessing`` turns it
into :class:`Signals`, ``features`` and ``masking`` refer to channels by name and modality.

Units: all signal values are in SI units as mne returns them (volts for EEG/EOG/EMG/ECG); channels whose unit
is not known keep the file's physical values and ``unit=""``. Times are seconds from the recording start.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

import numpy as np

from .errors import ConfigError, RecordingError

if TYPE_CHECKING:  # pragma: no cover
    import mne


class Modality(str, enum.Enum):
    """Kind of physiological signal carried by a channel."""

    EEG = "EEG"
    EOG = "EOG"
    EMG = "EMG"
    GSR = "GSR"  # galvanic skin response / electrodermal activity (EDA)
    RESP = "RESP"
    PPG = "PPG"  # photoplethysmogram / blood volume pulse (BVP), DEAP's "Plet"
    TEMP = "TEMP"
    ECG = "ECG"
    STIM = "STIM"  # trigger / status channel
    MISC = "MISC"

    @classmethod
    def parse(cls, value: "str | Modality") -> "Modality":
        """Return the modality named ``value`` (case-insensitive; 'EDA' means GSR, 'BVP' means PPG)."""
        if isinstance(value, Modality):
            return value
        key = str(value).strip().upper()
        key = {"EDA": "GSR", "BVP": "PPG", "EKG": "ECG", "RESPIRATION": "RESP", "TRIGGER": "STIM"}.get(key, key)
        try:
            return cls(key)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise ConfigError(f"Invalid modality {value!r}: allowed {allowed}.") from None


#: Modalities with physiological content (everything but STIM and MISC).
PHYSIOLOGICAL = tuple(m for m in Modality if m not in (Modality.STIM, Modality.MISC))


@dataclass(frozen=True)
class ChannelInfo:
    """One channel of a recording."""

    name: str  # channel label as in the file, e.g. "Fp1", "GSR1", "EXG1"
    modality: Modality  # inferred from the name or set by the user
    sfreq: float  # the channel's own sampling rate in the file, Hz (may differ from Recording.sfreq)
    unit: str = ""  # physical unit of values returned by Recording.get_data ("V", "uS", "degC", "" if unknown)


@dataclass(frozen=True)
class Annotation:
    """A time span with a label: a file annotation, an event, an interference span or a mask."""

    onset: float  # seconds from the recording start
    duration: float  # seconds (0 for an instantaneous event)
    description: str  # e.g. "stimulus", "BAD_muscle"
    ch_names: tuple[str, ...] = ()  # channels concerned; empty = all channels

    @property
    def end(self) -> float:
        return self.onset + self.duration


@dataclass(frozen=True)
class Recording:
    """A physiological recording, opened lazily.

    The signal data stay in the file: :meth:`get_data` reads only the span asked for. All channels are exposed
    on the common grid of :attr:`sfreq` (mne resamples channels stored at other rates); each
    :class:`ChannelInfo` keeps its original rate and :attr:`notes` says what was done.
    """

    raw: "mne.io.BaseRaw"  # the lazily loaded mne Raw (preload=False for files)
    channels: tuple[ChannelInfo, ...]  # one per channel of ``raw``, same order
    source: Path | None = None  # file or folder it was read from (never written to)
    source_format: str = "array"  # "edf", "bdf", "deap", "mahnob" or "array"
    is_synthetic: bool = False  # True for data made by mmqnet_core.datasets.synthetic
    labels: Mapping[str, float] = field(default_factory=dict)  # e.g. {"valence": 6.2, "arousal": 3.1} (1-9)
    stim_span: tuple[float, float] | None = None  # stimulus (onset, end) in seconds, when known
    subject: str | None = None  # subject identifier, when known
    trial: str | None = None  # trial identifier, when known
    notes: tuple[str, ...] = ()  # what the loader reported (resampled channels, trigger channels found...)
    # Damage found while reading, said loudly (CLI `warning:` lines, the app's banner): a truncated file, records
    # beyond the declared end, a corrected header, data or labels dropped. Each says what was read and what not.
    warnings: tuple[str, ...] = ()
    # Fast span reader of the file behind ``raw`` ((picks, start, stop) -> float64 (n_picks, stop - start), the
    # same values as ``raw.get_data``), set by the EDF/BDF loader (io.edf_reader); None: mne reads.
    reader: Callable[[Sequence[int], int, int], np.ndarray] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.channels) != len(self.raw.ch_names):
            raise RecordingError(
                f"Recording has {len(self.raw.ch_names)} channels in its data but {len(self.channels)} "
                "channel descriptions."
            )

    # --- shape -------------------------------------------------------------------------------------------
    @property
    def sfreq(self) -> float:
        """Sampling rate of :meth:`get_data`, Hz."""
        return float(self.raw.info["sfreq"])

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def n_times(self) -> int:
        return int(self.raw.n_times)

    @property
    def duration_s(self) -> float:
        return self.n_times / self.sfreq

    @property
    def ch_names(self) -> list[str]:
        return [c.name for c in self.channels]

    @property
    def modalities(self) -> list[Modality]:
        return [c.modality for c in self.channels]

    @property
    def title(self) -> str:
        """Short name for display, marked when the data are synthetic."""
        name = self.source.name if self.source is not None else "recording"
        if self.trial:
            name = f"{name} [trial {self.trial}]"
        return f"{name} (SYNTHETIC)" if self.is_synthetic else name

    def picks(self, modality: Modality | str | Iterable[Modality | str] | None = None) -> list[int]:
        """Indices of channels of the given modality (or modalities); all channels if None."""
        if modality is None:
            return list(range(self.n_channels))
        wanted = (
            {Modality.parse(modality)}
            if isinstance(modality, (str, Modality))
            else {Modality.parse(m) for m in modality}
        )
        return [i for i, c in enumerate(self.channels) if c.modality in wanted]

    def index(self, ch_name: str) -> int:
        """Index of channel ``ch_name``; a clear error if absent."""
        try:
            return self.ch_names.index(ch_name)
        except ValueError:
            raise RecordingError(
                f"No channel named {ch_name!r} in {self.title}; channels are: {', '.join(self.ch_names)}."
            ) from None

    # --- data --------------------------------------------------------------------------------------------
    def get_data(
        self,
        start_s: float = 0.0,
        stop_s: float | None = None,
        picks: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Read samples between ``start_s`` and ``stop_s`` (seconds) of the picked channels.

        Returns an array of shape (n_picks, n_samples), float64, in the units of :class:`ChannelInfo`.
        Only that span is read from disk.
        """
        start = max(0, int(round(start_s * self.sfreq)))
        stop = self.n_times if stop_s is None else min(self.n_times, int(round(stop_s * self.sfreq)))
        if stop <= start:
            n = self.n_channels if picks is None else len(picks)
            return np.zeros((n, 0))
        p = list(range(self.n_channels)) if picks is None else list(picks)
        if self.reader is not None and not self.raw.preload:
            return self.reader(p, start, stop)
        return self.raw.get_data(picks=p, start=start, stop=stop)

    @property
    def annotations(self) -> tuple[Annotation, ...]:
        """The file's annotations (and events found in trigger channels) as :class:`Annotation`."""
        out = []
        for a in self.raw.annotations:
            ch = tuple(a["ch_names"]) if "ch_names" in a else ()
            out.append(Annotation(float(a["onset"]),
                                  float(a["duration"]), str(a["description"]), ch))
        return tuple(out)

    # --- editing -----------------------------------------------------------------------------------------
    def with_modalities(self, overrides: Mapping[str, Modality | str]) -> "Recording":
        """Return a copy with the modality of some channels set by the user, e.g. ``{"EXG1": "ECG"}``."""
        names = set(self.ch_names)
        unknown = [k for k in overrides if k not in names]
        if unknown:
            raise ConfigError(f"Cannot set modality of unknown channel(s) {unknown}; channels are {sorted(names)}.")
        chans = tuple(
            replace(c, modality=Modality.parse(overrides[c.name])) if c.name in overrides else c
            for c in self.channels
        )
        return replace(self, channels=chans)

    def describe(self) -> dict:
        """Plain summary (for ``mmqnet info`` and the status bar)."""
        by_mod: dict[str, list[str]] = {}
        for c in self.channels:
            by_mod.setdefault(c.modality.value, []).append(c.name)
        rates = sorted({c.sfreq for c in self.channels})
        return {
            "title": self.title,
            "format": self.source_format,
            "synthetic": self.is_synthetic,
            "n_channels": self.n_channels,
            "sfreq": self.sfreq,
            "channel_rates": rates,
            "duration_s": round(self.duration_s, 3),
            "modalities": by_mod,
            "n_annotations": len(self.raw.annotations),
            "labels": dict(self.labels),
            "stim_span": self.stim_span,
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Signals:
    """Signals in memory on one sampling grid (the output of preprocessing, the input of features)."""

    data: np.ndarray  # (n_channels, n_times), float32 or float64, in ChannelInfo units
    sfreq: float  # Hz
    channels: tuple[ChannelInfo, ...]  # one per row of data

    def __post_init__(self) -> None:
        if self.data.ndim != 2 or self.data.shape[0] != len(self.channels):
            raise ConfigError(
                f"Signals data must be (n_channels={len(self.channels)}, n_times), got shape {self.data.shape}."
            )
        if not self.sfreq > 0:
            raise ConfigError(f"Invalid value for 'sfreq': must be > 0 Hz, got {self.sfreq}.")

    @property
    def n_channels(self) -> int:
        return self.data.shape[0]

    @property
    def n_times(self) -> int:
        return self.data.shape[1]

    @property
    def duration_s(self) -> float:
        return self.n_times / self.sfreq

    @property
    def ch_names(self) -> list[str]:
        return [c.name for c in self.channels]

    def picks(self, modality: Modality | str) -> list[int]:
        m = Modality.parse(modality)
        return [i for i, c in enumerate(self.channels) if c.modality == m]
