"""extract_features: layout binding, missing tokens, interference, FeatureSet and DataFrame."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mmqnet_core.errors import Cancelled, ConfigError
from mmqnet_core.features import (
    DEAP_CHANNEL_NAMES, DEAP_LAYOUT, EXTRACTORS, FeatureConfig, Token, bind_layout, extract_features, layout_for,
)  # fmt: skip
from mmqnet_core.recording import Annotation, ChannelInfo, Modality

from .helpers import FS, pulse_train, signals, times

M = Modality


def _mixed(duration_s: float = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = times(duration_s)
    eeg = lambda f: 1e-5 * np.sin(2 * np.pi * f * t) + 2e-6 * rng.standard_normal(t.size)  # noqa: E731
    return signals([
        ("EEG Fp1-REF", M.EEG, "V", eeg(10)),
        ("O2", M.EEG, "V", eeg(20)),
        ("Cz", M.EEG, "V", np.zeros(t.size)),  # flat electrode
        ("EXG1", M.ECG, "V", 1e-3 * pulse_train(t, np.arange(0.5, duration_s, 0.8), 0.015)),
        ("GSR1", M.GSR, "uS", 5 + 0.01 * t + 0.001 * rng.standard_normal(t.size)),
        ("GSR2", M.GSR, "uS", 6 + 0.01 * t + 0.001 * rng.standard_normal(t.size)),
        ("Status", M.STIM, "", np.zeros(t.size)),
    ])


def test_deap_layout_and_binding_rules():
    assert len(DEAP_LAYOUT) == 40 and tuple(t.name for t in DEAP_LAYOUT) == DEAP_CHANNEL_NAMES
    assert [t.modality for t in DEAP_LAYOUT[32:]] == [M.EOG, M.EOG, M.EMG, M.EMG, M.GSR, M.RESP, M.PPG, M.TEMP]
    sig = _mixed()
    bound = {t.name: t.channel for t in bind_layout(DEAP_LAYOUT, sig.channels)}
    assert bound["Fp1"] == "EEG Fp1-REF" and bound["O2"] == "O2" and bound["Cz"] == "Cz"
    assert bound["GSR"] == "GSR1"  # first GSR channel by modality order
    assert bound["Plet"] is None  # modalities are strict: ECG does not feed the PPG token
    assert bound["Fz"] is None and bound["Temp"] is None
    # an explicit channel wins over name matching
    (tok,) = bind_layout([Token("GSR", M.GSR, "GSR2")], sig.channels)
    assert tok.channel == "GSR2"


def test_layout_for_skips_non_physiological():
    tokens = layout_for(_mixed(10).channels)
    assert [t.name for t in tokens] == ["EEG Fp1-REF", "O2", "Cz", "EXG1", "GSR1", "GSR2"]
    assert all(t.channel == t.name for t in tokens)


def test_shapes_valid_and_missing_with_deap_layout():
    sig = _mixed()
    fs = extract_features(sig, layout=DEAP_LAYOUT)
    cfg = FeatureConfig()
    n_gsr = len(EXTRACTORS[M.GSR].names(cfg))
    assert fs.values.shape == (60, 40, n_gsr) and fs.values.dtype == np.float32
    assert fs.n_windows == 60 and fs.n_tokens == 40 and fs.n_features == n_gsr
    for n, tok in enumerate(fs.tokens):
        assert fs.valid[n].sum() == len(fs.feature_names[tok.modality])
        assert not fs.values[:, n, ~fs.valid[n]].any()
    idx = {t.name: n for n, t in enumerate(fs.tokens)}
    assert fs.missing[:, idx["Fz"]].all() and fs.missing[:, idx["Plet"]].all()  # absent channels
    assert fs.missing[:, idx["Cz"]].all()  # flat channel
    assert not fs.missing[:, idx["Fp1"]].any() and not fs.missing[:, idx["GSR"]].any()
    assert not fs.values[fs.missing].any()
    assert fs.waveform[M.GSR] == slice(4, 4 + cfg.waveform_points)
    np.testing.assert_allclose(fs.window_starts, np.arange(60.0))
    # the alpha sine on Fp1 gives its largest DE in alpha
    names = fs.feature_names[M.EEG]
    de = fs.values[:, idx["Fp1"], : len(names) // 2]
    assert (de.argmax(-1) == 1).all()


def test_nan_span_marks_only_those_windows():
    sig = _mixed(20)
    sig.data[1, int(5.5 * FS) : int(7.2 * FS)] = np.nan
    fs = extract_features(sig)
    o2 = fs.token_names.index("O2")
    assert np.flatnonzero(fs.missing[:, o2]).tolist() == [5, 6, 7]
    assert np.isfinite(fs.values).all()


def test_ecg_heart_rate_through_pipeline():
    fs = extract_features(_mixed())
    n = fs.token_names.index("EXG1")
    hr = fs.values[5:-5, n, fs.feature_names[M.ECG].index("hr")]
    np.testing.assert_allclose(hr, 75, atol=1.5)


def test_overlapping_windows_and_t0():
    fs = extract_features(_mixed(20), FeatureConfig(window_s=2.0, step_s=0.5), t0_s=100.0)
    assert fs.n_windows == 1 + (20 - 2) * 2
    np.testing.assert_allclose(fs.window_starts[:3], [100.0, 100.5, 101.0])
    assert fs.window_s == 2.0


def test_interference_from_annotations():
    sig = _mixed(20)
    anns = [
        Annotation(3.5, 1.0, "BAD_muscle", ("O2",)),  # covers half of windows 3 and 4 on one channel
        Annotation(3.0, 0.25, "BAD_jump", ("O2",)),  # union with the above on O2
        Annotation(10.0, 2.0, "BAD_flat"),  # all channels
        Annotation(15.0, 2.0, "BAD_mask"),  # user mask: not interference
        Annotation(17.0, 1.0, "stimulus"),  # not BAD
    ]
    fs = extract_features(sig, FeatureConfig(hf_z_threshold=None), interference=anns)
    expected = np.zeros(20)
    expected[3], expected[4], expected[10], expected[11] = 0.75, 0.5, 1.0, 1.0
    np.testing.assert_allclose(fs.interference, expected, atol=1e-6)


def test_hf_interference_score_flags_muscle_burst():
    rng = np.random.default_rng(3)
    t = times(60)
    data = []
    for _ in range(4):
        x = 1e-5 * np.sin(2 * np.pi * 10 * t) + 1e-6 * rng.standard_normal(t.size)
        x[int(30 * FS) : int(32 * FS)] += 2e-5 * rng.standard_normal(int(2 * FS))  # broadband muscle burst
        data.append(x)
    sig = signals([(f"E{i}", M.EEG, "V", d) for i, d in enumerate(data)])
    fs = extract_features(sig)
    assert fs.interference[30] == 1.0 and fs.interference[31] == 1.0
    assert fs.interference[np.r_[0:29, 33:60]].max() == 0.0


def test_to_dataframe_long_and_wide():
    fs = extract_features(_mixed(10), layout=[Token("Fp1", M.EEG), Token("GSR", M.GSR), Token("Plet", M.PPG)])
    df = fs.to_dataframe()
    n_cols = len(fs.feature_names[M.EEG]) + len(fs.feature_names[M.GSR]) + len(fs.feature_names[M.PPG])
    assert len(df) == 10 * n_cols
    row = df[(df.token == "GSR") & (df.feature == "level") & (df.window_start == 3.0)].iloc[0]
    assert row.unit == "uS" and row.channel == "GSR1" and not row.missing
    assert row.value == pytest.approx(fs.values[3, 1, 0])
    assert df[df.token == "Plet"].value.isna().all() and df[df.token == "Plet"].missing.all()
    wide = fs.to_dataframe(wide=True)
    assert wide.shape == (10, 2 + n_cols + 3)
    assert wide["Fp1:de_alpha"].iloc[2] == pytest.approx(fs.values[2, 0, 1])


def test_progress_and_cancel():
    calls = []
    extract_features(_mixed(10), progress=lambda f, m: calls.append(f))
    assert calls[-1] == 1.0 and calls == sorted(calls)
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        extract_features(_mixed(10), cancel=ev)


def test_errors_name_the_problem():
    sig = signals([("Status", M.STIM, "", np.zeros(256))])
    with pytest.raises(ConfigError, match="no physiological channel.*Status"):
        extract_features(sig)
    with pytest.raises(ConfigError, match="No feature extractor for modality MISC"):
        extract_features(_mixed(10), layout=[Token("x", M.MISC)])


def test_deap_names_match_synthetic_generator():
    synthetic = pytest.importorskip("mmqnet_core.datasets.synthetic")
    if not hasattr(synthetic, "DEAP_CHANNELS"):
        pytest.skip("synthetic.DEAP_CHANNELS not available")
    assert tuple(synthetic.DEAP_CHANNELS) == DEAP_CHANNEL_NAMES


def test_channel_infos_unchanged():
    """ChannelInfo of Signals is not modified by extraction (frozen inputs)."""
    sig = _mixed(10)
    before = tuple(sig.channels)
    extract_features(sig)
    assert sig.channels == before and isinstance(sig.channels[0], ChannelInfo)
