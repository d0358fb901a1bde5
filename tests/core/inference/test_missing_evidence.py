"""The missing-evidence term of the uncertainty with the shipped checkpoint on a new synthetic subject.

Measured: the legacy checkpoint shipped before session 4 was *more* confident with all EEG masked than with
everything present (mean entropy 0.57 / 0.28 bits vs 0.73 / 0.58 for valence / arousal, 4 new subjects) -- it
read the absence of EEG as evidence. The fused checkpoint shipped since (subject 40, 120 s): 0.73 / 0.84 bits
with EEG masked (0.69 / 0.81 without the term) vs 0.60 / 0.66 with everything present.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.inference import analyze_recording, binary_entropy, load_model
from mmqnet_core.masking import MaskSet
from mmqnet_core.preprocessing import CleaningCache


@pytest.fixture(scope="module")
def shipped():
    return load_model(None, device="cpu")


@pytest.fixture(scope="module")
def runs(shipped):
    from mmqnet_core.datasets.synthetic import make_sample_session

    rec = make_sample_session(duration_s=120.0, sfreq=128.0, seed=3, subject=40).to_recording()  # not in training
    cache = CleaningCache()
    out = {}
    for name, modality in (("all", None), ("eeg", "EEG"), ("peripheral", "peripheral")):
        masks = None
        if modality is not None:
            masks = MaskSet()
            for t in shipped.layout:
                if (t.modality.value == "EEG") == (modality == "EEG"):
                    masks = masks.with_channel(t.name)
        out[name] = analyze_recording(rec, masks, model=shipped, cache=cache, own_statistics=True,
                                      attribution=True).result
    return out


def test_nothing_hidden_nothing_added(runs):
    r = runs["all"]
    assert (r.missing_evidence == 0).all()
    np.testing.assert_allclose(r.uncertainty, binary_entropy(r.probabilities), atol=1e-6)


def test_hidden_eeg_raises_the_uncertainty_of_every_window(runs):
    r = runs["eeg"]
    ok = ~r.no_context
    plain = binary_entropy(r.probabilities)
    assert (r.missing_evidence[ok] > 0).all() and r.missing_evidence[ok].mean() > 0.5  # logit units
    assert (r.uncertainty[ok] >= plain[ok] - 1e-6).all()
    # the term takes a real share of the room left below 1 bit (a confident model has more room to lose)
    assert ((r.uncertainty[ok] - plain[ok]).mean(0) > 0.1 * (1.0 - plain[ok]).mean(0)).all()  # both targets
    assert r.summary()["attribution"]["mean_abs_change_of_probability"]["valence"]["EEG"] is None  # hidden


def test_hidden_eeg_is_less_certain_than_everything_present(runs):
    """Issue #10 item 5: a window with EEG missing is less certain than one with everything present (the legacy
    checkpoint failed this: it read the absence of EEG as evidence)."""
    full, eeg = runs["all"], runs["eeg"]
    ok = ~full.no_context & ~eeg.no_context
    assert (eeg.uncertainty[ok].mean(0) > full.uncertainty[ok].mean(0) + 0.05).all()  # bits, both targets


def test_hidden_peripheral_signals_are_less_certain_than_everything_present(runs):
    full, per = runs["all"], runs["peripheral"]
    ok = ~full.no_context & ~per.no_context
    assert (per.uncertainty[ok].mean(0) > full.uncertainty[ok].mean(0)).all()


def test_hidden_readout_variance_counts_the_hidden_share_of_each_group_over_the_context():
    """sum_g h_g (s_gk / temperature_k)^2, h_g the hidden share of group g's tokens over windows t-k..t+k."""
    from types import SimpleNamespace

    from mmqnet_core.inference.evidence import hidden_readout_variance, missing_evidence_sd

    cfg = SimpleNamespace(modality_evidence=True, evidence_spread=((1.0, 0.5), (2.0, 0.0)), temperature=(0.5, 1.0),
                          group_index=(0, 0, 1), context_windows=1)
    hidden = np.zeros((5, 3), bool)
    hidden[:, 0] = True  # half of group 0 hidden everywhere
    hidden[4, 2] = True  # group 1 hidden in the last window only
    var = hidden_readout_variance(cfg, hidden)
    assert var.shape == (5, 2)
    g0 = 0.5 * np.array([(1.0 / 0.5) ** 2, 0.25])  # 0.5 hidden share x (s / temperature)^2
    np.testing.assert_allclose(var[:3], np.broadcast_to(g0, (3, 2)))  # window 2's context 1..3 sees nothing of g1
    # context 2..4: 1 of its 3 token-windows of g1 hidden
    np.testing.assert_allclose(var[3], g0 + [1 / 3 * (2.0 / 0.5) ** 2, 0.0])
    np.testing.assert_allclose(var[4], g0 + [1 / 2 * (2.0 / 0.5) ** 2, 0.0])  # context 3..4 (the end): 1 of 2
    # nothing hidden: nothing added; no read-outs or no fitted spread: None (the term is the restoration's alone)
    assert (hidden_readout_variance(cfg, np.zeros((5, 3), bool)) == 0).all()
    assert hidden_readout_variance(SimpleNamespace(**{**vars(cfg), "evidence_spread": ()}), hidden) is None
    assert hidden_readout_variance(SimpleNamespace(**{**vars(cfg), "modality_evidence": False}), hidden) is None
    # added in quadrature to the restoration's (pi / 2) d^2
    d = np.full((1, 5, 2), 0.4)
    np.testing.assert_allclose(missing_evidence_sd(d, var), np.sqrt(np.pi / 2 * 0.16 + var), rtol=1e-6)
    np.testing.assert_allclose(missing_evidence_sd(d), np.sqrt(np.pi / 2 * 0.16), rtol=1e-6)


def test_analysis_adds_the_hidden_readout_variance_in_quadrature(shipped, monkeypatch):
    """The analysis passes its hidden tokens and the model's config to ``hidden_readout_variance`` and adds what it
    returns to the restoration's variance."""
    import mmqnet_core.inference.evidence as evidence
    from mmqnet_core.datasets.synthetic import make_sample_session

    rec = make_sample_session(duration_s=40.0, sfreq=128.0, seed=5, subject=41).to_recording()
    masks = MaskSet()
    for t in shipped.layout:
        if t.modality.value == "EEG":
            masks = masks.with_channel(t.name)
    cache = CleaningCache()
    plain = analyze_recording(rec, masks, model=shipped, cache=cache, own_statistics=True, attribution=True).result
    real = evidence.hidden_readout_variance
    seen = {}

    def fake(config, hidden, valid=None):  # what the checkpoint's own spread gives (None: 0), plus a known extra
        seen["hidden"] = np.asarray(hidden)
        own = real(config, hidden, valid)
        return (0.0 if own is None else own) + np.asarray(hidden).mean(-1, keepdims=True) * np.array([1.0, 0.25])

    monkeypatch.setattr(evidence, "hidden_readout_variance", fake)
    more = analyze_recording(rec, masks, model=shipped, cache=cache, own_statistics=True, attribution=True).result
    np.testing.assert_array_equal(seen["hidden"][0], plain.hidden)
    share = plain.hidden.mean(-1, keepdims=True)  # 0.8: the 32 EEG of 40 tokens
    np.testing.assert_allclose(more.missing_evidence ** 2, plain.missing_evidence ** 2 + share * [1.0, 0.25],
                               rtol=1e-4, atol=1e-6)
    assert (more.uncertainty >= plain.uncertainty - 1e-6).all()
