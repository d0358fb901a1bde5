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

from .analyze import AnalysisResult, analyze, analyze_features, binary_entropy, subject_statistics
from .engine import ContextOutputs, attention_to_tokens, context_starts, run_contexts
from .model_loading import LoadedModel, default_checkpoint_path, load_model, model_from_parts
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
