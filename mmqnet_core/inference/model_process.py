"""The model in a helper process for ``mmqnet analyze`` of one recording: torch off this process's interpreter lock.

Importing torch and loading the checkpoint take ~2.5 s of CPU that hold the interpreter lock nearly all the time;
in a helper thread (:class:`~mmqnet_core.inference.model_loading.DeferredModel`) they only take turns with this
process's own imports and cleaning. :func:`start_model_process` forks a child at the start of the command,
before any thread exists and before torch is imported here: the child imports torch and loads the model on the
other core while this process imports the cleaning's modules, reads, fits and cleans. This process then sends the
recording's features to the child, which runs :func:`~mmqnet_core.inference.analyze.analyze_features` -- the same
function the in-process path runs, on the same values -- and sends the :class:`AnalysisResult` back.

Transport: a private socket pair; every message is a JSON header describing the object tree (only the types of
:func:`encode` -- no pickle, no code) followed by the raw bytes of its numeric arrays.

Lifetime: the child ignores Ctrl-C (the parent decides), asks the kernel to kill it when the parent dies
(``PR_SET_PDEATHSIG``), exits when its socket closes, and is killed by the parent on a cancel. Errors in the child
come back as the same exception types (MMQNetError subclasses, or built-in ones) with their messages, so the CLI
says the same ``error: ...`` line as in-process.

Used by the CLI's single-recording ``analyze`` (Linux, torch not yet imported, no thread started, spans up to
:data:`REMOTE_MAX_S`; ``--in-process`` turns it off), and by the app through :func:`spawn_model_process`: the same
child started as a fresh interpreter (multiprocessing's spawn: safe in a process with threads, works in the
PyInstaller bundle with ``multiprocessing.freeze_support``), so that torch's import -- which holds the interpreter
lock for up to a second at a time -- never runs in the GUI's process. The cohort's worker processes load the model
in their own process.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
from typing import Any

import numpy as np

from ..errors import Cancelled, CheckpointError, MMQNetError
from ..progress import CancelToken, ProgressCallback, check_cancel, report

#: Spans longer than this (s) load the model in this process instead (their features and results -- hundreds of
#: MB at 24 h -- would be copied between the processes; the fixed cost the child saves matters little there).
REMOTE_MAX_S = 6 * 3600.0
#: How often a wait on the child checks the cancel token, s.
POLL_S = 0.05
#: OpenMP's wait policy in the child, unless the environment sets OMP_WAIT_POLICY (None: OpenMP's default, which
#: spins). While the model runs this process only waits, but on a machine whose cores are shared (other programs,
#: other analyses) torch's spinning threads take the cores from the thread doing the work: the model stage of 1 h
#: took 9-34 s (6-16 s of CPU) at load 5-6 with spinning and 5.2-6.2 s (2.6-3.2 s of CPU) without. Scheduling
#: only: the values are the same.
OMP_WAIT_POLICY: str | None = "PASSIVE"

_HEADER = struct.Struct("<QQ")  # JSON header length, number of arrays


# --- encoding ---------------------------------------------------------------------------------------------------
def _result_class() -> Any:
    from .analyze import AnalysisResult

    return AnalysisResult


def encode(obj: Any, arrays: list[np.ndarray]) -> Any:
    """A JSON-able tree for ``obj``; numeric arrays are appended to ``arrays`` and referenced by index.

    Known types only: None, bool, int, float, str, tuples, lists, dicts, slices, numpy numbers and numeric/bool
    arrays, and the analysis' own records (Modality, Token, FeatureConfig, FeatureSet, MaskSet, Normalizer,
    AnalysisResult). Anything else is a TypeError (a bug, never a silent loss).
    """
    from ..features import FeatureConfig, FeatureSet, Token
    from ..masking import MaskSet
    from ..recording import Modality

    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, Modality):  # before str: a str enum
        return {"~": "modality", "v": obj.value}
    if isinstance(obj, (int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return encode(obj.item(), arrays)
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"cannot send an array of dtype {obj.dtype} to the model process")
        arrays.append(np.ascontiguousarray(obj))
        return {"~": "array", "i": len(arrays) - 1}
    if isinstance(obj, tuple):
        return {"~": "tuple", "v": [encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [encode(v, arrays) for v in obj]
    if isinstance(obj, dict) or (hasattr(obj, "items") and hasattr(obj, "keys")):
        items = list(obj.items())
        return {"~": "dict", "k": [encode(k, arrays) for k, _ in items], "v": [encode(v, arrays) for _, v in items]}
    if isinstance(obj, slice):
        return {"~": "slice", "v": [obj.start, obj.stop, obj.step]}
    if isinstance(obj, Token):
        return {"~": "token", "v": [obj.name, encode(obj.modality, arrays), obj.channel]}
    if isinstance(obj, FeatureConfig):
        return {"~": "feature_config", "v": obj.to_dict()}
    if isinstance(obj, MaskSet):
        return {"~": "masks", "v": obj.to_dict()}
    if type(obj).__name__ == "Normalizer" and hasattr(obj, "mean") and hasattr(obj, "std"):
        return {"~": "normalizer", "v": [encode(obj.mean, arrays), encode(obj.std, arrays)]}
    for tag, cls in (("feature_set", FeatureSet), ("analysis_result", _result_class())):
        if isinstance(obj, cls):
            return {"~": tag, "v": {f.name: encode(getattr(obj, f.name), arrays) for f in dataclasses.fields(cls)}}
    raise TypeError(f"cannot send a {type(obj).__name__} to the model process")


def decode(tree: Any, arrays: list[np.ndarray]) -> Any:
    """The object :func:`encode` described (the inverse; unknown tags are an error)."""
    if isinstance(tree, list):
        return [decode(v, arrays) for v in tree]
    if not isinstance(tree, dict):
        return tree
    tag, v = tree.get("~"), tree.get("v")
    if tag == "array":
        return arrays[int(tree["i"])]
    if tag == "tuple":
        return tuple(decode(x, arrays) for x in v)
    if tag == "dict":
        return {decode(k, arrays): decode(x, arrays) for k, x in zip(tree["k"], v)}
    if tag == "slice":
        return slice(*v)
    if tag == "modality":
        from ..recording import Modality

        return Modality(v)
    if tag == "token":
        from ..features import Token

        return Token(v[0], decode(v[1], arrays), v[2])
    if tag == "feature_config":
        from ..features import FeatureConfig

        return FeatureConfig.from_dict(v)
    if tag == "masks":
        from ..masking import MaskSet

        return MaskSet.from_dict(v)
    if tag == "normalizer":
        from ..model.normalization import Normalizer  # torch: only where it is loaded already

        return Normalizer(decode(v[0], arrays), decode(v[1], arrays))
    if tag == "feature_set":
        from ..features import FeatureSet

        return FeatureSet(**{k: decode(x, arrays) for k, x in v.items()})
    if tag == "analysis_result":
        return _result_class()(**{k: decode(x, arrays) for k, x in v.items()})
    raise ValueError(f"unknown tag {tag!r} from the model process")


def _send(sock: socket.socket, message: dict, arrays: list[np.ndarray] = ()) -> None:
    """One message: the header lengths, the JSON header (message + array dtypes/shapes), the arrays' bytes."""
    head = dict(message, arrays=[[a.dtype.str, list(a.shape)] for a in arrays])
    data = json.dumps(head).encode()
    sock.sendall(_HEADER.pack(len(data), len(arrays)) + data)
    for a in arrays:
        if a.nbytes:
            sock.sendall(memoryview(a.reshape(-1).view(np.uint8)))


