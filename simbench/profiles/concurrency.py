"""How per-batch latency and throughput change when batches run concurrently.

=========================  ============================================================
``in_flight``              batches in flight (itself included) when each batch starts
``ConcurrencyFit``         slowdown per in-flight count, the sharing gain, throughput ratio
``fit_concurrency``        fit from one-worker and k-worker traces of the same SUT
=========================  ============================================================

A real SUT with ``k`` workers (concurrent ONNX Runtime sessions on a CPU; CUDA streams on a
GPU) overlaps batches. Per batch, the slowdown is ``s = service / latency_1(b)`` with
``latency_1`` the one-worker median at the same batch size. The device model's stream rule
(``simbench.profiles.latency.stream_factor`` once the device model has landed) says a batch
that starts with ``k`` batches in flight takes ``k / (1 + g (k - 1))`` times its
single-stream time, ``g`` in [0, 1] the sharing gain (0: no overlap benefit, 1: perfect
overlap). Fitting ``g`` by least squares of that factor on the observed slowdowns (a
one-parameter nonlinear regression, ``scipy.optimize.least_squares`` with a soft-L1 loss)
gives the profile's ``streams`` entry; the throughput ratio ``X_k / X_1`` of the two runs is
reported beside it (for k = 2 and the rule above it equals ``1 + g``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simbench.errors import SimbenchInputError
from simbench.profiles.fit import BatchTimes

__all__ = ["in_flight", "ConcurrencyFit", "fit_concurrency", "stream_factor"]


def stream_factor(k: np.ndarray | float, gain: float) -> np.ndarray | float:
    """``k / (1 + gain (k - 1))``: service-time factor of a batch started with ``k`` in flight."""
    k = np.asarray(k, dtype=np.float64)
    return k / (1.0 + gain * (k - 1.0))


def in_flight(times: BatchTimes) -> np.ndarray:
    """For each batch, how many batches (itself included) of the same trace were running at
    its start: those with ``start <= s_i < start + service``."""
    out = np.ones(times.batch_size.size, dtype=np.int64)
    for t in np.unique(times.trace_index):
        idx = np.flatnonzero(times.trace_index == t)
        s = times.start_ns[idx].astype(np.float64)
        e = s + times.service_ns[idx]
        order = np.argsort(s)
        s_sorted = s[order]
        e_sorted = e[order]
        for j, i in enumerate(idx):
            # batches started at or before s_i (sorted prefix) and not yet finished
            n_started = np.searchsorted(s_sorted, s[j], side="right")
            out[i] = int(np.sum(e_sorted[:n_started] > s[j]))
    return np.maximum(out, 1)


@dataclass(frozen=True)
class ConcurrencyFit:
    """Result of ``fit_concurrency``."""

    workers: int
    gain: float
    slowdown_by_in_flight: dict[int, float]  # median slowdown per in-flight count
    batches_by_in_flight: dict[int, int]
    throughput_ratio: float  # samples/s with k workers / with one
    single_qps: float
    concurrent_qps: float


def _throughput(times: BatchTimes) -> float:
    end = times.start_ns + times.service_ns
    span = float(end.max() - times.start_ns.min())
    return float(times.batch_size.sum()) / span * 1e9


def fit_concurrency(single: BatchTimes, concurrent: BatchTimes, workers: int) -> ConcurrencyFit:
    """Fit the stream-sharing gain from a one-worker and a ``workers``-worker run.

    Parameters
    ----------
    single, concurrent : BatchTimes
        The same SUT and batch sizes, one worker and ``workers`` workers
        (``simbench.profiles.fit.batch_service_times``).
    workers : int
        Concurrent workers of the second run (>= 2).

    Raises
    ------
    ValueError
        ``workers`` < 2, or a batch size of the concurrent run absent from the single run.
    """
    from scipy.optimize import least_squares

    if workers < 2:
        raise SimbenchInputError(f"workers: expected >= 2 for a concurrency fit, got {workers}")
    base = {int(s): float(np.median(single.service_ns[single.batch_size == s])) for s in np.unique(single.batch_size)}
    missing = sorted(set(int(s) for s in np.unique(concurrent.batch_size)) - set(base))
    if missing:
        raise SimbenchInputError(f"batch sizes {missing} of the concurrent run have no one-worker measurement")
    slow = concurrent.service_ns / np.array([base[int(s)] for s in concurrent.batch_size])
    k = np.minimum(in_flight(concurrent), workers)
    res = least_squares(lambda g: stream_factor(k, g[0]) - slow, x0=[0.5], bounds=([0.0], [1.0]), loss="soft_l1", xtol=1e-12, ftol=1e-12, gtol=1e-12)
    by_k = {int(v): float(np.median(slow[k == v])) for v in np.unique(k)}
    n_k = {int(v): int(np.sum(k == v)) for v in np.unique(k)}
    x1, xk = _throughput(single), _throughput(concurrent)
    return ConcurrencyFit(workers, float(res.x[0]), by_k, n_k, xk / x1, x1, xk)
