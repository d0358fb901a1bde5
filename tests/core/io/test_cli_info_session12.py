"""``mmqnet info`` as a clinician reads it (session 12 audit): the recording's start time, and units as the
file records them. Before, ``info`` gave no date or time at all (the app's clock axis did), and an EEG recorded
in "uV" was listed in "V" (the library's SI unit), which reads as a damaged header."""

from __future__ import annotations

import json

from mmqnet_core.cli import main

from .helpers import PYEDFLIB_DATA, write_edf


def test_info_gives_the_clock_time_of_the_first_sample(capsys):
    # EDF+ with a sub-second start: the first record's annotation says "+0.3945312" after 04:05:56
    assert main(["info", str(PYEDFLIB_DATA / "test_subsecond.edf")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "start: 2020-01-24 04:05:56.394531" in out
    assert main(["info", "--json", str(PYEDFLIB_DATA / "test_generator.edf")]) == 0
    assert json.loads(capsys.readouterr().out)["start"] == "2011-04-04 12:57:02"


def test_info_lists_units_as_recorded(tmp_path, capsys):
    path = write_edf(tmp_path / "u.edf", (("Fp1", 256.0, "uV"), ("ECG", 256.0, "mV"), ("GSR", 256.0, "uS")))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "channels (unit as recorded):" in out
    assert "  Fp1  EEG        256 Hz  uV" in out and "  ECG  ECG        256 Hz  mV" in out
    assert main(["info", "--json", str(path)]) == 0  # the JSON keeps the unit of the values returned (SI)
    units = [c["unit"] for c in json.loads(capsys.readouterr().out)["channels"]]
    assert units == ["V", "V", "uS"]
