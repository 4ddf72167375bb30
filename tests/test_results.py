"""One writer for simulated and real runs (simbench.results); nothing completed is lost to a
renderer bug, a failing summary or a killed process (the spill)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from simbench.settings import Scenario, TestSettings, resolve
from simbench.trace import Trace, read_trace

FILES = {"trace.parquet", "mlperf_log_summary.txt", "mlperf_log_detail.txt", "summary.json"}
TIMELINE = "device_timeline.parquet"
RUN_KEYS = {"kind", "engine", "run_status", "run_errors", "wall_s", "sut", "host", "sample_count_in_trace"}
META_KEYS = {"kind", "engine", "scenario", "settings", "effective_settings", "sut", "sut_name", "seeds",
             "generated_query_count", "ran_out_of_queries", "run_status", "errors", "simbench_version", "host"}


def _sim(tmp_path, scenario=Scenario.Server):
    from simbench.jobs import SimulateOptions, simulate_job

    return simulate_job(SimulateOptions(scenarios=(scenario,), target_qps=2000.0, min_duration_s=0.3, out=str(tmp_path)))


def _bench(tmp_path, scenario=Scenario.Server):
    from simbench.bench.job import BenchmarkOptions, benchmark_job

    return benchmark_job(BenchmarkOptions(sut="null", scenarios=(scenario,), target_qps=500.0, min_duration_s=0.3, out=str(tmp_path)))


def test_simulate_and_benchmark_write_the_same_files_and_keys(tmp_path):
    _sim(tmp_path / "sim")
    _bench(tmp_path / "bench")
    sim_d, bench_d = tmp_path / "sim" / "Server", tmp_path / "bench" / "Server"
    # a profile with a device model also writes its device timeline (docs/dvfs.md); a real run
    # does where the machine has power meters (none here)
    assert {p.name for p in sim_d.iterdir()} == FILES | {TIMELINE}
    assert {p.name for p in bench_d.iterdir()} - {TIMELINE} == FILES
    sj = json.loads((sim_d / "summary.json").read_text())
    bj = json.loads((bench_d / "summary.json").read_text())
    assert RUN_KEYS <= set(sj) and RUN_KEYS <= set(bj)
    assert (sj["kind"], sj["engine"], sj["run_status"]) == ("simulated", "numba", "complete")
    assert (bj["kind"], bj["engine"], bj["run_status"]) == ("real", "simbench", "complete")
    assert sj["sample_count_in_trace"] == sj["result_sample_count"] and bj["sample_count_in_trace"] == bj["result_sample_count"]
    st, bt = read_trace(sim_d / "trace.parquet"), read_trace(bench_d / "trace.parquet")
    assert META_KEYS <= set(st.metadata) and META_KEYS <= set(bt.metadata)
    # Both detail logs carry the requested settings and the generated query count.
    for d, t in ((sim_d, st), (bench_d, bt)):
        keys = [json.loads(line[len(":::MLLOG "):])["key"] for line in (d / "mlperf_log_detail.txt").read_text().splitlines()]
        assert "requested_server_target_qps" in keys and "generated_query_count" in keys
        assert t.metadata["generated_query_count"] > 0


def test_renderer_bug_keeps_the_trace(tmp_path, monkeypatch):
    import simbench.report

    def broken(summary):
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(simbench.report, "render_text", broken)
    with pytest.raises(RuntimeError, match="renderer bug"):
        _sim(tmp_path)
    d = tmp_path / "Server"
    names = {p.name for p in d.iterdir()}
    assert names == FILES - {"mlperf_log_summary.txt"}  # everything else was still written
    t = read_trace(d / "trace.parquet")
    assert len(t) == json.loads((d / "summary.json").read_text())["result_sample_count"] > 0


def test_failing_summary_keeps_the_real_trace(tmp_path, monkeypatch):
    import simbench.summary

    def broken(*a, **k):
        raise ZeroDivisionError("summary bug")

    monkeypatch.setattr(simbench.summary, "summarize", broken)
    with pytest.raises(ZeroDivisionError, match="summary bug"):
        _bench(tmp_path)
    d = tmp_path / "Server"
    t = read_trace(d / "trace.parquet")
    assert len(t) > 100 and t.metadata["run_status"] == "complete"
    assert json.loads((d / "summary.json").read_text())["result_validity"] == "INVALID"


def test_spill_parts_are_a_prefix_of_the_final_trace(tmp_path):
    """Parts spilled during a run hold only completed samples, each with the timestamps the
    final trace records; read together they form a valid query-major Trace."""
    from simbench.bench import LoadGenerator, NullSUT
    from simbench.settings import official_settings

    s = dataclasses.replace(official_settings("resnet50", "Server"), server_target_qps=2000.0, min_duration_ms=1500)
    parts = tmp_path / "trace.parts"
    run = LoadGenerator(NullSUT(), s, qsl_total_count=1024, qsl_performance_count=1024, spill_dir=parts, spill_every_s=0.1).run()
    files = sorted(parts.glob("part-*.parquet"))
    # several parts (spilled every 0.1 s of a 1.5 s run); not a timing figure: a loaded machine
    # may spill fewer, and two are enough to check that parts read together form the prefix
    assert len(files) >= 2
    spilled = read_trace(parts)
    assert spilled.metadata["run_status"] == "incomplete" and spilled.metadata["read_from_parts"]["parts"] == len(files)
    assert np.all(np.diff(spilled.query_id) >= 0)
    final = run.trace
    pos = np.searchsorted(final.query_id, spilled.query_id)
    assert np.array_equal(final.query_id[pos], spilled.query_id)
    for col in ("sample_index", "issue_ns", "issued_ns", "complete_ns"):
        assert np.array_equal(getattr(final, col)[pos], getattr(spilled, col)), col
    assert 0 < len(spilled) <= len(final)


def test_empty_run_gets_every_file(tmp_path):
    """A run in which nothing completed still gets the four files, saying why."""
    from simbench.bench.job import write_run
    from simbench.bench.loadgen import LoadGenerator
    from simbench.bench.sut import NullSUT as _Null

    class Silent(_Null):
        name = "Silent"

        def issue_query(self, samples):
            pass

    s = TestSettings(scenario="Offline", min_query_count=10, min_duration_ms=0)
    run = LoadGenerator(Silent(), s, qsl_total_count=16, qsl_performance_count=16, stall_timeout_s=0.2).run()
    d = write_run(run, tmp_path / "Offline")
    assert {p.name for p in d.iterdir()} == FILES
    assert "No sample completed" in (d / "mlperf_log_summary.txt").read_text()
    assert "never completed" in (d / "mlperf_log_summary.txt").read_text()
    j = json.loads((d / "summary.json").read_text())
    assert j["result_validity"] == "INVALID" and j["run_status"] == "failed" and j["sample_count_in_trace"] == 0


def test_offline_short_of_samples_names_the_sample_check():
    """Case 19: an Offline run stopped at 415 of 24,576 samples fails the *sample* count."""
    from simbench.settings import official_settings
    from simbench.summary import summarize

    eff = resolve(official_settings("resnet50", "Offline"), 50_000, 1024)
    assert (eff.min_query_count, eff.min_sample_count) == (1, 24_576)
    n = 415
    t = Trace(
        query_id=np.zeros(n, dtype=np.int64),
        sample_index=np.arange(n, dtype=np.int64),
        issue_ns=np.zeros(n, dtype=np.int64),
        complete_ns=np.arange(1, n + 1, dtype=np.int64) * 1_000_000,
    )
    reasons = summarize(t, eff).invalid_reasons
    assert "min sample count not met (415 < 24576)" in reasons
    assert not any("min query count" in r for r in reasons)
