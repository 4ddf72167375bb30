"""`simbench benchmark` and `simbench trace` end to end through the Typer app."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from simbench.cli.main import app

runner = CliRunner()


def test_benchmark_null_all_scenarios(tmp_path):
    r = runner.invoke(
        app,
        ["benchmark", "--sut", "null", "--scenario", "all", "--target-qps", "500", "--min-duration-s", "0.2",
         "--min-query-count", "20", "--out", str(tmp_path), "--json"],
    )
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout[r.stdout.index("["):])
    assert [d["scenario"] for d in payload] == ["SingleStream", "MultiStream", "Server", "Offline"]
    for d in payload:
        files = {p.name for p in (tmp_path / d["scenario"]).iterdir()}
        assert {"trace.parquet", "mlperf_log_summary.txt", "summary.json"} <= files


def test_benchmark_tiny_onnx_text_output(tmp_path):
    r = runner.invoke(
        app,
        ["benchmark", "--sut", "onnx:tiny", "--scenario", "Offline", "--min-duration-s", "0.1", "--min-query-count", "64",
         "--threads", "1", "--workers", "2", "--batching", "dynamic:8:100", "--out", str(tmp_path)],
    )
    assert r.exit_code == 0, r.output
    assert "Samples per second" in r.stdout and "MLPerf Results Summary" in r.stdout


def test_benchmark_server_needs_target_qps(tmp_path):
    r = runner.invoke(app, ["benchmark", "--sut", "null", "--scenario", "Server", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "--target-qps" in r.output


@pytest.mark.parametrize("flag, value", [("--sut", "tpu:foo"), ("--engine", "tensorrt"), ("--batching", "dynamic:x")])
def test_benchmark_bad_flags(flag, value, tmp_path):
    args = ["benchmark", "--sut", "null", "--scenario", "Offline", "--out", str(tmp_path), flag, value]
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and flag in r.output


def test_benchmark_mlcommons_then_trace_tools(tmp_path):
    pytest.importorskip("mlperf_loadgen")
    r = runner.invoke(
        app,
        ["benchmark", "--sut", "null", "--scenario", "Server", "--target-qps", "400", "--min-duration-s", "0.2",
         "--engine", "mlcommons", "--out", str(tmp_path)],
    )
    assert r.exit_code == 0, r.output
    d = tmp_path / "Server"
    assert (d / "loadgen" / "mlperf_log_summary.txt").is_file()
    r = runner.invoke(app, ["trace", "import", str(d / "loadgen"), "--out", str(tmp_path / "imp"), "--json"])
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    assert payload["comparison"]["result_99.00_percentile_latency_ns"]["rel_diff"] == 0.0
    r = runner.invoke(app, ["trace", "summary", str(d / "trace.parquet")])
    assert r.exit_code == 0 and r.stdout == (d / "mlperf_log_summary.txt").read_text()


@pytest.mark.parametrize("sig, engine", [("SIGINT", "simbench"), ("SIGTERM", "simbench"), ("SIGINT", "mlcommons")])
def test_signal_flushes_partial_trace(sig, engine, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from simbench.trace import read_trace

    cmd = [sys.executable, "-c", "from simbench.cli.main import main; main()", "benchmark", "--sut", "null",
           "--scenario", "Server", "--target-qps", "500", "--min-duration-s", "60", "--out", str(tmp_path), "--engine", engine]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    trace = tmp_path / "Server"
    # Signal once the run is under way: its first spill of completed samples is on disk.
    deadline = time.time() + 60
    while not (trace / "trace.parts" / "part-000000.parquet").exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    p.send_signal(getattr(signal, sig))
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err.decode()
    t = read_trace(trace / "trace.parquet")
    assert len(t) > 10 and t.metadata["run_status"] == "interrupted"
    assert "INVALID" in (trace / "mlperf_log_summary.txt").read_text()
    assert not (trace / "trace.parts").exists()  # the spill is removed once the trace is written
    assert "Traceback" not in err.decode()


def test_mlcommons_engine_without_the_package(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mlperf_loadgen", None)  # as if not installed
    r = runner.invoke(app, ["benchmark", "--sut", "null", "--scenario", "Offline", "--engine", "mlcommons", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "pip install" in r.output