def _recv_exact(sock: socket.socket, view: memoryview) -> None:
    got = 0
    while got < len(view):
        n = sock.recv_into(view[got:])
        if n == 0:
            raise EOFError("the model process closed its connection")
        got += n


def _recv(sock: socket.socket) -> tuple[dict, list[np.ndarray]]:
    head = bytearray(_HEADER.size)
    _recv_exact(sock, memoryview(head))
    n_head, n_arrays = _HEADER.unpack(head)
    data = bytearray(n_head)
    _recv_exact(sock, memoryview(data))
    message = json.loads(data)
    specs = message.pop("arrays")
    if len(specs) != n_arrays:
        raise ValueError("inconsistent message from the model process")
    arrays = []
    for dtype, shape in specs:
        dt = np.dtype(dtype)
        if dt.kind not in "biuf":
            raise ValueError(f"array of dtype {dt} from the model process")
        a = np.empty([int(s) for s in shape], dt)
        if a.nbytes:
            _recv_exact(sock, memoryview(a.reshape(-1).view(np.uint8)))
        arrays.append(a)
    return message, arrays


def _error_message(exc: BaseException) -> dict:
    return {"kind": "error", "type": type(exc).__name__, "message": str(exc)}


def _raise(message: dict) -> None:
    """Raise the exception the child reported, as its own type where that is one of ours or a built-in."""
    from .. import errors

    name, text = str(message.get("type", "")), str(message.get("message", ""))
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, MMQNetError)):
        cls = getattr(builtins, name, None)
        if not (isinstance(cls, type) and issubclass(cls, Exception)) or cls in (
                SystemExit, KeyboardInterrupt, UnicodeError) or issubclass(cls, UnicodeError) or issubclass(
                cls, OSError):
            cls = None
    if cls is None:
        raise RuntimeError(f"{name}: {text}" if name else text)
    raise cls(text)


