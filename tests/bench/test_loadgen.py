"""The real load generator: LoadGen's issue rules, the shared schedule, Trace and Summary."""

from __future__ import annotations

import numpy as np
import pytest

from simbench.batching import DynamicBatching
from simbench.report import render_text
from simbench.bench.loadgen import RAN_OUT_MESSAGE, LoadGenerator
from simbench.bench.sut import CallableSUT, NullSUT, OnnxSUT
from simbench.schedule import schedule
from simbench.settings import Scenario, resolve
from simbench.summary import summarize

from bench_helpers import short_settings

ALL = [s.value for s in Scenario]


def _run(sut, settings, **kw):
    return LoadGenerator(sut, settings, qsl_total_count=1000, qsl_performance_count=256, **kw).run()


@pytest.mark.parametrize("scenario", ALL)
def test_null_sut_every_scenario(scenario):
    s = short_settings(scenario)
    run = _run(NullSUT(), s)
    t = run.trace
    assert run.status == "complete" and run.outstanding_samples == 0
    assert len(t) == run.issued_queries * run.effective.samples_per_query
    assert np.all(t.complete_ns >= t.issued_ns) and np.all(t.issued_ns >= t.issue_ns)
    # The very schedule the simulator uses: same samples, in the same order.
    sched = schedule(resolve(s, 1000, 256))
    n = 1 if scenario == "Offline" else t.query_count
    np.testing.assert_array_equal(t.sample_index, sched.sample_indices(n))
    # Summary is the simulator's code over this Trace.
    again = summarize(t, run.effective, sut_name="NullSUT", errors=run.errors)
    assert render_text(again) == render_text(run.summary)
    assert t.metadata["kind"] == "real" and t.metadata["engine"] == "simbench"


def test_server_issues_at_scheduled_times():
    s = short_settings("Server", server_target_qps=2000.0)
    run = _run(NullSUT(), s)
    sched = schedule(run.effective)
    t = run.trace
    assert t.query_count == sched.query_count  # Server issues every generated query
    np.testing.assert_array_equal(t.issue_ns, sched.scheduled_ns)
    lag = run.issue_lag_ns()
    assert np.all(lag >= 0)
    assert np.median(lag) < 2_000_000  # the harness issues near the scheduled time


@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream"])
def test_streams_issue_on_completion_and_stop_rule(scenario):
    s = short_settings(scenario, single_stream_expected_latency_ns=1_000, multi_stream_expected_latency_ns=1_000)
    sut = CallableSUT(lambda idx: None, workers=2)
    run = _run(sut, s)
    t = run.trace
    b = t.query_bounds()
    q_complete = np.maximum.reduceat(t.complete_ns, b)
    # The next query is issued only after the previous one completed; scheduled = issued.
    assert np.all(t.issue_ns[b][1:] >= q_complete[:-1])
    np.testing.assert_array_equal(t.issue_ns, t.issued_ns)
    # LoadGen's stop rule: the last query is the first with n >= min_query_count and
    # issue time >= min_duration.
    eff = run.effective
    n = t.query_count
    last_issue = t.issue_ns[b][-1]
    assert n >= eff.min_query_count and last_issue >= eff.min_duration_ms * 1e6
    prev = t.issue_ns[b][-2]
    assert n - 1 < eff.min_query_count or prev < eff.min_duration_ms * 1e6
    assert run.summary.min_duration_met and not run.errors


def test_ran_out_of_generated_queries_is_invalid():
    # 1 s expected latency and 200 ms -> 100 generated queries... but min_query_count 20
    # is reached long before 200 ms with a null SUT: pre-generation runs out.
    s = short_settings("SingleStream", single_stream_expected_latency_ns=1_000_000_000, min_query_count=5)
    run = _run(NullSUT(), s)
    assert run.errors == (RAN_OUT_MESSAGE,)
    assert not run.summary.result_valid and not run.summary.min_duration_met
    assert run.issued_queries == schedule(run.effective).query_count


def test_offline_one_query_all_samples_batched(tiny_model):
    s = short_settings("Offline", min_query_count=300)
    sut = OnnxSUT(tiny_model, threads=1, workers=2, batching=DynamicBatching(max_batch=16, timeout_us=0))
    run = _run(sut, s)
    t = run.trace
    assert t.query_count == 1 and len(t) == 300
    assert np.all(t.issue_ns == 0)
    sizes = np.bincount(t.batch_id)
    assert sizes.max() <= 16 and sizes.sum() == 300
    assert set(np.unique(t.device_id)) <= {0, 1}
    assert np.all(t.start_ns <= t.complete_ns)
    assert run.summary.samples_per_second > 0


def test_dynamic_batching_timeout_forms_batches(tiny_model):
    s = short_settings("Server", server_target_qps=2000.0)
    sut = OnnxSUT(tiny_model, threads=1, workers=1, batching=DynamicBatching(max_batch=8, timeout_us=3000))
    run = _run(sut, s)
    sizes = np.bincount(run.trace.batch_id)
    assert sizes.max() > 1 and sizes.max() <= 8  # waited for company, never past max
    assert run.status == "complete"


def test_async_callable_sut():
    import asyncio

    async def infer(indices):
        await asyncio.sleep(0.0005)

    run = _run(CallableSUT(infer, workers=4), short_settings("Server"))
    assert run.status == "complete" and run.outstanding_samples == 0
    assert run.trace.metadata["sut"]["async"] is True


def test_trace_file_round_trip_reproduces_summary(tmp_path):
    from simbench.bench.job import summarize_trace_file, write_run

    run = _run(NullSUT(), short_settings("Server"))
    write_run(run, tmp_path)
    assert render_text(summarize_trace_file(tmp_path / "trace.parquet")) == render_text(run.summary)
    assert (tmp_path / "mlperf_log_summary.txt").read_text() == render_text(run.summary)


def test_server_coalesces_overdue_queries():
    import time as _time

    calls = []

    class Slow(NullSUT):
        def issue_query(self, samples):
            calls.append(len(samples))
            _time.sleep(0.003)  # issuing blocks: queries pile up behind it
            super().issue_query(samples)

    s = short_settings("Server", server_target_qps=2000.0, server_coalesce_queries=True)
    run = _run(Slow(), s)
    assert max(calls) > 1 and sum(calls) == run.trace.query_count
    np.testing.assert_array_equal(run.trace.issue_ns, schedule(run.effective).scheduled_ns)
    assert np.all(run.trace.issued_ns >= run.trace.issue_ns)


@pytest.mark.parametrize("field, value", [("mode", 1), ("server_num_issue_query_threads", 2)])
def test_unsupported_settings_are_rejected(field, value):
    import dataclasses

    with pytest.raises(ValueError, match=field):
        LoadGenerator(NullSUT(), dataclasses.replace(short_settings("Server"), **{field: value}),
                      qsl_total_count=1000, qsl_performance_count=256)
