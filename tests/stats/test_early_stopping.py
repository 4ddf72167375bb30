"""LoadGen early stopping (early_stopping.cc, results.cc) against the numbers in loadgen.md §3/§5."""

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from simbench.stats import (
    EarlyStoppingResult,
    latency_early_stopping,
    max_overlatency_count,
    min_passing_queries,
    server_early_stopping,
)

OVERLATENCY = (0, 1, 2, 3, 4, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
# loadgen.md §3 "Minimum total queries h(t)+t needed to pass with t over-latency queries".
MIN_TOTAL_QUERIES = {
    0.9: (44, 64, 81, 97, 113, 127, 197, 325, 681, 1246, 2337, 5518, 10722, 21011, 51585),
    0.99: (459, 662, 838, 1001, 1157, 1307, 2010, 3304, 6898, 12571, 23527, 55427, 107569, 210600, 516615),
    0.999: (4603, 6636, 8403, 10042, 11601, 13105, 20140, 33097, 69058, 125826, 235427, 554510, 1076032,
            2106479, 5166900),
}
# loadgen.md §3 SingleStream/MultiStream table: n -> (t*, 1-based rank n - t* + 1); None = too short.
RANK_TABLE = {
    64: ((1, 64), None),
    100: ((3, 98), None),
    662: ((48, 615), (1, 662)),
    1_000: ((78, 923), (2, 999)),
    1_024: ((80, 945), (3, 1022)),
    10_000: ((930, 9071), (77, 9924)),
    24_576: ((2348, 22229), (209, 24368)),
    100_000: ((9779, 90222), (927, 99074)),
    270_336: ((26670, 243667), (2583, 267754)),
    1_000_000: ((99302, 900699), (9768, 990233)),
}
# loadgen.md §3 Server p=0.99 "ES allows" row.
ES_ALLOWS = {459: 0, 662: 1, 1000: 2, 2000: 9, 10_000: 77, 60_000: 543, 270_336: 2583, 600_000: 5820}


def _with_order_statistic(query_count, rank_from_top, value_ns, seed=0):
    """Latencies whose rank_from_top-th largest is value_ns, shuffled."""
    latencies = np.full(query_count, value_ns, dtype=np.int64)
    latencies[: query_count // 2] = np.arange(query_count // 2) % value_ns
    latencies[query_count - rank_from_top + 1:] = value_ns + 1 + np.arange(rank_from_top - 1)
    np.random.default_rng(seed).shuffle(latencies)
    return latencies


@pytest.mark.parametrize("percentile", sorted(MIN_TOTAL_QUERIES))
def test_min_total_queries_table(percentile):
    got = tuple(min_passing_queries(t, percentile) + t for t in OVERLATENCY)
    assert got == MIN_TOTAL_QUERIES[percentile]


def test_t_zero_closed_form():
    for percentile, expected in [(0.9, 44), (0.99, 459), (0.999, 4603)]:
        assert min_passing_queries(0, percentile) == expected
        assert expected == math.ceil(math.log(0.01) / math.log(percentile))


@pytest.mark.parametrize(
    ("overlatency", "percentile", "confidence", "tolerance"),
    [(1, 0.99, 0.99, 0.0), (77, 0.99, 0.99, 0.0), (2583, 0.99, 0.99, 0.0), (276_108, 0.99, 0.99, 0.0),
     (24_712, 0.9, 0.99, 0.0), (3, 0.9, 0.95, 0.0), (40, 0.99, 0.9, 0.002), (500, 0.95, 0.999, 0.01)],
)
def test_h_is_the_first_passing_count_by_independent_binomial_cdf(overlatency, percentile, confidence, tolerance):
    # odds(h, t) = P[Binomial(h+t, 1-(p-d)) <= t], here via scipy.stats.binom, not betainc.
    h = min_passing_queries(overlatency, percentile, confidence=confidence, tolerance=tolerance)
    failure = 1 - (percentile - tolerance)
    assert binom.cdf(overlatency, h + overlatency, failure) < 1 - confidence
    assert binom.cdf(overlatency, h - 1 + overlatency, failure) >= 1 - confidence


def test_other_confidence_and_tolerance_move_h_the_right_way():
    base = min_passing_queries(10, 0.99)
    assert min_passing_queries(10, 0.99, confidence=0.95) < base
    assert min_passing_queries(10, 0.99, confidence=0.999) > base
    assert min_passing_queries(10, 0.99, tolerance=0.001) < base


@pytest.mark.parametrize("query_count", sorted(RANK_TABLE))
def test_rank_table(query_count):
    latencies = np.arange(1, query_count + 1, dtype=np.int64)[::-1].copy()
    for percentile, expected in zip((0.9, 0.99), RANK_TABLE[query_count]):
        result = latency_early_stopping(latencies, percentile)
        if expected is None:
            assert not result.passed
            assert result.estimate_ns is None
            continue
        t_star, rank = expected
        assert result.passed
        assert result.overlatency_count == t_star
        assert result.discarded == t_star - 1
        assert result.estimate_rank == rank
        assert result.estimate_ns == rank  # latencies are 1..n, so the value is its rank


def test_server_es_allows_row():
    assert {n: max_overlatency_count(n, 0.99) for n in ES_ALLOWS} == ES_ALLOWS
    assert max_overlatency_count(458, 0.99) == -1
    for n, allowed in ES_ALLOWS.items():
        assert server_early_stopping(n, allowed, 0.99).passed
        assert not server_early_stopping(n, allowed + 1, 0.99).passed


def test_server_failure_at_160k_qps():
    # loadgen.md §5: null SUT at 160k QPS, 276,108 of 320,243 over 15 ms.
    result = server_early_stopping(320_243, 276_108, 0.99)
    assert not result.passed
    assert result.queries_needed == 27_412_431
    assert result.min_queries == 320_243 + 27_412_431
    assert result.lines == (
        " * Run unsuccessful.",
        " * Processed 320243 queries.",
        " * Would need to run at least 27412431 more queries,",
        " with the run being successful if every additional",
        " query were under latency.",
    )


def test_server_failure_with_no_overlatency_and_early_stopping_only_failure():
    short = server_early_stopping(190, 0, 0.99)
    assert (short.passed, short.queries_needed, short.min_queries) == (False, 269, 459)
    assert short.lines[2] == " * Would need to run at least 269 more queries,"
    # 1 ms SUT at 800 QPS: p99 within bound but 14 of 1582 over -> "957 more".
    assert server_early_stopping(1582, 14, 0.99).queries_needed == 957


def test_server_success_text():
    result = server_early_stopping(1982, 0, 0.99)
    assert result.passed and result.queries_needed == 0
    assert result.lines == (" * Run successful.",)
    assert result.text == " * Run successful."
    assert isinstance(result, EarlyStoppingResult)
    with pytest.raises(AttributeError):
        result.passed = False  # frozen


def test_singlestream_summary_lines_of_the_null_sut_run():
    # 250,613 queries, "Would discard 24711", ES p90 estimate 4498 ns.
    latencies = _with_order_statistic(250_613, 24_712, 4498)
    result = latency_early_stopping(latencies, 0.9)
    assert result.lines == (
        " * Processed at least 64 queries (250613).",
        " * Would discard 24711 highest latency queries.",
        " * Early stopping 90.0th percentile estimate: 4498",
    )
    assert result.estimate_ns == 4498 and result.min_queries == 64


def test_multistream_summary_lines_of_the_null_sut_run():
    latencies = _with_order_statistic(92_114, 851, 38_943)
    result = latency_early_stopping(latencies, 0.99)
    assert result.lines == (
        " * Processed at least 662 queries (92114).",
        " * Would discard 850 highest latency queries.",
        " * Early stopping 99.0th percentile estimate: 38943",
    )


def test_discard_3859_of_the_exhausted_singlestream_run():
    # The 100 us SingleStream run pre-generated 40,001 queries; its summary discarded 3859.
    assert latency_early_stopping(np.arange(40_001), 0.9).discarded == 3859


def test_too_short_multistream_run():
    # 1 ms SUT, min_duration 300 ms: 257 queries -> "Need to process at least 662 queries".
    result = latency_early_stopping(np.arange(257), 0.99)
    assert not result.passed
    assert result.queries_needed == 662 - 257
    assert result.lines == (
        " * Only processed 257 queries.",
        " * Need to process at least 662 queries for early stopping.",
    )


def test_percentile_label_has_one_decimal():
    result = latency_early_stopping(np.arange(7000), 0.999)
    assert result.lines[2].startswith(" * Early stopping 99.9th percentile estimate: ")
    assert result.lines[0] == " * Processed at least 6636 queries (7000)."


def _loadgen_scan(query_count, percentile):
    """LoadGen's loop: scan i = 2, 3, ... until n < h(i) + i; t* = i - 1."""
    t_star = 1
    for i in range(2, query_count + 1):
        if query_count < min_passing_queries(i, percentile) + i:
            t_star = i - 1
            break
    return t_star


@pytest.mark.parametrize("query_count", [64, 65, 80, 81, 96, 97, 500, 1577, 3001])
def test_bisection_equals_loadgen_scan(query_count):
    assert latency_early_stopping(np.arange(query_count), 0.9).overlatency_count == _loadgen_scan(query_count, 0.9)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.integers(0, 3000), st.sampled_from([0.9, 0.95, 0.99]))
def test_min_total_queries_strictly_increasing(overlatency, percentile):
    assert (min_passing_queries(overlatency + 1, percentile) + overlatency + 1
            > min_passing_queries(overlatency, percentile) + overlatency)


def test_large_run_is_fast_and_near_normal_approximation():
    latencies = np.random.default_rng(3).integers(1, 10**7, size=1_300_000)
    start = time.perf_counter()
    result = latency_early_stopping(latencies, 0.9)
    assert time.perf_counter() - start < 2.0
    approx = 1_300_000 * 0.1 - 2.3263 * math.sqrt(1_300_000 * 0.9 * 0.1)
    assert abs(result.overlatency_count - approx) <= 1.5
    assert result.estimate_ns == np.sort(latencies)[1_300_000 - result.overlatency_count]


def test_validation_names_the_argument():
    with pytest.raises(ValueError, match="overlatency_count"):
        min_passing_queries(-1, 0.99)
    with pytest.raises(ValueError, match="percentile"):
        min_passing_queries(1, 99)
    with pytest.raises(ValueError, match="confidence"):
        min_passing_queries(1, 0.99, confidence=1.0)
    with pytest.raises(ValueError, match="tolerance"):
        min_passing_queries(1, 0.99, tolerance=0.99)
    with pytest.raises(ValueError, match="overlatency_count"):
        server_early_stopping(10, 11, 0.99)
    with pytest.raises(ValueError, match="query_count"):
        server_early_stopping(-1, 0, 0.99)
    with pytest.raises(ValueError, match="latencies_ns"):
        latency_early_stopping([], 0.9)


def test_h_at_loadgens_rounding_boundary_is_the_exact_one():
    """docs/statistics.md §6: at t = 8,550, p99 LoadGen's double-precision series gives h = 868,100
    (benchmarks/loadgen_h_arithmetic.py); the exact binomial tail says 868,101."""
    h = min_passing_queries(8550, 0.99)
    assert h == 868_101
    assert binom.cdf(8550, h + 8550, 0.01) < 0.01 <= binom.cdf(8550, h - 1 + 8550, 0.01)
