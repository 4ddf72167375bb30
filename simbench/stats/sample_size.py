"""Query counts for a statistically confident tail latency (MLPerf paper, Eq. 1-2).

Contents
--------
:func:`paper_margin`
    Eq. 1: margin = (1 - p) / 20.
:func:`sample_size`
    Eq. 2: queries for percentile ``p``, confidence ``c`` and a margin, with
    the paper's rounding up to a multiple of 2**13.
:func:`paper_table`
    Table IV of the paper (plus the rules' 97th-percentile row).
:func:`margin_of_error`
    Eq. 2 solved for the margin: what ``n`` queries buy.
:func:`round_up_to_multiple`
    ``ceil(n / m) * m``.
:class:`SampleSizeResult`
    The record :func:`sample_size` returns.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

from scipy.special import ndtri

from simbench.errors import SimbenchInputError

__all__ = [
    "PAPER_PERCENTILES",
    "QUERY_COUNT_MULTIPLE",
    "SampleSizeResult",
    "margin_of_error",
    "paper_margin",
    "paper_table",
    "round_up_to_multiple",
    "sample_size",
]

#: Tail percentiles of the paper's Table IV and the rules (97th: GNMT).
PAPER_PERCENTILES = (0.90, 0.95, 0.97, 0.99)
#: The paper rounds query counts up to a multiple of 2**13 = 8192.
QUERY_COUNT_MULTIPLE = 2**13

_REFERENCE = (
    "Reddi et al., 'MLPerf Inference Benchmark', ISCA 2020, arXiv:1911.02549v2, "
    "section III-D, Eq. 1-2 and Table IV"
)


def _check_fraction(value: float, name: str) -> float:
    number = float(value)
    if not 0.0 < number < 1.0:
        raise SimbenchInputError(f"{name} must be in (0, 1) (a fraction, not percent), got {value!r}")
    return number


def paper_margin(percentile: float) -> float:
    """Return the paper's error margin for a tail percentile, Eq. 1.

    Parameters
    ----------
    percentile : float
        Tail percentile ``p`` as a fraction in (0, 1), e.g. 0.99.

    Returns
    -------
    float
        ``(1 - p) / 20``, a fraction (0.0005 for p = 0.99).

    Raises
    ------
    ValueError
        If ``percentile`` is outside (0, 1).

    Notes
    -----
    "One-twentieth of the distance from the tail percentile to 100%".

    References
    ----------
    .. [1] V. J. Reddi et al., "MLPerf Inference Benchmark", ISCA 2020,
       arXiv:1911.02549, §III-D, Eq. 1.

    Examples
    --------
    >>> round(paper_margin(0.9), 10)
    0.005
    """
    return (1.0 - _check_fraction(percentile, "percentile")) / 20.0


def round_up_to_multiple(count: int | float, multiple: int = QUERY_COUNT_MULTIPLE) -> int:
    """Return the smallest multiple of ``multiple`` that is >= ``count``.

    Parameters
    ----------
    count : int or float
        Non-negative count (queries).
    multiple : int, default 8192
        Positive rounding unit; the paper uses 2**13.

    Returns
    -------
    int
        ``ceil(count / multiple) * multiple``.

    Raises
    ------
    ValueError
        If ``count`` is negative or ``multiple`` < 1.

    Notes
    -----
    The paper rounds to multiples of 2**13 "to make the numbers round"; the
    v0.5-v3.0 ``mlperf.conf`` min_query_count values (24,576, 90,112,
    270,336) are these rounded counts.

    References
    ----------
    .. [1] V. J. Reddi et al., arXiv:1911.02549, §III-D and Table IV.

    Examples
    --------
    >>> round_up_to_multiple(262_742)
    270336
    """
    unit = operator.index(multiple)
    if unit < 1:
        raise SimbenchInputError(f"multiple must be >= 1, got {multiple!r}")
    if not count >= 0:
        raise SimbenchInputError(f"count must be >= 0, got {count!r}")
    return math.ceil(count / unit) * unit


@dataclass(frozen=True)
class SampleSizeResult:
    """Queries needed so a measured tail percentile is within a margin, at a confidence.

    Attributes
    ----------
    percentile : float
        Tail percentile ``p`` (fraction).
    confidence : float
        Two-sided confidence level ``c``.
    margin : float
        Half-width ``m`` of the interval on the percentile's probability scale.
    z : float
        ``|NormsInv((1 - c) / 2)|`` (2.5758 for c = 0.99).
    exact_queries : float
        Eq. 2 before rounding: ``z**2 p (1 - p) / m**2``.
    paper_queries : int
        ``exact_queries`` rounded to the nearest integer, as printed in the
        paper's "Inferences" column (23,886 / 50,425 / 85,811 / 262,742).
    min_queries : int
        ``ceil(exact_queries)``, the smallest count meeting Eq. 2.
    rounded_queries : int
        ``min_queries`` rounded up to a multiple of ``multiple`` (the paper's
        24,576 / 57,344 / 90,112 / 270,336).
    multiple : int
        The rounding unit, 2**13 by default.
    reference : str
        Source of the formula.
    """

    percentile: float
    confidence: float
    margin: float
    z: float
    exact_queries: float
    paper_queries: int
    min_queries: int
    rounded_queries: int
    multiple: int
    reference: str = _REFERENCE


def sample_size(
    percentile: float,
    *,
    confidence: float = 0.99,
    margin: float | None = None,
    multiple: int = QUERY_COUNT_MULTIPLE,
) -> SampleSizeResult:
    """Return the MLPerf paper's query count for a tail percentile (Eq. 2).

    Parameters
    ----------
    percentile : float
        Tail percentile ``p`` as a fraction in (0, 1), e.g. 0.99.
    confidence : float, default 0.99
        Two-sided confidence level ``c`` in (0, 1).
    margin : float, optional
        Margin ``m`` in (0, min(p, 1 - p)] on the probability scale; default
        the paper's ``(1 - p) / 20`` (:func:`paper_margin`).
    multiple : int, default 8192
        Rounding unit for ``rounded_queries`` (the paper's 2**13).

    Returns
    -------
    SampleSizeResult

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    The paper treats "is a query's latency at or below the true p-th
    percentile" as a poll with success probability ``p`` and asks for the
    sample proportion to be within ``m`` of ``p`` with confidence ``c``
    (normal approximation, infinite population):

    .. math::

        N = \\Phi^{-1}\\!\\left(\\tfrac{1-c}{2}\\right)^2 \\frac{p (1-p)}{m^2},
        \\qquad m = \\frac{1-p}{20}.

    Worked example: :math:`2.5758^2 \\times 0.9 \\cdot 0.1 / 0.005^2 =
    6.635 \\times 3600 = 23{,}886`. ``exact_queries`` is computed with
    ``statsmodels.stats.proportion.samplesize_confint_proportion``, which
    implements exactly this formula. Equivalently, the reported percentile
    :math:`\\hat q_p` satisfies :math:`|F(\\hat q_p) - p| \\le m` with
    probability about ``c``; :mod:`simbench.stats.montecarlo` checks that.

    References
    ----------
    .. [1] V. J. Reddi et al., "MLPerf Inference Benchmark", ISCA 2020,
       arXiv:1911.02549, §III-D, Eq. 1-2, Table IV.
    .. [2] W. G. Cochran, *Sampling Techniques*, 3rd ed., Wiley, 1977, §4.4.

    Examples
    --------
    >>> result = sample_size(0.99)
    >>> result.paper_queries, result.rounded_queries
    (262742, 270336)
    >>> sample_size(0.9, margin=0.01).min_queries
    5972
    """
    from statsmodels.stats.proportion import samplesize_confint_proportion

    p = _check_fraction(percentile, "percentile")
    c = _check_fraction(confidence, "confidence")
    m = paper_margin(p) if margin is None else float(margin)
    if not 0.0 < m <= min(p, 1.0 - p):
        raise SimbenchInputError(f"margin must be in (0, min(percentile, 1 - percentile)], got {margin!r}")
    exact = float(samplesize_confint_proportion(p, m, alpha=1.0 - c, method="normal"))
    minimum = math.ceil(exact)
    return SampleSizeResult(
        percentile=p,
        confidence=c,
        margin=m,
        z=float(-ndtri((1.0 - c) / 2.0)),
        exact_queries=exact,
        paper_queries=round(exact),
        min_queries=minimum,
        rounded_queries=round_up_to_multiple(minimum, multiple),
        multiple=operator.index(multiple),
    )


def paper_table(
    percentiles: tuple[float, ...] = PAPER_PERCENTILES, *, confidence: float = 0.99
) -> tuple[SampleSizeResult, ...]:
    """Return the paper's Table IV: one :class:`SampleSizeResult` per percentile.

    Parameters
    ----------
    percentiles : tuple of float, default (0.90, 0.95, 0.97, 0.99)
        Tail percentiles as fractions.
    confidence : float, default 0.99
        Confidence level.

    Returns
    -------
    tuple of SampleSizeResult
        With the paper's margins ``(1 - p) / 20``.

    Raises
    ------
    ValueError
        If a percentile or the confidence is outside (0, 1).

    Notes
    -----
    The paper prints four rows (90, 95, 99 and, in the rules, 97 for GNMT);
    its "Inferences" column is ``paper_queries`` and the rounded column
    ``rounded_queries``.

    References
    ----------
    .. [1] V. J. Reddi et al., arXiv:1911.02549, Table IV.

    Examples
    --------
    >>> [row.rounded_queries for row in paper_table()]
    [24576, 57344, 90112, 270336]
    """
    return tuple(sample_size(p, confidence=confidence) for p in percentiles)


def margin_of_error(query_count: int, percentile: float, *, confidence: float = 0.99) -> float:
    """Return the margin Eq. 2 guarantees for ``query_count`` queries.

    Parameters
    ----------
    query_count : int
        Queries ``n`` >= 1.
    percentile : float
        Tail percentile ``p`` in (0, 1).
    confidence : float, default 0.99
        Two-sided confidence level ``c`` in (0, 1).

    Returns
    -------
    float
        :math:`m = z \\sqrt{p (1-p) / n}` with :math:`z = |\\Phi^{-1}((1-c)/2)|`.

    Raises
    ------
    ValueError
        If ``query_count`` < 1 or a fraction is out of range.

    Notes
    -----
    Eq. 2 solved for ``m``; like Eq. 2 it assumes independent queries (see
    :func:`simbench.stats.required_queries` for correlated ones).

    References
    ----------
    .. [1] V. J. Reddi et al., arXiv:1911.02549, §III-D, Eq. 2.

    Examples
    --------
    >>> round(margin_of_error(270_336, 0.99) * 1e4, 3)  # below the paper's 5e-4
    4.929
    """
    n = operator.index(query_count)
    if n < 1:
        raise SimbenchInputError(f"query_count must be >= 1, got {query_count!r}")
    p = _check_fraction(percentile, "percentile")
    c = _check_fraction(confidence, "confidence")
    return float(-ndtri((1.0 - c) / 2.0)) * math.sqrt(p * (1.0 - p) / n)