# --- the child ------------------------------------------------------------------------------------------------
def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies (prctl PR_SET_PDEATHSIG); written with ctypes because
    the standard library does not expose prctl."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # pragma: no cover - not Linux: the closed socket still ends the child
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(0)


def _child(sock: socket.socket, path: Any, device: Any, settings: tuple, parent: int) -> None:
    """The model process: load, say so, then answer requests until the socket closes. Never returns."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
        _die_with_parent(parent)
        if OMP_WAIT_POLICY and "OMP_WAIT_POLICY" not in os.environ:  # read when torch loads OpenMP
            os.environ["OMP_WAIT_POLICY"] = OMP_WAIT_POLICY
        # as preprocessing.pipeline.small_pages does around the in-process model stage (kernel time, not values)
        no_huge = getattr(getattr(getattr(np, "_core", None), "multiarray", None), "_set_madvise_hugepage", None)
        if no_huge is not None:
            no_huge(False)
        from . import model_loading

        try:
            loaded = model_loading.load_model(path, device=device)
            if any(getattr(loaded, n) != v for n, v in zip(model_loading._EARLY, settings)):
                raise CheckpointError(f"Checkpoint {path} changed while it was being loaded (its settings differ "
                                      "from those read first): run the analysis again.")
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
            _send(sock, _error_message(exc))
            return
        norm: list[np.ndarray] = []
        _send(sock, {"kind": "loaded", "describe": loaded.describe(), "is_synthetic": bool(loaded.is_synthetic),
                     "normalizer": encode(loaded.normalizer, norm), "about": about_model(loaded)}, norm)
        from .analyze import analyze_features

        while True:
            try:
                message, arrays = _recv(sock)
            except (EOFError, OSError):
                return
            if message.get("kind") == "check_mc_samples":
                try:
                    from .engine import check_mc_samples

                    _send(sock, {"kind": "checked", "value": check_mc_samples(loaded.model, message["value"])})
                except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
                    _send(sock, _error_message(exc))
                continue
            if message.get("kind") != "analyze_features":
                return
            try:
                args = decode(message["args"], arrays)
                del arrays

                def progress(fraction: float, text: str = "") -> None:
                    _send(sock, {"kind": "progress", "fraction": float(fraction), "message": str(text)})

                result = analyze_features(args.pop("features"), args.pop("masks"), loaded, progress=progress,
                                          **args)
                out: list[np.ndarray] = []
                tree = encode(dataclasses.replace(result, interference_spans=()), out)
                del result
                _send(sock, {"kind": "result", "value": tree, "maxrss_kb": _maxrss_kb()}, out)
                del out, tree
            except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
                _send(sock, _error_message(exc))
    except BaseException:  # noqa: BLE001 - a broken pipe, the parent gone: nothing to tell anyone
        code = 1
    finally:
        os._exit(code)  # no flush: the output buffers inherited from the parent are the parent's to write


def _rss_kb() -> int:
    """This process's resident memory now, kB (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return 0


