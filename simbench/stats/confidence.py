"""Distribution-free confidence intervals for a latency percentile from order statistics.

Contents
--------
:func:`percentile_ci`
    ``[x_(l), x_(u)]`` covering the true p-th percentile with a stated
    confidence, for any continuous latency law -> :class:`PercentileConfidenceInterval`.
:func:`percentile_ci_ranks`
    The ranks ``(l, u)`` alone, for a sample size.
:func:`order_statistic_coverage`
    The exact coverage ``P[l <= Binomial(n, p) <= u - 1]`` of given ranks.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import bdtr, bdtrc, bdtrik, ndtri

from simbench.errors import SimbenchInputError
from simbench.stats.percentile import _as_latency_array

__all__ = [
    "PercentileConfidenceInterval",
    "order_statistic_coverage",
    "percentile_ci",
    "percentile_ci_ranks",
]

Alternative = Literal["two-sided", "less", "greater"]
Method = Literal["exact", "normal"]

_REFERENCES = {
    "exact": (
        "Exact binomial order-statistic interval: W. J. Conover, Practical Nonparametric "
        "Statistics, 3rd ed., 1999, section 3.2; H. A. David & H. N. Nagaraja, Order "
        "Statistics, 3rd ed., 2003, section 7.1; Hahn & Meeker, Statistical Intervals, 1991, "
        "section 5.2"
    ),
    "normal": (
        "Normal approximation to the binomial ranks: W. J. Conover, Practical Nonparametric "
        "Statistics, 3rd ed., 1999, section 3.2"
    ),
}


@dataclass(frozen=True)
class PercentileConfidenceInterval:
    """A confidence interval for a percentile, with the ranks it came from.

    Attributes
    ----------
    low, high : int or float
        Bounds in the latencies' unit (ns): ``x_(low_rank)`` and
        ``x_(high_rank)`` (1-based ascending). ``-inf`` / ``inf`` when a side
        is unbounded (one-sided interval, or too few samples).
    low_rank, high_rank : int
        1-based ranks; ``low_rank = 0`` and ``high_rank = n + 1`` mean
        unbounded.
    percentile : float
        The percentile ``p`` (fraction) the interval is for.
    sample_count : int
        Number of latencies ``n``.
    confidence_level : float
        Requested confidence ``1 - alpha``.
    coverage : float
        Exact coverage of the chosen ranks for i.i.d. draws from any
        continuous law: ``P[low_rank <= B <= high_rank - 1]``, B ~ Bin(n, p).
        Never below ``confidence_level`` for ``method="exact"`` without an
        effective sample count.
    alternative : str
        ``"two-sided"``, ``"less"`` (upper bound only) or ``"greater"``
        (lower bound only), as in ``scipy.stats.quantile_test``.
    method : str
        ``"exact"`` or ``"normal"``.
    effective_sample_count : float or None
        The effective sample size used to widen the ranks for autocorrelated
        latencies, or ``None`` for i.i.d.
    reference : str
        Where the method comes from.
    """

    low: float
    high: float
    low_rank: int
    high_rank: int
    percentile: float
    sample_count: int
    confidence_level: float
    coverage: float
    alternative: str
    method: str
    effective_sample_count: float | None
    reference: str


def _binom_cdf(k: int, n: int, p: float) -> float:
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return float(bdtr(k, n, p))


def _binom_sf(k: int, n: int, p: float) -> float:
    if k < 0:
        return 1.0
    if k >= n:
        return 0.0
    return float(bdtrc(k, n, p))


def order_statistic_coverage(sample_count: int, percentile: float, low_rank: int, high_rank: int) -> float:
    """Return the exact coverage of ``[x_(low_rank), x_(high_rank)]`` for the p-th percentile.

    Parameters
    ----------
    sample_count : int
        Number of i.i.d. latencies ``n`` >= 1.
    percentile : float
        Percentile ``p`` in (0, 1).
    low_rank, high_rank : int
        1-based ranks with ``0 <= low_rank < high_rank <= n + 1``; 0 and
        ``n + 1`` stand for an unbounded side.

    Returns
    -------
    float
        :math:`P[l \\le B \\le u - 1]` with :math:`B \\sim \\mathrm{Bin}(n, p)`.

    Raises
    ------
    ValueError
        If the ranks are out of order or range.

    Notes
    -----
    With ``B`` the number of draws below the true percentile
    :math:`\\xi_p`, :math:`x_{(l)} \\le \\xi_p \\iff B \\ge l` and
    :math:`x_{(u)} \\ge \\xi_p \\iff B \\le u - 1` for a continuous law, so the
    coverage does not depend on the law. For a discrete law (ties) the
    closed interval covers at least this often.

    References
    ----------
    .. [1] H. A. David & H. N. Nagaraja, *Order Statistics*, 3rd ed., Wiley,
       2003, §7.1.

    Examples
    --------
    >>> round(order_statistic_coverage(100, 0.5, 40, 61), 4)
    0.9648
    """
    n = operator.index(sample_count)
    low, high = operator.index(low_rank), operator.index(high_rank)
    if n < 1:
        raise SimbenchInputError(f"sample_count must be >= 1, got {sample_count!r}")
    if not 0 <= low < high <= n + 1:
        raise SimbenchInputError(f"need 0 <= low_rank < high_rank <= sample_count + 1, got {low_rank}, {high_rank}")
    p = float(percentile)
    if not 0.0 < p < 1.0:
        raise SimbenchInputError(f"percentile must be in (0, 1), got {percentile!r}")
    return _binom_cdf(high - 1, n, p) - _binom_cdf(low - 1, n, p)


def _start(n: int, p: float, level: float) -> int:
    """Starting point for the exact search: the continuous inverse of the binomial CDF."""
    guess = float(bdtrik(level, n, p))
    if not math.isfinite(guess):
        guess = n * p
    return min(max(int(guess), 0), n)


def _smallest_cdf_above(n: int, p: float, level: float) -> int:
    """Smallest k in [0, n] with P[B <= k] > level (n + 1 if none)."""
    k = _start(n, p, level)
    while k > 0 and _binom_cdf(k - 1, n, p) > level:
        k -= 1
    while k <= n and _binom_cdf(k, n, p) <= level:
        k += 1
    return k


def _smallest_sf_at_most(n: int, p: float, level: float) -> int:
    """Smallest k in [0, n] with P[B > k] <= level."""
    k = _start(n, p, 1.0 - level)
    while k > 0 and _binom_sf(k - 1, n, p) <= level:
        k -= 1
    while _binom_sf(k, n, p) > level:
        k += 1
    return k


def _exact_ranks(n: int, p: float, alpha: float, alternative: str) -> tuple[int, int]:
    tail = alpha / 2.0 if alternative == "two-sided" else alpha
    low, high = 0, n + 1
    if alternative in ("two-sided", "greater"):
        # P[x_(l) > xi] = P[B <= l - 1] <= tail  (largest such l)
        low = _smallest_cdf_above(n, p, tail)
    if alternative in ("two-sided", "less"):
        # P[x_(u) < xi] = P[B >= u] <= tail  (smallest such u)
        high = _smallest_sf_at_most(n, p, tail) + 1
    return min(low, n), max(high, 1)


def _normal_ranks(n: int, p: float, alpha: float, alternative: str, inflation: float) -> tuple[int, int]:
    tail = alpha / 2.0 if alternative == "two-sided" else alpha
    z = float(-ndtri(tail))
    spread = z * math.sqrt(n * p * (1.0 - p) * inflation)
    low, high = 0, n + 1
    if alternative in ("two-sided", "greater"):
        low = max(0, math.ceil(n * p - spread))
    if alternative in ("two-sided", "less"):
        high = min(n + 1, math.ceil(n * p + spread) + 1)
    return min(low, n), max(high, 1)


def percentile_ci_ranks(
    sample_count: int,
    percentile: float,
    *,
    confidence_level: float = 0.99,
    alternative: Alternative = "two-sided",
    method: Method = "exact",
    effective_sample_count: float | None = None,
) -> tuple[int, int]:
    """Return the 1-based ranks ``(l, u)`` of a percentile confidence interval.

    Parameters
    ----------
    sample_count : int
        Number of latencies ``n`` >= 1.
    percentile : float
        Percentile ``p`` in (0, 1).
    confidence_level : float, default 0.99
        Confidence ``1 - alpha`` in (0, 1).
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        ``"less"``: upper bound only (``l = 0``); ``"greater"``: lower bound
        only (``u = n + 1``). Two-sided intervals are equal-tailed.
    method : {"exact", "normal"}, default "exact"
        ``"exact"`` uses binomial quantiles; ``"normal"`` the ranks
        :math:`\\lceil np \\mp z\\sqrt{np(1-p)}\\rceil`.
    effective_sample_count : float, optional
        For autocorrelated latencies: the effective sample size ``n_eff`` in
        (0, n]. The ranks are computed for ``n_eff`` draws and their
        fractions mapped back to ``n`` (``"exact"``), or the binomial
        variance is inflated by ``n / n_eff`` (``"normal"``).

    Returns
    -------
    tuple of int
        ``(low_rank, high_rank)``; 0 and ``n + 1`` mean unbounded.

    Raises
    ------
    ValueError
        If an argument is out of range or not one of the listed values.

    Notes
    -----
    With ``B ~ Bin(n, p)`` the number of draws below the true percentile,
    the exact two-sided ranks are the largest ``l`` with
    :math:`P[B \\le l - 1] \\le \\alpha/2` and the smallest ``u`` with
    :math:`P[B \\ge u] \\le \\alpha/2`; they agree with
    ``scipy.stats.quantile_test(...).confidence_interval()``.

    References
    ----------
    .. [1] W. J. Conover, *Practical Nonparametric Statistics*, 3rd ed.,
       Wiley, 1999, §3.2.
    .. [2] H. A. David & H. N. Nagaraja, *Order Statistics*, 3rd ed., Wiley,
       2003, §7.1.

    Examples
    --------
    >>> percentile_ci_ranks(270_336, 0.99)
    (267498, 267766)
    """
    n = operator.index(sample_count)
    if n < 1:
        raise SimbenchInputError(f"sample_count must be >= 1, got {sample_count!r}")
    p = float(percentile)
    if not 0.0 < p < 1.0:
        raise SimbenchInputError(f"percentile must be in (0, 1), got {percentile!r}")
    level = float(confidence_level)
    if not 0.0 < level < 1.0:
        raise SimbenchInputError(f"confidence_level must be in (0, 1), got {confidence_level!r}")
    if alternative not in ("two-sided", "less", "greater"):
        raise SimbenchInputError(f"alternative must be 'two-sided', 'less' or 'greater', got {alternative!r}")
    if method not in ("exact", "normal"):
        raise SimbenchInputError(f"method must be 'exact' or 'normal', got {method!r}")
    alpha = 1.0 - level
    if effective_sample_count is None:
        if method == "exact":
            return _exact_ranks(n, p, alpha, alternative)
        return _normal_ranks(n, p, alpha, alternative, 1.0)
    effective = float(effective_sample_count)
    if not 0.0 < effective <= n:
        raise SimbenchInputError(f"effective_sample_count must be in (0, sample_count], got {effective_sample_count!r}")
    if method == "normal":
        return _normal_ranks(n, p, alpha, alternative, n / effective)
    reduced = max(1, math.floor(effective))
    low_e, high_e = _exact_ranks(reduced, p, alpha, alternative)
    low = 0 if low_e == 0 else max(0, math.floor(low_e * n / reduced))
    high = n + 1 if high_e == reduced + 1 else min(n + 1, math.ceil(high_e * n / reduced))
    return min(low, n), max(high, 1)


def percentile_ci(
    latencies_ns: ArrayLike,
    percentile: float,
    *,
    confidence_level: float = 0.99,
    alternative: Alternative = "two-sided",
    method: Method = "exact",
    effective_sample_count: float | None = None,
) -> PercentileConfidenceInterval:
    """Return a distribution-free confidence interval for a latency percentile.

    Parameters
    ----------
    latencies_ns : array_like of int, shape (n,)
        Latencies in nanoseconds, any order.
    percentile : float
        Percentile ``p`` in (0, 1), e.g. 0.99.
    confidence_level : float, default 0.99
        Confidence ``1 - alpha`` in (0, 1).
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        As in :func:`percentile_ci_ranks`.
    method : {"exact", "normal"}, default "exact"
        As in :func:`percentile_ci_ranks`.
    effective_sample_count : float, optional
        Effective sample size for autocorrelated latencies (see
        :func:`simbench.stats.autocorrelation.indicator_autocorrelation`).

    Returns
    -------
    PercentileConfidenceInterval

    Raises
    ------
    ValueError
        If ``latencies_ns`` is empty or not numeric, or an argument is out of
        range.

    Notes
    -----
    For i.i.d. draws from a continuous law with true p-th percentile
    :math:`\\xi_p`, :math:`P[x_{(l)} \\le \\xi_p \\le x_{(u)}] =
    P[l \\le B \\le u - 1]` with :math:`B \\sim \\mathrm{Bin}(n, p)`, whatever
    the law. Choosing ``l, u`` from binomial tails gives an interval with at
    least the stated coverage (exactly reported in ``coverage``).

    LoadGen's SingleStream/MultiStream early-stopping estimate is such a
    one-sided upper bound: ``x_(n - t* + 1)`` with coverage
    :math:`P[B \\le n - t^*] > c` (see
    :func:`simbench.stats.early_stopping.latency_early_stopping`).

    Order statistics are picked with one ``np.partition`` call.

    References
    ----------
    .. [1] W. J. Conover, *Practical Nonparametric Statistics*, 3rd ed.,
       Wiley, 1999, §3.2.
    .. [2] H. A. David & H. N. Nagaraja, *Order Statistics*, 3rd ed., Wiley,
       2003, §7.1.
    .. [3] G. J. Hahn & W. Q. Meeker, *Statistical Intervals*, Wiley, 1991,
       §5.2.

    Examples
    --------
    >>> ci = percentile_ci(list(range(1, 1001)), 0.9, confidence_level=0.95)
    >>> ci.low, ci.high, ci.low_rank, ci.high_rank
    (881, 919, 881, 919)
    >>> ci.coverage > 0.95
    True
    """
    array = _as_latency_array(latencies_ns)
    n = int(array.size)
    low_rank, high_rank = percentile_ci_ranks(
        n,
        percentile,
        confidence_level=confidence_level,
        alternative=alternative,
        method=method,
        effective_sample_count=effective_sample_count,
    )
    wanted = [rank - 1 for rank in (low_rank, high_rank) if 1 <= rank <= n]
    partitioned = np.partition(array, wanted) if wanted else array
    low = partitioned[low_rank - 1].item() if low_rank >= 1 else -math.inf
    high = partitioned[high_rank - 1].item() if high_rank <= n else math.inf
    return PercentileConfidenceInterval(
        low=low,
        high=high,
        low_rank=low_rank,
        high_rank=high_rank,
        percentile=float(percentile),
        sample_count=n,
        confidence_level=float(confidence_level),
        coverage=order_statistic_coverage(n, percentile, low_rank, high_rank),
        alternative=alternative,
        method=method,
        effective_sample_count=None if effective_sample_count is None else float(effective_sample_count),
        reference=_REFERENCES[method],
    )
