"""Detectors on real recordings shipped inside PyPI packages (pyphysio, heartpy, biopeaks; the dev extra), as tables.

    python bench/bench_real.py

Per recording and channel: windows that have a reference rhythm, the share of them where our rate agrees with
the reference (heart: within 3 bpm of heartpy's own beat detector; breathing: within 2/min of breaths
hand-annotated on the belt's regular stretch, 20-40 s), the share of all windows where our rate is NaN, and
the BAD_jump and BAD_flat spans found with the preprocessing defaults. "+movement"
rows splice a large movement artefact (8x the signal's range plus a lasting step) at 60 s; windows within 5 s
of it are left out.

An RMSSD table compares each window's RMSSD (10-s context) with a truth: on pyphysio's PPG the R peaks of the ECG
recorded with it, on synthetic PPG (tests/core/features/ppg_truth.py: real pulse shape, dicrotic notch, breathing,
baseline wander, noise, movements) its known beats, on biopeaks' six short ECGs biopeaks' own R peaks; beside ours,
heartpy's beats and biopeaks' PPG peaks (after each one's own beat rejection / artefact correction), and the three
estimates on biopeaks' real 8-min PPG, which has no ECG.

An SCR table compares our skin-conductance responses on the real EDA with two published neurokit2 methods
(``eda_peaks`` ``neurokit``, ``kim2004``; stored in tests/core/real/scr_neurokit2.json): events matched within
1 s (one-to-one), and per window the share where the SCR count in the 10-s context equals the reference's
(exact, and within +-1), over all windows and over the windows where the two methods agree on the count.

A blinks table runs our blink detector (``find_blinks`` on the 0.5-10 Hz band, as the EOG features do) on
spkit's two real 16-s Emotiv EEG excerpts (tests/data/real/spkit_eeg16.npz), frontal channels AF3, AF4, F7, F8
each standing in for a vertical EOG, against mne's ``find_eog_events`` and three neurokit2 methods (stored in
tests/core/real/blinks_reference.json) and the eye (no blink in either file; eeg16 holds one large common-mode
transient at 10.0-10.4 s). Per estimator: events on the 4 channels, events matched (<= 0.3 s, one-to-one) with
the consensus (mne and nk brainstorm both), precision and recall against it, and the share of 1-s windows whose
10-s context holds as many events as the eye saw (0) and as the consensus. Last row: our recall and precision
on the synthetic corpus's vEOG with its ground-truth blinks.

A second table checks breathing three ways on both real belts (pyphysio's 120 s, biopeaks' 85 min with real
movement artefacts): our rate, the hand marks (short belt only) and the breaths of two published neurokit2
methods (``khodadad2018``, ``biosppy``; stored in tests/core/real/breaths_neurokit2.json), each against each,
plus "consensus" (windows where the two neurokit2 methods agree within 2/min: the windows that have a rhythm).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mmqnet_core.features.config import FeatureConfig  # noqa: E402
from mmqnet_core.features.peripheral import (  # noqa: E402
    BREATH_RANGE_S, IBI_RANGE_S, Events, heart_features, interval_rate, resp_features,
)
from mmqnet_core.features.spectral import WindowGrid  # noqa: E402
from mmqnet_core.preprocessing.config import PreprocessConfig  # noqa: E402
from mmqnet_core.preprocessing.detect import flat_mask, jump_mask, runs  # noqa: E402
from tests.core.real.realdata import (  # noqa: E402
    MEDICAL_HAND_BREATHS_S, RealRecording, agreement, biopeaks_belt, breath_rate_reference, context_counts,
    biopeaks_ecg, biopeaks_ppg, heartpy_beats, heartpy_data3, heartpy_ppg, match_events, medical, reference_scrs, splice_movement,
)

SF = 128.0
CFG = FeatureConfig()


def _jumps(x: np.ndarray, sfreq: float) -> int:
    c = PreprocessConfig()
    m = jump_mask(np.asarray(x, float)[None], sfreq, lag_s=c.jump_lag_s, threshold=c.jump_threshold,
                  min_fraction=c.jump_min_fraction, pad_s=c.jump_pad_s)[0]
    return len(runs(m))


def _flats(x: np.ndarray, sfreq: float) -> int:
    c = PreprocessConfig()
    m = flat_mask(np.asarray(x, float)[None], sfreq, window_s=c.flat_window_s, rel_threshold=c.flat_rel_threshold,
                  min_s=c.flat_min_s)[0]
    return len(runs(m))


def _down(x: np.ndarray, sfreq: float) -> tuple[np.ndarray, float]:
    if sfreq <= SF:
        return np.asarray(x, float), sfreq
    return RealRecording("x", sfreq, {"x": x}).resampled(SF).channels["x"], SF


def heart_row(name: str, clean: np.ndarray, y: np.ndarray, sfreq: float, ecg: bool, art=None,
              second: np.ndarray | None = None) -> tuple:
    """``second``: beat times (s) of a second reference; then only windows where both agree within 3 bpm."""
    beats = heartpy_beats(clean, sfreq)
    z, sf = _down(y, sfreq)
    grid = WindowGrid.make(sf, z.size, 1.0, None)
    ref = interval_rate(Events(beats, np.ones(beats.size)), grid, IBI_RANGE_S, max_gap_s=4.0, max_rel_deviation=0.3)
    got = heart_features(z[None], grid, CFG, ecg=ecg, orig_sfreq=np.array([sfreq]))[0, :, 0]
    rhythm = np.isfinite(ref)
    if second is not None:
        ref2 = interval_rate(Events(second, np.ones(second.size)), grid, IBI_RANGE_S, max_gap_s=4.0,
                             max_rel_deviation=0.3)
        rhythm &= np.isfinite(ref2) & (np.abs(ref2 - ref) <= 3.0)
    if art is not None:
        rhythm &= (grid.centres_s < art[0] - 5) | (grid.centres_s > art[1] + 5)
    agree = float(np.mean(np.abs(got[rhythm] - ref[rhythm]) <= 3.0))
    return (name, "HR (bpm)", int(rhythm.sum()), agree, float(np.isnan(got).mean()),
            (None if ecg else _jumps(y, sfreq)), _flats(y, sfreq))


def resp_row(name: str, belt: np.ndarray, sfreq: float) -> tuple:
    z, sf = _down(belt, sfreq)
    grid = WindowGrid.make(sf, z.size, 1.0, None)
    rate = resp_features(z[None], grid, CFG, orig_sfreq=np.array([sfreq]))[0, :, 0]
    hand = MEDICAL_HAND_BREATHS_S
    ref = interval_rate(Events(hand, np.ones(hand.size)), grid, BREATH_RANGE_S, max_gap_s=20.0)
    stretch = (grid.centres_s >= hand[0]) & (grid.centres_s <= hand[-1])
    agree = float(np.mean(np.abs(rate[stretch] - ref[stretch]) <= 2.0))
    return name, "breath (/min)", int(stretch.sum()), agree, float(np.isnan(rate).mean()), None, _flats(belt, sfreq)


def _belt_rate(y: np.ndarray, sfreq: float) -> tuple[WindowGrid, np.ndarray]:
    z, sf = _down(y, sfreq)
    grid = WindowGrid.make(sf, z.size, 1.0, None)
    return grid, resp_features(z[None], grid, CFG, orig_sfreq=np.array([sfreq]))[0, :, 0]


def breathing_table(m) -> None:
    """Three-way breathing agreement (within 2/min) per real belt, plus spliced movements on the long belt."""
    print(f"\n{'belt':34s} {'reference':14s} {'windows':>7s} {'ours':>6s} {'nk-khod':>7s} {'nk-bio':>7s}")
    pooled = [0.0, 0]
    belts = [(m.name, m.channels["RESP"], m.sfreq, ())]
    b = biopeaks_belt()
    if b is not None:
        x = b.channels["RESP"]
        amp = np.percentile(x, 99) - np.percentile(x, 1)
        y, starts = x, (1200.0, 2600.0, 4000.0)
        for s0 in starts:
            y = splice_movement(y, b.sfreq, s0, size=10 * amp, step=2 * amp)
        belts += [(b.name, x, b.sfreq, ()), (b.name, y, b.sfreq, starts)]
    else:
        print("(biopeaks not installed: its 85-min belt is left out)")
    for name, y, sfreq, starts in belts:
        grid, ours = _belt_rate(y, sfreq)
        refs = breath_rate_reference(name, grid)
        keep = np.ones(grid.n_windows, bool)
        for s0 in starts:  # windows within 20 s of a spliced movement have no visible rhythm
            keep &= (grid.centres_s < s0 - 20) | (grid.centres_s > s0 + 23)
        label = name + (f" +{len(starts)} movements" if starts else "")
        if name == m.name:
            hand = MEDICAL_HAND_BREATHS_S
            href = interval_rate(Events(hand, np.ones(hand.size)), grid, BREATH_RANGE_S, max_gap_s=20.0)
            stretch = (grid.centres_s >= hand[0]) & (grid.centres_s <= hand[-1])
            a = [agreement(e, href, 2.0, stretch) for e in (ours, refs["khodadad2018"], refs["biosppy"])]
            print(f"{label:34s} {'hand 20-40 s':14s} {a[0][1]:7d} {a[0][0]:6.1%} {a[1][0]:7.1%} {a[2][0]:7.1%}")
        for ref in ("khodadad2018", "biosppy", "consensus"):
            a = agreement(ours, refs[ref], 2.0, keep)
            cols = [("-" if est == ref or ref == "consensus"
                     else f"{agreement(refs[est], refs[ref], 2.0, keep)[0]:.1%}") for est in ("khodadad2018", "biosppy")]
            print(f"{label:34s} {'nk ' + ref:14s} {a[1]:7d} {a[0]:6.1%} {cols[0]:>7s} {cols[1]:>7s}")
            if ref == "consensus" and not starts:
                pooled[0] += a[0] * a[1]
                pooled[1] += a[1]
    if pooled[1]:
        print(f"{'all belts pooled':34s} {'nk consensus':14s} {pooled[1]:7d} {pooled[0] / pooled[1]:6.1%}")
    print("(nk-khod / nk-bio: that neurokit2 method's own agreement with the same reference; target >= 90 % of "
          "windows that have a rhythm)")


def scr_table(m) -> None:
    """Our SCRs on the real EDA vs neurokit2's two methods: events matched (<= 1 s) and per-window counts."""
    from mmqnet_core.features.peripheral import _context, find_scr, gsr_features, gsr_phasic

    z, sf = _down(m.channels["EDA"], m.sfreq)
    orig = np.array([m.sfreq])
    grid = WindowGrid.make(sf, z.size, 1.0, None)
    dur = z.size / sf
    ours_t = find_scr(gsr_phasic(z[None], sf, orig_sfreq=orig)[0], sf).times
    rate = gsr_features(z[None], grid, CFG, orig_sfreq=orig)[0, :, 2]
    lo, hi = _context(grid, CFG.context_s, dur)
    ests = {"ours": (ours_t, np.round(rate * (hi - lo) / 60.0))}
    for meth in ("neurokit", "kim2004"):
        t = reference_scrs(meth)
        ests["nk " + meth] = (t, context_counts(t, grid, CFG.context_s, dur))
    sure = ests["nk neurokit"][1] == ests["nk kim2004"][1]
    print(f"\n{'medical EDA: SCRs':22s} {'reference':12s} {'SCRs':>4s} {'ref':>4s} {'matched':>7s} "
          f"{'exact/all':>9s} {'+-1/all':>8s} {'exact/agreed':>12s}")
    for est, ref in (("ours", "nk neurokit"), ("ours", "nk kim2004"), ("nk neurokit", "nk kim2004")):
        (te, ce), (tr, cr) = ests[est], ests[ref]
        n = len(match_events(te, tr, 1.0))
        print(f"{est:22s} {ref:12s} {te.size:4d} {tr.size:4d} {n:7d} {np.mean(ce == cr):9.1%} "
              f"{np.mean(np.abs(ce - cr) <= 1):8.1%} {np.mean(ce[sure] == cr[sure]):12.1%}")
    print(f"(windows: {grid.n_windows} of 1 s, SCRs counted in the 10-s context; 'agreed': the {int(sure.sum())} "
          "windows where the two neurokit2 methods give the same count; target >= 90 %)")


