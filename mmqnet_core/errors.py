"""Exceptions raised to users of the core.

Every error a user can cause (a bad file, a bad option, a foreign checkpoint) is an :class:`MMQNetError`
whose message says what was wrong, with the value, and what to do. The CLI prints the message and exits
non-zero; the GUI shows it in a dialog. ``assert`` is kept for internal invariants only.
"""

from __future__ import annotations


class MMQNetError(Exception):
    """Base class of all user-facing errors of MMQ-Net Studio."""


class RecordingError(MMQNetError):
    """A recording could not be read or is unusable (corrupt header, wrong type, no data...)."""


class FileChangedError(RecordingError):
    """A recording's file was changed, truncated, moved or deleted on disk after it was opened."""


class ConfigError(MMQNetError, ValueError):
    """An option or configuration value is invalid."""


class CheckpointError(MMQNetError):
    """A model checkpoint is foreign, corrupt or does not match the features."""


class MaskError(MMQNetError):
    """A mask or mask sidecar file is invalid."""


class OutputError(MMQNetError, OSError):
    """An output file could not be written: no space left, a read-only folder, no permission, a folder in the way.

    Also an :class:`OSError`, so that code catching file-system errors keeps catching it.
    """


class Cancelled(MMQNetError):
    """Long work was cancelled by the user (raised between steps, never mid-write)."""
