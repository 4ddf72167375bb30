"""Summary against LoadGen's own numbers and layout; Trace Parquet round trip and errors."""

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simbench.report import render_text, summary_to_dict
from simbench.errors import TraceError
from simbench.settings import Scenario, TestSettings, official_settings, resolve
from simbench.summary import summarize
from simbench.trace import Trace, read_trace, write_trace


def _trace(latencies_ns, issue_ns=None):
    n = len(latencies_ns)
    issue = np.zeros(n, dtype=np.int64) if issue_ns is None else np.asarray(issue_ns, dtype=np.int64)
    return Trace(
        query_id=np.arange(n, dtype=np.int64),
        sample_index=np.zeros(n, dtype=np.int64),
        issue_ns=issue,
        complete_ns=issue + np.asarray(latencies_ns, dtype=np.int64),
    )


def test_server_summary_early_stopping_failure_matches_loadgen_text():
    # loadgen.md: 1 ms SUT at 800 QPS, 1,582 queries, 14 over 15 ms -> p99 under the bound,
    # yet INVALID on early stopping, "Would need to run at least 957 more queries".
    lat = np.full(1582, 5_000_000)
    lat[:14] = 20_000_000
    issue = np.arange(1582, dtype=np.int64) * 1_300_000  # last scheduled at 2.06 s
    s = dataclasses.replace(TestSettings(scenario=Scenario.Server, server_target_latency_ns=15_000_000, min_duration_ms=2000, server_target_qps=800))
    summ = summarize(_trace(lat, issue), resolve(s, 1024, 1024), sut_name="PySUT")
    text = render_text(summ)
    assert "Result is : INVALID" in text
    assert "  Performance constraints satisfied : Yes" in text
    assert "  Early stopping satisfied: NO" in text
    assert "Recommendations:\nEarly Stopping Result:\n * Run unsuccessful.\n * Processed 1582 queries.\n * Would need to run at least 957 more queries," in text


def test_server_overloaded_reports_performance_constraint():
    lat = np.full(1000, 50_000_000)
    s = TestSettings(scenario=Scenario.Server, server_target_latency_ns=15_000_000, min_duration_ms=0)
    summ = summarize(_trace(lat, np.arange(1000) * 1000), resolve(s, 1024, 1024))
    text = render_text(summ)
    assert "  Performance constraints satisfied : NO" in text
    assert "Recommendations:\n * Reduce target QPS to improve latency." in text
    assert summ.overlatency_count == 1000


def test_singlestream_layout_and_percentiles_follow_loadgen():
    rng = np.random.default_rng(0)
    lat = rng.integers(400_000, 500_000, size=1577)
    issue = np.concatenate([[0], np.cumsum(lat[:-1])])
    s = TestSettings(scenario=Scenario.SingleStream, min_duration_ms=1, single_stream_expected_latency_ns=500_000)
    summ = summarize(_trace(lat, issue), resolve(s, 1024, 1024), sut_name="PySUT")
    srt = np.sort(lat)
    assert summ.headline_value == srt[1419]  # floor(1577 * 0.9) = 1419
    text = render_text(summ).splitlines()
    assert text[:7] == ["=" * 48, "MLPerf Results Summary", "=" * 48, "SUT name : PySUT", "Scenario : SingleStream", "Mode     : PerformanceOnly", f"90.0th percentile latency (ns) : {srt[1419]}"]
    assert " * Processed at least 64 queries (1577)." in text
    assert f"50.00 percentile latency (ns)   : {srt[788]}" in text
    assert f"Mean latency (ns)               : {int(lat.sum() // 1577)}" in text
    assert f"QPS w/o loadgen overhead        : {1e9 / (lat.sum() // 1577):.2f}" in text
    assert text[-1] == "No errors encountered during test."