def blinks_table() -> None:
    """Blinks on spkit's real frontal EEG: ours vs mne / neurokit2 / the eye, and ours on synthetic ground truth."""
    from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial
    from mmqnet_core.features.peripheral import _filter, find_blinks
    from tests.core.real.realdata import FRONTAL, reference_blinks, spkit_eeg

    methods = ("mne", "nk_neurokit", "nk_brainstorm", "nk_blinker")
    print(f"\n{'spkit EEG: blinks':22s} {'estimator':14s} {'events':>6s} {'cons':>4s} {'matched':>7s} {'prec':>6s} "
          f"{'recall':>6s} {'=eye':>6s} {'=cons':>6s}")
    for which in ("eeg16", "artifact_raw"):
        rec = spkit_eeg(which)
        n = next(iter(rec.channels.values())).size
        grid = WindowGrid.make(rec.sfreq, n, 1.0, None)
        dur = n / rec.sfreq
        est: dict[str, list] = {k: [] for k in ("ours",) + methods}
        cons = []
        for ch in FRONTAL:
            y = _filter(rec.channels[ch][None], rec.sfreq, 0.5, 10.0)[0]
            est["ours"].append(find_blinks(y, rec.sfreq).times)
            for meth in methods:
                t = reference_blinks(rec.name, ch, meth)
                est[meth].append(np.zeros(0) if t is None else t)  # a method that failed found nothing
            a, b = est["mne"][-1], est["nk_brainstorm"][-1]
            cons.append(a[[i for i, _ in match_events(a, b, 0.3)]])
        n_cons = sum(c.size for c in cons)
        cc = [context_counts(c, grid, CFG.context_s, dur) for c in cons]
        for name, per_ch in est.items():
            found = sum(t.size for t in per_ch)
            matched = sum(len(match_events(c, t, 0.3)) for c, t in zip(cons, per_ch))
            counts = [context_counts(t, grid, CFG.context_s, dur) for t in per_ch]
            eye = np.mean([np.mean(c == 0) for c in counts])
            agree = np.mean([np.mean(c == r) for c, r in zip(counts, cc)])
            prec = f"{matched / found:6.1%}" if found else "     -"
            print(f"{'spkit ' + which:22s} {name:14s} {found:6d} {n_cons:4d} {matched:7d} {prec} "
                  f"{matched / max(n_cons, 1):6.1%} {eye:6.1%} {agree:6.1%}")
    tp = n_true = n_found = 0
    for seed, rate in ((1, 1.0), (1, 3.0), (2, 1.0), (2, 3.0)):
        for trial in range(2):
            tr = generate_trial(SynthConfig(trial_s=60.0, artifact_rate=rate, seed=seed), 0, trial)
            v = tr.data[tr.index("vEOG")].astype(float) * 1e6
            truth = np.array([a.onset + a.duration / 2 for a in tr.artifacts if a.description == "ART_blink"])
            got = find_blinks(_filter(v[None], tr.sfreq, 0.5, 10.0)[0], tr.sfreq).times
            tp += len(match_events(truth, got, 0.3))
            n_true, n_found = n_true + truth.size, n_found + got.size
    print(f"{'synthetic vEOG (8x60s)':22s} {'ours':14s} {n_found:6d} {n_true:4d} {tp:7d} {tp / n_found:6.1%} "
          f"{tp / n_true:6.1%}   (cons = ground-truth blinks)")
    print("(events on AF3+AF4+F7+F8 together; cons: events mne and nk brainstorm both found; =eye / =cons: windows "
          "whose 10-s context count equals the eye's (0) / the consensus's, mean over the 4 channels. On eeg16 the "
          "consensus is the 10-s transient (+ an AF4 step): recall is measured there; artifact_raw holds no blink, "
          "its 'consensus' is EEG waves that both methods count (mne's threshold is a quarter of the channel's "
          "range), so the eye is its reference)")


