import numpy as np

from simbench.schedule import loaded_sample_set, schedule
from simbench.settings import Scenario, TestSettings, resolve


def _eff(**kw):
    return resolve(TestSettings(**kw), 5000, 1024)


def test_singlestream_pregeneration_count_matches_loadgen():
    # mlcommons-loadgen 6.0.17: 100 us expected latency, 2 s -> 40,001 queries generated;
    # 20 us, 1 s -> 100,001 (both observed with the real package).
    assert schedule(_eff(scenario=Scenario.SingleStream, single_stream_expected_latency_ns=100_000, min_duration_ms=2000)).query_count == 40_001
    assert schedule(_eff(scenario=Scenario.SingleStream, single_stream_expected_latency_ns=20_000, min_duration_ms=1000)).query_count == 100_001
    assert schedule(_eff(scenario=Scenario.MultiStream, multi_stream_expected_latency_ns=10**9, min_duration_ms=1000, min_query_count=662)).query_count == 662


def test_server_poisson_schedule_rate_and_stop():
    sched = schedule(_eff(scenario=Scenario.Server, server_target_qps=1000, min_duration_ms=60_000))
    t = sched.scheduled_ns
    assert t[0] == 0 and t[-1] >= 60e9 > t[-2]
    gaps = np.diff(t) / 1e9
    assert gaps.mean() == np.float64(gaps.mean()) and abs(gaps.mean() - 1e-3) < 3e-5  # 60k gaps: SE 4e-6
    assert abs(np.std(gaps) / np.mean(gaps) - 1) < 0.02  # exponential: CV = 1


def test_sample_draws_come_from_loaded_set_and_are_seeded():
    eff = _eff(scenario=Scenario.Server, server_target_qps=100, min_duration_ms=10_000, qsl_rng_seed=1, sample_index_rng_seed=2)
    loaded = set(loaded_sample_set(eff).tolist())
    idx = schedule(eff).sample_indices()
    assert len(loaded) == 1024 and set(idx.tolist()) <= loaded
    np.testing.assert_array_equal(idx, schedule(eff).sample_indices())
    np.testing.assert_array_equal(idx[:10], schedule(eff).sample_indices(10))
    other = _eff(scenario=Scenario.Server, server_target_qps=100, min_duration_ms=10_000, qsl_rng_seed=1, sample_index_rng_seed=3)
    assert not np.array_equal(idx, schedule(other).sample_indices())


def test_offline_repeats_loaded_set_in_order():
    eff = _eff(scenario=Scenario.Offline, offline_expected_qps=2000, min_duration_ms=1000, min_query_count=1)
    idx = schedule(eff).sample_indices()
    loaded = loaded_sample_set(eff)
    assert len(idx) == 2200
    np.testing.assert_array_equal(idx[:1024], loaded)
    np.testing.assert_array_equal(idx[1024:2048], loaded)
