"""EDF+D files (session 12 audit): the records are shown end to end, so after a gap every time and the clock read
early and annotations no longer sit on their data. Before, that was a note ("times after a gap are shifted") of
no size, printed only by `mmqnet info`, and the same note was given for a +D file without any gap."""

from __future__ import annotations

import edfio
import numpy as np

from mmqnet_core.cli import main
from mmqnet_core.io import load_recording


def _edf_plus_d(path, gap_after: int | None, gap_s: float = 10, n_records: int = 20, more: tuple = ()):
    """A 4-channel EDF+D with 1-s records; records from ``gap_after`` on start ``gap_s`` s later (and from each
    ``(after, s)`` of ``more`` on, ``s`` s later again)."""
    t = np.arange(n_records * 256) / 256
    sig = [edfio.EdfSignal(20 * np.sin(2 * np.pi * 10 * t), 256, label=n, physical_dimension="uV",
                           physical_range=(-100, 100)) for n in ("Fp1", "Cz", "Pz", "O1")]
    edfio.Edf(sig, annotations=[edfio.EdfAnnotation(12.0, 0, "event")]).write(path)
    b = bytearray(path.read_bytes())
    ns = int(b[252:256])
    hb = int(b[184:192])
    nsamp = [int(b[256 + 216 * ns + i * 8: 256 + 216 * ns + i * 8 + 8]) for i in range(ns)]
    rec, ann = sum(nsamp) * 2, sum(nsamp[:-1]) * 2
    b[192:197] = b"EDF+D"
    for r in range(n_records):
        o = hb + r * rec + ann
        tal = bytes(b[o:o + nsamp[-1] * 2])
        onset = r + (gap_s if gap_after is not None and r >= gap_after else 0)
        onset += sum(s for after, s in more if r >= after)
        content = f"+{onset}\x14\x14\x00".encode() + tal[tal.index(b"\x14\x14\x00") + 3:]
        b[o:o + nsamp[-1] * 2] = content[:nsamp[-1] * 2].ljust(nsamp[-1] * 2, b"\x00")
    path.write_bytes(bytes(b))
    return path


def test_a_gap_is_said_loudly_with_its_size(tmp_path, capsys):
    path = _edf_plus_d(tmp_path / "d.edf", gap_after=10, gap_s=10)
    rec = load_recording(path)
    assert len(rec.warnings) == 1
    w = rec.warnings[0]
    assert "is discontinuous (EDF+D): 1 gap(s)" in w and "10 s of recording time in all" in w
    assert "the first after 10 s of data" in w
    assert main(["info", str(path)]) == 0
    assert "warning: d.edf is discontinuous (EDF+D)" in capsys.readouterr().err


def test_several_gaps_add_up(tmp_path):
    path = _edf_plus_d(tmp_path / "d.edf", gap_after=5, gap_s=3, more=((12, 0.5),))
    rec = load_recording(path)
    assert "2 gap(s)" in rec.warnings[0] and "3.5 s of recording time" in rec.warnings[0]
    assert "the first after 5 s of data" in rec.warnings[0]


def test_a_plus_d_file_without_gaps_is_read_quietly(tmp_path):
    rec = load_recording(_edf_plus_d(tmp_path / "c.edf", gap_after=None))
    assert rec.warnings == ()
    assert any("with no gap between its records: read as continuous" in n for n in rec.notes)
