"""The preprocessing pipeline: one recording span in, raw and cleaned signals on one grid out.

Steps, in order (each one logged in :attr:`PreprocessResult.steps` with its numbers):

1. read the span; masks (``masks=``, a :class:`~mmqnet_core.masking.MaskSet`) and NaN/inf samples are missing
   data: bridged by a straight line between the visible samples around them for filtering (so nothing under a
   mask can reach a visible sample), left out of every fit and statistic below, NaN in ``cleaned`` at the end;
   NaN outside masks is reported as ``BAD_nan``;
2. flat spans (``BAD_flat``) and abrupt GSR/PPG jumps (``BAD_jump``) on the input data (rules in
   :mod:`.detect`), not on masked channels or samples;
3. power-line frequency: from the configuration, or detected from the spectrum (50 vs 60 Hz) of the unmasked
   channels at the input rate (60 Hz and its neighbours need more than 128 Hz);
4. resampling of every channel to ``target_sfreq`` (mne's anti-aliased polyphase method) - this is ``raw``
   (which keeps what is under the masks); everything below works at that rate, so ``raw`` and ``cleaned`` are
   aligned sample for sample;
5. notch at the line frequency and its harmonics below the Nyquist frequency on EEG/EOG/EMG/ECG (harmonics
   above it were removed by the anti-aliasing filter);
6. muscle artifacts (``BAD_muscle``, the rule of :func:`mne.preprocessing.annotate_muscle_zscore`) at the
   analysis rate, at 110-140 Hz when the channels hold it, else in the top 30 Hz below what they hold -
   each channel's OWN recorded rate counts (``ChannelInfo.sfreq``), not the rate it is stored at;
7. EEG common average reference (at each sample over the EEG channels visible there); EEG band-pass; EOG
   removal by regression (fitted per EEG channel on the samples where it and the EOG are visible, as
   :class:`mne.preprocessing.EOGRegression` computes it) or ICA (:class:`mne.preprocessing.ICA`, infomax,
   fitted off the masks, components correlated with the EOG removed); the EOG is band-passed like the EEG
   for this so that the fitted propagation factors match the EEG's band;
8. band-pass of the other modalities (:attr:`PreprocessConfig.bands`), clipped to the Nyquist frequency;
9. NaN put back under the masks, and where the input was NaN (``restore_nan``).

Masked whole channels are left out exactly as if the recording did not have them. Changing a mask changes the
global fits (reference, regression, ICA, detections), so a cleaning is redone whole, never in part
(:mod:`.cache` keeps one per recording, configuration and mask state).

Filters are mne's defaults: zero-phase FIR (``filter_method="fir"``, firwin design, overlap-add) or a 4th-order
Butterworth applied forward-backward (``"iir"``). FIR costs about 5 s for 1 h of 40 channels at 128 Hz on one
core, well within budget, and has no phase distortion or IIR instability at 0.05 Hz, hence the default.
"""

from __future__ import annotations

import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import mne
import numpy as np

