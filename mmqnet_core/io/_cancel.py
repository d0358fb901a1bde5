"""Cancel hooks of the reading path: a library call that cannot check a token runs in a helper thread.

Opening a file hands whole steps to libraries that take no cancel token: mne reads an EDF/BDF header (and the
whole annotation signal of an EDF+/BDF+ file), the restricted unpickler reads a DEAP file, ``mne.find_events``
scans a trigger channel. On a loaded machine each can take seconds. :func:`call_cancellable` runs such a step
in a daemon thread while the calling thread checks the token every :data:`POLL_S`: a cancel raises
:class:`~mmqnet_core.errors.Cancelled` in the caller at once, and the abandoned step finishes in the background
(its result is dropped; a daemon thread never holds up quitting). Without a token the step runs in the calling
thread, exactly as before.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from ..progress import CancelToken, check_cancel, start_daemon, wait_checking

T = TypeVar("T")

#: How often the calling thread checks the token while a step runs in its helper thread, s.
POLL_S = 0.05


def call_cancellable(fn: Callable[..., T], *args: Any, cancel: CancelToken | None = None, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``; with ``cancel``, in a helper thread while this thread checks ``cancel``.

    Parameters
    ----------
    fn : callable
        The step (it is not given the token).
    *args, **kwargs
        Its arguments.
    cancel : CancelToken, optional
        Checked before the step and every :data:`POLL_S` s while it runs.

    Returns
    -------
    object
        What ``fn`` returned; an exception it raised is raised here.

    Raises
    ------
    Cancelled
        When ``cancel`` is set before the step ends.
    """
    check_cancel(cancel)
    if cancel is None:
        return fn(*args, **kwargs)
    return wait_checking(start_daemon(fn, *args, name="mmqnet-read", **kwargs), cancel, POLL_S)
