"""`mmqnet analyze REC --masks OTHER.edf` (a recording given by mistake, session 12 audit) answered "error: Mask
file ... is not valid JSON (not UTF-8 text); fix or delete it." -- advice to delete the user's recording."""

from __future__ import annotations

import pytest

from mmqnet_core.cli import main
from mmqnet_core.errors import MaskError
from mmqnet_core.masking import MaskSet

from ..bad_inputs.cases import edf_bytes


def test_a_recording_given_as_mask_file_is_never_to_be_deleted(tmp_path, capsys):
    rec = tmp_path / "rec.edf"
    rec.write_bytes(edf_bytes())
    other = tmp_path / "other.edf"
    other.write_bytes(edf_bytes(seed=1))
    assert main(["analyze", str(rec), "-o", str(tmp_path / "out"), "--masks", str(other)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: Mask file") and "delete" not in err
    assert "<recording>.masks.json" in err
    assert other.exists()


def test_a_damaged_json_sidecar_still_says_fix_or_delete(tmp_path):
    side = tmp_path / "rec.edf.masks.json"
    side.write_bytes(b"\xff\xfe not json")
    with pytest.raises(MaskError, match="fix or delete it"):
        MaskSet.load(side)
