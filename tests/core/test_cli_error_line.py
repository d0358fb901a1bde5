"""The CLI's last-resort error line names the input file(s) plainly."""

from __future__ import annotations

from mmqnet_core.cli import cmd_analyze, main


def test_the_last_resort_line_names_the_input_path_not_a_python_list(tmp_path, capsys, monkeypatch):
    """Before: 'analyze of ['/…/a.edf'] failed while …' (analyze's FILE is nargs='+')."""
    def boom(args):
        raise RuntimeError("something no check caught")

    monkeypatch.setattr(cmd_analyze, "_options", boom)
    src = tmp_path / "a.edf"
    src.write_bytes(b"0")
    assert main(["analyze", str(src), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"error: analyze of {src} failed while"), err
    assert "['" not in err and "']" not in err
    second = tmp_path / "b.edf"
    assert main(["analyze", str(src), str(second), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"error: analyze of {src}, {second} failed while"), err
