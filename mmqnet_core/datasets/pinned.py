"""Pinned corpus builds: the feature corpus a shipped checkpoint was trained on, rebuilt on a fresh machine.

A cached corpus is named by a hash of its build (:func:`~mmqnet_core.datasets.corpus.corpus_key`), which
includes the source code of the synthetic generator, preprocessing and feature modules. Every later change to
that code (a better blink detector, a faster filter) gives another key and other feature values, so the corpus a
checkpoint was trained and evaluated on cannot be rebuilt by the current code once its cache file is gone. The
model card's tables describe *that* corpus.

A :class:`PinnedBuild` names such a corpus by its key and the git commit whose builder made it. :func:`build_pinned`
exports that commit's ``mmqnet_core`` from the repository's history (``git archive``; nothing is checked out,
the working tree is untouched) into a temporary folder and runs its ``build_corpus`` there in a subprocess, with
the same Python environment, writing ``corpus_<key>.npz`` into the cache folder. The result is checked: the old
code must compute the pinned key, and the arrays must have the pinned :func:`corpus_digest` when one is recorded.

Only the builder is old; the model, normaliser and evaluation are the current code's.

Pinned builds:

``c63d33c010288eda85b4``
    the default synthetic corpus (32 subjects x 40 trials x 60 s, seed 0, DEAP layout, default preprocessing and
    features) as built by commit ``1720ce6`` (2026-11-25), the code of sessions 1-5: the shipped checkpoint
    (``resources/checkpoint``) was trained, fine-tuned and evaluated on it (sessions 4-11). The generator has not
    changed since for these trials; the preprocessing and features have (EOG blink features differ in 82-83 % of
    windows since session 6's blink detector).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, MMQNetError

#: Arrays of a corpus that :func:`corpus_digest` hashes (the values a model sees, and its labels and ids).
DIGEST_ARRAYS = ("X", "missing", "interference", "artifacts", "artifact_known", "labels", "subjects", "trials",
                 "n_windows", "valid")


@dataclass(frozen=True)
class PinnedBuild:
    """A corpus named by its cache key, with the git commit whose code built it."""

    key: str  # corpus_key() of the build (the cache file is corpus_<key>.npz)
    commit: str  # full git commit id of the builder code
    code: str  # the builder's code fingerprint at that commit (corpus._code_fingerprint)
    digest: str | None  # corpus_digest() of the built arrays (None: not recorded)
    description: str


#: The shipped checkpoint's training corpus (see the module docstring).
SHIPPED_CORPUS_KEY = "c63d33c010288eda85b4"

PINNED: dict[str, PinnedBuild] = {
    SHIPPED_CORPUS_KEY: PinnedBuild(
        key=SHIPPED_CORPUS_KEY,
        commit="1720ce616a82b745b9ba76bca72303252371b639",
        code="6000b2e53a82c07a",
        digest="c1f3f8f63ff2ff80",  # built on the session-12 machine; its evaluation equals the card's tables exactly
        description="default synthetic corpus (32 subjects x 40 trials x 60 s, seed 0) as built by commit 1720ce6 "
                    "(sessions 1-5): the shipped checkpoint's training and evaluation corpus",
    ),
}


def corpus_digest(corpus: Any) -> str:
    """SHA-256 (first 16 hex digits) of a corpus' arrays (:data:`DIGEST_ARRAYS`: shapes, dtypes and bytes).

    Two corpora with the same digest give any model the same inputs and labels. The digest is exact: a change in
    the last bit of one feature changes it (use it to check a rebuild on one machine; across machines with other
    maths libraries, compare values with a tolerance instead)."""
    h = hashlib.sha256()
    for name in DIGEST_ARRAYS:
        a = np.ascontiguousarray(getattr(corpus, name))
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


#: Keys of a corpus' ``config`` that describe where it lies or how it was derived, not how it was built.
_NOT_BUILD = ("cache_file", "rebuilt_artifact_factor")


def corpus_identity(corpus: Any) -> dict[str, Any]:
    """What names a corpus for a checkpoint's metadata (``training_corpus``): its cache ``key`` (recomputed from
    the build description in ``corpus.config``; None when there is none, e.g. a corpus built by hand), the
    builder's ``code`` fingerprint, the :func:`corpus_digest` of its arrays, and ``pinned`` (True when the key is
    one of :data:`PINNED`: the corpus can be rebuilt by :func:`build_pinned` after the code has changed)."""
    import json

    desc = {k: v for k, v in dict(corpus.config or {}).items() if k not in _NOT_BUILD}
    key = None
    if "corpus_version" in desc and "code" in desc:
        key = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:20]
    out: dict[str, Any] = {"key": key, "code": desc.get("code"), "digest": corpus_digest(corpus),
                           "pinned": key in PINNED}
    if key in PINNED:
        out["builder_commit"] = PINNED[key].commit
    return out


def repository_root(start: str | os.PathLike | None = None) -> Path:
    """The git repository holding this package (or ``start``); ConfigError when there is none."""
    here = Path(start) if start is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError(f"A pinned corpus is built from the repository's git history, but git cannot run: {exc}.")
    if out.returncode != 0:
        raise ConfigError(
            f"A pinned corpus is built from the repository's git history, but {here} is not in a git repository "
            "(an installed copy or a source archive): run it from a clone of the repository."
        )
    return Path(out.stdout.strip())


def export_builder(commit: str, dest: str | os.PathLike, repo: str | os.PathLike | None = None) -> Path:
    """Write ``mmqnet_core`` as it was at ``commit`` into ``dest`` (``git archive``; the working tree and the
    index are not touched). Returns ``dest``."""
    root = repository_root(repo)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", commit, "mmqnet_core"],
                         capture_output=True, timeout=300)
    if out.returncode != 0:
        raise ConfigError(
            f"Commit {commit[:12]} is not in the history of {root} ({out.stderr.decode(errors='replace').strip()}); "
            "a shallow clone lacks it: fetch the full history (git fetch --unshallow)."
        )
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: refuse links and paths outside dest
            tar.extractall(dest, filter="data")
        else:  # git archive of our own history holds plain files below mmqnet_core/ only
            tar.extractall(dest)
    return dest


_BUILD_SCRIPT = r"""
import json, sys
def main():
    import mmqnet_core
    from mmqnet_core.datasets.corpus import build_corpus, corpus_key, _code_fingerprint
    from mmqnet_core.datasets.synthetic import SynthConfig
    from mmqnet_core.features import DEAP_LAYOUT, FeatureConfig
    from mmqnet_core.preprocessing import PreprocessConfig
    spec = json.loads(sys.argv[1])
    synth = SynthConfig(**spec["synth"])
    args = (PreprocessConfig(), FeatureConfig(), tuple(DEAP_LAYOUT))
    report = {"key": corpus_key("synthetic", synth, *args)[0], "code": _code_fingerprint(),
              "default_key": corpus_key("synthetic", SynthConfig(), *args)[0], "module": mmqnet_core.__file__}
    if not spec.get("key_only"):
        corpus = build_corpus("synthetic", synth_config=synth, cache_dir=spec["cache_dir"], workers=spec["workers"],
                              use_cache=True)
        report["cache_file"] = corpus.config.get("cache_file")
    print(json.dumps(report))
