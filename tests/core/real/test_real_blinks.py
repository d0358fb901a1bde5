"""Blinks on real frontal EEG (issue 9), against mne, neurokit2 and the eye.

No installed package ships a real EOG channel. spkit (MIT) ships two real 16-s, 14-channel Emotiv EPOC excerpts
(converted once to ``tests/data/real/spkit_eeg16.npz`` by make_spkit_eeg.py, with an unpickler that accepts only
numpy arrays). Emotiv has no EOG electrode: a user who wants blinks types the frontal channels nearest the eyes
as EOG (``--modality AF3=EOG``, or the app's Modality column), so AF3, AF4, F7 and F8 stand in for a vertical
EOG here, each alone, exactly as the product then treats them.

What the signals hold, looked at by eye (all 14 channels plotted, 0.5-10 Hz):

- ``eeg16``: one large biphasic transient at 10.0-10.4 s (-1000/+600 uV), as large on O1/O2 as on AF3/AF4, so
  a reference or movement artefact, not a blink; smaller sharp dips common to all channels at ~11.5, 12.1
  and 13.9 s; no event with a blink's frontal topography;
- ``artifact_raw``: frontal background of 9 uV SD with slow drifts; no blink.

So the hand reference is *no blink in either file*; what can be checked on them is (a) that we find the one
event every single-channel detector agrees on (reference consensus) and (b) how many blinks a detector invents
on real frontal EEG without blinks. Measured with the references of make_blink_reference.py (events matched
within 0.3 s, our minimum blink interval):

- consensus (mne ``find_eog_events`` and neurokit2 ``brainstorm`` within 0.3 s on the same channel): 5
  events, the 10.0-10.4 s transient on each channel and a step on AF4 at 15.8 s; ours matches 5/5 (recall
  1.0; neurokit2's ``neurokit`` and ``blinker`` methods find the transient on 0 and 1 of the 4 channels);
- events found on the blink-free ``artifact_raw`` (AF3, AF4, F7, F8 together, 64 channel-seconds): ours 2
  (before this change: 15, i.e. 14/min per channel); mne 131 (its threshold is a quarter of the channel's
  range, so it always finds "blinks"), neurokit2 ``brainstorm`` 30, ``neurokit`` 5, ``blinker`` 3;
- ``eeg16`` outside the transient (+-0.5 s): ours 9 events on the 4 channels (before: 20): common-mode dips
  and one-sided frontal events, none with a blink's topography, which a single channel cannot tell from
  blinks;
- the user's path (EDF -> ``load_recording(modalities={"AF3": "EOG", "AF4": "EOG"})`` -> ``preprocess`` ->
  ``extract_features``) on ``artifact_raw``: ``blink_rate`` 0 in 9/16 windows on AF3 and 16/16 on AF4 (before:
  11-28 /min in every window).

Recall on real blinks is therefore not measured here (there are none); the last test measures it on the
synthetic corpus's vEOG against its ground-truth blinks (8 trials of 60 s, artifact rates 1 and 3: recall 0.89
= 170/192, precision 1.00 = 170/170; on 16 such trials the detector before this change had recall 0.90 and
precision 0.80, its extra "blinks" being the background and the saccades' share of the vEOG).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from mmqnet_core.features.peripheral import _filter, find_blinks

from .make_spkit_eeg import load_arrays_only
from .realdata import FRONTAL, SPKIT_EEG, match_events, reference_blinks, spkit_eeg

SF = 128.0
MATCH_S = 0.3
#: The transient of eeg16 seen by eye (s): on every channel, O1/O2 included, so not ocular.
TRANSIENT_S = (9.9, 10.5)


def ours(which: str, ch: str) -> np.ndarray:
    """Our blink times (s) on one channel, on the 0.5-10 Hz band that the EOG features use."""
    rec = spkit_eeg(which)
    return find_blinks(_filter(rec.channels[ch][None], SF, 0.5, 10.0)[0], SF).times


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_the_stored_eeg_is_plain_arrays_from_spkit():
    with np.load(SPKIT_EEG, allow_pickle=False) as d:
        assert d["eeg16_uv"].shape == d["artifact_raw_uv"].shape == (2048, 14)
        assert d["eeg16_uv"].dtype == np.float32 and float(d["sfreq"]) == 128.0
        assert list(d["ch_names"][[0, 13, 6]]) == ["AF3", "AF4", "O1"]
        note = SPKIT_EEG.with_name("LICENSE-spkit.txt").read_text()
        assert "MIT License" in note and str(d["eeg16_sha256"]) in note and str(d["artifact_raw_sha256"]) in note
    # real EEG in uV: frontal background of a few to tens of uV, not V or raw ADC counts
    sd = np.median(np.std(spkit_eeg("artifact_raw").channels["AF3"]))
    assert 2 < sd < 50


def test_the_converter_unpickles_numpy_arrays_and_nothing_else():
    a = [np.arange(3.0), ["AF3"], {"fs": 128, "x": np.ones((2, 2), np.float32)}]
    b = load_arrays_only(pickle.dumps(a, protocol=4))  # how spkit's files were written
    assert np.array_equal(b[0], a[0]) and b[2]["fs"] == 128 and b[2]["x"].dtype == np.float32
    with pytest.raises(pickle.UnpicklingError, match="os|posix|system"):
        load_arrays_only(pickle.dumps(_Payload()))
    with pytest.raises(pickle.UnpicklingError):
        load_arrays_only(pickle.dumps(hashlib.sha256))


def test_blink_reference_file_says_how_it_was_made():
    data = json.loads(Path(__file__).with_name("blinks_reference.json").read_text())
    assert data["mne_version"] and data["neurokit2_version"] and "make_blink_reference" in data["command"]
    assert set(data["recordings"]) == {"spkit eeg16", "spkit artifact_raw"}
    for ch in FRONTAL:
        t = reference_blinks("spkit eeg16", ch, "mne")
        assert t.size >= 1 and np.all((t >= 0) & (t <= 16))


def consensus(recording: str, ch: str) -> np.ndarray:
    """Events that mne and neurokit2's brainstorm method both found (<= MATCH_S apart): mne's times."""
    a, b = reference_blinks(recording, ch, "mne"), reference_blinks(recording, ch, "nk_brainstorm")
    return a[[i for i, _ in match_events(a, b, MATCH_S)]]


def test_we_find_the_events_the_references_agree_on():
    """Recall against the reference consensus on eeg16: the transient on each channel, plus AF4's step at
    15.8 s (5 events), all found by us."""
    n = found = in_transient = 0
    for ch in FRONTAL:
        cons = consensus("spkit eeg16", ch)
        in_transient += int(np.sum((cons >= TRANSIENT_S[0]) & (cons <= TRANSIENT_S[1])))
        n += cons.size
        found += len(match_events(cons, ours("eeg16", ch), MATCH_S))
    assert in_transient == 4 and n <= 6, (in_transient, n)
    assert found == n, (found, n)


def test_real_frontal_eeg_without_blinks_gives_almost_none():
    """Specificity (hand reference: no blink in artifact_raw): <= 1 event per channel, <= 2 in all (measured
    2; the detector before issue 9's change found 15, mne 131, neurokit2 brainstorm 30)."""
    counts = {ch: ours("artifact_raw", ch).size for ch in FRONTAL}
    assert max(counts.values()) <= 1 and sum(counts.values()) <= 2, counts
    # the criterion can fail: the reference methods that count EEG waves as blinks do not meet it
    for method in ("mne", "nk_brainstorm"):
        assert sum(reference_blinks("spkit artifact_raw", ch, method).size for ch in FRONTAL) > 2


HOMOLOGUE = {"AF3": "AF4", "AF4": "AF3", "F7": "F8", "F8": "F7"}


def test_what_remains_on_eeg16_has_no_blink_topography():
    """Outside the big transient, ours finds <= 10 events on the 4 channels (measured 9, before: 20). None has a
    blink's topography (bilateral: the other side's homologue >= half as large; frontal: O1/O2 < a quarter;
    largest next to the eyes: AF3/AF4 >= 0.8 x F7/F8): 3 are common-mode dips (as large on O1/O2), the others
    one-sided or lateral (AF4/F8 or F7 alone, F8 at 12.7 s with AF4 a third of it: eye movements or electrode
    events), which a single EOG channel cannot tell from blinks."""
    rec = spkit_eeg("eeg16")
    f = {c: _filter(x[None], SF, 0.5, 10.0)[0] for c, x in rec.channels.items()}
    n = 0
    for ch in FRONTAL:
        t = ours("eeg16", ch)
        for ti in t[(t < TRANSIENT_S[0] - 0.5) | (t > TRANSIENT_S[1] + 0.5)]:
            i = int(round(ti * SF))
            sl = slice(max(0, i - 16), i + 16)  # +-125 ms
            amp = {c: float(np.ptp(f[c][sl])) for c in (*FRONTAL, "O1", "O2")}
            bilateral = amp[HOMOLOGUE[ch]] >= 0.5 * amp[ch]
            frontal = max(amp["O1"], amp["O2"]) < 0.25 * amp[ch]
            next_to_eyes = max(amp["AF3"], amp["AF4"]) >= 0.8 * max(amp["F7"], amp["F8"])
            assert not (bilateral and frontal and next_to_eyes), (ch, ti, amp)
            n += 1
    assert n <= 10, n


@pytest.fixture(scope="module")
def user_features(tmp_path_factory):
    """Features of artifact_raw as a user gets them: an EDF, AF3/AF4 typed EOG, cleaned, features extracted."""
    edfio = pytest.importorskip("edfio")
    from mmqnet_core.features import extract_features
    from mmqnet_core.io import load_recording
    from mmqnet_core.preprocessing.pipeline import preprocess

    rec = spkit_eeg("artifact_raw")
    sigs = [edfio.EdfSignal(x, rec.sfreq, label=n, physical_dimension="uV",
                            physical_range=(float(x.min()) - 1, float(x.max()) + 1)) for n, x in rec.channels.items()]
    path = tmp_path_factory.mktemp("spkit") / "artifact_raw.edf"
    edfio.Edf(sigs, patient=edfio.Patient(name="X")).write(path)
    res = preprocess(load_recording(path, modalities={"AF3": "EOG", "AF4": "EOG"}))
    return extract_features(res.cleaned, interference=res.interference).to_dataframe(wide=True)


def test_blink_rate_of_a_users_file_without_blinks(user_features):
    """Per window (hand reference: 0 blinks): blink_rate 0 in >= 50 % of AF3's windows and all of AF4's
    (measured 9/16 and 16/16; before: 0/16 and 0/16, 11-28 /min)."""
    af3, af4 = (user_features[f"{ch}:blink_rate"].to_numpy(float) for ch in ("AF3", "AF4"))
    assert af3.size == 16 and np.isfinite(af3).all() and np.isfinite(af4).all()
    assert np.mean(af3 == 0) >= 0.5 and np.all(af4 == 0), (af3, af4)
    assert np.max(af3) <= 12.0  # at most one event in a 10-s context (6/min; 12 where the context is clipped)


def test_blinks_of_the_synthetic_corpus_are_found_and_nothing_else():
    """Ground truth (synthetic vEOG: 100-300 uV blinks of 0.2-0.4 s, saccades, background): recall >= 0.85,
    precision >= 0.95 (measured: 170/192 = 0.89 and 170/170; 21 of the 22 misses are blinks < 0.3 s from
    another, closer than two blinks can be told apart)."""
    from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial

    tp = n_true = n_found = 0
    for seed, rate in ((1, 1.0), (1, 3.0), (2, 1.0), (2, 3.0)):
        for trial in range(2):
            tr = generate_trial(SynthConfig(trial_s=60.0, artifact_rate=rate, seed=seed), 0, trial)
            v = tr.data[tr.index("vEOG")].astype(float) * 1e6  # V -> uV
            truth = np.array([a.onset + a.duration / 2 for a in tr.artifacts if a.description == "ART_blink"])
            got = find_blinks(_filter(v[None], tr.sfreq, 0.5, 10.0)[0], tr.sfreq).times
            tp += len(match_events(truth, got, MATCH_S))
            n_true, n_found = n_true + truth.size, n_found + got.size
    assert n_true >= 40
    assert tp / n_true >= 0.85 and tp / n_found >= 0.95, (tp, n_true, n_found)


def test_one_large_opposite_artifact_does_not_turn_the_channel_over():
    """The class of error seen on eeg16, isolated: 20 blinks/min of +150 uV and one -1500 uV transient. The
    channel's skewness (the former polarity rule) points down; counting blinks each way keeps them up."""
    from tests.core.features.helpers import pulse_train

    rng = np.random.default_rng(4)
    t = np.arange(int(120 * SF)) / SF
    blinks = np.arange(1.5, 120, 3.0)
    x = 150.0 * pulse_train(t, blinks, 0.06) - 1500.0 * pulse_train(t, np.array([61.0]), 0.05)
    x += 8.0 * rng.standard_normal(t.size)
    y = _filter(x[None], SF, 0.5, 10.0)[0]
    d = y - np.median(y)
    assert np.mean(d**3) < 0  # what the old rule would have followed
    got = find_blinks(y, SF).times
    assert len(match_events(blinks, got, MATCH_S)) >= blinks.size - 1 and got.size <= blinks.size + 1


def test_background_noise_is_not_counted_as_blinks():
    """Band-passed Gaussian noise of 12 uV SD (a frontal EEG's size, no blink): <= 6 events/min (expected ~3
    from the 6-SD rule; the former 4-SD / 20-uV rule found ~38/min)."""
    rng = np.random.default_rng(7)
    y = _filter(rng.standard_normal((1, int(300 * SF))), SF, 0.5, 10.0)[0]
    y *= 12.0 / np.std(y)
    assert find_blinks(y, SF).times.size <= 6 * 5
