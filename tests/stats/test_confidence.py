"""Distribution-free percentile confidence intervals from order statistics."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from simbench.stats import (
    max_overlatency_count,
    order_statistic_coverage,
    percentile_ci,
    percentile_ci_ranks,
)


def _same(ours, scipys):
    # scipy marks a missing bound with nan; simbench with -inf / inf.
    return all((np.isnan(b) and np.isinf(a)) or a == b for a, b in zip(ours, scipys))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    st.integers(1, 2500),
    st.sampled_from([0.5, 0.9, 0.95, 0.97, 0.99, 0.999, 0.123]),
    st.sampled_from([0.8, 0.9, 0.95, 0.99]),
    st.sampled_from(["two-sided", "less", "greater"]),
    st.integers(0, 2**32 - 1),
)
def test_agrees_with_scipy_quantile_test(n, p, level, alternative, seed):
    # Where a binomial tail equals alpha(/2) exactly, simbench keeps the rank (P <= alpha/2 is
    # allowed) and scipy drops it; see test_boundary_tie_keeps_the_rank.
    tail = (1 - level) / 2 if alternative == "two-sided" else 1 - level
    cdf = stats.binom.cdf(np.arange(n + 1), n, p)
    assume(not np.isclose(cdf, tail, rtol=0, atol=1e-12).any())
    assume(not np.isclose(1 - cdf, tail, rtol=0, atol=1e-12).any())
    x = np.random.default_rng(seed).normal(size=n)
    ours = percentile_ci(x, p, confidence_level=level, alternative=alternative)
    theirs = stats.quantile_test(x, p=p, alternative=alternative).confidence_interval(level)
    assert _same((ours.low, ours.high), (theirs.low, theirs.high))


def test_boundary_tie_keeps_the_rank():
    # n=1, p=0.9: P[B <= 0] = 0.1 = alpha/2 for an 80% interval, so x_(1) is a valid lower bound.
    ci = percentile_ci([7.0], 0.9, confidence_level=0.8)
    assert (ci.low_rank, ci.low, ci.high) == (1, 7.0, math.inf)
    assert ci.coverage == pytest.approx(0.9)


@pytest.mark.parametrize(("n", "p", "level"), [(50, 0.5, 0.95), (1000, 0.9, 0.99), (24_576, 0.9, 0.99),
                                               (270_336, 0.99, 0.99), (700, 0.99, 0.9)])
def test_coverage_is_exact_binomial_sum_and_at_least_the_level(n, p, level):
    low, high = percentile_ci_ranks(n, p, confidence_level=level)
    independent = stats.binom.pmf(np.arange(max(low, 0), high), n, p).sum()
    coverage = order_statistic_coverage(n, p, low, high)
    assert coverage == pytest.approx(independent, abs=1e-9)
    assert coverage >= level
    # equal-tailed: each side misses with probability <= alpha/2, and moving inward breaks it
    alpha = 1 - level
    if low >= 1:
        assert stats.binom.cdf(low - 1, n, p) <= alpha / 2 < stats.binom.cdf(low, n, p)
    if high <= n:
        assert stats.binom.sf(high - 1, n, p) <= alpha / 2 < stats.binom.sf(high - 2, n, p)


def test_interval_values_are_the_order_statistics():
    rng = np.random.default_rng(3)
    x = rng.lognormal(13, 0.5, size=24_576).astype(np.int64)
    ci = percentile_ci(x, 0.9)
    ordered = np.sort(x)
    assert (ci.low, ci.high) == (ordered[ci.low_rank - 1], ordered[ci.high_rank - 1])
    assert ci.method == "exact" and "Conover" in ci.reference
    assert ci.confidence_level == 0.99 and ci.sample_count == 24_576


def test_one_sided_and_too_short():
    x = np.arange(1, 101)
    upper = percentile_ci(x, 0.9, alternative="less")
    assert upper.low == -math.inf and upper.low_rank == 0 and upper.high < math.inf
    lower = percentile_ci(x, 0.9, alternative="greater")
    assert lower.high == math.inf and lower.high_rank == 101
    short = percentile_ci(np.arange(10), 0.99)  # x_(10) cannot bound p99 at 99% with 10 points
    assert short.high == math.inf and short.coverage >= 0.99


def test_effective_sample_count_widens_and_reduces_to_iid():
    n = 270_336
    iid = percentile_ci_ranks(n, 0.99)
    assert percentile_ci_ranks(n, 0.99, effective_sample_count=n) == iid
    wide = percentile_ci_ranks(n, 0.99, effective_sample_count=n / 30)
    assert wide[0] < iid[0] and wide[1] > iid[1]
    # the half-width grows like sqrt(tau)
    ratio = (wide[1] - wide[0]) / (iid[1] - iid[0])
    assert ratio == pytest.approx(math.sqrt(30), rel=0.05)
    normal = percentile_ci_ranks(n, 0.99, method="normal", effective_sample_count=n / 30)
    assert abs(normal[0] - wide[0]) < 40 and abs(normal[1] - wide[1]) < 40


def test_normal_method_is_close_to_exact_for_large_n():
    exact = percentile_ci_ranks(270_336, 0.99)
    normal = percentile_ci_ranks(270_336, 0.99, method="normal")
    assert abs(exact[0] - normal[0]) <= 3 and abs(exact[1] - normal[1]) <= 3


@pytest.mark.parametrize("n", [662, 1000, 24_576, 270_336, 1_000_000])
def test_early_stopping_estimate_is_a_conservative_one_sided_bound(n):
    # LoadGen's estimate x_(n - t* + 1) covers the true p99 with probability P[Bin(n, p) <= n - t*] >= c,
    # and is exactly one order statistic above the exact one-sided 99% upper bound (docs/statistics.md).
    t_star = max_overlatency_count(n, 0.99)
    es_rank = n - t_star + 1
    assert stats.binom.cdf(es_rank - 1, n, 0.99) >= 0.99
    _, exact_upper = percentile_ci_ranks(n, 0.99, alternative="less")
    assert es_rank == exact_upper + 1


def test_validation():
    with pytest.raises(ValueError, match="confidence_level"):
        percentile_ci_ranks(10, 0.5, confidence_level=1.0)
    with pytest.raises(ValueError, match="alternative"):
        percentile_ci_ranks(10, 0.5, alternative="both")
    with pytest.raises(ValueError, match="method"):
        percentile_ci_ranks(10, 0.5, method="bootstrap")
    with pytest.raises(ValueError, match="effective_sample_count"):
        percentile_ci_ranks(10, 0.5, effective_sample_count=11)
    with pytest.raises(ValueError, match="percentile"):
        percentile_ci([1, 2, 3], 1.5)
    with pytest.raises(ValueError, match="low_rank"):
        order_statistic_coverage(10, 0.5, 5, 5)
