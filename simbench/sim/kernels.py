"""Small numba kernels shared by both simulator engines (so both compute identical numbers)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def interp_latency_ns(batch_points, latency_points_ns, batch):
    """Median latency (ns, float) of a batch of ``batch`` samples from a latency table.

    Piecewise linear between tabulated batch sizes; the first point's value below the table;
    beyond the table, the line through the last two points (or proportional scaling when the
    table has a single point).
    """
    n = batch_points.shape[0]
    b = float(batch)
    if n == 1:
        if b <= batch_points[0]:
            return latency_points_ns[0]
        return latency_points_ns[0] * b / batch_points[0]
    if b <= batch_points[0]:
        return latency_points_ns[0]
    for i in range(1, n):
        if b <= batch_points[i]:
            x0 = batch_points[i - 1]
            x1 = batch_points[i]
            y0 = latency_points_ns[i - 1]
            y1 = latency_points_ns[i]
            return y0 + (y1 - y0) * (b - x0) / (x1 - x0)
    x0 = batch_points[n - 2]
    x1 = batch_points[n - 1]
    y0 = latency_points_ns[n - 2]
    y1 = latency_points_ns[n - 1]
    return y1 + (y1 - y0) * (b - x1) / (x1 - x0)


@njit(cache=True)
def service_time_ns(batch_points, latency_points_ns, batch, multiplier):
    """Service time (int ns, at least 1) of one batch: median latency times its noise multiplier."""
    v = np.int64(np.round(interp_latency_ns(batch_points, latency_points_ns, batch) * multiplier))
    if v < 1:
        return np.int64(1)
    return v
