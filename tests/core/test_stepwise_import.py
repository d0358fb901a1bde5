"""``mmqnet_core._stepwise_import``: the display cleaning's imports in steps, with a cancel check between steps;
the same modules and the same scipy as the cleaning's own import (each case in a fresh interpreter: imports are
process state)."""

from __future__ import annotations

from tests.core.test_scipy_signal import _run  # a fresh interpreter per case

#: Prints the modules imported, scipy's capabilities table (which functions its array-API decorators recorded), its
#: doc helpers (scipy's own again afterwards), and a digest of the first line of every public function's docstring.
_STATE = ("import sys, hashlib\n"
          "import scipy._lib._array_api as api\n"
          "import scipy.signal, scipy.ndimage, scipy.special, scipy.spatial, scipy.optimize\n"
          "mods = (scipy.signal, scipy.ndimage, scipy.special, scipy.spatial, scipy.optimize)\n"
          "table = sorted(f'{f.__module__}.{f.__qualname__}' for f in api.xp_capabilities_table\n"
          "               if getattr(f, '__module__', '').startswith('scipy.'))\n"
          "print('TABLE', len(table), hashlib.sha1('\\n'.join(table).encode()).hexdigest())\n"
          "print('HELPERS', api.FunctionDoc.__module__, api._make_capabilities_note.__name__)\n"
          "firsts = [(str(getattr(getattr(m, n), '__doc__', None) or '').strip().splitlines() or [''])[0]\n"
          "          for m in mods for n in sorted(dir(m)) if not n.startswith('_')]\n"
          "print('DOCS', len(firsts), hashlib.sha1('\\n'.join(firsts).encode()).hexdigest())\n"
          "print('MODULES', ' '.join(sorted(sys.modules)))\n")


def _lines(out: str) -> dict[str, str]:
    return {line.split()[0]: line for line in out.splitlines()
            if line.split()[:1] in (["DOCS"], ["MODULES"], ["TABLE"], ["HELPERS"])}


def test_the_steps_import_what_the_cleaning_imports_and_nothing_else_and_the_same_scipy():
    """The same modules; scipy's capabilities table, doc helpers and docstring summaries as after the cleaning's
    own import (scipy's array-API notes are not rendered in either; they were for scipy.ndimage before)."""
    stepwise = _lines(_run("from mmqnet_core._stepwise_import import import_in_steps\n"
                           "import_in_steps()\n"
                           "import mmqnet_core.preprocessing.on_demand\n" + _STATE))
    plain = _lines(_run("import mmqnet_core._stepwise_import\n"
                        "import mmqnet_core.preprocessing.on_demand\n" + _STATE))
    assert stepwise["MODULES"] == plain["MODULES"]
    assert "scipy.stats" not in stepwise["MODULES"].split()
    for key in ("TABLE", "HELPERS", "DOCS"):
        assert stepwise[key] == plain[key], key
    assert int(stepwise["TABLE"].split()[1]) > 100


def test_each_step_is_a_module_the_cleaning_imports():
    """No step imports a module the cleaning's own import would not (a stale list after a refactoring)."""
    from mmqnet_core._stepwise_import import CLEANING_MODULES

    out = _run("import sys\nimport mmqnet_core.preprocessing.on_demand\nprint('MODULES', ' '.join(sys.modules))\n")
    imported = set(_lines(out)["MODULES"].split()[1:])
    assert set(CLEANING_MODULES) <= imported, set(CLEANING_MODULES) - imported


def test_the_token_is_checked_before_each_module_not_yet_imported_and_a_set_one_stops_there():
    out = _run("import sys\n"
               "from mmqnet_core._stepwise_import import import_in_steps\n"
               "from mmqnet_core.errors import Cancelled\n"
               "class T:\n"
               "    n = 0\n"
               "    def is_set(self):\n"
               "        self.n += 1\n"
               "        return self.n > 1\n"
               "t = T()\n"
               "try:\n"
               "    import_in_steps(('sys', 'numpy.ma', 'sys', 'scipy.linalg', 'scipy.sparse'), cancel=t)\n"
               "except Cancelled:\n"
               "    print('CANCELLED', t.n, 'numpy.ma' in sys.modules, 'scipy.linalg' in sys.modules)\n")
    assert "CANCELLED 2 True False" in out
