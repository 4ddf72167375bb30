"""Statistics for MLPerf-style latency runs.

=================================  ==========================================================
name                               what it is
=================================  ==========================================================
``loadgen_percentile``             LoadGen's percentile rule ``sorted[floor(n*p)]``
``loadgen_percentiles``            several LoadGen percentiles in one selection pass
``loadgen_percentile_index``       the index ``floor(n*p)`` alone, in LoadGen's double arithmetic
``min_passing_queries``            LoadGen's early-stopping ``h(t)``
``max_overlatency_count``          the most over-latency queries ``n`` queries tolerate
``server_early_stopping``          Server early-stopping check -> ``EarlyStoppingResult``
``latency_early_stopping``         SingleStream/MultiStream estimate -> ``EarlyStoppingResult``
``EarlyStoppingResult``            result record with LoadGen's summary lines
``LOADGEN_CONFIDENCE``             0.99, LoadGen's early-stopping confidence
``LOADGEN_TOLERANCE``              0.0, LoadGen's early-stopping tolerance
=================================  ==========================================================
"""

from simbench.stats.early_stopping import (
    LOADGEN_CONFIDENCE,
    LOADGEN_TOLERANCE,
    EarlyStoppingResult,
    latency_early_stopping,
    max_overlatency_count,
    min_passing_queries,
    server_early_stopping,
)
from simbench.stats.percentile import (
    loadgen_percentile,
    loadgen_percentile_index,
    loadgen_percentiles,
)

__all__ = [
    "LOADGEN_CONFIDENCE",
    "LOADGEN_TOLERANCE",
    "EarlyStoppingResult",
    "latency_early_stopping",
    "loadgen_percentile",
    "loadgen_percentile_index",
    "loadgen_percentiles",
    "max_overlatency_count",
    "min_passing_queries",
    "server_early_stopping",
]
