"""Per-query latencies of a Trace Parquet file, in issue order, via :mod:`simbench.trace`."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_query_latencies(path: str | Path) -> np.ndarray:
    """Return query latencies (int64 ns) of a trace, in ``query_id`` (issue) order.

    Query latency = max(complete_ns over the query's samples) - issue_ns.

    Raises
    ------
    simbench.errors.TraceError
        (a ``ValueError``) if the file is missing or does not follow the Trace schema.
    """
    from simbench.trace import read_trace

    return read_trace(path).query_latencies_ns()
