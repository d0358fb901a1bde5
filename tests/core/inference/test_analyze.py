"""analyze(): shapes, reconstructions of masked tokens, attention, cancel, clear errors, saving."""

from __future__ import annotations

import dataclasses
import json
import threading

import numpy as np
import pandas as pd
import pytest

from mmqnet_core.errors import Cancelled, MaskError, MMQNetError
from mmqnet_core.inference import analyze, analyze_features, binary_entropy, context_starts
from mmqnet_core.masking import MaskSet, SegmentMask
from mmqnet_core.recording import ChannelInfo, Modality, Recording

from .conftest import make_model


def test_context_starts_cover_every_window():
    assert context_starts(16, 8).tolist() == [0, 8]
    assert context_starts(19, 8).tolist() == [0, 8, 11]  # last context aligned to the end
    assert context_starts(5, 8).tolist() == [0]
    for n in range(1, 40):
        s = context_starts(n, 4)
        covered = np.zeros(n, bool)
        for st in s:
            covered[st:st + 4] = True
        assert covered.all() and (s + 4 <= max(n, 4)).all()


def test_analyze_shapes_and_masked_reconstruction(recording, model):
    masks = MaskSet().with_channel("Fp1").with_segment(SegmentMask(10.0, 20.0, ("GSR",)))
    r = analyze(recording, masks, model)
    t, n, f = r.features.shape
    assert t == 40 and n == 40 and r.probabilities.shape == (40, 2) and r.uncertainty.shape == (40, 2)
    assert ((r.probabilities >= 0) & (r.probabilities <= 1)).all()
    fp1, gsr = r.token_index("Fp1"), r.token_index("GSR")
    assert r.user_masked[:, fp1].all() and r.hidden[:, fp1].all()
    assert r.user_masked[10:20, gsr].all() and not r.user_masked[:10, gsr].any() and not r.user_masked[20:, gsr].any()
    # masked windows get reconstructions (finite, in feature units, not just zeros) on the valid columns
    rec = r.recon[r.hidden[:, gsr], gsr][:, r.valid[gsr]]
    assert np.isfinite(rec).all() and np.abs(rec).sum() > 0
    times, wave = r.reconstructed_waveform("GSR")
    assert times.shape == wave.shape == (40 * 8,) and np.isfinite(wave).all()
    for family in ("modality", "category", "interference"):
        att = r.attention[family]
        assert att.shape == (40, 40)
        np.testing.assert_allclose(att.sum(1), 1.0, atol=1e-4)  # attention mass over tokens per window
    if model.model.config.fusion == "legacy":
        assert np.abs(r.attention["category"][:, fp1]).max() < 1e-6  # a masked token is never attended
    else:  # fusion "mmq": a masked token is read through its reconstruction (never through its own values)
        assert r.attention["category"][:, fp1].min() > 0
    assert r.interference_pred.shape == (40,) and r.artifact_probs.shape == (40, 6)
    assert set(r.timings) == {"preprocess", "features", "inference"}
    np.testing.assert_allclose(r.uncertainty, binary_entropy(r.probabilities))


def test_masks_change_the_prediction_only_through_hidden_tokens(recording, model, features):
    full = analyze_features(features, None, model)
    masked = analyze_features(features, MaskSet().with_channel("Fz"), model)
    assert not np.allclose(full.probabilities, masked.probabilities)
    again = analyze_features(features, MaskSet().with_channel("Fz"), model)
    np.testing.assert_array_equal(masked.probabilities, again.probabilities)  # deterministic (no dropout at test)


def test_cancel_midway_raises(recording, model):
    ev = threading.Event()
    seen = []

    def progress(fraction, message):
        seen.append(fraction)
        if "batch" in message:  # first model batch done: cancel before the next one
            ev.set()

    with pytest.raises(Cancelled):
        analyze(recording, None, model, batch_size=2, progress=progress, cancel=ev)
    assert seen and max(seen) < 1.0


def test_every_channel_masked_is_a_clear_error(recording, model):
    masks = MaskSet()
    for name in recording.ch_names:
        masks = masks.with_channel(name)
    with pytest.raises(MaskError, match="Every token of .* is masked or missing: nothing to analyse -- unmask at "
                                        "least one channel"):
        analyze(recording, masks, model)


