"""Feature extraction of a whole recording: signals in, :class:`FeatureSet` out."""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..progress import CancelToken, ProgressCallback, check_cancel, report
from ..recording import Annotation, Modality, Signals
from .config import FeatureConfig
from .featureset import FeatureSet
from .layout import Token, bind_layout, layout_for
from .missing import MissingReason
from .peripheral import EXTRACTORS, flat_windows, to_canonical
from .spectral import WindowGrid, check_eeg_rate

log = logging.getLogger(__name__)

#: Interference annotations that are *not* interference: user masks (handled by the token mask instead).
_NOT_INTERFERENCE = {"bad_mask"}
#: A channel whose BAD_flat spans (found on the input, before any filter) cover more than this fraction of the
#: signals is a dead channel: its windows in those spans have no data. The cleaned trace of a flat input is the
#: filters' rounding noise (~1e-31 uV), whose window std does not fall below ``flat_rel_tol`` x the channel's
#: median window std when most of the channel is flat, so :func:`flat_windows` alone missed them and an all-flat
#: recording was analysed as if it held signals (confident predictions from nothing). A flat stretch within a
#: live channel (the synthetic corpus: 2-12 s of a trial) keeps the rule of :func:`flat_windows`.
DEAD_FLAT_FRACTION = 0.5


