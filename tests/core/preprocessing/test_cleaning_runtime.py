"""Run-time behaviour of the cleaning that is not about values: memory advice, cancel inside the fit."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mmqnet_core.preprocessing.pipeline import small_pages

_multiarray = getattr(getattr(np, "_core", None), "multiarray", None)
_setter = getattr(_multiarray, "_set_madvise_hugepage", None)


@pytest.mark.skipif(_setter is None, reason="this numpy has no huge-page switch")
@pytest.mark.parametrize("before", [True, False])
def test_small_pages_turns_the_advice_off_and_restores_it(before):
    old = _setter(before)
    try:
        with small_pages():
            with small_pages():  # re-entrant
                assert _setter(False) is False  # off inside (the call returns the setting it replaces)
            assert _setter(False) is False  # still off: the outer block is still running
        assert _setter(before) is before  # restored on leaving the outermost block
    finally:
        _setter(old)


@pytest.mark.skipif(_setter is None, reason="this numpy has no huge-page switch")
def test_small_pages_restores_after_the_last_of_two_threads():
    old = _setter(True)
    inside, leave = threading.Event(), threading.Event()

    def other():
        with small_pages():
            inside.set()
            leave.wait(5)

    try:
        t = threading.Thread(target=other)
        t.start()
        inside.wait(5)
        with small_pages():
            pass
        assert _setter(False) is False  # the other thread is still inside: still off
        leave.set()
        t.join(5)
        assert _setter(True) is True  # the last one out restored it
    finally:
        leave.set()
        _setter(old)


# --- the zero-phase filters equal mne's ---------------------------------------------------------------------
from mmqnet_core.errors import Cancelled  # noqa: E402
from mmqnet_core.preprocessing import PreprocessConfig  # noqa: E402
from mmqnet_core.preprocessing.pipeline import filter_rows, notch_rows  # noqa: E402


def _signals(n, rows=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, n)).cumsum(axis=1) * 1e-5 + 3e-5  # drifting, with an offset
    x[-1] = 5.0 + 0.01 * rng.standard_normal(n)  # a GSR-like row: large offset, small variation
    return x


@pytest.mark.parametrize("n", [40, 700, 30_000])
@pytest.mark.parametrize("band", [(1.0, 45.0, "auto"), (0.05, 1.0, 0.5), (None, 4.0, "auto"), (20.0, None, "auto"),
                                  (0.5, 8.0, 2.0)])
def test_fir_filter_rows_equal_mne(n, band):
    import mne

    sf = 128.0
    low, high, h_trans = band
    x = _signals(n)
    rows = [0, 2, 3, 4]
    want = mne.filter.filter_data(x, sf, low, high, picks=rows, h_trans_bandwidth=h_trans, method="fir",
                                  verbose="error")
    got = x.copy()
    filter_rows(got, rows, sf, low, high, PreprocessConfig(), h_trans=h_trans)
    np.testing.assert_array_equal(got[1], x[1])  # a row not picked is untouched
    for r in rows:
        scale = np.abs(want[r] - want[r].mean()).max()
        assert np.abs(got[r] - want[r]).max() <= 1e-10 * scale, r


@pytest.mark.parametrize("freqs", [[50.0], [50.0, 100.0], [60.0]])
def test_fir_notch_equals_mne(freqs):
    import mne

    sf = 256.0
    x = _signals(20_000, rows=4, seed=1)
    want = mne.io.RawArray(x.copy(), mne.create_info(4, sf, "eeg"), verbose=False)
    want.notch_filter(freqs, picks=[0, 1, 3], verbose="error")
    got = x.copy()
    notch_rows(got, [0, 1, 3], sf, freqs, PreprocessConfig())
    np.testing.assert_array_equal(got[2], x[2])
    for r in (0, 1, 3):
        scale = np.abs(want._data[r] - want._data[r].mean()).max()
        assert np.abs(got[r] - want._data[r]).max() <= 1e-10 * scale, r


def test_iir_filters_are_mne_s_own():
    import mne

    sf = 128.0
    cfg = PreprocessConfig(filter_method="iir")
    x = _signals(5000)
    got = x.copy()
    filter_rows(got, [0, 1], sf, 1.0, 30.0, cfg)
    notch_rows(got, [0, 1], sf, [50.0], cfg)
    want = mne.filter.filter_data(x, sf, 1.0, 30.0, picks=[0, 1], method="iir",
                                  iir_params={"order": 4, "ftype": "butter", "output": "sos"}, verbose="error")
    want = mne.filter.notch_filter(want, sf, [50.0], picks=[0, 1], method="iir",
                                   iir_params={"order": 4, "ftype": "butter", "output": "sos"}, verbose="error")
    np.testing.assert_array_equal(got, want)


def test_filter_rows_checks_cancel_between_row_groups():
    x = _signals(2000, rows=40)
    seen = []

    class Token:  # set once the first group has been filtered
        def is_set(self):
            seen.append(1)
            return len(seen) > 1

    before = x.copy()
    with pytest.raises(Cancelled):
        filter_rows(x, list(range(40)), 128.0, 1.0, 45.0, PreprocessConfig(), cancel=Token())
    assert len(seen) >= 2
    assert (x != before).any(axis=1).sum() < 40  # stopped before every row was filtered


# --- cancel inside the fit ------------------------------------------------------------------------------------
from mmqnet_core.preprocessing import streaming  # noqa: E402

from ._helpers import full_recording  # noqa: E402


@pytest.fixture(scope="module")
def long_recording():
    """Longer than FIT_WHOLE_S, so that the fit reads FIT_BLOCKS blocks spread over it."""
    rec = full_recording(np.random.default_rng(7), 128.0, streaming.FIT_WHOLE_S + 120.0, line_freq=50.0)
    assert rec.duration_s > streaming.FIT_WHOLE_S
    return rec


def _count_reads(monkeypatch):
    calls = []
    original = streaming.read_piece

    def counting(recording, fit, ra, rb, *args, **kwargs):
        calls.append((ra, rb))
        return original(recording, fit, ra, rb, *args, **kwargs)

    monkeypatch.setattr(streaming, "read_piece", counting)
    return calls


@pytest.mark.parametrize("stage, block", [("reading block", 3), ("block", 4)], ids=["round 1", "round 3"])
def test_cancel_during_the_fit_stops_before_the_next_block(long_recording, monkeypatch, stage, block):
    reads = _count_reads(monkeypatch)
    cancel = threading.Event()
    messages = []

    def progress(fraction, message):
        messages.append(message)
        if message == f"fitting the cleaning: {stage} {block}/{streaming.FIT_BLOCKS}":
            cancel.set()  # the user presses Cancel while this block is being worked on

    with pytest.raises(Cancelled):
        streaming.fit_cleaning(long_recording, PreprocessConfig(), progress=progress, cancel=cancel)
    assert cancel.is_set()
    if stage == "reading block":  # round 1 reads one block after each progress message: block k, then stop
        assert len(reads) == block
    else:  # round 3 cleans each block after its message: that block starts and is stopped at its first check
        assert len(reads) <= streaming.FIT_BLOCKS + block
    assert f"fitting the cleaning: {stage} {block + 1}/{streaming.FIT_BLOCKS}" not in messages
    assert "cleaning fitted" not in messages


def test_fit_reports_progress_for_every_block(long_recording):
    seen = []
    streaming.fit_cleaning(long_recording, PreprocessConfig(), progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    for k in range(1, streaming.FIT_BLOCKS + 1):
        assert f"fitting the cleaning: reading block {k}/{streaming.FIT_BLOCKS}" in [m for _, m in seen]
        assert f"fitting the cleaning: block {k}/{streaming.FIT_BLOCKS}" in [m for _, m in seen]


@pytest.mark.parametrize("seconds", [100.0, 400.0])  # below and above the 120 s analysed
def test_line_frequency_of_blocks_equals_that_of_their_concatenation(seconds):
    from mmqnet_core.preprocessing.detect import detect_line_freq

    sf = 256.0
    rng = np.random.default_rng(3)
    n = int(seconds * sf)
    t = np.arange(n) / sf
    x = rng.standard_normal((4, n)) + 0.5 * np.sin(2 * np.pi * 60.0 * t)
    cuts = [0, n // 7, n // 3, n // 3 + 5, n]
    blocks = [x[:, a:b] for a, b in zip(cuts[:-1], cuts[1:])]
    want = detect_line_freq(x, sf, ratio=5.0, picks=[0, 2, 3], max_s=120.0)
    got = detect_line_freq(blocks, sf, ratio=5.0, picks=[0, 2, 3], max_s=120.0)
    assert want[0] == 60.0 and got == want
