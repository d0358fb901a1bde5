"""Bad inputs generated from seeds, one class per function (issue 13's classes and a few more).

Every case is a folder of files plus the ``mmqnet`` command to run in it and what must happen:

``error``  exit code 2 and exactly one ``error:`` line;
``warn``   exit code 0 and at least one ``warning:`` line (the input was damaged, what was read is said);
``ok``     exit code 0 (a correct acceptance);
``any``    exit 0 or 2 (random header fuzz: either is fine, a traceback or a hang is not).

All files are written by hand here (EDF/BDF bytes, pickles, XML, JSON), so that any field can be damaged.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

MARKER = "PWNED_MARKER"  # a payload that runs creates this file in its case folder


@dataclass
class Case:
    name: str  # unique id: class/variant
    argv: list[str]  # mmqnet arguments, paths relative to the case folder
    expect: str  # "error", "warn", "ok", "any"
    make: Callable[[Path], None]  # writes the input files into the case folder
    strict_ascii: bool = False  # run with ASCII-only, strict output streams (a C locale)
    sources: list[str] = field(default_factory=list)  # files that must stay unchanged (default: all written)


# ---------------------------------------------------------------------------------------------- EDF/BDF bytes


def edf_bytes(
    *,
    labels=("Fp1", "Cz", "Pz", "GSR"),
    ns=64,
    record_s="1",
    n_records=20,
    n_records_header=None,
    pmin="-200",
    pmax="200",
    dmin=None,
    dmax=None,
    units=None,
    kind="edf",
    reserved="",
    data=None,
    seed=0,
    header_bytes=None,
) -> bytes:
    """An EDF/BDF file as bytes; every header field can be given as a (possibly absurd) value."""
    n = len(labels)
    ns_l = list(ns) if isinstance(ns, (list, tuple)) else [ns] * n
    lo, hi = (-8388608, 8388607) if kind == "bdf" else (-32768, 32767)
    dmin_l = [str(dmin if dmin is not None else lo)] * n
    dmax_l = [str(dmax if dmax is not None else hi)] * n
    pmin_l = list(pmin) if isinstance(pmin, (list, tuple)) else [pmin] * n
    pmax_l = list(pmax) if isinstance(pmax, (list, tuple)) else [pmax] * n
    units_l = list(units) if units is not None else ["uV" if lab != "GSR" else "uS" for lab in labels]

    def f(value, width):
        return str(value).encode("latin-1", "replace")[:width].ljust(width)

    version = b"\xffBIOSEMI" if kind == "bdf" else b"0       "
    hb = 256 * (n + 1) if header_bytes is None else header_bytes
    main = (version + f("X X X X", 80) + f("Startdate X X X X SYNTHETIC", 80) + f("01.01.20", 8) + f("00.00.00", 8)
            + f(hb, 8) + f(reserved, 44) + f(n_records if n_records_header is None else n_records_header, 8)
            + f(record_s, 8) + f(n, 4))
    sig = b"".join(f(lab, 16) for lab in labels) + b"".join(f("", 80) for _ in labels)
    sig += b"".join(f(u, 8) for u in units_l) + b"".join(f(v, 8) for v in pmin_l) + b"".join(f(v, 8) for v in pmax_l)
    sig += b"".join(f(v, 8) for v in dmin_l) + b"".join(f(v, 8) for v in dmax_l)
    sig += b"".join(f("", 80) for _ in labels) + b"".join(f(v, 8) for v in ns_l) + b"".join(f("", 32) for _ in labels)
    try:
        total = sum(int(v) for v in ns_l)
    except ValueError:
        total = 64 * n
    total = max(total, 0)
    if data is None:
        rng = np.random.default_rng(seed)
        t = np.arange(total * n_records)
        data = (3000 * np.sin(2 * np.pi * t / 17.0) + rng.normal(0, 500, t.size)).astype(np.int64)
    data = np.asarray(data, np.int64).ravel()
    if kind == "bdf":
        v = data.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
        body = v.tobytes()
    else:
        body = data.astype("<i2").tobytes()
    return main + sig + body


def _write(name: str, content: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        (folder / name).write_bytes(content() if callable(content) else content)
    return make


def edf_cases() -> list[Case]:
    cases: list[Case] = []
    n = 64 * 20
    # 1. every EEG channel flat (electrodes off, all-zero, digital min or max): a warning naming them
    for variant, value in (("zero", 0), ("dmin", -32768), ("dmax", 32767)):
        data = np.zeros((20, 4, 64), np.int64) + value
        rng = np.random.default_rng(1)
        data[:, 3, :] = (3000 * np.sin(np.arange(n) / 9.0) + rng.normal(0, 300, n)).reshape(20, 64)  # GSR alive
        cases.append(Case(f"flat_eeg/{variant}", ["features", "flat.edf", "-o", "out.csv"], "warn",
                          _write("flat.edf", edf_bytes(data=data.ravel()))))
    # 2. EDF+ without a data signal, annotation signal with 0 or negative samples, zero-size data signal
    ann = "+0\x14\x14\x00".ljust(60 * 2, "\x00").encode("latin-1")
    cases.append(Case("edfplus/annotation_only", ["info", "a.edf"], "error", _write(
        "a.edf", edf_bytes(labels=("EDF Annotations",), ns=60, reserved="EDF+C", n_records=3,
                           data=np.frombuffer(ann * 3, "<i2")))))
    for k, bad in enumerate((0, -5, -60)):
        cases.append(Case(f"edfplus/annotation_ns_{bad}", ["info", "a.edf"], "error", _write(
            "a.edf", edf_bytes(labels=("Fp1", "Cz", "EDF Annotations"), ns=[64, 64, bad], reserved="EDF+C"))))
    cases.append(Case("edf/data_signal_ns_0", ["info", "z.edf"], "error",
                      _write("z.edf", edf_bytes(ns=[64, 0, 64, 64]))))
    # 3. absurd record durations and rates
    for rs in ("inf", "-inf", "nan", "1e300", "0", "-1", "1e-6", "1e-9", "abc", "", "1e5"):
        cases.append(Case(f"edf/record_s_{rs or 'blank'}", ["info", "r.edf"], "error",
                          _write("r.edf", edf_bytes(record_s=rs))))
    # physical ranges NaN/inf, empty digital range, wrong header size, no signal
    for field_, value in (("pmin", "nan"), ("pmax", "inf"), ("pmin", "-inf"), ("pmax", "1e999")):
        cases.append(Case(f"edf/{field_}_{value}", ["info", "p.edf"], "error",
                          _write("p.edf", edf_bytes(**{field_: value}))))
    cases.append(Case("edf/digital_range_empty", ["info", "d.edf"], "error",
                      _write("d.edf", edf_bytes(dmin=100, dmax=100))))
    cases.append(Case("edf/header_bytes_wrong", ["info", "h.edf"], "error",
                      _write("h.edf", edf_bytes(header_bytes=999))))
    # 10 (accepted but wrong): truncated data, records beyond the end, corrected header, incomplete record
    good = edf_bytes()
    hdr = 256 * 5
    rec_bytes = 4 * 64 * 2
    for seed in range(3):
        cut = hdr + int(np.random.default_rng(seed).integers(2, 18)) * rec_bytes
        cases.append(Case(f"damaged/truncated_records_{seed}", ["info", "t.edf"], "warn", _write("t.edf", good[:cut])))
        cut2 = cut + int(np.random.default_rng(seed + 10).integers(1, rec_bytes))
        cases.append(Case(f"damaged/incomplete_record_{seed}", ["info", "t.edf"], "warn",
                          _write("t.edf", good[:cut2])))
    cases.append(Case("damaged/records_beyond_end", ["info", "b.edf"], "warn",
                      _write("b.edf", edf_bytes(n_records_header=7))))
    cases.append(Case("damaged/records_minus_one", ["info", "m.edf"], "warn",
                      _write("m.edf", edf_bytes(n_records_header=-1))))
    cases.append(Case("damaged/truncated_features", ["features", "t.edf", "-o", "o.csv"], "warn",
                      _write("t.edf", good[: hdr + 12 * rec_bytes + 7])))
    for keep in (0, 100, 255, 700):
        cases.append(Case(f"edf/truncated_header_{keep}", ["info", "t.edf"], "error", _write("t.edf", good[:keep])))

    # 5. a sparse file holding ~16 GB of records (holes on disk): cleaning it (float64, several copies: ~260 GB)
    # would not fit in memory on any machine that runs this suite
    def sparse(folder: Path) -> None:
        head = edf_bytes(n_records=1)[:hdr]
        with open(folder / "big.edf", "wb") as fid:
            fid.write(head)
            fid.truncate(hdr + rec_bytes * 32_000_000)
    cases.append(Case("memory/sparse_16gb_features", ["features", "big.edf", "-o", "o.csv"], "error", sparse))

    # 9. output safety: control characters in labels, odd file names, strict ASCII output
    for k, label in enumerate(("Fp1\x1b[31m", "C\x00z", "P\nz", "Cz\x7f\x9b")):
        cases.append(Case(f"output/label_control_{k}", ["info", "l.edf"], "ok",
                          _write("l.edf", edf_bytes(labels=("Fp1", label, "Pz", "GSR")))))
    cases.append(Case("output/label_latin1_strict_ascii", ["info", "l.edf"], "ok",
                      _write("l.edf", edf_bytes(labels=("Fp1", "C\xe9z", "Pz", "GSR"))), strict_ascii=True))
    for k, fname in enumerate((os.fsdecode(b"bad\xff\xfe.edf"), "two\nlines.edf", "esc\x1b[2Jname.edf",
                               "caf\u00e9\u2603.edf")):
        cases.append(Case(f"output/filename_{k}", ["info", fname], "error",
                          _write(fname, edf_bytes(record_s="nan")), strict_ascii=True))
    # output safety: an output path that is the source (directly, by a symbolic or a hard link) is refused
    def linked(kind: str) -> Callable[[Path], None]:
        def make(folder: Path) -> None:
            (folder / "src.edf").write_bytes(edf_bytes())
            if kind == "symlink":
                (folder / "out.edf").symlink_to(folder / "src.edf")
            elif kind == "hardlink":
                os.link(folder / "src.edf", folder / "out.edf")
        return make
    for kind, out in (("same", "src.edf"), ("dotted", "./sub/../src.edf"), ("symlink", "out.edf"),
                      ("hardlink", "out.edf")):
        cases.append(Case(f"output/preprocess_over_source_{kind}", ["preprocess", "src.edf", "-o", out], "error",
                          linked(kind)))
    cases.append(Case("output/analyze_into_source", ["analyze", "src.edf", "-o", "src.edf"], "error",
                      linked("same")))
    # session 13: an output that is a folder, or in a file; a disk full or read-only folder is in
    # tests/core/test_output_errors_session13.py (simulated: root writes anywhere)
    def folder_in_the_way(folder: Path) -> None:
        (folder / "src.edf").write_bytes(edf_bytes())
        (folder / "o.fif").mkdir()
        (folder / "afile").write_bytes(b"x")
    for k, opts in enumerate((["preprocess", "src.edf", "-o", "o.fif"], ["features", "src.edf", "-o", "afile/o.csv"],
                              ["analyze", "src.edf", "-o", "afile/out"])):
        cases.append(Case(f"output/folder_in_the_way_{k}_{opts[0]}", opts, "error", folder_in_the_way))
    # session 13: EDF+ annotation texts in Latin-1 (a recorder's code page): read, with a warning
    ann = [np.concatenate([np.zeros(2 * 64), np.frombuffer((f"+{r}\x14\x14\x00".encode() + (
        b"+1.5\x152\x14Augen ge\xf6ffnet\x14\x00" if r == 1 else b"")).ljust(120, b"\x00"), "<i2")])
        for r in range(6)]
    cases.append(Case("edfplus/annotation_latin1", ["info", "a.edf"], "warn", _write(
        "a.edf", edf_bytes(labels=("Fp1", "Cz", "EDF Annotations"), ns=[64, 64, 60], reserved="EDF+C", n_records=6,
                           data=np.concatenate(ann)))))
    # absurd options
    for k, opts in enumerate((["features", "o.edf", "-o", "o.csv", "--window", "nan"],
                              ["features", "o.edf", "-o", "o.csv", "--step", "-inf"],
                              ["preprocess", "o.edf", "-o", "c.fif", "--start", "nan"],
                              ["preprocess", "o.edf", "-o", "c.fif", "--start", "5", "--stop", "5"],
                              ["preprocess", "o.edf", "-o", "c.fif", "--sfreq", "inf"],
                              ["analyze", "o.edf", "-o", "out", "--stop", "-1"],
                              ["analyze", "o.edf", "-o", "out", "--mc-samples", "-3"],
                              ["info", "o.edf", "--modality", "Cz=\x1bEEG"],
                              ["info", "o.edf", "--trial", "3"])):
        cases.append(Case(f"options/{k}_{opts[0]}", opts, "error", _write("o.edf", edf_bytes())))
    for k, opts in enumerate((["--sample", "--duration-s", "1e12"], ["--trial-s", "nan"], ["--subjects", "0"],
                              ["--sfreq", "inf", "--sample"], ["--format", "deap", "--trials", "10000",
                                                                 "--trial-s", "3600"])):
        cases.append(Case(f"options/synth_{k}", ["synth", "-o", "syn", *opts], "error", lambda folder: None))
    # random header fuzz: any field may become anything; exit 0 or 2, never a traceback or a hang
    # MMQNET_FUZZ_SEED draws a fresh set (CI uses the default; `MMQNET_FUZZ_SEED=7 pytest tests/core/bad_inputs`)
    base, first = edf_bytes(n_records=6), 1000 + 1000 * int(os.environ.get("MMQNET_FUZZ_SEED", "0"))
    for seed in range(24):
        rng = np.random.default_rng(first + seed)
        raw = bytearray(base)
        for _ in range(int(rng.integers(1, 5))):
            pos = int(rng.integers(8, hdr))
            width = int(rng.integers(1, 9))
            choice = rng.integers(0, 4)
            if choice == 0:
                repl = bytes(rng.integers(0, 256, width, dtype=np.uint8))
            elif choice == 1:
                repl = str(rng.choice(["-1", "0", "nan", "1e308", "99999999", "-9e9", " ", "+"])).encode()
            elif choice == 2:
                repl = b" " * width
            else:
                repl = bytes(rng.integers(48, 58, width, dtype=np.uint8))
            raw[pos: pos + len(repl)] = repl[: max(0, hdr - pos)]
        cut = len(raw) if rng.random() < 0.7 else int(rng.integers(hdr, len(raw)))
        cmd = "features" if seed % 6 == 0 else "info"
        argv = ["info", "f.edf"] if cmd == "info" else ["features", "f.edf", "-o", "o.csv"]
        cases.append(Case(f"fuzz/edf_header_{seed}", argv, "any", _write("f.edf", bytes(raw[:cut]))))
    return cases


# --------------------------------------------------------------------------------------------------- DEAP


def _deap_obj(n_trials=2, n_times=384, **extra):
    rng = np.random.default_rng(0)
    obj = {"data": rng.normal(0, 10, (n_trials, 40, n_times)), "labels": rng.uniform(1, 9, (n_trials, 4))}
    obj.update(extra)
    return obj


def _pickle(obj, protocol=2) -> bytes:
    return pickle.dumps(obj, protocol=protocol)


class _Payload:
    """Pickles as a call that would create the marker file if anything ran it."""

    def __init__(self, how: str):
        self.how = how

    def __reduce__(self):
        if self.how == "os.system":
            return (os.system, (f"touch {MARKER}",))
        if self.how == "eval":
            return (eval, (f"open({MARKER!r}, 'w')",))
        if self.how == "exec":
            return (exec, (f"open({MARKER!r}, 'w').close()",))
        import subprocess

        return (subprocess.call, (["touch", MARKER],))


class _Forged:
    """Pickles as ``numpy.ndarray(shape, dtype, buffer, 0, strides)``: hours of 'data' from a few bytes."""

    def __init__(self, shape, strides, nbuf=8):
        self.shape, self.strides, self.nbuf = shape, strides, nbuf

    def __reduce__(self):
        return (np.ndarray, (self.shape, np.dtype("<f8"), bytearray(self.nbuf), 0, self.strides))


class _Huge:
    """Pickles as ``numpy.ndarray(shape)``: an uninitialised array of absurd size."""

    def __init__(self, shape):
        self.shape = shape

    def __reduce__(self):
        return (np.ndarray, (self.shape,))


def deap_cases() -> list[Case]:
    cases: list[Case] = []
    labels = np.full((2, 4), 5.0)
    # 4. optional keys: sfreq, ch_names, units of the wrong type or absurd value
    for k, sfreq in enumerate(("abc", [128.0], 1e-9, 1e12, float("nan"), float("inf"), -5.0, 0, True, None, b"x")):
        extra = {"sfreq": sfreq} if sfreq is not None else {"sfreq": None}
        cases.append(Case(f"deap/sfreq_{k}", ["info", "s01.dat"], "error",
                          _write("s01.dat", _pickle(_deap_obj(**extra)))))
    for k, ch in enumerate((7, ["Fp1"] * 40, [str(i) for i in range(39)], [1] * 40, "Fp1")):
        cases.append(Case(f"deap/ch_names_{k}", ["info", "s01.dat"], "error",
                          _write("s01.dat", _pickle(_deap_obj(ch_names=ch)))))
    cases.append(Case("deap/ch_names_none", ["info", "s01.dat"], "ok",
                      _write("s01.dat", _pickle(_deap_obj(ch_names=None)))))
    for k, units in enumerate((3, ["uV"] * 39, [None] * 40)):
        cases.append(Case(f"deap/units_{k}", ["info", "s01.dat"], "error",
                          _write("s01.dat", _pickle(_deap_obj(units=units)))))
    # 10. ratings that are not 1-9 ratings: accepted, the label dropped with a warning
    for k, bad in enumerate((float("nan"), -3.0, float("inf"), 1000.0)):
        lab = labels.copy()
        lab[0, k % 4] = bad
        obj = _deap_obj()
        obj["labels"] = lab
        cases.append(Case(f"deap/rating_{k}", ["info", "s01.dat"], "warn", _write("s01.dat", _pickle(obj))))
    # session 13: values no recorder stores (a damaged file): the cleaning failed with "SVD did not converge"
    obj = _deap_obj()
    obj["data"][0, 3] *= 1e299
    cases.append(Case("deap/absurd_values", ["features", "s01.dat", "-o", "f.csv"], "error",
                      _write("s01.dat", _pickle(obj))))
    # complex, object, boolean data; wrong shapes
    obj = _deap_obj()
    obj["data"] = obj["data"] + 1j
    cases.append(Case("deap/complex_data", ["info", "s01.dat"], "error", _write("s01.dat", _pickle(obj))))
    obj = _deap_obj()
    obj["labels"] = obj["labels"].astype(object)
    cases.append(Case("deap/object_labels", ["info", "s01.dat"], "error", _write("s01.dat", _pickle(obj))))
    for k, (d, lab) in enumerate((((2, 40), (2, 4)), ((2, 39, 100), (2, 4)), ((2, 40, 100), (3, 4)),
                                  ((0, 40, 100), (0, 4)), ((2, 40, 0), (2, 4)))):
        o = {"data": np.zeros(d), "labels": np.full(lab, 5.0)}
        cases.append(Case(f"deap/shape_{k}", ["info", "s01.dat"], "error", _write("s01.dat", _pickle(o))))
    cases.append(Case("deap/not_a_dict", ["info", "s01.dat"], "error", _write("s01.dat", _pickle([1, 2, 3]))))
    # data not backed by the file: strides of 0, an uninitialised huge array
    for k, (shape, strides, nbuf) in enumerate((((40, 40, 2_000_000), (0, 0, 0), 8), ((40, 40, 8064), (0, 0, 0), 8),
                                                ((2, 40, 100), (0, 8, 0), 320))):
        cases.append(Case(f"deap/forged_strides_{k}", ["info", "s01.dat"], "error", _write(
            "s01.dat", _pickle({"data": _Forged(shape, strides, nbuf), "labels": np.full((shape[0], 4), 5.0)}))))
    for k, shape in enumerate(((40, 40, 10**9), (10**6, 40, 10**6))):
        cases.append(Case(f"deap/huge_array_{k}", ["info", "s01.dat"], "error", _write(
            "s01.dat", _pickle({"data": _Huge(shape), "labels": np.full((40, 4), 5.0)}))))
    # code-running payloads at every protocol: refused, the marker never appears
    for how in ("os.system", "eval", "exec", "subprocess"):
        for proto in range(0, 6):
            cases.append(Case(f"pickle/{how}_p{proto}", ["info", "s01.dat"], "error", _write(
                "s01.dat", _pickle(_deap_obj(n_trials=1, n_times=256, synthetic=_Payload(how)), protocol=proto))))
    # benign pickles that must load: a bytearray at protocol 2, numpy scalars, old protocols
    cases.append(Case("pickle/benign_bytearray_p2", ["info", "s01.dat"], "ok",
                      _write("s01.dat", _pickle(_deap_obj(extra_blob=bytearray(b"abc")), protocol=2))))
    for proto in (0, 4, 5):
        cases.append(Case(f"pickle/benign_p{proto}", ["info", "s01.dat"], "ok",
                          _write("s01.dat", _pickle(_deap_obj(sfreq=np.float64(128.0)), protocol=proto))))
    # truncated pickles
    whole = _pickle(_deap_obj())
    for seed in range(4):
        cut = int(np.random.default_rng(seed).integers(1, len(whole) - 1))
        cases.append(Case(f"deap/truncated_{seed}", ["info", "s01.dat"], "error", _write("s01.dat", whole[:cut])))
    # a pickle error whose text holds a newline must still be one line
    cases.append(Case("deap/error_with_newline", ["info", "s01.dat"], "error",
                      _write("s01.dat", b"\x80\x02cnumpy\nbogus\nline\n.")))
    return cases


# ------------------------------------------------------------------------------------------------- MAHNOB


def _mahnob(xml: bytes) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        s = folder / "Session1"
        s.mkdir()
        (s / "Part_1_N_Trial1_emotion.bdf").write_bytes(
            edf_bytes(labels=("Fp1", "Cz", "Pz", "GSR1"), kind="bdf", units=("uV", "uV", "uV", "nS")))
        (s / "session.xml").write_bytes(xml)
    return make


def mahnob_cases() -> list[Case]:
    cases: list[Case] = []
    body = '<session feltVlnc="{v}" feltArsl="5" feltCtrl="5" feltPred="5" feltEmo="1"><subject id="1"/></session>'
    for k, enc in enumerate(("x-bogus-encoding", "utf-16", "utf-32", "UTF-7", "rot13", "idna")):
        xml = f'<?xml version="1.0" encoding="{enc}"?>'.encode() + body.format(v=5).encode()
        cases.append(Case(f"mahnob/encoding_{k}", ["info", "Session1"], "error", _mahnob(xml)))
    for k, v in enumerate(("nan", "-3", "inf", "1000", "abc")):
        cases.append(Case(f"mahnob/rating_{k}", ["info", "Session1"], "warn", _mahnob(body.format(v=v).encode())))
    laughs = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + ']><session feltVlnc="&i;"/>').encode()
    cases.append(Case("mahnob/billion_laughs", ["info", "Session1"], "error", _mahnob(laughs)))
    ext = (b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<session feltVlnc="&x;"/>')
    cases.append(Case("mahnob/external_entity", ["info", "Session1"], "any", _mahnob(ext)))
    cases.append(Case("mahnob/deep_xml", ["info", "Session1"], "any",
                      _mahnob(b"<session>" + b"<a>" * 100000 + b"</a>" * 100000 + b"</session>")))
    return cases


# -------------------------------------------------------------------------------------- JSON: masks, checkpoints


def _small_recording(folder: Path) -> None:
    (folder / "rec.edf").write_bytes(edf_bytes(labels=("Fp1", "Fp2", "F3", "F4", "GSR"), ns=128, n_records=40))


def _ckpt_from(source: Path, edit: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        _small_recording(folder)
        (folder / "ckpt").mkdir()
        for name in ("config.json", "model.safetensors"):  # what a checkpoint is made of
            shutil.copy2(source / name, folder / "ckpt" / name)
        edit(folder / "ckpt")
    return make


def _edit_config(fn: Callable[[dict], object]) -> Callable[[Path], None]:
    def edit(ck: Path) -> None:
        cfg = json.loads((ck / "config.json").read_text())
        new = fn(cfg)
        (ck / "config.json").write_text(new if isinstance(new, str) else json.dumps(cfg))
    return edit


def json_cases(checkpoint: Path) -> list[Case]:
    cases: list[Case] = []
    analyze = ["analyze", "rec.edf", "-o", "out", "--masks", "m.json"]

    def masks(content: bytes | None, fifo: bool = False, folder_: bool = False) -> Callable[[Path], None]:
        def make(folder: Path) -> None:
            _small_recording(folder)
            if fifo:
                os.mkfifo(folder / "m.json")
            elif folder_:
                (folder / "m.json").mkdir()
            else:
                (folder / "m.json").write_bytes(content)
        return make

    head = b'{"format": "mmqnet-masks", "version": 1, "channels": [], "segments": '
    for k, content in enumerate((
        b"[" * 100000 + b"]" * 100000,
        head + b'[{"start_s": 1' + b"0" * 5000 + b', "end_s": 2}]}',
        head + b'[{"start_s": NaN, "end_s": 2}]}',
        head + b'[{"start_s": 1e999, "end_s": 2}]}',
        b"\xff\xfe{not utf8",
        head + b'"abc"}',
        b'{"format": "mmqnet-masks", "version": 99999999999999999999999999999999999999999}',
    )):
        cases.append(Case(f"masks/json_{k}", analyze, "error", masks(content), sources=["rec.edf", "m.json"]))
    cases.append(Case("masks/fifo", analyze, "error", masks(None, fifo=True), sources=["rec.edf"]))
    # session 13: a mask file of another recording (channels it lacks, spans after its end): analysed, said loudly
    cases.append(Case("masks/of_another_recording", analyze, "warn", masks(
        b'{"format": "mmqnet-masks", "version": 1, "channels": ["EXG9"], '
        b'"segments": [{"start_s": 900, "end_s": 950}]}'), sources=["rec.edf", "m.json"]))
    cases.append(Case("masks/folder", analyze, "error", masks(None, folder_=True), sources=["rec.edf"]))

    ck_argv = ["analyze", "rec.edf", "-o", "out", "--checkpoint", "ckpt"]

    def deep(cfg):
        return "[" * 50000 + "]" * 50000

    def huge_int(cfg):
        return json.dumps(cfg).replace('"format_version": 1', '"format_version": 1' + "0" * 5000)

    def layout_list(cfg):
        cfg.setdefault("extra", {})["layout"] = ["Fp1", "Fp2"]

    def min_windows_text(cfg):
        cfg.setdefault("extra", {})["normalization"] = {"mode": "global", "min_windows": "thirty"}

    def bands_bad(cfg):
        cfg.setdefault("extra", {}).setdefault("feature_config", {})["bands"] = [["theta", "x"], 5]

    def modalities_bad(cfg):
        cfg.setdefault("extra", {})["layout"] = {"token_names": ["a"], "token_modalities": [7]}

    def normalizer_nan(cfg):
        if cfg.get("normalizer"):
            cfg["normalizer"]["std"][0][0] = 0.0
        else:
            cfg["normalizer"] = {"mean": "x", "std": None}

    def model_config_bad(cfg):
        cfg["model_config"] = ["not", "a", "dict"]

    for fn in (deep, huge_int, layout_list, min_windows_text, bands_bad, modalities_bad, normalizer_nan,
               model_config_bad):
        cases.append(Case(f"checkpoint/{fn.__name__}", ck_argv, "error", _ckpt_from(checkpoint, _edit_config(fn))))

    def nan_weights(ck: Path) -> None:
        from safetensors.torch import load_file, save_file

        state = load_file(str(ck / "model.safetensors"))
        state = {k: v.clone().fill_(float("nan")) if v.is_floating_point() else v for k, v in state.items()}
        save_file(state, str(ck / "model.safetensors"), metadata={"format": "mmqnet-checkpoint",
                                                                   "format_version": "1"})
    cases.append(Case("checkpoint/nan_weights", ck_argv, "error", _ckpt_from(checkpoint, nan_weights)))

    def pt_payload(ck: Path) -> None:
        (ck / "model.safetensors").unlink()
        (ck / "model.pt").write_bytes(pickle.dumps({"state_dict": _Payload("os.system")}, protocol=2))
    cases.append(Case("checkpoint/pt_pickle_payload", ck_argv, "error", _ckpt_from(checkpoint, pt_payload)))

    def torch_zip_payload(ck: Path) -> None:
        import torch

        (ck / "model.safetensors").unlink()
        torch.save({"state_dict": _Payload("eval")}, ck / "model.pt")
    cases.append(Case("checkpoint/torch_save_payload", ck_argv, "error", _ckpt_from(checkpoint, torch_zip_payload)))
    # session 13: evaluate's options refused before the checkpoint's pinned corpus is rebuilt (8-18 minutes)
    for k, opts in enumerate((["--rates", "0,1.5"], ["--data", "deap:nowhere"], ["-o", "rec.edf/ev"],
                              ["--corpus", "rec.edf"])):
        cases.append(Case(f"evaluate/option_{k}", ["evaluate", "--checkpoint", str(checkpoint), "-o", "ev", *opts],
                          "error", _small_recording))
    return cases


def all_cases(checkpoint: Path | None) -> list[Case]:
    """Every generated case (JSON/checkpoint cases only when a checkpoint to damage exists)."""
    out = edf_cases() + deap_cases() + mahnob_cases()
    if checkpoint is not None:
        out += json_cases(checkpoint)
    names = [c.name for c in out]
    assert len(names) == len(set(names)), "case names must be unique"
    return out


__all__ = ["Case", "MARKER", "all_cases", "edf_bytes", "struct"]
