"""The README's promise, checked on generated bad inputs with the real command line.

Every case of :mod:`.cases` runs ``mmqnet`` in its own process (:mod:`.runner`) and must end as expected: exit 2
with exactly one ``error:`` line (or exit 0, with a ``warning:`` line where the input was damaged), no
traceback, no raw control character on the terminal, the source files' bytes and mtime unchanged, and no code
run by any payload. A few cases also run through the true ``python -m mmqnet_core.cli`` under a C locale.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .cases import MARKER, Case, all_cases, edf_bytes
from .runner import run_many

ROOT = Path(__file__).resolve().parents[3]
CHECKPOINT = ROOT / "resources" / "checkpoint"
_CONTROL = bytes(range(0, 32)).replace(b"\n", b"").replace(b"\t", b"").replace(b"\r", b"") + b"\x7f"


def _snapshot(folder: Path, names: list[str] | None) -> dict[str, tuple[str, int]]:
    out = {}
    paths = [folder / n for n in names] if names else [p for p in folder.rglob("*") if p.is_file()]
    for p in paths:
        if p.is_file():
            st = p.stat()
            h = hashlib.sha256(str(st.st_size).encode())
            with open(p, "rb") as fid:
                if st.st_size <= 64 * 1024**2:
                    h.update(fid.read())
                else:  # a sparse file of many GB: its header, head and tail (plus size and mtime)
                    h.update(fid.read(1024**2))
                    fid.seek(-1024**2, os.SEEK_END)
                    h.update(fid.read())
            out[str(p)] = (h.hexdigest(), st.st_mtime_ns)
    return out


def _problems(case: Case, folder: Path, rc: int, out: bytes, err: bytes, before: dict) -> list[str]:
    text_err = err.decode("utf-8", "replace")
    # tqdm redraws its bar with carriage returns; the lines a user reads are what remains
    lines = [ln.split("\r")[-1] for ln in text_err.split("\n")]
    errors = [ln for ln in lines if ln.startswith("error:")]
    problems = []
    if "Traceback (most recent call last)" in text_err or "Traceback" in out.decode("utf-8", "replace"):
        problems.append("traceback")
    if rc == 124:
        problems.append("hang")
    elif case.expect == "error":
        if rc != 2:
            problems.append(f"exit {rc}, expected 2")
        if len(errors) != 1:
            problems.append(f"{len(errors)} error lines")
        # the message is one line: nothing after the error line but the end
        tail = text_err.split("error:", 1)[-1]
        if tail.count("\n") > 1 or tail.strip("\n").count("\n"):
            problems.append("multi-line error")
    elif case.expect in ("warn", "ok"):
        if rc != 0:
            problems.append(f"exit {rc}, expected 0 ({errors[:1]})")
        if case.expect == "warn" and not any(ln.startswith("warning:") for ln in lines):
            problems.append("no warning: line")
    else:  # any
        if rc not in (0, 2):
            problems.append(f"exit {rc}")
        if rc == 2 and len(errors) != 1:
            problems.append(f"{len(errors)} error lines")
    if any(c in out for c in _CONTROL) or any(c in err.replace(b"\r", b"") for c in _CONTROL.replace(b"\x1b", b"")):
        problems.append("raw control character printed")
    if b"\x1b" in out or b"\x1b[" in err.replace(b"\x1b[A", b"").replace(b"\x1b[K", b""):
        problems.append("raw ESC printed")
    if (folder / MARKER).exists():
        problems.append("CODE RAN")
    after = _snapshot(folder, case.sources or None)
    changed = [Path(k).name for k in before if before[k] != after.get(k)]
    if changed:
        problems.append(f"source changed: {changed}")
    return problems


def test_generated_bad_inputs(tmp_path):
    cases = all_cases(CHECKPOINT if (CHECKPOINT / "model.safetensors").is_file() else None)
    folders, befores, jobs = [], [], []
    for k, case in enumerate(cases):
        folder = tmp_path / f"c{k:03d}"
        folder.mkdir()
        case.make(folder)
        folders.append(folder)
        befores.append(_snapshot(folder, case.sources or None))
        jobs.append((case.argv, folder))
    results = run_many(jobs, workdir=tmp_path / "_io", parallel=2, timeout_s=90,
                       strict_ascii=[c.strict_ascii for c in cases])
    failures = []
    for case, folder, before, res in zip(cases, folders, befores, results):
        problems = _problems(case, folder, res.rc, res.stdout, res.stderr, before)
        if problems:
            last = res.stderr.decode("utf-8", "replace").strip().split("\n")[-1][:300]
            failures.append(f"{case.name}: {'; '.join(problems)} | {last}")
    n = len(cases)
    print(f"\n{n} generated cases, {n - len(failures)} as expected")
    slow = sorted(zip((r.seconds for r in results), (c.name for c in cases)), reverse=True)[:12]
    print("slowest: " + ", ".join(f"{name} {s:.1f} s" for s, name in slow))
    assert not failures, f"{len(failures)} of {n} cases failed:\n" + "\n".join(failures)


def _real_cli(args: list[str], cwd: Path, env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONIOENCODING",
                                                                   "PYTHONUTF8"))}
    env.update(env_extra)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "mmqnet_core.cli", *args], cwd=cwd, env=env,
                          capture_output=True, timeout=300)


@pytest.mark.parametrize("env", [{"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
                                  "PYTHONIOENCODING": "ascii:strict"}], ids=["strict-C-locale"])
def test_real_cli_odd_file_names_under_a_strict_locale(tmp_path, env):
    """``python -m mmqnet_core.cli`` itself: a non-UTF-8 name with a newline and ESC gives one escaped line."""
    name = os.fsdecode(b"bad\xff\n\x1b[2Jname.edf")
    (tmp_path / name).write_bytes(edf_bytes(record_s="inf"))
    before = (tmp_path / name).stat().st_mtime_ns
    res = _real_cli(["info", name], tmp_path, env)
    assert res.returncode == 2, res.stderr
    assert b"Traceback" not in res.stderr
    lines = res.stderr.decode("ascii").strip().split("\n")  # every byte printed is ASCII
    assert len(lines) == 1 and lines[0].startswith("error: Invalid value for 'duration of a data record'")
    assert b"\x1b" not in res.stderr and "\\xff" in lines[0] or "\\udcff" in lines[0]
    assert (tmp_path / name).stat().st_mtime_ns == before


def test_real_cli_damaged_file_warns_and_label_escaped(tmp_path):
    good = edf_bytes(labels=("Fp1", "C\x1b[31mz", "Pz", "GSR"))
    (tmp_path / "t.edf").write_bytes(good[: 256 * 5 + 7 * 4 * 64 * 2])
    res = _real_cli(["info", "t.edf"], tmp_path, {"LC_ALL": "C", "PYTHONIOENCODING": "ascii:strict"})
    assert res.returncode == 0, res.stderr
    assert b"\x1b" not in res.stdout and b"\x1b" not in res.stderr
    assert b"C\\x1b[31mz" in res.stdout
    warnings = [ln for ln in res.stderr.decode().splitlines() if ln.startswith("warning:")]
    assert warnings == ["warning: t.edf is truncated: the header declares 20 data records, the file holds 7 "
                        "complete data records (7 s); read 7 s, the last 13 s declared are missing."]


def test_debug_prints_the_traceback(tmp_path, monkeypatch, capsys):
    """--debug shows the traceback of an unexpected error; without it, one line."""
    from mmqnet_core import cli
    from mmqnet_core.cli import cmd_info

    def boom(args):
        raise ZeroDivisionError("float division by zero")

    (tmp_path / "x.edf").write_bytes(edf_bytes())
    monkeypatch.setattr(cmd_info, "run", boom)
    assert cli.main(["info", str(tmp_path / "x.edf")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: info of {tmp_path / 'x.edf'} failed while starting (ZeroDivisionError: float "
                          "division by zero). The input may be damaged")
    assert cli.main(["--debug", "info", str(tmp_path / "x.edf")]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.strip().splitlines()[-1].startswith("error: info of")


def test_info_json_stays_valid_json_with_control_characters_in_labels(tmp_path, capsys):
    import json

    from mmqnet_core.cli import main

    (tmp_path / "l.edf").write_bytes(edf_bytes(labels=("Fp1", "C\x7fz\x1b", "P\xe9z", "GSR")))
    assert main(["info", str(tmp_path / "l.edf"), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.isascii() and "\x1b" not in out and "\x7f" not in out
    assert [c["name"] for c in json.loads(out)["channels"]] == ["Fp1", "C\x7fz\x1b", "P\xe9z", "GSR"]


def test_argparse_errors_are_one_error_line(capsys):
    from mmqnet_core.cli import main

    with pytest.raises(SystemExit) as info:
        main(["features", "x.edf", "-o", "o.csv", "--step", "-inf"])
    assert info.value.code == 2
    assert capsys.readouterr().err == ("error: mmqnet features: argument --step: expected one argument (see 'mmqnet "
                                       "features --help').\n")