def test_infinite_features_are_refused(features, model):
    values = features.values.copy()
    values[3, 5, 0] = np.inf
    bad = dataclasses.replace(features, values=values)
    with pytest.raises(MMQNetError, match=r"contain 1 infinite value\(s\) in visible tokens \(first: window 3 "
                                          r"at 3.0 s, token 'FC1', column 0\)"):
        analyze_features(bad, None, model)
    # the same value in a masked token is fine
    masked = np.zeros(features.missing.shape, bool)
    masked[3, 5] = True
    assert analyze_features(bad, None, model, token_mask=masked).hidden[3, 5]


def test_a_nan_feature_is_missing_on_its_own(features, model):
    # issue 9: one feature that could not be computed no longer hides the token nor stops the analysis
    values = features.values.copy()
    values[3, 5, 0] = np.nan
    r = analyze_features(dataclasses.replace(features, values=values), None, model)
    assert not r.hidden[3, 5] and not r.feature_valid[3, 5, 0] and r.feature_valid[3, 5, 1]
    assert np.isfinite(r.probabilities).all()
    fc1 = r.summary()["missing"]["tokens"]["FC1"]
    assert fc1["features_not_computed"] == {features.columns(5)[0]: 1}
    # every feature NaN: the token is hidden, and the summary says the detector found nothing
    values[4, 5, :] = np.nan
    r = analyze_features(dataclasses.replace(features, values=values), None, model)
    assert r.hidden[4, 5] and r.summary()["missing"]["tokens"]["FC1"]["reasons"] == {"detector found nothing": 1}


def _two_channel_recording(modality):
    import mne

    info = mne.create_info(["Foo", "Bar"], 128.0, "misc")
    raw = mne.io.RawArray(np.random.default_rng(0).normal(size=(2, 128 * 20)) * 1e-5, info, verbose="error")
    chans = (ChannelInfo("Foo", modality, 128.0), ChannelInfo("Bar", modality, 128.0))
    return Recording(raw=raw, channels=chans)


def test_no_matching_channel_is_a_clear_error(model):
    rec = _two_channel_recording(Modality.EEG)  # EEG, but not named like any electrode of the layout
    with pytest.raises(MMQNetError, match="No channel of recording matches the model's layout"):
        analyze(rec, None, model)


def test_recording_without_eeg_is_a_clear_error(model):
    rec = _two_channel_recording(Modality.MISC)
    with pytest.raises(MMQNetError, match=r"recording has no EEG channel \(channels: Foo, Bar\); MMQ-Net needs EEG"):
        analyze(rec, None, model)


def test_recording_missing_modalities_gets_missing_tokens(recording, model):
    keep = [i for i, c in enumerate(recording.channels) if c.modality != Modality.GSR]
    raw = recording.raw.copy().pick(keep)
    rec = dataclasses.replace(recording, raw=raw, channels=tuple(recording.channels[i] for i in keep))
    r = analyze(rec, None, model)
    gsr = r.token_index("GSR")
    assert r.token_channels[gsr] is None and r.data_missing[:, gsr].all() and not r.user_masked[:, gsr].any()
    assert np.isfinite(r.recon[:, gsr][:, r.valid[gsr]]).all()


def test_save_writes_every_file(tmp_path, features, model):
    r = analyze_features(features, MaskSet().with_channel("O2"), model, title="x (SYNTHETIC)", is_synthetic=True)
    paths = r.save(tmp_path / "out")
    traj = pd.read_parquet(paths["parquet"])
    assert len(traj) == 40 and {"valence_prob", "arousal_uncertainty", "hidden_fraction"} <= set(traj.columns)
    pd.testing.assert_frame_equal(pd.read_csv(paths["csv"]), traj, check_dtype=False, atol=1e-5)
    with np.load(paths["reconstructions"]) as z:
        assert z["recon"].shape == (40, 40, features.n_features) and z["hidden"][:, 31].all()  # O2
    with np.load(paths["attention"]) as z:
        assert z["attention_category"].shape == (40, 40)
    summary = json.loads(paths["summary"].read_text())
    assert summary["synthetic_recording"] is True and "SYNTHETIC" in summary["model"]
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_model_without_modality_queries_has_no_reconstruction(features):
    m = make_model(features, use_modality_queries=False)
    r = analyze_features(features, MaskSet().with_channel("Cz"), m)
    assert r.recon is None and "modality" not in r.attention
    with pytest.raises(Exception, match="Cz|no waveform"):
        r.reconstructed_waveform("Cz")