def _rmssd_windows(beats: np.ndarray, grid: WindowGrid, duration_s: float, pair_ok: np.ndarray | None = None):
    """RMSSD (ms) per window's 10-s context from beat times, every successive difference (or those in pair_ok)."""
    from mmqnet_core.features.peripheral import _context, context_sum

    d2 = np.diff(np.diff(beats)) ** 2
    ok = np.ones(d2.size, bool) if pair_ok is None else pair_ok
    n, s = context_sum(beats[2:][ok], d2[ok], *_context(grid, CFG.context_s, duration_s))
    return np.where(n > 0, 1000.0 * np.sqrt(s / np.maximum(n, 1)), np.nan)


def _heartpy_rmssd(x: np.ndarray, sfreq: float, grid: WindowGrid, duration_s: float, *,
                   prefilter: bool = False) -> np.ndarray:
    """Per-window RMSSD of heartpy's beats with heartpy's own rule: a difference counts where its 3 beats are
    accepted (``binary_peaklist``). ``prefilter``: heartpy's own band-pass first (``filter_signal``, 0.7-3.5 Hz,
    as its documentation does for PPG with baseline wander; without it heartpy fails on the synthetic PPG)."""
    from tests.core.real.realdata import _import_heartpy

    _import_heartpy()
    import heartpy

    x = np.asarray(x, float)
    if prefilter:
        x = heartpy.filter_signal(x, [0.7, 3.5], sample_rate=sfreq, order=3, filtertype="bandpass")
    wd, _ = heartpy.process(x, sample_rate=sfreq)
    peaks = np.asarray(wd["peaklist"]) / sfreq
    acc = np.asarray(wd["binary_peaklist"]).astype(bool)
    return _rmssd_windows(peaks, grid, duration_s, acc[:-2] & acc[1:-1] & acc[2:])


