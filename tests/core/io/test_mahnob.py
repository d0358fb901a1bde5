"""MAHNOB-HCI session folders: BDF with a Status channel plus session.xml."""

from __future__ import annotations

import numpy as np
import pytest

from mmqnet_core.errors import RecordingError
from mmqnet_core.io import is_mahnob_session, load_recording
from mmqnet_core.recording import Modality

from .helpers import write_edf

SFREQ = 128.0
CHANNELS = (("Fp1", SFREQ, "uV"), ("Cz", SFREQ, "uV"), ("EXG1", SFREQ, "uV"), ("EXG5", SFREQ, "uV"),
            ("GSR1", SFREQ, "Ohm"), ("Resp", SFREQ, ""), ("Temp", SFREQ, "degC"), ("Status", SFREQ, ""))
XML = ('<?xml version="1.0" encoding="utf-8"?>\n<session cutNr="12" feltEmo="4" feltArsl="{arousal}" '
       'feltVlnc="{valence}" feltCtrl="5" feltPred="6" isStim="1" mediaFile="53.avi">\n'
       '<subject id="3" />\n</session>\n')


def make_session(folder, *, onset_s=3.0, end_s=9.0, codes=(1, 2), duration_s=12.0, valence=7, arousal=2):
    folder.mkdir(parents=True, exist_ok=True)
    status = np.zeros(int(duration_s * SFREQ))
    for t, code in zip((onset_s, end_s), codes):
        if t is not None:
            i = int(t * SFREQ)
            status[i : i + 4] = code
    write_edf(folder / "Part_3_S_Trial12_emotion.bdf", CHANNELS, duration_s=duration_s, kind="bdf",
              data={"Status": status})
    (folder / "session.xml").write_text(XML.format(valence=valence, arousal=arousal))
    return folder


def test_session_folder_is_loaded_with_labels_and_stimulus_span(tmp_path):
    folder = make_session(tmp_path / "Sessions" / "1234")
    assert is_mahnob_session(folder)
    rec = load_recording(folder)
    assert rec.source == folder and rec.source_format == "mahnob"
    assert rec.subject == "3" and rec.trial == "12"
    assert rec.labels == {"valence": 7.0, "arousal": 2.0, "dominance": 5.0, "predictability": 6.0,
                          "emotion_tag": 4.0}
    assert rec.stim_span == (3.0, 9.0)
    assert [c.modality for c in rec.channels] == [Modality.EEG, Modality.EEG, Modality.ECG, Modality.MISC,
                                                  Modality.GSR, Modality.RESP, Modality.TEMP, Modality.STIM]
    descr = [(a.onset, a.description) for a in rec.annotations]
    assert descr == [(3.0, "trigger 1"), (3.0, "stimulus"), (9.0, "trigger 2")]
    stim = next(a for a in rec.annotations if a.description == "stimulus")
    assert stim.duration == pytest.approx(6.0)
    assert any("Trigger channel Status: 2 events, codes 1, 2." == n for n in rec.notes)
    assert rec.get_data(0, 1).shape == (8, 128)


def test_single_short_trigger_means_stimulus_to_the_end(tmp_path):
    folder = make_session(tmp_path / "s", onset_s=4.0, end_s=None, duration_s=10.0)
    assert load_recording(folder).stim_span == (4.0, 10.0)


def test_no_trigger_leaves_span_unknown(tmp_path):
    folder = make_session(tmp_path / "s", onset_s=None, end_s=None)
    rec = load_recording(folder)
    assert rec.stim_span is None
    assert any("No stimulus onset found" in n for n in rec.notes)


def test_missing_ratings_are_noted(tmp_path):
    folder = make_session(tmp_path / "s")
    (folder / "session.xml").write_text('<session cutNr="1" isStim="0" />')
    rec = load_recording(folder)
    assert rec.labels == {}
    assert any("no valence/arousal labels" in n for n in rec.notes)


def test_broken_xml_and_missing_bdf(tmp_path):
    folder = make_session(tmp_path / "s")
    (folder / "session.xml").write_text("<session feltVlnc='3'")
    with pytest.raises(RecordingError, match=r"session.xml: not valid XML"):
        load_recording(folder)
    (folder / "Part_3_S_Trial12_emotion.bdf").unlink()
    with pytest.raises(RecordingError, match=r"it is not a MAHNOB-HCI session \(it lacks a .bdf file\)"):
        load_recording(folder)


def test_read_session_gives_root_attributes_and_the_subject_element(tmp_path):
    from mmqnet_core.io.mahnob import read_session, read_session_xml

    folder = tmp_path / "10"
    make_session(folder)
    attrs, subject = read_session(folder / "session.xml")
    assert subject == "3" and attrs["feltVlnc"] == "7" and read_session_xml(folder / "session.xml") == attrs
    (folder / "session.xml").write_text('<session feltVlnc="1" />')
    assert read_session(folder / "session.xml") == ({"feltVlnc": "1"}, None)


def test_a_session_xml_that_is_not_a_session_is_refused(tmp_path):
    """bad13: an HTML page (well-formed XHTML) saved as session.xml was read as a session without labels."""
    from mmqnet_core.errors import RecordingError
    from mmqnet_core.io.mahnob import read_session

    path = tmp_path / "session.xml"
    path.write_text('<html><head><title>MAHNOB-HCI</title></head><body><p>Sign in</p></body></html>')
    with pytest.raises(RecordingError, match=r"root element is <html>, not the <session> of a MAHNOB-HCI"):
        read_session(path)
