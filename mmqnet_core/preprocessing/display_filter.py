"""Display filters: zero-phase high-pass, low-pass and notch of the page being looked at, for reading only.

A display filter is what a reader sets in the viewer (EDFbrowser's and Persyst's "filters"): it changes how a
page is drawn, never the signals the model reads (those are the *cleaned* signals of
:func:`mmqnet_core.preprocessing.preprocess`). Each page is filtered on its own, forwards and backwards
(``scipy.signal.sosfiltfilt``'s values, zero phase: no shift of spikes or onsets; computed without its copies, see
:func:`_sosfiltfilt`), after reading :func:`padding_s` seconds
of signal on both sides so that the filter's start-up transient falls outside the page.

At a recording's first and last seconds no padding can be read. scipy's odd extension (a few samples mirrored
about the end sample) then bent the trace: its level is set by the last sample's noise, and a 0.5-Hz high-pass
turned that into a swing over the last ~0.2-0.5 s (1-4 x the trace's RMS off what the same filter gives where the
signal goes on; mne's whole-signal filter, a long odd extension, 1-2 x). There each row is extended by a linear
prediction (:func:`predict_rows`: an autoregressive model fitted to its last 2 s, Yule-Walker, stable) over the
filter's padding, and the padded row is filtered as in the middle: 0.02-0.36 x (median over four signals;
tests/core/preprocessing/test_display_filter_ends.py: high-pass, low-pass, notch and all three, 256-1000 Hz, both
ends). Inside a recording (padding read on both sides) nothing is predicted and the values are as before.

Butterworth second-order sections are used instead of MNE's long FIR filters: a 0.5 Hz FIR high-pass at 512 Hz
has ~3,400 taps and would need as much padding and time for every page step; a 2nd-order IIR run both ways
settles within a few time constants (:func:`padding_s`) and costs a few ms per page.
"""

from __future__ import annotations

import functools
import math
import threading
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ConfigError

#: Butterworth orders (each run twice by filtfilt, so the effective order is doubled).
HIGHPASS_ORDER = 2
LOWPASS_ORDER = 4
#: Quality factor of the notch (bandwidth = notch_hz / NOTCH_Q).
NOTCH_Q = 30.0
#: Longest padding read on each side of a page, s.
MAX_PADDING_S = 30.0
#: At a recording's ends: order of the autoregressive model that predicts the missing padding, and the signal it is
#: fitted to, s (orders 16-64 over 2-8 s were tried: 32 over 2 s was as good as any at 256-1000 Hz).
PREDICT_ORDER = 32
PREDICT_FIT_S = 2.0


@dataclass(frozen=True)
class DisplayFilter:
    """High-pass, low-pass and notch frequencies of a display filter, Hz (``None``: that part is off)."""

    highpass_hz: float | None = None  # e.g. 0.5 for EEG
    lowpass_hz: float | None = None  # e.g. 35 for EEG
    notch_hz: float | None = None  # 50 or 60 (power line)

    def __post_init__(self) -> None:
        for name in ("highpass_hz", "lowpass_hz", "notch_hz"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ConfigError(f"Invalid value for {name!r}: a frequency > 0 Hz or None (off), got {v!r}.")
        if self.highpass_hz and self.lowpass_hz and self.highpass_hz >= self.lowpass_hz:
            raise ConfigError(f"Invalid display filter: high-pass {self.highpass_hz:g} Hz must be below low-pass "
                              f"{self.lowpass_hz:g} Hz.")

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.highpass_hz, self.lowpass_hz, self.notch_hz))

    def describe(self) -> str:
        """E.g. "0.5-35 Hz, notch 50 Hz", "HP 0.5 Hz", "LP 35 Hz" ("off" when nothing is set)."""
        parts = []
        if self.highpass_hz and self.lowpass_hz:
            parts.append(f"{self.highpass_hz:g}-{self.lowpass_hz:g} Hz")
        elif self.highpass_hz:
            parts.append(f"HP {self.highpass_hz:g} Hz")
        elif self.lowpass_hz:
            parts.append(f"LP {self.lowpass_hz:g} Hz")
        if self.notch_hz:
            parts.append(f"notch {self.notch_hz:g} Hz")
        return ", ".join(parts) if parts else "off"

    def padding_s(self) -> float:
        """Signal to read on each side of a page so that the transient settles outside it, s.

        A 2nd-order Butterworth high-pass at f Hz settles with the time constant 1 / (0.707 * 2 pi f) (0.45 s at
        0.5 Hz): 1.5 / f (3 s at 0.5 Hz) is more than six of them, leaving < 0.2 % of a step. A notch (Q = 30)
        rings for about Q / (pi f) s: at least 1 s; a low-pass 3 / f. At most :data:`MAX_PADDING_S`.
        """
        pad = 0.0
        if self.highpass_hz:
            pad = max(pad, 1.5 / self.highpass_hz)
        if self.notch_hz:
            pad = max(pad, 1.0, NOTCH_Q / (math.pi * self.notch_hz))
        if self.lowpass_hz:
            pad = max(pad, 3.0 / self.lowpass_hz)
        return min(pad, MAX_PADDING_S)