from ..errors import ConfigError, RecordingError
from ..progress import CancelToken, ProgressCallback, check_cancel, report
from ..masking import MaskSet, mask_samples
from ..recording import PHYSIOLOGICAL, Annotation, ChannelInfo, Modality, Recording, Signals
from .config import ELECTROPHYSIOLOGICAL, PreprocessConfig
from .detect import detect_line_freq, fill_nan, flat_mask, jump_mask, runs, spans_to_annotations

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
#: Threads for the row-wise heavy steps (resampling, muscle envelope): the 2 cores of the target machine.
_THREADS = max(1, min(2, os.cpu_count() or 1))
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
    masks: MaskSet | None = None,
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
    masks : MaskSet, optional
        What is missing: the user's masks, simulated missing data (:func:`~mmqnet_core.masking.simulate_missing`)
        or both. Masked samples are treated as missing data from the first step on: they never enter the
        common average reference, the EOG regression / ICA fit, line-noise detection, muscle detection or any
        statistic over channels or time (for filtering they are bridged by a straight line between the visible
        samples around them, so nothing under a mask reaches a visible sample), and ``cleaned`` is NaN under
        them. ``raw`` keeps the masked data (a mask hides data, it does not delete it). None = nothing masked.
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
        If ``config``, ``masks`` or the span is invalid.
    RecordingError
        If the span holds no samples.
    Cancelled
        If ``cancel`` is set between two steps.
    """
    if not isinstance(config, PreprocessConfig):
        raise ConfigError(f"'config' must be a PreprocessConfig, got {type(config).__name__}.")
    if masks is not None and not isinstance(masks, MaskSet):
        raise ConfigError(f"'masks' must be a MaskSet or None, got {type(masks).__name__}.")
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
    # Recording.get_data returns a new array (mne reads into a fresh buffer / fancy-indexes): ours to fill in place
    data = np.asarray(recording.get_data(offset, stop / sfreq_in), dtype=np.float64)
    n_in = data.shape[1]
    note(f"read {recording.n_channels} channels, {n_in / sfreq_in:.3f} s at {sfreq_in:g} Hz from {offset:.3f} s")
    check_cancel(cancel)

    # masks: missing data from here on ------------------------------------------------------------------------
    mask_in = None if masks is None or masks.is_empty else mask_samples(masks, names, sfreq_in, n_in, offset_s=offset)
    if mask_in is not None and not mask_in.any():
        mask_in = None
    masked_ch: list[str] = []
    raw_rows: list[int] = []
    if mask_in is not None:
        masked_ch = [names[i] for i in range(len(names)) if mask_in[i].all()]
        raw_rows = [int(i) for i in np.flatnonzero(mask_in.any(axis=1))]
        partly = [names[i] for i in raw_rows if names[i] not in masked_ch]
        note(f"masks: {len(masked_ch)} whole channel(s) ({', '.join(masked_ch) or 'none'}) and segments on "
             f"{len(partly)} channel(s), {mask_in.sum() / sfreq_in:.1f} channel-seconds in all: treated as missing "
             "data (left out of every fit and statistic, NaN in the cleaned signals)")

    # NaN / inf samples --------------------------------------------------------------------------------------
    nan_mask = ~np.isfinite(data)
    if not nan_mask.any():
        nan_mask = None
    missing = nan_mask if mask_in is None else (mask_in if nan_mask is None else nan_mask | mask_in)
    raw_keep = None
    if raw_rows:  # ``raw`` keeps what is under the masks: those rows are resampled apart from the cleaning copy
        raw_keep = data[raw_rows].copy()
        if nan_mask is not None:
            raw_keep[nan_mask[raw_rows]] = np.nan
        fill_nan(raw_keep)
    real_nan = nan_mask if nan_mask is None or mask_in is None else nan_mask & ~mask_in  # NaN under a mask: masked
    if real_nan is not None:
        nan_ann = spans_to_annotations(real_nan, names, sfreq_in, "BAD_nan", offset_s=offset)
        interference += nan_ann
        if nan_ann:
            note(f"NaN samples in {int(real_nan.any(axis=1).sum())} channel(s), {len(nan_ann)} span(s), "
                 f"{real_nan.sum() / sfreq_in:.2f} channel-seconds: interpolated for filtering, reported as BAD_nan")
    if missing is not None:
        data[missing] = np.nan
        fill_nan(data)  # a straight line across each gap: filters see only visible samples
    report(progress, 0.05, "detecting flat spans and jumps")
    check_cancel(cancel)

    # 2. flat spans and jumps (at the input rate: short windows and lags) --------------------------------------
    bad_share = np.zeros(len(names)) if real_nan is None else real_nan.mean(axis=1)
    if config.detect_flat:
        picks = [i for i, m in enumerate(mods) if m in PHYSIOLOGICAL and m != Modality.TEMP
                 and names[i] not in masked_ch]
        ann: list[Annotation] = []

        def flat_row(i: int) -> np.ndarray | None:  # one channel at a time keeps the temporary arrays small
            if not _may_be_flat(data[i], sfreq_in, config):
                return None  # no flat window possible: skip the sliding-window detector (most of its cost)
            m = flat_mask(data[i:i + 1], sfreq_in, window_s=config.flat_window_s,
                          rel_threshold=config.flat_rel_threshold, min_s=config.flat_min_s,
                          nan_mask=None if missing is None or not missing[i].any() else missing[i:i + 1])
            if mask_in is not None:
                m &= ~mask_in[i:i + 1]
            return m

        with ThreadPoolExecutor(_THREADS) as pool:  # channels are independent (scipy.ndimage releases the GIL)
            flat_rows = list(pool.map(flat_row, picks))
        for i, m in zip(picks, flat_rows):
            if m is None:
                continue
            bad_share[i] = max(bad_share[i], m.mean())
            ann += spans_to_annotations(m, [names[i]], sfreq_in, "BAD_flat", offset_s=offset)
        interference += _group_channels(ann)
        note(f"flat-signal check on {len(picks)} channels (windows {config.flat_window_s:g} s, "
             f"at most {config.flat_rel_threshold:g} x median peak-to-peak, >= {config.flat_min_s:g} s): "
             f"{len(ann)} flat span(s)" + _channels_in(ann))
    if config.detect_jumps:
        picks = [i for i, m in enumerate(mods) if m in (Modality.GSR, Modality.PPG) and names[i] not in masked_ch]
        if picks:
            ann = []
            for i in picks:
                m = jump_mask(data[i:i + 1], sfreq_in, lag_s=config.jump_lag_s, threshold=config.jump_threshold,
                              min_fraction=config.jump_min_fraction, pad_s=config.jump_pad_s)
                if mask_in is not None:
                    m &= ~mask_in[i:i + 1]
                ann += spans_to_annotations(m, [names[i]], sfreq_in, "BAD_jump", offset_s=offset)
            interference += ann
            note(f"jump check on {len(picks)} GSR/PPG channel(s) (change over {config.jump_lag_s:g} s > "
                 f"{config.jump_threshold:g} robust SD and > {config.jump_min_fraction:g} of the range): "
                 f"{len(ann)} jump span(s)" + _channels_in(ann))
    bads = [names[i] for i in range(len(names)) if bad_share[i] > _BAD_CHANNEL_SHARE and names[i] not in masked_ch]
    if bads:
        note(f"channel(s) flat or NaN for more than {_BAD_CHANNEL_SHARE:.0%} of the span, left out of the "
             f"reference, EOG removal and muscle detection: {', '.join(bads)}")
    left_out = set(bads) | set(masked_ch)
    report(progress, 0.15, "line-noise detection")
    check_cancel(cancel)

    # 3. power-line frequency (at the input rate: 60 Hz and its neighbours need more than 128 Hz) ------------
    ephys = [i for i, m in enumerate(mods) if m in ELECTROPHYSIOLOGICAL]
    line_freq: float | None = None
    line_picks = ([i for i in ephys if names[i] not in left_out]
                  or [i for i in ephys if names[i] not in masked_ch])
    if not config.notch:
        note("notch filter off (configuration)")
    elif not ephys:
        note("no EEG/EOG/EMG/ECG channels: no line-noise removal")
    elif config.line_freq is not None:
        line_freq = config.line_freq
        note(f"line frequency {line_freq:g} Hz (set in the configuration)")
    elif not line_picks:
        note("every EEG/EOG/EMG/ECG channel is masked: no line-noise detection, no notch")
    else:
        # 2 minutes in 10 chunks spread over the span are plenty for a 0.5-Hz Welch spectrum of a hum that lasts
        found, ratios = detect_line_freq(data, sfreq_in, ratio=config.line_detect_ratio, picks=line_picks,
                                         max_s=120.0)
        detail = ", ".join(f"{f:g} Hz: {r:.1f}" for f, r in ratios.items()) or "no candidate below Nyquist"
        if found is None:
            note(f"no line noise detected (peak/neighbour power ratio {detail}; threshold "
                 f"{config.line_detect_ratio:g}): notch skipped")
        else:
            line_freq = found
            note(f"line noise detected at {found:g} Hz (peak/neighbour power ratio {detail})")
    report(progress, 0.2, "resampling")
    check_cancel(cancel)

    # 4. resample first: every later step runs at the analysis rate ------------------------------------------
    if sfreq_in > config.target_sfreq:
        # Polyphase (scipy.signal.resample_poly through mne): anti-aliased like the FFT method, 3x faster on long
        # recordings and with no wrap-around between the two ends of the span.
        data = _resample_rows(data, sfreq_in, out_sfreq)
        note(f"resampled {sfreq_in:g} Hz -> {config.target_sfreq:g} Hz (anti-aliased polyphase method), "
             f"{data.shape[1]} samples")
    elif sfreq_in < config.target_sfreq:
        note(f"input rate {sfreq_in:g} Hz is below the target {config.target_sfreq:g} Hz: kept (no up-sampling)")
    # the mne container (shares memory with `data`) ----------------------------------------------------------
    info = mne.create_info(names, out_sfreq, [MNE_CH_TYPES[m] for m in mods], verbose=False)
    work = mne.io.RawArray(data, info, verbose=False)
    work.info["bads"] = bads
    del data
    n_out = work.n_times
    raw_data = work.get_data().astype(np.float32)
    if raw_keep is not None:
        raw_data[raw_rows] = _resample_rows(raw_keep, sfreq_in, out_sfreq)
        del raw_keep
    miss_out = None if missing is None else _resample_mask(missing, n_out)  # (C, n_out) missing at the output
    nyq = out_sfreq / 2
    report(progress, 0.4, "notch")
    check_cancel(cancel)

    # 5. notch -------------------------------------------------------------------------------------------
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
    report(progress, 0.5, "muscle detection")
    check_cancel(cancel)

    # 6. muscle, at the analysis rate on the notched data, in a band each picked channel's own rate can hold ---
    muscle = _muscle_plan(config, mods, names, left_out, out_sfreq, recording.channels, note)
    if muscle is not None:
        interference += _detect_muscle(work, muscle, config, line_freq, offset, note)
    elif config.detect_muscle:
        note("no usable EEG or EMG channels: no muscle detection")
    report(progress, 0.6, "EEG reference and EOG removal")
    check_cancel(cancel)

    # 7. EEG: reference, band-pass, EOG removal ----------------------------------------------------------
    eeg = [i for i, m in enumerate(mods) if m == Modality.EEG]
    eeg_good = [i for i in eeg if names[i] not in left_out]
    eog = [i for i, m in enumerate(mods) if m == Modality.EOG and names[i] not in left_out]
    car = False
    if eeg:
        if config.eeg_reference == "average" and len(eeg_good) >= config.min_channels_average_ref:
            _average_reference(work, [i for i in eeg if names[i] not in bads], eeg_good, miss_out)
            car = True
            note(f"common average reference over {len(eeg_good)} EEG channels"
                 + (" (at each sample over the channels visible there)" if miss_out is not None else ""))
        elif not eeg_good:  # no usable EEG channel (hardening, issue 13): say so instead of failing
            note(f"no usable EEG channel: all {len(eeg)} are flat or bad ({', '.join(names[i] for i in eeg)}); "
                 "EEG left unreferenced")
        elif config.eeg_reference == "average":
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
        _remove_eog(work, config, eeg_good, eog, names, car, note, miss_out)
    report(progress, 0.8, "band-pass filters")
    check_cancel(cancel)

    # 8. other modalities --------------------------------------------------------------------------------
    for mod in dict.fromkeys(mods):  # modalities in channel order, once each
        if mod == Modality.EEG:
            continue
        _band_pass(work, config, mod, [i for i, m in enumerate(mods) if m == mod], names, nyq, note)
    clean_data = work.get_data().astype(np.float32)
    check_cancel(cancel)

    # 9. NaN back: under the masks always, where the input was NaN when configured -----------------------
    if nan_mask is not None and config.restore_nan:
        out_mask = _resample_mask(nan_mask, n_out)
        raw_data[out_mask] = np.nan
        clean_data[out_mask] = np.nan
        note(f"NaN restored in raw and cleaned at {int(out_mask.sum())} output samples")
    if mask_in is not None:
        out_mask = _resample_mask(mask_in, n_out)
        clean_data[out_mask] = np.nan
        note(f"cleaned signals are NaN (missing) under the masks: {int(out_mask.sum())} output samples")

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


def _muscle_plan(config: PreprocessConfig, mods: list[Modality], names: list[str], left_out: set[str],
                 sfreq: float, channels: tuple[ChannelInfo, ...],
                 note) -> tuple[list[int], tuple[float, float], str] | None:
    """How muscle detection runs at the analysis rate ``sfreq``: (picks, band Hz, modality name), or None.

    A channel holds content only below the Nyquist frequency of its OWN recorded rate (``ChannelInfo.sfreq``;
    a 128-Hz channel stored up-sampled in a 512-Hz file holds nothing above 64 Hz) and of the analysis rate.
    The default band is 110-140 Hz when the best channel holds it, else the top 30 Hz below 95 % of what it
    holds (e.g. 30.8-60.8 Hz at 128 Hz); channels that cannot hold the band are left out (said in the log).
    """
    if not config.detect_muscle:
        return None
    for mod in (Modality.EEG, Modality.EMG):
        picks = [i for i, m in enumerate(mods) if m == mod and names[i] not in left_out]
        if picks:
            break
    else:
        return None

    def held(i: int) -> float:  # highest frequency channel i can carry at the analysis rate, Hz
        own = channels[i].sfreq if channels[i].sfreq > 0 else sfreq
        return 0.95 * min(sfreq, own) / 2

    best = max(held(i) for i in picks)
    if config.muscle_band is not None:
        band = config.muscle_band
    elif best >= 0.95 * 150:
        band = _MUSCLE_BAND_HIGH
    else:  # the top 30 Hz below 95 % of the Nyquist frequency (e.g. 30.8-60.8 Hz at 128 Hz)
        band = (max(best - 30.0, 20.0), best)
    if band[1] > best + 1e-9:
        raise ConfigError(
            f"Invalid value for 'muscle_band': {band[0]:g}-{band[1]:g} Hz needs a sampling rate above "
            f"{band[1] / 0.475:.0f} Hz, the recording has {2 * best / 0.95:g} Hz at the analysis rate "
            f"(target_sfreq {config.target_sfreq:g} Hz, channels' own rates up to "
            f"{max(channels[i].sfreq for i in picks):g} Hz); lower the band or set detect_muscle=False."
        )
    short = [i for i in picks if held(i) < band[1] - 1e-9]
    if short:
        note(f"muscle detection leaves out {len(short)} channel(s) recorded too slowly for "
             f"{band[0]:g}-{band[1]:g} Hz: {', '.join(f'{names[i]} ({channels[i].sfreq:g} Hz)' for i in short)}")
    return [i for i in picks if i not in short], band, mod.value


def _detect_muscle(work: mne.io.BaseRaw, plan, config: PreprocessConfig, line_freq: float | None, offset: float,
                   note) -> list[Annotation]:
    """Muscle spans on the planned channels of ``work`` (already notched at the line frequency).

    The rule is :func:`mne.preprocessing.annotate_muscle_zscore`'s (Muthukumaraswamy 2013): band-pass, Hilbert
    envelope, z-score per channel, sum over channels / sqrt(n), 4-Hz low-pass, threshold, good gaps shorter
    than ``muscle_min_gap_s`` merged. It is computed here with a zero-phase Butterworth band-pass
    (:func:`scipy.signal.sosfiltfilt`) and a float32 Hilbert transform on one array instead of mne's copy of
    the Raw, its long FIR and float64 transforms: about 4x less CPU for an hour of 32 channels, which the
    8-s cleaning budget needs. Same spans within a few samples on the tests' bursts.
    """
    from scipy import fft, ndimage, signal

    picks, band, mod = plan
    sfreq = work.info["sfreq"]
    x = work.get_data(picks=picks)
    # Fast analysis rates are decimated by an integer factor to >= 2.5 x the band's top first.
    q = int(sfreq // (2.5 * band[1]))
    if q >= 2:
        x = mne.filter.resample(x, down=q, method="polyphase", verbose="error")
        sfreq = sfreq / q
    n = x.shape[1]
    sos = signal.butter(4, band, btype="bandpass", fs=sfreq, output="sos")
    n_fft = fft.next_fast_len(n, real=False)

    def zscored_envelope(rows: np.ndarray) -> np.ndarray:  # (c, n) -> (c, n) float32, z-scored per channel
        y = signal.sosfiltfilt(sos, rows, axis=1).astype(np.float32)
        env = np.abs(signal.hilbert(y, N=n_fft, axis=1)[:, :n])
        env -= env.mean(axis=1, keepdims=True)
        sd = env.std(axis=1, keepdims=True)
        env /= np.where(sd > 0, sd, 1.0)
        return env

    env = _by_rows(zscored_envelope, x)  # (C, n)
    del x
    score = env.sum(axis=0, dtype=np.float64) / np.sqrt(env.shape[0])  # (n,)
    del env
    score = mne.filter.filter_data(score[None], sfreq, None, 4.0, verbose="error")[0]
    art = score > config.muscle_threshold
    good, n_good = ndimage.label(~art)
    if n_good and config.muscle_min_gap_s > 0:
        sizes = np.bincount(good.ravel())
        short = np.flatnonzero(sizes < config.muscle_min_gap_s * sfreq)
        art |= np.isin(good, short[short > 0])
    out = [Annotation(offset + a / sfreq, (b - a) / sfreq, "BAD_muscle") for a, b in runs(art)]
    total = sum(a.duration for a in out)
    notched = f", {line_freq:g} Hz notched" if line_freq is not None and band[0] - 30 < line_freq < band[1] + 30 else ""
    note(f"muscle detection (mne annotate_muscle_zscore's rule, {band[0]:g}-{band[1]:g} Hz envelope at {sfreq:g} Hz"
         f"{notched}, z > {config.muscle_threshold:g}) on {len(picks)} {mod} channel(s): {len(out)} span(s), "
         f"{total:.1f} s")
    return out


def _average_reference(work: mne.io.BaseRaw, ref_to: list[int], ref_from: list[int],
                       missing: np.ndarray | None) -> None:
    """Common average reference of ``work`` in place: the mean of ``ref_from`` subtracted from ``ref_to``.

    With ``missing`` ((C, n_times) bool), the mean at each sample is over the ``ref_from`` channels visible
    there, so a masked or NaN sample never enters the reference of the others. Written by hand because
    :meth:`mne.io.Raw.set_eeg_reference` can only leave a channel out for the whole recording.
    """
    x = work._data  # the RawArray's own (preloaded) data
    total = np.zeros(x.shape[1])
    count = np.zeros(x.shape[1])
    for i in ref_from:  # one channel at a time: no (C, n_times) temporary
        if missing is None:
            total += x[i]
        else:
            vis = ~missing[i]
            total[vis] += x[i, vis]
            count += vis
    ref = total / len(ref_from) if missing is None else total / np.maximum(count, 1)
    x[ref_to] -= ref


def _remove_eog(work: mne.io.BaseRaw, config: PreprocessConfig, eeg: list[int], eog: list[int],
                names: list[str], car: bool, note, missing: np.ndarray | None = None) -> None:
    """Remove EOG artifacts from the (already band-passed) EEG channels ``eeg`` of ``work`` in place.

    ``missing`` ((C, n_times) bool on ``work``'s grid) marks masked/NaN samples: the regression of each EEG
    channel is fitted only where it and every EOG channel are visible, and nothing is subtracted where an EOG
    channel is missing (there is no EOG to regress out); ICA is fitted only on samples where every channel
    used is visible and applied everywhere (under a mask a channel holds the straight line bridging it, so
    nothing under the mask reaches the others).
    """
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
    eeg_names = [names[i] for i in eeg]
    x = work._data
    if config.eog_method == "regression":
        # Least squares per EEG channel on centred data, as mne.preprocessing.EOGRegression does (which has no
        # per-sample exclusion): coef = (R R^T)^-1 R y over the samples where the channel and the EOG are visible.
        eog_vis = np.ones(eog_data.shape[1], bool) if missing is None else ~missing[eog].any(axis=0)
        mean_eog = eog_data[:, eog_vis].mean(axis=1, keepdims=True) if eog_vis.any() else 0.0
        shared = None  # (R R^T, R, mean) for the channels with nothing missing
        coef = np.zeros((len(eeg), len(eog)))
        for k, i in enumerate(eeg):
            own = eog_vis if missing is None or not missing[i].any() else eog_vis & ~missing[i]
            if own.sum() <= len(eog):
                continue  # too few samples to fit: left uncorrected
            if own is eog_vis and shared is not None:
                cov, r = shared
            else:
                r = eog_data[:, own] - eog_data[:, own].mean(axis=1, keepdims=True)
                cov = r @ r.T
                if own is eog_vis:
                    shared = (cov, r)
            y = x[i, own] - x[i, own].mean()
            coef[k] = np.linalg.pinv(cov) @ (r @ y)
        ref = np.where(eog_vis, eog_data - mean_eog, 0.0)  # nothing subtracted where the EOG is missing
        for k, i in enumerate(eeg):
            x[i] -= coef[k] @ ref
        gain = float(np.abs(coef).max())
        gaps = "" if eog_vis.all() else f"; not applied at {int((~eog_vis).sum())} samples where the EOG is masked"
        note(f"EOG regression from {', '.join(eog_names)} onto {len(eeg)} EEG channels "
             f"(largest propagation factor {gain:.3f}{gaps})")
        return
    tmp = mne.io.RawArray(
        np.concatenate([work.get_data(picks=eeg), eog_data]),
        mne.create_info(eeg_names + eog_names, sfreq, ["eeg"] * len(eeg) + ["eog"] * len(eog), verbose=False),
        verbose=False,
    )
    tmp.set_eeg_reference([], verbose="error")  # the reference was handled on `work`
    if missing is not None:  # fit on the samples where every channel used is visible
        spans = runs(missing[eeg + eog].any(axis=0))
        if spans.size:
            tmp.set_annotations(mne.Annotations(spans[:, 0] / sfreq, (spans[:, 1] - spans[:, 0]) / sfreq,
                                                "BAD_mask"))
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
    ica.fit(tmp, picks="eeg", decim=decim, reject_by_annotation=True, verbose="error")
    bad, _scores = ica.find_bads_eog(tmp, ch_name=eog_names, measure="correlation",
                                     threshold=config.ica_eog_threshold, reject_by_annotation=True, verbose="error")
    ica.exclude = list(bad)
    ica.apply(tmp, verbose="error")
    note(f"EOG removal by ICA ({n_comp} infomax components fitted on {tmp.n_times // decim} samples): "
         f"removed {len(bad)} component(s) {sorted(int(b) for b in bad)} with |r| >= "
         f"{config.ica_eog_threshold:g} to {', '.join(eog_names)}")
    x[eeg] = tmp.get_data(picks=list(range(len(eeg))))


def _by_rows(fn, x: np.ndarray) -> np.ndarray:
    """``fn`` applied to blocks of rows of ``x`` in :data:`_THREADS` threads, results stacked by rows.

    The heavy loops below (polyphase filtering, IIR filtering, FFTs) run in scipy's compiled code, which
    releases the GIL: two threads use the two cores of the target machine. Each row is processed exactly as
    in one call, so the result does not depend on the number of threads.
    """
    if _THREADS < 2 or x.shape[0] < 2:
        return fn(x)
    bounds = np.linspace(0, x.shape[0], _THREADS + 1).astype(int)
    with ThreadPoolExecutor(_THREADS) as pool:
        parts = list(pool.map(lambda ab: fn(x[ab[0]:ab[1]]), zip(bounds[:-1], bounds[1:])))
    return np.concatenate(parts, axis=0)


def _resample_rows(rows: np.ndarray, sfreq_in: float, sfreq_out: float) -> np.ndarray:
    """Rows resampled from ``sfreq_in`` to ``sfreq_out`` Hz as :meth:`mne.io.Raw.resample` (polyphase) does."""
    if sfreq_out >= sfreq_in:
        return rows
    return _by_rows(lambda a: mne.filter.resample(a, up=sfreq_out, down=sfreq_in, method="polyphase",
                                                  verbose="error"), rows)


def _may_be_flat(x: np.ndarray, sfreq: float, config: PreprocessConfig) -> bool:
    """False when :func:`.detect.flat_mask` cannot find a flat window in the row ``x`` (no NaN), cheaply.

    The detector calls a sliding window of ``w`` samples flat when its peak-to-peak is at most
    ``flat_rel_threshold`` times the median peak-to-peak of the non-overlapping windows starting at 0, w, 2w...
    Every sliding window of w samples contains a whole block of ``w // 2`` samples on the block grid, and that
    block's peak-to-peak is at most the window's; so when no such block is that flat, no window is, and the
    detector's exact answer is "nothing". Block extremes are plain reshapes (vectorised, no sliding filter):
    about a tenth of the detector's cost, and real channels are rarely close to flat.
    """
    n = x.size
    w = max(2, int(round(config.flat_window_s * sfreq)))
    if n < w:
        return False
    full = x[: (n // w) * w].reshape(-1, w)
    scale = float(np.median(full.max(axis=1) - full.min(axis=1)))  # the detector's scale, exactly
    h = w // 2
    if h < 1:
        return True
    half = x[: (n // h) * h].reshape(-1, h)
    return bool(((half.max(axis=1) - half.min(axis=1)) <= config.flat_rel_threshold * scale).any())


def _resample_mask(mask: np.ndarray, n_out: int) -> np.ndarray:
    """Map a (C, n_in) sample mask onto n_out samples: an output sample is set if its input interval is."""
    n_in = mask.shape[1]
    if n_out == n_in:
        return mask.copy()
    # Output sample j covers input samples [lo_j, hi_j); it is set when a run of set input samples [a, b)
    # overlaps it (lo_j < b and hi_j > a). Working on runs keeps the cost at the number of runs, not C x n_in.
    edges = np.minimum(np.round(np.arange(n_out + 1) * (n_in / n_out)).astype(int), n_in)
    edges[1:] = np.maximum(edges[1:], edges[:-1] + 1)
    edges = np.minimum(edges, n_in)
    lo, hi = np.minimum(edges[:-1], n_in - 1), edges[1:]
    out = np.zeros((mask.shape[0], n_out), dtype=bool)
    for row in np.flatnonzero(mask.any(axis=1)):
        r = runs(mask[row])
        first = np.searchsorted(hi, r[:, 0], side="right")
        stop = np.searchsorted(lo, r[:, 1], side="left")
        for a, b in zip(first, stop):
            out[row, a:b] = True
    return out


def _group_channels(ann: list[Annotation]) -> list[Annotation]:
    """Merge annotations that cover the same span with the same description into one naming all channels."""
    grouped: dict[tuple[float, float, str], list[str]] = {}
    for a in ann:
        grouped.setdefault((a.onset, a.duration, a.description), []).extend(a.ch_names)
    return [Annotation(on, dur, desc, tuple(chs)) for (on, dur, desc), chs in grouped.items()]


def _channels_in(ann: list[Annotation]) -> str:
    chans = sorted({c for a in ann for c in a.ch_names})
    return f" on {', '.join(chans)}" if chans else ""
