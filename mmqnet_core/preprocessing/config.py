"""Configuration of the preprocessing pipeline (:class:`PreprocessConfig`).

The defaults follow common practice for affective physiology (DEAP, MAHNOB-HCI, TorchEEG) and are documented
field by field; :meth:`PreprocessConfig.band_for` is the single place that says which pass band a modality gets.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from ..check import invalid
from ..errors import ConfigError
from ..recording import Modality

#: Pass band per modality, (low, high) in Hz; ``None`` means "no high-pass" / "no low-pass".
#: EEG 1-45 Hz keeps theta..gamma and removes drifts; EOG 0.1-15 Hz keeps blinks and saccades; EMG is
#: high-passed at 20 Hz only (its power extends to the Nyquist frequency); ECG 0.5-40 Hz; PPG 0.5-8 Hz keeps the
#: pulse wave and its first harmonics; respiration 0.05-1 Hz (3-60 breaths/min); GSR is low-passed at 1 Hz
#: without high-pass so that the tonic skin-conductance level survives; temperature is low-passed at 0.1 Hz.
#: STIM and MISC channels are never filtered.
DEFAULT_BANDS: tuple[tuple[Modality, float | None, float | None], ...] = (
    (Modality.EEG, 1.0, 45.0),
    (Modality.EOG, 0.1, 15.0),
    (Modality.EMG, 20.0, None),
    (Modality.ECG, 0.5, 40.0),
    (Modality.PPG, 0.5, 8.0),
    (Modality.RESP, 0.05, 1.0),
    (Modality.GSR, None, 1.0),
    (Modality.TEMP, None, 0.1),
)

#: Modalities that may carry power-line interference and get the notch filter.
ELECTROPHYSIOLOGICAL: tuple[Modality, ...] = (Modality.EEG, Modality.EOG, Modality.EMG, Modality.ECG)

_EOG_METHODS = ("regression", "ica", "none")
_FILTER_METHODS = ("fir", "iir")
_REFERENCES = ("average", "none")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class PreprocessConfig:
    """What :func:`~mmqnet_core.preprocessing.preprocess` does, step by step.

    All frequencies are in Hz, all durations in seconds. The instance is immutable; use
    :func:`dataclasses.replace` to derive a variant. :meth:`to_dict` / :meth:`from_dict` give a JSON-safe
    round trip (saved beside cleaned files by ``mmqnet preprocess``).
    """

    # Power-line frequency, Hz: 50 or 60, or None to detect it from the spectrum (no notch if none stands out).
    line_freq: float | None = None
    # Apply the notch filter at line_freq and its harmonics below the Nyquist frequency.
    notch: bool = True
    # Peak-to-neighbour power ratio (linear, best channel) above which a 50/60 Hz peak counts as line noise.
    line_detect_ratio: float = 5.0
    # Output sampling rate, Hz. Input is down-sampled (anti-aliased) to it; slower input keeps its own rate.
    target_sfreq: float = 128.0
    # Pass band per modality as (modality, low Hz | None, high Hz | None); modalities not listed are not filtered.
    bands: tuple[tuple[Modality, float | None, float | None], ...] = DEFAULT_BANDS
    # "fir" (linear-phase, mne default design) or "iir" (4th-order Butterworth, forward-backward, faster).
    filter_method: str = "fir"
    # EEG reference applied before EOG removal: "average" (common average) or "none" (keep the file's).
    eeg_reference: str = "average"
    # Fewest EEG channels for which the common average reference is applied (fewer: kept as recorded).
    min_channels_average_ref: int = 4
    # EOG artifact removal: "regression" (mne EOGRegression), "ica" (mne ICA + find_bads_eog) or "none".
    eog_method: str = "regression"
    # ICA only: most components to fit (capped at the rank of the referenced EEG).
    ica_n_components: int = 15
    # ICA only: a component is removed when |correlation| with an EOG channel is at least this.
    ica_eog_threshold: float = 0.5
    # ICA only: most samples used to fit (the data are decimated to stay below), for speed (~3 s at 10 000).
    ica_max_samples: int = 10_000
    # Detect muscle artifacts (mne annotate_muscle_zscore on EEG, or on EMG when there is no EEG).
    detect_muscle: bool = True
    # z-score of the summed high-frequency envelope above which a span is "BAD_muscle".
    muscle_threshold: float = 4.0
    # Muscle spans closer than this are merged (mne's min_length_good), s.
    muscle_min_gap_s: float = 0.5
    # Band of the muscle detector, Hz; None = 110-140 Hz when the input rate allows, else the top of the band.
    muscle_band: tuple[float, float] | None = None
    # Detect flat spans ("BAD_flat") on every physiological channel except temperature.
    detect_flat: bool = True
    # Length of the windows in which peak-to-peak amplitude is measured for flat detection, s.
    flat_window_s: float = 0.5
    # Shortest flat span reported, s (consecutive flat windows are merged first).
    flat_min_s: float = 2.0
    # A window is flat when its peak-to-peak is at most this fraction of the channel's median peak-to-peak.
    flat_rel_threshold: float = 1e-3
    # Detect abrupt jumps ("BAD_jump") on GSR and PPG channels.
    detect_jumps: bool = True
    # A jump is a change over jump_lag_s larger than this many robust standard deviations of such changes.
    jump_threshold: float = 10.0
    # ... and larger than this fraction of the channel's 1-99 % percentile range (spares genuine fast responses).
    jump_min_fraction: float = 0.25
    # Lag over which jumps are measured, s (physiological GSR/PPG changes are slower than this).
    jump_lag_s: float = 0.05
    # Margin added on both sides of a detected jump, s.
    jump_pad_s: float = 0.5
    # Put NaN back in `raw` and `cleaned` where the input was NaN (it is interpolated only for filtering).
    restore_nan: bool = True
    # Seed of the random parts (ICA initialisation).
    seed: int = 0

    def __post_init__(self) -> None:
        if self.line_freq is not None:
            if not _is_number(self.line_freq) or float(self.line_freq) not in (50.0, 60.0):
                raise invalid("line_freq", "allowed 50 or 60", self.line_freq)
            object.__setattr__(self, "line_freq", float(self.line_freq))
        for name in ("line_detect_ratio", "target_sfreq", "muscle_threshold", "flat_window_s", "flat_min_s",
                     "flat_rel_threshold", "jump_threshold", "jump_min_fraction", "jump_lag_s", "ica_eog_threshold"):
            value = getattr(self, name)
            if not _is_number(value) or value <= 0:
                raise invalid(name, "must be a number > 0", value)
        for name in ("jump_pad_s", "muscle_min_gap_s"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0:
                raise invalid(name, "must be a number >= 0", value)
        for name, allowed in (("eog_method", _EOG_METHODS), ("filter_method", _FILTER_METHODS),
                              ("eeg_reference", _REFERENCES)):
            value = getattr(self, name)
            if value not in allowed:
                raise invalid(name, "allowed " + ", ".join(repr(a) for a in allowed), value)
        for name, low in (("ica_n_components", 1), ("ica_max_samples", 1000), ("min_channels_average_ref", 2)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise invalid(name, f"must be an integer >= {low}", value)
        if self.muscle_band is not None:
            band = tuple(self.muscle_band)
            if len(band) != 2 or not all(_is_number(b) for b in band) or not 0 < band[0] < band[1]:
                raise invalid("muscle_band", "must be (low, high) Hz with 0 < low < high", self.muscle_band)
            object.__setattr__(self, "muscle_band", (float(band[0]), float(band[1])))
        object.__setattr__(self, "bands", _normalise_bands(self.bands))

    def band_for(self, modality: Modality | str) -> tuple[float | None, float | None] | None:
        """Pass band (low Hz | None, high Hz | None) of ``modality``, or None if it is not filtered."""
        m = Modality.parse(modality)
        for mod, low, high in self.bands:
            if mod == m:
                return low, high
        return None

    # --- JSON round trip ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of every field (modalities as their names)."""
        out = asdict(self)
        out["bands"] = [[m.value, low, high] for m, low, high in self.bands]
        out["muscle_band"] = list(self.muscle_band) if self.muscle_band is not None else None
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PreprocessConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error that names them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"Unknown preprocessing option(s) {unknown}; known options are {sorted(known)}.")
        kwargs = dict(data)
        if "bands" in kwargs:
            kwargs["bands"] = tuple(tuple(b) for b in kwargs["bands"])
        if kwargs.get("muscle_band") is not None:
            kwargs["muscle_band"] = tuple(kwargs["muscle_band"])
        return cls(**kwargs)


