"""`./dev.sh` on a fresh machine (session 12 audit): the README promises the CPU build of PyTorch, but dev.sh ran
`pip install torch==2.13.0`, which on PyPI is the Linux wheel that pulls the multi-GB nvidia-* CUDA packages (the
CPU wheel came only from this workplace's local wheel folder). Now: a local wheel without the network first,
else PyTorch's CPU index. Checked with a stand-in python that records each pip call."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _setup(tmp_path: Path, local_wheel: bool) -> list[str]:
    shutil.copy(ROOT / "dev.sh", tmp_path / "dev.sh")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    log = tmp_path / "calls.log"
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    # pip with --no-index fails unless a local wheel exists; every call is logged
    fake.write_text("#!/bin/sh\n"
                    f"echo \"$*\" >> {log}\n"
                    f"case \"$*\" in *--no-index*) exit {0 if local_wheel else 1};; esac\n"
                    "exit 0\n")
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "TORCH_INDEX_URL"}
    subprocess.run(["bash", str(tmp_path / "dev.sh"), "setup"], check=True, env=env, cwd=tmp_path)
    return [line for line in log.read_text().splitlines() if "torch" in line]


def test_without_a_local_wheel_torch_comes_from_the_cpu_index(tmp_path):
    calls = _setup(tmp_path, local_wheel=False)
    assert calls == ["-m pip install -q --no-index --no-deps torch==2.13.0",
                     "-m pip install -q torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"]


def test_a_local_cpu_wheel_is_installed_first_and_only_its_dependencies_come_from_the_index(tmp_path):
    # The local wheel alone (--no-deps: its dependencies are not in the wheel folder; session 12's first version
    # asked --no-index for them too, failed, and fell back to the CPU index, which this machine cannot reach: CI
    # retried download.pytorch.org for every dependency). The plain call comes only after torch is installed.
    calls = _setup(tmp_path, local_wheel=True)
    assert calls == ["-m pip install -q --no-index --no-deps torch==2.13.0", "-m pip install -q torch==2.13.0"]
