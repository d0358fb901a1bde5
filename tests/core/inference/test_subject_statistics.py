"""Statistics of a subject from several recordings: the recordings of a subject (a DEAP file's trials, MAHNOB-HCI
sessions of the same subject, files named by the user) and their use by ``mmqnet analyze``."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from mmqnet_core.cli import main
from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_deap_subject
from mmqnet_core.errors import ConfigError, RecordingError
from mmqnet_core.features import extract_features
from mmqnet_core.inference import subject_statistics
from mmqnet_core.model.normalization import Normalizer
from mmqnet_core.preprocessing import preprocess

CONFIG = SynthConfig(trial_s=30.0)


@pytest.fixture(scope="module")
def trials():
    return [generate_trial(CONFIG, 0, t) for t in range(2)]


def test_statistics_pool_every_recording_of_the_subject(trials, model):
    recs = [t.to_recording() for t in trials]
    stats = subject_statistics(recs, model)
    feats, spans = [], []
    for rec in recs:
        pre = preprocess(rec, model.preprocess_config)
        fs = extract_features(pre.cleaned, model.feature_config, layout=model.layout, interference=pre.interference)
        feats.append(fs)
        on, off = rec.stim_span  # 3 s baseline, then the stimulus: only the stimulus counts, as in training
        spans.append((fs.window_starts >= on) & (fs.window_starts + fs.window_s <= off))
    assert all(0 < k.sum() < len(k) for k in spans)
    pooled = Normalizer.fit(np.concatenate([f.values[k] for f, k in zip(feats, spans)]),
                            np.concatenate([f.missing[k] for f, k in zip(feats, spans)]),
                            fallback=model.normalizer, min_count=model.min_windows)
    np.testing.assert_allclose(stats.mean, pooled.mean, rtol=1e-6)
    np.testing.assert_allclose(stats.std, pooled.std, rtol=1e-6)
    whole = Normalizer.fit(np.concatenate([f.values for f in feats]), np.concatenate([f.missing for f in feats]),
                           fallback=model.normalizer, min_count=model.min_windows)
    assert not np.allclose(stats.mean, whole.mean)  # the baselines are left out
    one = subject_statistics(recs[:1], model)
    assert not np.allclose(one.mean, stats.mean)  # the second trial counts
    with pytest.raises(ConfigError, match="give at least one recording"):
        subject_statistics([], model)


def test_analyze_normalises_a_deap_trial_with_the_whole_file(trials, model, tmp_path, monkeypatch, capsys):
    path = write_deap_subject(trials, tmp_path / "synthetic_s00.dat")
    subj = dataclasses.replace(model, normalization="subject")
    monkeypatch.setattr("mmqnet_core.inference.load_model", lambda *a, **k: subj)
    assert main(["analyze", str(path), "--trial", "1", "-o", str(tmp_path / "pooled")]) == 0
    steps = json.loads((tmp_path / "pooled" / "summary.json").read_text())["steps"]
    assert any("subject's statistics given by the caller" in s for s in steps)
    assert main(["analyze", str(path), "--trial", "1", "--own-statistics", "-o", str(tmp_path / "own")]) == 0
    steps = json.loads((tmp_path / "own" / "summary.json").read_text())["steps"]
    assert not any("given by the caller" in s for s in steps)
    capsys.readouterr()


def test_a_deap_trial_brings_its_files_trials_with_the_users_modalities(trials, tmp_path):
    from mmqnet_core.inference import subject_recordings_for
    from mmqnet_core.io import load_recording
    from mmqnet_core.recording import Modality

    path = write_deap_subject(trials, tmp_path / "synthetic_s00.dat")
    rec = load_recording(path, trial=1, modalities={"Plet": "MISC"})
    found = subject_recordings_for(rec)
    assert found.unit == "trials" and found.sources == (path,)
    assert found.description == "subject statistics from 2 trials of subject synthetic_s00"
    assert [r.trial for r in found.recordings] == [rec.trial for rec in (load_recording(path, trial=t) for t in (0, 1))]
    assert all(dict(zip(r.ch_names, r.modalities))["Plet"] == Modality.MISC for r in found.recordings)
    assert subject_recordings_for(rec, discover=False) is None


# --- the other recordings of a subject: MAHNOB-HCI sessions beside the analysed one, files named by the user ----
SESSION_XML = ('<?xml version="1.0" encoding="utf-8"?>\n<session cutNr="{trial}" feltEmo="1" feltArsl="{arousal:g}" '
               'feltVlnc="{valence:g}" isStim="1">\n<subject id="{subject}" />\n</session>\n')
SHORT = SynthConfig(trial_s=20.0)  # 3 s baseline + 20 s at 128 Hz: ~0.4 MB per BDF


def write_mahnob_session(folder, subject: int, trial: int, *, rated: bool = True, config: SynthConfig = SHORT):
    """A SYNTHETIC MAHNOB-HCI session folder: Part_<s>_S_Trial<t>_emotion.bdf (DEAP channels) + session.xml."""
    from mmqnet_core.datasets.synthetic import write_bdf

    folder.mkdir(parents=True, exist_ok=True)
    tr = generate_trial(config, subject, trial)
    write_bdf(tr, folder / f"Part_{subject}_S_Trial{trial}_emotion.bdf")
    xml = SESSION_XML.format(trial=trial, arousal=tr.arousal, valence=tr.valence, subject=subject)
    if not rated:
        xml = xml.replace(f'feltArsl="{tr.arousal:g}" feltVlnc="{tr.valence:g}" ', "")
    (folder / "session.xml").write_text(xml)
    return folder


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """Sessions/: subject 1 in synthetic_10, _11 (rated) and _12 (unrated); subject 2 in synthetic_20 (whose BDF
    is not a BDF at all: discovery must decide from session.xml alone); a folder and a file that are no session."""
    root = tmp_path_factory.mktemp("mahnob") / "Sessions"
    write_mahnob_session(root / "synthetic_10", 1, 1)
    write_mahnob_session(root / "synthetic_11", 1, 2)
    write_mahnob_session(root / "synthetic_12", 1, 3, rated=False)
    other = root / "synthetic_20"
    other.mkdir()
    (other / "Part_2_S_Trial1_emotion.bdf").write_bytes(b"not a BDF file")
    (other / "session.xml").write_text(SESSION_XML.format(trial=1, arousal=5, valence=5, subject=2))
    (root / "notes").mkdir()
    (root / "readme.txt").write_text("not a session")
    return root


def _subject_model(model):
    """The tiny model as one trained per subject, with few windows needed for per-subject statistics."""
    return dataclasses.replace(model, normalization="subject", min_windows=5)


def test_sibling_sessions_of_the_same_subject_are_found_from_session_xml(sessions):
    from mmqnet_core.inference import find_subject_sessions, session_subject

    subject, found, notes = find_subject_sessions(sessions / "synthetic_10")
    assert subject == "1"
    assert found == [sessions / "synthetic_11"]  # not itself, not subject 2, not the unrated session
    assert notes == ["1 session(s) of subject 1 without felt valence/arousal ratings in session.xml were left out "
                     "(the training corpus leaves them out too)."]
    assert session_subject(sessions / "synthetic_20") == "2"


def test_subject_comes_from_the_bdf_name_when_session_xml_names_none(tmp_path):
    from mmqnet_core.inference import session_subject

    folder = tmp_path / "7"
    folder.mkdir()
    (folder / "Part_07_S_Trial1_emotion.bdf").write_bytes(b"")
    (folder / "session.xml").write_text('<session cutNr="1" feltVlnc="5" feltArsl="5" />')
    assert session_subject(folder) == "7"  # "07" and "7" are the same subject
    (folder / "session.xml").write_text('<session cutNr="1" subject="12" />')
    assert session_subject(folder) == "12"
    with pytest.raises(RecordingError, match=r"no such file; .* is not a MAHNOB-HCI session folder"):
        session_subject(tmp_path)


def test_statistics_over_the_subjects_sessions_differ_from_the_sessions_own(sessions, model):
    from mmqnet_core.inference import subject_recordings_for
    from mmqnet_core.io import load_recording

    rec = load_recording(sessions / "synthetic_10")
    found = subject_recordings_for(rec)
    assert found.description == "subject statistics from 2 sessions of subject 1"
    assert found.sources == (sessions / "synthetic_10", sessions / "synthetic_11")
    assert found.recordings[0] is rec and found.recordings[1].source == sessions / "synthetic_11"
    subj = _subject_model(model)
    pooled = subject_statistics(found.recordings, subj)
    own = subject_statistics([rec], subj)
    assert not np.allclose(pooled.mean, own.mean)
    again = subject_statistics([rec, load_recording(sessions / "synthetic_11")], subj)
    np.testing.assert_allclose(pooled.mean, again.mean, rtol=1e-6)
    # nothing beside it but itself: no statistics of "the subject" to add
    assert subject_recordings_for(rec, discover=False) is None
    assert subject_recordings_for(load_recording(sessions / "synthetic_11"), max_sources=1) is None


def test_the_number_of_sessions_is_capped_and_said(tmp_path):
    from mmqnet_core.inference import subject_recordings_for
    from mmqnet_core.io import load_recording

    root = tmp_path / "Sessions"
    for k in (2, 10, 3):  # natural order: 2, 3, 10
        write_mahnob_session(root / str(k), 4, k, config=SynthConfig(trial_s=2.0))
    found = subject_recordings_for(load_recording(root / "10"), max_sources=2)
    assert found.sources == (root / "10", root / "2")
    assert found.notes == (f"1 more recording(s) of the subject left out: at most 2 files/sessions feed the "
                           f"statistics (first left out: {root / '3'}).",)
    with pytest.raises(ConfigError, match="'max_sources': must be an integer >= 1, got 0"):
        subject_recordings_for(load_recording(root / "10"), max_sources=0)


def test_a_broken_sibling_session_is_named(sessions, tmp_path):
    import shutil

    from mmqnet_core.inference import subject_recordings_for
    from mmqnet_core.io import load_recording

    root = tmp_path / "Sessions"
    shutil.copytree(sessions / "synthetic_10", root / "synthetic_10")
    broken = write_mahnob_session(root / "synthetic_13", 1, 4, config=SynthConfig(trial_s=2.0))
    bdf = broken / "Part_1_S_Trial4_emotion.bdf"
    bdf.write_bytes(bdf.read_bytes()[:300])  # truncated inside the header
    rec = load_recording(root / "synthetic_10")
    with pytest.raises(RecordingError, match=r"Cannot use .*synthetic_13 \(a session of subject 1 found beside "
                       r"synthetic_10\) for the subject's statistics: .*Part_1_S_Trial4_emotion\.bdf.* To go on, fix "
                       r"or move that session folder, or normalise with this session's own statistics \(command "
                       r"line: --own-statistics"):
        subject_recordings_for(rec)
    shutil.rmtree(broken)
    (root / "synthetic_14").mkdir()
    (root / "synthetic_14" / "x.bdf").write_bytes(b"")
    (root / "synthetic_14" / "session.xml").write_text("<session feltVlnc='3'")
    with pytest.raises(RecordingError, match=r"Cannot tell which subject session .*synthetic_14 belongs to: Cannot "
                       r"read .*session.xml: not valid XML"):
        subject_recordings_for(rec)
    assert subject_recordings_for(rec, discover=False) is None  # the way out


def test_files_named_by_the_user_are_opened_with_the_recordings_modalities(sessions, tmp_path):
    from mmqnet_core.datasets.synthetic import write_bdf
    from mmqnet_core.inference import subject_recordings_for
    from mmqnet_core.io import load_recording
    from mmqnet_core.recording import Modality

    rec = load_recording(sessions / "synthetic_10").with_modalities({"Plet": "MISC", "tEMG": "EOG"})
    # another montage: no tEMG channel (the override for it does not apply), Plet overridden as in the session
    few = SynthConfig(trial_s=4.0, channels=("Fp1", "Fp2", "Cz", "GSR", "Plet"))
    edf = write_bdf(generate_trial(few, 1, 9), tmp_path / "synthetic_other.edf", fmt="edf")
    found = subject_recordings_for(rec, [edf, edf, sessions / "synthetic_10"])  # duplicates and itself skipped
    assert found.sources == (sessions / "synthetic_10", edf, sessions / "synthetic_11")
    assert found.description == "subject statistics from 3 recordings of subject 1 in 3 files/folders"
    named = found.recordings[1]
    assert dict(zip(named.ch_names, named.modalities))["Plet"] == Modality.MISC
    sibling = found.recordings[2]
    mods = dict(zip(sibling.ch_names, sibling.modalities))
    assert mods["Plet"] == Modality.MISC and mods["tEMG"] == Modality.EOG
    bad = tmp_path / "synthetic_bad.edf"
    bad.write_bytes(b"0       this is not an EDF header")
    with pytest.raises(RecordingError, match=r"Cannot use .*synthetic_bad\.edf \(named as another recording of the "
                       r"subject\) for the subject's statistics: .* To go on, fix it, or remove it from the subject's "
                       r"recordings \(command line: --subject-files"):
        subject_recordings_for(rec, [bad])
    with pytest.raises(RecordingError, match=r"Cannot use .*missing\.bdf \(named as another recording of the "
                       r"subject\): no such file or folder"):
        subject_recordings_for(rec, [tmp_path / "missing.bdf"])


def test_cancel_is_honoured_between_files(sessions):
    import threading

    from mmqnet_core.errors import Cancelled
    from mmqnet_core.inference import subject_recordings_for
    from mmqnet_core.io import load_recording

    rec = load_recording(sessions / "synthetic_10")
    cancel, seen = threading.Event(), []

    def progress(fraction, message):
        seen.append(message)
        if message.startswith("opening"):
            cancel.set()  # the user cancels while the first other session opens

    with pytest.raises(Cancelled):
        subject_recordings_for(rec, progress=progress, cancel=cancel)
    assert [m for m in seen if m.startswith("opening")] == ["opening synthetic_11 (1/1)"]


def test_analyze_uses_the_subjects_sessions_and_subject_files(sessions, model, tmp_path, monkeypatch, capsys):
    subj = _subject_model(model)
    monkeypatch.setattr("mmqnet_core.inference.load_model", lambda *a, **k: subj)
    session = str(sessions / "synthetic_10")
    assert main(["analyze", session, "-o", str(tmp_path / "pooled")]) == 0
    out = capsys.readouterr().out
    assert "subject statistics from 2 sessions of subject 1\n" in out
    assert "note: 1 session(s) of subject 1 without felt valence/arousal ratings" in out
    steps = json.loads((tmp_path / "pooled" / "summary.json").read_text())["steps"]
    assert any("subject's statistics given by the caller" in s for s in steps)
    assert "subject statistics from 2 sessions of subject 1 (synthetic_10, synthetic_11)" in steps

    other = tmp_path / "synthetic_s01_extra.bdf"
    from mmqnet_core.datasets.synthetic import write_bdf

    write_bdf(generate_trial(SynthConfig(trial_s=6.0), 1, 7), other)
    assert main(["analyze", session, "-o", str(tmp_path / "named"), "--subject-files", str(other)]) == 0
    assert "subject statistics from 3 recordings of subject 1 in 3 files/folders\n" in capsys.readouterr().out

    assert main(["analyze", session, "--own-statistics", "-o", str(tmp_path / "own")]) == 0
    assert "subject statistics" not in capsys.readouterr().out
    steps = json.loads((tmp_path / "own" / "summary.json").read_text())["steps"]
    assert not any("given by the caller" in s for s in steps)

    assert main(["analyze", session, "--own-statistics", "--subject-files", str(other), "-o", str(tmp_path / "x")]) == 2
    assert "error: Invalid options: --subject-files and --own-statistics contradict each other" in \
        capsys.readouterr().err
    assert main(["analyze", session, "--subject-files", str(sessions / "synthetic_20"), "-o", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err
    assert "error: Cannot use " in err and "synthetic_20 (named as another recording of the subject)" in err
    assert not (tmp_path / "y").exists()
