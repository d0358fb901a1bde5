"""Work-arounds for Qt binding bugs, in one place."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer


def single_shot_timer(parent: QObject, interval_ms: int) -> QTimer:
    """A single-shot QTimer owned by ``parent``.

    Set through setters on purpose: PySide6 6.12 drops a reference to ``None`` for every property passed as a
    constructor keyword (``QTimer(parent, singleShot=True, interval=0)``), which crashes the interpreter at
    exit once enough timers have been made ("none_dealloc: deallocating None").
    """
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(interval_ms)
    return timer


# --- PySide6 6.12 on Python 3.11: lost references to None/True/False ------------------------------------------
# PySide6 6.12.0 drops one reference to the returned object each time Qt calls a Python override that returns
# None (paintEvent, QGraphicsItem.paint, ...) and for every property passed as a constructor keyword. On Python
# >= 3.12 None/True/False are immortal and nothing happens; on 3.11 their counts fall by thousands per minute of
# use until the interpreter aborts ("Fatal Python error: none_dealloc"). PySide6 6.11.3 and older are not
# affected (measured). Until the dependency excludes 6.12, the guard below keeps extra references so that the
# counts never reach zero: a few MB per hour of drawing.
_GUARDED = (None, True, False)
_FLOOR = 200_000  # top up when a count falls below this
_pads: list[list] = []


def refcount_bug_present() -> bool:
    """Whether this PySide6/Python pair loses references to None/True/False (see the comment above)."""
    import sys

    import PySide6

    return sys.version_info < (3, 12) and tuple(PySide6.__version_info__[:2]) >= (6, 12)


def top_up_refcounts() -> None:
    """Add references to None/True/False whose count fell below the floor (cheap; call it often)."""
    import sys

    for obj in _GUARDED:
        if sys.getrefcount(obj) < _FLOOR:
            _pads.append([obj] * _FLOOR)


_guard_timer: QTimer | None = None


def install_refcount_guard(app: QObject) -> None:
    """Top the counts up now and every second while ``app`` (the QApplication) lives; no-op where not needed."""
    global _guard_timer
    if not refcount_bug_present():
        return
    top_up_refcounts()
    if _guard_timer is None:
        _guard_timer = QTimer(app)
        _guard_timer.setInterval(1000)
        _guard_timer.timeout.connect(top_up_refcounts)
        _guard_timer.start()
