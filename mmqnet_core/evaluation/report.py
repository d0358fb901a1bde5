"""Writing an evaluation table: CSV, a PNG plot (matplotlib, Agg backend), a text table for the terminal and a
Markdown table for model cards."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..fileio import atomic_write
from .evaluate import RECON_ONLY, REFERENCE, summarize


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


def _differences(cls: pd.DataFrame, rates: list) -> dict[str, list[tuple[float, float]]]:
    """Per method other than the reference: (difference to it, paired SE) in accuracy points, valence then arousal
    for each rate; empty when the reference or the paired SE columns are missing."""
    others = [m for m in dict.fromkeys(cls["method"]) if m != REFERENCE]
    if REFERENCE not in set(cls["method"]) or not others or "valence_acc_diff_se" not in cls:
        return {}
    ref = cls[cls["method"] == REFERENCE].set_index("missing_rate")
    out = {}
    for method in others:
        rows = cls[cls["method"] == method].set_index("missing_rate")
        out[method] = [(100 * (rows.loc[r, f"{t}_acc"] - ref.loc[r, f"{t}_acc"]), 100 * rows.loc[r, f"{t}_acc_diff_se"])
                       for r in rates for t in ("valence", "arousal")]
    return out


def format_table(table: pd.DataFrame) -> str:
    """Fold-averaged accuracy / F1 per method and missing rate as text, headed by the split."""
    s = summarize(table)
    lines = []
    for split, part in s.groupby("split", sort=False):
        n_folds = int(part["folds"].iloc[0])
        lines.append(f"Split: {split}, mean over {n_folds} fold(s); accuracy/F1 per window, "
                     "trial accuracy = probabilities averaged over the trial's windows")
        cls = part[~part["method"].isin(RECON_ONLY)]
        wide = cls.pivot_table(index="method", columns="missing_rate", values=["valence_acc", "arousal_acc"],
                               sort=False)
        rates = sorted(cls["missing_rate"].unique())
        header = f"{'method':<28}" + "".join(f"  V@{r:.0%}  A@{r:.0%}".rjust(15) for r in rates)
        lines.append(header)
        for method in dict.fromkeys(cls["method"]):
            cells = "".join(
                f"{wide.loc[method, ('valence_acc', r)]:7.3f}{wide.loc[method, ('arousal_acc', r)]:7.3f}".rjust(15)
                for r in rates
            )
            lines.append(f"{method:<28}{cells}")
        if "valence_acc_se" in cls and cls["valence_acc_se"].notna().any():
            lines.append(f"Standard error over the {_test_subjects(table)} (accuracy points), median over methods "
                         f"and rates: valence {100 * cls['valence_acc_se'].median():.1f}, arousal "
                         f"{100 * cls['arousal_acc_se'].median():.1f}")
        diffs = _differences(cls, rates)
        if diffs:
            lines.append(f"Difference to {REFERENCE} in accuracy points, +- paired standard error over test subjects:")
            lines.append(f"{'method':<28}" + "".join(f"V@{r:.0%}".rjust(13) + f"A@{r:.0%}".rjust(13) for r in rates))
            for method, pairs in diffs.items():
                lines.append(f"{method:<28}" + "".join(f"{d:+6.1f}+-{e:4.1f}".rjust(13) for d, e in pairs))
        rec = part[part["recon_mse"].notna() & (part["missing_rate"] > 0)]
        if len(rec):
            lines.append("Reconstruction MSE of hidden tokens (normalised units):")
            wide_r = rec.pivot_table(index="method", columns="missing_rate", values="recon_mse", sort=False)
            lines.append(f"{'method':<28}" + "".join(f"@{r:.0%}".rjust(9) for r in wide_r.columns))
            for method, vals in wide_r.iterrows():
                lines.append(f"{method:<28}" + "".join(f"{v:9.3f}" for v in vals))
    return "\n".join(lines)


def markdown_table(table: pd.DataFrame) -> str:
    """The fold-averaged table as Markdown (for model cards): per-window accuracy of valence / arousal per method
    and rate with the standard error over test subjects, each method's paired difference to MMQ-Net, and the
    reconstruction error. Generated from the evaluation itself so that a card cannot drift from its CSV."""
    s = summarize(table)
    out = []
    for split, part in s.groupby("split", sort=False):
        cls = part[~part["method"].isin(RECON_ONLY)]
        rates = sorted(cls["missing_rate"].unique())
        out.append(f"Split: {split}; mean over {int(part['folds'].iloc[0])} fold(s); per-window accuracy"
                   + (f" ± standard error over the {_test_subjects(table)}" if "n_test_subjects" in table else "")
                   + ".")
        out.append("")
        head = "| method | " + " | ".join(f"V@{r:.0%} | A@{r:.0%}" for r in rates) + " |"
        out += [head, "|---|" + "---|" * (2 * len(rates))]

        def cell(row: pd.Series, t: str) -> str:
            se = row.get(f"{t}_acc_se", float("nan"))
            return f"{row[f'{t}_acc']:.3f}" + ("" if pd.isna(se) else f" ± {se:.3f}")

        for method in dict.fromkeys(cls["method"]):
            rows = cls[cls["method"] == method].set_index("missing_rate")
            out.append(f"| {method} | " + " | ".join(f"{cell(rows.loc[r], 'valence')} | {cell(rows.loc[r], 'arousal')}"
                                                    for r in rates) + " |")
        diffs = _differences(cls, rates)
        if diffs:
            out += ["", f"Difference to {REFERENCE} (accuracy points, ± paired standard error over test subjects; "
                    "negative = below MMQ-Net):", "", head, "|---|" + "---|" * (2 * len(rates))]
            for method, pairs in diffs.items():
                cells = [f"{d:+.1f}" + ("" if pd.isna(e) else f" ± {e:.1f}") for d, e in pairs]
                out.append(f"| {method} | " + " | ".join(cells) + " |")
        rec = part[part["recon_mse"].notna() & (part["missing_rate"] > 0)]
        if len(rec):
            wide = rec.pivot_table(index="method", columns="missing_rate", values="recon_mse", sort=False)
            out += ["", "Reconstruction MSE of hidden tokens (normalised units):", "",
                    "| method | " + " | ".join(f"{r:.0%}" for r in wide.columns) + " |",
                    "|---|" + "---|" * len(wide.columns)]
            out += [f"| {m} | " + " | ".join(f"{v:.3f}" for v in vals) + " |" for m, vals in wide.iterrows()]
        out.append("")
    return "\n".join(out)


def plot_table(table: pd.DataFrame, path: str | os.PathLike, *, title: str = "") -> Path:
    """Accuracy vs missing rate (valence, arousal) and reconstruction MSE, one line per method, as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    s = summarize(table)
    fig = Figure(figsize=(13, 4), constrained_layout=True)
    axes = fig.subplots(1, 3)
    for ax, metric, label in ((axes[0], "valence_acc", "valence accuracy"),
                              (axes[1], "arousal_acc", "arousal accuracy"),
                              (axes[2], "recon_mse", "reconstruction MSE (normalised)")):
        for method, part in s.groupby("method", sort=False):
            part = part.dropna(subset=[metric])
            if metric == "recon_mse":
                part = part[part["missing_rate"] > 0]
            if len(part):
                ax.plot(part["missing_rate"] * 100, part[metric], marker="o", label=method)
        ax.set_xlabel("simulated missing rate (%)")
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
