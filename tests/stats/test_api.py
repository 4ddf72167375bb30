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


def test_statistics_never_import_upward():
    """DESIGN.md: stats uses only settings/trace/rng. Any import of sim, plan, bench, profiles, summary,
    report or cli from simbench/stats is an upward arrow (issue 12 cut the stats -> sim cycle)."""
    import ast
    from pathlib import Path

    upward = ("simbench.sim", "simbench.plan", "simbench.bench", "simbench.profiles", "simbench.summary",
              "simbench.report", "simbench.cli", "simbench.jobs")
    offenders = []
    for path in sorted(Path(stats.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(upward)]
    assert offenders == []
    code = ("import sys, simbench.stats.montecarlo, simbench.stats.autocorrelation; "
            "print(sorted(m for m in sys.modules if m.startswith(('simbench.sim', 'simbench.plan'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
