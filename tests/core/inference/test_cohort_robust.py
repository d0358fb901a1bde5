"""Cohorts as a user runs them: Ctrl+C / cancel with the process pool, a parent killed outright, a damaged file
that is read in part, a scheduler address that is no address. SYNTHETIC recordings, the shipped checkpoint."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from mmqnet_core.cli import main
from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf
from mmqnet_core.errors import Cancelled
from mmqnet_core.inference import cohort
from mmqnet_core.inference.cohort import ALREADY_DONE, ANALYSED, FAILED, find_sources, run_cohort

SHORT = SynthConfig(trial_s=12.0)  # 3 s baseline + 12 s at 128 Hz: 15 windows


@pytest.fixture(autouse=True)
def _fresh_model_cache(monkeypatch):
    monkeypatch.setattr(cohort, "_MODELS", {})


def test_a_truncated_file_in_a_cohort_is_said_in_the_table(tmp_path, capsys):
    """A damaged file that can be read in part is analysed, and what was not read is in the table's ``warnings``
    column (and the CLI's warning lines), also when it is skipped as done; before, the cohort dropped it."""
    good = write_bdf(generate_trial(SHORT, 3, 0), tmp_path / "good.edf", fmt="edf")
    data = good.read_bytes()
    (tmp_path / "cut.edf").write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    assert main(["analyze", str(good), str(tmp_path / "cut.edf"), "-o", str(out), "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "warning: cut: cut.edf is truncated" in err
    table = pd.read_parquet(out / "cohort.parquet")
    assert list(table.columns[: len(cohort.ID_COLUMNS)]) == list(cohort.ID_COLUMNS)
    per = table.groupby("recording").warnings.first()
    assert per["good"] == ""
    assert "cut.edf is truncated: the header declares 15 data records" in per["cut"]
    again = run_cohort(find_sources([good, tmp_path / "cut.edf"]), out, jobs=1)
    assert [o.status for o in again.outcomes] == [ALREADY_DONE, ALREADY_DONE]
    assert "cut.edf is truncated" in again.outcomes[1].warnings
    csv = pd.read_csv(out / "cohort.csv", keep_default_na=False)
    assert csv.loc[csv.recording == "cut", "warnings"].str.contains("truncated").all()


def test_a_scheduler_value_that_is_no_address_is_one_error_line(tmp_path, capsys):
    pytest.importorskip("distributed")
    src = write_bdf(generate_trial(SHORT, 3, 0), tmp_path / "a.bdf")
    assert main(["analyze", str(src), "-o", str(tmp_path / "out"), "--scheduler", "nonsense"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: Invalid value for '--scheduler': cannot reach a Dask scheduler at nonsense")


@pytest.mark.slow
def test_a_cancel_with_the_process_pool_stops_the_workers(tmp_path):
    """Ctrl+C (or a cancel) while the pool works: Cancelled, the running analyses are stopped at once and no
    worker is left (before: AttributeError from the pool's forgotten process table, workers ran on)."""
    paths = [write_bdf(generate_trial(SHORT, 3, t), tmp_path / f"r{t}.bdf") for t in range(4)]

    class AfterFirst:  # a cancel token set once the first recording is finished
        def __init__(self):
            self.at = None

        def is_set(self):
            return self.at is not None

    token = AfterFirst()

    def on_outcome(source, outcomes):
        token.at = time.perf_counter()

    with pytest.raises(Cancelled):
        run_cohort(find_sources(paths), tmp_path / "out", jobs=2, on_outcome=on_outcome, cancel=token)
    t0 = token.at
    assert t0 is not None and time.perf_counter() - t0 < 5.0
    assert multiprocessing.active_children() == []
    done = [p.name for p in (tmp_path / "out").iterdir() if (p / cohort.DONE_MARKER).is_file()]
    assert 1 <= len(done) < 4  # the queued recordings were dropped


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_pool_worker_ends_when_its_parent_is_killed(tmp_path):
    """A parent killed outright (SIGKILL) cannot stop its workers: they end with it instead of going on with the
    queued recordings and then waiting for work forever, each holding a model (~0.7 GB)."""
    paths = [write_bdf(generate_trial(SHORT, 3, t), tmp_path / f"r{t}.bdf") for t in range(4)]
    pid_file = tmp_path / "workers.pid"
    script = textwrap.dedent(f"""
        import multiprocessing, threading, time
        from mmqnet_core.inference.cohort import find_sources, run_cohort

        def tell():  # the pool's worker processes, once both run
            while len(kids := multiprocessing.active_children()) < 2:
                time.sleep(0.05)
            open({str(pid_file)!r} + ".tmp", "w").write(" ".join(str(k.pid) for k in kids))
            import os
            os.replace({str(pid_file)!r} + ".tmp", {str(pid_file)!r})

        if __name__ == "__main__":
            threading.Thread(target=tell, daemon=True).start()
            run_cohort(find_sources({[str(p) for p in paths]!r}), {str(tmp_path / "out")!r}, jobs=2)
            time.sleep(120)
    """)
    (tmp_path / "parent.py").write_text(script)
    parent = subprocess.Popen([sys.executable, str(tmp_path / "parent.py")], cwd=os.getcwd(),
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not pid_file.is_file():
            assert time.monotonic() < deadline and parent.poll() is None
            time.sleep(0.1)
        workers = [int(w) for w in pid_file.read_text().split()]
        time.sleep(1.0)  # the workers are past their initializer (importing torch) or in it
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10  # a worker still importing torch ends when its initializer is done
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers)
    finally:
        if parent.poll() is None:
            parent.kill()
        for w in workers:  # (before the fix) the workers this test started
            if _alive(w):
                os.kill(w, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie reaped by init counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _with_flat(tr, spans):
    """A copy of the SYNTHETIC trial ``tr`` whose channels hold their first value over ``spans``
    ({channel: (start_s, stop_s)}): a sensor that came off."""
    import dataclasses

    data = tr.data.copy()
    for ch, (a, b) in spans.items():
        i = tr.ch_names.index(ch)
        i0, i1 = int(a * tr.sfreq), int(b * tr.sfreq)
        data[i, i0:i1] = data[i, i0]
    return dataclasses.replace(tr, data=data)


def test_a_dead_channel_has_no_data_and_a_flat_stretch_keeps_its_rule(tmp_path):
    """A channel flat for most of the recording (a sensor that came off) is missing ("no data") where it is flat;
    before, the filters' rounding noise of the flat input (~1e-31 uV) passed as a signal and an all-flat recording
    was analysed as if it held data. A short flat stretch in a live channel keeps flat_windows' rule."""
    from mmqnet_core.features import FeatureConfig, extract_features
    from mmqnet_core.features.missing import MissingReason
    from mmqnet_core.features.peripheral import flat_windows, to_canonical
    from mmqnet_core.features.spectral import WindowGrid
    from mmqnet_core.io import load_recording
    from mmqnet_core.preprocessing import preprocess

    tr = _with_flat(generate_trial(SynthConfig(trial_s=30.0), 3, 0),
                    {"C3": (0.0, 33.0), "GSR": (0.0, 33.0), "Fp1": (5.0, 33.0), "O1": (10.0, 15.0)})
    rec = load_recording(write_bdf(tr, tmp_path / "synthetic_dead.bdf"))
    pre = preprocess(rec)
    fs = extract_features(pre.cleaned, FeatureConfig(), interference=pre.interference)
    names = [t.channel for t in fs.tokens]
    reason = fs.reason[:, names.index("C3")]
    assert (reason == MissingReason.NO_DATA).all() and fs.missing[:, names.index("C3")].all()
    assert (fs.reason[:, names.index("GSR")] == MissingReason.NO_DATA).all()
    fp1 = fs.missing[:, names.index("Fp1")]
    assert fp1[7:].all() and not fp1[:4].any()  # flat from 5 s on: missing there, present before
    # O1's 5-s stretch: exactly the windows of flat_windows' own rule
    grid = WindowGrid.make(pre.cleaned.sfreq, pre.cleaned.n_times, 1.0, 1.0)
    row = pre.cleaned.ch_names.index("O1")
    own = flat_windows(to_canonical(rec.channels[row].modality, pre.cleaned.data[row:row + 1],
                                    pre.cleaned.channels[row].unit), grid, FeatureConfig(), slow=False)[0]
    assert np.array_equal(fs.missing[:, names.index("O1")], own)
    # a live channel is untouched
    assert not fs.missing[:, names.index("Cz")].any()


def test_an_all_flat_recording_in_a_cohort_has_no_data(tmp_path):
    """Every sensor flat, the temperature too (a digitally constant temperature is a dead sensor): no token has
    data, so there is nothing to analyse and the table says so (before: 5 % hidden, the EEG's filter noise analysed
    as signals; then 39/40 hidden, the model confident from the constant temperature alone)."""
    tr = generate_trial(SHORT, 3, 0)
    flat_all = _with_flat(tr, {ch: (0.0, 15.0) for ch in tr.ch_names})
    src = write_bdf(flat_all, tmp_path / "flat.bdf")
    result = run_cohort(find_sources([src]), tmp_path / "out", jobs=1)
    table = result.table
    assert list(table.status) == [FAILED]
    assert "every channel the model reads is flat or empty (NaN) throughout, and nothing is masked" in table.error[0]


def test_a_dead_channel_is_missing_in_the_streamed_analysis_too(model):
    """The bounded-memory path featurises tokens in groups; a dead channel in any group is missing there as in
    the whole-recording path (the flat spans reach every group)."""
    from mmqnet_core.inference import analyze
    from mmqnet_core.inference.streaming import analyze_streaming

    tr = generate_trial(SynthConfig(trial_s=117.0), 0, 1)
    rec = _with_flat(tr, {"O2": (0.0, 120.0), "GSR": (0.0, 120.0), "Temp": (0.0, 120.0)}).to_recording()
    whole = analyze(rec, None, model, streaming=False)
    stream = analyze_streaming(rec, None, model, chunk_s=60.0)
    tokens = list(whole.token_names)
    for name in ("O2", "GSR"):
        assert whole.data_missing[:, tokens.index(name)].all()
    np.testing.assert_array_equal(whole.data_missing, stream.data_missing)


@pytest.mark.parametrize("jobs", ["1", pytest.param("2", marks=pytest.mark.slow)])
def test_a_foreign_checkpoint_stops_the_cohort_with_one_error_line(tmp_path, capsys, jobs):
    """A checkpoint that cannot be loaded fails every recording alike: one ``error:`` line and exit 2, as for one
    recording (before: a FAILED row per recording, exit 1)."""
    paths = [write_bdf(generate_trial(SHORT, 3, t), tmp_path / f"r{t}.bdf") for t in range(3)]
    ckpt = tmp_path / "foreign"
    ckpt.mkdir()
    (ckpt / "config.json").write_text('{"model": "resnet50"}')
    (ckpt / "model.safetensors").write_bytes(bytes(range(256)) * 20)
    assert main(["analyze", *map(str, paths), "-o", str(tmp_path / "out"), "--checkpoint", str(ckpt),
                 "--jobs", jobs]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "model.safetensors" in err[0] and "FAILED" not in err[0], err
    assert multiprocessing.active_children() == []


def test_masks_saved_by_the_app_are_used_and_a_changed_mask_file_is_analysed_again(tmp_path):
    """The app saves a DEAP trial's masks as ``sNN.dat.trialK.masks.json`` (one per trial): ``mmqnet analyze`` and
    the cohort use them (before: only ``sNN.dat.masks.json``, which the app never writes, so the masks drawn on a
    DEAP trial were ignored); and a recording whose sidecar changed after it was analysed is analysed again
    (before: skipped as done, with the old masks' results)."""
    from mmqnet_core.datasets.synthetic import write_deap_subject
    from mmqnet_core.io import load_recording
    from mmqnet_core.masking import MaskSet, sidecar_path

    deap = write_deap_subject([generate_trial(SHORT, 0, t) for t in range(2)], tmp_path / "synthetic_s00.dat")
    rec1 = load_recording(deap, trial=1)
    side = MaskSet().with_channel("O1").save(sidecar_path(deap, trial=rec1.trial), recording=rec1)
    assert side.name == "synthetic_s00.dat.trial1.masks.json"
    bdf = write_bdf(generate_trial(SHORT, 3, 0), tmp_path / "a.bdf")
    out = tmp_path / "out"
    first = run_cohort(find_sources([deap, bdf]), out, jobs=1)
    masked = {o.recording: o.masks for o in first.outcomes}
    assert masked["synthetic_s00/trial_01"] == f"masks from {side}"
    assert masked["synthetic_s00/trial_00"] == "no masks" and masked["a"] == "no masks"
    per = first.table.groupby("recording").user_masked_fraction.mean()
    assert per["synthetic_s00/trial_01"] > 0 and per["synthetic_s00/trial_00"] == 0
    # unchanged: skipped; a mask file added (or edited) beside a recording: that recording again
    assert [o.status for o in run_cohort(find_sources([deap, bdf]), out, jobs=1).outcomes] == [ALREADY_DONE] * 3
    rec = load_recording(bdf)
    MaskSet().with_channel("Fp1").save(sidecar_path(bdf), recording=rec)
    again = run_cohort(find_sources([deap, bdf]), out, jobs=1)
    assert [o.status for o in again.outcomes] == [ALREADY_DONE, ALREADY_DONE, ANALYSED]
    assert again.outcomes[2].masks == f"masks from {sidecar_path(bdf)}"


def test_a_finished_recording_whose_results_were_removed_is_analysed_again(tmp_path):
    """A result folder with its marker but a result file deleted since (by hand, a sync tool) is analysed again;
    before, it stayed 'already done' and its row in the table said it failed on every later run."""
    paths = [write_bdf(generate_trial(SHORT, 3, t), tmp_path / f"r{t}.bdf") for t in range(2)]
    out = tmp_path / "out"
    run_cohort(find_sources(paths), out, jobs=1)
    (out / "r1" / "trajectories.parquet").unlink()
    again = run_cohort(find_sources(paths), out, jobs=1)
    assert [o.status for o in again.outcomes] == [ALREADY_DONE, ANALYSED]
    assert (again.table.status != "failed").all() and (out / "r1" / "trajectories.parquet").is_file()
