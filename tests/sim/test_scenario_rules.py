"""Each scenario's issue rule, as LoadGen implements it, on the simulated SUT."""

import numpy as np

from simbench.profiles.schema import DynamicBatching
from simbench.settings import Scenario, TestSettings, resolve
from simbench.schedule import schedule
from simbench.sim import simulate
from simbench.testing import make_sut


def test_single_stream_issues_next_query_at_completion_and_stops_after_min_duration():
    s = TestSettings(scenario=Scenario.SingleStream, min_duration_ms=100, min_query_count=10, single_stream_expected_latency_ns=1_000_000)
    tr = simulate(s, make_sut(1e6)).trace
    np.testing.assert_array_equal(tr.issue_ns[1:], tr.complete_ns[:-1])
    # Stop rule: after issuing, stop once issued >= min_query_count and now >= min_duration.
    assert tr.issue_ns[-1] == 100_000_000 and tr.issue_ns[-2] < 100_000_000
    assert len(tr) == 101


def test_single_stream_runs_out_of_generated_queries():
    # expected latency 10 ms over a 100 ms min duration: 2*100/10 + 1 = 21 queries generated,
    # but a 1 ms SUT needs 100 -> LoadGen's "Ran out of generated queries".
    s = TestSettings(scenario=Scenario.SingleStream, min_duration_ms=100, min_query_count=1, single_stream_expected_latency_ns=10_000_000)
    run = simulate(s, make_sut(1e6))
    assert run.schedule.query_count == 21
    assert run.ran_out_of_queries and len(run.trace) == 21


def test_multistream_queries_hold_contiguous_samples_and_complete_together():
    s = TestSettings(scenario=Scenario.MultiStream, min_duration_ms=50, min_query_count=5, multi_stream_expected_latency_ns=1_000_000)
    run = simulate(s, make_sut(table=[(1, 1e5), (8, 5e5)], batching=DynamicBatching(max_batch=8, timeout_us=0)))
    tr = run.trace
    assert len(tr) == 8 * tr.query_count
    idx = tr.sample_index.reshape(-1, 8)
    # 8 contiguous entries of the loaded set (wrapping), and one batch per query
    assert np.all(tr.batch_id.reshape(-1, 8) == tr.batch_id.reshape(-1, 8)[:, :1])
    assert np.all(tr.complete_ns.reshape(-1, 8)[:, 0] - tr.issue_ns.reshape(-1, 8)[:, 0] == 500_000)
    # each query is 8 consecutive entries of LoadGen's loaded set from some start, wrapping
    from simbench.schedule import loaded_sample_set

    loaded = loaded_sample_set(run.effective)
    where = {int(v): i for i, v in enumerate(loaded)}
    starts = np.array([where[int(row[0])] for row in idx])
    expect = loaded[(starts[:, None] + np.arange(8)[None, :]) % loaded.shape[0]]
    np.testing.assert_array_equal(idx, expect)
    assert len(set(starts.tolist())) > 1  # the start is drawn per query, not fixed


def test_server_latency_counts_from_scheduled_time_and_all_queries_issue():
    s = TestSettings(scenario=Scenario.Server, server_target_qps=2000, min_duration_ms=1000)
    eff = resolve(s, 1024, 1024)
    sched = schedule(eff)
    tr = simulate(s, make_sut(2e6)).trace  # capacity 500/s: heavily overloaded
    np.testing.assert_array_equal(tr.issue_ns, sched.scheduled_ns)
    assert sched.scheduled_ns[0] == 0 and sched.scheduled_ns[-1] >= 1_000_000_000 > sched.scheduled_ns[-2]
    # queueing delay accumulates: the last query waits ~ (n - 500 t) * 2 ms
    assert tr.sample_latencies_ns()[-1] > 2_000_000_000


def test_offline_one_query_all_samples_at_zero():
    s = TestSettings(scenario=Scenario.Offline, offline_expected_qps=10_000, min_duration_ms=1000, min_query_count=100)
    run = simulate(s, make_sut(table=[(1, 1e5), (256, 5e6)], batching=DynamicBatching(max_batch=256, timeout_us=0)))
    tr = run.trace
    assert run.effective.samples_per_query == 11_000 == len(tr)
    assert tr.query_count == 1 and np.all(tr.issue_ns == 0)
    assert run.batches == 43  # ceil(11000 / 256)


def test_peak_search_errors_clearly_when_no_rate_can_pass():
    import pytest

    from simbench.plan.peak import find_peak_qps

    # 2 ms service time against a 1 ms bound: nothing passes, whatever the rate.
    s = TestSettings(scenario=Scenario.Server, server_target_latency_ns=1_000_000, min_duration_ms=10_000)
    with pytest.raises(ValueError, match="exceed the 1 ms latency bound"):
        find_peak_qps(s, make_sut(2e6))
    # A run too short for early stopping at any rate the SUT can serve.
    s = TestSettings(scenario=Scenario.Server, server_target_latency_ns=10**9, min_duration_ms=500)
    with pytest.raises(ValueError, match="fewer than the 918 queries early stopping needs"):
        find_peak_qps(s, make_sut(2e6))


def test_peak_search_finds_mm1_style_boundary():
    from simbench.plan.peak import find_peak_qps

    # Deterministic 1 ms service, bound 20 ms: M/D/1's mean wait rho*D/(2(1-rho)) is ~4.4 ms
    # at rho = 0.9, and its p99 about 4.6x that, so the peak sits near 900 QPS; the run at the
    # peak passes and a run 1 % above it fails.
    import dataclasses

    from simbench.summary import summarize

    s = TestSettings(scenario=Scenario.Server, server_target_latency_ns=20_000_000, min_duration_ms=60_000)
    peak = find_peak_qps(s, make_sut(1e6))
    assert 850 < peak.peak_qps < 950
    at_peak = simulate(dataclasses.replace(s, server_target_qps=peak.peak_qps), make_sut(1e6))
    assert summarize(at_peak.trace, at_peak.effective).result_valid
    assert any(not p.passed and p.target_qps <= peak.peak_qps * 1.01 for p in peak.probes if p.full_length)
