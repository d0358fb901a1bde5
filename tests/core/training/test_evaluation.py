"""Evaluation: metrics, baselines, the robustness table and its report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmqnet_core.errors import ConfigError
from mmqnet_core.evaluation import (
    COLUMNS,
    accuracy,
    evaluate,
    format_table,
    interpolate_time,
    macro_f1,
    masked_mse,
    write_report,
)
from mmqnet_core.evaluation.baselines import fit_logistic_regression, predict_logistic_regression
from mmqnet_core.training import TrainConfig

from .conftest import toy_corpus

TINY = dict(d_model=32, n_heads=2, n_enc_layers=1, n_windows=4, batch_size=16, folds=2, epochs=1)


def test_metrics_by_hand():
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([1, 0, 0, 1, 1])
    assert accuracy(y, p) == pytest.approx(3 / 5)
    # class 1: tp 2 fp 1 fn 1 -> F1 2/3; class 0: tp 1 fp 1 fn 1 -> 1/2
    assert macro_f1(y, p) == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert macro_f1(np.ones(4), np.ones(4)) == pytest.approx(0.5)  # absent class scores 0
    assert masked_mse(np.ones((2, 2)), np.zeros((2, 2)), np.array([[True, False], [False, False]])) == 1.0
    assert np.isnan(accuracy([], []))


def test_interpolation_is_exact_on_linear_series():
    t = np.arange(10.0)
    x = np.stack([t, 2 * t + 1], -1)[:, None, :].repeat(3, 1).astype(np.float32)  # (T, N=3, F=2)
    miss = np.zeros((10, 3), bool)
    miss[3:7, 0] = True  # interior gap: exact
    miss[:, 2] = True  # never visible: mean (0)
    miss[8:, 1] = True  # end gap: held constant
    out = interpolate_time(np.where(miss[..., None], 99.0, x), miss)
    np.testing.assert_allclose(out[:, 0], x[:, 0], atol=1e-5)
    assert (out[:, 2] == 0).all()
    np.testing.assert_allclose(out[8:, 1], np.repeat(x[7:8, 1], 2, 0))


def test_logistic_regression_learns_a_linear_rule():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3, 2)).astype(np.float32)
    y = np.stack([x[:, 0, 0] > 0, x[:, 2, 1] > 0], 1).astype(np.float32)
    model = fit_logistic_regression(x, y, epochs=40)
    acc = ((predict_logistic_regression(model, x) > 0.5) == y).mean(0)
    assert (acc > 0.95).all()


@pytest.mark.slow
def test_evaluation_table_rows_and_columns(tmp_path):
    corpus = toy_corpus(n_subjects=4, n_trials=10, n_windows=12)
    methods = ("MMQ-Net", "w/o modality queries", "mean-impute encoder", "logistic regression")
    table = evaluate(corpus, train_config=TrainConfig(**TINY), methods=methods, missing_rates=(0.0, 0.5))
    assert list(table.columns) == list(COLUMNS)
    cls = table[table["valence_acc"].notna()]
    assert len(cls) == len(methods) * 2
    assert set(table["method"]) == set(methods) | {"mean imputation", "linear interpolation"}
    assert table["split"].str.startswith("subject-independent (leave-subjects-out), fold 1/2").all()
    assert cls[["valence_acc", "arousal_acc", "valence_f1"]].apply(lambda c: c.between(0, 1)).all().all()
    half = table[table["missing_rate"] == 0.5]
    assert half["achieved_rate"].between(0.35, 0.55).all()
    # reconstruction error only where something is reconstructed
    assert table.loc[(table["method"] == "MMQ-Net") & (table["missing_rate"] == 0.5), "recon_mse"].notna().all()
    assert table.loc[table["method"] == "w/o modality queries", "recon_mse"].isna().all()
    assert table.loc[table["missing_rate"] == 0.0, "recon_mse"].isna().all()
    # the logistic regression sees the signal of the toy corpus on complete data
    assert cls.loc[(cls["method"] == "logistic regression") & (cls["missing_rate"] == 0), "valence_acc"].item() > 0.6
    text = format_table(table)
    assert ("Split: subject-independent (leave-subjects-out); features z-scored per subject, held-out subjects with "
            "their own statistics (transductive, unsupervised), mean over 1 fold(s)") in text
    assert "mean imputation" in text and "MMQ-Net" in text
    paths = write_report(table, tmp_path / "out", title="test")
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"
    md = paths["md"].read_text()
    mmq = table[(table["method"] == "MMQ-Net") & (table["missing_rate"] == 0.5)].iloc[0]
    assert f"| MMQ-Net | " in md and f"{mmq['valence_acc']:.3f} ± {mmq['valence_acc_se']:.3f}" in md
    assert "Difference to MMQ-Net" in md and "| mean-impute encoder |" in md and "| linear interpolation |" in md
    back = pd.read_csv(paths["csv"])
    assert len(back) == len(table)


def test_test_masks_are_the_same_for_every_method():
    from mmqnet_core.evaluation.protocol import masks_for_rate
    from mmqnet_core.model.normalization import Normalizer
    from mmqnet_core.training import prepare

    c = toy_corpus()
    data = prepare(c, Normalizer.fit(c.X, c.missing))
    a = masks_for_rate(data, np.arange(c.n_trials), 0.3, seed=0)
    b = masks_for_rate(data, np.arange(c.n_trials), 0.3, seed=0)
    np.testing.assert_array_equal(a, b)
    assert 0.2 < a.mean() < 0.35
    assert not masks_for_rate(data, np.arange(c.n_trials), 0.0, seed=0).any()


def test_evaluate_errors():
    c = toy_corpus()
    with pytest.raises(ConfigError, match=r"Unknown evaluation method\(s\) \['svm'\]"):
        evaluate(c, methods=("svm",))
    with pytest.raises(ConfigError, match="each rate must be 0 to 0.9, got 0.95"):
        evaluate(c, missing_rates=(0.95,))


def test_variant_names_match_the_table():
    from mmqnet_core.evaluation import MODEL_VARIANTS

    for name, overrides in MODEL_VARIANTS.items():
        assert TrainConfig(**overrides).variant == name


def test_subject_standard_errors_by_hand():
    from mmqnet_core.evaluation.protocol import _scores, subject_accuracy

    # 3 subjects x 1 trial x 4 windows, one target pair; labels all high (1)
    labels = np.ones((3, 2), np.int64)
    windows = np.ones((3, 4), bool)
    probs = np.zeros((3, 4, 2))
    probs[0, :4] = 0.9  # subject 0: 4/4 right
    probs[1, :2] = 0.9  # subject 1: 2/4
    probs[2, :1] = 0.9  # subject 2: 1/4
    subjects = np.array([5, 7, 9])
    per = subject_accuracy(probs, labels, windows, subjects)
    np.testing.assert_allclose(per[:, 0], [1.0, 0.5, 0.25])
    out = _scores(probs, labels, windows, subjects)
    assert out["valence_acc"] == pytest.approx(7 / 12)
    assert out["valence_acc_se"] == pytest.approx(np.std([1.0, 0.5, 0.25], ddof=1) / np.sqrt(3))
    assert np.isnan(out["valence_acc_diff_se"])  # no reference given
    # paired: a method that is 0.25 worse on every subject has a difference SE of 0
    worse = probs.copy()
    worse[:, :, :] = 0.0
    worse[0, :3] = 0.9
    worse[1, :1] = 0.9
    ref = per.copy()
    ref[2] = [0.5, 0.5]  # reference 0.5 on subject 2: differences -0.25, -0.25, -0.5
    out = _scores(worse, labels, windows, subjects, ref)
    assert out["valence_acc_diff_se"] == pytest.approx(np.std([-0.25, -0.25, -0.5], ddof=1) / np.sqrt(3))
    one = _scores(probs[:1], labels[:1], windows[:1], subjects[:1])
    assert np.isnan(one["valence_acc_se"])  # a single subject has no spread


@pytest.mark.slow
def test_evaluate_train_then_reuse_without_training(tmp_path, capsys, monkeypatch):
    from mmqnet_core.cli import main

    small = ["--subjects", "3", "--trials", "2", "--trial-s", "12", "--cache-dir", str(tmp_path / "cache"),
             "--workers", "1"]
    tiny = ["--epochs", "1", "--windows", "4", "--d-model", "32", "--folds", "3", "--batch-size", "8",
            "--threads", "1"]
    methods = ["--methods", "MMQ-Net,w/o interference queries,logistic regression", "--rates", "0,0.5"]
    first = tmp_path / "ev"
    assert main(["evaluate", "--train", "--data", "synthetic", "-o", str(first), *small, *tiny, *methods]) == 0
    out = capsys.readouterr().out
    assert "Difference to MMQ-Net in accuracy points" in out and "w/o interference queries" in out
    assert (first / "runs" / "fold0" / "mmq_net" / "checkpoint").exists()
    trained = pd.read_csv(first / "evaluation.csv")

    import mmqnet_core.training as training

    def no_training(*args, **kwargs):
        raise AssertionError("--reuse must not train")

    monkeypatch.setattr(training, "train", no_training)
    again = tmp_path / "again"
    assert main(["evaluate", "--reuse", str(first), "--data", "synthetic", "-o", str(again), *small,
                 "--rates", "0,0.5"]) == 0
    reused = pd.read_csv(again / "evaluation.csv")
    key = ["method", "condition"]
    merged = trained.merge(reused, on=key, suffixes=("", "_again"))
    assert set(merged["method"]) >= {"MMQ-Net", "w/o interference queries", "logistic regression"}
    np.testing.assert_allclose(merged["valence_acc"], merged["valence_acc_again"])
    assert main(["evaluate", "--reuse", str(tmp_path / "nothing"), "--data", "synthetic", "-o",
                 str(tmp_path / "x"), *small]) == 2
    assert "No trained model found (expected e.g." in capsys.readouterr().err
    assert main(["evaluate", "--reuse", str(first), "--data", "synthetic", "-o", str(tmp_path / "y"), *small,
                 "--eval-folds", "0,1"]) == 2
    assert "No trained models for fold(s) [1]" in capsys.readouterr().err


def test_fold_means_combine_standard_errors_of_independent_folds():
    from mmqnet_core.evaluation import summarize

    rows = [dict(split="subject-independent (leave-subjects-out), fold 1/5; x", fold=0, method="MMQ-Net",
                 missing_rate=0.0, valence_acc=0.7, valence_acc_se=0.03, arousal_acc=0.8, arousal_acc_se=0.04),
            dict(split="subject-independent (leave-subjects-out), fold 2/5; x", fold=1, method="MMQ-Net",
                 missing_rate=0.0, valence_acc=0.6, valence_acc_se=0.04, arousal_acc=0.6, arousal_acc_se=float("nan"))]
    s = summarize(pd.DataFrame(rows))
    assert len(s) == 1 and s["folds"].item() == 2
    assert s["valence_acc"].item() == pytest.approx(0.65)
    assert s["valence_acc_se"].item() == pytest.approx(np.sqrt(0.03 ** 2 + 0.04 ** 2) / 2)
    assert np.isnan(s["arousal_acc_se"].item())


def test_two_fold_tables_name_every_test_subject():
    from mmqnet_core.evaluation import markdown_table

    rows = []
    for fold in (0, 1):
        for method, acc in (("MMQ-Net", 0.7), ("logistic regression", 0.6)):
            rows.append(dict(split=f"subject-independent (leave-subjects-out), fold {fold + 1}/5; x", fold=fold,
                             method=method, missing_rate=0.0, valence_acc=acc, arousal_acc=acc, valence_acc_se=0.02,
                             arousal_acc_se=0.02, valence_acc_diff_se=0.01, arousal_acc_diff_se=0.01,
                             recon_mse=float("nan"), n_test_subjects=7))
    table = pd.DataFrame(rows)
    md = markdown_table(table)
    assert "14 test subjects (7 per fold, 2 folds; the SE of the fold mean)" in md
    assert "| logistic regression | -10.0 ± 0.7 | -10.0 ± 0.7 |" in md  # paired SE of the fold mean
    assert "14 test subjects" in format_table(table)


@pytest.mark.slow
def test_evaluate_a_checkpoint_folder_on_a_named_corpus(tmp_path, capsys):
    """``--checkpoint DIR --corpus FILE`` (how the model card reproduces its tables) gives the numbers ``--run`` gives
    for the same model on the same corpus; a bad corpus name and a checkpoint without its training configuration
    are clear errors."""
    import json

    from mmqnet_core.cli import main

    cache = tmp_path / "cache"
    small = ["--subjects", "3", "--trials", "2", "--trial-s", "12", "--cache-dir", str(cache), "--workers", "1"]
    tiny = ["--epochs", "1", "--windows", "4", "--d-model", "32", "--folds", "3", "--batch-size", "8",
            "--threads", "1"]
    run = tmp_path / "run"
    assert main(["train", "--data", "synthetic", "-o", str(run), *small, *tiny]) == 0
    corpus_file = json.loads((run / "data.json").read_text())["corpus_file"]
    common = ["--rates", "0,0.5", "--scenarios", "none", "--methods", "MMQ-Net,logistic regression"]
    assert main(["evaluate", "--run", str(run), "-o", str(tmp_path / "a"), *common]) == 0
    assert main(["evaluate", "--checkpoint", str(run / "checkpoint"), "--corpus", corpus_file,
                 "-o", str(tmp_path / "b"), *common]) == 0
    out = capsys.readouterr().out
    assert f"corpus: {corpus_file}" in out
    a = pd.read_csv(tmp_path / "a" / "evaluation.csv")
    b = pd.read_csv(tmp_path / "b" / "evaluation.csv")
    assert len(a) == len(b) and set(a["method"]) == {"MMQ-Net", "logistic regression", "mean imputation",
                                                     "linear interpolation", "spherical spline (mne)"}
    for col in ("valence_acc", "arousal_acc", "valence_ece", "recon_mse"):
        np.testing.assert_array_equal(a[col].to_numpy(float), b[col].to_numpy(float), err_msg=col)
    assert main(["evaluate", "--checkpoint", str(run / "checkpoint"), "--corpus", str(tmp_path / "nope.npz"),
                 "-o", str(tmp_path / "c"), *common]) == 2
    assert "Invalid value for '--corpus'" in capsys.readouterr().err
    meta = json.loads((run / "checkpoint" / "config.json").read_text())
    # the checkpoint names its training corpus: the cache key of the file it was trained on, and its digest
    from mmqnet_core.datasets.corpus import Corpus
    from mmqnet_core.datasets.pinned import corpus_digest

    recorded = meta["extra"]["training_corpus"]
    assert Path(corpus_file).name == f"corpus_{recorded['key']}.npz" and recorded["pinned"] is False
    assert recorded["digest"] == corpus_digest(Corpus.load(corpus_file))
    del meta["extra"]["train_config"]
    (run / "checkpoint" / "config.json").write_text(json.dumps(meta))
    assert main(["evaluate", "--checkpoint", str(run / "checkpoint"), "--corpus", corpus_file,
                 "-o", str(tmp_path / "d"), *common]) == 2
    assert "no stored training configuration" in capsys.readouterr().err
