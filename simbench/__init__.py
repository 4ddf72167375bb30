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
