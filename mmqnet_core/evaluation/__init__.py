"""Evaluation of MMQ-Net under missing data: metrics, baselines, the robustness table and its report.

Every figure states its split (subject-independent or subject-dependent) in the table's ``split`` column.
"""

from __future__ import annotations

from .._lazy import lazy_exports

# Exported names and the submodule of each, imported on first use: the analysis imports evaluation.baselines
# (spline and interpolation baselines of hidden tokens) without pandas, which protocol and report import.
_EXPORTS = {
    **dict.fromkeys(("LateFusion", "LogisticRegression", "context_features", "interpolate_time", "mean_impute",
                     "zero_fill"), "baselines"),
    **dict.fromkeys(("ALL_METHODS", "COLUMNS", "DEFAULT_RATES", "MODEL_VARIANTS", "SCENARIOS", "TrainedModel",
                     "calibration", "evaluate", "summarize"), "protocol"),
    **dict.fromkeys(("accuracy", "binarise", "macro_f1", "masked_mse"), "metrics"),
    **dict.fromkeys(("format_table", "markdown_table", "plot_table", "write_report"), "report"),
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = [
    "ALL_METHODS",
    "COLUMNS",
    "DEFAULT_RATES",
    "MODEL_VARIANTS",
    "SCENARIOS",
    "LateFusion",
    "LogisticRegression",
    "TrainedModel",
    "accuracy",
    "binarise",
    "calibration",
    "context_features",
    "evaluate",
    "format_table",
    "markdown_table",
    "interpolate_time",
    "macro_f1",
    "masked_mse",
    "mean_impute",
    "plot_table",
    "summarize",
    "write_report",
    "zero_fill",
]
