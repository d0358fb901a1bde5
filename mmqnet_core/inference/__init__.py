"""Analysis of recordings with a trained MMQ-Net: load a checkpoint, run it over a whole recording, save results.

The whole flow (model, subject statistics, masks, cached cleaning, saving) in one call, as the CLI and the app
run it::

    run = analyze_recording(recording, masks, checkpoint=None, output="out/")   # -> RecordingAnalysis

Or step by step::

    model = load_model()                     # the shipped checkpoint (resources/checkpoint/)
    result = analyze(recording, masks, model, progress=cb, cancel=event)
    result.save("out/")                      # trajectories CSV/Parquet, reconstructions, attention, summary
"""

from __future__ import annotations

from .._lazy import lazy_exports
from .analyze import AnalysisResult, analyze, analyze_features, binary_entropy, subject_statistics
from .model_loading import DeferredModel, LoadedModel, default_checkpoint_path, load_model, model_from_parts
from .use_case import RecordingAnalysis, analyze_recording
from .subject import (MAX_SUBJECT_SOURCES, SubjectRecordings, find_subject_sessions, session_subject,
                      subject_recordings_for)

__all__ = [
    "RecordingAnalysis",
    "analyze_recording",
    "subject_statistics",
    "subject_recordings_for",
    "MAX_SUBJECT_SOURCES",
    "SubjectRecordings",
    "find_subject_sessions",
    "session_subject",
    "AnalysisResult",
    "ContextOutputs",
    "DeferredModel",
    "LoadedModel",
    "analyze",
    "analyze_features",
    "attention_to_tokens",
    "binary_entropy",
    "context_starts",
    "default_checkpoint_path",
    "load_model",
    "model_from_parts",
    "run_contexts",
]

# The engine's names import torch (seconds): they load when first used, so that the analysis can clean and
# featurise a recording while the model loads in a helper thread (model_loading.DeferredModel).
__getattr__, __dir__ = lazy_exports(__name__, {n: "engine" for n in (
    "ContextOutputs", "attention_to_tokens", "context_starts", "run_contexts")}, globals())
