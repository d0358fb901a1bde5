"""*Annotations -> Export as EDF+* of a recording with Latin-1 channel labels (session 12 audit): the export
raised "UnicodeEncodeError: 'ascii' codec can't encode character '\\xe9'" (an "unexpected error" dialog in the
app, no file written). Labels are now written in ASCII, the annotations (UTF-8 text in EDF+) as they are."""

from __future__ import annotations

import mne

from mmqnet_core.annotations import AnnotationSet
from mmqnet_core.io import load_recording

from .bad_inputs.cases import edf_bytes


def test_edf_export_of_latin1_labels_and_utf8_annotations(tmp_path):
    src = tmp_path / "latin.edf"
    src.write_bytes(edf_bytes(labels=("Fp1", "C3\u00e9", "Temp K\u00f6rper", "Cz"), ns=128, n_records=10))
    rec = load_recording(src)
    assert rec.ch_names == ["Fp1", "C3\u00e9", "Temp K\u00f6rper", "Cz"]
    notes = AnnotationSet.from_recording(rec.annotations)
    notes = notes.added(2.0, 1.0, "Anfall \u00e4 \u4e2d\u6587")
    out = notes.export_edf(tmp_path / "out.edf", rec)
    back = mne.io.read_raw_edf(out, preload=True, verbose="error")
    assert back.ch_names == ["Fp1", "C3e", "Temp Korper", "Cz"]
    assert list(back.annotations.description) == ["Anfall \u00e4 \u4e2d\u6587"]
    assert abs(back.annotations.onset[0] - 2.0) < 1e-3
    assert abs(back.get_data()[1] - rec.raw.get_data()[1]).max() < 1e-3 * abs(rec.raw.get_data()[1]).max()
