"""SimulatorLaw: validate / validate_correlated on latencies produced by the simulator itself."""

import numpy as np
import pytest

from simbench.stats import indicator_autocorrelation, validate, validate_correlated
from simbench.plan.coverage import SimulatorLaw, _seeds


def small(utilization=0.3, **kwargs):
    kwargs.setdefault("batching", "none")
    return SimulatorLaw(utilization, reference_queries=400_000, reference_runs=2, workers=1, **kwargs)


def test_replications_are_deterministic_by_seed_and_independent():
    law = small()
    a = law.sample(5000, seed=3, replication=0)
    assert a.size == 5000
    np.testing.assert_array_equal(a, law.sample(5000, seed=3, replication=0))
    b = law.sample(5000, seed=3, replication=1)
    c = law.sample(5000, seed=4, replication=0)
    assert not np.array_equal(a, b) and not np.array_equal(a, c)
    # every stream differs: schedule, sample index and service seeds
    words = {_seeds(s, r) for s in range(3) for r in range(50)}
    assert len(words) == 150 and len({w for triple in words for w in triple}) == 450
    # independent runs: p99 over 30 replications fluctuates, is not correlated with the replication index
    p99 = [np.quantile(law.sample(3000, seed=0, replication=r), 0.99) for r in range(30)]
    assert np.std(p99) > 0
    assert abs(np.corrcoef(p99[:-1], p99[1:])[0, 1]) < 0.6


def test_reference_run_is_disjoint_and_has_a_standard_error():
    law = small()
    ref = law.reference(0.99)
    assert ref.queries == 400_000 and ref.runs == 2
    assert ref.quantile_ns == law.quantile(0.99) > law.quantile(0.5) > 0
    assert 0 < ref.standard_error < 1e-3
    # tau of the reference run agrees with an independent estimate on a fresh sample (M/D/1
    # at 30% load: about 2.3), and shows the correlation (tau >= 1 holds by construction)
    fresh = indicator_autocorrelation(law.sample(200_000, seed=1), 0.99, threshold_ns=law.quantile(0.99))
    assert ref.autocorrelation_time == pytest.approx(fresh.autocorrelation_time, rel=0.1)
    assert ref.autocorrelation_time > 1.5


def test_no_batching_low_load_has_small_tau_and_dynamic_batching_runs():
    law = small(0.3)
    x = law.sample(200_000, seed=1)
    tau = indicator_autocorrelation(x, 0.99, threshold_ns=law.quantile(0.99)).autocorrelation_time
    assert 1.0 <= tau < 6.0  # M/D/1 at 30% load: about 2
    busy = small(0.9)
    y = busy.sample(200_000, seed=1)
    assert indicator_autocorrelation(y, 0.99).autocorrelation_time > 3 * tau
    dynamic = small(0.5, batching="dynamic", arrival="mmpp:5")
    assert dynamic.sample(2000, seed=0).size == 2000 and dynamic.target_qps > busy.target_qps


def test_tiny_coverage_smoke_run():
    law = small(0.3)
    result = validate(law, percentile=0.9, query_count=5000, replications=40, seed=0)
    assert result.correlated and result.replications == 40 and result.threads == 1
    assert [c.check for c in result.checks] == ["margin", "percentile_ci", "early_stopping"]
    assert all(0.0 <= c.coverage <= 1.0 for c in result.checks)
    again = validate(law, percentile=0.9, query_count=5000, replications=40, seed=0)
    assert [c.successes for c in again.checks] == [c.successes for c in result.checks]
    corr = validate_correlated(law, percentile=0.9, query_count=5000, replications=40, pilot_factor=10,
                               budget_queries=1e5, min_restore_replications=20, skip_unaffordable=True)
    # the pilot's tau (10 x 5000 queries) agrees with an independent estimate at the same
    # percentile and load (about 1.9), rather than merely being >= 1 as it is by construction
    fresh = indicator_autocorrelation(law.sample(50_000, seed=5), 0.9, threshold_ns=law.quantile(0.9))
    assert corr.autocorrelation_time == pytest.approx(fresh.autocorrelation_time, rel=0.15)
    assert corr.autocorrelation_time > 1.3
    assert corr.restored is None  # 20 runs of n*tau queries exceed the 1e5 budget
    assert {"percentile_ci+ess", "early_stopping+ess"} <= {c.check for c in corr.official.checks}


def test_counts_match_direct_computation():
    law = small(0.5)
    thresholds = np.array([law.quantile(0.98), law.quantile(0.99)])
    counts = law.threshold_counts(3000, 3, 7, thresholds)
    for r in range(3):
        x = law.sample(3000, seed=7, replication=r)
        for j, v in enumerate(thresholds):
            assert counts[r, j, 0] == np.count_nonzero(x < v) and counts[r, j, 1] == np.count_nonzero(x <= v)


def test_bad_arguments():
    with pytest.raises(ValueError):
        SimulatorLaw(1.2)
    with pytest.raises(ValueError):
        SimulatorLaw(0.5, batching="static")
    with pytest.raises(ValueError):
        SimulatorLaw(0.5, arrival="weibull")


def test_simulator_law_follows_the_stats_protocol_and_its_doctest_runs():
    import doctest

    import simbench.plan.coverage as coverage
    from simbench.stats import ReplicatedLaw

    assert isinstance(small(), ReplicatedLaw)
    result = doctest.testmod(coverage, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