def _biopeaks_rmssd(x: np.ndarray, sfreq: float, grid: WindowGrid, duration_s: float) -> np.ndarray:
    """Per-window RMSSD of biopeaks' PPG peaks after its own artefact correction (Lipponen & Tarvainen 2019),
    or NaN when biopeaks is not installed."""
    try:
        from biopeaks.heart import correct_peaks, ppg_peaks
    except ImportError:
        return np.full(grid.n_windows, np.nan)
    peaks = correct_peaks(ppg_peaks(np.asarray(x, float), sfreq), sfreq)
    return _rmssd_windows(np.asarray(peaks, float) / sfreq, grid, duration_s)


def rmssd_table(m) -> None:
    """RMSSD per window (10-s context) against a truth: pyphysio's PPG against the R peaks of the ECG recorded
    with it (heartpy's detector, no beat rejected), and synthetic PPG with known beats; ours and heartpy's."""
    from tests.core.features.ppg_truth import synthetic_ppg

    print(f"\n{'RMSSD per window (ms)':34s} {'windows':>7s} {'truth':>6s} {'ours':>6s} {'heartpy':>7s} "
          f"{'biopeaks':>8s} {'|err| ours':>10s} {'p90':>5s} {'<=10ms':>6s} {'|err| hp':>8s} {'p90':>5s} {'<=10ms':>6s} "
          f"{'|err| bp':>8s} {'p90':>5s} {'<=10ms':>6s}")

    def row(label, truth, ours, hp, bp=None, keep=None):
        bp = np.full(truth.shape, np.nan) if bp is None else bp
        keep = np.isfinite(truth) if keep is None else keep & np.isfinite(truth)
        cols = []
        for v in (ours, hp, bp):
            e = np.abs(v - truth)[keep]
            f = np.isfinite(e)
            cols.append(f"{np.median(e[f]):10.1f} {np.percentile(e[f], 90):5.1f} {np.mean(e[f] <= 10):6.1%}"
                        if f.any() else f"{'-':>10s} {'-':>5s} {'-':>6s}")
        med = [f"{np.nanmedian(v[keep]):{w}.1f}" if np.isfinite(v[keep]).any() else f"{'-':>{w}s}"
               for v, w in ((ours, 6), (hp, 7), (bp, 8))]
        print(f"{label:34s} {int(keep.sum()):7d} {np.nanmedian(truth[keep]):6.1f} {' '.join(med)} {cols[0]} {cols[1]:>20s} "
              f"{cols[2]:>20s}")

    ecg_beats = heartpy_beats(m.channels["ECG"], m.sfreq)
    for ch in ("BVP", "ECG"):
        z, sf = _down(m.channels[ch], m.sfreq)
        grid = WindowGrid.make(sf, z.size, 1.0, None)
        dur = z.size / sf
        truth = _rmssd_windows(ecg_beats, grid, dur)
        ours = heart_features(z[None], grid, CFG, ecg=ch == "ECG", orig_sfreq=np.array([m.sfreq]))[0, :, 1]
        hp = _heartpy_rmssd(m.channels[ch], m.sfreq, grid, dur)
        bp = _biopeaks_rmssd(m.channels[ch], m.sfreq, grid, dur) if ch == "BVP" else None
        row(f"medical {ch} vs its ECG", truth, ours, hp, bp)
        if ch == "BVP":
            c = grid.centres_s  # away from the movements (55-80 s, 105-120 s) and the small pulse at 41.5 s
            calm = ~(((c >= 35) & (c <= 48)) | ((c >= 55) & (c <= 80)) | (c >= 105))
            row("  calm windows only", truth, ours, hp, bp, calm)
    for label, kw in (("synthetic PPG, clean", {}), ("synthetic PPG, noise 15 %", {"noise": 0.15}),
                      ("synthetic PPG, 6 movements", {"artefacts": 6}),
                      ("synthetic PPG, 100 bpm", {"mean_ibi_s": 0.6, "rsa_s": 0.02, "jitter_s": 0.008}),
                      # like biopeaks' real PPG: 90 bpm, little variability, 125 Hz, a clean pulse
                      ("synthetic PPG, 90 bpm, 125 Hz", {"mean_ibi_s": 0.66, "rsa_s": 0.008, "jitter_s": 0.006,
                                                         "noise": 0.01, "wander": 0.5, "sfreq": 125.0})):
        parts = {"truth": [], "ours": [], "hp": [], "bp": [], "keep": []}
        for seed in range(3):
            s = synthetic_ppg(seed=seed, **kw)
            grid = WindowGrid.make(s.sfreq, s.signal.size, 1.0, None)
            dur = s.signal.size / s.sfreq
            lo, hi = grid.centres_s - CFG.context_s / 2, grid.centres_s + CFG.context_s / 2
            keep = (lo > 5.0) & (hi < dur - 5.0)
            for a, b in s.artefacts_s:
                keep &= (hi < a) | (lo > b)
            parts["truth"].append(_rmssd_windows(s.beats_s, grid, dur))
            parts["ours"].append(heart_features(s.signal[None], grid, CFG)[0, :, 1])
            parts["hp"].append(_heartpy_rmssd(s.signal, s.sfreq, grid, dur, prefilter=True))
            parts["bp"].append(_biopeaks_rmssd(s.signal, s.sfreq, grid, dur))
            parts["keep"].append(keep)
        row(label, *(np.concatenate(parts[k]) for k in ("truth", "ours", "hp", "bp")), np.concatenate(parts["keep"]))
    try:  # six 3.5-4-min BITalino ECGs at 100 Hz (biopeaks' test data) against biopeaks' own R peaks
        from biopeaks.heart import ecg_peaks
    except ImportError:
        ecg_peaks = None
    short = [r for r in (biopeaks_ecg(k) for k in ("1A", "1J", "2A", "2J", "3A", "3J")) if r is not None]
    if ecg_peaks is not None and short:
        parts = {"truth": [], "ours": [], "hp": []}
        for r in short:
            x, sf = r.channels["ECG"], r.sfreq
            grid = WindowGrid.make(sf, x.size, 1.0, None)
            dur = x.size / sf
            parts["truth"].append(_rmssd_windows(ecg_peaks(x, sf) / sf, grid, dur))
            parts["ours"].append(heart_features(x[None], grid, CFG, ecg=True)[0, :, 1])
            parts["hp"].append(_heartpy_rmssd(x, sf, grid, dur))
        row("biopeaks 6 ECGs 100 Hz vs its R peaks", *(np.concatenate(parts[k]) for k in ("truth", "ours", "hp")))
    os_ppg = biopeaks_ppg()
    if os_ppg is not None:  # 8 min of real PPG at 125 Hz, no ECG: the three estimates side by side
        x, sf = os_ppg.channels["PPG"], os_ppg.sfreq
        grid = WindowGrid.make(sf, x.size, 1.0, None)
        dur = x.size / sf
        ours = heart_features(x[None], grid, CFG)[0, :, 1]
        hp, bp = _heartpy_rmssd(x, sf, grid, dur), _biopeaks_rmssd(x, sf, grid, dur)
        print(f"{'biopeaks OSmontagePPG (no truth)':34s} {grid.n_windows:7d} {'-':>6s} {np.nanmedian(ours):6.1f} "
              f"{np.nanmedian(hp):7.1f} {np.nanmedian(bp):8.1f}   (peaks at the sample on the raw pulse: see the "
              "90-bpm synthetic row)")
    print("(truth: each window's RMSSD from the ECG's R peaks / the synthetic beats over the same 10-s context; heartpy: "
          "its own beats and beat rejection (on the synthetic PPG after its own 0.7-3.5 Hz band-pass); biopeaks: its PPG "
          "peaks after its own artefact correction; synthetic: 3 x 5 min at 128 Hz, windows clear of the movements)")


