"""Autocorrelation time, effective sample size and required queries."""

import numpy as np
import pytest

from simbench.stats import indicator_autocorrelation, required_queries
from simbench.stats._trace_io import read_query_latencies
from simbench.trace import Trace, write_trace


def markov_latencies(n, slow_probability, lag1, seed=0):
    """Latencies from a two-state (fast/slow) Markov chain: the indicator's tau is (1+lag1)/(1-lag1)."""
    rng = np.random.default_rng(seed)
    # stationary P(slow)=q, lag-1 correlation lag1: P(slow->slow) = q + lag1 (1-q), P(fast->slow) = q (1-lag1)
    stay_slow = slow_probability + lag1 * (1 - slow_probability)
    go_slow = slow_probability * (1 - lag1)
    u = rng.random(n)
    state = np.empty(n, dtype=bool)
    state[0] = rng.random() < slow_probability
    for i in range(1, n):
        state[i] = u[i] < (stay_slow if state[i - 1] else go_slow)
    return np.where(state, 10_000_000, 1_000_000) + rng.integers(0, 1000, size=n)


def test_independent_latencies_have_tau_one():
    x = np.random.default_rng(0).exponential(size=200_000)
    result = indicator_autocorrelation(x, 0.99, method="acf")
    assert result.acf_time == pytest.approx(1.0, abs=0.05)
    assert result.batch_means_time == pytest.approx(1.0, abs=0.6)
    assert result.effective_sample_count == pytest.approx(200_000 / result.autocorrelation_time)
    assert abs(result.latency_lag1_autocorrelation) < 0.01


def test_two_state_markov_chain_oracle():
    # rho_k = 0.8^k  ->  tau = 1 + 2 * 0.8 / 0.2 = 9
    x = markov_latencies(400_000, 0.1, 0.8, seed=1)
    result = indicator_autocorrelation(x, 0.9, threshold_ns=5_000_000, method="acf")
    assert result.acf_time == pytest.approx(9.0, rel=0.1)
    assert result.batch_means_time == pytest.approx(9.0, rel=0.35)
    assert result.geyer_time == pytest.approx(9.0, rel=0.1)
    assert result.obm_time == pytest.approx(9.0, rel=0.1)  # b = sqrt(n) = 632 >> tau
    assert result.obm_batch_size == 632
    assert indicator_autocorrelation(x, 0.9, threshold_ns=5e6, method="max").autocorrelation_time == max(
        result.acf_time, result.geyer_time, result.obm_time
    )
    for method in ("acf", "geyer", "obm", "batch_means"):
        estimate = indicator_autocorrelation(x, 0.9, threshold_ns=5e6, method=method)
        assert estimate.tau_low < 9.0 < estimate.tau_high, method
        assert estimate.warnings == ()


def test_tau_intervals_cover_the_markov_oracle():
    # 90 % two-sided intervals over 30 independent chains (tau = 9): each covers with probability ~0.9,
    # so >= 22 of 30 covers holds with probability > 0.99 if the interval is right
    covered = {"acf": 0, "geyer": 0, "obm": 0}
    for seed in range(30):
        x = markov_latencies(60_000, 0.1, 0.8, seed=100 + seed)
        for method in covered:
            r = indicator_autocorrelation(x, 0.9, threshold_ns=5e6, method=method)
            covered[method] += r.tau_low <= 9.0 <= r.tau_high
    assert all(count >= 22 for count in covered.values()), covered


def test_short_runs_and_warm_up_are_flagged():
    # tau = (1 + 0.995)/(1 - 0.995) = 399 with 24,576 queries: n/tau ~ 60 -> too short to tell
    x = markov_latencies(24_576, 0.1, 0.995, seed=3)
    result = indicator_autocorrelation(x, 0.9, threshold_ns=5e6, method="geyer")
    assert result.too_short and any("too short to tell" in w for w in result.warnings)
    rq = required_queries(x, 0.9)
    assert not rq.sufficient and rq.warnings
    # the issue's warm-up: i.i.d. latencies, the first 2 % twice as slow -> flagged, trimmed by MSER-5
    y = np.random.default_rng(4).exponential(1e6, size=270_336)
    y[:5_407] *= 2.0
    rq = required_queries(y, 0.99)
    assert any(w.startswith("warm-up") for w in rq.warnings)
    assert any("disagree" in w for w in rq.warnings)
    trimmed = required_queries(y, 0.99, warmup_queries="auto")
    assert 5_000 <= trimmed.trimmed_queries <= 5_600
    assert not any(w.startswith("warm-up") for w in trimmed.warnings)


def test_required_queries_scales_with_tau():
    x = markov_latencies(300_000, 0.1, 0.8, seed=2)
    result = required_queries(x, 0.9)
    tau = result.autocorrelation.tau_high  # counts are sized from tau's upper bound
    assert result.autocorrelation.tau_low < 9.0 < tau < 1.3 * 9.0
    assert result.iid_queries == 23_886
    assert result.required_queries == int(np.ceil(23_886 * tau))
    assert result.required_queries_point == int(np.ceil(23_886 * result.autocorrelation.autocorrelation_time))
    assert result.early_stopping_iid_min_queries == 64
    assert result.early_stopping_required_queries == int(np.ceil(64 * tau))
    assert result.sufficient == (300_000 >= result.required_queries)
    assert result.achieved_margin > 0.005 * (300_000 / tau / 23_886) ** -0.5 * 0.99


def test_validation():
    with pytest.raises(ValueError, match="latencies_ns"):
        indicator_autocorrelation([1, 2, 3], 0.9)
    with pytest.raises(ValueError, match="percentile"):
        indicator_autocorrelation(np.arange(10), 90)
    with pytest.raises(ValueError, match="method"):
        indicator_autocorrelation(np.arange(10), 0.9, method="spectral")
    with pytest.raises(ValueError, match="batch_count"):
        indicator_autocorrelation(np.arange(10), 0.9, batch_count=1)


def test_query_latencies_from_trace_take_the_last_sample(tmp_path):
    # two queries of 3 samples (MultiStream-like) and one of 1
    trace = Trace(
        query_id=np.array([0, 0, 0, 1, 1, 1, 2]),
        sample_index=np.arange(7),
        issue_ns=np.array([100, 100, 100, 500, 500, 500, 900]),
        complete_ns=np.array([150, 190, 170, 560, 520, 530, 1000]),
    )
    path = write_trace(trace, tmp_path / "t.parquet")
    assert read_query_latencies(path).tolist() == [90, 60, 100]
