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
    assert indicator_autocorrelation(x, 0.9, threshold_ns=5e6, method="max").autocorrelation_time == max(
        result.acf_time, result.batch_means_time
    )


def test_required_queries_scales_with_tau():
    x = markov_latencies(300_000, 0.1, 0.8, seed=2)
    result = required_queries(x, 0.9)
    tau = result.autocorrelation.autocorrelation_time
    assert result.iid_queries == 23_886
    assert result.required_queries == int(np.ceil(23_886 * tau))
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
