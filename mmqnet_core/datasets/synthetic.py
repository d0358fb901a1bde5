"""Synthetic multimodal physiological corpus with known emotion labels and known artifacts.

DEAP and MAHNOB-HCI need a licence, so this corpus is the project's training and test data. Every trial uses
DEAP's 40-channel layout (32 EEG, hEOG, vEOG, zEMG, tEMG, GSR, Resp, Plet, Temp) and carries valence and
arousal scores (1-9). Everything it produces is marked synthetic: file names, headers, annotations and
:attr:`Recording.is_synthetic`.

How a trial is made
-------------------
* A *felt* state (valence, arousal) is drawn per trial; the *reported* scores add a per-subject scale bias and
  label noise (``SynthConfig.label_noise``), so the labels are not perfectly recoverable, as with real ratings.
* EEG: a 1/f background and alpha, theta, beta and gamma rhythms come from a few cortical sources, each mixed
  into the channels by a Gaussian kernel of the distance on the scalp (neighbouring channels correlate, so a
  masked channel can be reconstructed from the others), plus channel-specific noise.
* Felt valence drives frontal alpha asymmetry (less alpha over F3/AF3/Fp1 than over F4/AF4/Fp2 when positive),
  and, weakly, temporal gamma and zygomatic EMG. Felt arousal lowers alpha and raises beta/gamma power, raises
  skin conductance (tonic level, rate and amplitude of phasic responses), heart rate (the pulse rate of the
  plethysmograph), breathing rate and trapezius EMG, and cools the skin slightly.
* Every subject has its own channel gains, alpha frequency, heart and breathing rate, skin conductance level,
  and effect sizes with random scale and, sometimes, reversed sign, so that subject-independent evaluation is
  meaningful and not saturated. Trials add state noise unrelated to the labels.
* The first ``baseline_s`` seconds are a neutral pre-stimulus baseline (as in DEAP); the emotion effects ramp in
  over 2 s after it.
* Artifacts with ground truth (:attr:`SyntheticTrial.artifacts`): blinks (vEOG, leaking into frontal EEG),
  saccades (hEOG, leaking into F7/F8), EMG bursts (EMG channels and temporal EEG), motion (GSR, Plet, Resp),
  electrode pops, power-line noise and flat-lined sensors, at realistic rates times ``artifact_rate``.

Everything is drawn from ``np.random.default_rng(SeedSequence([seed, subject, trial]))`` (separate child
streams for signals, artifacts and labels, so changing ``artifact_rate`` leaves the clean signal and the labels
unchanged), and generation is vectorised (FFT-shaped noise): one 63 s trial of 40 channels at 128 Hz takes
about 25 ms on one core.

Calibration: a logistic regression on a dozen textbook per-trial markers (frontal alpha asymmetry, band powers,
heart and breathing rate, skin conductance...), z-scored within subject and evaluated on held-out subjects,
reaches about 70-77 % for binary valence and arousal (threshold 5) at the defaults, and chance with
``effect_scale=0``; ``tests/core/datasets`` keeps it between 60 and 97 %.

Units: EEG/EOG/EMG in volts (as mne returns them), GSR in µS, Resp and Plet in arbitrary units, Temp in °C.
Subjects and trials are numbered from 0, in code and in file names.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

import numpy as np
from scipy import signal as sps

from ..errors import ConfigError
from ..fileio import atomic_path
from ..progress import CancelToken, ProgressCallback, check_cancel, report
from ..recording import Annotation, ChannelInfo, Modality, Recording
from .deap_format import (
    DEAP_CHANNELS,
    DEAP_EEG_CHANNELS,
    DEAP_MODALITIES,
    DEAP_SFREQ,
    write_deap_pickle,
)

if TYPE_CHECKING:  # pragma: no cover
    import mne

log = logging.getLogger(__name__)

__all__ = [
    "ARTIFACT_KINDS",
    "CHANNEL_UNITS",
    "DEAP_CHANNELS",
    "SynthConfig",
    "SyntheticTrial",
    "generate_corpus",
    "generate_trial",
    "make_sample_recording",
    "write_bdf",
    "write_deap_subject",
]

#: Descriptions of the injected artifacts. "ART_saccade" extends the shared contract's list.
ARTIFACT_KINDS: tuple[str, ...] = (
    "ART_blink", "ART_saccade", "ART_emg", "ART_motion", "ART_pop", "ART_flat", "ART_line",
)  # fmt: skip

#: Unit of each channel in :attr:`SyntheticTrial.data` ("" = arbitrary units).
CHANNEL_UNITS: dict[str, str] = {
    **{name: "V" for name in DEAP_EEG_CHANNELS},
    "hEOG": "V",
    "vEOG": "V",
    "zEMG": "V",
    "tEMG": "V",
    "GSR": "uS",
    "Resp": "",
    "Plet": "",
    "Temp": "degC",
}

# Unit directions of the 32 DEAP electrodes (x right, y front, z up), taken from mne's "colin27_1020"
# montage (formerly "standard_1020") and normalised; a test checks them against mne. Hard-coded because
# building the montage costs ~0.2 s and this module must stay fast to import and run.
_EEG_POS: dict[str, tuple[float, float, float]] = {
    "Fp1": (-0.330, +0.941, -0.078), "AF3": (-0.389, +0.888, +0.245), "F3": (-0.595, +0.629, +0.500),
    "F7": (-0.848, +0.512, -0.138), "FC5": (-0.929, +0.224, +0.294), "FC1": (-0.375, +0.287, +0.881),
    "C3": (-0.707, -0.126, +0.696), "T7": (-0.977, -0.186, -0.108), "CP5": (-0.818, -0.479, +0.318),
    "CP1": (-0.326, -0.435, +0.839), "P3": (-0.481, -0.715, +0.508), "P7": (-0.702, -0.712, -0.024),
    "PO3": (-0.322, -0.888, +0.327), "O1": (-0.252, -0.965, +0.076), "Oz": (+0.001, -0.992, +0.127),
    "Pz": (+0.003, -0.701, +0.714), "Fp2": (+0.331, +0.940, -0.078), "AF4": (+0.404, +0.880, +0.249),
    "Fz": (+0.004, +0.661, +0.751), "F4": (+0.607, +0.636, +0.478), "F8": (+0.846, +0.515, -0.139),
    "FC6": (+0.930, +0.233, +0.286), "FC2": (+0.386, +0.293, +0.875), "Cz": (+0.004, -0.091, +0.996),
    "C4": (+0.721, -0.117, +0.683), "T8": (+0.979, -0.173, -0.109), "CP6": (+0.831, -0.460, +0.311),
    "CP2": (+0.352, -0.431, +0.831), "P4": (+0.499, -0.704, +0.507), "P8": (+0.707, -0.707, -0.025),
    "PO4": (+0.324, -0.890, +0.321), "O2": (+0.256, -0.964, +0.076),
}  # fmt: skip

_MNE_CH_TYPES = {
    Modality.EEG: "eeg", Modality.EOG: "eog", Modality.EMG: "emg", Modality.GSR: "gsr",
    Modality.RESP: "resp", Modality.PPG: "bio", Modality.TEMP: "temperature",
}  # fmt: skip

_EFFECT_RAMP_S = 2.0  # s, emotion effects fade in over this time after the baseline
_SUBJECT_STREAM = 0x5EED5  # third SeedSequence word of the per-subject stream (never a trial index)
_SESSION_STREAM = 0x5A3F1E  # third SeedSequence word of the sample-session stream

# --- emotion effects --------------------------------------------------------------------------------------
# Effect of the felt state on physiology per unit of latent state (latent = (score - 5) / 4, in [-1, 1]).
# name: (size, probability that a subject shows the reverse sign at subject_variability=1)
_EFFECTS: dict[str, tuple[float, float]] = {
    "faa": (1.6, 0.12),  # log-amplitude of right-minus-left frontal alpha per unit valence
    "val_gamma": (0.5, 0.15),  # log-amplitude of temporal gamma per unit valence
    "val_zemg": (0.8, 0.10),  # log-amplitude of zygomatic EMG per unit valence
    "val_hr": (-3.0, 0.20),  # bpm per unit valence (heart rate deceleration when pleasant)
    "aro_alpha": (-0.65, 0.08),  # log-amplitude of alpha per unit arousal
    "aro_beta": (0.55, 0.08),  # log-amplitude of beta per unit arousal
    "aro_gamma": (0.5, 0.10),  # log-amplitude of gamma per unit arousal
    "aro_hr": (10.0, 0.05),  # bpm per unit arousal
    "aro_rr": (4.5, 0.05),  # breaths/min per unit arousal
    "aro_gsr_tonic": (0.4, 0.05),  # log skin conductance level per unit arousal
    "aro_scr_rate": (1.0, 0.05),  # log rate of phasic skin conductance responses per unit arousal
    "aro_scr_amp": (0.6, 0.05),  # log amplitude of phasic responses per unit arousal
    "aro_temp": (-0.3, 0.10),  # °C/min of skin temperature drift per unit arousal
    "aro_temg": (0.4, 0.10),  # log-amplitude of trapezius EMG per unit arousal
}

# --- artifacts: mean events per minute at artifact_rate=1 -------------------------------------------------
_ARTIFACT_PER_MIN = {
    "ART_blink": 10.0,
    "ART_saccade": 6.0,
    "ART_emg": 1.5,
    "ART_motion": 0.6,
    "ART_pop": 0.5,
    "ART_line": 0.3,
    "ART_flat": 0.25,
}
_EMG_SIDES = {  # channels hit by a muscle burst on each side, with relative amplitude
    "left": {"T7": 1.0, "F7": 0.7, "FC5": 0.6, "CP5": 0.45, "P7": 0.4},
    "right": {"T8": 1.0, "F8": 0.7, "FC6": 0.6, "CP6": 0.45, "P8": 0.4},
}
_VOLT_CHANNELS = tuple(n for n in DEAP_CHANNELS if CHANNEL_UNITS[n] == "V")


# =========================================================================================================
# Configuration and result types
# =========================================================================================================
@dataclass(frozen=True)
class SynthConfig:
    """Settings of the synthetic corpus.

    The data of trial ``t`` of subject ``s`` depend only on ``seed``, ``s``, ``t`` and these fields, never on
    ``n_subjects``/``n_trials`` (which only bound :func:`generate_corpus`).
    """

    n_subjects: int = 32  # subjects in the corpus (DEAP has 32)
    n_trials: int = 40  # trials per subject (DEAP has 40)
    trial_s: float = 60.0  # stimulus duration of a trial, s (DEAP: 60)
    baseline_s: float = 3.0  # neutral pre-stimulus baseline at the start of each trial, s (DEAP: 3)
    sfreq: float = 128.0  # sampling rate, Hz (>= 100 so that gamma up to 45 Hz is representable)
    seed: int = 0  # master seed (>= 0)
    artifact_rate: float = 1.0  # multiplier of realistic artifact rates; 0 = clean (blinks ~10/min at 1)
    label_noise: float = 1.0  # SD of the gap between felt state and reported score, score points on 1-9
    line_freq: float = 50.0  # power-line frequency of the line-noise artifacts, Hz (50 or 60)
    effect_scale: float = 1.0  # multiplier of all emotion effects on physiology (0 = labels carry no signal)
    subject_variability: float = 1.0  # multiplier of between-subject spread (gains, baselines, effect jitter)
    channels: tuple[str, ...] = DEAP_CHANNELS  # channels to output: DEAP names, any subset, any order

    def __post_init__(self) -> None:
        for name in ("n_subjects", "n_trials"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"Invalid value for '{name}': must be an integer >= 1, got {value!r}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ConfigError(f"Invalid value for 'seed': must be an integer >= 0, got {self.seed!r}.")
        if not self.trial_s > 0:
            raise ConfigError(f"Invalid value for 'trial_s': must be > 0 s, got {self.trial_s}.")
        if not self.baseline_s >= 0:
            raise ConfigError(f"Invalid value for 'baseline_s': must be >= 0 s, got {self.baseline_s}.")
        if not 100.0 <= self.sfreq <= 4096.0:
            raise ConfigError(
                f"Invalid value for 'sfreq': must be between 100 and 4096 Hz so that the gamma band (up to "
                f"45 Hz) is representable, got {self.sfreq}."
            )
        if self.line_freq not in (50.0, 60.0):
            raise ConfigError(f"Invalid value for 'line_freq': allowed 50 or 60 Hz, got {self.line_freq}.")
        for name, top in (("artifact_rate", 20.0), ("label_noise", 8.0), ("effect_scale", 10.0),
                          ("subject_variability", 5.0)):
            value = getattr(self, name)
            if not 0.0 <= value <= top:
                raise ConfigError(f"Invalid value for '{name}': must be between 0 and {top:g}, got {value}.")
        if isinstance(self.channels, str) or not self.channels:
            raise ConfigError(f"Invalid value for 'channels': give a non-empty tuple of names, got {self.channels!r}.")
        unknown = [c for c in self.channels if c not in DEAP_MODALITIES]
        if unknown:
            raise ConfigError(
                f"Invalid value for 'channels': unknown channel(s) {unknown}; allowed: {', '.join(DEAP_CHANNELS)}."
            )
        if len(set(self.channels)) != len(self.channels):
            raise ConfigError(f"Invalid value for 'channels': duplicated names in {list(self.channels)}.")
        object.__setattr__(self, "channels", tuple(self.channels))

    @property
    def n_times(self) -> int:
        """Samples per trial (baseline + stimulus)."""
        return int(round((self.baseline_s + self.trial_s) * self.sfreq))


@dataclass(frozen=True, eq=False)
class SyntheticTrial:
    """One synthetic trial: signals, labels and the ground truth of the injected artifacts."""

    data: np.ndarray  # (n_channels, n_times) float32, in `units` (V for EEG/EOG/EMG, uS, a.u., degC)
    sfreq: float  # Hz
    ch_names: tuple[str, ...]  # DEAP channel names, one per row of data
    modalities: tuple[Modality, ...]  # one per channel
    units: tuple[str, ...]  # one per channel: "V", "uS", "" (arbitrary) or "degC"
    subject: int  # subject index, from 0
    trial: int  # trial index within the subject, from 0
    valence: float  # reported valence score, 1-9
    arousal: float  # reported arousal score, 1-9
    artifacts: tuple[Annotation, ...] = ()  # injected artifacts ("ART_..."), times in s from the trial start
    dominance: float = 5.0  # reported dominance score, 1-9 (loosely tied to valence; no physiological effect)
    liking: float = 5.0  # reported liking score, 1-9 (tied to valence; no physiological effect)
    baseline_s: float = 0.0  # s of neutral pre-stimulus baseline at the start; the stimulus follows it
    seed: int = 0  # master seed the trial was generated from
    events: tuple[Annotation, ...] = ()  # "SYNTHETIC ..." markers: data origin, stimulus onset(s)

    @property
    def n_channels(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_times(self) -> int:
        return int(self.data.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_times / self.sfreq

    @property
    def stim_span(self) -> tuple[float, float]:
        """Stimulus (onset, end) in seconds from the trial start."""
        return (self.baseline_s, self.duration_s)

    @property
    def labels(self) -> dict[str, float]:
        """The four DEAP ratings (1-9)."""
        return {"valence": self.valence, "arousal": self.arousal, "dominance": self.dominance,
                "liking": self.liking}

    def index(self, ch_name: str) -> int:
        """Row of channel ``ch_name``; a clear error if absent."""
        try:
            return self.ch_names.index(ch_name)
        except ValueError:
            raise ConfigError(
                f"No channel named {ch_name!r} in synthetic trial s{self.subject:02d} t{self.trial:02d}; "
                f"channels are: {', '.join(self.ch_names)}."
            ) from None

    def annotations(self) -> tuple[Annotation, ...]:
        """The "SYNTHETIC ..." markers followed by the artifacts, sorted by onset."""
        return tuple(sorted(self.events + self.artifacts, key=lambda a: (a.onset, a.description)))

    def to_recording(self) -> Recording:
        """Wrap the trial as an in-memory :class:`Recording` (mne ``RawArray``), marked synthetic.

        The annotations hold the "SYNTHETIC ..." markers and the artifacts (with their channels); ``labels``
        holds the four ratings and ``stim_span`` the stimulus.
        """
        raw = _raw_array(self.data, self.sfreq, self.ch_names, self.modalities, self.annotations())
        chans = tuple(ChannelInfo(n, m, float(self.sfreq), u) for n, m, u in zip(self.ch_names, self.modalities,
                                                                                   self.units))
        return Recording(
            raw=raw,
            channels=chans,
            source=None,
            source_format="array",
            is_synthetic=True,
            labels=self.labels,
            stim_span=self.stim_span,
            subject=f"s{self.subject:02d}",
            trial=f"{self.trial:02d}",
            notes=(f"SYNTHETIC data from mmqnet_core.datasets.synthetic (seed={self.seed}, "
                   f"subject={self.subject}, trial={self.trial}).",),
        )


# =========================================================================================================
# Subject profile
# =========================================================================================================
@dataclass(frozen=True, eq=False)
class _Subject:
    """Per-subject constants (drawn once from ``(seed, subject)``)."""

    mixing: np.ndarray  # (32, K) EEG mixing of the K cortical sources, channel gains included
    src_kind: tuple[str, ...]  # kind of each source ("bg", "alpha_post", ...)
    src_logamp: np.ndarray  # (K,) log of each source's amplitude, µV
    src_coef: np.ndarray  # (K, 2) log-amplitude change per unit latent (valence, arousal)
    src_freq: np.ndarray  # (K,) centre frequency, Hz (0 for the 1/f background)
    src_bw: np.ndarray  # (K,) bandwidth (SD), Hz
    pink_exp: float  # exponent of the 1/f^beta background spectrum
    ch_noise_uv: np.ndarray  # (32,) channel-specific noise, µV RMS
    eog_prop: np.ndarray  # (32, 2) propagation of (hEOG, vEOG) into each EEG channel
    effects: Mapping[str, float]  # effect sizes after subject scale/sign and config.effect_scale
    hr0: float  # resting heart rate, bpm
    rr0: float  # resting breathing rate, breaths/min
    gsr0: float  # skin conductance level, µS
    scr_rate0: float  # phasic responses per minute at rest
    temp0: float  # skin temperature, °C
    zemg0: float  # zygomatic EMG, µV RMS
    temg0: float  # trapezius EMG, µV RMS
    ppg_amp: float  # pulse amplitude, a.u.
    resp_amp: float  # breathing amplitude, a.u.
    rating_bias: tuple[float, float]  # (valence, arousal) offset of this subject's use of the 1-9 scale


def _source_table() -> list[tuple[str, tuple[str, ...], float]]:
    """(kind, channels whose mean position is the source centre, spatial width) of the cortical sources."""
    table = [("bg", (c,), 0.55) for c in ("Fz", "F3", "F4", "FC5", "FC6", "Cz", "C3", "C4", "Pz", "P7", "P8",
                                          "O1", "O2", "T7", "T8")]
    table += [("alpha_post", (c,), 0.45) for c in ("O1", "O2", "Pz")]
    table += [("alpha_fl", ("Fp1", "AF3", "F3"), 0.30), ("alpha_fr", ("Fp2", "AF4", "F4"), 0.30)]
    table += [("theta", ("Fz",), 0.40), ("theta", ("Pz",), 0.40)]
    table += [("beta", (c,), 0.35) for c in ("C3", "C4", "F3", "F4", "P3", "P4")]
    table += [("gamma_t", ("T7",), 0.30), ("gamma_t", ("T8",), 0.30), ("gamma_f", ("Fz",), 0.35)]
    return table


_SRC_TABLE = _source_table()
# Base amplitude of each source kind at its centre, µV RMS
_KIND_UV = {"bg": 7.0, "alpha_post": 9.0, "alpha_fl": 5.0, "alpha_fr": 5.0, "theta": 4.0, "beta": 4.0,
            "gamma_t": 2.4, "gamma_f": 1.8}  # fmt: skip


@lru_cache(maxsize=64)
def _subject(config: SynthConfig, subject: int) -> _Subject:
    sv = config.subject_variability
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, subject, _SUBJECT_STREAM]))
    # effects: subject scale (log-normal) and occasional reversed sign
    effects = {}
    for name, (size, p_flip) in _EFFECTS.items():
        scale = math.exp(rng.normal(0.0, 0.45 * sv))
        sign = -1.0 if rng.random() < min(0.5, p_flip * sv) else 1.0
        effects[name] = size * scale * sign * config.effect_scale
    pos = np.array([_EEG_POS[c] for c in DEAP_EEG_CHANNELS])  # (32, 3)
    kinds = tuple(k for k, _, _ in _SRC_TABLE)
    centres = np.array([np.mean([_EEG_POS[c] for c in chans], axis=0) for _, chans, _ in _SRC_TABLE])
    centres = centres + rng.normal(0.0, 0.05 * sv, centres.shape)  # anatomy differs a little
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    width = np.array([w for _, _, w in _SRC_TABLE]) * np.exp(rng.normal(0.0, 0.1 * sv, len(_SRC_TABLE)))
    d2 = ((pos[:, None, :] - centres[None, :, :]) ** 2).sum(-1)  # (32, K) squared chord distance
    mixing = np.exp(-d2 / (2.0 * width[None, :] ** 2))
    ch_gain = np.exp(rng.normal(0.0, 0.15 * sv, len(DEAP_EEG_CHANNELS)))  # electrode impedance, skull
    mixing *= ch_gain[:, None] * math.exp(rng.normal(0.0, 0.2 * sv))
    kind_logamp = {k: math.log(v) + rng.normal(0.0, 0.3 * sv) for k, v in _KIND_UV.items()}
    logamp = np.array([kind_logamp[k] for k in kinds]) + rng.normal(0.0, 0.1 * sv, len(kinds))
    e = effects
    coef_by_kind = {
        "bg": (0.0, 0.0),
        "alpha_post": (0.0, e["aro_alpha"]),
        "alpha_fl": (-0.5 * e["faa"], 0.5 * e["aro_alpha"]),
        "alpha_fr": (+0.5 * e["faa"], 0.5 * e["aro_alpha"]),
        "theta": (0.0, 0.0),
        "beta": (0.0, e["aro_beta"]),
        "gamma_t": (e["val_gamma"], e["aro_gamma"]),
        "gamma_f": (0.0, e["aro_gamma"]),
    }
    coef = np.array([coef_by_kind[k] for k in kinds])
    iaf = float(np.clip(10.0 + rng.normal(0.0, 0.8 * sv), 8.0, 12.5))  # individual alpha frequency
    freq_by_kind = {"bg": 0.0, "alpha_post": iaf, "alpha_fl": iaf, "alpha_fr": iaf,
                    "theta": 6.0 + rng.normal(0, 0.5 * sv), "beta": 20.0 + rng.normal(0, 2.0 * sv),
                    "gamma_t": 38.0 + rng.normal(0, 2.0 * sv), "gamma_f": 38.0 + rng.normal(0, 2.0 * sv)}
    bw_by_kind = {"bg": 1.0, "alpha_post": 0.9, "alpha_fl": 0.9, "alpha_fr": 0.9, "theta": 0.9, "beta": 4.0,
                  "gamma_t": 4.0, "gamma_f": 4.0}
    # EOG propagation: vEOG decays with the distance from the eyes (Fp1/Fp2 ~0.45, AF3/AF4 ~0.2); hEOG is the
    # difference of the two lateral canthi, so F7 and F8 see it with opposite signs (~0.27)
    eyes = np.array([[0.0, 0.93, -0.35], [-0.55, 0.8, -0.3], [0.55, 0.8, -0.3]])
    eyes /= np.linalg.norm(eyes, axis=1, keepdims=True)
    dist = np.linalg.norm(pos[:, None, :] - eyes[None], axis=2)  # (32, 3)
    v_prop = 1.5 * np.exp(-dist[:, 0] / 0.35)
    h_prop = 0.8 * (np.exp(-dist[:, 2] / 0.45) - np.exp(-dist[:, 1] / 0.45))
    eog_prop = np.stack([h_prop, v_prop], axis=1) * np.exp(rng.normal(0, 0.2 * sv, (len(pos), 2)))
    eog_prop[np.abs(eog_prop) < 0.05] = 0.0  # far channels see no EOG; the others are named in the artifacts
    return _Subject(
        mixing=mixing,
        src_kind=kinds,
        src_logamp=logamp,
        src_coef=coef,
        src_freq=np.array([freq_by_kind[k] for k in kinds]),
        src_bw=np.array([bw_by_kind[k] for k in kinds]),
        pink_exp=float(np.clip(1.3 + rng.normal(0, 0.2 * sv), 0.8, 2.0)),
        ch_noise_uv=2.5 * np.exp(rng.normal(0.0, 0.3 * sv, len(DEAP_EEG_CHANNELS))),
        eog_prop=eog_prop,
        effects=effects,
        hr0=float(np.clip(rng.normal(72.0, 8.0 * sv), 50.0, 100.0)),
        rr0=float(np.clip(rng.normal(15.0, 2.5 * sv), 8.0, 24.0)),
        gsr0=float(np.clip(5.0 * math.exp(rng.normal(0.0, 0.6 * sv)), 0.5, 30.0)),
        scr_rate0=float(3.0 * math.exp(rng.normal(0.0, 0.4 * sv))),
        temp0=float(np.clip(rng.normal(32.5, 1.2 * sv), 27.0, 36.0)),
        zemg0=float(3.0 * math.exp(rng.normal(0.0, 0.4 * sv))),
        temg0=float(4.0 * math.exp(rng.normal(0.0, 0.4 * sv))),
        ppg_amp=float(200.0 * math.exp(rng.normal(0.0, 0.4 * sv))),
        resp_amp=float(300.0 * math.exp(rng.normal(0.0, 0.4 * sv))),
        rating_bias=(float(rng.normal(0.0, 0.5 * sv)), float(rng.normal(0.0, 0.5 * sv))),
    )


# =========================================================================================================
# Signal building blocks (vectorised)
# =========================================================================================================
def _shaped_noise(rng: np.random.Generator, amp: np.ndarray, n_times: int) -> np.ndarray:
    """Gaussian noise with spectral amplitude ``amp`` (rows, n_freq), each row scaled to unit SD.

    FFT shaping is the fastest way to get many long coloured-noise rows at once (an IIR filter per row costs a
    Python loop and transients). Only the frequency bins where some row has power are drawn, which makes
    narrow-band and slow rows cheap.
    """
    amp = np.asarray(amp, dtype=np.float64)
    active = np.flatnonzero(amp.max(axis=0) > 1e-3 * amp.max()) if amp.size else np.array([], int)
    if active.size == 0:
        return np.zeros((amp.shape[0], n_times))
    lo, hi = int(active[0]), int(active[-1]) + 1
    z = rng.standard_normal((2, amp.shape[0], hi - lo))
    spec = np.zeros((amp.shape[0], hi), dtype=np.complex128)
    spec[:, lo:hi] = amp[:, lo:hi] * (z[0] + 1j * z[1])
    # Parseval: the variance of each row follows from its spectrum (DC and Nyquist bins count once)
    weight = np.full(hi, 2.0)
    weight[0] = 1.0
    if n_times % 2 == 0 and hi == n_times // 2 + 1:
        weight[-1] = 1.0
    spec[:, 0] = spec[:, 0].real  # a real signal has a real DC bin
    var = (weight * (spec.real ** 2 + spec.imag ** 2)).sum(axis=1) / float(n_times) ** 2
    if n_times % 2 == 0 and hi == n_times // 2 + 1:
        var -= (spec[:, -1].imag ** 2) / float(n_times) ** 2  # irfft drops the imaginary Nyquist part
    x = np.fft.irfft(spec, n=n_times, axis=-1)
    mean = spec[:, 0].real / n_times
    sd = np.sqrt(np.maximum(var - mean ** 2, 0.0))
    return x / np.where(sd > 0, sd, 1.0)[:, None]


def _pink_amp(freqs: np.ndarray, exponent: float, f_min: float = 0.3) -> np.ndarray:
    """Spectral amplitude of 1/f^exponent noise, flat below ``f_min`` Hz and zero at DC."""
    amp = np.maximum(freqs, f_min) ** (-exponent / 2.0)
    amp[0] = 0.0
    return amp


def _slow(rng: np.random.Generator, n_rows: int, n_times: int, sfreq: float, f_max: float = 0.1) -> np.ndarray:
    """Smooth unit-SD fluctuations with content below ``f_max`` Hz (rows, n_times)."""
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    amp = np.exp(-0.5 * (freqs / f_max) ** 2)
    amp[0] = 0.0
    if n_times * f_max / sfreq < 2:  # too short to hold one slow cycle: keep at least the first bins
        amp[1:3] = 1.0
    return _shaped_noise(rng, np.broadcast_to(amp, (n_rows, amp.size)), n_times)


def _ramp(n_times: int, sfreq: float, onset_s: float, ramp_s: float = _EFFECT_RAMP_S) -> np.ndarray:
    """0 before ``onset_s``, raised-cosine rise over ``ramp_s``, then 1."""
    t = np.arange(n_times) / sfreq
    x = np.clip((t - onset_s) / ramp_s, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def _poisson_times(rng: np.random.Generator, per_min: float, duration_s: float, margin_s: float = 0.0) -> np.ndarray:
    """Sorted event times (s) of a Poisson process with ``per_min`` events/minute."""
    n = rng.poisson(per_min * duration_s / 60.0)
    lo, hi = margin_s, max(margin_s, duration_s - margin_s)
    return np.sort(rng.uniform(lo, hi, n))


# =========================================================================================================
# Clean signals and artifacts
# =========================================================================================================
def _synthesize(
    subj: _Subject,
    lv: np.ndarray,
    la: np.ndarray,
    sfreq: float,
    rng: np.random.Generator,
    stim_onsets: Sequence[float] = (),
) -> np.ndarray:
    """Clean signals of the 40 DEAP channels (volt channels in µV) for latent states ``lv``/``la`` over time.

    ``lv`` and ``la`` are (n_times,) latent valence/arousal in [-1, 1]; ``stim_onsets`` are stimulus onsets
    (s) that trigger an orienting skin conductance response.
    """
    n = lv.size
    freqs = np.fft.rfftfreq(n, 1.0 / sfreq)
    e = subj.effects
    out = np.zeros((len(DEAP_CHANNELS), n))

    # trial state noise unrelated to the labels (attention, fatigue, posture...)
    k = len(subj.src_kind)
    jitter = rng.normal(0.0, 0.25, k) + rng.normal(0.0, 0.1)

    # --- EEG: cortical sources mixed into channels + channel noise -------------------------------------
    amp = np.empty((k, freqs.size))
    pink = _pink_amp(freqs, subj.pink_exp)
    bg = np.array([kind == "bg" for kind in subj.src_kind])
    amp[bg] = pink
    nb = ~bg
    amp[nb] = np.exp(-0.5 * ((freqs[None, :] - subj.src_freq[nb, None]) / subj.src_bw[nb, None]) ** 2)
    src = _shaped_noise(rng, amp, n)  # (K, n) unit SD
    drift = 0.15 * _slow(rng, k, n, sfreq, f_max=0.2)  # slow waxing and waning of each source
    # (K, n); broadcasting rather than a (K, 2) @ (2, n) product, which would wake BLAS threads for nothing
    log_env = (subj.src_logamp + jitter)[:, None] + subj.src_coef[:, :1] * lv + subj.src_coef[:, 1:] * la + drift
    src *= np.exp(log_env)
    # (32, K) x (K, n) -> (32, n) µV. einsum's plain loop, not BLAS: for this small product BLAS threads cost
    # up to 10x more time on a busy machine (measured 15 ms vs 1.7 ms with other processes running)
    eeg = np.einsum("ck,kn->cn", subj.mixing, src)
    n_eeg = len(DEAP_EEG_CHANNELS)
    drift_amp = _pink_amp(freqs, 1.0) * (freqs < 4.0)
    ch_drift = _shaped_noise(rng, np.broadcast_to(drift_amp, (n_eeg, freqs.size)), n)  # electrode drift
    white = rng.standard_normal((n_eeg, n), dtype=np.float32)  # amplifier noise
    eeg += subj.ch_noise_uv[:, None] * (ch_drift + 0.7 * white)
    out[:n_eeg] = eeg

    # --- EOG background (blinks and saccades are added as artifacts) ------------------------------------
    eog_bg = _shaped_noise(rng, np.broadcast_to(_pink_amp(freqs, 2.0) * (freqs < 8.0), (2, freqs.size)), n)
    out[n_eeg:n_eeg + 2] = 8.0 * eog_bg

    # --- EMG: broadband >20 Hz, tonic level driven by valence (zygomatic) / arousal (trapezius) ---------
    emg_amp = 1.0 / (1.0 + (20.0 / np.maximum(freqs, 1e-3)) ** 4)
    emg = _shaped_noise(rng, np.broadcast_to(emg_amp, (2, freqs.size)), n)
    slow2 = _slow(rng, 2, n, sfreq, f_max=0.3)
    z_env = subj.zemg0 * np.exp(e["val_zemg"] * lv + 0.2 * slow2[0] + rng.normal(0, 0.2))
    t_env = subj.temg0 * np.exp(e["aro_temg"] * la + 0.2 * slow2[1] + rng.normal(0, 0.2))
    idx = {name: i for i, name in enumerate(DEAP_CHANNELS)}
    out[idx["zEMG"]] = z_env * emg[0]
    out[idx["tEMG"]] = t_env * emg[1]

    # --- respiration: phase-integrated rate ---------------------------------------------------------------
    slow3 = _slow(rng, 4, n, sfreq, f_max=0.05)
    rr = subj.rr0 + e["aro_rr"] * la + rng.normal(0.0, 1.2) + 0.8 * slow3[0]  # breaths/min
    rr = np.maximum(rr, 4.0)
    resp_phase = np.cumsum(rr / 60.0 / sfreq) + rng.random()
    resp_cycle = 2 * np.pi * resp_phase
    breath = -np.cos(resp_cycle + 0.35 * np.sin(resp_cycle))  # inspiration shorter than expiration
    depth = subj.resp_amp * np.exp(0.15 * slow3[1] - 0.2 * e["aro_rr"] / 4.5 * la)
    out[idx["Resp"]] = depth * breath + 0.3 * subj.resp_amp * slow3[2]

    # --- heart rate and plethysmograph --------------------------------------------------------------------
    hr = (subj.hr0 + e["aro_hr"] * la + e["val_hr"] * lv + rng.normal(0.0, 3.0) + 1.5 * slow3[3]
          + 2.5 * np.sin(resp_cycle))  # bpm, with respiratory sinus arrhythmia
    hr = np.clip(hr, 35.0, 180.0)
    beat = np.cumsum(hr / 60.0 / sfreq) + rng.random()
    ph = beat % 1.0
    pulse = np.exp(-0.5 * ((ph - 0.2) / 0.07) ** 2) + 0.4 * np.exp(-0.5 * ((ph - 0.48) / 0.09) ** 2)
    wander = _slow(rng, 1, n, sfreq, f_max=0.08)[0]
    out[idx["Plet"]] = subj.ppg_amp * ((1.0 + 0.1 * breath) * (pulse - 0.33) + 0.5 * wander + 0.15 * breath)

    # --- skin conductance: tonic level + phasic responses (µS) --------------------------------------------
    tau = 15.0  # s, the tonic level follows arousal slowly
    a_lag = sps.lfilter([1.0 - math.exp(-1.0 / (tau * sfreq))], [1.0, -math.exp(-1.0 / (tau * sfreq))],
                        la, zi=[la[0] * math.exp(-1.0 / (tau * sfreq))])[0]
    tonic = subj.gsr0 * np.exp(e["aro_gsr_tonic"] * a_lag + rng.normal(0.0, 0.12)
                               + 0.05 * _slow(rng, 1, n, sfreq, f_max=0.02)[0])
    rate = subj.scr_rate0 / 60.0 * np.exp(e["aro_scr_rate"] * la + rng.normal(0.0, 0.3))  # events/s
    events = rng.random(n) < rate / sfreq
    heights = np.zeros(n)
    n_ev = int(events.sum())
    heights[events] = (0.12 * math.sqrt(subj.gsr0) * np.exp(rng.normal(0.0, 0.5, n_ev))
                       * np.exp(e["aro_scr_amp"] * la[events]))
    for onset in stim_onsets:  # orienting response to the stimulus
        i = int(round((onset + rng.uniform(1.0, 3.0)) * sfreq))
        if 0 <= i < n:
            heights[i] += 0.2 * math.sqrt(subj.gsr0) * math.exp(e["aro_scr_amp"] * la[min(n - 1, i + 1)])
    tk = np.arange(int(20 * sfreq)) / sfreq
    kernel = np.exp(-tk / 3.0) - np.exp(-tk / 0.7)
    kernel /= kernel.max()
    phasic = sps.oaconvolve(heights, kernel)[:n]
    out[idx["GSR"]] = tonic + phasic + 0.003 * rng.standard_normal(n)

    # --- skin temperature (°C): drift with arousal --------------------------------------------------------
    slope = (e["aro_temp"] * la + rng.normal(0.0, 0.15)) / 60.0  # °C/s
    temp = subj.temp0 + np.cumsum(slope) / sfreq + 0.03 * _slow(rng, 1, n, sfreq, f_max=0.05)[0]
    out[idx["Temp"]] = temp + 0.002 * rng.standard_normal(n)
    return out


def _tukey(n: int, alpha: float = 0.5) -> np.ndarray:
    return sps.windows.tukey(n, alpha) if n > 2 else np.ones(n)


def _inject_artifacts(
    data: np.ndarray,
    subj: _Subject,
    sfreq: float,
    rate: float,
    line_freq: float,
    rng: np.random.Generator,
) -> list[Annotation]:
    """Add artifacts to ``data`` (40 DEAP channels, volt channels in µV, EOG background already in) in place.

    Blinks and saccades are added to the EOG channels and propagated into the EEG with the subject's EOG
    propagation; flat spans come last so that they stay exactly flat. Returns the ground truth.
    """
    n = data.shape[1]
    dur = n / sfreq
    idx = {name: i for i, name in enumerate(DEAP_CHANNELS)}
    n_eeg = len(DEAP_EEG_CHANNELS)
    arts: list[Annotation] = []
    if rate <= 0:
        return arts

    def span(t0: float, d: float) -> slice:
        return slice(max(0, int(round(t0 * sfreq))), min(n, int(round((t0 + d) * sfreq))))

    def times(kind: str, margin: float = 0.0) -> np.ndarray:
        return _poisson_times(rng, _ARTIFACT_PER_MIN[kind] * rate, dur, margin)

    # --- blinks (vEOG) and saccades (hEOG), propagated into the EEG ---------------------------------------
    eog = np.zeros((2, n))
    v_chs = ("vEOG",) + tuple(c for c, w in zip(DEAP_EEG_CHANNELS, subj.eog_prop[:, 1]) if w != 0)
    h_chs = ("hEOG", "vEOG") + tuple(c for c, w in zip(DEAP_EEG_CHANNELS, subj.eog_prop[:, 0]) if w != 0)
    for t0 in times("ART_blink", 0.0):
        d = rng.uniform(0.2, 0.4)
        sl = span(t0, d)
        m = sl.stop - sl.start
        if m < 2:
            continue
        shape = np.sin(np.pi * np.linspace(0, 1, m) ** 0.8) ** 2  # faster rise than fall
        eog[1, sl] += rng.uniform(100.0, 300.0) * shape
        arts.append(Annotation(sl.start / sfreq, m / sfreq, "ART_blink", v_chs))
    sacc = times("ART_saccade", 0.5)
    if sacc.size:
        gaze = rng.normal(0.0, 120.0, sacc.size)  # fixation position, µV of hEOG
        steps = np.diff(np.concatenate([[0.0], gaze]))
        trace = np.zeros(n)
        i0 = np.minimum((sacc * sfreq).astype(int), n - 1)
        np.add.at(trace, i0, steps)
        trace = np.cumsum(trace)
        k = max(1, int(0.04 * sfreq))  # ~40 ms saccade
        trace = np.convolve(trace, np.ones(k) / k, mode="same")
        eog[0] += trace
        eog[1] += 0.15 * trace * rng.choice([-1, 1])
        for t0 in sacc:
            arts.append(Annotation(float(t0) - 0.05, 0.1, "ART_saccade", h_chs))
    data[n_eeg:n_eeg + 2] += eog
    data[:n_eeg] += subj.eog_prop[:, :1] * eog[0] + subj.eog_prop[:, 1:] * eog[1]

    # --- muscle bursts: EMG channels + temporal EEG, > 20 Hz ------------------------------------------------
    for t0 in times("ART_emg", 0.0):
        d = rng.uniform(0.5, 3.0)
        sl = span(t0, d)
        m = sl.stop - sl.start
        if m < 4:
            continue
        side = rng.choice(["left", "right", "both"])
        weights = dict(_EMG_SIDES["left"]) if side != "right" else {}
        if side != "left":
            weights.update(_EMG_SIDES["right"])
        freqs = np.fft.rfftfreq(m, 1.0 / sfreq)
        amp = 1.0 / (1.0 + (20.0 / np.maximum(freqs, 1e-3)) ** 4)
        rows = list(weights) + ["zEMG", "tEMG"]
        burst = _shaped_noise(rng, np.broadcast_to(amp, (len(rows), amp.size)), m) * _tukey(m, 0.3)
        eeg_uv = rng.uniform(10.0, 40.0)
        for j, ch in enumerate(rows):
            gain = eeg_uv * weights[ch] if ch in weights else rng.uniform(20.0, 80.0)
            data[idx[ch], sl] += gain * burst[j]
        arts.append(Annotation(sl.start / sfreq, m / sfreq, "ART_emg", tuple(rows)))

    # --- motion: jumps/transients on GSR, plethysmograph and respiration ---------------------------------
    for t0 in times("ART_motion", 0.0):
        d = rng.uniform(1.0, 4.0)
        sl = span(t0, d)
        m = sl.stop - sl.start
        if m < 4:
            continue
        tt = np.arange(n - sl.start) / sfreq
        # GSR: contact change, a fast jump that relaxes over a few seconds
        jump = rng.uniform(0.5, 3.0)
        if rng.random() < 0.3:  # a drop, never below half the level (conductance stays positive)
            jump = -min(jump, 0.5 * data[idx["GSR"], sl.start])
        data[idx["GSR"], sl.start:] += jump * np.exp(-tt / rng.uniform(0.5, 2.0)) * (1 - np.exp(-tt / 0.05))
        # Plet and Resp: large slow distortion within the span
        w = _tukey(m, 0.6)
        data[idx["Plet"], sl] += rng.uniform(2.0, 5.0) * data[idx["Plet"]].std() * rng.choice([-1, 1]) * w
        chs = ["GSR", "Plet"]
        if rng.random() < 0.5:
            data[idx["Resp"], sl] += rng.uniform(1.5, 3.0) * data[idx["Resp"]].std() * rng.choice([-1, 1]) * w
            chs.append("Resp")
        arts.append(Annotation(sl.start / sfreq, m / sfreq, "ART_motion", tuple(chs)))

    # --- electrode pops: a step that decays on one EEG channel -------------------------------------------
    for t0 in times("ART_pop", 0.0):
        ch = DEAP_EEG_CHANNELS[rng.integers(n_eeg)]
        tau = rng.uniform(0.3, 1.5)
        sl = span(t0, 4.0 * tau)
        m = sl.stop - sl.start
        if m < 2:
            continue
        tt = np.arange(m) / sfreq
        data[idx[ch], sl] += rng.uniform(100.0, 400.0) * rng.choice([-1.0, 1.0]) * np.exp(-tt / tau)
        arts.append(Annotation(sl.start / sfreq, m / sfreq, "ART_pop", (ch,)))

    # --- power-line noise on a few electrodes for a long span ---------------------------------------------
    for t0 in times("ART_line", 0.0):
        d = min(rng.uniform(10.0, 60.0), dur - t0)
        sl = span(t0, d)
        m = sl.stop - sl.start
        if m < 4:
            continue
        chs = tuple(rng.choice(_VOLT_CHANNELS, size=int(rng.integers(1, 7)), replace=False))
        tt = np.arange(m) / sfreq
        hum = np.zeros(m)
        for h in (1, 2, 3):  # harmonics below 90 % of Nyquist
            if h * line_freq < 0.45 * sfreq:
                hum += (0.3 ** (h - 1)) * np.sin(2 * np.pi * h * line_freq * tt + rng.uniform(0, 2 * np.pi))
        hum *= _tukey(m, min(1.0, 2.0 * sfreq / m))
        for ch in chs:
            data[idx[ch], sl] += rng.uniform(5.0, 40.0) * hum
        arts.append(Annotation(sl.start / sfreq, m / sfreq, "ART_line", tuple(str(c) for c in chs)))

    # --- flat-lined sensors (last, so the span stays exactly flat) ---------------------------------------
    for t0 in times("ART_flat", 0.0):
        d = rng.uniform(2.0, 12.0)
        sl = span(t0, d)
        m = sl.stop - sl.start
        if m < 2:
            continue
        ch = DEAP_CHANNELS[rng.integers(len(DEAP_CHANNELS))]
        data[idx[ch], sl] = data[idx[ch], sl.start]  # the sensor holds its last value
        arts.append(Annotation(sl.start / sfreq, m / sfreq, "ART_flat", (ch,)))

    return sorted(arts, key=lambda a: (a.onset, a.description))


# =========================================================================================================
# Public generators
# =========================================================================================================
def _ratings(rng: np.random.Generator, subj: _Subject, label_noise: float) -> tuple[float, float, dict]:
    """Felt latent state (valence, arousal in [-1, 1]) and reported DEAP ratings (1-9)."""
    # felt state: DEAP-like spread, valence roughly uniform, arousal a little above the middle on average
    felt_v = 5.0 + 3.4 * (2.0 * rng.beta(1.2, 1.2) - 1.0)
    felt_a = 5.3 + 3.0 * (2.0 * rng.beta(1.5, 1.5) - 1.0)
    bias_v, bias_a = subj.rating_bias
    v = float(np.clip(felt_v + bias_v + rng.normal(0.0, label_noise), 1.0, 9.0))
    a = float(np.clip(felt_a + bias_a + rng.normal(0.0, label_noise), 1.0, 9.0))
    d = float(np.clip(5.0 + 0.5 * (v - 5.0) + rng.normal(0.0, 1.5), 1.0, 9.0))
    lk = float(np.clip(5.0 + 0.7 * (v - 5.0) + rng.normal(0.0, 1.3), 1.0, 9.0))
    ratings = {"valence": round(v, 2), "arousal": round(a, 2), "dominance": round(d, 2), "liking": round(lk, 2)}
    return (felt_v - 5.0) / 4.0, (felt_a - 5.0) / 4.0, ratings


def _finish(raw40: np.ndarray, channels: Sequence[str], arts: Sequence[Annotation]):
    """Select/reorder channels, convert µV to V, float32; keep the artifacts of the kept channels."""
    sel = [DEAP_CHANNELS.index(c) for c in channels]
    data = raw40[sel]
    scale = np.array([1e-6 if CHANNEL_UNITS[c] == "V" else 1.0 for c in channels])
    data = (data * scale[:, None]).astype(np.float32)
    keep = set(channels)
    out = []
    for a in arts:
        chs = tuple(c for c in a.ch_names if c in keep)
        if chs:
            out.append(Annotation(a.onset, a.duration, a.description, chs))
    return data, tuple(out)


def _check_index(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"Invalid value for '{name}': must be an integer >= 0, got {value!r}.")
    return int(value)


def generate_trial(config: SynthConfig, subject: int, trial: int) -> SyntheticTrial:
    """Generate one synthetic trial, deterministically from ``(config.seed, subject, trial)``.

    Parameters
    ----------
    config : SynthConfig
        Corpus settings (sampling rate in Hz, durations in s, rates...).
    subject, trial : int
        Indices from 0. Any non-negative value works; ``config.n_subjects``/``n_trials`` only bound
        :func:`generate_corpus`.

    Returns
    -------
    SyntheticTrial
        ``config.baseline_s`` s of neutral baseline then ``config.trial_s`` s of stimulus, at
        ``config.sfreq`` Hz, channels ``config.channels``.
    """
    subject = _check_index("subject", subject)
    trial = _check_index("trial", trial)
    subj = _subject(config, subject)
    ss = np.random.SeedSequence([config.seed, subject, trial])
    rng_sig, rng_art, rng_lab = (np.random.default_rng(s) for s in ss.spawn(3))
    lv0, la0, ratings = _ratings(rng_lab, subj, config.label_noise)
    n = config.n_times
    ramp = _ramp(n, config.sfreq, config.baseline_s)
    wobble = 0.08 * _slow(rng_lab, 2, n, config.sfreq, f_max=0.05)  # the felt state drifts a little
    lv = np.clip(lv0 + wobble[0], -1, 1) * ramp
    la = np.clip(la0 + wobble[1], -1, 1) * ramp
    data = _synthesize(subj, lv, la, config.sfreq, rng_sig, stim_onsets=(config.baseline_s,))
    arts = _inject_artifacts(data, subj, config.sfreq, config.artifact_rate, config.line_freq, rng_art)
    data, arts = _finish(data, config.channels, arts)
    events = (
        Annotation(0.0, 0.0, f"SYNTHETIC data (mmqnet synth seed={config.seed} s={subject} t={trial})"),
        Annotation(config.baseline_s, config.trial_s,
                   f"SYNTHETIC stimulus v={ratings['valence']:.1f} a={ratings['arousal']:.1f}"),
    )
    return SyntheticTrial(
        data=data,
        sfreq=float(config.sfreq),
        ch_names=config.channels,
        modalities=tuple(DEAP_MODALITIES[c] for c in config.channels),
        units=tuple(CHANNEL_UNITS[c] for c in config.channels),
        subject=subject,
        trial=trial,
        valence=ratings["valence"],
        arousal=ratings["arousal"],
        artifacts=arts,
        dominance=ratings["dominance"],
        liking=ratings["liking"],
        baseline_s=float(config.baseline_s),
        seed=int(config.seed),
        events=events,
    )


def generate_corpus(
    config: SynthConfig,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[SyntheticTrial]:
    """Yield every trial of the corpus, subject by subject (``n_subjects`` x ``n_trials``).

    Progress is reported before each trial; ``cancel`` is checked between trials.
    """
    total = config.n_subjects * config.n_trials
    done = 0
    for s in range(config.n_subjects):
        for t in range(config.n_trials):
            check_cancel(cancel)
            report(progress, done / total, f"subject {s} trial {t}")
            yield generate_trial(config, s, t)
            done += 1
    report(progress, 1.0, f"{total} synthetic trials")


# =========================================================================================================
# Writers
# =========================================================================================================
def _raw_array(data, sfreq, ch_names, modalities, annotations) -> "mne.io.RawArray":
    import mne

    info = mne.create_info(list(ch_names), float(sfreq), [_MNE_CH_TYPES.get(m, "misc") for m in modalities],
                           verbose=False)
    raw = mne.io.RawArray(np.asarray(data, dtype=np.float64), info, verbose=False)
    if annotations:
        raw.set_annotations(mne.Annotations(
            onset=[a.onset for a in annotations],
            duration=[a.duration for a in annotations],
            description=[a.description for a in annotations],
            ch_names=[list(a.ch_names) for a in annotations],
        ))
    return raw


def _nice_range(lo: float, hi: float) -> tuple[float, float]:
    """Physical range around [lo, hi] with a 5 % margin, never empty."""
    span = hi - lo
    margin = 0.05 * span if span > 0 else max(1.0, abs(hi)) * 0.01
    return float(lo - margin), float(hi + margin)


def write_bdf(trial_or_recording: SyntheticTrial | Recording, path: str | os.PathLike, *, fmt: str = "bdf") -> Path:
    """Write a trial or recording to BDF (24-bit) or EDF (16-bit) with edfio, annotations as EDF+ annotations.

    Volt channels are stored in µV; other channels keep their unit (µS, a.u., °C). The physical range of each
    channel is its data range plus a 5 % margin, so quantisation steps are span/2^24 (BDF) or span/2^16 (EDF).
    Channel-specific annotations are written as ``"description@@channel"``, which mne reads back into
    ``Annotations.ch_names``. Patient and recording header fields say SYNTHETIC for synthetic data; the start
    date is fixed (2000-01-01 00:00:00) so that the same data give identical bytes. A duration that is not a
    whole number of seconds is padded with the last value and the padding annotated ``BAD_ACQ_SKIP``.

    Parameters
    ----------
    trial_or_recording : SyntheticTrial or Recording
        What to write (a :class:`Recording` is read in full).
    path : str or os.PathLike
        Output file; its name should contain "synthetic" for synthetic data.
    fmt : {"bdf", "edf"}
        File format.

    Returns
    -------
    Path
        The file written.
    """
    import edfio

    fmt = str(fmt).lower()
    if fmt not in ("bdf", "edf"):
        raise ConfigError(f"Invalid value for 'fmt': allowed 'bdf' or 'edf', got {fmt!r}.")
    if isinstance(trial_or_recording, SyntheticTrial):
        tr = trial_or_recording
        data = tr.data.astype(np.float64)
        names, units, sfreq = list(tr.ch_names), list(tr.units), tr.sfreq
        annotations = list(tr.annotations())
        synthetic = True
        patient_name = f"Synthetic_s{tr.subject:02d}_t{tr.trial:02d}"
        extra = f"seed={tr.seed}"
    elif isinstance(trial_or_recording, Recording):
        rec = trial_or_recording
        data = rec.get_data()
        names, units, sfreq = rec.ch_names, [c.unit for c in rec.channels], rec.sfreq
        annotations = list(rec.annotations)
        synthetic = rec.is_synthetic
        patient_name = ("Synthetic_" if synthetic else "") + (rec.subject or "X").replace(" ", "_")
        extra = ""
    else:
        raise ConfigError(
            f"write_bdf needs a SyntheticTrial or a Recording, got {type(trial_or_recording).__name__}."
        )
    path = Path(path)
    if synthetic and "synthetic" not in path.name.lower():
        log.warning("Writing synthetic data to %s, whose name does not say 'synthetic'.", path)
    if not float(sfreq).is_integer():
        raise ConfigError(
            f"Cannot write {path.name}: EDF/BDF need a whole number of samples per second, got sfreq={sfreq} Hz."
        )
    sfreq_i = int(sfreq)
    n = data.shape[1]
    pad = (-n) % sfreq_i
    if pad:
        data = np.pad(data, ((0, 0), (0, pad)), mode="edge")
        annotations.append(Annotation(n / sfreq, pad / sfreq, "BAD_ACQ_SKIP"))
    sig_cls = edfio.BdfSignal if fmt == "bdf" else edfio.EdfSignal
    signals = []
    for i, (name, unit) in enumerate(zip(names, units)):
        x = data[i] * 1e6 if unit == "V" else data[i]
        dim = "uV" if unit == "V" else unit
        lo, hi = _nice_range(float(x.min()), float(x.max()))
        signals.append(sig_cls(x, sfreq_i, label=name[:16], physical_dimension=dim, physical_range=(lo, hi),
                               transducer_type="SYNTHETIC" if synthetic else ""))
    edf_annotations = []
    for a in annotations:
        if a.ch_names:
            edf_annotations += [edfio.EdfAnnotation(a.onset, a.duration, f"{a.description}@@{c}")
                                for c in a.ch_names]
        else:
            edf_annotations.append(edfio.EdfAnnotation(a.onset, a.duration, a.description))
    patient = edfio.Patient(code="SYNTHETIC" if synthetic else "X", name=patient_name[:40])
    recording = edfio.Recording(
        startdate=datetime.date(2000, 1, 1),
        hospital_administration_code="SYNTHETIC" if synthetic else "X",
        investigator_technician_code="mmqnet",
        equipment_code="mmqnet_synth" if synthetic else "mmqnet",
        additional=[extra] if extra else (),
    )
    writer = edfio.Bdf if fmt == "bdf" else edfio.Edf
    edf = writer(signals, patient=patient, recording=recording, starttime=datetime.time(0, 0, 0),
                 annotations=edf_annotations)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        edf.write(tmp)
    return path


def write_deap_subject(trials: Sequence[SyntheticTrial], path: str | os.PathLike) -> Path:
    """Write one subject's trials in DEAP's preprocessed-python pickle format.

    The file holds ``{'data': float64 (n_trials, 40, n_times), 'labels': float64 (n_trials, 4)}`` with EEG,
    EOG and EMG in µV and the ratings valence, arousal, dominance, liking. With the default
    :class:`SynthConfig` (128 Hz, 3 s baseline + 60 s) and 40 trials this is DEAP's (40, 40, 8064). The
    signals are the raw synthetic ones (DEAP's own release was band-passed 4-45 Hz, re-referenced and had
    EOG removed); the artifact ground truth cannot be stored in this format.

    Parameters
    ----------
    trials : sequence of SyntheticTrial
        Trials with all 40 DEAP channels in DEAP order, at 128 Hz, all of the same length.
    path : str or os.PathLike
        Output file, e.g. ``synthetic_s00.dat``.
    """
    trials = list(trials)
    if not trials:
        raise ConfigError("write_deap_subject needs at least one trial, got none.")
    for tr in trials:
        if tuple(tr.ch_names) != DEAP_CHANNELS:
            raise ConfigError(
                f"DEAP files hold the 40 DEAP channels in DEAP order; trial s{tr.subject:02d} t{tr.trial:02d} "
                f"has {len(tr.ch_names)} channels ({', '.join(tr.ch_names[:5])}...). Use the default 'channels'."
            )
        if tr.sfreq != DEAP_SFREQ:
            raise ConfigError(
                f"Invalid value for 'sfreq': DEAP's preprocessed format is {DEAP_SFREQ:g} Hz, got {tr.sfreq:g}."
            )
        if tr.n_times != trials[0].n_times:
            raise ConfigError(
                f"All trials of a DEAP file must have the same length; got {trials[0].n_times} and {tr.n_times} "
                "samples."
            )
    scale = np.array([1e6 if u == "V" else 1.0 for u in trials[0].units])[:, None]
    data = np.stack([tr.data.astype(np.float64) * scale for tr in trials])
    labels = np.array([[tr.valence, tr.arousal, tr.dominance, tr.liking] for tr in trials])
    return write_deap_pickle(data, labels, path, synthetic=True)  # labelled synthetic whatever its name


# =========================================================================================================
# A multi-minute sample session
# =========================================================================================================
_SAMPLE_QUADRANTS = ((7.5, 7.0), (2.5, 7.5), (3.0, 2.5), (7.0, 3.0))  # (valence, arousal) of the epochs


def make_sample_session(
    *, duration_s: float = 240.0, sfreq: float = 256.0, seed: int = 0, subject: int = 0,
    artifact_rate: float = 1.5,
) -> SyntheticTrial:
    """A multi-minute synthetic session: rest, then a few emotion epochs with different valence/arousal.

    The session starts with 10 s of rest; epochs of about 50 s, separated by 5 s of rest, cycle through the
    four valence/arousal quadrants (order and exact scores drawn from ``seed``). ``events`` holds a
    "SYNTHETIC stimulus v=... a=..." annotation per epoch, ``artifacts`` the injected artifacts; the
    trial-level ``valence``/``arousal`` are the means of the epochs. ``artifact_rate`` is a little above
    the corpus default so that a few minutes show every kind of artifact.
    """
    if not 30.0 <= duration_s <= 3600.0:
        raise ConfigError(f"Invalid value for 'duration_s': must be between 30 and 3600 s, got {duration_s}.")
    config = SynthConfig(sfreq=sfreq, seed=seed, trial_s=duration_s, baseline_s=0.0, artifact_rate=artifact_rate)
    subj = _subject(config, subject)
    ss = np.random.SeedSequence([seed, subject, _SESSION_STREAM])
    rng, rng_sig, rng_art = (np.random.default_rng(s) for s in ss.spawn(3))
    rest0, gap = 10.0, 5.0
    n_ep = max(1, int(round((duration_s - rest0) / 57.5)))
    ep_len = (duration_s - rest0 - gap * (n_ep - 1)) / n_ep
    order = rng.permutation(len(_SAMPLE_QUADRANTS))
    n = int(round(duration_s * sfreq))
    lv, la = np.zeros(n), np.zeros(n)
    events = [Annotation(0.0, 0.0, f"SYNTHETIC session (mmqnet synth --sample seed={seed}"
                         + (f" subject={subject})" if subject else ")")),
              Annotation(0.0, rest0, "SYNTHETIC rest")]
    vs, as_ = [], []
    for k in range(n_ep):
        v, a = _SAMPLE_QUADRANTS[order[k % len(order)]]
        v = float(np.clip(v + rng.uniform(-0.5, 0.5), 1, 9))
        a = float(np.clip(a + rng.uniform(-0.5, 0.5), 1, 9))
        onset = rest0 + k * (ep_len + gap)
        on = _ramp(n, sfreq, onset) - _ramp(n, sfreq, onset + ep_len)
        lv += (v - 5.0) / 4.0 * on
        la += (a - 5.0) / 4.0 * on
        events.append(Annotation(round(onset, 3), round(ep_len, 3), f"SYNTHETIC stimulus v={v:.1f} a={a:.1f}"))
        if k < n_ep - 1:
            events.append(Annotation(round(onset + ep_len, 3), gap, "SYNTHETIC rest"))
        vs.append(v)
        as_.append(a)
    data = _synthesize(subj, lv, la, sfreq, rng_sig,
                       stim_onsets=[e.onset for e in events if e.description.startswith("SYNTHETIC stimulus")])
    arts = _inject_artifacts(data, subj, sfreq, config.artifact_rate, config.line_freq, rng_art)
    data, arts = _finish(data, DEAP_CHANNELS, arts)
    return SyntheticTrial(
        data=data, sfreq=float(sfreq), ch_names=DEAP_CHANNELS,
        modalities=tuple(DEAP_MODALITIES[c] for c in DEAP_CHANNELS),
        units=tuple(CHANNEL_UNITS[c] for c in DEAP_CHANNELS),
        subject=subject, trial=0, valence=round(float(np.mean(vs)), 2), arousal=round(float(np.mean(as_)), 2),
        artifacts=arts, baseline_s=0.0, seed=int(seed), events=tuple(events),
    )


def make_sample_recording(
    path: str | os.PathLike, *, duration_s: float = 240.0, sfreq: float = 256.0, seed: int = 0, subject: int = 0
) -> Path:
    """Write a multi-minute synthetic BDF session (see :func:`make_sample_session`).

    Parameters
    ----------
    path : str or os.PathLike
        Output file, or an existing folder (then ``synthetic_sample.bdf`` inside it). The file name must
        contain "synthetic".
    duration_s : float
        Session length, s (30-3600).
    sfreq : float
        Sampling rate, Hz (whole number).
    seed : int
        Seed; the same seed gives the same bytes.
    subject : int
        Which simulated person: the same as subject ``subject`` of a corpus generated with the same ``seed``
        (e.g. a subject held out of a model's training fold).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "synthetic_sample.bdf"
    if "synthetic" not in path.name.lower():
        raise ConfigError(
            f"Invalid file name {path.name!r} for a synthetic recording: the name must contain 'synthetic' so "
            "that synthetic data are never mistaken for real data (e.g. 'synthetic_sample.bdf')."
        )
    session = make_sample_session(duration_s=duration_s, sfreq=sfreq, seed=seed, subject=subject)
    return write_bdf(session, path, fmt="bdf")

