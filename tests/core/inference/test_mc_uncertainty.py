"""Monte-Carlo (MC dropout / stochastic depth) uncertainty: engine, analyze_features, CLI."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest
import torch

from mmqnet_core.errors import Cancelled, ConfigError
from mmqnet_core.inference import analyze_features, binary_entropy
from mmqnet_core.inference.engine import STOCHASTIC_TYPES, mc_sampling_mode, run_contexts, stochastic_modules

from .conftest import make_model


@pytest.fixture(scope="module")
def mc_model(features):
    """Tiny untrained model with stochastic depth only (no element-wise dropout)."""
    return make_model(features, drop_path=0.2, dropout=0.0)


def _training_flags(model):
    return {name: m.training for name, m in model.named_modules()}


def test_without_mc_there_is_no_spread(features, mc_model):
    for n in (0, None):
        r = analyze_features(features, None, mc_model, attention=False, mc_samples=n)
        assert r.probability_std is None and r.mc_samples == 0
        assert not any(c.endswith("_std") for c in r.trajectories().columns)
        assert r.summary()["mc_samples"] == 0 and "no sampling" in r.summary()["uncertainty"]
    # the deterministic pass does not depend on the RNG
    a = analyze_features(features, None, mc_model, attention=False)
    torch.manual_seed(123)
    b = analyze_features(features, None, mc_model, attention=False)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)


def test_mc_samples_give_a_spread_and_the_entropy_of_the_mean(features, mc_model):
    r = analyze_features(features, None, mc_model, attention=False, mc_samples=8)
    assert r.probability_std.shape == r.probabilities.shape == (features.n_windows, 2)
    assert np.isfinite(r.probability_std).all() and (r.probability_std >= 0).all()
    assert r.probability_std.max() > 1e-3  # stochastic depth moves the prediction
    np.testing.assert_allclose(r.uncertainty, binary_entropy(r.probabilities))  # entropy of the MC mean
    traj = r.trajectories()
    np.testing.assert_allclose(traj["valence_std"], r.probability_std[:, 0])
    np.testing.assert_allclose(traj["arousal_std"], r.probability_std[:, 1])
    s = r.summary()
    assert s["mc_samples"] == 8 and "8 Monte-Carlo samples" in s["uncertainty"]
    assert set(s["mean_probability_std"]) == {"valence", "arousal"}
    assert any("Monte-Carlo" in step for step in r.steps)
    json.dumps(s)  # JSON-able


def test_mc_mean_is_close_to_the_deterministic_prediction_for_a_small_drop_rate(features):
    model = make_model(features, drop_path=0.01, dropout=0.0)
    det = analyze_features(features, None, model, attention=False)
    mc = analyze_features(features, None, model, attention=False, mc_samples=30)
    diff = np.abs(mc.probabilities - det.probabilities)
    assert diff.max() < 0.05 and diff.mean() < 0.02
    assert mc.probability_std.max() > 0  # still a spread


def test_mc_mean_and_std_match_a_manual_loop(features, mc_model):
    """Same seed: the engine's mean/std equal those of the samples drawn by hand with the same draws."""
    x = np.random.default_rng(0).standard_normal((1, 8, features.n_tokens, features.n_features)).astype(np.float32)
    missing = np.zeros((1, 8, features.n_tokens), bool)
    out = run_contexts(mc_model.model, x, missing, batch_size=64, mc_samples=5, mc_seed=3)
    det = run_contexts(mc_model.model, x, missing, batch_size=64)
    # the engine: deterministic pass, then 5 stochastic passes on the same batch, seeded once
    samples = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        xb = torch.from_numpy(x[0].reshape(2, 4, *x.shape[2:]))  # contexts [0:4], [4:8]
        mb = torch.from_numpy(missing[0].reshape(2, 4, -1))
        with mc_sampling_mode(mc_model.model), torch.no_grad():
            for _ in range(5):
                o = mc_model.model(xb, mb, allow_empty=True, recon_tokens=torch.zeros_like(mb))
                samples.append(o.probabilities.reshape(8, -1).numpy())
    samples = np.stack(samples)
    np.testing.assert_allclose(out.probabilities[0], samples.mean(0), atol=1e-5)
    np.testing.assert_allclose(out.probability_std[0], samples.std(0, ddof=1), atol=1e-5)
    np.testing.assert_allclose(det.probabilities, run_contexts(mc_model.model, x, missing).probabilities)
    assert det.probability_std is None


def test_same_seed_same_result_and_the_global_rng_is_untouched(features, mc_model):
    torch.manual_seed(42)
    before = torch.get_rng_state()
    a = analyze_features(features, None, mc_model, attention=False, mc_samples=4, mc_seed=7)
    assert torch.equal(torch.get_rng_state(), before)  # the caller's RNG state is as it was
    b = analyze_features(features, None, mc_model, attention=False, mc_samples=4, mc_seed=7)
    c = analyze_features(features, None, mc_model, attention=False, mc_samples=4, mc_seed=8)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    np.testing.assert_array_equal(a.probability_std, b.probability_std)
    assert not np.array_equal(a.probability_std, c.probability_std)


