"""The profile's latency, noise and power arithmetic, written once for both simulator engines.

A ``HardwareProfile`` owns how its numbers turn into service times and watts (interpolation
of the latency table, the clock scaling of the compute-bound share, the noise draw, the
stream-sharing factor), so ``profiles`` never imports ``sim``. Every function here is plain
Python on floats and ints: the SimPy reference model calls them as they are, and the numba
engine compiles the very same source with ``numba.njit`` (``simbench.sim.engine_numba``).
Only IEEE-754 ``+ - * /`` and ``round`` are used (no fused or reordered operations, no
``fastmath``), so both engines compute the same bits.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "interp_latency_ns",
    "interp_share",
    "clock_scale",
    "stream_factor",
    "service_time_ns",
    "quantile_multiplier",
    "noise_kernel_args",
    "NOISE_NONE",
    "NOISE_QUANTILES",
    "NOISE_LOGNORMAL",
    "NOISE_EXPONENTIAL",
]


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


def interp_share(share_batches, share_values, batch):
    """Compute-bound share (0..1) of a batch's time: linear between tabulated batch sizes,
    held constant beyond either end (a share never leaves [0, 1])."""
    n = share_batches.shape[0]
    b = float(batch)
    if b <= share_batches[0]:
        return share_values[0]
    for i in range(1, n):
        if b <= share_batches[i]:
            x0 = share_batches[i - 1]
            x1 = share_batches[i]
            y0 = share_values[i - 1]
            y1 = share_values[i]
            return y0 + (y1 - y0) * (b - x0) / (x1 - x0)
    return share_values[n - 1]


def clock_scale(share, ref_over_clock):
    """Latency multiplier at a clock: ``1 + share * (f_ref / f - 1)``.

    The compute-bound share of a batch's time scales with ``f_ref / f``; the memory- and
    launch-bound rest does not. Written so that ``f == f_ref`` gives exactly 1.0.
    """
    return 1.0 + share * (ref_over_clock - 1.0)


def stream_factor(in_flight, gain):
    """Wall-time multiplier of a batch that starts with ``in_flight`` batches (itself included)
    on its device: ``k / (1 + gain * (k - 1))``.

    The sharing rule (dispatch-time processor sharing with an efficiency gain): ``k``
    concurrent inference streams together run ``1 + gain * (k - 1)`` times as fast as one, and
    a batch's share is fixed when it starts. ``gain = 0`` is pure processor sharing (no gain),
    ``gain = 1`` makes streams independent. ``k = 1`` gives exactly 1.0.
    """
    k = float(in_flight)
    return k / (1.0 + gain * (k - 1.0))


def service_time_ns(batch_points, latency_points_ns, batch, multiplier):
    """Service time (int ns, at least 1) of one batch: median latency times its noise multiplier."""
    v = int(round(interp_latency_ns(batch_points, latency_points_ns, batch) * multiplier))
    if v < 1:
        return 1
    return v


def device_service_time_ns(batch_points, latency_points_ns, share_batches, share_values, batch, ref_over_clock, in_flight, gain, multiplier):
    """Service time (int ns, >= 1) of one batch on a DVFS device:
    ``round(latency(b) * clock_scale * stream_factor * multiplier)``, multiplied in that order
    (with ``f = f_ref`` and one stream it equals ``service_time_ns`` bit for bit)."""
    lat = interp_latency_ns(batch_points, latency_points_ns, batch)
    if ref_over_clock != 1.0:  # a factor of exactly 1.0 is skipped: x * 1.0 == x
        lat = lat * clock_scale(interp_share(share_batches, share_values, batch), ref_over_clock)
    if in_flight != 1:
        lat = lat * stream_factor(in_flight, gain)
    v = int(round(lat * multiplier))
    if v < 1:
        return 1
    return v


def quantile_multiplier(u, probs, mults):
    """The empirical quantile function at ``u``: linear between ``(probs[i], mults[i])``.

    The arithmetic is ``numpy.interp``'s (``slope * (u - probs[j]) + mults[j]`` with ``j`` the
    last point at or below ``u``; the end values outside), so it equals ``np.interp`` bit for bit.
    """
    n = probs.shape[0]
    if u < probs[0]:
        return mults[0]
    if u >= probs[n - 1]:
        return mults[n - 1]
    j = 0
    while j + 1 < n - 1 and probs[j + 1] <= u:
        j += 1
    if u == probs[j]:
        return mults[j]
    slope = (mults[j + 1] - mults[j]) / (probs[j + 1] - probs[j])
    return slope * (u - probs[j]) + mults[j]


NOISE_NONE = 0
NOISE_QUANTILES = 1
NOISE_LOGNORMAL = 2
NOISE_EXPONENTIAL = 3


def draw_multiplier(rng, noise_kind, sigma, probs, mults):
    """Draw one service-time multiplier from the seeded ``numpy.random.Generator`` ``rng``.

    ``noise_kind``: 0 none (no draw), 1 empirical quantile function (one uniform), 2 lognormal
    with median 1 (one standard normal), 3 exponential with mean 1. Called once per batch in
    dispatch order by both engines, so they consume the same stream.
    """
    if noise_kind == 1:
        return quantile_multiplier(rng.random(), probs, mults)
    if noise_kind == 2:
        return math.exp(sigma * rng.standard_normal())
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