def _maxrss_kb() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


# --- the parent's side --------------------------------------------------------------------------------------------
def can_fork() -> bool:
    """Whether a model process may be forked here: Linux, torch not imported yet (its OpenMP pool is not
    fork-safe) and no other thread running (a lock held by one would stay held in the child)."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork") and "torch" not in sys.modules
            and threading.active_count() == 1)


def start_model_process(path: Any = None, *, device: str | None = None) -> Any:
    """A :class:`RemoteModel` whose model loads in a forked child from now on, or None when that cannot be done
    here (:func:`can_fork`, or the checkpoint's settings cannot be read from its ``config.json``: the caller loads
    it in this process, which says what is wrong)."""
    if not can_fork():
        return None
    settings = _settings_of(path)
    return None if settings is None else RemoteModel(settings, path, device)


def spawn_model_process(path: Any = None, *, device: str | None = None) -> Any:
    """A :class:`RemoteModel` whose child is a fresh interpreter (multiprocessing's ``spawn``), or None when the
    checkpoint's settings cannot be read from its ``config.json`` (the caller loads it in this process, which
    says what is wrong).

    Unlike :func:`start_model_process` this may be called in a process with threads and with torch imported (the
    app). The child dies with the *thread* that started it (``PR_SET_PDEATHSIG``): call it from a thread that lives
    as long as the child should (the app's GUI thread), never from a pool thread that may end while idle. In a
    frozen executable the entry point must call ``multiprocessing.freeze_support()`` first.
    """
    settings = _settings_of(path)
    return None if settings is None else RemoteModel(settings, path, device, start_method="spawn")


def _settings_of(path: Any) -> tuple | None:
    """The checkpoint's early settings from its ``config.json`` (``path`` None: the default checkpoint), or None
    when they cannot be read: any doubt means in-process, where loading says what is wrong."""
    from pathlib import Path

    from .model_loading import _early_settings, default_checkpoint_path

    resolved = Path(path) if path is not None else default_checkpoint_path()
    try:
        return None if resolved is None else _early_settings(resolved)
    except Exception:  # noqa: BLE001 - any doubt: in-process, which says what is wrong
        return None


def about_model(loaded: Any) -> dict:
    """What a caller shows about a loaded model without holding it (plain, JSON-able): the checkpoint's path,
    format and version, its training data flags, fusion, context length T, number of tokens and the device's
    description. Sent by the model process with its "loaded" message (:attr:`RemoteModel.about`)."""
    meta = loaded.meta
    extra = dict(getattr(meta, "extra", None) or {})
    cfg = loaded.model.config
    path = getattr(meta, "path", None)
    try:
        from ..device import describe_device

        device = str(describe_device(loaded.device))
    except Exception:  # noqa: BLE001 - a description only
        device = str(loaded.device)
    return {"path": None if path is None else str(path),
            "format_version": getattr(meta, "format_version", "?"),
            "mmqnet_version": str(getattr(meta, "mmqnet_version", "") or ""),
            "untrained": bool(extra.get("untrained", False)),
            "training_data": str(extra.get("training_data", "unknown data")),
            "is_synthetic": bool(loaded.is_synthetic),
            "fusion": str(getattr(cfg, "fusion", "?")), "n_windows": int(cfg.n_windows),
            "n_tokens": len(loaded.layout), "device": device}


class RemoteModel:
    """The model of an analysis running in a child process (see the module docstring).

    Has the settings read first from the checkpoint's ``config.json`` (``layout``, ``feature_config``,
    ``preprocess_config``, ``normalization``, ``min_windows``) as attributes, like
    :class:`~mmqnet_core.inference.model_loading.DeferredModel`; ``describe()``, ``is_synthetic`` and
    ``normalizer`` once the child has loaded the model; :meth:`analyze_features` runs the model stage in the child. :meth:`use_local` switches
    to a model loaded in this process (a long span); every other attribute then comes from that model.
    """

    def __init__(self, settings: tuple, path: Any, device: str | None, *, start_method: str = "fork") -> None:
        from .model_loading import _EARLY

        for name, value in zip(_EARLY, settings):
            object.__setattr__(self, name, value)
        self._path, self._device = path, device
        self._lock = threading.Lock()
        self._loaded: dict | None = None
        self._error: dict | None = None
        self._local: Any = None
        self._warm: threading.Thread | None = None
        self.child_maxrss_kb = 0  # the child's peak resident memory (reported with its result), kB
        self.rss_while_child_kb = 0  # this process's resident memory while the child worked (at its result), kB
        self.close_after_use = False  # end the child once it has answered one analysis (the CLI)
        self.warm_writer = True  # start() imports the Parquet writer in a helper thread (the app does not save)
        self._proc: Any = None  # the multiprocessing.Process of a spawned child (None: forked)
        parent = os.getpid()
        for stream in (sys.stdout, sys.stderr):  # nothing buffered here may be written twice
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
        ours, theirs = socket.socketpair()
        if start_method == "spawn":
            import multiprocessing

            # the child's socket is passed as an inherited descriptor (multiprocessing's reduction of sockets)
            self._proc = multiprocessing.get_context("spawn").Process(
                target=_child, args=(theirs, path, device, settings, parent), name="mmqnet-model", daemon=True)
            self._proc.start()
            pid = self._proc.pid
        elif start_method == "fork":
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child (covered by the CLI tests in a subprocess)
                ours.close()
                _child(theirs, path, device, settings, parent)
        else:
            raise ValueError(f"start_method must be 'fork' or 'spawn', got {start_method!r}")
        theirs.close()
        self._sock: socket.socket | None = ours
        self._pid: int | None = pid

    # state ---------------------------------------------------------------------------------------------------
    @property
    def remote(self) -> bool:
        """True while the model stage runs in the child (not after :meth:`use_local`)."""
        return self._local is None

    @property
    def alive(self) -> bool:
        """True while the child can still answer: not stopped, not switched to :meth:`use_local`, no load error
        (a cancel during the model stage kills it: a caller keeping the model for the next run then starts a new
        one)."""
        if self._local is not None or self._sock is None:
            return False
        self._poll(0.0)
        return self._error is None and self._sock is not None and self._reap(block=False) == "still running"

    @property
    def about(self) -> dict:
        """:func:`about_model` of the model the child has loaded (waits for the load)."""
        if self._local is not None:
            return about_model(self._local.result() if hasattr(self._local, "result") else self._local)
        return dict(self.result()._loaded.get("about") or {})

    def check_mc_samples(self, mc_samples: Any, cancel: CancelToken | None = None) -> int:
        """:func:`~mmqnet_core.inference.engine.check_mc_samples` of the loaded model, in the child (waits for the
        load; its error, if any, is raised here)."""
        self.result(cancel)
        with self._lock:
            if self._sock is None:
                raise MMQNetError("The model process has been stopped: run the analysis again.")
            _send(self._sock, {"kind": "check_mc_samples", "value": encode(mc_samples, [])})
            try:
                message, _ = _recv(self._sock)
            except (EOFError, OSError, ValueError):
                message = self._died()
        if message.get("kind") != "checked":
            _raise(message)
        return int(message["value"])

    def _poll(self, timeout: float) -> bool:
        """Read the child's load message if it arrives within ``timeout`` s; True once it has been read."""
        if self._loaded is not None or self._error is not None:
            return True
        if not self._lock.acquire(timeout=max(timeout, 0.0)):
            return False
        try:
            if self._loaded is not None or self._error is not None:
                return True
            if self._sock is None:
                self._error = {"kind": "error", "type": "MMQNetError",
                               "message": "The model process has been stopped."}
                return True
            ready, _, _ = select.select([self._sock], [], [], timeout)
            if not ready:
                return False
            try:
                message, arrays = _recv(self._sock)
            except (EOFError, OSError, ValueError):
                message, arrays = self._died(), []
            if message.get("kind") == "loaded":
                message["arrays"] = arrays
                self._loaded = message
            else:
                self._error = message
            return True
        finally:
            self._lock.release()

    def _died(self) -> dict:
        status = self._reap(block=True)
        return {"kind": "error", "type": "MMQNetError",
                "message": f"The model process ended unexpectedly ({status}): run the analysis again; if it "
                           "happens again, run it with --in-process to see the error."}

    @property
    def failed(self) -> bool:
        """True once the child has reported that loading the model failed (:meth:`result` raises it)."""
        if self._local is not None:
            return bool(getattr(self._local, "failed", False))
        self._poll(0.0)
        return self._error is not None

    def result(self, cancel: CancelToken | None = None) -> "RemoteModel":
        """This model once the child has loaded it (waits); the load's error, if any, is raised here."""
        if self._local is not None:
            return self._local.result() if hasattr(self._local, "result") else self._local
        while not self._poll(POLL_S):
            check_cancel(cancel)
        if self._error is not None:
            _raise(self._error)
        return self

    def start(self) -> None:
        """Nothing to start for the model (it loads from the beginning); warms the Parquet writer in a helper
        thread (the saving needs it; as the in-process load does after the model). Starts the local load after
        :meth:`use_local`."""
        if self._local is not None:
            from .model_loading import start_loading

            start_loading(self._local)
            return
        with self._lock:
            if self._warm is not None or not self.warm_writer:
                return

            def warm() -> None:
                try:
                    import pyarrow.parquet  # noqa: F401
                except ImportError:  # pragma: no cover - the writer says what is missing when it writes
                    pass

            self._warm = threading.Thread(target=warm, name="mmqnet-warm-parquet")
        self._warm.start()

    @property
    def is_synthetic(self) -> bool:
        if self._local is not None:
            return self._local.is_synthetic
        return bool(self.result()._loaded["is_synthetic"])

    def describe(self) -> str:
        if self._local is not None:
            return self._local.describe()
        return str(self.result()._loaded["describe"])

    @property
    def normalizer(self) -> Any:
        """The training statistics of the loaded model (a per-subject model's fallback: subject statistics are
        fitted here), as the child has them. Imports torch here (the Normalizer's module), as fitting does."""
        if self._local is not None:
            return self._local.normalizer
        loaded = self.result()._loaded
        return decode(loaded["normalizer"], loaded["arrays"])

    def __getattr__(self, name: str) -> Any:
        """Anything else of the model (``model``, ``meta``, ``device``...): a caller that needs the model itself
        gets it loaded in this process (:meth:`use_local`: slower, never wrong)."""
        if name.startswith("_") or "_local" not in self.__dict__:
            raise AttributeError(name)
        if self.__dict__["_local"] is None:
            import logging

            logging.getLogger(__name__).info("%r asked of the model: loading it in this process", name)
            self.use_local()
        return getattr(self.__dict__["_local"], name)

    # switching, ending --------------------------------------------------------------------------------------
    def use_local(self) -> None:
        """End the child and load the model in this process instead (a helper thread, started by
        :meth:`start`), e.g. for a span whose features are too large to copy between processes."""
        from .model_loading import load_model_deferred

        if self._local is not None:
            return
        self.close(kill=True)
        if OMP_WAIT_POLICY and "OMP_WAIT_POLICY" not in os.environ and "torch" not in sys.modules:
            os.environ["OMP_WAIT_POLICY"] = OMP_WAIT_POLICY  # as in the child (the CLI's process: no children)
        self._local = load_model_deferred(self._path, device=self._device, start=False)

    def close(self, kill: bool = False) -> None:
        """End the child (closing its socket ends it; ``kill``: at once) and reap it."""
        if kill and self._pid is not None:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._close_socket()
        self._reap(block=True)

    def _reap(self, block: bool) -> str:
        pid = self._pid
        if pid is None:
            return "already ended"
        if self._proc is not None:  # multiprocessing's own record of the child must see its end
            self._proc.join(None if block else 0)
            code = self._proc.exitcode
            if code is None:
                return "still running"
            self._pid = None
            return f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        try:
            got, status = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            self._pid = None
            return "already reaped"
        if got == 0:
            return "still running"
        self._pid = None
        if os.WIFSIGNALED(status):
            return f"killed by signal {os.WTERMSIG(status)}"
        return f"exit status {os.WEXITSTATUS(status)}"

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            if self.__dict__.get("_sock") is not None:
                self.close(kill=True)
        except Exception:  # noqa: BLE001
            pass

    # the model stage ------------------------------------------------------------------------------------------
    def analyze_features(self, features: Any, masks: Any, *, progress: ProgressCallback | None = None,
                         cancel: CancelToken | None = None, interference_spans: Any = (), **kwargs: Any) -> Any:
        """:func:`~mmqnet_core.inference.analyze.analyze_features` of ``features`` in the child (same arguments;
        ``progress`` gets the child's reports; ``cancel`` is checked every :data:`POLL_S` s and kills the child).
        The result's ``interference_spans`` are the caller's own."""
        self.result(cancel)  # the load's error, if any
        kwargs.pop("reuse_features", None)
        arrays: list[np.ndarray] = []
        tree = encode(dict(features=features, masks=masks, reuse_features=True, **kwargs), arrays)
        try:
            with self._lock:
                if self._sock is None:
                    raise MMQNetError("The model process has been stopped: run the analysis again.")
                _send(self._sock, {"kind": "analyze_features", "args": tree}, arrays)
            del arrays, tree
            while True:
                with self._lock:
                    sock = self._sock
                    if sock is None:
                        raise MMQNetError("The model process has been stopped: run the analysis again.")
                    ready, _, _ = select.select([sock], [], [], POLL_S)
                    message = out = None
                    if ready:
                        try:
                            message, out = _recv(sock)
                        except (EOFError, OSError, ValueError):
                            message = self._died()
                if message is None:
                    check_cancel(cancel)
                    continue
                kind = message.get("kind")
                if kind == "progress":
                    report(progress, float(message["fraction"]), str(message["message"]))
                    check_cancel(cancel)
                elif kind == "result":
                    self.child_maxrss_kb = int(message.get("maxrss_kb", 0))
                    self.rss_while_child_kb = _rss_kb()
                    result = decode(message["value"], out)
                    return dataclasses.replace(result, interference_spans=tuple(interference_spans))
                else:
                    _raise(message)
        except BaseException as exc:
            if isinstance(exc, Cancelled) or not isinstance(exc, Exception):
                self.close(kill=True)  # cancelled or interrupted: the child must not keep computing
            raise
        finally:
            if self.close_after_use:  # the child exits while this process saves; close() reaps it
                self._close_socket()

    def _close_socket(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
