"""simbench: MLPerf-Inference-style benchmarking and simulation of ML inference.

Modules
-------
settings   scenarios, ``TestSettings``, ``mlperf.conf`` parsing, effective settings
trace      the ``Trace`` record (one row per sample) and its Parquet I/O
summary    LoadGen's ``mlperf_log_summary.txt`` computed from a Trace
stats      percentiles, early stopping, sample sizes, confidence intervals
sim        the SimPy reference simulator and its numba fast path
profiles   ``HardwareProfile`` schema and the shipped-profile registry
"""

__version__ = "0.1.0"


def _add_checkout_subpackages() -> None:
    """In a source checkout, find ``simbench.cli`` and ``simbench.hardware_profiles`` in the
    top-level ``cli/`` and ``hardware_profiles/`` folders, as the installed wheel maps them
    (``package-dir`` in pyproject.toml). Without this, anything that imports ``simbench`` from
    the checkout (``python -m pytest`` at the root puts it first on ``sys.path``) would get a
    package without its CLI and shipped profiles."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "cli" / "main.py").is_file():
        __path__.append(str(root))  # type: ignore[name-defined]  # noqa: F821


_add_checkout_subpackages()