if __name__ == "__main__":
    main()
"""


def run_builder(code_dir: str | os.PathLike, *, synth: dict[str, Any] | None = None,
                cache_dir: str | os.PathLike | None = None, workers: int = 1, key_only: bool = False,
                timeout: float | None = None) -> dict[str, Any]:
    """Run the ``build_corpus`` of the package exported to ``code_dir`` in a subprocess (this Python, default
    preprocessing / features / DEAP layout, the synthetic configuration ``synth`` given as keyword values).
    Returns its report: ``key`` (of ``synth``), ``default_key`` (of the default ``SynthConfig()``), ``code``
    (fingerprint), ``module`` (the file it imported) and, unless ``key_only``, ``cache_file``."""
    import json

    code_dir = Path(code_dir).resolve()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(code_dir) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    spec = {"synth": synth or {}, "cache_dir": str(cache_dir) if cache_dir is not None else None,
            "workers": int(workers), "key_only": bool(key_only)}
    out = subprocess.run([sys.executable, "-c", _BUILD_SCRIPT, json.dumps(spec)], cwd=str(code_dir), env=env,
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise MMQNetError(f"The pinned corpus builder failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    report = json.loads(out.stdout.strip().splitlines()[-1])
    if not str(report.get("module", "")).startswith(str(code_dir)):
        raise MMQNetError(f"The pinned builder imported {report.get('module')} instead of the code in {code_dir}.")
    return report


def build_pinned(key: str = SHIPPED_CORPUS_KEY, *, cache_dir: str | os.PathLike | None = None,
                 workers: int | None = None, repo: str | os.PathLike | None = None, log=print) -> Path:
    """The cache file of pinned corpus ``key``: read from ``cache_dir`` when there, else built by the pinned
    commit's code (see the module docstring) and checked. Returns the path of ``corpus_<key>.npz``."""
    from .corpus import Corpus, default_cache_dir

    if key not in PINNED:
        raise ConfigError(f"Unknown pinned corpus {key!r}; pinned: {', '.join(PINNED)}.")
    pin = PINNED[key]
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / f"corpus_{key}.npz"
    if not target.is_file():
        workers = workers if workers is not None else max(1, min(os.cpu_count() or 1, 8))
        with tempfile.TemporaryDirectory(prefix="mmqnet_pinned_") as tmp:
            export_builder(pin.commit, tmp, repo)
            log(f"building corpus {key} with the code of commit {pin.commit[:10]} ({workers} worker(s)); "
                "measured: 8-18 min wall on 2 shared cores, about 5 min of CPU")
            t0 = time.perf_counter()
            report = run_builder(tmp, cache_dir=cache, workers=workers)
            log(f"built in {time.perf_counter() - t0:.0f} s")
        if report["key"] != key or report["code"] != pin.code:
            raise MMQNetError(f"Commit {pin.commit[:10]} built corpus {report['key']} (code {report['code']}), not the "
                              f"pinned {key} (code {pin.code}).")
        if not target.is_file():
            raise MMQNetError(f"The pinned builder did not write {target}.")
    if pin.digest is not None:
        got = corpus_digest(Corpus.load(target))
        if got != pin.digest:  # a warning, not a refusal: other maths libraries can change the last bits
            log(f"warning: {target} has digest {got}, not the pinned {pin.digest}: some values differ from the "
                "corpus the checkpoint was trained on; compare the evaluation with the model card's tables")
        else:
            log(f"corpus {key}: digest {got} as pinned")
    return target
