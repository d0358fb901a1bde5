"""The preprocessing pipeline: one recording span in, raw and cleaned signals on one grid out.

Steps, in order (each one logged in :attr:`PreprocessResult.steps` with its numbers):

1. read the span; NaN/inf samples are reported as ``BAD_nan`` and interpolated for filtering;
2. flat spans (``BAD_flat``) and abrupt GSR/PPG jumps (``BAD_jump``) on the input data (rules in
   :mod:`.detect`);
3. power-line frequency: from the configuration, or detected from the spectrum (50 vs 60 Hz);
4. muscle artifacts (``BAD_muscle``) with :func:`mne.preprocessing.annotate_muscle_zscore` on the input
   data, at 110-140 Hz when its rate allows, else in the top 30 Hz below its Nyquist frequency;
5. resampling of every channel to ``target_sfreq`` (mne's anti-aliased FFT method) - this is ``raw``;
   everything below works on a copy at that rate, so ``raw`` and ``cleaned`` are aligned sample for sample;
6. notch at the line frequency and its harmonics below the Nyquist frequency on EEG/EOG/EMG/ECG (harmonics
   above it were removed by the anti-aliasing filter);
7. EEG common average reference; EEG band-pass; EOG removal by regression
   (:class:`mne.preprocessing.EOGRegression`) or ICA (:class:`mne.preprocessing.ICA`, infomax, components
   correlated with the EOG removed); the EOG is band-passed like the EEG for this so that the fitted
   propagation factors match the EEG's band;
8. band-pass of the other modalities (:attr:`PreprocessConfig.bands`), clipped to the Nyquist frequency;
9. NaN put back where the input was NaN.

Filters are mne's defaults: zero-phase FIR (``filter_method="fir"``, firwin design, overlap-add) or a 4th-order
Butterworth applied forward-backward (``"iir"``). FIR costs about 5 s for 1 h of 40 channels at 128 Hz on one
core, well within budget, and has no phase distortion or IIR instability at 0.05 Hz, hence the default.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import mne
import numpy as np

from ..errors import ConfigError, RecordingError
from ..progress import CancelToken, ProgressCallback, check_cancel, report
from ..recording import PHYSIOLOGICAL, Annotation, Modality, Recording, Signals
from .config import ELECTROPHYSIOLOGICAL, PreprocessConfig
from .detect import detect_line_freq, fill_nan, flat_mask, jump_mask, spans_to_annotations

log = logging.getLogger(__name__)

#: mne channel type of each modality (mne has no PPG type: "bio" is its generic biosignal type).
MNE_CH_TYPES: dict[Modality, str] = {
    Modality.EEG: "eeg",
    Modality.EOG: "eog",
    Modality.EMG: "emg",
    Modality.ECG: "ecg",
    Modality.GSR: "gsr",
    Modality.RESP: "resp",
    Modality.PPG: "bio",
    Modality.TEMP: "temperature",
    Modality.STIM: "stim",
    Modality.MISC: "misc",
}

_IIR_PARAMS = {"order": 4, "ftype": "butter", "output": "sos"}
_MUSCLE_BAND_HIGH = (110.0, 140.0)  # Hz, Muthukumaraswamy (2013), mne's default
_BAD_CHANNEL_SHARE = 0.5  # a channel flat or NaN for more than this share of the span is left out of CAR/EOG


@dataclass(frozen=True)
class PreprocessResult:
    """What :func:`preprocess` returns.

    ``raw`` and ``cleaned`` have the same channels, sampling rate and number of samples; sample 0 of both is
    at :attr:`start_s` seconds of the recording. Interference onsets are in recording time (seconds from the
    recording start, like every :class:`~mmqnet_core.recording.Annotation`); :meth:`interference_relative`
    gives them relative to sample 0.
    """

    raw: Signals  # the original signals resampled (anti-aliased only) to the output rate
    cleaned: Signals  # cleaned signals, same grid, shape and channels as raw
    interference: tuple[Annotation, ...]  # BAD_nan, BAD_flat, BAD_jump (per channel), BAD_muscle (all), by onset
    line_freq: float | None  # power-line frequency used for the notch, Hz (None: no notch)
    steps: tuple[str, ...]  # human-readable log of what was done, with numbers
    config: PreprocessConfig  # the configuration used
    start_s: float = 0.0  # recording time of sample 0 of raw/cleaned, s

    @property
    def sfreq(self) -> float:
        """Sampling rate of ``raw`` and ``cleaned``, Hz."""
        return self.cleaned.sfreq

    def interference_relative(self) -> tuple[Annotation, ...]:
        """Interference spans with onsets relative to sample 0 of ``cleaned`` (for :func:`extract_features`)."""
        return tuple(
            Annotation(a.onset - self.start_s, a.duration, a.description, a.ch_names) for a in self.interference
        )

    def summary(self) -> dict[str, Any]:
        """JSON-safe description: steps, interference spans, rates and configuration (no signal data)."""
        return {
            "start_s": self.start_s,
            "duration_s": self.cleaned.duration_s,
            "sfreq": self.sfreq,
            "n_channels": self.cleaned.n_channels,
            "n_times": self.cleaned.n_times,
            "channels": [
                {"name": c.name, "modality": c.modality.value, "unit": c.unit} for c in self.cleaned.channels
            ],
            "line_freq": self.line_freq,
            "steps": list(self.steps),
            "interference": [
                {"onset": a.onset, "duration": a.duration, "description": a.description,
                 "ch_names": list(a.ch_names)}
                for a in self.interference
            ],
            "config": self.config.to_dict(),
        }


def preprocess(
    recording: Recording,
    config: PreprocessConfig = PreprocessConfig(),
    *,
    start_s: float = 0.0,
    stop_s: float | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PreprocessResult:
    """Clean a span of a recording: line noise, band-pass per modality, EOG removal, interference detection.

    Parameters
    ----------
    recording : Recording
        The recording; only the span ``start_s``-``stop_s`` is read.
    config : PreprocessConfig
        What to do (see its fields for the defaults).
    start_s, stop_s : float
        Span to process, seconds from the recording start; ``stop_s=None`` means the end.
    progress : callable, optional
        ``progress(fraction, message)``, called once per step.
    cancel : CancelToken, optional
        Checked between steps; :class:`~mmqnet_core.errors.Cancelled` is raised when set.

    Returns
    -------
    PreprocessResult
        ``raw`` (resampled only) and ``cleaned`` signals at ``min(target_sfreq, recording.sfreq)`` Hz in the
        units of the recording (V for EEG/EOG/EMG/ECG), float32, plus the interference spans and a step log.

    Raises
    ------
    ConfigError
        If ``config`` or the span is invalid.
    RecordingError
        If the span holds no samples.
    Cancelled
        If ``cancel`` is set between two steps.
    """
    if not isinstance(config, PreprocessConfig):
        raise ConfigError(f"'config' must be a PreprocessConfig, got {type(config).__name__}.")
    start, stop = _check_span(recording, start_s, stop_s)
    steps: list[str] = []
    interference: list[Annotation] = []

    def note(message: str) -> None:
        steps.append(message)
        log.info(message)

    sfreq_in = recording.sfreq
    out_sfreq = min(config.target_sfreq, sfreq_in)
    names = recording.ch_names
    mods = recording.modalities
    offset = start / sfreq_in

    # 1. read ---------------------------------------------------------------------------------------------
    report(progress, 0.0, "reading")
    data = np.array(recording.get_data(offset, stop / sfreq_in), dtype=np.float64)  # own copy, filled in place
    n_in = data.shape[1]
    note(f"read {recording.n_channels} channels, {n_in / sfreq_in:.3f} s at {sfreq_in:g} Hz from {offset:.3f} s")
    check_cancel(cancel)

    # NaN / inf samples --------------------------------------------------------------------------------------
    nan_mask = ~np.isfinite(data)
    if nan_mask.any():
        nan_ann = spans_to_annotations(nan_mask, names, sfreq_in, "BAD_nan", offset_s=offset)
        interference += nan_ann
        n_bad_ch = int(nan_mask.any(axis=1).sum())
        data[nan_mask] = np.nan
        fill_nan(data)
        note(f"NaN samples in {n_bad_ch} channel(s), {len(nan_ann)} span(s), "
             f"{nan_mask.sum() / sfreq_in:.2f} channel-seconds: interpolated for filtering, reported as BAD_nan")
    else:
        nan_mask = None
    report(progress, 0.05, "detecting flat spans and jumps")
    check_cancel(cancel)

    # 2. flat spans and jumps ----------------------------------------------------------------------------
    bad_share = np.zeros(len(names)) if nan_mask is None else nan_mask.mean(axis=1)
    if config.detect_flat:
        picks = [i for i, m in enumerate(mods) if m in PHYSIOLOGICAL and m != Modality.TEMP]
        ann: list[Annotation] = []
        for i in picks:  # one channel at a time keeps the temporary arrays small
            m = flat_mask(data[i:i + 1], sfreq_in, window_s=config.flat_window_s,
                          rel_threshold=config.flat_rel_threshold, min_s=config.flat_min_s,
                          nan_mask=None if nan_mask is None else nan_mask[i:i + 1])
            bad_share[i] = max(bad_share[i], m.mean())
            ann += spans_to_annotations(m, [names[i]], sfreq_in, "BAD_flat", offset_s=offset)
        interference += _group_channels(ann)
        note(f"flat-signal check on {len(picks)} channels (windows {config.flat_window_s:g} s, "
             f"at most {config.flat_rel_threshold:g} x median peak-to-peak, >= {config.flat_min_s:g} s): "
             f"{len(ann)} flat span(s)" + _channels_in(ann))
    if config.detect_jumps:
        picks = [i for i, m in enumerate(mods) if m in (Modality.GSR, Modality.PPG)]
        if picks:
            ann = []
            for i in picks:
                m = jump_mask(data[i:i + 1], sfreq_in, lag_s=config.jump_lag_s, threshold=config.jump_threshold,
                              min_fraction=config.jump_min_fraction, pad_s=config.jump_pad_s)
                ann += spans_to_annotations(m, [names[i]], sfreq_in, "BAD_jump", offset_s=offset)
            interference += ann
            note(f"jump check on {len(picks)} GSR/PPG channel(s) (change over {config.jump_lag_s:g} s > "
                 f"{config.jump_threshold:g} robust SD and > {config.jump_min_fraction:g} of the range): "
                 f"{len(ann)} jump span(s)" + _channels_in(ann))
    bads = [names[i] for i in range(len(names)) if bad_share[i] > _BAD_CHANNEL_SHARE]
    if bads:
        note(f"channel(s) flat or NaN for more than {_BAD_CHANNEL_SHARE:.0%} of the span, left out of the "
             f"reference, EOG removal and muscle detection: {', '.join(bads)}")
    report(progress, 0.15, "line-noise detection")
    check_cancel(cancel)

    # 3. power-line frequency ----------------------------------------------------------------------------
    ephys = [i for i, m in enumerate(mods) if m in ELECTROPHYSIOLOGICAL]
    line_freq: float | None = None
    if not config.notch:
        note("notch filter off (configuration)")
    elif not ephys:
        note("no EEG/EOG/EMG/ECG channels: no line-noise removal")
    elif config.line_freq is not None:
        line_freq = config.line_freq
        note(f"line frequency {line_freq:g} Hz (set in the configuration)")
    else:
        found, ratios = detect_line_freq(data, sfreq_in, ratio=config.line_detect_ratio,
                                         picks=[i for i in ephys if names[i] not in bads] or ephys)
        detail = ", ".join(f"{f:g} Hz: {r:.1f}" for f, r in ratios.items()) or "no candidate below Nyquist"
        if found is None:
            note(f"no line noise detected (peak/neighbour power ratio {detail}; threshold "
                 f"{config.line_detect_ratio:g}): notch skipped")
        else:
            line_freq = found
            note(f"line noise detected at {found:g} Hz (peak/neighbour power ratio {detail})")
    report(progress, 0.2, "muscle detection")
    check_cancel(cancel)

    # the mne container (shares memory with `data`) ----------------------------------------------------------
    info = mne.create_info(names, sfreq_in, [MNE_CH_TYPES[m] for m in mods], verbose=False)
    work = mne.io.RawArray(data, info, verbose=False)
    work.info["bads"] = bads

    # 4. muscle, at the input rate (before resampling, whose edge transients would look like muscle) -----
    muscle = _muscle_plan(config, mods, names, bads, sfreq_in)
    if muscle is not None:
        interference += _detect_muscle(work, muscle, config, line_freq, offset, note)
    elif config.detect_muscle:
        note("no usable EEG or EMG channels: no muscle detection")
    report(progress, 0.4, "resampling")
    check_cancel(cancel)

    # 5. resample: raw -----------------------------------------------------------------------------------
    if sfreq_in > config.target_sfreq:
        work.resample(config.target_sfreq, npad="auto", verbose="error")
        note(f"resampled {sfreq_in:g} Hz -> {config.target_sfreq:g} Hz (anti-aliased FFT method), "
             f"{work.n_times} samples")
    elif sfreq_in < config.target_sfreq:
        note(f"input rate {sfreq_in:g} Hz is below the target {config.target_sfreq:g} Hz: kept (no up-sampling)")
    del data
    raw_data = work.get_data().astype(np.float32)
    nyq = out_sfreq / 2
    report(progress, 0.5, "notch")
    check_cancel(cancel)

    # 6. notch -------------------------------------------------------------------------------------------
    if line_freq is not None:
        # mne's notch: width f/200, 1 Hz transition; keep the stop band clear of the Nyquist frequency.
        freqs = [k * line_freq for k in range(1, int(nyq // line_freq) + 1) if k * line_freq + 1.5 < nyq]
        above = "" if sfreq_in / 2 <= nyq + 1e-9 else f"; content above {nyq:g} Hz removed by resampling"
        if freqs:
            work.notch_filter(freqs, picks=ephys, **_filter_kwargs(config))
            harm = f" + {len(freqs) - 1} harmonic(s)" if len(freqs) > 1 else ""
            note(f"notch {line_freq:g} Hz{harm} on {len(ephys)} channels ({config.filter_method.upper()}){above}")
        else:
            note(f"line frequency {line_freq:g} Hz is at or above the output Nyquist frequency {nyq:g} Hz: "
                 f"no notch{above}")
    report(progress, 0.6, "EEG reference and EOG removal")
    check_cancel(cancel)

    # 7. EEG: reference, band-pass, EOG removal ----------------------------------------------------------
    eeg = [i for i, m in enumerate(mods) if m == Modality.EEG]
    eeg_good = [i for i in eeg if names[i] not in bads]
    eog = [i for i, m in enumerate(mods) if m == Modality.EOG and names[i] not in bads]
    car = False
    if eeg:
        if config.eeg_reference == "average" and len(eeg_good) >= config.min_channels_average_ref:
            work.set_eeg_reference("average", projection=False, verbose="error")
            car = True
            note(f"common average reference over {len(eeg_good)} EEG channels")
        elif eeg_good:
            work.set_eeg_reference([], verbose="error")  # keep the recorded reference
        if not eeg_good:  # mne refuses a reference over no channel (hardening, issue 13)
            note(f"no usable EEG channel: all {len(eeg)} are flat or bad ({', '.join(names[i] for i in eeg)}); "
                 "EEG left unreferenced")
        elif not car and config.eeg_reference == "average":
            note(f"average reference skipped: {len(eeg_good)} usable EEG channel(s), at least "
                 f"{config.min_channels_average_ref} needed")
        _band_pass(work, config, Modality.EEG, eeg, names, nyq, note)
    check_cancel(cancel)
    if config.eog_method == "none":
        note("EOG removal off (configuration)")
    elif not eeg_good:
        note("no EEG channels: no EOG removal")
    elif not eog:
        note("no EOG channels: EOG removal skipped")
    else:
        _remove_eog(work, config, eeg_good, eog, names, car, note)
    report(progress, 0.8, "band-pass filters")
    check_cancel(cancel)

    # 8. other modalities --------------------------------------------------------------------------------
    for mod in dict.fromkeys(mods):  # modalities in channel order, once each
        if mod == Modality.EEG:
            continue
        _band_pass(work, config, mod, [i for i, m in enumerate(mods) if m == mod], names, nyq, note)
    clean_data = work.get_data().astype(np.float32)
    check_cancel(cancel)

    # 9. NaN back ----------------------------------------------------------------------------------------
    if nan_mask is not None and config.restore_nan:
        out_mask = _resample_mask(nan_mask, work.n_times)
        raw_data[out_mask] = np.nan
        clean_data[out_mask] = np.nan
        note(f"NaN restored in raw and cleaned at {int(out_mask.sum())} output samples")

    interference.sort(key=lambda a: (a.onset, a.description, a.ch_names))
    report(progress, 1.0, "done")
    return PreprocessResult(
        raw=Signals(raw_data, out_sfreq, recording.channels),
        cleaned=Signals(clean_data, out_sfreq, recording.channels),
        interference=tuple(interference),
        line_freq=line_freq,
        steps=tuple(steps),
        config=config,
        start_s=offset,
    )


# --- helpers ------------------------------------------------------------------------------------------------
def _check_span(recording: Recording, start_s: float, stop_s: float | None) -> tuple[int, int]:
    """Validate the span and return it as sample indices [start, stop) of the recording."""
    duration = recording.duration_s
    if not isinstance(start_s, (int, float)) or not math.isfinite(start_s) or not 0 <= start_s < duration:
        raise ConfigError(
            f"Invalid value for 'start_s': must be between 0 and the recording's duration {duration:.3f} s, "
            f"got {start_s!r}."
        )
    if stop_s is not None and (not isinstance(stop_s, (int, float)) or not stop_s > start_s):
        raise ConfigError(f"Invalid value for 'stop_s': must be after start_s={start_s} s, got {stop_s!r}.")
    start = int(round(start_s * recording.sfreq))
    stop = recording.n_times if stop_s is None else min(recording.n_times, int(round(stop_s * recording.sfreq)))
    if stop - start < 2:
        raise RecordingError(
            f"The span {start_s}-{stop_s} s of {recording.title} holds {max(0, stop - start)} sample(s); "
            "choose a longer span."
        )
    return start, stop


def _filter_kwargs(config: PreprocessConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"method": config.filter_method, "verbose": "error"}
    if config.filter_method == "iir":
        kwargs["iir_params"] = dict(_IIR_PARAMS)
    return kwargs


def _describe_band(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"band-pass {low:g}-{high:g} Hz"
    return f"high-pass {low:g} Hz" if low is not None else f"low-pass {high:g} Hz"


def _band_pass(work: mne.io.BaseRaw, config: PreprocessConfig, mod: Modality, picks: list[int],
               names: list[str], nyq: float, note) -> None:
    """Filter the ``picks`` of modality ``mod`` with its configured band, clipped to the Nyquist frequency."""
    band = config.band_for(mod)
    if not picks or band is None:
        return
    low, high = band
    clip = ""
    if low is not None and low >= 0.9 * nyq:
        note(f"{mod.value}: high-pass {low:g} Hz is above the Nyquist frequency {nyq:g} Hz: not filtered")
        return
    h_trans: float | str = "auto"
    if high is not None:
        # mne's automatic transition (max(high / 4, 2 Hz)) is far too wide for sub-hertz low-passes.
        if high >= 0.9 * nyq:
            clip = f" (low-pass {high:g} Hz dropped: too close to the Nyquist frequency {nyq:g} Hz)"
            high = None
        else:
            h_trans = min(max(0.25 * high, 2.0) if high >= 8 else 0.5 * high, nyq - high)
    if low is None and high is None:
        note(f"{mod.value}: not filtered{clip}")
        return
    work.filter(low, high, picks=picks, h_trans_bandwidth=h_trans, **_filter_kwargs(config))
    span_s = work.n_times / work.info["sfreq"]
    short = ""
    if low is not None and span_s < 3.3 / min(max(0.25 * low, 2.0), low):
        short = f"; span {span_s:.1f} s is shorter than the filter, content below ~{2 * low:g} Hz is unreliable"
    note(f"{_describe_band(low, high)} on {len(picks)} {mod.value} channel(s){clip}{short}")


def _muscle_plan(config: PreprocessConfig, mods: list[Modality], names: list[str], bads: list[str],
                 sfreq_in: float) -> tuple[list[int], tuple[float, float], str] | None:
    """How muscle detection runs: (picks, band Hz, modality name), or None when it cannot/should not."""
    if not config.detect_muscle:
        return None
    for mod in (Modality.EEG, Modality.EMG):
        picks = [i for i, m in enumerate(mods) if m == mod and names[i] not in bads]
        if picks:
            break
    else:
        return None
    if config.muscle_band is not None:
        band = config.muscle_band
    elif sfreq_in / 2 >= 150:
        band = _MUSCLE_BAND_HIGH
    else:  # the top 30 Hz below the Nyquist frequency (e.g. 30.8-60.8 Hz at 128 Hz)
        high = 0.95 * sfreq_in / 2
        band = (max(high - 30.0, 20.0), high)
    if band[1] > 0.95 * sfreq_in / 2:
        raise ConfigError(
            f"Invalid value for 'muscle_band': {band[0]:g}-{band[1]:g} Hz needs a sampling rate above "
            f"{band[1] / 0.475:.0f} Hz, the recording has {sfreq_in:g} Hz; lower the band or set "
            "detect_muscle=False."
        )
    return picks, band, mod.value


def _detect_muscle(work: mne.io.BaseRaw, plan, config: PreprocessConfig, line_freq: float | None, offset: float,
                   note) -> list[Annotation]:
    """Run :func:`mne.preprocessing.annotate_muscle_zscore` on the planned channels of ``work``."""
    picks, band, mod = plan
    sfreq = work.info["sfreq"]
    x = work.get_data(picks=picks)
    # Fast inputs (e.g. BioSemi 2048 Hz) are decimated by an integer factor to >= 2.5 x the band's top first:
    # the detector's filter and Hilbert transform then cost (and hold in memory) a fraction.
    q = int(sfreq // (2.5 * band[1]))
    if q >= 2:
        x = mne.filter.resample(x, down=q, method="polyphase", verbose="error")
        sfreq = sfreq / q
    # A detection copy typed "eeg" (the detector only accepts M/EEG types; EMG is used when there is no EEG).
    det = mne.io.RawArray(x, mne.create_info([work.ch_names[i] for i in picks], sfreq, "eeg", verbose=False),
                          verbose=False)
    del x
    notched = ""
    if line_freq is not None:  # line harmonics in or near the detector's band would mask muscle bursts
        freqs = [k * line_freq for k in range(1, int(sfreq / 2 // line_freq) + 1)
                 if band[0] - 30 < k * line_freq < band[1] + 30 and k * line_freq + 1.5 < sfreq / 2]
        if freqs:
            det.notch_filter(freqs, **_filter_kwargs(config))
            notched = f", {'/'.join(f'{f:g}' for f in freqs)} Hz notched"
    annot, _scores = mne.preprocessing.annotate_muscle_zscore(
        det, threshold=config.muscle_threshold, ch_type="eeg", filter_freq=band,
        min_length_good=config.muscle_min_gap_s, verbose="error"
    )
    out = [Annotation(offset + float(a["onset"]), float(a["duration"]), "BAD_muscle") for a in annot]
    total = sum(a.duration for a in out)
    note(f"muscle detection (mne annotate_muscle_zscore, {band[0]:g}-{band[1]:g} Hz envelope at {sfreq:g} Hz"
         f"{notched}, z > {config.muscle_threshold:g}) on {len(picks)} {mod} channel(s): {len(out)} span(s), "
         f"{total:.1f} s")
    return out


def _remove_eog(work: mne.io.BaseRaw, config: PreprocessConfig, eeg: list[int], eog: list[int],
                names: list[str], car: bool, note) -> None:
    """Remove EOG artifacts from the (already band-passed) EEG channels ``eeg`` of ``work`` in place."""
    sfreq = work.info["sfreq"]
    eog_names = [names[i] for i in eog]
    # EOG copy in the EEG's band, so that regression weights / correlations refer to the same band.
    eog_data = work.get_data(picks=eog)
    band = config.band_for(Modality.EEG)
    if band is not None:
        low, high = band
        nyq = sfreq / 2
        high = high if high is not None and high < 0.9 * nyq else None
        if low is not None or high is not None:
            eog_data = mne.filter.filter_data(eog_data, sfreq, low, high, **_filter_kwargs(config))
    tmp = mne.io.RawArray(
        np.concatenate([work.get_data(picks=eeg), eog_data]),
        mne.create_info([names[i] for i in eeg] + eog_names, sfreq, ["eeg"] * len(eeg) + ["eog"] * len(eog),
                        verbose=False),
        verbose=False,
    )
    tmp.set_eeg_reference([], verbose="error")  # the reference was handled on `work`
    eeg_names = [names[i] for i in eeg]
    if config.eog_method == "regression":
        reg = mne.preprocessing.EOGRegression(picks="eeg", picks_artifact="eog", proj=False).fit(tmp)
        reg.apply(tmp, copy=False)
        gain = float(np.abs(reg.coef_).max())
        note(f"EOG regression from {', '.join(eog_names)} onto {len(eeg)} EEG channels "
             f"(largest propagation factor {gain:.3f})")
    else:
        rank = len(eeg) - (1 if car else 0)
        n_comp = min(config.ica_n_components, rank)
        if n_comp < 2:
            note(f"ICA skipped: {len(eeg)} EEG channel(s) give {rank} independent component(s), at least 2 needed")
            return
        decim = max(1, math.ceil(tmp.n_times / config.ica_max_samples))
        # Standard (super-Gaussian) infomax: blinks and saccades are super-Gaussian sources. mne's extended
        # infomax is 5-100x slower here and FastICA/Picard need packages this project does not ship.
        ica = mne.preprocessing.ICA(n_components=n_comp, method="infomax", random_state=config.seed,
                                    max_iter="auto", verbose="error")
        ica.fit(tmp, picks="eeg", decim=decim, verbose="error")
        bad, _scores = ica.find_bads_eog(tmp, ch_name=eog_names, measure="correlation",
                                         threshold=config.ica_eog_threshold, verbose="error")
        ica.exclude = list(bad)
        ica.apply(tmp, verbose="error")
        note(f"EOG removal by ICA ({n_comp} infomax components fitted on {tmp.n_times // decim} samples): "
             f"removed {len(bad)} component(s) {sorted(int(b) for b in bad)} with |r| >= "
             f"{config.ica_eog_threshold:g} to {', '.join(eog_names)}")
    cleaned = tmp.get_data(picks=list(range(len(eeg))))
    work.apply_function(lambda _x: cleaned, picks=eeg_names, channel_wise=False, verbose="error")


def _resample_mask(mask: np.ndarray, n_out: int) -> np.ndarray:
    """Map a (C, n_in) sample mask onto n_out samples: an output sample is set if its input interval is."""
    n_in = mask.shape[1]
    if n_out == n_in:
        return mask.copy()
    # Output sample j covers input samples [j * r, (j + 1) * r); cumulative sums test any() per interval.
    edges = np.minimum(np.round(np.arange(n_out + 1) * (n_in / n_out)).astype(int), n_in)
    edges[1:] = np.maximum(edges[1:], edges[:-1] + 1)
    edges = np.minimum(edges, n_in)
    csum = np.concatenate([np.zeros((mask.shape[0], 1), dtype=np.int64), np.cumsum(mask, axis=1)], axis=1)
    lo = np.minimum(edges[:-1], n_in - 1)
    return (csum[:, edges[1:]] - csum[:, lo]) > 0


def _group_channels(ann: list[Annotation]) -> list[Annotation]:
    """Merge annotations that cover the same span with the same description into one naming all channels."""
    grouped: dict[tuple[float, float, str], list[str]] = {}
    for a in ann:
        grouped.setdefault((a.onset, a.duration, a.description), []).extend(a.ch_names)
    return [Annotation(on, dur, desc, tuple(chs)) for (on, dur, desc), chs in grouped.items()]


def _channels_in(ann: list[Annotation]) -> str:
    chans = sorted({c for a in ann for c in a.ch_names})
    return f" on {', '.join(chans)}" if chans else ""
