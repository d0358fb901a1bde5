"""The cohort table's ``subject`` of an EDF+/BDF+ file is the header's patient code; empty without one (plain
EDF/BDF, unknown 'X'); never made up from the file name."""

from __future__ import annotations

import pandas as pd
import pytest

from mmqnet_core.datasets.synthetic import SynthConfig, generate_trial, write_bdf
from mmqnet_core.inference import cohort
from mmqnet_core.inference.cohort import ANALYSED, ALREADY_DONE, find_sources, run_cohort
from mmqnet_core.io import load_recording
from mmqnet_core.io.edf_header import read_edf_header
from tests.core.io.helpers import patch_main_field

SHORT = SynthConfig(trial_s=12.0)


@pytest.fixture(autouse=True)
def _fresh_model_cache(monkeypatch):
    monkeypatch.setattr(cohort, "_MODELS", {})


def _with_patient(path, patient: str, *, plain: bool = False):
    patch_main_field(path, 8, 80, patient)  # the patient identification field
    if plain:
        patch_main_field(path, 192, 44, "")  # reserved field blank: plain BDF, whose patient field is free text
    return path


def test_the_subject_is_the_edf_plus_patient_code(tmp_path):
    """Before: the subject column was empty for every EDF/BDF file."""
    coded = _with_patient(write_bdf(generate_trial(SHORT, 3, 0), tmp_path / "synthetic_s03_a.bdf"),
                          "MCH-0234567 F 16-SEP-1987 Synthetic_s03")
    unknown = _with_patient(write_bdf(generate_trial(SHORT, 4, 0), tmp_path / "synthetic_s04_b.bdf"),
                            "X X X Synthetic_s04")
    plain = _with_patient(write_bdf(generate_trial(SHORT, 5, 0), tmp_path / "synthetic_s05_c.bdf"),
                          "MCH-0234568 M 01-JAN-1990 Synthetic_s05", plain=True)
    assert read_edf_header(coded).variant == "BDF+C" and read_edf_header(plain).variant == ""
    assert load_recording(coded).subject == "MCH-0234567"
    assert load_recording(unknown).subject is None and load_recording(plain).subject is None
    # the project's own writer marks synthetic data in the code field: that is not a subject
    assert load_recording(write_bdf(generate_trial(SHORT, 6, 0), tmp_path / "synthetic_s06.bdf")).subject is None

    out = tmp_path / "out"
    result = run_cohort(find_sources([coded, unknown, plain]), out, jobs=1)
    table = result.table.drop_duplicates("recording").set_index("recording")  # a row per window
    assert (table.status == ANALYSED).all()
    assert table.loc[coded.stem, "subject"] == "MCH-0234567"
    for path in (unknown, plain):
        value = table.loc[path.stem, "subject"]
        assert pd.isna(value) or value == "", value  # empty, never the file name's "s04"
    again = run_cohort(find_sources([coded]), out, jobs=1).table  # resumed: the subject comes from the marker
    assert set(again.status) == {ALREADY_DONE} and set(again.subject) == {"MCH-0234567"}
