"""Which preprocessing steps mean that data were left out of the cleaning (said loudly: CLI ``warning:`` lines,
the app's status banner), as opposed to the routine steps logged as information."""

from __future__ import annotations

from typing import Iterable

__all__ = ["LEFT_OUT_PREFIXES", "left_out_steps"]

#: Beginnings of the step notes (``PreprocessResult.steps``, written in ``preprocessing.streaming``) that say data
#: were left out: channels flat or NaN for most of the span, no usable EEG channel.
LEFT_OUT_PREFIXES = ("channel(s) flat or NaN", "no usable EEG channel")


def left_out_steps(steps: Iterable[object]) -> tuple[str, ...]:
    """The steps of ``steps`` that say data were left out, in order."""
    return tuple(str(s) for s in steps if str(s).startswith(LEFT_OUT_PREFIXES))
