"""Writing an evaluation table: CSV, a PNG plot (matplotlib, Agg backend), a text table for the terminal and a
Markdown table for model cards."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..fileio import atomic_write
from .protocol import RECON_ONLY, REFERENCE, summarize


def _test_subjects(table: pd.DataFrame) -> str:
    """"7 test subjects" (one fold) or "14 test subjects (7 per fold, 2 folds)"."""
    if "n_test_subjects" not in table:
        return "test subjects"
    per_fold = table.groupby("fold")["n_test_subjects"].first()
    if len(per_fold) == 1:
        return f"{int(per_fold.iloc[0])} test subjects"
    each = sorted({int(v) for v in per_fold})
    return (f"{int(per_fold.sum())} test subjects ({'/'.join(map(str, each))} per fold, {len(per_fold)} folds; "
            "the SE of the fold mean)")


def _short(condition: str) -> str:
    """Column label of a condition: "30 %" -> "30%", "EEG missing" -> "-EEG", "gaps 10-60 s" -> "gaps",
    "artifacts x4" -> "art.x4", "artifacts x1 (rebuilt)" -> "art.x1", "artifacts x4, uncleaned" -> "art.x4-raw",
    "half of EEG channels missing" -> "-EEG/2" (every condition keeps a label of its own)."""
    if condition.startswith("artifacts x"):
        factor = condition[len("artifacts "):].split(" ")[0].rstrip(",")
        return f"art.{factor}" + ("-raw" if condition.endswith(", uncleaned") else "")
    if condition == "half of EEG channels missing":
        return "-EEG/2"
    if condition.endswith(" %"):
        return condition.replace(" ", "")
    if condition == "peripheral missing":
        return "-periph"
    if condition.endswith(" missing"):
        return "-" + condition[: -len(" missing")]
    return condition.split(" ")[0]


def _conditions(part: pd.DataFrame) -> list[str]:
    """Conditions in table order (random rates ascending first, then the scenarios as evaluated)."""
    order = list(dict.fromkeys(part["condition"]))
    rates = part.drop_duplicates("condition").set_index("condition")["missing_rate"]
    random = sorted((c for c in order if pd.notna(rates[c])), key=lambda c: rates[c])
    return random + [c for c in order if pd.isna(rates[c])]


def _differences(cls: pd.DataFrame, conds: list) -> dict[str, list[tuple[float, float]]]:
    """Per method other than the reference: (difference to it, paired SE) in accuracy points, valence then arousal
    for each condition; empty when the reference or the paired SE columns are missing."""
    others = [m for m in dict.fromkeys(cls["method"]) if m != REFERENCE]
    if REFERENCE not in set(cls["method"]) or not others or "valence_acc_diff_se" not in cls:
        return {}
    ref = cls[cls["method"] == REFERENCE].set_index("condition")
    out = {}
    for method in others:
        rows = cls[cls["method"] == method].set_index("condition")
        out[method] = [(100 * (rows.loc[r, f"{t}_acc"] - ref.loc[r, f"{t}_acc"]), 100 * rows.loc[r, f"{t}_acc_diff_se"])
                       for r in conds for t in ("valence", "arousal")]
    return out


def _recon_part(part: pd.DataFrame) -> pd.DataFrame:
    return part[part["recon_mse"].notna() & (part["missing_rate"].isna() | (part["missing_rate"] > 0))]


def format_table(table: pd.DataFrame) -> str:
    """Fold-averaged accuracy / F1 per method and condition as text, headed by the split."""
    s = summarize(table)
    lines = []
    for split, part in s.groupby("split", sort=False):
        n_folds = int(part["folds"].iloc[0])
        lines.append(f"Split: {split}, mean over {n_folds} fold(s); accuracy/F1 per window, "
                     "trial accuracy = probabilities averaged over the trial's windows")
        cls = part[~part["method"].isin(RECON_ONLY)]
        conds = _conditions(cls)
        lines.append("Accuracy, valence/arousal per condition (N% = random missingness, -X = modality X missing, "
                     "gaps = contiguous 10-60 s gaps):")
        header = f"{'method':<28}" + "".join(f"  V@{_short(c)}  A@{_short(c)}".rjust(17) for c in conds)
        lines.append(header)
        for method in dict.fromkeys(cls["method"]):
            rows = cls[cls["method"] == method].set_index("condition")
            cells = "".join(f"{rows.loc[c, 'valence_acc']:7.3f}{rows.loc[c, 'arousal_acc']:7.3f}".rjust(17)
                            if c in rows.index else " " * 17 for c in conds)
            lines.append(f"{method:<28}{cells}")
        if "valence_acc_se" in cls and cls["valence_acc_se"].notna().any():
            lines.append(f"Standard error over the {_test_subjects(table)} (accuracy points), median over methods "
                         f"and conditions: valence {100 * cls['valence_acc_se'].median():.1f}, arousal "
                         f"{100 * cls['arousal_acc_se'].median():.1f}")
        diffs = _differences(cls, conds)
        if diffs:
            lines.append(f"Difference to {REFERENCE} in accuracy points, +- paired standard error over test subjects:")
            lines.append(f"{'method':<28}" + "".join(f"V@{_short(c)}".rjust(13) + f"A@{_short(c)}".rjust(13)
                                                     for c in conds))
            for method, pairs in diffs.items():
                lines.append(f"{method:<28}" + "".join(f"{d:+6.1f}+-{e:4.1f}".rjust(13) for d, e in pairs))
        if "valence_ece" in cls and cls["valence_ece"].notna().any():
            lines.append("Calibration: ECE valence/arousal per condition (Brier scores in the CSV):")
            lines.append(f"{'method':<28}" + "".join(f"  V@{_short(c)}  A@{_short(c)}".rjust(17) for c in conds))
            for method in dict.fromkeys(cls["method"]):
                rows = cls[cls["method"] == method].set_index("condition")
                lines.append(f"{method:<28}" + "".join(
                    f"{rows.loc[c, 'valence_ece']:7.3f}{rows.loc[c, 'arousal_ece']:7.3f}".rjust(17)
                    if c in rows.index else " " * 17 for c in conds))
        rec = _recon_part(part)
        if len(rec):
            lines.append("Reconstruction MSE of hidden tokens (normalised units):")
            rconds = [c for c in _conditions(rec)]
            wide_r = rec.pivot_table(index="method", columns="condition", values="recon_mse", sort=False)
            lines.append(f"{'method':<28}" + "".join(f"@{_short(c)}".rjust(9) for c in rconds))
            for method, vals in wide_r.iterrows():
                lines.append(f"{method:<28}" + "".join(f"{vals.get(c, float('nan')):9.3f}" for c in rconds))
    return "\n".join(lines)


def markdown_table(table: pd.DataFrame) -> str:
    """The fold-averaged table as Markdown (for model cards): per-window accuracy of valence / arousal per method
    and condition with the standard error over test subjects, each method's paired difference to MMQ-Net, the worst
    test subject, calibration (ECE, Brier) and the reconstruction error against its baselines. Generated from the
    evaluation itself so that a card cannot drift from its CSV."""
    s = summarize(table)
    out = []
    for split, part in s.groupby("split", sort=False):
        cls = part[~part["method"].isin(RECON_ONLY)]
        conds = _conditions(cls)
        out.append(f"Split: {split}; mean over {int(part['folds'].iloc[0])} fold(s); per-window accuracy"
                   + (f" ± standard error over the {_test_subjects(table)}" if "n_test_subjects" in table else "")
                   + ". Conditions: N% = random missingness, -X = modality X missing for the whole recording, "
                   "-periph = every peripheral channel missing, gaps = contiguous 10-60 s gaps of one modality.")
        out.append("")
        head = "| method | " + " | ".join(f"V@{_short(c)} | A@{_short(c)}" for c in conds) + " |"
        out += [head, "|---|" + "---|" * (2 * len(conds))]

        def cell(row: pd.Series, t: str) -> str:
            se = row.get(f"{t}_acc_se", float("nan"))
            return f"{row[f'{t}_acc']:.3f}" + ("" if pd.isna(se) else f" ± {se:.3f}")

        for method in dict.fromkeys(cls["method"]):
            rows = cls[cls["method"] == method].set_index("condition")
            out.append(f"| {method} | " + " | ".join(f"{cell(rows.loc[c], 'valence')} | {cell(rows.loc[c], 'arousal')}"
                                                    if c in rows.index else " | " for c in conds) + " |")
        diffs = _differences(cls, conds)
        if diffs:
            out += ["", f"Difference to {REFERENCE} (accuracy points, ± paired standard error over test subjects; "
                    "negative = below MMQ-Net):", "", head, "|---|" + "---|" * (2 * len(conds))]
            for method, pairs in diffs.items():
                cells = [f"{d:+.1f}" + ("" if pd.isna(e) else f" ± {e:.1f}") for d, e in pairs]
                out.append(f"| {method} | " + " | ".join(cells) + " |")
        if "valence_acc_cond_diff" in cls and cls["valence_acc_cond_diff"].notna().any():
            from .protocol import PAIRED_REFERENCE

            paired = [c for c in conds if c in PAIRED_REFERENCE and cls.loc[cls["condition"] == c,
                                                                              "valence_acc_cond_diff"].notna().any()]
            out += ["", "Change from the paired reference condition (each method's own accuracy there; points, "
                    "± paired standard error over test subjects): " + "; ".join(
                        f"{_short(c)} vs {_short(PAIRED_REFERENCE[c])}" for c in paired) + ".", "",
                    "| method | " + " | ".join(f"V@{_short(c)} | A@{_short(c)}" for c in paired) + " |",
                    "|---|" + "---|" * (2 * len(paired))]

            def change(row: pd.Series, t: str) -> str:
                d, e = row.get(f"{t}_acc_cond_diff", float("nan")), row.get(f"{t}_acc_cond_diff_se", float("nan"))
                return "" if pd.isna(d) else f"{100 * d:+.1f}" + ("" if pd.isna(e) else f" ± {100 * e:.1f}")

            for method in dict.fromkeys(cls["method"]):
                rows = cls[cls["method"] == method].set_index("condition")
                out.append(f"| {method} | " + " | ".join(
                    f"{change(rows.loc[c], 'valence')} | {change(rows.loc[c], 'arousal')}" if c in rows.index
                    else " | " for c in paired) + " |")
        if "valence_acc_min_subject" in cls and cls["valence_acc_min_subject"].notna().any():
            out += ["", "Worst test subject (per-window accuracy):", "", head, "|---|" + "---|" * (2 * len(conds))]
            for method in dict.fromkeys(cls["method"]):
                rows = cls[cls["method"] == method].set_index("condition")
                out.append(f"| {method} | " + " | ".join(
                    f"{rows.loc[c, 'valence_acc_min_subject']:.2f} | {rows.loc[c, 'arousal_acc_min_subject']:.2f}"
                    for c in conds) + " |")
        if "valence_ece" in cls and cls["valence_ece"].notna().any():
            out += ["", "Calibration per window: ECE / Brier score (lower is better):", "", head,
                    "|---|" + "---|" * (2 * len(conds))]
            for method in dict.fromkeys(cls["method"]):
                rows = cls[cls["method"] == method].set_index("condition")
                out.append(f"| {method} | " + " | ".join(
                    f"{rows.loc[c, 'valence_ece']:.3f} / {rows.loc[c, 'valence_brier']:.3f} | "
                    f"{rows.loc[c, 'arousal_ece']:.3f} / {rows.loc[c, 'arousal_brier']:.3f}" for c in conds) + " |")
        rec = _recon_part(part)
        if len(rec):
            rconds = _conditions(rec)
            wide = rec.pivot_table(index="method", columns="condition", values="recon_mse", sort=False)
            out += ["", "Reconstruction MSE of hidden tokens (normalised units):", "",
                    "| method | " + " | ".join(_short(c) for c in rconds) + " |",
                    "|---|" + "---|" * len(rconds)]
            out += [f"| {m} | " + " | ".join(f"{vals.get(c, float('nan')):.3f}" for c in rconds) + " |"
                    for m, vals in wide.iterrows()]
        if "recon_mse_slow" in part and part["recon_mse_slow"].notna().any():
            slow = part[part["recon_mse_slow"].notna() & part["method"].isin([REFERENCE, "linear interpolation"])]
            sconds = _conditions(slow)
            wide = slow.pivot_table(index="method", columns="condition", values="recon_mse_slow", sort=False)
            out += ["", "Slow signals (GSR, respiration, temperature): reconstruction MSE of hidden tokens:", "",
                    "| method | " + " | ".join(_short(c) for c in sconds) + " |", "|---|" + "---|" * len(sconds)]
            out += [f"| {m} | " + " | ".join(f"{vals.get(c, float('nan')):.3f}" for c in sconds) + " |"
                    for m, vals in wide.iterrows()]
        if "recon_mse_mmqnet_same" in part and part["recon_mse_mmqnet_same"].notna().any():
            sp = part[part["recon_mse_mmqnet_same"].notna()].set_index("condition")
            out += ["", "Hidden EEG channels: spherical-spline interpolation (MNE) vs MMQ-Net on the same entries "
                    "(MSE, normalised units):", "", "| condition | spherical spline (mne) | MMQ-Net |", "|---|---|---|"]
            out += [f"| {_short(c)} | {r['recon_mse_eeg']:.3f} | {r['recon_mse_mmqnet_same']:.3f} |"
                    for c, r in sp.iterrows()]
        out.append("")
    return "\n".join(out)


def plot_table(table: pd.DataFrame, path: str | os.PathLike, *, title: str = "") -> Path:
    """Accuracy per condition (valence, arousal) and reconstruction MSE, one line per method, as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    s = summarize(table)
    conds = _conditions(s)
    pos = {c: i for i, c in enumerate(conds)}
    fig = Figure(figsize=(15, 4.5), constrained_layout=True)
    axes = fig.subplots(1, 3)
    for ax, metric, label in ((axes[0], "valence_acc", "valence accuracy"),
                              (axes[1], "arousal_acc", "arousal accuracy"),
                              (axes[2], "recon_mse", "reconstruction MSE (normalised)")):
        for method, part in s.groupby("method", sort=False):
            part = part.dropna(subset=[metric])
            if metric == "recon_mse":
                part = part[part["missing_rate"].isna() | (part["missing_rate"] > 0)]
            if len(part):
                part = part.assign(x=part["condition"].map(pos)).sort_values("x")
                ax.plot(part["x"], part[metric], marker="o", label=method)
        ax.set_xticks(range(len(conds)), [_short(c) for c in conds], rotation=60, fontsize=7)
        ax.set_xlabel("condition (N% random missing, -X modality X missing, gaps 10-60 s)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if metric != "recon_mse":
            ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    split = "; ".join(dict.fromkeys(s["split"]))
    fig.suptitle(f"{title} - split: {split}" if title else f"split: {split}", fontsize=10)
    path = Path(path)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))


def write_report(table: pd.DataFrame, out_dir: str | os.PathLike, *, title: str = "") -> dict[str, Path]:
    """Write ``evaluation.csv`` (every fold), ``summary.csv`` (fold means), ``evaluation.png``, ``evaluation.md``
    and ``evaluation.txt`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    paths = {
        "csv": atomic_write(out / "evaluation.csv", lambda tmp: table.to_csv(tmp, index=False, float_format="%.5g")),
        "summary": atomic_write(out / "summary.csv",
                           lambda tmp: summarize(table).to_csv(tmp, index=False, float_format="%.5g")),
        "png": plot_table(table, out / "evaluation.png", title=title),
    }
    paths["md"] = atomic_write(out / "evaluation.md",
                               lambda tmp: Path(tmp).write_text(markdown_table(table), encoding="utf-8"))
    text = format_table(table)
    paths["txt"] = atomic_write(out / "evaluation.txt", lambda tmp: Path(tmp).write_text(text + "\n", encoding="utf-8"))
    return paths


__all__ = ["format_table", "markdown_table", "plot_table", "write_report"]
