"""Configuration of feature extraction."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..check import invalid, safe_text
from ..errors import ConfigError

#: EEG bands (name, low Hz, high Hz) used by default: TorchEEG's bands with gamma stopped at 45 Hz, the upper
#: edge of DEAP's preprocessed band-pass (4-45 Hz). Band edges are half-open: low <= f < high.
DEFAULT_BANDS: tuple[tuple[str, float, float], ...] = (
    ("theta", 4.0, 8.0),
    ("alpha", 8.0, 14.0),
    ("beta", 14.0, 31.0),
    ("gamma", 31.0, 45.0),
)

#: The optional delta band, prepended when ``FeatureConfig.include_delta`` is True.
DELTA_BAND: tuple[str, float, float] = ("delta", 1.0, 4.0)


@dataclass(frozen=True)
class FeatureConfig:
    """How recordings are cut into windows and which features each window gets.

    All times are in seconds and all frequencies in Hz.
    """

    window_s: float = 1.0  # window length, s (DEAP convention: 1 s = 128 samples at 128 Hz)
    step_s: float | None = None  # hop between window starts, s; None = window_s (no overlap); < window_s overlaps
    bands: tuple[tuple[str, float, float], ...] = DEFAULT_BANDS  # EEG bands (name, low Hz, high Hz), low <= f < high
    include_delta: bool = False  # also compute the delta band (1-4 Hz), placed before the other bands
    waveform_points: int = 8  # downsampled samples per window kept for slow signals (GSR, RESP, TEMP); 0 = none
    log_psd: bool = True  # PSD columns in dB re 1 uV^2/Hz (True) or linear V^2/Hz (False)
    context_s: float = 10.0  # span centred on each window for rate features (HR, RMSSD, blinks, SCRs, breaths), s
    hf_z_threshold: float | None = 3.0  # robust z of EEG high-band power above which a window scores interference; None = off
    flat_rel_tol: float = 1e-3  # a window is flat when its std <= this x the channel's median window std (or is 0)

    def __post_init__(self) -> None:
        if not (isinstance(self.window_s, (int, float)) and math.isfinite(self.window_s) and self.window_s > 0):
            raise invalid("window_s", "must be a positive number of seconds", self.window_s)
        if self.step_s is not None and not (math.isfinite(self.step_s) and self.step_s > 0):
            raise invalid("step_s", "must be > 0 s or None (= window_s)", self.step_s)
        if not self.bands:
            raise invalid("bands", "must hold at least one (name, low_hz, high_hz) band", self.bands)
        names = []
        for band in self.all_bands:
            if len(band) != 3:
                raise invalid("bands", "each EEG band must be (name, low_hz, high_hz)", band)
            name, lo, hi = band
            if not (0 <= float(lo) < float(hi)):
                raise invalid("bands", f"EEG band {safe_text(repr(name), 60)}: need 0 <= low < high Hz", (lo, hi))
            names.append(name)
        if len(set(names)) != len(names):
            raise invalid("bands", "band names must be unique", names)
        if not (isinstance(self.waveform_points, int) and self.waveform_points >= 0):
            raise invalid("waveform_points", "must be an integer >= 0", self.waveform_points)
        if not (math.isfinite(self.context_s) and self.context_s > 0):
            raise invalid("context_s", "must be > 0 s", self.context_s)
        if self.hf_z_threshold is not None and not self.hf_z_threshold > 0:
            raise invalid("hf_z_threshold", "must be > 0 or None", self.hf_z_threshold)
        if not 0 <= self.flat_rel_tol < 1:
            raise invalid("flat_rel_tol", "must be in [0, 1)", self.flat_rel_tol)

    @property
    def hop_s(self) -> float:
        """Hop between window starts, s (``step_s`` or ``window_s``)."""
        return self.window_s if self.step_s is None else float(self.step_s)

    @property
    def all_bands(self) -> tuple[tuple[str, float, float], ...]:
        """The EEG bands actually computed (delta first when ``include_delta``)."""
        bands = tuple((str(n), float(lo), float(hi)) for n, lo, hi in self.bands)
        if self.include_delta and DELTA_BAND[0] not in [b[0] for b in bands]:
            bands = (DELTA_BAND,) + bands
        return bands

    def to_dict(self) -> dict:
        """Plain JSON-able dict (for saving beside a model)."""
        return {
            "window_s": self.window_s,
            "step_s": self.step_s,
            "bands": [list(b) for b in self.bands],
            "include_delta": self.include_delta,
            "waveform_points": self.waveform_points,
            "log_psd": self.log_psd,
            "context_s": self.context_s,
            "hf_z_threshold": self.hf_z_threshold,
            "flat_rel_tol": self.flat_rel_tol,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"Unknown FeatureConfig field(s) {unknown}; known fields are {sorted(known)}.")
        d = dict(d)
        if "bands" in d:
            d["bands"] = tuple((str(n), float(lo), float(hi)) for n, lo, hi in d["bands"])
        return cls(**d)
