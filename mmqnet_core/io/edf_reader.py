"""Fast reading of sample spans of continuous EDF/BDF files, decoded and calibrated chunk by chunk.

mne reads a span by copying whole record chunks, then calibrates the (n_channels, n_times) float64 block in
three passes over memory (x cal, + offset, x unit gain). For an hour of 40 channels at 512 Hz that is ~600 MB
written three times, ~2-3 s on two cores. Here the records of the span are read in chunks of 64 kSamples
per channel (one positioned read per chunk into a buffer kept per thread, from the file kept open while the
reader lives); the picked channels of a chunk are decoded a group at a time (24-bit BDF: one overlapping 4-byte
load per sample, masked and sign-extended; 16-bit EDF: a little-endian int16 view) and calibrated while they are
still in the CPU cache, so the output array is written once. Chunks are split over two threads (numpy
and file reads release the GIL). Only the picked channels and the records holding [start, stop) are touched.

The calibration numbers (cal, offset, unit gain, stim masking) are the ones mne computed when it opened the
file (``raw._raw_extras``), applied in mne's own order of operations, so the samples are bit-identical to
``raw.get_data`` (tests/core/io/test_edf_reader.py). Anything mne would treat specially (a preloaded or
in-memory file, projectors) stays with mne: :meth:`EdfSpanReader.from_raw` returns None and
:meth:`Recording.get_data` falls back to ``raw.get_data``.

Channels stored at a lower rate than the highest (a 4-Hz skin conductance, a 1-Hz temperature beside 512-Hz EEG in
a file too large to preload, :data:`mmqnet_core.io.edf.PRELOAD_MIXED_RATE_BYTES`) are read here too, at their own
rate from the records around the span, and brought to the highest rate by linear interpolation of the file's
samples (a trigger channel: each sample held): a sample's value does not depend on where the span starts, so pages
and cleaning pieces meet without a seam. Channels above 1/:data:`BANDLIMITED_RATIO` of the highest rate (a 256-Hz
EEG beside 512 Hz) are resampled as the whole-file path does, on the span with context read around it. mne resampled each span read alone with an FFT (its issue #10635), which
rang at every span's ends: 0.42 uS on a drifting GSR at the browser's page ends. (A whole preloaded file is
resampled by :mod:`mmqnet_core.io.mixed_rates`, an FFT with its ends matched, within 0.006 uS of this.)

Written by hand because no well-kept library reads a span of picked channels of a BDF without decoding the whole
record (pyedflib reads one channel per call, record by record; mne is what this replaces).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from ..check import safe_text
from ..errors import FileChangedError
from .mixed_rates import decode_samples, resample_end_matched
from .tal import record_onsets

__all__ = ["EdfSpanReader", "first_record_onset", "with_exact_start"]

#: Samples per channel decoded in one step (fits the L2 cache as int32 + float64 with room to spare).
_CHUNK_SAMPLES = 32768
#: Threads decoding channels in parallel (the target machine has 2 cores).
_THREADS = 2
_STIM_MASK = 2**17 - 1  # what mne keeps of a stim channel's value
#: A slower channel stored at more than 1/BANDLIMITED_RATIO of the highest rate (EEG, EMG, ECG at 128-256 Hz
#: beside 512 Hz) carries content up to its own Nyquist frequency: it is resampled band-limited
#: (:meth:`EdfSpanReader._bandlimited`); slower ones (skin conductance, temperature, a respiration belt: content far
#: below their Nyquist, levels that drift) are interpolated linearly, which the whole-file path matches within
#: 0.006 uS and which needs no context.
BANDLIMITED_RATIO = 8
#: Own samples read on both sides of a band-limited span (its FFT's ends fall there, not on the span).
BANDLIMITED_CONTEXT = 256
#: Samples decoded together (channels x samples of a chunk): ~1 MB of integers, within the CPU cache.
_GROUP_SAMPLES = 2**18
#: Positioned read into a buffer (Linux, macOS); None (Windows): a seek and a read under a lock.
_PREADV = getattr(os, "preadv", None)


class EdfSpanReader:
    """Read [start, stop) sample spans of picked channels of one continuous EDF/BDF file, at its highest rate.

    Build it with :meth:`from_raw`; call it like ``reader(picks, start, stop)``.
    """

    def __init__(self, path: Path, *, bdf: bool, data_offset: int, n_records: int, samples_per_record: int,
                 file_index: np.ndarray, signal_offsets: np.ndarray, record_samples: int,
                 cal: np.ndarray, offsets: np.ndarray, gains: np.ndarray, cals: np.ndarray,
                 stim: np.ndarray, channel_samples: np.ndarray | None = None) -> None:
        self.path = Path(path)
        self.bdf = bdf
        self.width = 3 if bdf else 2
        self.data_offset = int(data_offset)
        self.n_records = int(n_records)
        self.spr = int(samples_per_record)  # samples per record of the fastest channels (the rate read out)
        # samples per record of each raw channel (fewer: a slower channel, interpolated to the rate read out)
        self.channel_samples = (np.full(len(file_index), self.spr, dtype=np.int64) if channel_samples is None
                                else np.asarray(channel_samples, dtype=np.int64))
        self.file_index = file_index  # raw channel -> signal index in the record layout
        self.signal_offsets = signal_offsets  # sample offset of each signal inside a record
        self.record_samples = int(record_samples)  # samples of all signals in one record
        self.cal, self.offsets, self.gains, self.cals = cal, offsets, gains, cals
        self.stim = stim  # (n_raw_channels,) bool
        self._init_handles()

    # --- construction ---------------------------------------------------------------------------------------
    @classmethod
    def from_raw(cls, raw) -> "EdfSpanReader | None":
        """A reader for ``raw`` (an mne RawEDF/RawBDF opened with ``preload=False``), or None when mne must read.

        None for: preloaded data, file-like sources, several files, projectors, or an mne version whose internal
        layout is not the one this was written against.
        """
        try:
            if getattr(raw, "preload", True) or len(raw.filenames) != 1 or raw.info.get("projs"):
                return None
            ex = raw._raw_extras[0]
            if ex.get("blob") is not None or ex.get("subtype") not in ("bdf", "edf"):
                return None
            n_samps = np.asarray(ex["n_samps"], dtype=np.int64)
            sel = np.asarray(ex["sel"], dtype=np.int64)
            spr = int(ex["max_samp"])
            if sel.size != len(raw.ch_names) or not np.all((n_samps[sel] >= 1) & (n_samps[sel] <= spr)):
                return None
            if int(ex["dtype_byte"]) != (3 if ex["subtype"] == "bdf" else 2):
                return None
            path = Path(raw.filenames[0])
            n_records = int(ex["n_records"])
            record_samples = int(n_samps.sum())
            width = int(ex["dtype_byte"])
            if path.stat().st_size < int(ex["data_offset"]) + n_records * record_samples * width:
                return None  # fewer complete records than mne expects: let mne say so
            if raw.n_times != n_records * spr:
                return None
            stim = np.zeros(len(raw.ch_names), dtype=bool)
            stim[np.asarray(ex.get("stim_channel_idxs", []), dtype=np.int64)] = True
            return cls(
                path, bdf=ex["subtype"] == "bdf", data_offset=int(ex["data_offset"]), n_records=n_records,
                samples_per_record=spr, file_index=sel,
                signal_offsets=np.concatenate([[0], np.cumsum(n_samps)[:-1]]).astype(np.int64),
                record_samples=record_samples,
                cal=np.asarray(ex["cal"], dtype=np.float64), offsets=np.asarray(ex["offsets"], dtype=np.float64),
                gains=np.asarray(ex["units"], dtype=np.float64), cals=np.asarray(raw._cals, dtype=np.float64),
                stim=stim, channel_samples=n_samps[sel],
            )
        except (AttributeError, KeyError, TypeError, ValueError, IndexError, OSError):
            return None

    # --- the open file ---------------------------------------------------------------------------------------
    def _file(self):
        """The file, opened once and kept open while the reader lives (a browser reads a page at every step;
        reopening the file for each took ~0.1-0.3 ms and a fresh buffer). Closed by :meth:`close`, or when the
        reader (with its recording) is garbage-collected."""
        fh = self._fh
        if fh is None:
            with self._open_lock:
                fh = self._fh
                if fh is None:
                    try:
                        fh = open(self.path, "rb", buffering=0)  # noqa: SIM115 (kept open; closed below)
                    except OSError as exc:  # moved, deleted or made unreadable since it was opened
                        raise self._changed(f"it cannot be opened again ({exc.strerror or exc})") from None
                    self._closer = weakref.finalize(self, fh.close)
                    self._fh = fh
        return fh

    def _changed(self, what: str) -> FileChangedError:
        """The error for a file changed on disk after it was opened (truncated, replaced, moved or deleted by
        another program): the data shown so far came from the file as it was; nothing here is written."""
        return FileChangedError(f"Cannot read {safe_text(self.path.name)}: {what}; the file was changed, truncated or "
                              "moved on disk since it was opened. Open it again once the program writing it has "
                              "finished (a recording must not be written while it is open).")

    def _read_at(self, view: memoryview, offset: int) -> int:
        """Read ``len(view)`` bytes at ``offset`` into ``view`` (positioned: safe from several threads at once);
        returns the number of bytes read."""
        fh = self._file()
        if _PREADV is not None:
            done = 0
            while done < len(view):  # a positioned read may return less than asked (a signal, a large read)
                n = _PREADV(fh.fileno(), [view[done:]], offset + done)
                if n <= 0:
                    break
                done += n
            return done
        with self._seek_lock:  # no positioned read here (Windows): one thread at a time moves the position
            fh.seek(offset)
            return fh.readinto(view) or 0

    def close(self) -> None:
        """Close the file (a later read opens it again)."""
        with self._open_lock:
            fh, self._fh = self._fh, None
            if self._closer is not None:
                self._closer.detach()
                self._closer = None
        if fh is not None:
            fh.close()

    def __getstate__(self) -> dict:  # an open file does not travel to another process: it is reopened there
        state = dict(self.__dict__)
        for key in ("_fh", "_closer", "_open_lock", "_seek_lock", "_buffers"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._init_handles()

    def _init_handles(self) -> None:
        self._fh = None
        self._closer: weakref.finalize | None = None
        self._open_lock = threading.Lock()
        self._seek_lock = threading.Lock()
        self._buffers = threading.local()  # per thread: the record bytes, channel bytes and integer samples

    def _buffer(self, name: str, size: int, dtype) -> np.ndarray:
        """A buffer of at least ``size`` items of ``dtype`` kept for this thread (grown when too small): a fresh
        array per read costs page faults, which on a virtual machine can exceed the decoding itself."""
        buf = getattr(self._buffers, name, None)
        if buf is None or buf.size < size:
            buf = np.empty(size, dtype=dtype)
            setattr(self._buffers, name, buf)
        return buf[:size]

    # --- reading --------------------------------------------------------------------------------------------
    def __call__(self, picks: Sequence[int], start: int, stop: int, *, out: np.ndarray | None = None) -> np.ndarray:
        """Samples ``start`` to ``stop`` (exclusive) of raw channels ``picks``, float64 (n_picks, stop - start),
        in the units mne returns (volts for electrical channels); never NaN or infinite (integer samples).

        ``out`` (optional): a float64 array of that shape whose rows are contiguous (C-contiguous, or a block of
        columns of a larger C-contiguous array) to fill and return, e.g. one buffer reused for every chunk of a
        streamed recording (a fresh array per chunk costs page faults, which on a virtual machine can exceed the
        decoding itself).
        """
        picks = [int(p) for p in picks]
        start, stop = max(0, int(start)), min(int(stop), self.n_records * self.spr)
        shape = (len(picks), max(0, stop - start))
        if out is None:
            out = np.empty(shape, dtype=np.float64)
        elif (not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != np.float64
              or (out.size and out.strides[1] != out.itemsize) or not out.flags.writeable):
            what = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
            raise ValueError(f"out must be a writeable float64 array of shape {shape} with contiguous rows; "
                             f"got {what}.")
        if out.size == 0:
            return out
        slow = [i for i, ch in enumerate(picks) if self.channel_samples[ch] < self.spr]
        if slow:  # slower channels: interpolated from their own samples; the others as below
            fast = [i for i in range(len(picks)) if self.channel_samples[picks[i]] == self.spr]
            if fast and fast == list(range(fast[0], fast[-1] + 1)):  # side by side: decoded in place
                self([picks[i] for i in fast], start, stop, out=out[fast[0]:fast[-1] + 1])
            elif fast:
                rows = self([picks[i] for i in fast], start, stop)
                for k, i in enumerate(fast):
                    out[i] = rows[k]
            for i in slow:
                out[i] = self._slow_channel(picks[i], start, stop)
            return out
        r0, r1 = start // self.spr, (stop - 1) // self.spr + 1
        step = max(1, _CHUNK_SAMPLES // self.spr)  # records per chunk
        chunks = [(ra, min(r1, ra + step)) for ra in range(r0, r1, step)]
        if len(chunks) > 1 and out.size > 4 * _CHUNK_SAMPLES:
            with ThreadPoolExecutor(_THREADS) as pool:  # numpy and file reads release the GIL
                list(pool.map(lambda k: self._read_chunks(out, picks, chunks[k::_THREADS], start, stop),
                              range(_THREADS)))
        else:
            self._read_chunks(out, picks, chunks, start, stop)
        return out

    def _slow_channel(self, ch: int, start: int, stop: int) -> np.ndarray:
        """Samples ``start`` to ``stop`` (at the highest rate) of raw channel ``ch``, stored at a lower rate: linear
        interpolation of its own samples (a trigger channel: each sample held), float64 (stop - start,).

        Sample ``m`` at the highest rate lies at ``m * s / S`` of the channel's own samples (``s`` and ``S``
        samples per record), as in :mod:`mmqnet_core.io.mixed_rates`; after the channel's last sample its value
        is held (numpy's ``interp``)."""
        s, big = int(self.channel_samples[ch]), self.spr
        n_own = self.n_records * s
        pos = np.arange(start, stop, dtype=np.float64) * (s / big)  # positions among the channel's own samples
        j0 = int(pos[0])
        j1 = min(n_own, int(pos[-1]) + 2)  # the samples on both sides of every position
        r0, r1 = j0 // s, (j1 - 1) // s + 1
        own = self._own_samples(ch, r0, r1)[j0 - r0 * s:j1 - r0 * s]  # (j1 - j0,)
        if self.stim[ch]:
            return own[np.minimum(pos.astype(np.int64) - j0, own.size - 1)]
        if s * BANDLIMITED_RATIO > big:
            return self._bandlimited(ch, start, stop)
        return np.interp(pos, np.arange(j0, j1, dtype=np.float64), own)

    def _bandlimited(self, ch: int, start: int, stop: int) -> np.ndarray:
        """Samples ``start`` to ``stop`` of raw channel ``ch`` (stored at more than 1/:data:`BANDLIMITED_RATIO` of
        the highest rate) resampled as the whole-file path does (:mod:`mmqnet_core.io.mixed_rates`: mne's FFT
        resampler on the channel's own samples with the line through their ends taken out and put back), here on
        the span with :data:`BANDLIMITED_CONTEXT` own samples read on both sides, so that a sample's value does not
        depend on where the span starts beyond what the context leaves (linear interpolation lost up to 9 % at
        35 Hz between the samples of a 256-Hz EEG channel beside 512-Hz ones)."""
        from math import gcd

        s, big = int(self.channel_samples[ch]), self.spr
        n_own = self.n_records * s
        unit = s // gcd(s, big)  # own samples per whole number of samples at the highest rate
        lo = start * s // big - BANDLIMITED_CONTEXT
        hi = -(-stop * s // big) + BANDLIMITED_CONTEXT
        j0 = max(0, lo // unit * unit)
        j1 = min(n_own, -(-hi // unit) * unit)
        r0, r1 = j0 // s, (j1 - 1) // s + 1
        x = self._own_samples(ch, r0, r1)[j0 - r0 * s:j1 - r0 * s]
        y = resample_end_matched(x, x.size * big // s)
        a = start - j0 * big // s
        return y[a:a + (stop - start)]

    def _own_samples(self, ch: int, r0: int, r1: int) -> np.ndarray:
        """The calibrated samples of raw channel ``ch`` in records ``r0`` to ``r1`` (exclusive), at its own rate;
        mne's order of operations (x cal, + offset, x unit gain, stim masking, x the channel's cal)."""
        s, w = int(self.channel_samples[ch]), self.width
        rec_bytes = self.record_samples * w
        nbytes = (r1 - r0) * rec_bytes
        buf = np.empty(nbytes, dtype=np.uint8)  # a few records of a slow channel's page: small
        if self._read_at(memoryview(buf), self.data_offset + r0 * rec_bytes) != nbytes:
            raise self._changed(f"it holds fewer than the {self.n_records} data records it held when opened")
        b0 = int(self.signal_offsets[self.file_index[ch]]) * w
        x = decode_samples(buf.reshape(r1 - r0, rec_bytes)[:, b0:b0 + s * w].reshape(-1), w)
        y = x * self.cal[ch]
        y += self.offsets[ch]
        y *= self.gains[ch]
        if self.stim[ch]:
            y = np.bitwise_and(y.astype(int), _STIM_MASK).astype(np.float64)
        if self.cals[ch] != 1.0:
            y *= self.cals[ch]
        return y

    def _read_chunks(self, out: np.ndarray, picks: list[int], chunks: list[tuple[int, int]], start: int,
                     stop: int) -> None:
        """Fill ``out`` for the record ranges ``chunks``: each range is read with one positioned read into a
        buffer kept for this thread (a memory map would fault every page of the file in, which costs more than
        the copy on a virtual machine), then the picked channels are decoded and calibrated from it, a group of
        channels at a time (whole-array operations on all their samples; a group's integers and output stay in
        the CPU cache): the same operations per sample as channel by channel, hence the same values."""
        spr, w = self.spr, self.width
        rec_bytes = self.record_samples * w
        step = max(b - a for a, b in chunks)
        buf = self._buffer("records", step * rec_bytes, np.uint8)
        cols = np.array([int(self.signal_offsets[self.file_index[ch]]) * w for ch in picks], dtype=np.int64)
        picks_a = np.asarray(picks, dtype=np.int64)
        group = max(1, min(len(picks), _GROUP_SAMPLES // max(1, step * spr)))
        for ra, rb in chunks:
            nbytes = (rb - ra) * rec_bytes
            if self._read_at(memoryview(buf)[:nbytes], self.data_offset + ra * rec_bytes) != nbytes:
                try:
                    held = max(0, (os.fstat(self._file().fileno()).st_size - self.data_offset) // rec_bytes)
                except OSError:
                    held = ra
                raise self._changed(f"it now holds {held} of the {self.n_records} data records it held when opened")
            recs = buf[:nbytes].reshape(rb - ra, rec_bytes)
            n = (rb - ra) * spr
            lo = max(start - ra * spr, 0)  # the part of this chunk inside [start, stop)
            hi = min(stop - ra * spr, n)
            a, b = ra * spr + lo - start, ra * spr + hi - start  # where that part goes in ``out``
            for g0 in range(0, len(picks), group):
                g1 = min(len(picks), g0 + group)
                self._decode(recs, cols[g0:g1], picks_a[g0:g1], n, lo, hi, out[g0:g1, a:b])

    def _decode(self, recs: np.ndarray, cols: np.ndarray, chans: np.ndarray, n: int, lo: int, hi: int,
                dst: np.ndarray) -> None:
        """Decode samples ``lo:hi`` of the ``n`` per channel in records ``recs`` of raw channels ``chans`` (whose
        bytes start at ``cols`` in a record) into ``dst`` (len(chans), hi - lo), calibrated."""
        spr, w = self.spr, self.width
        g = len(chans)
        n_rec = recs.shape[0]
        row = -(-(n * w + 1) // 4) * 4  # a channel's bytes, and at least one byte more (see below), 4-aligned
        raw = self._buffer("channels", g * row, np.uint8).reshape(g, row)
        for i, b0 in enumerate(cols.tolist()):  # each channel's bytes, one after the other
            raw[i, :n * w].reshape(n_rec, spr * w)[:] = recs[:, b0:b0 + spr * w]
        x = self._buffer("ints", g * n, np.int32).reshape(g, n)
        if self.bdf:
            # each 3-byte sample as the low bytes of an overlapping little-endian 4-byte load (the top byte belongs
            # to the next sample, or to the spare byte after a channel's last one: masked), sign-extended from bit 23
            packed = np.ndarray((g, n), dtype="<u4", buffer=raw, strides=(row, 3))
            np.bitwise_and(packed, 0xFFFFFF, out=x)
            x <<= 8
            x >>= 8
        else:
            x[:] = np.ndarray((g, n), dtype="<i2", buffer=raw, strides=(row, 2))
        # mne's order of operations, so that the values are bit-identical: x cal, + offset, x unit gain
        np.multiply(x[:, lo:hi], self.cal[chans][:, None], out=dst)
        dst += self.offsets[chans][:, None]
        dst *= self.gains[chans][:, None]
        for i in np.flatnonzero(self.stim[chans]).tolist():
            dst[i] = np.bitwise_and(dst[i].astype(int), _STIM_MASK)
        cals = self.cals[chans]
        for i in np.flatnonzero(cals != 1.0).tolist():
            dst[i] *= cals[i]


def first_record_onset(header) -> float:
    """Onset of the first data record after the header's start time, s (0 for plain EDF/BDF or when unreadable).

    An EDF+/BDF+ file's start time has whole seconds only; the first TAL of each data record's first annotation
    signal says when that record starts ("+0.3945312": 0.3945312 s after the header's time). mne subtracts that
    onset from the annotations but keeps the header's whole second as ``meas_date``, so a clock-time axis and an
    export were early by up to a second. Read here by hand: mne does not expose it, and pyedflib reports it ten
    times too small (``getStartdatetime`` divides edflib's 100-ns units by 100 to get microseconds).

    Parameters
    ----------
    header : mmqnet_core.io.edf_header.EdfHeader
        The checked header of the file.

    Returns
    -------
    float
        Seconds, in [0, 1) for a well-formed file; 0.0 when the file has no annotation signal, no complete record,
        or a first TAL that is not a time-keeping one (the file is then read as its header says).
    """
    if not header.annotation_indices or header.n_records < 1 or not header.variant:
        return 0.0
    onsets = record_onsets(header, 0, 1, head_bytes=256)  # the time-keeping TAL comes first and is short
    if onsets is None:
        return 0.0
    onset = float(onsets[0])
    # A first record that starts later than a day, or before the start time, is not a sub-second offset: a
    # file written that way is read as its header says rather than moved by a damaged field.
    return onset if 0.0 < onset < 86400.0 else 0.0


def with_exact_start(raw, header) -> float:
    """Move ``raw``'s ``meas_date`` to the exact time of its first sample (header time + first record's onset).

    The annotations keep their onsets relative to the first sample (mne already made them so), so they stay at
    the same samples and their clock times become exact too.

    Returns
    -------
    float
        The onset added, s (0.0 when nothing was changed).
    """
    onset = first_record_onset(header)
    meas = raw.info.get("meas_date")
    if onset <= 0.0 or meas is None:
        return 0.0
    raw.set_meas_date(meas + dt.timedelta(seconds=onset))
    return onset
