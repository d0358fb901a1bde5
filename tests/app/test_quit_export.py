"""Quitting while an EDF+ export is being written leaves nothing half written (issue from session 11: a ``.tmp``
file stayed beside the output).

The export runs in a worker that checks cancel between chunks, but one chunk's write can hang (a stalled disk);
"Stop and quit" abandons it and ``app.main`` ends the process with ``os._exit`` (no ``finally`` runs in the worker),
so the window removes the temporary files of the writes still in progress
(``mmqnet_core.fileio.remove_unfinished_writes``). Real ``mmqnet-studio`` processes: only the export's copy of the
records is made slow (it writes a first part, then waits in a step that does not check cancel), in both ways of
writing (into the file it was given, or creating it anew)."""

from __future__ import annotations

import pytest

from .app_session import run_session

BODY = """
    from mmqnet_core.io import edf_writer

    def slow_copy(out, *args, **kwargs):  # a long recording's export: the first part written, a slow step next
        fname = out.name
        if arg == "recreate":  # a writer that creates its output by name (after the temporary file was made)
            os.unlink(fname)
        with open(fname, "wb") as fh:
            fh.write(b"0" * 4096)
            fh.flush()
            print("WRITING", os.path.basename(fname), flush=True)
            time.sleep(60)  # a step that does not check cancel (a stalled disk)
            fh.write(b"1" * 4096)

    edf_writer._copy_records = slow_copy

    def on_ready(self):
        assert self.review.export_edf_in_background(os.path.join(folder, "out.edf"))

        def close():
            if not any(n.startswith(".out.edf.") for n in os.listdir(folder)):
                QTimer.singleShot(50, close)  # not yet writing
                return
            QTimer.singleShot(300, lambda: (print(f"busy={self.runner.busy}", flush=True), self.close()))

        QTimer.singleShot(50, close)
"""


@pytest.mark.parametrize("how", ["write", "recreate"])
def test_quit_during_an_edf_export_leaves_no_temporary_file(tmp_path, how):
    proc = run_session(tmp_path / "session.py", tmp_path, how, BODY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WRITING .out.edf." in proc.stdout and "busy=True" in proc.stdout  # quit while it was being written
    left = sorted(p.name for p in tmp_path.iterdir())
    assert not [n for n in left if ".tmp" in n or n.startswith(".out.edf")], left
    assert "out.edf" not in left  # nothing half written under the output's name either
