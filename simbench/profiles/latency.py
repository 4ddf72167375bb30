"""The profile's latency and noise arithmetic: numba kernels both simulator engines call.

A ``HardwareProfile`` owns how its numbers turn into service times (interpolation of the
latency table, the noise draw); the simulator engines (``simbench.sim``) call these kernels,
so both compute identical numbers and ``profiles`` never imports ``sim``.
"""

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


NOISE_NONE = 0
NOISE_QUANTILES = 1
NOISE_LOGNORMAL = 2
NOISE_EXPONENTIAL = 3


@njit(cache=True)
def draw_multiplier(rng, noise_kind, sigma, probs, mults):
    """Draw one service-time multiplier from the seeded ``numpy.random.Generator`` ``rng``.

    ``noise_kind``: 0 none (no draw), 1 empirical quantile function (one uniform, linear
    interpolation in ``probs``/``mults``), 2 lognormal with median 1 (one standard normal), 3 exponential with mean 1.
    Called once per batch in dispatch order by both engines, so they consume the same stream.
    """
    if noise_kind == 1:
        return np.interp(rng.random(), probs, mults)
    if noise_kind == 2:
        return np.exp(sigma * rng.standard_normal())
    if noise_kind == 3:
        return rng.standard_exponential()
    return 1.0


def noise_kernel_args(noise) -> tuple[int, float, np.ndarray, np.ndarray]:
    """``(kind, sigma, probs, mults)`` for ``draw_multiplier`` from a profile noise model."""
    kind = getattr(noise, "kind", "none")
    empty = np.zeros(1, dtype=np.float64)
    if kind == "quantiles":
        probs = np.array([p for p, _ in noise.points], dtype=np.float64)
        mults = np.array([m for _, m in noise.points], dtype=np.float64)
        return NOISE_QUANTILES, 0.0, probs, mults
    if kind == "lognormal":
        return NOISE_LOGNORMAL, float(noise.sigma), empty, empty
    if kind == "exponential":
        return NOISE_EXPONENTIAL, 0.0, empty, empty
    return NOISE_NONE, 0.0, empty, empty