def _normalise_bands(bands: Any) -> tuple[tuple[Modality, float | None, float | None], ...]:
    """Check the ``bands`` field and return it with :class:`Modality` members and float edges."""
    out: list[tuple[Modality, float | None, float | None]] = []
    seen: set[Modality] = set()
    try:
        items = list(bands)
    except TypeError:
        raise invalid("bands", "must be (modality, low, high) triples", bands) from None
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise invalid("bands", "each entry must be (modality, low Hz, high Hz)", item)
        mod = Modality.parse(item[0])
        low, high = item[1], item[2]
        for edge in (low, high):
            if edge is not None and (not _is_number(edge) or edge <= 0):
                raise invalid("bands", f"the edges of the {mod.value} band must be None or numbers > 0 Hz",
                              (item[1], item[2]))
        if low is None and high is None:
            raise ConfigError(f"Invalid band for {mod.value}: give a low or a high edge (or leave the modality out).")
        if low is not None and high is not None and low >= high:
            raise ConfigError(f"Invalid band for {mod.value}: low edge {low} Hz must be below high edge {high} Hz.")
        if mod in seen:
            raise ConfigError(f"Invalid value for 'bands': modality {mod.value} is listed twice.")
        if mod in (Modality.STIM, Modality.MISC):
            raise ConfigError(f"Invalid value for 'bands': {mod.value} channels are never filtered.")
        seen.add(mod)
        out.append((mod, None if low is None else float(low), None if high is None else float(high)))
    return tuple(out)
