"""LoadGen's early-stopping criterion, exactly, as functions with result objects.

Contents
--------
:func:`min_passing_queries`
    LoadGen's ``h(t)``: under-latency queries needed to pass with ``t`` over.
:func:`max_overlatency_count`
    The inverse: the most over-latency queries a run of ``n`` queries tolerates.
:func:`server_early_stopping`
    The Server check (pass iff ``n >= h(t) + t``), with LoadGen's summary text.
:func:`latency_early_stopping`
    The SingleStream / MultiStream percentile estimate, with LoadGen's text.
:func:`single_stream_early_stopping`
    SingleStream's whole block: the target-percentile estimate, then the 99th-percentile one.
:class:`EarlyStoppingResult`
    The frozen record both checks return.

Symbols
-------
LoadGen's ``early_stopping.cc`` and the MLPerf rules use one-letter names;
simbench's public names map to them as follows.

============  =======================  ===============================================
LoadGen       simbench                 meaning
============  =======================  ===============================================
``n``         ``query_count``          queries processed in the run
``t``         ``overlatency_count``    queries with latency above the bound
``h``         ``min_passing_queries``  under-latency queries needed alongside ``t``
``p``         ``percentile``           target percentile as a fraction (0.99)
``d``         ``tolerance``            allowed shortfall of the true percentile
``c``         ``confidence``           confidence level (LoadGen: 0.99)
============  =======================  ===============================================
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betainc, ndtri

from simbench.errors import SimbenchInputError
from simbench.stats.percentile import _as_latency_array

__all__ = [
    "LOADGEN_CONFIDENCE",
    "LOADGEN_TOLERANCE",
    "EarlyStoppingResult",
    "latency_early_stopping",
    "max_overlatency_count",
    "min_passing_queries",
    "server_early_stopping",
    "single_stream_early_stopping",
]

#: LoadGen's confidence level, hard-coded in ``results.cc`` (``PerformanceSummary::EarlyStopping``).
LOADGEN_CONFIDENCE = 0.99
#: LoadGen's tolerance ``d``, hard-coded in ``results.cc``.
LOADGEN_TOLERANCE = 0.0

_REFERENCES = (
    "MLCommons LoadGen loadgen/early_stopping.cc (MinPassingQueriesFinder) and "
    "loadgen/results.cc (PerformanceSummary::EarlyStopping); MLPerf Inference rules, "
    "appendix 'Early Stopping Criterion'"
)


# --------------------------------------------------------------------------- validation


def _check_count(value: int, name: str, minimum: int = 0) -> int:
    try:
        count = operator.index(value)
    except TypeError:
        raise SimbenchInputError(f"{name} must be an integer, got {value!r}") from None
    if count < minimum:
        raise SimbenchInputError(f"{name} must be >= {minimum}, got {count}")
    return count


def _check_parameters(percentile: float, confidence: float, tolerance: float) -> tuple[float, float, float]:
    percentile, confidence, tolerance = float(percentile), float(confidence), float(tolerance)
    if not 0.0 < percentile < 1.0:
        raise SimbenchInputError(f"percentile must be in (0, 1) (a fraction, not percent), got {percentile!r}")
    if not 0.0 < confidence < 1.0:
        raise SimbenchInputError(f"confidence must be in (0, 1), got {confidence!r}")
    if not 0.0 <= tolerance < percentile:
        raise SimbenchInputError(f"tolerance must be in [0, percentile), got {tolerance!r}")
    return percentile, confidence, tolerance


# --------------------------------------------------------------------------- h(t)


def _odds(under_count: int, overlatency_count: int, success_probability: float) -> float:
    """P[at most ``overlatency_count`` over-latency queries among ``under+over``] = I_x(h, t+1)."""
    return float(betainc(under_count, overlatency_count + 1, success_probability))


def _normal_guess(overlatency_count: int, success_probability: float, confidence: float) -> int:
    """Normal-approximation guess of ``h(t)``, used only to start the exact search."""
    failure = 1.0 - success_probability
    z = float(ndtri(confidence))
    root = (z * math.sqrt(success_probability * failure) + math.sqrt(
        z * z * success_probability * failure + 4.0 * failure * overlatency_count
    )) / (2.0 * failure)
    return max(1, int(root * root) - overlatency_count)


@lru_cache(maxsize=1 << 17)
def _min_passing_queries(overlatency_count: int, percentile: float, confidence: float, tolerance: float) -> int:
    success_probability = percentile - tolerance
    threshold = 1.0 - confidence
    ceiling = math.ceil(math.log(threshold) / math.log(success_probability))
    if overlatency_count == 0:
        # LoadGen's closed form; its binary search over [y1, y1 + 1] then bumps
        # it by one only if x**y1 is not strictly below 1 - c in floating point.
        return ceiling if _odds(ceiling, 0, success_probability) < threshold else ceiling + 1

    def passes(under: int) -> bool:
        return _odds(under, overlatency_count, success_probability) < threshold

    # Gallop from the normal guess to a bracket [fail, pass], then bisect.
    guess = _normal_guess(overlatency_count, success_probability, confidence)
    step = max(1, int(math.sqrt(guess)) // 4)
    if passes(guess):
        high = guess
        low = max(0, guess - step)
        while low > 0 and passes(low):
            high, step = low, step * 2
            low = max(0, low - step)
    else:
        low = guess
        high = guess + step
        while not passes(high):
            low, step = high, step * 2
            high = high + step
    # Invariant: passes(high); low == 0 or not passes(low). odds(0, t) = 1 fails.
    while high - low > 1:
        middle = (low + high) // 2
        if passes(middle):
            high = middle
        else:
            low = middle
    return high


def min_passing_queries(
    overlatency_count: int,
    percentile: float,
    *,
    confidence: float = LOADGEN_CONFIDENCE,
    tolerance: float = LOADGEN_TOLERANCE,
) -> int:
    """Return LoadGen's ``h(t)``: under-latency queries needed to pass with ``t`` over.

    Parameters
    ----------
    overlatency_count : int
        Number ``t`` >= 0 of queries whose latency exceeds the bound.
    percentile : float
        Target percentile ``p`` as a fraction in (0, 1), e.g. ``0.99``.
    confidence : float, default 0.99
        Confidence level ``c`` in (0, 1). LoadGen uses 0.99.
    tolerance : float, default 0.0
        Tolerance ``d`` in [0, percentile). LoadGen uses 0.

    Returns
    -------
    int
        The smallest ``h`` >= 1 with ``odds(h, t) < 1 - c``. A run with ``t``
        over-latency queries passes when it has at least ``h(t) + t`` queries.

    Raises
    ------
    ValueError
        If ``overlatency_count`` is negative or not an integer, or a parameter
        is out of range.

    Notes
    -----
    A "minimally failing" system meets the latency bound with probability
    exactly :math:`x = p - d` per query. The probability that it shows ``t`` or
    fewer over-latency queries in ``h + t`` independent queries is

    .. math::

        \\mathrm{odds}(h, t) = P[\\mathrm{Bin}(h + t, 1 - x) \\le t]
                             = I_x(h, t + 1),

    the regularised incomplete beta function (DLMF 8.17.5), evaluated here
    with ``scipy.special.betainc``. Then

    .. math:: h(t) = \\min\\{h \\ge 1 : I_x(h, t+1) < 1 - c\\},

    with a **strict** inequality as in LoadGen's code (the rules text says
    :math:`\\le`). For ``t = 0``, :math:`I_x(h, 1) = x^h` and LoadGen uses
    :math:`h(0) = \\lceil \\ln(1-c) / \\ln x \\rceil` (44, 459 and 4603 for
    ``p`` = 0.9, 0.99, 0.999).

    ``odds`` decreases in ``h``, so ``h(t)`` is found by bisection, started
    from the normal approximation and bracketed by galloping; about 20
    ``betainc`` calls per new ``t``, and results are memoised per
    ``(t, p, c, d)``. LoadGen evaluates :math:`I_x` with a truncated
    hypergeometric series (DLMF 15.8.1, terms down to :math:`2^{-33}`) and
    bisects a range predicted from cached neighbours; both agree with this
    function for every ``t`` < 30,000 (p = 0.9), 3,000 (0.99), 500 (0.999).

    References
    ----------
    .. [1] MLCommons, LoadGen ``loadgen/early_stopping.cc``
       (``MinPassingQueriesFinder``, ``odds``, ``beta_regularized``).
       https://github.com/mlcommons/inference/blob/master/loadgen/early_stopping.cc
    .. [2] MLCommons, MLPerf Inference rules, appendix "Early Stopping
       Criterion". https://github.com/mlcommons/inference_policies
    .. [3] NIST DLMF, §8.17 (incomplete beta) and §15.8 (hypergeometric).

    Examples
    --------
    >>> min_passing_queries(0, 0.99)
    459
    >>> min_passing_queries(1, 0.99) + 1  # MultiStream's minimum query count
    662
    >>> min_passing_queries(1, 0.9) + 1
    64
    """
    t = _check_count(overlatency_count, "overlatency_count")
    p, c, d = _check_parameters(percentile, confidence, tolerance)
    return _min_passing_queries(t, p, c, d)


def _qualifies(query_count: int, overlatency_count: int, p: float, c: float, d: float) -> bool:
    return query_count >= _min_passing_queries(overlatency_count, p, c, d) + overlatency_count


def _largest_qualifying(query_count: int, smallest: int, p: float, c: float, d: float) -> int:
    """Largest ``t >= smallest`` with ``n >= h(t) + t``; the caller ensures ``smallest`` qualifies."""
    failure = 1.0 - (p - d)
    z = float(ndtri(c))
    guess = int(query_count * failure - z * math.sqrt(query_count * (p - d) * failure))
    guess = min(max(guess, smallest), query_count)
    step = 1
    if _qualifies(query_count, guess, p, c, d):
        low, high = guess, guess + 1
        while _qualifies(query_count, high, p, c, d):
            low, step = high, step * 2
            high = high + step
    else:
        high, low = guess, guess - 1
        while low > smallest and not _qualifies(query_count, low, p, c, d):
            high, step = low, step * 2
            low = max(smallest, low - step)
    # Invariant: qualifies(low), not qualifies(high). h(t) + t is strictly increasing.
    while high - low > 1:
        middle = (low + high) // 2
        if _qualifies(query_count, middle, p, c, d):
            low = middle
        else:
            high = middle
    return low


def max_overlatency_count(
    query_count: int,
    percentile: float,
    *,
    confidence: float = LOADGEN_CONFIDENCE,
    tolerance: float = LOADGEN_TOLERANCE,
) -> int:
    """Return the most over-latency queries a run of ``query_count`` queries tolerates.

    Parameters
    ----------
    query_count : int
        Number ``n`` >= 0 of queries in the run.
    percentile : float
        Target percentile ``p`` as a fraction in (0, 1).
    confidence : float, default 0.99
        Confidence level ``c`` in (0, 1).
    tolerance : float, default 0.0
        Tolerance ``d`` in [0, percentile).

    Returns
    -------
    int
        The largest ``t`` >= 0 with ``n >= h(t) + t``, or ``-1`` if even a run
        with no over-latency query fails (``n < h(0)``).

    Raises
    ------
    ValueError
        If ``query_count`` is negative or a parameter is out of range.

    Notes
    -----
    Adding one query to a binomial sample raises its count by at most one,
    so :math:`I_x(h, t+2) \\ge I_x(h, t+1)`, hence ``h(t+1) >= h(t)`` and
    ``h(t) + t`` is strictly increasing in ``t``; the largest qualifying
    ``t`` is found by bisection from the normal approximation
    :math:`t \\approx n(1-x) - z_c \\sqrt{n x (1-x)}`. This is the Server
    row "ES allows" of the reference tables and the ``t*`` of
    :func:`latency_early_stopping` (which additionally requires ``t >= 1``).

    References
    ----------
    .. [1] MLCommons, LoadGen ``loadgen/early_stopping.cc`` and
       ``loadgen/results.cc``.
       https://github.com/mlcommons/inference/blob/master/loadgen/results.cc

    Examples
    --------
    >>> max_overlatency_count(270_336, 0.99)
    2583
    >>> max_overlatency_count(458, 0.99)
    -1
    """
    n = _check_count(query_count, "query_count")
    p, c, d = _check_parameters(percentile, confidence, tolerance)
    if not _qualifies(n, 0, p, c, d):
        return -1
    return _largest_qualifying(n, 0, p, c, d)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class EarlyStoppingResult:
    """Outcome of an early-stopping check, with LoadGen's summary text.

    Attributes
    ----------
    passed : bool
        Whether the check passes (LoadGen's ``early_stopping_met``).
    query_count : int
        Queries processed, ``n``.
    overlatency_count : int
        Server: queries with latency above the bound, ``t``. SingleStream /
        MultiStream: the rank from the top ``t*`` of the reported estimate
        (0 when the run is too short).
    min_passing_queries : int
        LoadGen's ``h``: ``h(t)`` for Server, ``h(1)`` for the latency check.
    min_queries : int
        Queries the run needs: ``h(t) + t`` for Server, ``h(1) + 1`` for
        SingleStream / MultiStream.
    queries_needed : int
        ``max(0, min_queries - query_count)``.
    percentile, confidence, tolerance : float
        The parameters ``p``, ``c``, ``d`` used.
    estimate_ns : int or None
        SingleStream / MultiStream only: the early-stopping percentile
        estimate, the ``t*``-th largest latency, in ns.
    estimate_rank : int or None
        1-based ascending rank of ``estimate_ns``: ``n - t* + 1``.
    discarded : int or None
        Highest latencies discarded before the estimate: ``t* - 1``.
    lines : tuple of str
        LoadGen's "Early Stopping Result:" lines, exactly as it prints them.
    reference : str
        Where the procedure comes from.
    """

    passed: bool
    query_count: int
    overlatency_count: int
    min_passing_queries: int
    min_queries: int
    queries_needed: int
    percentile: float
    confidence: float
    tolerance: float
    estimate_ns: int | None = None
    estimate_rank: int | None = None
    discarded: int | None = None
    lines: tuple[str, ...] = ()
    reference: str = _REFERENCES

    @property
    def text(self) -> str:
        """The summary lines joined with newlines, as in ``mlperf_log_summary.txt``."""
        return "\n".join(self.lines)


def _percentile_label(percentile: float) -> str:
    # LoadGen: DoubleToString(percentile * 100, 1) -> "90.0", "99.0", "99.9".
    return f"{percentile * 100:.1f}"


def server_early_stopping(
    query_count: int,
    overlatency_count: int,
    percentile: float,
    *,
    confidence: float = LOADGEN_CONFIDENCE,
    tolerance: float = LOADGEN_TOLERANCE,
) -> EarlyStoppingResult:
    """Apply LoadGen's Server early-stopping check.

    Parameters
    ----------
    query_count : int
        Queries processed, ``n`` >= 0 (Server has one sample per query).
    overlatency_count : int
        Queries whose latency is strictly greater than the target latency,
        ``t``, with 0 <= t <= n.
    percentile : float
        Target latency percentile ``p`` as a fraction in (0, 1), e.g. 0.99.
    confidence : float, default 0.99
        Confidence level ``c`` in (0, 1).
    tolerance : float, default 0.0
        Tolerance ``d`` in [0, percentile).

    Returns
    -------
    EarlyStoppingResult
        ``passed`` iff ``n >= h(t) + t``; ``lines`` holds LoadGen's text.

    Raises
    ------
    ValueError
        If a count is negative or not an integer, ``overlatency_count`` >
        ``query_count``, or a parameter is out of range.

    Notes
    -----
    The run demonstrates, at confidence ``c``, that the system's true
    ``p``-th percentile latency is within the bound (up to tolerance ``d``),
    if and only if :math:`n \\ge h(t) + t` (see :func:`min_passing_queries`).
    Otherwise LoadGen reports the run INVALID and prints how many more
    queries would be needed if all of them were under latency:
    :math:`h(t) + t - n`. LoadGen does not extend the run.

    References
    ----------
    .. [1] MLCommons, LoadGen ``loadgen/results.cc``,
       ``PerformanceSummary::EarlyStopping`` (case ``TestScenario::Server``).
       https://github.com/mlcommons/inference/blob/master/loadgen/results.cc

    Examples
    --------
    >>> result = server_early_stopping(190, 0, 0.99)
    >>> result.passed, result.queries_needed
    (False, 269)
    >>> print(result.text)
     * Run unsuccessful.
     * Processed 190 queries.
     * Would need to run at least 269 more queries,
     with the run being successful if every additional
     query were under latency.
    """
    n = _check_count(query_count, "query_count")
    t = _check_count(overlatency_count, "overlatency_count")
    if t > n:
        raise SimbenchInputError(f"overlatency_count ({t}) must not exceed query_count ({n})")
    p, c, d = _check_parameters(percentile, confidence, tolerance)
    h = _min_passing_queries(t, p, c, d)
    passed = n >= h + t
    if passed:
        lines: tuple[str, ...] = (" * Run successful.",)
    else:
        lines = (
            " * Run unsuccessful.",
            f" * Processed {n} queries.",
            f" * Would need to run at least {h + t - n} more queries,",
            " with the run being successful if every additional",
            " query were under latency.",
        )
    return EarlyStoppingResult(
        passed=passed,
        query_count=n,
        overlatency_count=t,
        min_passing_queries=h,
        min_queries=h + t,
        queries_needed=max(0, h + t - n),
        percentile=p,
        confidence=c,
        tolerance=d,
        lines=lines,
    )


def latency_early_stopping(
    latencies_ns: ArrayLike,
    percentile: float,
    *,
    confidence: float = LOADGEN_CONFIDENCE,
    tolerance: float = LOADGEN_TOLERANCE,
) -> EarlyStoppingResult:
    """Compute LoadGen's SingleStream / MultiStream early-stopping estimate.

    Parameters
    ----------
    latencies_ns : array_like of int, shape (n,)
        One latency per query in nanoseconds, in any order (MultiStream: the
        per-query latency, i.e. the last sample's completion minus issue).
    percentile : float
        Target percentile ``p`` as a fraction in (0, 1): 0.9 SingleStream,
        0.99 MultiStream (SingleStream also reports a 0.99 estimate).
    confidence : float, default 0.99
        Confidence level ``c`` in (0, 1).
    tolerance : float, default 0.0
        Tolerance ``d`` in [0, percentile).

    Returns
    -------
    EarlyStoppingResult
        ``passed`` iff ``n >= h(1) + 1``. When it passes, ``estimate_ns`` is
        the ``t*``-th largest latency, ``overlatency_count = t*`` and
        ``discarded = t* - 1``.

    Raises
    ------
    ValueError
        If ``latencies_ns`` is empty or not numeric, or a parameter is out of
        range.

    Notes
    -----
    With ``n`` queries, LoadGen first requires :math:`n \\ge h(1) + 1` (64 for
    p = 0.9, 662 for p = 0.99). It then finds

    .. math:: t^* = \\max\\{t \\ge 1 : n \\ge h(t) + t\\}

    and reports :math:`x_{(n - t^*)}` (0-based ascending), the ``t*``-th
    largest latency. Read as a Server check with the bound set at that
    latency, fewer than ``t*`` queries exceed it, so the true ``p``-th
    percentile is at most the estimate with confidence ``c``.

    LoadGen scans ``t = 2, 3, ...`` until the criterion first fails; since
    ``h(t) + t`` is strictly increasing (see :func:`max_overlatency_count`)
    the scan's answer equals the bisection used here, which starts from the
    normal approximation :math:`t^* \\approx n(1-x) - z_c\\sqrt{n x(1-x)}`
    (within one of exact for n >= 100) and needs a handful of ``h``
    evaluations even at n = 1.3 million. The order statistic is selected
    with ``np.partition``.

    References
    ----------
    .. [1] MLCommons, LoadGen ``loadgen/results.cc``,
       ``PerformanceSummary::EarlyStopping`` (cases SingleStream and
       MultiStream). https://github.com/mlcommons/inference/blob/master/loadgen/results.cc
    .. [2] MLCommons, MLPerf Inference rules, appendix "Early Stopping
       Criterion". https://github.com/mlcommons/inference_policies

    Examples
    --------
    >>> result = latency_early_stopping(list(range(1, 1001)), 0.9)
    >>> result.overlatency_count, result.discarded, result.estimate_ns
    (78, 77, 923)
    >>> print(result.text)
     * Processed at least 64 queries (1000).
     * Would discard 77 highest latency queries.
     * Early stopping 90.0th percentile estimate: 923
    """
    array = _as_latency_array(latencies_ns)
    p, c, d = _check_parameters(percentile, confidence, tolerance)
    n = int(array.size)
    h_min = _min_passing_queries(1, p, c, d)
    common = dict(
        query_count=n, min_passing_queries=h_min, min_queries=h_min + 1, percentile=p, confidence=c, tolerance=d
    )
    if n < h_min + 1:
        return EarlyStoppingResult(
            passed=False,
            overlatency_count=0,
            queries_needed=h_min + 1 - n,
            lines=(
                f" * Only processed {n} queries.",
                f" * Need to process at least {h_min + 1} queries for early stopping.",
            ),
            **common,
        )
    t_star = _largest_qualifying(n, 1, p, c, d)
    index = n - t_star
    estimate = np.partition(array, index)[index].item()
    return EarlyStoppingResult(
        passed=True,
        overlatency_count=t_star,
        queries_needed=0,
        estimate_ns=estimate,
        estimate_rank=index + 1,
        discarded=t_star - 1,
        lines=(
            f" * Processed at least {h_min + 1} queries ({n}).",
            f" * Would discard {t_star - 1} highest latency queries.",
            f" * Early stopping {_percentile_label(p)}th percentile estimate: {estimate}",
        ),
        **common,
    )


def single_stream_early_stopping(
    latencies_ns: ArrayLike,
    percentile: float,
    *,
    confidence: float = LOADGEN_CONFIDENCE,
    tolerance: float = LOADGEN_TOLERANCE,
) -> tuple[EarlyStoppingResult, ...]:
    """Compute LoadGen's SingleStream early-stopping block: target percentile, then 99 %.

    Parameters
    ----------
    latencies_ns : array_like of int, shape (n,)
        One latency per query, ns.
    percentile : float
        The target percentile in (0, 1) (0.9 for SingleStream).
    confidence, tolerance : float
        As for :func:`latency_early_stopping` [default LoadGen's 0.99 and 0.0].

    Returns
    -------
    tuple of EarlyStoppingResult
        ``(target,)`` when the target-percentile check fails (LoadGen returns before its
        99th-percentile estimate), else ``(target, p99)``; ``p99.lines`` holds only the
        estimate line, or LoadGen's three-line "Not enough queries ..." message when the run
        is too short for a 99th-percentile estimate (``p99.passed`` False then).

    Raises
    ------
    SimbenchInputError
        As :func:`latency_early_stopping`.

    Notes
    -----
    The 99th-percentile estimate infers MultiStream performance from a SingleStream run;
    LoadGen hard-codes 0.99 for it (``multi_stream_percentile``). Its failure does not make
    the run INVALID.

    References
    ----------
    .. [1] MLCommons, LoadGen ``loadgen/results.cc``, ``PerformanceSummary::EarlyStopping``
       (case SingleStream), checked against mlcommons-loadgen 6.0.17 summaries.

    Examples
    --------
    >>> block = single_stream_early_stopping(list(range(1, 101)), 0.9)
    >>> print("\\n".join(line for es in block for line in es.lines))
     * Processed at least 64 queries (100).
     * Would discard 2 highest latency queries.
     * Early stopping 90.0th percentile estimate: 98
     * Not enough queries processed for 99.0th percentile
     early stopping estimate (would need to process at
     least 662 total queries).
    """
    import dataclasses

    first = latency_early_stopping(latencies_ns, percentile, confidence=confidence, tolerance=tolerance)
    if not first.passed:
        return (first,)
    p99 = latency_early_stopping(latencies_ns, 0.99, confidence=confidence, tolerance=tolerance)
    if p99.passed:
        lines = tuple(line for line in p99.lines if "99.0th percentile estimate" in line)
    else:
        lines = (
            " * Not enough queries processed for 99.0th percentile",
            " early stopping estimate (would need to process at",
            f" least {p99.min_queries} total queries).",
        )
    return (first, dataclasses.replace(p99, lines=lines))
