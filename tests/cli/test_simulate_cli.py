"""The CLI as a user runs it (a real subprocess of the installed entry point)."""

import json
import subprocess
import sys
import tempfile

import pytest


def run(*args, cwd=None):
    # Run from outside the checkout, as a user would, so the installed package is what runs.
    return subprocess.run(
        [sys.executable, "-m", "simbench.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd or tempfile.gettempdir(),
        timeout=300,
    )


def test_help_lists_commands():
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("simulate", "profile"):
        assert cmd in r.stdout


def test_offline_short_run_valid_and_files_written(tmp_path):
    r = run("simulate", "--profile", "a100", "--scenario", "Offline", "--min-duration-s", "5", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "Scenario : Offline" in r.stdout and "Result is : VALID" in r.stdout
    for name in ("trace.parquet", "mlperf_log_summary.txt", "summary.json"):
        assert (tmp_path / "Offline" / name).is_file()
    d = json.loads((tmp_path / "Offline" / "summary.json").read_text())
    assert d["result_validity"] == "VALID" and d["effective_settings"]["samples_per_query"] == 236_500


def test_server_far_above_capacity_is_invalid_with_reason(tmp_path):
    r = run("simulate", "--scenario", "Server", "--target-qps", "200000", "--min-duration-s", "1", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "Result is : INVALID" in r.stdout
    assert "  Performance constraints satisfied : NO" in r.stdout
    assert " * Reduce target QPS to improve latency." in r.stdout


def test_batching_n_is_the_benchmark_grammar(tmp_path):
    """``--batching 8`` means dynamic:8:0 for simulate, as it does for benchmark."""
    import pyarrow.parquet as pq

    r = run("simulate", "--scenario", "Offline", "--min-duration-s", "1", "--batching", "8", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    meta = json.loads(pq.read_schema(tmp_path / "Offline" / "trace.parquet").metadata[b"simbench.run"])
    assert meta["sut"]["batching"] == {"kind": "dynamic", "max_batch": 8, "timeout_us": 0.0}
    batch_sizes = pq.read_table(tmp_path / "Offline" / "trace.parquet").column("batch_id").to_pandas().value_counts()
    assert batch_sizes.max() == 8


def test_json_output(tmp_path):
    r = run("simulate", "--scenario", "SingleStream", "--min-duration-s", "2", "--json", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data[0]["scenario"] == "SingleStream" and data[0]["result_validity"] == "VALID"
    assert data[0]["early_stopping_latency_ss"] > 0


@pytest.mark.parametrize(
    "args,fragment",
    [
        (("--profile", "a1000"), "unknown profile 'a1000'; shipped profiles: a100"),
        (("--profile", "a100", "--model", "gpt9"), "has no model 'gpt9'"),
        (("--scenario", "Streaming"), "unknown value 'Streaming'"),
        (("--batching", "static:8"), "--batching: expected none | N | dynamic:MAX_BATCH[:TIMEOUT_US]"),
        (("--batching", "dynamic:0"), "--batching 'dynamic:0': MAX_BATCH must be in 1..1000000"),
        (("--engine", "gpu"), "--engine: expected auto, simpy or numba"),
    ],
)
def test_bad_flags_give_one_clear_error(args, fragment, tmp_path):
    r = run("simulate", *args, "--out", str(tmp_path))
    assert r.returncode == 2
    assert fragment in r.stderr and "Traceback" not in r.stderr


def test_bad_profile_and_conf_files(tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("name: x\ndevice: y\nmodels:\n  m:\n    latency:\n      kind: table\n      points:\n        - {batch: 1, latency_ns: fast, source: s}\n")
    r = run("simulate", "--profile", str(prof), "--out", str(tmp_path))
    assert r.returncode == 2 and "models.m.latency.points[0].latency_ns" in r.stderr and str(prof) in r.stderr
    conf = tmp_path / "user.conf"
    conf.write_text("resnet50.Server.target_qps = lots\n")
    r = run("simulate", "--scenario", "Server", "--conf", str(conf), "--out", str(tmp_path))
    assert r.returncode == 2 and f"{conf}:1: key 'resnet50.Server.target_qps': expected a number" in r.stderr


def test_profile_list_and_show():
    r = run("profile", "list")
    assert r.returncode == 0 and "a100" in r.stdout and "A100-SXM4-80GB" in r.stdout
    r = run("profile", "show", "a100", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["name"] == "a100"
