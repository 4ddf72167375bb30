"""The statistics a Summary carries: τ, its upper bound, the corrected query count and the warnings.

:func:`simbench.stats.required_queries` is the full analysis of one run (``simbench stats
required-queries``). :func:`run_statistics` gives the same answer cheaply enough to run inside
every Summary (``simulate``, ``benchmark``, ``trace summary``):

* runs of at most ``max_series`` queries (default 2**17 = 131,072) are analysed exactly as
  ``required_queries`` does (same numbers, same warnings);
* longer runs are analysed through **block means**: the indicator ``I_i = [x_i <= ξ̂_p]`` is
  averaged over ``m = max_series`` consecutive blocks of ``b = ceil(n / max_series)`` queries
  (the last ``n - m b < b`` queries are left out), and

  .. math:: \\tau = \\tau_{bm}(b)\\,\\tau_Z, \\qquad \\tau_{bm}(b) = b\\,\\mathrm{Var}(Z)/\\mathrm{Var}(I),

  with :math:`\\tau_Z` the autocorrelation time of the block-mean series ``Z`` by the same
  estimators (Geyer by default) and the same interval rule. The identity is exact for the
  variance of the total: :math:`\\mathrm{Var}(\\sum I) = b^2\\,\\mathrm{Var}(\\sum Z) \\approx b^2 m\\,
  \\mathrm{Var}(Z)\\,\\tau_Z = n\\,\\mathrm{Var}(I)\\,\\tau`. The warm-up, split-half and trend checks use the
  same block sums (head = first 10 % of blocks, MSER-5 on the latency block means, i.e. batches of
  ``5 b`` queries). Cost: three passes over the ``n`` latencies plus FFTs of ``m`` values
  (measured in docs/statistics.md).

Nothing is silently absent: a run that cannot be analysed (fewer than 64 queries, Offline's one
query, no completed sample) carries the reason in ``basis`` and ``None`` in the numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from simbench.errors import SimbenchInputError
from simbench.stats.autocorrelation import (
    DEFAULT_TAU_METHOD,
    _autocorrelations,
    _geyer_time,
    _interval,
    _obm_time,
    _sokal_time,
    _split_log_sd,
    _tau_warnings,
    kendall_trend,
    mser5_truncation,
    required_queries,
    stationarity_warnings,
)
from simbench.stats.early_stopping import LOADGEN_CONFIDENCE, min_passing_queries
from simbench.stats.percentile import _as_latency_array, loadgen_percentile
from simbench.stats.sample_size import sample_size

__all__ = ["MAX_SERIES", "MIN_QUERIES", "RunStatistics", "run_statistics", "not_analysed"]

MAX_SERIES = 2**17
"""Runs longer than this are analysed through ``MAX_SERIES`` block means (module docstring)."""
MIN_QUERIES = 64
"""Fewer queries than this are not analysed (``required_queries`` refuses them too)."""


@dataclass(frozen=True)
class RunStatistics:
    """τ, the corrected count and the procedure's warnings for one run, at its target percentile.

    Attributes
    ----------
    percentile : float
        ``p`` (fraction).
    query_count : int
        Queries in the run.
    basis : str
        What was analysed: ``"all N queries"``, ``"block means of b queries (m blocks; the last r
        queries left out)"``, or ``"not analysed: <reason>"``.
    method : str
        τ estimator (``"geyer"``).
    tau, tau_low, tau_high : float or None
        τ of ``[latency <= p-th percentile]`` and its two-sided 90 % interval.
    effective_queries : float or None
        ``n / tau_high``.
    iid_queries : int or None
        Eq. 2's count for independent queries (unrounded ``ceil``).
    required_queries : int or None
        ``ceil(iid_queries * tau_high)``.
    early_stopping_required_queries : int or None
        LoadGen's SingleStream minimum ``h(1) + 1`` times ``tau_high``.
    sufficient : bool or None
        ``query_count >= required_queries`` and not too short to tell.
    warmup_queries : int or None
        MSER-5's suggested warm-up cut, in queries.
    warnings : tuple of str
        τ's warnings (too short to tell, estimator disagreement) and the stationarity ones
        (warm-up, split-half, trend), worded as ``simbench stats required-queries`` prints them.
    """

    percentile: float
    query_count: int
    basis: str
    method: str = DEFAULT_TAU_METHOD
    tau: float | None = None
    tau_low: float | None = None
    tau_high: float | None = None
    effective_queries: float | None = None
    iid_queries: int | None = None
    required_queries: int | None = None
    early_stopping_required_queries: int | None = None
    sufficient: bool | None = None
    warmup_queries: int | None = None
    warnings: tuple[str, ...] = field(default=())

    def as_fields(self, prefix: str = "statistics_") -> dict[str, Any]:
        """Flat JSON-able fields (``statistics_tau``, ``statistics_warnings`` ...)."""
        return {
            f"{prefix}percentile": self.percentile,
            f"{prefix}basis": self.basis,
            f"{prefix}tau_method": self.method,
            f"{prefix}tau": self.tau,
            f"{prefix}tau_low": self.tau_low,
            f"{prefix}tau_high": self.tau_high,
            f"{prefix}effective_queries": self.effective_queries,
            f"{prefix}required_queries_iid": self.iid_queries,
            f"{prefix}required_queries": self.required_queries,
            f"{prefix}early_stopping_required_queries": self.early_stopping_required_queries,
            f"{prefix}sufficient": self.sufficient,
            f"{prefix}warmup_queries": self.warmup_queries,
            f"{prefix}warnings": list(self.warnings),
        }


def not_analysed(percentile: float, query_count: int, reason: str) -> RunStatistics:
    """A :class:`RunStatistics` that states why the run was not analysed (numbers ``None``)."""
    return RunStatistics(percentile=float(percentile), query_count=int(query_count), basis=f"not analysed: {reason}")


def run_statistics(
    latencies_ns: ArrayLike,
    percentile: float,
    *,
    threshold_ns: float | None = None,
    confidence: float = LOADGEN_CONFIDENCE,
    max_series: int = MAX_SERIES,
    tau_confidence: float = 0.9,
) -> RunStatistics:
    """τ, its interval, the corrected query count and the warnings of one run, cheaply.

    Parameters
    ----------
    latencies_ns : array_like, shape (n,)
        Query latencies in ns in issue order.
    percentile : float
        ``p`` in (0, 1): the run's target percentile.
    threshold_ns : float, optional
        The run's LoadGen p-th percentile, if already known (saves a selection pass); used
        only on the block path (the exact path recomputes it as ``required_queries`` does).
    confidence : float, default 0.99
        Confidence of the margin claim (Eq. 2).
    max_series : int, default 2**17
        Longest run analysed query by query; longer runs go through ``max_series`` block means.
    tau_confidence : float, default 0.9
        Level of τ's two-sided interval.

    Returns
    -------
    RunStatistics
        ``basis`` says which path was taken; fewer than 64 queries give ``not analysed``.

    Raises
    ------
    SimbenchInputError
        If ``percentile`` is not in (0, 1) or ``max_series`` < 1,024.

    Notes
    -----
    The block path is described in the module docstring. Its τ equals the query-by-query
    estimate up to the estimators' noise when ``b`` is small against τ's own scale, and
    reduces to batch means with ``m`` batches when τ is much shorter than a block (then
    ``τ_Z ≈ 1``); tests check both against :func:`required_queries` on the full series.

    References
    ----------
    .. [1] C. J. Geyer, "Practical Markov chain Monte Carlo", Statist. Sci. 7(4), 1992.
    .. [2] G. S. Fishman, *Principles of Discrete Event Simulation*, Wiley, 1978 (batch means).
    .. [3] K. P. White Jr., Simulation 69(6), 1997 (MSER).

    Examples
    --------
    >>> x = np.random.default_rng(0).exponential(1e6, size=300_000)
    >>> stats = run_statistics(x, 0.99)
    >>> stats.basis, stats.warnings, 0.9 < stats.tau < 1.2
    ('block means of 3 queries (100,000 blocks)', (), True)
    """
    p = float(percentile)
    if not 0.0 < p < 1.0:
        raise SimbenchInputError(f"percentile must be in (0, 1), got {percentile!r}")
    if max_series < 1024:
        raise SimbenchInputError(f"max_series must be >= 1024, got {max_series!r}")
    x = _as_latency_array(latencies_ns)
    n = int(x.size)
    if n < MIN_QUERIES:
        return not_analysed(p, n, f"{n} queries (fewer than {MIN_QUERIES}: too few to estimate tau)")
    if n <= max_series:
        rq = required_queries(x, p, confidence=confidence, tau_confidence=tau_confidence)
        tau = rq.autocorrelation
        return RunStatistics(
            percentile=p, query_count=n, basis=f"all {n:,} queries", method=tau.method,
            tau=tau.autocorrelation_time, tau_low=tau.tau_low, tau_high=tau.tau_high,
            effective_queries=n / tau.tau_high, iid_queries=rq.iid_queries, required_queries=rq.required_queries,
            early_stopping_required_queries=rq.early_stopping_required_queries, sufficient=rq.sufficient,
            warmup_queries=rq.stationarity.warmup_queries if rq.stationarity else None, warnings=rq.warnings,
        )
    return _blocked(x, p, threshold_ns, confidence, max_series, tau_confidence)


def _blocked(x: np.ndarray, p: float, threshold_ns, confidence: float, max_series: int,
             tau_confidence: float) -> RunStatistics:
    n = int(x.size)
    b = -(-n // max_series)
    m = n // b
    used = m * b
    threshold = float(loadgen_percentile(x, p)) if threshold_ns is None else float(threshold_ns)
    under = x[:used] <= threshold
    z = under.reshape(m, b).sum(axis=1, dtype=np.int64) / b  # block means of the indicator
    share = float(z.mean())
    variance = share * (1.0 - share)
    latency_means = x[:used].reshape(m, b).sum(axis=1) / b  # int64 sums: faster than mean's float path
    size = sample_size(p, confidence=confidence)
    es_min = min_passing_queries(1, p, confidence=confidence) + 1
    basis = f"block means of {b:,} queries ({m:,} blocks" + (f"; the last {n - used:,} queries left out)"
                                                              if n > used else ")")
    z_variance = float(z.var())
    if variance == 0.0 or z_variance == 0.0:
        tau = low = high = 1.0
        acf_time = geyer_time = obm_time = 1.0
    else:
        bm = b * z_variance / variance
        rho = _autocorrelations(z, 200_000)
        acf_z, _ = _sokal_time(rho, 5.0)
        geyer_z, geyer_lags = _geyer_time(rho)
        obm_b = max(1, math.isqrt(m))
        obm_z = _obm_time(z, obm_b)
        split = _split_log_sd(z, 5.0, 200_000)
        acf_time, geyer_time, obm_time = bm * acf_z, bm * geyer_z, bm * obm_z
        low_z, high_z = _interval(DEFAULT_TAU_METHOD, max(geyer_z, 1e-12), m, geyer_lags, obm_b, 1, 2,
                                  tau_confidence, split["geyer"])
        tau = max(1.0, geyer_time)
        low, high = max(1.0, bm * low_z), max(1.0, bm * high_z)
    warnings = list(_tau_warnings(n, p, high, acf_time, geyer_time, obm_time))
    # Stationarity on the same blocks: shares above the percentile (over = 1 - under), trend, MSER-5.
    over = 1.0 - z
    q = max(1.0 - share, 1.0 / n)
    unit = q * (1.0 - q) * tau

    def zscore(first: np.ndarray, rest: np.ndarray) -> float:
        na, nb = first.size * b, rest.size * b
        return float((first.mean() - rest.mean()) / math.sqrt(unit * (1.0 / na + 1.0 / nb)))

    half, head = m // 2, max(1, m // 10)
    split_z = zscore(over[:half], over[half:])
    head_z = zscore(over[:head], over[head:])
    batches = 32
    per = m // batches
    trend_tau, trend_p = kendall_trend(latency_means[: batches * per].reshape(batches, per).mean(axis=1))
    cut = mser5_truncation(latency_means) * b
    warnings += stationarity_warnings(p, split_z, head_z, trend_tau, trend_p, cut)
    required = math.ceil(size.min_queries * high)
    too_short = any(w.startswith("too short") for w in warnings)
    return RunStatistics(
        percentile=p, query_count=n, basis=basis, method=DEFAULT_TAU_METHOD, tau=tau, tau_low=low, tau_high=high,
        effective_queries=n / high, iid_queries=size.min_queries, required_queries=required,
        early_stopping_required_queries=math.ceil(es_min * high), sufficient=n >= required and not too_short,
        warmup_queries=int(cut), warnings=tuple(warnings),
    )