def extract_features(
    signals: Signals,
    config: FeatureConfig = FeatureConfig(),
    *,
    layout: Sequence[Token] | None = None,
    interference: Sequence[Annotation] = (),
    t0_s: float = 0.0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> FeatureSet:
    """Cut ``signals`` into windows and compute the features of every token in every window.

    Parameters
    ----------
    signals : Signals
        Signals on one grid (usually ``preprocess(...).cleaned``), in the units of their ChannelInfo (volts for
        EEG/EOG/EMG/ECG, uS or Ohm for GSR, degC for TEMP); they are converted to the canonical units of
        :data:`~mmqnet_core.features.peripheral.CANONICAL_UNITS` first.
    config : FeatureConfig
        Window length/step (s), EEG bands (Hz) and options.
    layout : sequence of Token, optional
        Tokens to fill (e.g. :data:`~mmqnet_core.features.DEAP_LAYOUT`), bound to the channels by
        :func:`~mmqnet_core.features.layout.bind_layout`; None = one token per physiological channel.
    interference : sequence of Annotation
        Interference spans (e.g. ``PreprocessResult.interference``); those whose description starts with
        "BAD" (except "BAD_mask") count, on the recording clock.
    t0_s : float
        Time of the first sample of ``signals`` on the recording clock, s (when the signals are a span of a
        longer recording); window starts are reported on that clock.
    progress, cancel
        See :mod:`mmqnet_core.progress`.

    Returns
    -------
    FeatureSet
        ``missing[t, n]`` is True when token n has no channel, or its window holds NaN, is flat, or *none* of
        its features can be computed there; ``reason[t, n]`` says which (:class:`MissingReason`). A feature
        that alone cannot be computed (e.g. the breathing rate with no breath nearby) is False in
        ``feature_valid[t, n, f]`` and the token stays present. Values that are not valid are 0.
        ``interference[t]`` in [0, 1] is the larger of (a) the fraction of the window covered by BAD spans,
        taking the union of the spans per channel (spans without channels apply to all) and the maximum over
        channels, and (b) an EEG high-band score: the robust z-score (median/MAD over windows) of the median
        over EEG tokens of the highest band's DE, mapped linearly from 0 at ``hf_z_threshold`` to 1 at twice
        it (muscle artefacts raise high-frequency power); (b) is skipped with fewer than 8 windows or no EEG.
    """
    check_cancel(cancel)
    tokens = bind_layout(layout if layout is not None else layout_for(signals.channels), signals.channels)
    if any(t.modality == Modality.EEG and t.channel is not None for t in tokens):
        # EEG too slow for its bands (e.g. 1 Hz): said as such, before a window too short for it is
        check_eeg_rate([(lo, hi) for _, lo, hi in config.all_bands], signals.sfreq)
    grid = WindowGrid.make(signals.sfreq, signals.n_times, config.window_s, config.step_s)
    if not tokens:
        raise ConfigError(
            "No token to featurise: the signals have no physiological channel "
            f"(channels: {', '.join(signals.ch_names) or 'none'}); set channel modalities or pass a layout."
        )
    modalities = list(dict.fromkeys(t.modality for t in tokens))
    no_extractor = [m.value for m in modalities if m not in EXTRACTORS]
    if no_extractor:
        raise ConfigError(
            f"No feature extractor for modality {', '.join(no_extractor)}; drop those tokens from the layout "
            f"or set the channel modality to one of {', '.join(m.value for m in EXTRACTORS)}."
        )
    names = {m: EXTRACTORS[m].names(config) for m in modalities}
    units = {m: EXTRACTORS[m].units(config) for m in modalities}
    waveform = {m: s for m in modalities if (s := EXTRACTORS[m].waveform_slice(config)) is not None}
    n_feat = max(len(v) for v in names.values())
    t_count, n_tok = grid.n_windows, len(tokens)

    values = np.zeros((t_count, n_tok, n_feat), dtype=np.float32)
    valid = np.zeros((n_tok, n_feat), dtype=bool)
    missing = np.ones((t_count, n_tok), dtype=bool)
    reason = np.full((t_count, n_tok), MissingReason.NO_CHANNEL, dtype=np.uint8)
    fvalid = np.zeros((t_count, n_tok, n_feat), dtype=bool)
    index = {name: i for i, name in enumerate(signals.ch_names)}
    for n, tok in enumerate(tokens):
        valid[n, : len(names[tok.modality])] = True

    for k, m in enumerate(modalities):
        check_cancel(cancel)
        report(progress, k / len(modalities), f"{m.value} features")
        tok_idx = [n for n, t in enumerate(tokens) if t.modality == m and t.channel is not None]
        if not tok_idx:
            continue
        rows = [index[tokens[n].channel] for n in tok_idx]
        raw = np.stack(
            [to_canonical(m, signals.data[r], signals.channels[r].unit) for r in rows]
        )  # (C, n_times) canonical units
        nan = ~np.isfinite(raw)
        if nan.any():
            # a row with no finite sample at all (a channel masked whole) is filled with 0: it is missing anyway
            n_ok = (~nan).sum(axis=1, keepdims=True)
            fill = np.where(n_ok > 0, np.where(nan, 0.0, raw).sum(axis=1, keepdims=True) / np.maximum(n_ok, 1), 0.0)
            raw = np.where(nan, fill, raw)
        ex = EXTRACTORS[m]
        orig = np.array([signals.channels[r].sfreq for r in rows], dtype=float)  # (C,) rates in the file, Hz
        feats = ex.compute(raw, grid, config, orig_sfreq=orig)  # (C, T, F_m), NaN = not computable
        assert feats.shape == (len(rows), t_count, len(names[m])), (m, feats.shape)
        no_data = grid.window_any(nan) | flat_windows(raw, grid, config, slow=ex.slow)  # (C, T)
        no_data |= _dead_flat_windows(interference, grid, signals.n_times, t0_s, [tokens[n].channel for n in tok_idx])
        ok = np.isfinite(feats) & ~no_data[..., None]  # (C, T, F_m) feature-level validity
        not_detected = ~no_data & ~ok.any(axis=-1)  # present signal, but no feature computable
        code = np.where(no_data, MissingReason.NO_DATA,
                        np.where(not_detected, MissingReason.NOT_DETECTED, MissingReason.PRESENT))
        feats = np.where(ok, feats, 0.0)
        values[:, tok_idx, : feats.shape[-1]] = feats.transpose(1, 0, 2)
        fvalid[:, tok_idx, : feats.shape[-1]] = ok.transpose(1, 0, 2)
        missing[:, tok_idx] = (no_data | not_detected).T
        reason[:, tok_idx] = code.T

    report(progress, 0.95, "interference")
    score = _annotation_coverage(interference, grid, signals.n_times, t0_s)
    hf = _hf_score(values, ~fvalid, tokens, names, config)
    if hf is not None:
        score = np.maximum(score, hf)
    report(progress, 1.0, "features done")
    return FeatureSet(
        values=values,
        valid=valid,
        missing=missing,
        tokens=tokens,
        feature_names=names,
        feature_units=units,
        waveform=waveform,
        window_starts=grid.starts_s + t0_s,
        window_s=grid.n / grid.sfreq,
        sfreq=signals.sfreq,
        config=config,
        interference=score.astype(np.float32),
        feature_valid=fvalid & valid[None] & ~missing[..., None],
        reason=reason,
    )


def _dead_flat_windows(anns: Sequence[Annotation], grid: WindowGrid, n_times: int, t0_s: float,
                       channels: Sequence[str]) -> np.ndarray:
    """(C, T) True where a channel's BAD_flat spans cover more than half the window, for the channels whose
    BAD_flat spans cover more than :data:`DEAD_FLAT_FRACTION` of the signals (dead channels); else False."""
    out = np.zeros((len(channels), grid.n_windows), dtype=bool)
    flat = [a for a in anns if a.description.lower() == "bad_flat"]
    if not flat or n_times == 0:
        return out
    for c, name in enumerate(channels):
        flags = np.zeros(n_times, dtype=bool)
        for a in flat:
            if a.ch_names and name not in a.ch_names:
                continue
            i0 = max(int(np.floor((a.onset - t0_s) * grid.sfreq)), 0)
            i1 = min(int(np.ceil((a.onset + a.duration - t0_s) * grid.sfreq)), n_times)
            flags[i0:i1] = True
        if flags.mean() > DEAD_FLAT_FRACTION:
            out[c] = grid.window_fraction(flags[None])[0] > 0.5
    return out


def _annotation_coverage(anns: Sequence[Annotation], grid: WindowGrid, n_times: int, t0_s: float) -> np.ndarray:
    """Fraction of each window covered by BAD spans: union per channel, max over channels, (T,)."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for a in anns:
        desc = a.description.lower()
        if not desc.startswith("bad") or desc in _NOT_INTERFERENCE:
            continue
        i0 = int(np.floor((a.onset - t0_s) * grid.sfreq))
        i1 = int(np.ceil((a.onset + a.duration - t0_s) * grid.sfreq))
        i0, i1 = max(i0, 0), min(i1, n_times)
        if i1 <= i0:
            continue
        for ch in a.ch_names or ("*",):
            spans.setdefault(ch, []).append((i0, i1))
    if not spans:
        return np.zeros(grid.n_windows)
    common = spans.pop("*", [])
    keys = list(spans) or ["*"]
    flags = np.zeros((len(keys), n_times), dtype=bool)
    for i, key in enumerate(keys):
        for i0, i1 in spans.get(key, []) + common:
            flags[i, i0:i1] = True
    return grid.window_fraction(flags).max(axis=0)


def _hf_score(values, invalid, tokens, names, config: FeatureConfig) -> np.ndarray | None:
    """Robust z-score of EEG high-band DE mapped to [0, 1] (see :func:`extract_features`), or None."""
    if config.hf_z_threshold is None or Modality.EEG not in names or values.shape[0] < 8:
        return None
    eeg, col = hf_column(tokens, config)
    de = np.where(invalid[:, eeg, col], np.nan, values[:, eeg, col].astype(np.float64))  # (T, C_eeg)
    return hf_score_from_de(de, config)


def hf_column(tokens, config: FeatureConfig) -> tuple[list[int], int]:
    """The EEG tokens and the feature column (DE of the highest band) of the high-band score."""
    eeg = [n for n, t in enumerate(tokens) if t.modality == Modality.EEG]
    col = max(range(len(config.all_bands)), key=lambda b: config.all_bands[b][1])  # DE of the highest band
    return eeg, col


def hf_score_from_de(de: np.ndarray, config: FeatureConfig) -> np.ndarray | None:
    """The high-band score of :func:`_hf_score` from the (T, C_eeg) float64 DE column (NaN where invalid)."""
    if config.hf_z_threshold is None or de.shape[0] < 8 or de.shape[1] == 0:
        return None
    ok = ~np.isnan(de).all(axis=1)
    if ok.sum() < 8:
        return None
    hf = np.full(de.shape[0], np.nan)
    hf[ok] = np.nanmedian(de[ok], axis=1)
    med = np.nanmedian(hf)
    mad = 1.4826 * np.nanmedian(np.abs(hf - med))
    if not mad > 0:
        return None
    z = (hf - med) / mad
    thr = config.hf_z_threshold
    return np.nan_to_num(np.clip((z - thr) / thr, 0.0, 1.0))