@functools.lru_cache(maxsize=64)
def _sos(display_filter: DisplayFilter, sfreq: float) -> np.ndarray | None:
    """Second-order sections of the filter at ``sfreq``; parts at or above Nyquist are left out."""
    from .._scipy_signal import signal  # here, not at the top: the browser imports this module at start-up

    nyq = sfreq / 2.0
    sections = []
    if display_filter.highpass_hz and display_filter.highpass_hz < nyq * 0.95:
        sections.append(signal.butter(HIGHPASS_ORDER, display_filter.highpass_hz, "highpass", fs=sfreq,
                                      output="sos"))
    if display_filter.lowpass_hz and display_filter.lowpass_hz < nyq * 0.95:
        sections.append(signal.butter(LOWPASS_ORDER, display_filter.lowpass_hz, "lowpass", fs=sfreq, output="sos"))
    if display_filter.notch_hz and display_filter.notch_hz < nyq * 0.95:
        b, a = signal.iirnotch(display_filter.notch_hz, NOTCH_Q, fs=sfreq)
        sections.append(signal.tf2sos(b, a))
    return np.vstack(sections) if sections else None


def filter_rows(data: np.ndarray, sfreq: float, filters: Sequence[DisplayFilter | None], *,
                ends: tuple[bool, bool] = (False, False)) -> np.ndarray:
    """Zero-phase filter each row of ``data`` with its own display filter (``None``: left as it is).

    Parameters
    ----------
    data : np.ndarray, shape (n_rows, n_times)
        Signals in any unit (the filter is linear); NaN marks missing samples. A row with missing samples is
        filtered with them set to the row's mean and NaN put back afterwards; an all-NaN row stays NaN.
    sfreq : float
        Sampling rate, Hz.
    filters : sequence of DisplayFilter or None, one per row
    ends : (bool, bool)
        Whether ``data`` starts at the recording's first sample / ends at its last one (less padding than
        :meth:`DisplayFilter.padding_s` could be read there): that side is extended by :func:`predict_rows` over
        the filter's padding before filtering. ``False``: the data hold real padding on that side (scipy's short
        odd extension is only a guard there).

    Returns
    -------
    np.ndarray, shape (n_rows, n_times), float64
        A new array (``data`` is not modified).
    """
    if len(filters) != data.shape[0]:
        raise ValueError(f"filter_rows needs one filter per row: {data.shape[0]} rows, {len(filters)} filters")
    out = np.array(data, dtype=np.float64, copy=True)
    n_times = out.shape[1]
    groups: dict[DisplayFilter, list[int]] = {}
    for i, f in enumerate(filters):
        if f is not None and f.active:
            groups.setdefault(f, []).append(i)
    for f, rows in groups.items():
        sos = _sos(f, float(sfreq))
        if sos is None or n_times < 2:
            continue
        # Rows next to one another (a montage's EEG rows) are a view, not a copy (the page step's filter work:
        # -15 %, the same values); the missing samples are looked for in one pass.
        where = slice(rows[0], rows[-1] + 1) if rows[-1] - rows[0] == len(rows) - 1 else rows
        block = out[where]
        any_missing = not bool(np.isfinite(block).all())
        if any_missing:
            missing = ~np.isfinite(block)
            with warnings.catch_warnings():  # an all-NaN row has no mean: it stays NaN below
                warnings.simplefilter("ignore", RuntimeWarning)
                fill = np.nan_to_num(np.nanmean(block, axis=1, keepdims=True))
            block = np.where(missing, fill, block)
        padlen = min(n_times - 1, 3 * (2 * len(sos) + 1))
        if ends[0] or ends[1]:  # a recording's end: the padding that cannot be read, predicted
            n_pad = max(1, int(round(f.padding_s() * sfreq)))
            tones = [f.notch_hz] if f.notch_hz else []
            left = predict_rows(block[:, ::-1], n_pad, sfreq, tones)[:, ::-1] if ends[0] else block[:, :0]
            right = predict_rows(block, n_pad, sfreq, tones) if ends[1] else block[:, :0]
            longer = np.concatenate([left, block, right], axis=1)
            filtered = _sosfiltfilt(sos, longer, 3 * (2 * len(sos) + 1))[:, left.shape[1]:left.shape[1] + n_times]
        else:
            filtered = _sosfiltfilt(sos, block, padlen)
        if any_missing:
            filtered[missing] = np.nan
        out[where] = filtered
    return out


