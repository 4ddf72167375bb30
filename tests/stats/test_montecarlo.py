"""Monte Carlo kernels: random streams, queue oracles, and the count-event shortcut."""

import math

import numba
import numpy as np
import pytest
from scipy import stats

from simbench.stats import (
    EmpiricalLaw,
    GammaLaw,
    LogNormalLaw,
    QueueLaw,
    latency_early_stopping,
    loadgen_percentile,
    percentile_ci,
    sample_latencies,
    validate,
    validate_correlated,
)
from simbench.stats import _kernels


def test_replication_streams_are_independent_of_how_many_run():
    assert np.array_equal(_kernels.replication_states(7, 10)[:4], _kernels.replication_states(7, 4))
    assert not np.array_equal(_kernels.replication_states(7, 2)[0], _kernels.replication_states(8, 2)[0])
    a = sample_latencies(LogNormalLaw(), 100, seed=3, replication=2)
    assert np.array_equal(a, sample_latencies(LogNormalLaw(), 100, seed=3, replication=2))
    assert not np.array_equal(a, sample_latencies(LogNormalLaw(), 100, seed=3, replication=1))


def test_lognormal_draws_follow_the_law():
    law = LogNormalLaw(median_ns=2e6, sigma=0.7)
    x = sample_latencies(law, 200_000, seed=11)
    z = (np.log(x) - math.log(2e6)) / 0.7
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert z.mean() == pytest.approx(0, abs=0.01) and z.std() == pytest.approx(1, abs=0.01)
    assert np.mean(x <= law.quantile(0.99)) == pytest.approx(0.99, abs=0.001)


@pytest.mark.parametrize("shape", [0.5, 2.0, 9.0])
def test_gamma_draws_follow_the_law(shape):
    law = GammaLaw(shape=shape, scale_ns=1e5)
    x = sample_latencies(law, 100_000, seed=12)
    assert stats.kstest(x, stats.gamma(shape, scale=1e5).cdf).pvalue > 1e-3
    assert x.mean() == pytest.approx(law.mean, rel=0.02)


def test_empirical_law_resamples_its_values():
    law = EmpiricalLaw([5, 1, 3, 3], source="unit")
    x = sample_latencies(law, 40_000, seed=1)
    assert set(np.unique(x)) == {1.0, 3.0, 5.0}
    assert np.mean(x == 3) == pytest.approx(0.5, abs=0.01)
    assert law.quantile(0.5) == 3 and law.quantile(0.51) == 3 and law.quantile(0.76) == 5
    assert "source='unit'" in repr(law)


@pytest.mark.parametrize(("utilization", "arrival_shape"), [(0.5, 1.0), (0.9, 1.0), (0.6, 0.25), (0.8, 4.0)])
def test_queue_sojourn_time_is_exponential_gim1_oracle(utilization, arrival_shape):
    # GI/M/1 FCFS: sojourn ~ Exp(mu (1 - sigma)); stationary from the first query and still at the 50th.
    law = QueueLaw(utilization, arrival_shape=arrival_shape, mean_service_ns=1.0)
    if arrival_shape == 1.0:
        assert law.sigma == pytest.approx(utilization, abs=1e-12)
    lst = (1 + (1 - law.sigma) / (arrival_shape * utilization)) ** -arrival_shape
    assert law.sigma == pytest.approx(lst, abs=1e-12)
    states = _kernels.replication_states(5, 3000)
    first = np.array([_kernels.queue_sample(*law._queue_arguments(), s, 50) for s in states])
    exact = stats.expon(scale=law.mean)
    for column in (0, 49):
        assert stats.kstest(first[:, column], exact.cdf).pvalue > 1e-3


def test_mm1_mean_sojourn_littles_law():
    x = sample_latencies(QueueLaw(0.5, mean_service_ns=1e6), 2_000_000, seed=4)
    assert x.mean() == pytest.approx(2e6, rel=0.02)  # 1 / (mu - lambda)


@pytest.mark.parametrize(
    ("law", "n"), [(LogNormalLaw(), 700), (QueueLaw(0.9), 3000), (EmpiricalLaw(np.arange(1, 60) ** 2), 800)]
)
def test_count_events_equal_direct_computation(law, n):
    """The kernel's count shortcut agrees with the library functions applied to the latencies."""
    percentile, margin, reps, seed = 0.9, 0.02, 40, 9
    result = validate(law, percentile=percentile, query_count=n, margin=margin, replications=reps, seed=seed)
    low_q, mid_q, high_q = law.quantile(percentile - margin), law.quantile(percentile), law.quantile(percentile + margin)
    direct = {"margin": 0, "percentile_ci": 0, "early_stopping": 0}
    for r in range(reps):
        x = sample_latencies(law, n, seed=seed, replication=r)
        direct["margin"] += low_q <= loadgen_percentile(x, percentile) <= high_q
        ci = percentile_ci(x, percentile, confidence_level=0.99)
        direct["percentile_ci"] += ci.low <= mid_q <= ci.high
        direct["early_stopping"] += latency_early_stopping(x, percentile).estimate_ns >= mid_q
    assert {c.check: c.successes for c in result.checks} == direct


def test_same_seed_same_result_whatever_the_thread_count():
    law = GammaLaw()
    first = validate(law, percentile=0.9, query_count=5000, replications=64, seed=1, margin=0.01)
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        single = validate(law, percentile=0.9, query_count=5000, replications=64, seed=1, margin=0.01)
    finally:
        numba.set_num_threads(previous)
    assert [c.successes for c in first.checks] == [c.successes for c in single.checks]


def test_iid_coverage_matches_exact_value():
    result = validate(LogNormalLaw(), percentile=0.9, query_count=24_576, replications=3000, seed=2)
    assert [c.check for c in result.checks] == ["margin", "percentile_ci", "early_stopping"]
    for check in result.checks:
        assert abs(check.coverage - check.nominal) < 4 * max(check.standard_error, 1e-3)
        assert check.nominal >= 0.99
    assert result.count_variance_ratio == pytest.approx(1.0, abs=0.1)


def test_correlation_causes_a_shortfall_and_the_correction_restores_it():
    result = validate_correlated(
        QueueLaw(0.7), percentile=0.9, query_count=24_576, replications=1000, seed=3, pilot_factor=40,
        budget_queries=1e9, min_restore_replications=100,
    )
    official = result.official
    assert 15 < result.autocorrelation_time < 35  # M/M/1 at 0.7, p90 indicator: tau ~ 25
    assert official.count_variance_ratio == pytest.approx(result.autocorrelation_time, rel=0.25)
    assert official.check("margin").coverage < 0.7
    assert official.check("early_stopping").coverage < 0.9
    assert official.check("percentile_ci+ess").coverage > 0.97
    assert official.check("early_stopping+ess").coverage > 0.97
    assert result.corrected_query_count == math.ceil(24_576 * result.autocorrelation_time)
    assert result.restored.check("margin").coverage > 0.97


def test_validation():
    with pytest.raises(ValueError, match="utilization"):
        QueueLaw(1.0)
    with pytest.raises(ValueError, match="sigma"):
        LogNormalLaw(sigma=0)
    with pytest.raises(ValueError, match="shape"):
        GammaLaw(shape=-1)
    with pytest.raises(ValueError, match="values_ns"):
        EmpiricalLaw([1.0])
    with pytest.raises(ValueError, match="replications"):
        validate(LogNormalLaw(), replications=1)
    with pytest.raises(ValueError, match="margin"):
        validate(LogNormalLaw(), percentile=0.9, margin=0.2)
