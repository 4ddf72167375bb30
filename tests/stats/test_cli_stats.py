"""``simbench stats`` as a user runs it (subprocess of the installed entry point)."""

import os
import subprocess
import sys

import numpy as np

from simbench.trace import Trace, write_trace


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "simbench.cli.main", "stats", *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_sample_size_table_reproduces_the_paper():
    r = run("sample-size", "--table")
    assert r.returncode == 0, r.stderr
    for number in ("23,886", "50,425", "85,811", "262,742", "24,576", "57,344", "90,112", "270,336"):
        assert number in r.stdout


def test_sample_size_single_row_and_bad_percentile():
    r = run("sample-size", "--percentile", "99", "--confidence", "0.99")
    assert r.returncode == 0 and "262,742" in r.stdout and "270,336" in r.stdout
    r = run("sample-size", "--percentile", "0.99", "--margin", "2")
    assert r.returncode != 0
    assert run("sample-size", "--percentile", "101").returncode != 0


def test_required_queries_from_a_trace(tmp_path):
    rng = np.random.default_rng(0)
    n = 30_000
    issue = np.cumsum(rng.exponential(1e5, size=n)).astype(np.int64)
    trace = Trace(query_id=np.arange(n), sample_index=np.zeros(n, dtype=np.int64), issue_ns=issue,
                  complete_ns=issue + rng.integers(1_000_000, 2_000_000, size=n))
    path = write_trace(trace, tmp_path / "run.parquet")
    r = run("required-queries", "--trace", str(path), "--percentile", "90")
    assert r.returncode == 0, r.stderr
    assert "30,000" in r.stdout and "23,886" in r.stdout and "yes" in r.stdout


def test_required_queries_flags_and_trims_a_warm_up(tmp_path):
    import json

    rng = np.random.default_rng(5)
    n = 100_000
    issue = np.arange(n, dtype=np.int64) * 1_000_000  # one query per ms
    latency = rng.exponential(1e6, size=n)
    latency[:2_000] *= 2.0  # the first 2 s twice as slow
    trace = Trace(query_id=np.arange(n), sample_index=np.zeros(n, dtype=np.int64), issue_ns=issue,
                  complete_ns=issue + latency.astype(np.int64) + 1)
    path = write_trace(trace, tmp_path / "warm.parquet")
    r = run("required-queries", "--trace", str(path))
    assert r.returncode == 0, r.stderr
    assert "warning: warm-up" in r.stdout and "NO" in r.stdout
    data = json.loads(run("required-queries", "--trace", str(path), "--warmup-s", "2.5", "--json").stdout)
    assert data["trimmed_queries"] == 2_500 and data["query_count"] == n - 2_500
    assert not any(w.startswith("warm-up") for w in data["warnings"])
    assert data["required_queries"] == int(np.ceil(data["iid_queries"] * data["autocorrelation"]["tau_high"]))
    bad = run("required-queries", "--trace", str(path), "--warmup-s", "500")
    assert bad.returncode == 2 and "drops all 100,000 queries" in bad.stderr


def test_validate_writes_table_and_figure(tmp_path):
    out = tmp_path / "v.html"
    r = run("validate", "--law", "gamma", "--percentile", "90", "--queries", "2000", "--replications", "50",
            "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "early_stopping" in r.stdout and "percentile_ci" in r.stdout
    assert "interval [x_(" in r.stdout  # rich must not eat the brackets
    assert out.is_file() and "plotly" in out.read_text()[:5000].lower()


def test_validate_on_simulator_latencies():
    r = run("validate", "--simulator", "a100", "--utilization", "0.3,0.9", "--batching", "none", "--percentile", "90",
            "--queries", "3000", "--replications", "20", "--reference-queries", "200000", "--workers", "1",
            "--no-restore")
    assert r.returncode == 0, r.stderr
    assert "0.3, none, poisson" in r.stdout and "0.9, none, poisson" in r.stdout
    assert "reference 200,000 queries" in r.stderr  # progress: row n/N with the reference run
    assert run("validate", "--simulator", "a100", "--batching", "static", "--replications", "2").returncode != 0


def test_validate_procedure_end_to_end_json():
    import json

    r = run("validate", "--law", "queue", "--utilization", "0.5", "--procedure", "--percentile", "90",
            "--replications", "10", "--budget-queries", "5e6", "--json")
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(r.stdout)["rows"]
    result = row["procedure"]
    assert result["pilot_queries"] == 24_576 and result["iid_queries"] == 23_886
    geyer = next(e for e in result["estimates"] if e["method"] == "geyer")
    assert geyer["pilots"] == 10 and geyer["direct_replications"] >= 1
    assert 23_886 * 4 < geyer["corrected_median"] < 23_886 * 12
    bad = run("validate", "--law", "lognormal", "--procedure")
    assert bad.returncode == 2 and "--procedure" in bad.stderr


def test_validate_gig1_service_shape_and_its_errors():
    import json

    r = run("validate", "--law", "queue", "--utilization", "0.5", "--service-shape", "4", "--arrival-shape", "0.5",
            "--percentile", "90", "--queries", "2000", "--replications", "50", "--no-restore",
            "--reference-queries", "2000000", "--json")
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(r.stdout)["rows"]
    assert "GIG1Law" in row["law"] and "service_shape=4.0" in row["law"] and "Gamma k=4 service" in row["label"]
    bad = run("validate", "--law", "queue", "--service-shape", "0")
    assert bad.returncode == 2 and "--service-shape" in bad.stderr and "Traceback" not in bad.stderr
    bad = run("validate", "--law", "lognormal", "--service-shape", "4")
    assert bad.returncode == 2 and "--service-shape" in bad.stderr
