"""Operating characteristics of MLPerf's rules: pass probabilities, coverage against n, exact sample sizes.

A rule's *operating characteristic* (OC) is the probability that it passes as a function of
the truth. For LoadGen's Server early stopping the truth is the system's over-latency rate
``r`` (the probability that one query exceeds the target latency); for the paper's query
count it is the query count itself, because the exact coverage of the margin claim moves in
a sawtooth with ``floor(n p)``.

Contents
--------
:func:`server_pass_probability`
    P[Server early stopping passes] for ``n`` i.i.d. queries at over-latency rate ``r``.
:func:`operating_characteristic`
    That curve on a grid, with the plain percentile check beside it ->
    :class:`OperatingCharacteristic`.
:func:`margin_coverage`
    Exact i.i.d. coverage of the paper's margin claim at each ``n`` (the sawtooth).
:func:`early_stopping_coverage`
    Exact i.i.d. coverage of the SingleStream/MultiStream early-stopping estimate at each ``n``.
:func:`exact_sample_size`
    The smallest ``n`` whose exact coverage reaches the confidence, beside the paper's
    normal-approximation count -> :class:`ExactSampleSizeResult`.

All of it assumes independent queries; under queueing correlation see
:mod:`simbench.stats.autocorrelation`.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as scipy_stats

from simbench.errors import SimbenchInputError
from simbench.stats.early_stopping import LOADGEN_CONFIDENCE, LOADGEN_TOLERANCE, max_overlatency_count
from simbench.stats.sample_size import paper_margin, sample_size

__all__ = [
    "ExactSampleSizeResult",
    "OperatingCharacteristic",
    "early_stopping_coverage",
    "exact_sample_size",
    "margin_coverage",
    "operating_characteristic",
    "server_pass_probability",
]

_REFERENCES = (
    "MLCommons LoadGen loadgen/early_stopping.cc and results.cc (PerformanceSummary::EarlyStopping); "
    "V. J. Reddi et al., arXiv:1911.02549, section III-D (Eq. 1-2); "
    "H. A. David & H. N. Nagaraja, Order Statistics, 3rd ed., 2003, section 2.2 (F(X_(r)) ~ Beta(r, n-r+1))"
)


def _rates(values: ArrayLike) -> np.ndarray:
    rates = np.asarray(values, dtype=float)
    if rates.size == 0 or not np.all((rates >= 0.0) & (rates <= 1.0)):
        raise SimbenchInputError(f"overlatency_rate must be in [0, 1], got {values!r}")
    return rates


def server_pass_probability(
    query_count: int,
    overlatency_rate: float | ArrayLike,
    percentile: float = 0.99,
    *,
    confidence: float = LOADGEN_CONFIDENCE,
    tolerance: float = LOADGEN_TOLERANCE,
) -> float | np.ndarray:
    """Probability that LoadGen's Server early stopping passes ``n`` i.i.d. queries.

    Parameters
    ----------
    query_count : int
        Queries in the run, ``n`` >= 0.
    overlatency_rate : float or array_like
        True probability ``r`` in [0, 1] that one query's latency exceeds the target latency.
    percentile : float, default 0.99
        Target latency percentile ``p`` (fraction in (0, 1)).
    confidence, tolerance : float
        LoadGen's ``c`` (0.99) and ``d`` (0).

    Returns
    -------
    float or numpy.ndarray
        ``P[T <= t_max]`` with ``T ~ Binomial(n, r)``; same shape as ``overlatency_rate``.

    Raises
    ------
    ValueError
        If a count or rate is out of range.

    Notes
    -----
    The run passes iff :math:`n \\ge h(T) + T`; since :math:`h(t) + t` increases with ``t``
    that is :math:`T \\le t_{max}` with :math:`t_{max}` from
    :func:`simbench.stats.max_overlatency_count` (2583 for n = 270,336, p = 0.99). A system
    exactly at the bound (``r = 1 - p``) passes with probability below ``1 - c``.

    References
    ----------
    .. [1] MLCommons LoadGen, ``loadgen/results.cc`` (``PerformanceSummary::EarlyStopping``,
       case Server) and ``loadgen/early_stopping.cc``.

    Examples
    --------
    >>> [round(float(server_pass_probability(270_336, r)), 3) for r in (0.009, 0.0095, 0.0098)]
    [0.999, 0.62, 0.099]
    """
    n = operator.index(query_count)
    if n < 0:
        raise SimbenchInputError(f"query_count must be >= 0, got {query_count!r}")
    rates = _rates(overlatency_rate)
    t_max = max_overlatency_count(n, percentile, confidence=confidence, tolerance=tolerance)
    if t_max < 0:
        result = np.zeros_like(rates)
    else:
        result = scipy_stats.binom.cdf(t_max, n, rates)
    return float(result) if np.ndim(overlatency_rate) == 0 else result


@dataclass(frozen=True)
class OperatingCharacteristic:
    """Server pass probability against the true over-latency rate.

    Attributes
    ----------
    query_count : int
        ``n``.
    percentile, confidence, tolerance : float
        ``p``, ``c``, ``d``.
    max_overlatency_count : int
        ``t_max``: the most over-latency queries early stopping tolerates at ``n`` (-1: none).
    percentile_check_max_overlatency : int
        The most the plain check ``sorted[floor(n p)] <= bound`` tolerates:
        ``n - floor(n p) - 1``.
    rates : tuple of float
        True over-latency rates ``r``.
    pass_probability : tuple of float
        P[early stopping passes] at each rate.
    percentile_check_probability : tuple of float
        P[the plain percentile check passes] at each rate.
    rate_at_half : float
        The rate at which early stopping passes with probability 1/2.
    reference : str
    """

    query_count: int
    percentile: float
    confidence: float
    tolerance: float
    max_overlatency_count: int
    percentile_check_max_overlatency: int
    rates: tuple[float, ...]
    pass_probability: tuple[float, ...]
    percentile_check_probability: tuple[float, ...]
    rate_at_half: float
    reference: str = _REFERENCES


def operating_characteristic(
    query_count: int,
    rates: ArrayLike | None = None,
    percentile: float = 0.99,
    *,
    confidence: float = LOADGEN_CONFIDENCE,
    tolerance: float = LOADGEN_TOLERANCE,
) -> OperatingCharacteristic:
    """The operating characteristic of Server early stopping at ``n`` queries.

    Parameters
    ----------
    query_count : int
        ``n`` >= 1.
    rates : array_like, optional
        Over-latency rates in [0, 1]; default 201 points from ``0.5 (1 - p)`` to ``1.5 (1 - p)``.
    percentile, confidence, tolerance : float
        As in :func:`server_pass_probability`.

    Returns
    -------
    OperatingCharacteristic

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    Both checks count over-latency queries ``T ~ Bin(n, r)``; the plain check
    ``sorted[floor(n p)] <= bound`` passes iff :math:`T \\le n - \\lfloor np \\rfloor - 1`.
    ``rate_at_half`` solves :math:`P[\\mathrm{Bin}(n, r) \\le t_{max}] = 1/2` by bisection
    (``scipy.optimize.brentq``).

    References
    ----------
    .. [1] MLCommons LoadGen ``results.cc``; MLPerf Inference rules, appendix "Early Stopping Criterion".

    Examples
    --------
    >>> oc = operating_characteristic(270_336, [0.009, 0.0095, 0.0098])
    >>> oc.max_overlatency_count, [round(x, 3) for x in oc.pass_probability]
    (2583, [0.999, 0.62, 0.099])
    """
    from scipy.optimize import brentq

    from simbench.stats.percentile import loadgen_percentile_index

    n = operator.index(query_count)
    if n < 1:
        raise SimbenchInputError(f"query_count must be >= 1, got {query_count!r}")
    p = float(percentile)
    grid = np.linspace(0.5 * (1 - p), 1.5 * (1 - p), 201) if rates is None else _rates(rates)
    t_max = max_overlatency_count(n, p, confidence=confidence, tolerance=tolerance)
    plain = n - loadgen_percentile_index(n, p) - 1
    passing = server_pass_probability(n, grid, p, confidence=confidence, tolerance=tolerance)
    if t_max < 0:
        half = 0.0
    else:
        half = float(brentq(lambda r: scipy_stats.binom.cdf(t_max, n, r) - 0.5, 0.0, 1.0, xtol=1e-14))
    return OperatingCharacteristic(
        query_count=n,
        percentile=p,
        confidence=float(confidence),
        tolerance=float(tolerance),
        max_overlatency_count=int(t_max),
        percentile_check_max_overlatency=int(plain),
        rates=tuple(float(r) for r in np.atleast_1d(grid)),
        pass_probability=tuple(float(x) for x in np.atleast_1d(passing)),
        percentile_check_probability=tuple(float(x) for x in scipy_stats.binom.cdf(plain, n, np.atleast_1d(grid))),
        rate_at_half=half,
    )


def _counts(query_counts: ArrayLike) -> np.ndarray:
    n = np.asarray(query_counts)
    if n.size == 0 or not np.issubdtype(n.dtype, np.integer) or np.any(n < 2):
        raise SimbenchInputError("query_counts must be integers >= 2")
    return n.astype(np.int64)


def margin_coverage(
    query_counts: int | ArrayLike, percentile: float, *, margin: float | None = None
) -> float | np.ndarray:
    """Exact i.i.d. probability that LoadGen's p-th percentile is within the paper's margin.

    Parameters
    ----------
    query_counts : int or array_like of int
        Query counts ``n`` >= 2.
    percentile : float
        ``p`` in (0, 1).
    margin : float, optional
        ``m`` on the probability scale; default the paper's ``(1 - p) / 20``.

    Returns
    -------
    float or numpy.ndarray
        :math:`F_{B}(p + m) - F_{B}(p - m)`, ``B ~ Beta(k + 1, n - k)``, ``k = floor(n p)``.

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    For a continuous law, the LoadGen estimate :math:`x_{(k+1)}` has
    :math:`F(x_{(k+1)}) \\sim \\mathrm{Beta}(k+1, n-k)` whatever the law; the claim holds iff
    :math:`F(x_{(k+1)}) \\in [p - m, p + m]`. ``k`` grows with ``n`` except at one ``n`` in
    every ``1/(1 - p)``, where it stays put and the coverage drops: a sawtooth in ``n``, not
    monotone. ``k`` is
    computed as LoadGen does, in double precision (``floor(double(n) * p)``).

    References
    ----------
    .. [1] V. J. Reddi et al., arXiv:1911.02549, §III-D.
    .. [2] H. A. David & H. N. Nagaraja, *Order Statistics*, 3rd ed., Wiley, 2003, §2.2.

    Examples
    --------
    >>> round(100 * margin_coverage(262_742, 0.99), 4)   # the paper's unrounded count
    98.9955
    >>> round(100 * margin_coverage(270_336, 0.99), 2)   # its rounded count
    99.1
    """
    scalar = np.ndim(query_counts) == 0
    n = _counts(np.atleast_1d(query_counts))
    p = float(percentile)
    m = paper_margin(p) if margin is None else float(margin)
    if not 0.0 < p < 1.0 or not 0.0 < m < min(p, 1.0 - p):
        raise SimbenchInputError(f"need 0 < percentile < 1 and 0 < margin < min(p, 1 - p), got {percentile!r}, {margin!r}")
    k = np.floor(n.astype(float) * p)
    coverage = scipy_stats.beta.cdf(p + m, k + 1, n - k) - scipy_stats.beta.cdf(p - m, k + 1, n - k)
    return float(coverage[0]) if scalar else coverage


def early_stopping_coverage(
    query_counts: int | ArrayLike, percentile: float, *, confidence: float = LOADGEN_CONFIDENCE
) -> float | np.ndarray:
    """Exact i.i.d. probability that the SingleStream/MultiStream early-stopping estimate is at or above the true p-th percentile.

    Parameters
    ----------
    query_counts : int or array_like of int
        Query counts ``n`` >= 2 (below LoadGen's minimum ``h(1) + 1`` the coverage is NaN).
    percentile : float
        ``p`` in (0, 1).
    confidence : float, default 0.99
        LoadGen's ``c``.

    Returns
    -------
    float or numpy.ndarray
        :math:`P[\\mathrm{Bin}(n, p) \\le n - t^*]`.

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    The estimate is :math:`x_{(n - t^* + 1)}`; it is at or above :math:`\\xi_p` iff fewer than
    :math:`n - t^* + 1` latencies fall below :math:`\\xi_p`.

    References
    ----------
    .. [1] MLCommons LoadGen ``results.cc`` (SingleStream/MultiStream early stopping).

    Examples
    --------
    >>> round(100 * early_stopping_coverage(270_336, 0.99), 2)
    99.06
    """
    scalar = np.ndim(query_counts) == 0
    n = _counts(np.atleast_1d(query_counts))
    t_star = np.array([max_overlatency_count(int(v), percentile, confidence=confidence) for v in n], dtype=float)
    coverage = np.where(t_star >= 1, scipy_stats.binom.cdf(n - t_star, n, float(percentile)), np.nan)
    return float(coverage[0]) if scalar else coverage


@dataclass(frozen=True)
class ExactSampleSizeResult:
    """The paper's normal-approximation count beside the exact (Beta) one.

    Attributes
    ----------
    percentile, confidence, margin : float
        The claim.
    normal_queries : int
        Eq. 2, ``ceil`` (262,742 for p = 0.99).
    normal_coverage : float
        Exact coverage at ``normal_queries`` (98.9955 % for p = 0.99: below the confidence).
    normal_coverage_range : tuple of float
        Lowest and highest exact coverage over ``normal_queries ± 1/(1-p)`` (one sawtooth period
        either side), showing how far the unrounded count falls short.
    paper_rounded_queries : int
        The paper's rounded count (multiple of 2**13).
    paper_rounded_coverage : float
        Exact coverage at it.
    first_queries : int
        Smallest ``n`` whose exact coverage is at least the confidence.
    stable_queries : int
        Smallest ``n`` from which every larger ``n`` (up to ``1.5 x normal_queries``) has
        coverage at least the confidence: the sawtooth no longer dips below it.
    reference : str
    """

    percentile: float
    confidence: float
    margin: float
    normal_queries: int
    normal_coverage: float
    normal_coverage_range: tuple[float, float]
    paper_rounded_queries: int
    paper_rounded_coverage: float
    first_queries: int
    stable_queries: int
    reference: str = _REFERENCES


def exact_sample_size(
    percentile: float, *, confidence: float = LOADGEN_CONFIDENCE, margin: float | None = None
) -> ExactSampleSizeResult:
    """The query count the margin claim needs by the exact Beta law, beside the paper's Eq. 2.

    Parameters
    ----------
    percentile : float
        ``p`` in (0, 1).
    confidence : float, default 0.99
        ``c`` in (0, 1).
    margin : float, optional
        Default the paper's ``(1 - p) / 20``.

    Returns
    -------
    ExactSampleSizeResult

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    Evaluates :func:`margin_coverage` at every ``n`` from ``0.8 N`` to ``1.5 N`` (``N`` the
    normal-approximation count): Eq. 2 treats the sample proportion as normal with the
    *true* ``p``, while the reported percentile is the order statistic ``k + 1`` with
    ``k = floor(n p)``, which sits half a rank below the centre on average; the exact law
    therefore needs slightly more queries than Eq. 2, and because of the sawtooth the first
    ``n`` that reaches ``c`` and the ``n`` from which coverage stays at ``c`` differ.

    References
    ----------
    .. [1] V. J. Reddi et al., arXiv:1911.02549, §III-D (Eq. 2).
    .. [2] H. A. David & H. N. Nagaraja, *Order Statistics*, 2003, §2.2.

    Examples
    --------
    >>> result = exact_sample_size(0.9)
    >>> result.normal_queries, result.first_queries <= result.stable_queries <= result.paper_rounded_queries
    (23886, True)
    """
    size = sample_size(percentile, confidence=confidence, margin=margin)
    p, c, m = size.percentile, size.confidence, size.margin
    normal = size.min_queries
    grid = np.arange(max(2, int(0.8 * normal)), int(1.5 * normal) + 1, dtype=np.int64)
    coverage = margin_coverage(grid, p, margin=m)
    ok = coverage >= c
    if not ok.any():
        raise SimbenchInputError(f"no n up to {grid[-1]:,} reaches coverage {c}")
    first = int(grid[np.argmax(ok)])
    failing = np.flatnonzero(~ok)
    stable = int(grid[failing[-1] + 1]) if failing.size else int(grid[0])
    period = math.ceil(1.0 / (1.0 - p))
    around = margin_coverage(np.arange(normal - period, normal + period + 1, dtype=np.int64), p, margin=m)
    return ExactSampleSizeResult(
        percentile=p,
        confidence=c,
        margin=m,
        normal_queries=int(normal),
        normal_coverage=float(margin_coverage(normal, p, margin=m)),
        normal_coverage_range=(float(around.min()), float(around.max())),
        paper_rounded_queries=int(size.rounded_queries),
        paper_rounded_coverage=float(margin_coverage(size.rounded_queries, p, margin=m)),
        first_queries=first,
        stable_queries=stable,
    )