def predict_rows(data: np.ndarray, n_ahead: int, sfreq: float, tones: Sequence[float] = ()) -> np.ndarray:
    """Each row's next ``n_ahead`` samples predicted from its last :data:`PREDICT_FIT_S` seconds.

    The row's last seconds are fitted by least squares with a level, a line and the ``tones``; the level goes on,
    the line's slope goes on fading over :data:`PREDICT_FIT_S` (a drift continues past the end; a noisy slope is
    not carried over a long padding), the tones go on in phase. What is left is fitted by an autoregressive model
    of order :data:`PREDICT_ORDER` (fewer for a short row) by the Yule-Walker equations (biased autocorrelation,
    Levinson's recursion: the model is stable, so its prediction never grows) and run on from the row's last
    samples with no input: an oscillation (alpha) goes on, noise fades out. This stands in for the signal that
    cannot be read beyond a recording's end, so that a filter run over it settles as inside the recording.

    Parameters
    ----------
    data : np.ndarray, shape (n_rows, n_times)
        Finite samples, any unit.
    n_ahead : int
        Samples to predict.
    sfreq : float
        Sampling rate, Hz.
    tones : sequence of float
        Frequencies (Hz) of steady sinusoids, e.g. the power line a notch removes: each is fitted by least squares
        (with the mean) and continued as such; the model predicts the rest.

    Returns
    -------
    np.ndarray, shape (n_rows, n_ahead), float64
    """
    from .._scipy_signal import signal

    data = np.asarray(data, dtype=np.float64)
    n_rows = data.shape[0]
    n = min(data.shape[1], max(1, int(round(PREDICT_FIT_S * sfreq))))
    if n == 0:
        return np.zeros((n_rows, n_ahead))
    y = data[:, data.shape[1] - n:]
    t = np.arange(-n + 1, n_ahead + 1) / sfreq  # the fitted span then the predicted one, s from the last sample
    # the trend: a line over the fitted span, then going on with a slope that fades over PREDICT_FIT_S (a drift
    # goes on past the end, a noisy slope is not carried over a 15-s padding)
    trend = np.where(t > 0, PREDICT_FIT_S * -np.expm1(-t / PREDICT_FIT_S), t)
    basis = [np.ones_like(t), trend]
    for hz in tones:
        if 0 < hz < sfreq / 2 and n >= 4:
            basis += [np.cos(2 * np.pi * hz * t), np.sin(2 * np.pi * hz * t)]
    basis = np.stack(basis)  # (K, n + n_ahead)
    coef = np.linalg.lstsq(basis[:, :n].T, y.T, rcond=None)[0]  # (K, R): level, trend and tones of each row
    y = y - coef.T @ basis[:, :n]
    order = min(PREDICT_ORDER, n // 4)
    out = coef.T @ basis[:, n:]  # (R, n_ahead)
    if order < 1 or n_ahead < 1:
        return out
    size = 1 << int(math.ceil(math.log2(2 * n)))
    spec = np.fft.rfft(y, size, axis=1)
    r = np.fft.irfft(spec * spec.conj(), size, axis=1)[:, :order + 1] / n  # (R, p + 1) biased autocorrelation
    a = np.zeros((n_rows, order + 1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    live = err > 0  # a constant row predicts its mean
    err[~live] = 1.0
    for k in range(1, order + 1):  # Levinson-Durbin, every row at once
        acc = r[:, k] + np.einsum("ij,ij->i", a[:, 1:k], r[:, k - 1:0:-1])
        refl = np.where(live, -acc / err, 0.0)
        a[:, 1:k + 1] += refl[:, None] * np.concatenate([a[:, k - 1:0:-1], np.ones((n_rows, 1))], axis=1)
        err *= 1.0 - refl * refl
        live &= err > 0
        err[~live] = 1.0
    zeros = np.zeros(n_ahead)
    for i in range(n_rows):
        zi = signal.lfiltic([1.0], a[i], y[i, ::-1][:order])
        out[i] += signal.lfilter([1.0], a[i], zeros, zi=zi)[0]
    return out


#: Per thread: the two work arrays of :func:`_sosfiltfilt`, kept between calls (flat float64).
_work = threading.local()
#: Work arrays larger than this are not kept, items (8 Mi float64 = 64 MiB).
_WORK_KEPT = 8 * 2**20


def _work_array(name: str, shape: tuple[int, int]) -> np.ndarray:
    """A C-contiguous float64 array of ``shape`` for this thread's use until its next call (kept up to
    :data:`_WORK_KEPT` items: a fresh array per page costs page faults, which on a virtual machine cost more than
    the filtering)."""
    size = shape[0] * shape[1]
    if size > _WORK_KEPT:
        return np.empty(shape)
    buf = getattr(_work, name, None)
    if buf is None or buf.size < size:
        buf = np.empty(max(size, 2**16))
        setattr(_work, name, buf)
    return buf[:size].reshape(shape)


@functools.lru_cache(maxsize=64)
def _zi(sos_bytes: bytes, n_sections: int) -> np.ndarray:
    """``scipy.signal.sosfilt_zi`` of the sections whose float64 bytes are ``sos_bytes``."""
    from .._scipy_signal import signal

    return signal.sosfilt_zi(np.frombuffer(sos_bytes).reshape(n_sections, 6))


def _sosfiltfilt(sos: np.ndarray, x: np.ndarray, padlen: int) -> np.ndarray:
    """``scipy.signal.sosfiltfilt(sos, x, axis=1, padlen=padlen)`` (odd padding), the same values, without its
    copies: the padded signal is made once in a work array kept for this thread, each pass filters in place.

    scipy's function makes five arrays of the padded size per call (the padding's concatenation, a copy in each
    ``sosfilt``, the reversed signal, the result): with the page faults of fresh memory they cost ~2x the
    filtering itself at the browser's page step. The passes are scipy's own compiled ``_sosfilt`` (the function
    ``sosfilt`` calls after copying its input) on the same numbers in the same order, hence the same values
    (tested against ``sosfiltfilt``); where that private function is missing (another scipy), ``sosfiltfilt``.
    Written here because no public scipy function filters in place.

    Returns a view of a work array (valid until this thread's next call) of shape ``x.shape``.
    """
    from .._scipy_signal import signal

    try:
        from scipy.signal._sosfilt import _sosfilt
    except ImportError:  # pragma: no cover - scipy moved it: its public (copying) function, same values
        return signal.sosfiltfilt(sos, x, axis=1, padlen=padlen)
    sos = np.ascontiguousarray(sos, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    n_rows, n = x.shape
    edge = int(padlen)
    if n <= edge:
        raise ValueError(f"The length of the input vector x must be greater than padlen, which is {edge}.")
    zi = _zi(sos.tobytes(), sos.shape[0])  # (n_sections, 2)
    ext = _work_array("ext", (n_rows, n + 2 * edge))
    # scipy's odd extension, term by term: 2 * end - mirrored samples
    ext[:, edge:edge + n] = x
    if edge > 0:
        np.subtract(2 * x[:, 0:1], x[:, edge:0:-1], out=ext[:, :edge])
        np.subtract(2 * x[:, -1:], x[:, -2:-(edge + 2):-1], out=ext[:, edge + n:])
    # forward, from the steady state of the first sample (zi * x0, per row: (n_rows, n_sections, 2))
    try:
        _sosfilt(sos, ext, zi[None, :, :] * ext[:, 0:1, None])
    except (TypeError, ValueError):  # a scipy whose private pass takes other arguments: its public function
        return signal.sosfiltfilt(sos, x, axis=1, padlen=padlen)
    back = _work_array("back", ext.shape)
    np.copyto(back, ext[:, ::-1])  # backward: the forward output reversed, from the steady state of its end
    _sosfilt(sos, back, zi[None, :, :] * back[:, 0:1, None])
    out = back[:, ::-1]
    return out[:, edge:edge + n] if edge > 0 else out


def padded_span(start_s: float, stop_s: float, pad_s: float, duration_s: float) -> tuple[float, float]:
    """The span to read for a page ``start_s``-``stop_s`` with ``pad_s`` on each side, within the recording, s."""
    return max(0.0, start_s - pad_s), min(duration_s, stop_s + pad_s)