def test_offline_samples_per_second_and_min_duration():
    lat = np.arange(1, 2201, dtype=np.int64) * 1_000_000
    s = TestSettings(scenario=Scenario.Offline, offline_expected_qps=1000, min_duration_ms=2000, min_query_count=1)
    eff = resolve(s, 1024, 1024)
    tr = Trace(query_id=np.zeros(2200, dtype=np.int64), sample_index=np.arange(2200) % 1024, issue_ns=np.zeros(2200, dtype=np.int64), complete_ns=lat)
    summ = summarize(tr, eff)
    assert summ.samples_per_second == pytest.approx(1000.0) and summ.result_valid
    assert "Samples per second: 1000\n" in render_text(summ)
    short = summarize(tr, resolve(dataclasses.replace(s, min_duration_ms=3000), 1024, 1024))
    assert not short.min_duration_met and " * Increase expected QPS so the loadgen pre-generates a larger (coalesced) query." in render_text(short)


def test_errors_make_the_run_invalid():
    s = TestSettings(scenario=Scenario.SingleStream, min_duration_ms=0)
    summ = summarize(_trace(np.full(100, 1000), np.arange(100) * 1000), resolve(s, 10, 10), errors=("Ran out of generated queries",))
    assert not summ.result_valid and "1 ERROR encountered. See detailed log." in render_text(summ)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 2**40), min_size=1, max_size=200), st.booleans())
def test_parquet_round_trip(tmp_path_factory, latencies, with_optional):
    n = len(latencies)
    tr = _trace(latencies, np.arange(n) * 7)
    if with_optional:
        tr.start_ns = tr.issue_ns + (tr.complete_ns - tr.issue_ns) // 2
        tr.batch_id = np.arange(n) // 3
        tr.device_id = np.zeros(n, dtype=np.int64)
    tr.metadata = {"kind": "simulated", "settings": TestSettings().to_dict(), "seed": str(2**63 + 5)}
    p = write_trace(tr, tmp_path_factory.mktemp("t") / "x.parquet")
    back = read_trace(p)
    for col in ("query_id", "sample_index", "issue_ns", "complete_ns", "start_ns", "batch_id", "device_id", "issued_ns"):
        a, b = getattr(tr, col), getattr(back, col)
        assert (a is None and b is None) or np.array_equal(a, b)
    assert back.metadata == tr.metadata
    assert TestSettings.from_dict(back.metadata["settings"]) == TestSettings()


def test_summary_reproduced_from_parquet_alone(tmp_path):
    from simbench.sim import simulate
    from simbench.testing import make_sut

    s = dataclasses.replace(official_settings("resnet50", "Server"), server_target_qps=300, min_duration_ms=2000)
    run = simulate(s, make_sut(2e6))
    p = write_trace(run.trace, tmp_path / "t.parquet")
    from simbench.bench.job import summarize_trace_file

    # From the file alone: the settings come from the trace's metadata, not from the caller.
    from_file = summarize_trace_file(p)
    assert from_file.effective == run.effective and from_file.effective.target_qps == 300
    assert render_text(from_file) == render_text(summarize(run.trace, run.effective, sut_name=run.trace.metadata["sut"]["name"]))


@pytest.mark.parametrize(
    "table,fragment",
    [
        (pa.table({"query_id": [0], "sample_index": [0], "issue_ns": [0]}), "missing required column 'complete_ns'"),
        (pa.table({"query_id": [0], "sample_index": [0], "issue_ns": [0], "complete_ns": [1.5]}), "column 'complete_ns': expected int64 ns"),
        (pa.table({"query_id": [1, 0], "sample_index": [0, 0], "issue_ns": [0, 0], "complete_ns": [1, 1]}), "ordered by query_id (query-major); row 1 has query_id 0 after 1"),
        (pa.table({"query_id": [0, 1, 2], "sample_index": [0] * 3, "issue_ns": [0, 5, 9], "complete_ns": [3, 4, 8]}),
         "column 'complete_ns': row 1 (query_id 1): complete_ns 4 < issue_ns 5; a trace needs 0 <= issue_ns <= start_ns <= complete_ns (2 of 3 rows break it)"),
        (pa.table({"query_id": [0, 1], "sample_index": [0, 0], "issue_ns": [0, 5], "start_ns": pa.array([None, 4], pa.int64()), "complete_ns": [3, 9]}),
         "column 'start_ns': row 1 (query_id 1): start_ns 4 < issue_ns 5"),
        (pa.table({"query_id": [0, 1], "sample_index": [0, 0], "issue_ns": [0, 5], "start_ns": [2, 7], "complete_ns": [1, 9]}),
         "column 'complete_ns': row 0 (query_id 0): complete_ns 1 < start_ns 2"),
        (pa.table({"query_id": [0], "sample_index": [0], "issue_ns": [-3], "complete_ns": [9]}), "column 'issue_ns': row 0 (query_id 0): issue_ns -3 < 0"),
    ],
)
def test_malformed_trace_errors_name_file_and_column(tmp_path, table, fragment):
    p = tmp_path / "bad.parquet"
    pq.write_table(table, p)
    with pytest.raises(TraceError) as exc:
        read_trace(p)
    assert str(p) in str(exc.value) and fragment in str(exc.value)


