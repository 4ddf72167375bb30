"""The SimPy reference model and the numba engine give the identical Trace; same seed, same Trace."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simbench.profiles.schema import DynamicBatching, ExponentialNoise, LognormalNoise, NoBatching, NoNoise, QuantileNoise
from simbench.settings import Scenario, TestSettings
from simbench.sim import simulate
from simbench.trace import COLUMNS, write_trace
from simbench.testing import make_sut

NOISES = [
    NoNoise(),
    ExponentialNoise(),
    LognormalNoise(sigma=0.3, source="test"),
    QuantileNoise(points=[(0, 0.9), (0.5, 1.0), (0.99, 1.5), (1.0, 3.0)], source="test"),
]
TABLE = [(1, 400_000.0), (8, 900_000.0), (64, 5_000_000.0)]


def _settings(scenario, load):
    base = dict(min_duration_ms=150, min_query_count=20)
    if scenario is Scenario.SingleStream:
        return TestSettings(scenario=scenario, single_stream_expected_latency_ns=300_000, **base)
    if scenario is Scenario.MultiStream:
        return TestSettings(scenario=scenario, multi_stream_expected_latency_ns=800_000, multi_stream_samples_per_query=4, **base)
    if scenario is Scenario.Server:
        return TestSettings(scenario=scenario, server_target_qps=load, **base)
    return TestSettings(scenario=scenario, offline_expected_qps=load, **base)


def _same(a, b):
    for col in COLUMNS:
        x, y = getattr(a, col), getattr(b, col)
        if x is None or y is None:
            assert x is None and y is None, col
        else:
            np.testing.assert_array_equal(x, y, err_msg=col)


@pytest.mark.parametrize("scenario", list(Scenario))
def test_engines_agree_each_scenario(scenario):
    sut = make_sut(table=TABLE, noise=NOISES[3], batching=DynamicBatching(max_batch=16, timeout_us=500), replicas=2)
    s = _settings(scenario, 3000.0)
    a = simulate(s, sut, engine="numba", service_seed=7)
    b = simulate(s, sut, engine="simpy", service_seed=7)
    assert len(a.trace) > 50
    _same(a.trace, b.trace)
    assert a.batches == b.batches


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenario=st.sampled_from(list(Scenario)),
    noise=st.sampled_from(NOISES),
    max_batch=st.integers(1, 32),
    timeout_us=st.sampled_from([0.0, 100.0, 2000.0]),
    replicas=st.integers(1, 3),
    load=st.floats(200.0, 20_000.0),
    seed=st.integers(0, 2**32),
)
def test_engines_agree_property(scenario, noise, max_batch, timeout_us, replicas, load, seed):
    batching = NoBatching() if max_batch == 1 else DynamicBatching(max_batch=max_batch, timeout_us=timeout_us)
    sut = make_sut(table=TABLE, noise=noise, batching=batching, replicas=replicas)
    s = _settings(scenario, load)
    a = simulate(s, sut, engine="numba", service_seed=seed)
    b = simulate(s, sut, engine="simpy", service_seed=seed)
    _same(a.trace, b.trace)


def test_same_seed_same_trace_bit_for_bit(tmp_path):
    sut = make_sut(table=TABLE, noise=NOISES[2], batching=DynamicBatching(max_batch=8, timeout_us=300))
    s = _settings(Scenario.Server, 5000.0)
    p1 = write_trace(simulate(s, sut, service_seed=3).trace, tmp_path / "a.parquet")
    p2 = write_trace(simulate(s, sut, service_seed=3).trace, tmp_path / "b.parquet")
    assert p1.read_bytes() == p2.read_bytes()
    other = simulate(s, sut, service_seed=4).trace
    assert not np.array_equal(other.complete_ns, simulate(s, sut, service_seed=3).trace.complete_ns)


def test_changing_service_seed_does_not_change_arrivals_or_samples():
    sut = make_sut(table=TABLE, noise=NOISES[1])
    s = _settings(Scenario.Server, 2000.0)
    a, b = simulate(s, sut, service_seed=1).trace, simulate(s, sut, service_seed=2).trace
    np.testing.assert_array_equal(a.issue_ns, b.issue_ns)
    np.testing.assert_array_equal(a.sample_index, b.sample_index)


def test_count_only_mode_matches_full_trace():
    """The peak search's count-only kernel run agrees with the recorded trace."""
    from simbench.schedule import schedule
    from simbench.settings import resolve
    from simbench.sim import run_engine

    sut = make_sut(table=TABLE, noise=NOISES[1], batching=DynamicBatching(max_batch=8, timeout_us=200))
    s = _settings(Scenario.Server, 6000.0)
    full = simulate(s, sut, service_seed=5).trace
    eff = resolve(s, 1024, 1024)
    bound = int(np.quantile(full.sample_latencies_ns(), 0.9))
    out = run_engine(eff, schedule(eff), sut, 5, record=False, latency_bound_ns=bound)
    assert out.queries_issued == full.query_count and len(out.complete_ns) == 0
    assert out.overlatency == int(np.count_nonzero(full.sample_latencies_ns() > bound))
