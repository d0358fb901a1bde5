"""Shared fixtures: small synthetic recordings written with the real EDF/BDF writers."""

from __future__ import annotations

import os
import threading

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MNE_LOGGING_LEVEL", "WARNING")


@pytest.fixture(autouse=True)
def _no_thread_left_running():
    """Fail a test that leaves a Python thread running (workers must be joined or cancelled)."""
    before = {t.ident for t in threading.enumerate()}
    yield
    leftover = []
    for t in threading.enumerate():
        if t.ident in before or not t.is_alive() or t.daemon:
            continue
        t.join(timeout=5)
        if t.is_alive():
            leftover.append(t.name)
    assert not leftover, f"threads left running after the test: {leftover}"