def main() -> None:
    m = medical()
    if m is None:
        sys.exit("error: pyphysio is not installed; install the dev extra (pip install -e '.[dev]').")
    rows = []
    for ch, ecg in (("ECG", True), ("BVP", False)):
        x = m.channels[ch]
        amp = np.percentile(x, 99) - np.percentile(x, 1)
        rows.append(heart_row(f"medical {ch}", x, x, m.sfreq, ecg))
        y = splice_movement(x, m.sfreq, 60.0, size=8 * amp, step=3 * amp)
        rows.append(heart_row(f"medical {ch} +movement", x, y, m.sfreq, ecg, art=(60.0, 63.0)))
    for which in ("data.csv", "data2.csv"):
        r = heartpy_ppg(which)
        rows.append(heart_row(f"heartpy {which} PPG", r.channels["PPG"], r.channels["PPG"], r.sfreq, False))
    d3 = heartpy_data3()
    if d3 is not None:  # 11 min of real PPG, rate swinging 78-107 bpm; second reference: neurokit2 (stored)
        x = d3.channels["PPG"]
        rows.append(heart_row("heartpy data3.csv PPG", x, x, d3.sfreq, False))
        nk = json.loads((ROOT / "tests" / "core" / "real" / "ppg_neurokit2.json").read_text())
        rows.append(heart_row("  where nk2 elgendi agrees", x, x, d3.sfreq, False,
                              second=np.asarray(nk["recordings"][d3.name])))
    b = biopeaks_belt()
    if b is not None:  # 85 min of real ECG (heartpy's reference takes ~20 s here)
        x = b.channels["ECG"]
        rows.append(heart_row("biopeaks OSmontage0J ECG", x, x, b.sfreq, True))
    belt = m.channels["RESP"]
    rows.append(resp_row("medical RESP", belt, m.sfreq))
    amp = np.percentile(belt, 99) - np.percentile(belt, 1)
    rows.append(resp_row("medical RESP +movement@100s", splice_movement(belt, m.sfreq, 100.0, size=10 * amp,
                                                                      step=2 * amp), m.sfreq))
    print(f"{'recording':32s} {'measure':14s} {'rhythm win':>10s} {'agree':>7s} {'NaN':>6s} {'jumps':>6s} "
          f"{'flats':>6s}")
    for name, what, n, agree, nan, jumps, flats in rows:
        j = "-" if jumps is None else str(jumps)
        print(f"{name:32s} {what:14s} {n:10d} {agree:7.1%} {nan:6.1%} {j:>6s} {flats:6d}")
    eda = m.channels["EDA"]
    print(f"{'medical EDA':32s} {'spans only':14s} {'':10s} {'':7s} {'':6s} {_jumps(eda, m.sfreq):6d} "
          f"{_flats(eda, m.sfreq):6d}")
    print("(heartpy data2.csv holds a real 7-s sensor dropout at 18-25 s: its flat span is right; the "
          "+movement PPG row's jump is the spliced step)")
    rmssd_table(m)
    scr_table(m)
    blinks_table()
    breathing_table(m)


if __name__ == "__main__":
    main()
