"""The statistics every Summary carries (issue 11 §1-2): τ, its bound, the corrected count, warnings."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from simbench.report import render_text, summary_to_dict
from simbench.settings import Scenario, TestSettings, resolve
from simbench.stats import QueueLaw, indicator_autocorrelation, required_queries, sample_latencies
from simbench.stats.run_statistics import MAX_SERIES, run_statistics
from simbench.summary import summarize
from simbench.trace import Trace, write_trace


def _warm_up(n: int, seed: int = 3) -> np.ndarray:
    """The issue's case: i.i.d. exponential latencies whose first 2 % are twice as slow."""
    x = np.random.default_rng(seed).exponential(1e6, size=n)
    x[: int(0.02 * n)] *= 2.0
    return x


def test_short_run_is_required_queries_itself():
    x = np.random.default_rng(0).exponential(1e6, size=50_000)
    stats, rq = run_statistics(x, 0.9), required_queries(x, 0.9)
    assert stats.basis == "all 50,000 queries"
    assert (stats.tau, stats.tau_high, stats.required_queries, stats.warnings) == (
        rq.autocorrelation.autocorrelation_time, rq.autocorrelation.tau_high, rq.required_queries, rq.warnings)
    assert stats.required_queries == math.ceil(rq.iid_queries * rq.autocorrelation.tau_high)


def test_iid_long_run_not_flagged():
    x = np.random.default_rng(1).exponential(1e6, size=600_000)
    stats = run_statistics(x, 0.99)
    assert stats.basis.startswith("block means of 5 queries (120,000 blocks")
    assert stats.warnings == ()
    assert 0.9 < stats.tau < 1.15 and stats.tau_high < 1.2
    assert stats.iid_queries == 262_742  # Eq. 2, unrounded ceil
    assert stats.required_queries == math.ceil(262_742 * stats.tau_high)
    assert stats.sufficient is True


@pytest.mark.parametrize("max_series", [MAX_SERIES, 10**6])  # block path, query-by-query path
def test_warm_up_is_flagged_on_both_paths(max_series):
    stats = run_statistics(_warm_up(270_336), 0.99, max_series=max_series)
    assert any(w.startswith("warm-up:") for w in stats.warnings), stats.warnings
    # MSER-5 finds the 5,406 slow queries (to within one block of 5 b queries)
    assert abs(stats.warmup_queries - 5_406) <= 5 * math.ceil(270_336 / max_series)


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_block_means_agree_with_the_full_series(rho):
    # τ = τ_bm(b) τ_Z is exact for the variance of the total; the estimates agree to a few %.
    x = sample_latencies(QueueLaw(rho), 1_500_000, seed=4, replication=0)
    full = indicator_autocorrelation(x, 0.99, method="geyer")
    stats = run_statistics(x, 0.99)
    assert stats.basis.startswith("block means of 12 queries")
    assert abs(stats.tau / full.geyer_time - 1) < 0.05, (stats.tau, full.geyer_time)
    assert abs(stats.tau_high / full.tau_high - 1) < 0.15


def test_too_few_queries_states_the_reason():
    stats = run_statistics(np.arange(50), 0.9)
    assert stats.tau is None and stats.required_queries is None
    assert stats.basis == "not analysed: 50 queries (fewer than 64: too few to estimate tau)"


def _trace(latencies_ns, gap_ns=1_000_000):
    n = len(latencies_ns)
    issue = np.arange(n, dtype=np.int64) * gap_ns
    return Trace(query_id=np.arange(n, dtype=np.int64), sample_index=np.zeros(n, dtype=np.int64), issue_ns=issue,
                 complete_ns=issue + np.asarray(latencies_ns, dtype=np.int64))


def _server():
    return resolve(TestSettings(scenario=Scenario.Server, server_target_latency_ns=100_000_000, min_duration_ms=0),
                   1024, 1024)


def test_summary_json_and_text_carry_the_warnings():
    warm = summarize(_trace(_warm_up(270_336).astype(np.int64)), _server())
    d = summary_to_dict(warm)
    assert d["statistics_percentile"] == 0.99 and d["statistics_tau_method"] == "geyer"
    assert any(w.startswith("warm-up:") for w in d["statistics_warnings"])
    assert d["statistics_required_queries"] == math.ceil(262_742 * d["statistics_tau_high"])
    assert d["statistics_tau_low"] <= d["statistics_tau"] <= d["statistics_tau_high"]
    text = render_text(warm)
    assert "Statistics warnings (simbench; docs/statistics.md, simbench stats required-queries):" in text
    assert f"Queries needed (Eq. 2 x tau upper)     : {d['statistics_required_queries']}" in text
    assert f"tau of the 99.0th percentile indicator : {d['statistics_tau']:.2f} (upper bound" in text
    assert " * warm-up: the first 10 % of queries exceed the p99" in text
    json.dumps(d)  # JSON-able as written to summary.json
    iid = summarize(_trace(np.random.default_rng(5).exponential(1e6, 270_336).astype(np.int64)), _server())
    assert summary_to_dict(iid)["statistics_warnings"] == []
    assert "Statistics warnings" not in render_text(iid)


def test_offline_and_empty_runs_state_why_not_analysed():
    off = resolve(TestSettings(scenario=Scenario.Offline, min_duration_ms=0), 1024, 1024)
    n = 500
    trace = Trace(query_id=np.zeros(n, dtype=np.int64), sample_index=np.arange(n, dtype=np.int64),
                  issue_ns=np.zeros(n, dtype=np.int64), complete_ns=np.arange(1, n + 1, dtype=np.int64) * 1000)
    d = summary_to_dict(summarize(trace, off))
    assert d["statistics_basis"].startswith("not analysed: Offline issues one query of 500 samples")
    assert d["statistics_tau"] is None and d["statistics_warnings"] == []
    empty = Trace(query_id=np.zeros(0, dtype=np.int64), sample_index=np.zeros(0, dtype=np.int64),
                  issue_ns=np.zeros(0, dtype=np.int64), complete_ns=np.zeros(0, dtype=np.int64))
    assert summary_to_dict(summarize(empty, _server()))["statistics_basis"] == "not analysed: no sample completed"


def test_trace_summary_json_has_the_fields(tmp_path):
    import subprocess
    import sys

    latencies = _warm_up(20_000, seed=8).astype(np.int64)
    trace = _trace(latencies)
    trace.metadata = {"effective_settings": _server().to_dict()}
    path = write_trace(trace, tmp_path / "warm.parquet")
    r = subprocess.run([sys.executable, "-m", "simbench.cli.main", "trace", "summary", str(path), "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    direct = run_statistics(latencies, 0.99)
    assert d["statistics_required_queries"] == direct.required_queries
    assert d["statistics_warnings"] == list(direct.warnings) and direct.warnings