def test_only_stochastic_layers_are_in_training_mode_while_sampling(features):
    loaded = make_model(features, drop_path=0.2, dropout=0.1)
    model = loaded.model
    mods = stochastic_modules(model)
    assert mods and {type(m).__name__ for m in mods} == {"Dropout", "DropPath"}
    before = _training_flags(model)
    assert not any(before.values())  # an eval-mode model
    seen: list[tuple[str, bool]] = []
    hooks = [m.register_forward_pre_hook(lambda mod, _a: seen.append((type(mod).__name__, mod.training)))
             for m in model.modules()]
    try:
        analyze_features(features, None, loaded, attention=False, mc_samples=2)
    finally:
        for h in hooks:
            h.remove()
    training = {name for name, flag in seen if flag}
    assert training == {"Dropout", "DropPath"}  # LayerNorm, Linear, the model itself: never in training mode
    assert any(name == "LayerNorm" for name, _ in seen)
    assert _training_flags(model) == before  # restored
    assert all(isinstance(m, STOCHASTIC_TYPES) for m in mods)


def test_cancel_between_samples_restores_the_modes(features, mc_model):
    ev = threading.Event()
    messages = []

    def progress(fraction, message):
        messages.append(message)
        if "sample 1/" in message:  # the first MC sample of the first batch is done: stop before the second
            ev.set()

    before = _training_flags(mc_model.model)
    with pytest.raises(Cancelled):
        analyze_features(features, None, mc_model, attention=False, mc_samples=5, progress=progress, cancel=ev)
    assert not any("sample 2/" in m for m in messages)
    assert _training_flags(mc_model.model) == before and not any(before.values())  # still all in eval mode


def test_an_error_inside_a_sample_restores_the_modes(features, mc_model, monkeypatch):
    model = mc_model.model
    calls = []
    forward = type(model).forward

    def failing(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first Monte-Carlo pass
            raise RuntimeError("boom")
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(type(model), "forward", failing)
    before = _training_flags(model)
    with pytest.raises(RuntimeError, match="boom"):
        analyze_features(features, None, mc_model, attention=False, mc_samples=3)
    assert _training_flags(model) == before and not any(before.values())  # still all in eval mode


def test_a_model_without_stochastic_layers_is_a_clear_error(features):
    model = make_model(features, drop_path=0.0, dropout=0.0)
    assert stochastic_modules(model.model) == []
    with pytest.raises(ConfigError, match=r"'mc_samples'.*no stochastic layer.*dropout = 0, drop_path = 0.*use 0"):
        analyze_features(features, None, model, mc_samples=10)
    assert analyze_features(features, None, model, attention=False).probability_std is None  # 0 still works


@pytest.mark.parametrize("bad", [1, -3, 2.5, True, 5000])
def test_bad_sample_counts_are_refused(features, mc_model, bad):
    with pytest.raises(ConfigError, match=r"Invalid value for 'mc_samples': 0 \(off\) or an integer from 2"):
        analyze_features(features, None, mc_model, mc_samples=bad)


def test_cli_mc_samples_writes_std_columns(tmp_path, features, capsys):
    from mmqnet_core.cli import main
    from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf
    from mmqnet_core.model import save_checkpoint

    loaded = make_model(features, drop_path=0.2, dropout=0.0)
    ckpt = save_checkpoint(loaded.model, tmp_path / "ckpt", extra=dict(loaded.meta.extra),
                           normalizer=loaded.normalizer)
    bdf = write_bdf(generate_trial(SynthConfig(trial_s=12.0), 0, 1), tmp_path / "synthetic_s00.bdf")
    out = tmp_path / "out"
    assert main(["analyze", str(bdf), "--checkpoint", str(ckpt), "-o", str(out), "--device", "cpu",
                 "--mc-samples", "4"]) == 0
    printed = capsys.readouterr().out
    assert "uncertainty: 4 Monte-Carlo samples (seed 0)" in printed
    traj = pd.read_csv(out / "trajectories.csv")
    assert {"valence_std", "arousal_std"} <= set(traj.columns)
    assert traj["valence_std"].notna().all() and traj["valence_std"].max() > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mc_samples"] == 4 and "Monte-Carlo" in summary["uncertainty"]

    # without the flag: no std columns
    assert main(["analyze", str(bdf), "--checkpoint", str(ckpt), "-o", str(tmp_path / "plain"),
                 "--device", "cpu"]) == 0
    capsys.readouterr()
    assert not any(c.endswith("_std") for c in pd.read_csv(tmp_path / "plain" / "trajectories.csv").columns)

    # a model without stochastic layers: one error line, exit 2
    det = make_model(features, drop_path=0.0, dropout=0.0)
    ckpt0 = save_checkpoint(det.model, tmp_path / "ckpt0", extra=dict(det.meta.extra), normalizer=det.normalizer)
    assert main(["analyze", str(bdf), "--checkpoint", str(ckpt0), "-o", str(tmp_path / "x"), "--device", "cpu",
                 "--mc-samples", "4"]) == 2
    err = capsys.readouterr().err
    assert "error: Invalid value for 'mc_samples'" in err and "no stochastic layer" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()
