"""LoadGen's percentile rule sorted[floor(n*p)] (results.cc ProcessLatencies)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simbench.stats import loadgen_percentile, loadgen_percentile_index, loadgen_percentiles

SUMMARY_PERCENTILES = (0.5, 0.9, 0.95, 0.97, 0.99, 0.999)


def test_index_of_the_reference_singlestream_run():
    # loadgen.md §1: n=1577, p=0.9 -> index 1419 (the p90 1,281,843 ns of the 1 ms SUT run).
    assert loadgen_percentile_index(1577, 0.9) == 1419


@pytest.mark.parametrize(
    ("sample_count", "percentile", "index"),
    [(100, 0.99, 99), (100, 0.5, 50), (1, 0.999, 0), (1000, 0.999, 999), (10, 0.0, 0), (7, 0.9, 6)],
)
def test_index_is_floor_of_double_product(sample_count, percentile, index):
    assert loadgen_percentile_index(sample_count, percentile) == index


def test_index_uses_double_arithmetic_not_exact_decimal():
    # 0.29 is stored as 0.28999999999999998; 100 * 0.29 = 28.999999999999996 in double.
    assert loadgen_percentile_index(100, 0.29) == 28
    # mlperf.conf's "99.9" becomes 99.9 * 0.01 = 0.9990000000000001, not 0.999.
    assert 99.9 * 0.01 != 0.999
    assert loadgen_percentile_index(1000, 99.9 * 0.01) == 999


def test_percentile_picks_sorted_element_without_presorting():
    rng = np.random.default_rng(7)
    latencies = rng.integers(1_000, 5_000_000, size=1577)
    before = latencies.copy()
    assert loadgen_percentile(latencies, 0.9) == np.sort(latencies)[1419]
    np.testing.assert_array_equal(latencies, before)  # input untouched


def test_differs_from_numpy_inverted_cdf_when_np_is_whole():
    latencies = np.arange(1, 101)  # n*p = 90 exactly
    assert loadgen_percentile(latencies, 0.9) == 91
    assert np.quantile(latencies, 0.9, method="inverted_cdf") == 90


def test_server_p99_check_tolerates_the_reference_counts():
    # loadgen.md §3: "p99 check allows" = n - floor(0.99 n) - 1 over-latency queries.
    bound_ns = 15_000_000
    for n, allowed in [(459, 4), (662, 6), (1000, 9), (2000, 19), (10_000, 99), (60_000, 599),
                       (270_336, 2703), (600_000, 5999)]:
        latencies = np.full(n, bound_ns - 1)
        latencies[:allowed] = bound_ns + 1
        assert loadgen_percentile(latencies, 0.99) <= bound_ns
        latencies[: allowed + 1] = bound_ns + 1
        assert loadgen_percentile(latencies, 0.99) > bound_ns


def test_several_percentiles_in_one_call():
    rng = np.random.default_rng(1)
    latencies = rng.lognormal(13, 0.5, size=250_613).astype(np.int64)
    expected = [np.sort(latencies)[int(latencies.size * p)] for p in SUMMARY_PERCENTILES]
    result = loadgen_percentiles(latencies, SUMMARY_PERCENTILES)
    assert result.dtype == latencies.dtype
    assert result.tolist() == expected
    # order given is kept, repeats allowed
    assert loadgen_percentiles(latencies, [0.99, 0.5, 0.99]).tolist() == [expected[4], expected[0], expected[4]]


def test_float_latencies_return_the_element():
    assert loadgen_percentile([0.5, 0.1, 0.3], 0.5) == 0.3


@pytest.mark.parametrize("bad", [-0.1, 1.0, 99.0, math.nan, "p"])
def test_rejects_percentile_out_of_range(bad):
    with pytest.raises(ValueError, match="percentile"):
        loadgen_percentile([1, 2, 3], bad)


def test_rejects_bad_latencies():
    with pytest.raises(ValueError, match="latencies_ns.*empty"):
        loadgen_percentile([], 0.9)
    with pytest.raises(ValueError, match="latencies_ns"):
        loadgen_percentile([[1, 2], [3, 4]], 0.9)
    with pytest.raises(ValueError, match="latencies_ns"):
        loadgen_percentile(["a", "b"], 0.9)
    with pytest.raises(ValueError, match="NaN"):
        loadgen_percentile([1.0, math.nan], 0.9)
    with pytest.raises(ValueError, match="percentiles"):
        loadgen_percentiles([1, 2], [])
    with pytest.raises(ValueError, match="sample_count"):
        loadgen_percentile_index(0, 0.9)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(st.integers(0, 10**12), min_size=1, max_size=300),
    st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=6),
)
def test_matches_sorted_indexing_and_is_monotone_in_p(latencies, percentiles):
    ordered = sorted(latencies)
    values = loadgen_percentiles(latencies, percentiles)
    assert values.tolist() == [ordered[int(len(ordered) * p)] for p in percentiles]
    by_p = sorted(zip(percentiles, values.tolist()))
    assert all(a[1] <= b[1] for a, b in zip(by_p, by_p[1:]))
