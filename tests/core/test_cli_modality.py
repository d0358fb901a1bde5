"""``--modality CH=MOD`` overrides the inferred modality in the commands that open a recording."""

import json
import re
from pathlib import Path

import pytest

from mmqnet_core.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample" / "synthetic_sample.bdf"


def test_override_reaches_the_recording(capsys):
    assert main(["info", str(SAMPLE), "--json", "--modality", "Plet=ECG", "--modality", "Temp=misc"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["modalities"]["ECG"] == ["Plet"] and info["modalities"]["MISC"] == ["Temp"]
    assert "PPG" not in info["modalities"] and "TEMP" not in info["modalities"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Plet", r"Invalid value for '--modality': expected CHANNEL=MODALITY \(e\.g\. EXG1=ECG\), got 'Plet'"),
        ("Plet=FOO", r"Invalid modality 'FOO': allowed EEG, EOG"),
        ("Nope=EEG", r"Cannot set modality of unknown channel\(s\) \['Nope'\]"),
    ],
)
def test_bad_override_is_one_clear_line(value, message, capsys):
    assert main(["info", str(SAMPLE), "--modality", value]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert re.search(message, err)
