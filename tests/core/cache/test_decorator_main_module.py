"""Default keys of functions defined in `__main__` (`python script.py`, `python -m package`) name the script or the
module that ran, never `__main__` (keys may not start with `_`). The subprocess test in test_scripts.py runs a real
script; these cover each way a program can be started, in this process (`...` below: the attribute or module is
absent)."""

import sys
import types
from types import SimpleNamespace

import pytest

from core.cache import cache_result
from core.cache.conf import key_prefix

STARTS = {
    "python script.py": (None, "/srv/jobs/nightly_report.py", "nightly_report.double"),
    "python -m package.module": ("reports.nightly", "/srv/reports/nightly.py", "reports.nightly.double"),
    "python -m package": ("reports.__main__", "/srv/reports/__main__.py", "reports.double"),
    "a module whose name is internal": ("_reports", "/srv/__nightly.py", "nightly.double"),
    "a spec without a name": ("", "/srv/jobs/weekly.py", "weekly.double"),
    "no file (python -c)": (None, None, "main.double"),
    "a file named only underscores": (None, "/srv/__.py", "main.double"),
    "a file whose name starts with an underscore": (None, "/srv/jobs/_Xmas.py", "Xmas.double"),
    "no __file__ (an interactive session)": (None, ..., "main.double"),
    "no __main__ module at all": (..., ..., "main.double"),
}


@pytest.mark.parametrize(("spec_name", "file", "name"), STARTS.values(), ids=STARTS.keys())
def test_a_function_of_the_main_module_keys_by_what_was_started(monkeypatch, spec_name, file, name):
    # given: a program started that way, and a function it defines
    if spec_name is ...:
        monkeypatch.delitem(sys.modules, "__main__")
    else:
        main = types.ModuleType("__main__")
        main.__spec__ = None if spec_name is None else SimpleNamespace(name=spec_name)
        if file is not ...:
            main.__file__ = file
        monkeypatch.setitem(sys.modules, "__main__", main)
    namespace = {"__name__": "__main__"}
    exec("def double(value):\n    return value * 2", namespace)

    # when
    key = cache_result(namespace["double"]).key(5)

    # then
    assert key == f"{key_prefix()}:{name}:5"
