"""The public API of simbench.stats is what its module docstring documents (SimPy's check)."""

import re
import subprocess
import sys

import simbench.stats as stats


def test_all_matches_documented_table():
    documented = set(re.findall(r"^``(\w+)``(?:\s+``(\w+)``)?", stats.__doc__, flags=re.MULTILINE))
    names = {name for pair in documented for name in pair if name}
    assert names == set(stats.__all__)
    for name in stats.__all__:
        assert getattr(stats, name) is not None


def test_public_functions_have_numpydoc_sections():
    for name in stats.__all__:
        obj = getattr(stats, name)
        if callable(obj) and not isinstance(obj, type):
            doc = obj.__doc__ or ""
            for section in ("Parameters", "Returns", "Raises", "Notes", "References", "Examples"):
                assert section in doc, f"{name} lacks {section}"


def test_importing_stats_does_not_import_numba_or_statsmodels():
    code = "import sys, simbench.stats; print('numba' in sys.modules, 'statsmodels' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