def test_null_start_ns_rows_only_need_issue_before_complete(tmp_path):
    p = tmp_path / "ok.parquet"
    pq.write_table(pa.table({"query_id": [0, 1], "sample_index": [0, 0], "issue_ns": [0, 5], "start_ns": pa.array([None, 6], pa.int64()), "complete_ns": [3, 9]}), p)
    t = read_trace(p)
    assert t.start_ns.tolist()[1] == 6 and t.masks["start_ns"].tolist() == [False, True]


def test_zero_row_trace_round_trips_and_summarises_invalid(tmp_path):
    empty = np.zeros(0, dtype=np.int64)
    tr = Trace(query_id=empty, sample_index=empty, issue_ns=empty, complete_ns=empty, metadata={"kind": "real"})
    back = read_trace(write_trace(tr, tmp_path / "e.parquet"))
    assert len(back) == 0 and back.query_id.shape == (0,) and back.start_ns is None
    eff = resolve(official_settings("resnet50", "Server"), 10, 10)
    summ = summarize(back, eff, errors=("SUT raised RuntimeError: boom",))
    assert (summ.result_valid, summ.query_count, summ.sample_count) == (False, 0, 0)
    assert summ.invalid_reasons[-2:] == ("SUT raised RuntimeError: boom", "no samples completed: the trace is empty")
    assert "2 ERRORS encountered. See detailed log." in render_text(summ)


def test_not_parquet(tmp_path):
    p = tmp_path / "x.parquet"
    p.write_text("hello")
    with pytest.raises(TraceError, match="not a readable Parquet trace"):
        read_trace(p)


def test_short_singlestream_early_stopping_block_matches_real_loadgen():
    # Layout of a real mlcommons-loadgen 6.0.17 SingleStream run with 201 queries (null SUT):
    # the p99 estimate needs 662 queries, and LoadGen wraps that message over three lines.
    lat = np.arange(1000, 1201)
    s = TestSettings(scenario=Scenario.SingleStream, min_duration_ms=100, single_stream_expected_latency_ns=1_000_000)
    text = render_text(summarize(_trace(lat, np.arange(201) * 1000), resolve(s, 1024, 1024)))
    assert (
        "Early Stopping Result:\n"
        " * Processed at least 64 queries (201).\n"
        " * Would discard 9 highest latency queries.\n"
        " * Early stopping 90.0th percentile estimate: 1191\n"
        " * Not enough queries processed for 99.0th percentile\n"
        " early stopping estimate (would need to process at\n"
        " least 662 total queries).\n"
    ) in text
    assert "Recommendations:\n * Decrease the expected latency so the loadgen pre-generates more queries.\n" in text


def test_issue_lag_reported_for_real_runs_only():
    lat = np.full(500, 1_000_000)
    issue = np.arange(500, dtype=np.int64) * 2_000_000
    tr = _trace(lat, issue)
    s = TestSettings(scenario=Scenario.Server, server_target_latency_ns=15_000_000, min_duration_ms=0)
    eff = resolve(s, 1024, 1024)
    assert "issue_lag_ns" not in summary_to_dict(summarize(tr, eff))
    tr.issued_ns = issue + np.arange(500) % 100  # lags 0..99 ns
    summ = summarize(tr, eff)
    lag = summary_to_dict(summ)["issue_lag_ns"]
    assert lag["max"] == 99 and lag["50.00"] == 50 and lag["99.00"] == 99
    assert "Max issue lag (ns)              : 99" in render_text(summ)
