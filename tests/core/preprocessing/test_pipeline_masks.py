"""preprocess(masks=...): what is under a mask is missing data and cannot reach any visible channel or feature."""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.errors import ConfigError
from mmqnet_core.features import extract_features, layout_for
from mmqnet_core.masking import MaskSet, SegmentMask, mask_samples, simulate_missing
from mmqnet_core.preprocessing import PreprocessConfig, preprocess

from ._helpers import UV, blinks, full_recording

SF = 256.0
DUR = 60.0


def _recording(noise_on: str | None = None, span: tuple[float, float] | None = None, seed: int = 40):
    """The DEAP-like test recording with blinks leaking into the EEG and 50 Hz line noise; optionally 200 uV of
    white noise (plus a 50 Hz burst and a blink-sized step) added to one channel, over ``span`` or all of it."""
    rec = full_recording(np.random.default_rng(seed), SF, DUR, line_freq=50.0)
    d = rec.raw._data
    blink = blinks(np.random.default_rng(seed + 1), d.shape[1], SF)
    d[rec.index("vEOG")] += blink
    for name, gain in (("Fp1", 0.5), ("Fp2", 0.45), ("F3", 0.3), ("F4", 0.25)):
        d[rec.index(name)] += gain * blink
    if noise_on is not None:
        rng = np.random.default_rng(99)
        a, b = (0, d.shape[1]) if span is None else (int(span[0] * SF), int(span[1] * SF))
        scale = 200 * UV if rec.channels[rec.index(noise_on)].unit == "V" else 3.0
        d[rec.index(noise_on), a:b] += scale * rng.standard_normal(b - a)
        d[rec.index(noise_on), a:b] += scale * np.sin(2 * np.pi * 50.0 * np.arange(b - a) / SF)
    return rec


def _features(res):
    return extract_features(res.cleaned, layout=layout_for(res.cleaned.channels),
                            interference=res.interference_relative())


def _visible_equal(a, b, masks: MaskSet, rec) -> None:
    """Cleaned signals and features of a and b agree wherever the masks leave data visible."""
    hidden = mask_samples(masks, rec.ch_names, a.sfreq, a.cleaned.n_times)
    assert np.isnan(a.cleaned.data[hidden]).all() and np.isnan(b.cleaned.data[hidden]).all()
    np.testing.assert_allclose(a.cleaned.data[~hidden], b.cleaned.data[~hidden], rtol=1e-6, atol=1e-12)
    assert a.interference == b.interference
    fa, fb = _features(a), _features(b)
    np.testing.assert_array_equal(fa.missing, fb.missing)
    vis = ~fa.missing[..., None] & fa.valid[None]
    np.testing.assert_allclose(fa.values[vis], fb.values[vis], rtol=1e-5, atol=1e-6)
    assert np.array_equal(fa.interference, fb.interference)


@pytest.mark.parametrize("eog_method", ["regression", "ica"])
def test_noise_on_a_masked_channel_changes_no_visible_channel_or_feature(eog_method):
    cfg = PreprocessConfig(eog_method=eog_method)
    masks = MaskSet().with_channel("F3")
    clean, noisy = _recording(), _recording("F3")
    a, b = preprocess(clean, cfg, masks=masks), preprocess(noisy, cfg, masks=masks)
    _visible_equal(a, b, masks, clean)
    assert np.isnan(a.cleaned.data[clean.index("F3")]).all()
    np.testing.assert_array_equal(b.raw.data[clean.index("F3")] != a.raw.data[clean.index("F3")], True)  # kept
    assert any(s.startswith("masks: 1 whole channel(s) (F3)") for s in a.steps)
    # control: without the mask the same noise reaches the other EEG channels (reference, EOG fit) and features
    u, v = preprocess(clean, cfg), preprocess(noisy, cfg)
    fz = clean.index("F4")
    assert np.abs(u.cleaned.data[fz] - v.cleaned.data[fz]).max() > 1 * UV


def test_noise_in_masked_segments_changes_nothing_visible():
    masks = (MaskSet().with_segment(SegmentMask(20.0, 30.0, ("F3",)))
             .with_segment(SegmentMask(12.0, 18.0, ("vEOG",)))
             .with_segment(SegmentMask(40.0, 44.5, ("GSR",))))
    clean = _recording()
    noisy = _recording("F3", (20.0, 30.0))
    noisy.raw._data[noisy.index("vEOG"), int(12 * SF):int(18 * SF)] += 300 * UV
    noisy.raw._data[noisy.index("GSR"), int(40 * SF):int(44.5 * SF)] += np.linspace(0, 4, int(4.5 * SF))
    a, b = preprocess(clean, masks=masks), preprocess(noisy, masks=masks)
    _visible_equal(a, b, masks, clean)
    # the visible parts of a partly masked channel are there, and the masked spans are not interference
    f3 = clean.index("F3")
    assert np.isfinite(a.cleaned.data[f3, : 20 * 128]).all() and np.isfinite(a.cleaned.data[f3, 30 * 128:]).all()
    assert not [x for x in b.interference if x.description == "BAD_jump" and 39 < x.onset < 45]
    # control: the same noise without masks reaches the visible channels
    u, v = preprocess(clean), preprocess(noisy)
    f4 = clean.index("F4")
    assert np.abs(u.cleaned.data[f4] - v.cleaned.data[f4]).max() > 1 * UV


def test_simulated_missing_data_is_masked_before_cleaning():
    """simulate_missing gives a MaskSet; the same masks path makes it missing data in the signals."""
    clean, noisy = _recording(), _recording("Fp2")
    sim = simulate_missing(clean.channels, clean.duration_s, 0.3, seed=3)
    sim = sim.with_channel("Fp2")
    a, b = preprocess(clean, masks=sim), preprocess(noisy, masks=sim)
    _visible_equal(a, b, sim, clean)
    hidden = mask_samples(sim, clean.ch_names, a.sfreq, a.cleaned.n_times)
    assert 0.25 < hidden.mean() < 0.45


def test_masks_are_checked():
    with pytest.raises(ConfigError, match="'masks' must be a MaskSet or None, got dict"):
        preprocess(_recording(), masks={"F3": True})


def test_mask_samples_maps_times_onto_the_grid():
    m = MaskSet().with_channel("A").with_segment(SegmentMask(1.0, 1.5, ("B",)))
    out = mask_samples(m, ["A", "B", "C"], 10.0, 30, offset_s=0.5)
    assert out[0].all() and not out[2].any()
    assert np.flatnonzero(out[1]).tolist() == [5, 6, 7, 8, 9]  # samples at 1.0 .. 1.4 s


@pytest.mark.parametrize("eog_method", ["regression", "ica"])
def test_a_masked_channel_is_as_if_it_were_absent(eog_method):
    """Masking F3 whole cleans the other channels exactly as if the recording had no F3 (reference, EOG fit...)."""
    from ._helpers import make_recording

    rec = _recording("F3")
    keep = [i for i, n in enumerate(rec.ch_names) if n != "F3"]
    without = make_recording(rec.raw._data[keep], SF, [rec.ch_names[i] for i in keep],
                             [rec.channels[i].modality for i in keep], units=[rec.channels[i].unit for i in keep])
    cfg = PreprocessConfig(eog_method=eog_method)
    a = preprocess(rec, cfg, masks=MaskSet().with_channel("F3"))
    b = preprocess(without, cfg)
    np.testing.assert_allclose(a.cleaned.data[keep], b.cleaned.data, rtol=1e-5, atol=1e-11)
    assert a.interference == b.interference