def test_only_hidden_tokens_are_reconstructed_and_attended_by_modality_queries(features, model):
    import torch

    from mmqnet_core.inference import run_contexts

    r = analyze_features(features, MaskSet().with_segment(SegmentMask(10.0, 20.0, ("GSR",))), model)
    gsr = r.token_index("GSR")
    windows_hidden = r.hidden.any(1)
    assert windows_hidden[10:20].all()
    # visible tokens carry no reconstruction; hidden ones do (finite)
    assert np.isnan(r.recon[~r.hidden]).all() and np.isfinite(r.recon[r.hidden]).all()
    # the modality map covers the reconstructions only: empty columns where nothing was hidden, mass 1 elsewhere
    att = r.attention["modality"]
    np.testing.assert_allclose(att[windows_hidden].sum(1), 1.0, atol=1e-4)
    assert np.abs(att[~windows_hidden]).max() == 0
    assert (~windows_hidden).sum() >= 20
    # reconstructing only the hidden tokens gives what a full reconstruction gives for them
    x = np.nan_to_num(np.asarray(features.values, np.float32))
    m = r.hidden[None, 8:12]  # one context (T = 4) with hidden GSR
    xb, mb = torch.from_numpy(x[None, 8:12]), torch.from_numpy(m)
    with torch.no_grad():
        full = model.model(xb, mb, recon_tokens=None).recon
    sub = run_contexts(model.model, x[None, 8:12], m, return_recon=True).recon
    np.testing.assert_allclose(sub[m], full.numpy()[m], rtol=1e-4, atol=1e-5)
    assert (sub[~m] == 0).all()


def test_a_regression_model_adds_predicted_scores(features, model):
    reg = make_model(features, regression=True)
    r = analyze_features(features, None, reg, attention=False)
    assert r.scores.shape == (r.n_windows, 2) and ((r.scores >= 1) & (r.scores <= 9)).all()
    table = r.trajectories()
    np.testing.assert_allclose(table["arousal_score"], r.scores[:, 1])
    assert set(r.summary()["mean_predicted_score"]) == {"valence", "arousal"}
    plain = analyze_features(features, None, model, attention=False)
    assert plain.scores is None and "valence_score" not in plain.trajectories()
    assert plain.summary()["mean_predicted_score"] is None


def test_summary_counts_hidden_windows_by_reason(features, model, tmp_path):
    fc1 = features.tokens[5]
    masks = (MaskSet()
             .with_segment(SegmentMask(2.0, 4.0, (fc1.channel,)))  # drawn by the user
             .with_segment(SegmentMask(6.0, 9.0, (fc1.channel,), source="simulated")))
    r = analyze_features(features, masks, model)
    n = features.tokens.index(fc1)
    hidden = r.hidden[:, n]
    entry = r.summary()["missing"]["tokens"][fc1.name]
    assert entry["hidden_windows"] == int(hidden.sum())
    assert entry["reasons"]["user mask"] == int((r.reason[:, n] == 6).sum()) >= 2
    assert entry["reasons"]["simulated missing"] == int((r.reason[:, n] == 5).sum()) >= 3
    assert set(np.unique(r.reason[~r.hidden])) == {0} and (r.reason[r.hidden] > 0).all()
    saved = json.loads(r.save(tmp_path)["summary"].read_text())
    assert saved["missing"]["tokens"][fc1.name]["reasons"] == entry["reasons"]
    assert saved["missing"]["reason_codes"]["user mask"] == 6


def test_feature_validity_reaches_the_model_when_the_engine_takes_it(features, model, monkeypatch):
    # the model side (MMQNet.forward(feature_valid=...)) may or may not be merged: analyze passes the (S, T, N, F)
    # validity only when run_contexts has the parameter
    import importlib

    mod = importlib.import_module("mmqnet_core.inference.analyze")

    seen = {}
    real = mod.run_contexts

    def with_validity(model_, x, missing, *, feature_valid=None, **kw):
        seen["fv"] = feature_valid
        return real(model_, x, missing, **kw)

    monkeypatch.setattr(mod, "run_contexts", with_validity)
    values = features.values.copy()
    values[3, 5, 0] = np.nan
    analyze_features(dataclasses.replace(features, values=values), None, model, attention=False)
    fv = seen["fv"]
    assert fv.shape == (1,) + features.values.shape and not fv[0, 3, 5, 0] and fv[0, 3, 5, 1]
