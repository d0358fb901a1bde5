"""``mmqnet_core._scipy_signal``: scipy.signal imported without scipy.stats, every function unchanged, and the real
scipy.stats for whoever imports it afterwards (each case in a fresh interpreter: imports are process state)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PEAKS = ("import numpy as np\n"
          "x = np.sin(np.linspace(0, 40, 600)) + 0.1 * np.cos(np.linspace(0, 400, 600))\n"
          "cwt = scipy.signal.find_peaks_cwt(x, [5, 10, 20])\n"
          "print('CWT', list(cwt))\n")


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_the_cleaning_and_features_import_scipy_signal_without_scipy_stats():
    out = _run("import sys\n"
               "import mmqnet_core.features.extract, mmqnet_core.preprocessing.pipeline\n"
               "import mmqnet_core.preprocessing.streaming, mmqnet_core.preprocessing.display_filter\n"
               "print('SIGNAL', 'scipy.signal' in sys.modules)\n"
               "print('STATS', sorted(m for m in sys.modules if m.startswith('scipy.stats')))\n")
    assert "SIGNAL True" in out
    assert "STATS []" in out  # no stand-in left behind either


def test_scipy_stats_is_the_real_module_afterwards_and_find_peaks_cwt_gives_the_same_peaks():
    """The one function of scipy.signal that uses scipy.stats imports it when called; its peaks are those of a
    plain import (scipy.stats imported first), and a later ``import scipy.stats`` is the whole module."""
    ours = _run("import sys\n"
                "from mmqnet_core._scipy_signal import signal\n"
                "import scipy.signal\n"
                "assert signal is scipy.signal and 'scipy.stats' not in sys.modules\n"
                + _PEAKS +
                "import scipy.stats\n"
                "assert type(scipy.stats).__name__ == 'module' and scipy.stats.norm.cdf(0.0) == 0.5\n"
                "assert sys.modules['scipy.stats'] is scipy.stats and hasattr(scipy.stats, 'scoreatpercentile')\n")
    plain = _run("import scipy.stats, scipy.signal\n" + _PEAKS)
    cwt = [line for line in ours.splitlines() if line.startswith("CWT")]
    assert cwt and cwt == [line for line in plain.splitlines() if line.startswith("CWT")]


def test_scipy_signal_already_imported_or_scipy_stats_first_is_left_as_it_is():
    out = _run("import sys, scipy.stats, scipy.signal\n"
               "stats, signal = sys.modules['scipy.stats'], sys.modules['scipy.signal']\n"
               "from mmqnet_core import _scipy_signal\n"
               "assert _scipy_signal.load() is signal and sys.modules['scipy.stats'] is stats\n"
               "print('OK')\n")
    assert "OK" in out


def test_anything_else_asked_of_the_stand_in_comes_from_the_real_scipy_stats():
    """A name the stand-in does not have (another thread importing scipy.stats during scipy.signal's import, or a
    future scipy.signal taking more from it) removes the stand-in and is the real module's."""
    out = _run("import sys\n"
               "from mmqnet_core._scipy_signal import _StatsOnDemand\n"
               "stand_in = _StatsOnDemand('scipy.stats')\n"
               "sys.modules['scipy.stats'] = stand_in\n"
               "from scipy.stats import norm\n"
               "assert sys.modules['scipy.stats'] is not stand_in and norm.cdf(0.0) == 0.5\n"
               "print('OK')\n")
    assert "OK" in out


def test_a_torch_import_under_way_in_another_thread_does_not_break_scipy_calls():
    """scipy asks ``sys.modules['torch'].Tensor`` the first time it meets an array type; while another thread
    imports torch (the model loading beside the cleaning) that name does not exist yet. After the cleaning's
    imports the answer for numpy's types is settled, so scipy.signal (here the FIR attenuation check mne runs
    when it designs a filter) works whatever state torch is in. Without the settling this raised AttributeError
    ("partially initialized module 'torch'") in 3 of 6 ``mmqnet analyze --in-process`` runs of a short file."""
    out = _run("import sys, types\n"
               "import numpy as np\n"
               "import mmqnet_core.preprocessing.pipeline, mmqnet_core.features.extract\n"
               "real = sys.modules.pop('torch', None)\n"
               "sys.modules['torch'] = types.ModuleType('torch')  # as while torch/__init__.py runs: no Tensor\n"
               "from mmqnet_core._scipy_signal import signal\n"
               "h = signal.firwin(101, 0.3)\n"
               "w, resp = signal.freqz(h.ravel(), worN=np.pi * np.linspace(0, 1, 50))\n"
               "signal.freqz(h.astype(np.float32), worN=np.float64(0.5))\n"
               "print('OK', resp.shape)\n")
    assert "OK (50,)" in out


_TABLE = ("import sys\n"
          "import scipy._lib._array_api as api\n"
          "mods = ('scipy.signal', 'scipy.ndimage', 'scipy.special')\n"
          "names = sorted(f'{f.__module__}.{f.__qualname__}' for f in api.xp_capabilities_table\n"
          "               if getattr(f, '__module__', '').startswith(mods))\n"
          "import hashlib\n"
          "print('TABLE', len(names), hashlib.sha1('\\n'.join(names).encode()).hexdigest())\n"
          "print('HELPERS', api.FunctionDoc.__module__, api._make_capabilities_note.__name__,\n"
          "      api._make_sphinx_capabilities.__name__)\n"
          "import scipy.signal, scipy.ndimage\n"
          "print('SUMMARY', scipy.signal.sosfiltfilt.__doc__.strip().splitlines()[0],\n"
          "      scipy.ndimage.median_filter.__doc__.strip().splitlines()[0])\n")


def test_scipy_keeps_its_capabilities_table_and_doc_helpers_without_rendering_docstrings_at_import():
    """scipy.signal and scipy.ndimage are imported without scipy re-rendering every docstring (the array-API
    note): the decorators still record the same functions in scipy's capabilities table, scipy's own doc helpers
    are back afterwards, and the docstrings keep scipy's text."""
    ours = _run("from mmqnet_core._scipy_signal import signal\n" + _TABLE)
    plain = _run("import scipy.stats, scipy.signal, scipy.ndimage\n" + _TABLE)
    lines = [{line.split()[0]: line for line in out.splitlines() if line.split()[:1] in (["TABLE"], ["HELPERS"],
                                                                                        ["SUMMARY"])}
             for out in (ours, plain)]
    assert lines[0]["TABLE"] == lines[1]["TABLE"] and int(lines[0]["TABLE"].split()[1]) > 100
    assert lines[0]["HELPERS"] == lines[1]["HELPERS"] == ("HELPERS scipy._lib._docscrape _make_capabilities_note "
                                                          "_make_sphinx_capabilities")
    assert lines[0]["SUMMARY"] == lines[1]["SUMMARY"]
