"""Run the real ``mmqnet`` command line on many inputs, each in its own process, fast.

``python -m mmqnet_core.cli`` spends ~5 s of CPU importing mne, scipy and torch before it reads a byte; at
~150 runs that alone would take minutes on a small machine. :func:`run_many` therefore imports the CLI once
and forks one child per run: the child sets ``sys.argv`` and runs the ``mmqnet_core.cli`` module as ``__main__``
(what ``python -m`` does) with its stdout/stderr on real files, then exits with the CLI's code. Every child is
a separate process with its own file descriptors, killed after a timeout (a hang is a failure). A few runs of
the true ``python -m mmqnet_core.cli`` under a strict C locale (``test_bad_inputs.py``) check what forking
cannot: the interpreter's start-up and the locale's stream encoding.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence


@dataclass(frozen=True)
class RunResult:
    rc: int  # exit code (-signal if killed; 124 on timeout)
    stdout: bytes
    stderr: bytes
    seconds: float


def _child(argv: Sequence[str], cwd: Path, out: Path, err: Path, strict_ascii: bool) -> None:
    """In the forked child: run the CLI module as ``python -m`` would, then ``_exit`` with its code."""
    import runpy
    import traceback

    code = 1
    try:
        os.chdir(cwd)
        fo = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        fe = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fo, 1)
        os.dup2(fe, 2)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        enc = "ascii" if strict_ascii else "utf-8"
        sys.stdout = open(1, "w", encoding=enc, errors="strict", closefd=False)
        sys.stderr = open(2, "w", encoding=enc, errors="strict", closefd=False)
        sys.stdin = open(0, "r", closefd=False)
        try:
            import torch

            torch.set_num_threads(1)
        except Exception:  # pragma: no cover
            pass
        sys.argv = ["mmqnet", *argv]
        try:
            runpy.run_module("mmqnet_core.cli", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # what the interpreter would print for an uncaught exception
            traceback.print_exc()
            code = 1
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # an unencodable character left in a buffer: the interpreter would fail too
            code = 120
    finally:
        os._exit(code)


def run_many(jobs: Sequence[tuple[Sequence[str], Path]], *, workdir: Path, parallel: int = 2,
             timeout_s: float = 120.0, strict_ascii: Sequence[bool] | None = None) -> list[RunResult]:
    """Run ``mmqnet ARGV`` for every ``(argv, cwd)`` job, ``parallel`` at a time; results in job order."""
    import mmqnet_core.cli  # noqa: F401  (imported once, before forking)
    import mmqnet_core.cli.cmd_analyze  # noqa: F401
    import mmqnet_core.cli.cmd_features  # noqa: F401
    import mmqnet_core.io  # noqa: F401
    import mmqnet_core.preprocessing  # noqa: F401
    import mmqnet_core.features  # noqa: F401
    import mmqnet_core.inference  # noqa: F401

    strict = list(strict_ascii) if strict_ascii is not None else [False] * len(jobs)
    results: list[RunResult | None] = [None] * len(jobs)
    running: dict[int, tuple[int, float, Path, Path]] = {}
    todo = list(range(len(jobs)))
    workdir.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    while todo or running:
        while todo and len(running) < parallel:
            k = todo.pop(0)
            argv, cwd = jobs[k]
            out, err = workdir / f"{k}.out", workdir / f"{k}.err"
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                _child(argv, cwd, out, err, strict[k])
            running[pid] = (k, time.monotonic(), out, err)
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            now = time.monotonic()
            for p, (k, t0, _o, _e) in list(running.items()):
                if now - t0 > timeout_s:
                    os.kill(p, signal.SIGKILL)
            time.sleep(0.02)
            continue
        if pid not in running:
            continue
        k, t0, out, err = running.pop(pid)
        elapsed = time.monotonic() - t0
        if os.WIFSIGNALED(status):
            rc = 124 if elapsed > timeout_s else -os.WTERMSIG(status)
        else:
            rc = os.WEXITSTATUS(status)
        results[k] = RunResult(rc, out.read_bytes(), err.read_bytes(), elapsed)
    return [r for r in results if r is not None]
