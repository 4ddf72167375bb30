"""Real systems under test and the real load generator (``simbench benchmark``).

=========================  ============================================================
``base``                   LoadGen-shaped SUT protocol, the worker pool and its batcher
``sut``                    ``NullSUT``, ``CallableSUT``, ``OnnxSUT`` (ONNX Runtime), ``make_sut``
``http``                   ``HttpSUT`` (KServe v2) and ``serve_onnx``, a loopback server
``models``                 ResNet-50 v1.5 and a tiny CNN built locally (seeded weights)
``loadgen``                ``LoadGenerator``: LoadGen's issue rules on a real SUT -> Trace
``mlcommons``              the same SUT under the official ``mlperf_loadgen`` package
``loadgen_logs``           importer for LoadGen log folders (summary, detail, trace json)
``job``                    ``benchmark_job`` behind the CLI; ``write_run``
=========================  ============================================================

Everything a real run produces -- Trace, Summary, ``mlperf_log_summary.txt`` -- comes from the
same code as a simulated run (``simbench.schedule``, ``simbench.trace``, ``simbench.summary``).

Examples
--------
>>> from simbench.bench import LoadGenerator, NullSUT
>>> from simbench.settings import TestSettings
>>> s = TestSettings(scenario="Offline", min_query_count=1000, min_duration_ms=0)
>>> run = LoadGenerator(NullSUT(), s, qsl_total_count=1024, qsl_performance_count=1024).run()
>>> run.summary.sample_count
1000
"""

from simbench.bench.loadgen import BenchmarkInterrupted, BenchmarkRun, LoadGenerator, host_info
from simbench.batching import DynamicBatching, NoBatching, parse_batching
from simbench.bench.sut import (
    SUT,
    CallableSUT,
    CompletionSink,
    NullSUT,
    OnnxSUT,
    QuerySample,
    make_sut,
)

__all__ = [
    "LoadGenerator",
    "BenchmarkRun",
    "BenchmarkInterrupted",
    "host_info",
    "SUT",
    "CompletionSink",
    "QuerySample",
    "NoBatching",
    "DynamicBatching",
    "NullSUT",
    "CallableSUT",
    "OnnxSUT",
    "make_sut",
    "parse_batching",
]
