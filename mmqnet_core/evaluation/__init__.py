"""Evaluation of MMQ-Net under missing data: metrics, baselines, the robustness table and its report.

Every figure states its split (subject-independent or subject-dependent) in the table's ``split`` column.
"""

from __future__ import annotations

from .baselines import LateFusion, LogisticRegression, context_features, interpolate_time, mean_impute, zero_fill
from .evaluate import (
    ALL_METHODS,
    COLUMNS,
    DEFAULT_RATES,
    MODEL_VARIANTS,
    SCENARIOS,
    TrainedModel,
    calibration,
    evaluate,
    summarize,
)
from .metrics import accuracy, binarise, macro_f1, masked_mse
from .report import format_table, markdown_table, plot_table, write_report

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
