"""Issue 8's bad-input reproducer cases, run from the CLI as a new user runs them.

Each test replicates one case's ``cmd.sh`` (a real subprocess of the installed entry point,
from a fresh working folder holding a copy of the case's fixture files from
``tests/data/cases/NN-name/``) and asserts what its ``expected.md`` asks: the exit code and
the message content.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CASES = Path(__file__).resolve().parent.parent / "data" / "cases"


def run(*args, cwd, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "simbench.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


def case_dir(tmp_path: Path, name: str) -> Path:
    """A writable copy of the case's fixture folder (as cmd.sh makes one)."""
    src = CASES / name
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def one_error_line(r) -> str:
    """The CLI's error output must be one ``error: ...`` line and no traceback."""
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1, r.stderr
    return errors[0]


# --- conf reader (cases 01-05) ---------------------------------------------------------


def test_case01_conf_float_overflow_is_a_conf_error(tmp_path):
    w = case_dir(tmp_path, "01-conf-float-overflow")
    r = run("simulate", "--scenario", "Server", "--target-qps", "1000", "--conf", "user.conf", "--out", "./sb_case01", cwd=w)
    assert r.returncode == 2
    msg = one_error_line(r)
    assert msg.startswith("error: user.conf:1: key *.*.min_duration: expected a non-negative integer, got '1e400'")
    assert not (w / "sb_case01" / "Server").exists()  # refused before any work


def test_case02_conf_max_duration_must_fit_int64_ns(tmp_path):
    w = case_dir(tmp_path, "02-conf-max-duration-int64")
    r = run("simulate", "--scenario", "Server", "--target-qps", "1000", "--min-duration-s", "1", "--conf", "user.conf", "--out", "./sb_case02", cwd=w)
    assert r.returncode == 2
    msg = one_error_line(r)
    assert "user.conf:1: key *.*.max_duration" in msg and "does not fit int64" in msg
    # the limit quoted is the largest ms count whose ns value fits int64
    assert f"{(2**63 - 1) // 1_000_000:,} ms" in msg


def test_case03_conf_with_bom_applies_its_first_line(tmp_path):
    w = case_dir(tmp_path, "03-conf-utf8-bom-line-ignored")
    assert (w / "user.conf").read_bytes().startswith(b"\xef\xbb\xbf*.Server.target_latency = 1")
    r = run("simulate", "--scenario", "Server", "--target-qps", "1000", "--min-duration-s", "1", "--conf", "user.conf", "--out", "./sb_case03", cwd=w)
    assert r.returncode == 0, r.stderr
    assert "target_latency (ns): 1000000\n" in r.stdout  # 1 ms, not the official 15 ms
    d = json.loads((w / "sb_case03" / "Server" / "summary.json").read_text())
    assert d["effective_settings"]["target_latency_ns"] == 1_000_000


@pytest.mark.parametrize("mode,name", [(1, "AccuracyOnly"), (3, "FindPeakPerformance"), (0, "SubmissionRun")])
def test_case04_simulate_refuses_modes_it_does_not_implement(tmp_path, mode, name):
    w = case_dir(tmp_path, "04-conf-mode-accuracy-simulate")
    (w / "user.conf").write_text(f"*.*.mode = {mode}\n")
    r = run("simulate", "--scenario", "Server", "--target-qps", "1000", "--min-duration-s", "1", "--conf", "user.conf", "--out", "./sb_case04", cwd=w)
    assert r.returncode == 2
    msg = one_error_line(r)
    assert msg.startswith(f"error: user.conf:1: key *.*.mode: mode {mode} ({name}) is not implemented by simbench simulate")
    assert "Result is" not in r.stdout
    # benchmark refuses the same file the same way, naming the key too
    r = run("benchmark", "--sut", "null", "--scenario", "Server", "--target-qps", "1000", "--min-duration-s", "1", "--conf", "user.conf", "--out", "./sb_case04b", cwd=w)
    assert r.returncode == 2
    assert one_error_line(r).startswith(f"error: user.conf:1: key *.*.mode: mode {mode} ({name}) is not implemented")


def test_case05_huge_duration_names_min_duration_and_its_line(tmp_path):
    w = case_dir(tmp_path, "05-conf-huge-duration-blames-wrong-key")
    r = run("simulate", "--scenario", "Server", "--target-qps", "1000", "--conf", "user.conf", "--out", "./sb_case05", cwd=w)
    assert r.returncode == 2
    msg = one_error_line(r)
    assert msg.startswith("error: user.conf:1: key *.*.min_duration")
    assert "server_target_qps" not in msg


def test_case05_schedule_too_large_blames_min_duration_not_the_rate(tmp_path):
    # A duration that fits int64 ns but makes the schedule too large (1e12 ms x 1000 QPS).
    (tmp_path / "user.conf").write_text("# long run\n*.*.min_duration = 1000000000000\n")
    r = run("simulate", "--scenario", "Server", "--target-qps", "1000", "--conf", "user.conf", "--out", "o", cwd=tmp_path)
    assert r.returncode == 2
    msg = one_error_line(r)
    assert msg.startswith("error: user.conf:2: key *.*.min_duration (min_duration_ms): min_duration = 1,000,000,000,000 ms")
    assert "1,000,000,000,000 samples" in msg  # 1e9 s x 1000 QPS
    # ... and the rate when the rate is what is absurd
    r = run("simulate", "--scenario", "Server", "--target-qps", "1e9", "--min-duration-s", "600", "--out", "o", cwd=tmp_path)
    assert r.returncode == 2 and one_error_line(r).startswith("error: --target-qps (server_target_qps): 1e+09 QPS")


def test_every_scenario_is_checked_before_the_first_runs(tmp_path):
    # Offline's line is bad; SingleStream (first) must not run before the error.
    (tmp_path / "user.conf").write_text("*.Offline.min_query_count = 99999999999999999999\n")
    r = run("simulate", "--scenario", "SingleStream,Offline", "--min-duration-s", "1", "--conf", "user.conf", "--out", "o", cwd=tmp_path)
    assert r.returncode == 2
    assert "user.conf:1: key *.Offline.min_query_count: min_query_count" in one_error_line(r)
    assert not (tmp_path / "o" / "SingleStream").exists()


# --- profiles (cases 06-08) and flag bounds (case 09) ---------------------------------


def test_case06_latency_table_that_falls_with_batch_is_refused(tmp_path):
    w = case_dir(tmp_path, "06-profile-decreasing-latency-absurd-throughput")
    r = run("simulate", "--profile", "decreasing.yaml", "--scenario", "Offline", "--min-duration-s", "1", "--batching", "dynamic:64", "--out", "./sb_case06", cwd=w)
    assert r.returncode == 2
    msg = one_error_line(r)
    assert msg.startswith("error: decreasing.yaml: field models.resnet50.latency.points: latency_ns must not fall")
    # names the offending points, and where the extrapolation would reach zero:
    # 32 + 100 * (32 - 1) / (355000 - 100) = 32.0087, so batch 33 would be non-positive.
    assert "batch 1 takes 355000 ns but batch 32 takes 100 ns" in msg
    assert "non-positive times from batch 33" in msg
    assert "Samples per second" not in r.stdout
    r = run("profile", "show", "decreasing.yaml", cwd=w)
    assert r.returncode == 2 and "latency_ns must not fall" in one_error_line(r)


def _limit_memory():  # runs in the child: a broken loader fails fast instead of taking the machine
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def test_case07_yaml_alias_bomb_refused_before_expansion(tmp_path):
    w = case_dir(tmp_path, "07-profile-yaml-alias-bomb")
    text = (w / "bomb.yaml").read_text()
    assert len(text) < 1000 and text.count("&") == 9  # 9 levels of 9 aliases each: 9**9 leaves
    r = subprocess.run(
        [sys.executable, "-m", "simbench.cli.main", "profile", "show", "bomb.yaml"],
        capture_output=True, text=True, cwd=w, timeout=120, preexec_fn=_limit_memory,
    )
    assert r.returncode == 2
    msg = one_error_line(r)
    assert msg == (
        "error: bomb.yaml: line 1: YAML anchor &a is not allowed in a profile (anchors and aliases"
        " can expand a small file without bound); write the values out"
    )


def test_case08_bare_profile_name_is_the_shipped_one_even_if_a_folder_shadows_it(tmp_path):
    work = tmp_path / "work08"
    work.mkdir()
    r = run("simulate", "--profile", "a100", "--scenario", "Offline", "--min-duration-s", "1", "--out", "a100", cwd=work)
    assert r.returncode == 0, r.stderr
    assert (work / "a100").is_dir()
    r = run("simulate", "--profile", "a100", "--scenario", "Offline", "--min-duration-s", "1", "--out", "again", cwd=work)
    assert r.returncode == 0, r.stderr
    assert json.loads((work / "again" / "Offline" / "summary.json").read_text())["profile"] == "a100"
    r = run("profile", "show", "a100", cwd=work)
    assert r.returncode == 0 and "A100-SXM4-80GB" in r.stdout
    # clearly a path: ./a100 is the folder, and says so
    r = run("profile", "show", "./a100", cwd=work)
    assert r.returncode == 2 and one_error_line(r) == "error: ./a100: is a directory; expected a profile .yaml file"


def _normalized(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


@pytest.mark.parametrize(
    "args,flag,bound",
    [
        (("simulate", "--replicas", "1000000000"), "--replicas", "less than or equal to 4096"),
        (("simulate", "--replicas", "0"), "--replicas", "greater than or equal to 1"),
        (("simulate", "--min-query-count", "150000001"), "--min-query-count", "less than or equal to 150000000"),
        (("simulate", "--target-qps", "2e9"), "--target-qps", "less than or equal to 1000000000"),
        (("simulate", "--min-duration-s", "1e10"), "--min-duration-s", "less than or equal to 9223372036"),
        (("simulate", "--target-latency-ms", "1e13"), "--target-latency-ms", "less than or equal to 9223372036854"),
        (("simulate", "--seed", str(2**64)), "--seed", "less than or equal to 18446744073709551615"),
        (("benchmark", "--sut", "null", "--workers", "0"), "--workers", "greater than or equal to 1"),
        (("benchmark", "--sut", "null", "--workers", "100000"), "--workers", "less than or equal to 1024"),
        (("benchmark", "--sut", "null", "--threads", "100000"), "--threads", "less than or equal to"),
        (("benchmark", "--sut", "null", "--min-query-count", "1000000000"), "--min-query-count", "less than or equal to 150000000"),
        (("benchmark", "--sut", "null", "--stall-timeout-s", "0"), "--stall-timeout-s", "greater than or equal to 0.001"),
        (("benchmark", "--sut", "null", "--seed", "-1"), "--seed", "greater than or equal to 0"),
    ],
)
def test_case09_size_and_count_flags_have_upper_bounds_checked_first(tmp_path, args, flag, bound):
    r = run(*args, "--out", "o", cwd=tmp_path, timeout=60)
    assert r.returncode == 2
    err = _normalized(r.stderr)
    assert f"Invalid value for '{flag}'" in err and bound in err, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "o").exists()


def test_flag_bounds_match_the_library_limits():
    from simbench.arrivals import MAX_SCHEDULE_SIZE
    from simbench.cli import _common as c
    from simbench.jobs import MAX_REPLICAS
    from simbench.profiles.schema import ScenarioHarness
    from simbench.settings import INT64_MAX

    assert c.MAX_QUERY_COUNT == MAX_SCHEDULE_SIZE
    assert c.MAX_REPLICAS == MAX_REPLICAS == ScenarioHarness.model_fields["replicas"].metadata[1].le
    assert int(c.MAX_DURATION_S) * 10**9 <= INT64_MAX < (int(c.MAX_DURATION_S) + 1) * 10**9
    assert int(c.MAX_LATENCY_MS) * 10**6 <= INT64_MAX < (int(c.MAX_LATENCY_MS) + 1) * 10**6


# --- traces and LoadGen imports (cases 16, 17, 18, 25) --------------------------------


def test_case16_empty_trace_summarises_as_an_empty_invalid_run(tmp_path):
    w = case_dir(tmp_path, "16-trace-summary-empty-trace-traceback")
    r = run("trace", "summary", "empty_from_failed_run.parquet", cwd=w)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "Result is : INVALID" in r.stdout and "Min queries satisfied : NO" in r.stdout
    # the run's own error travels in the trace and is shown
    assert "SUT raised RuntimeError: HTTP 500 from POST /v2/models/m/infer" in r.stdout
    r = run("trace", "summary", "empty.parquet", "--json", cwd=w)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["result_validity"] == "INVALID" and d["result_query_count"] == 0 and d["result_sample_count"] == 0
    assert "no samples completed: the trace is empty" in d["result_invalid_reason"]


def test_case17_samples_completing_before_issue_are_rejected(tmp_path):
    w = case_dir(tmp_path, "17-trace-summary-negative-latency-valid")
    r = run("trace", "summary", "negative_latency.parquet", cwd=w)
    assert r.returncode == 2
    assert "Result is" not in r.stdout
    msg = one_error_line(r)
    assert msg.startswith("error: negative_latency.parquet: column 'complete_ns': row 0 (query_id 0): complete_ns -5000000 < issue_ns 0")
    assert "(5030 of 5030 rows break it)" in msg


def test_case18_metadata_missing_or_unknown_keys_is_a_trace_error(tmp_path):
    w = case_dir(tmp_path, "18-trace-summary-metadata-missing-key-traceback")
    r = run("trace", "summary", "meta_missing_key.parquet", cwd=w)
    assert r.returncode == 2
    assert one_error_line(r) == "error: meta_missing_key.parquet: metadata 'simbench.run' effective_settings: missing keys min_query_count"
    # unknown keys are named too
    import pyarrow.parquet as pq

    t = pq.read_table(w / "meta_missing_key.parquet")
    meta = json.loads(t.schema.metadata[b"simbench.run"])
    meta["effective_settings"].update(min_query_count=100, colour="green", flavour=1)
    pq.write_table(t.replace_schema_metadata({b"simbench.run": json.dumps(meta).encode()}), w / "extra.parquet")
    r = run("trace", "summary", "extra.parquet", cwd=w)
    assert r.returncode == 2
    assert one_error_line(r) == "error: extra.parquet: metadata 'simbench.run' effective_settings: unknown keys colour, flavour"


def test_case25_truncated_loadgen_trace_json_is_reported(tmp_path):
    w = case_dir(tmp_path, "25-trace-import-truncated-trace-silent")
    r = run("trace", "import", "lg_trunc", "--out", "out25", cwd=w)
    assert r.returncode == 0, r.stderr
    warning = "trace json truncated: holds 96 of 193 samples"
    assert f"warning: {warning}" in r.stderr
    d = json.loads((w / "out25" / "summary.json").read_text())
    assert any(x.startswith(warning) for x in d["import_warnings"])
    assert any(x.startswith(warning) for x in d["warnings"])  # also in the recomputed summary
    assert d["comparison"]["result_query_count"] == {"simbench": 96, "loadgen": 193, "rel_diff": (96 - 193) / 193}
    assert "1 warning encountered. See detailed log." in (w / "out25" / "mlperf_log_summary.txt").read_text()


# --- benchmark SUT errors (cases 12-15) and the table (case 24) -----------------------


def test_case12_invalid_or_empty_onnx_file_is_one_line(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(bytes(range(256)) * 8)  # 2 kB that are not a protobuf model
    (tmp_path / "empty.onnx").write_bytes(b"")
    r = run("benchmark", "--sut", "bad.onnx", "--scenario", "Offline", "--min-duration-s", "1", cwd=tmp_path)
    assert r.returncode == 2
    msg = one_error_line(r)
    assert msg.startswith("error: bad.onnx: not a valid ONNX model (") and msg.endswith(")")
    r = run("benchmark", "--sut", "empty.onnx", "--scenario", "Offline", "--min-duration-s", "1", cwd=tmp_path)
    assert r.returncode == 2
    assert one_error_line(r) == "error: empty.onnx: not a valid ONNX model (the file is empty)"
    assert not (tmp_path / "simbench_results").exists() or not any((tmp_path / "simbench_results").rglob("trace.parquet"))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def garbage_server(tmp_path):
    """The cases' garbage_server.py on a free loopback port (it exits by itself after 120 s)."""
    import socket
    import time

    procs = []

    def start(mode: str) -> str:
        port = _free_port()
        script = CASES / "14-http-metadata-not-an-object-traceback" / "garbage_server.py"
        procs.append(subprocess.Popen([sys.executable, str(script), mode, str(port)]))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        return f"http://127.0.0.1:{port}/v2/models/m"

    yield start
    for p in procs:
        p.kill()
        p.wait()


def test_case13_http_connection_refused_is_one_line(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/v2/models/m"  # nothing listens there
    r = run("benchmark", "--sut", url, "--scenario", "Server", "--target-qps", "50", "--min-duration-s", "2", "--out", "./sb_case13", cwd=tmp_path)
    assert r.returncode == 2
    assert one_error_line(r) == f"error: {url}: cannot connect (Connection refused)"
    assert not (tmp_path / "sb_case13").exists()


def test_case14_http_metadata_not_an_object(tmp_path, garbage_server):
    url = garbage_server("list")
    r = run("benchmark", "--sut", url, "--scenario", "Server", "--target-qps", "50", "--min-duration-s", "2", "--out", "./sb_case14", cwd=tmp_path)
    assert r.returncode == 2
    assert one_error_line(r) == f"error: {url}: model metadata is not a JSON object (got a JSON list)"


def test_case15_http_metadata_not_json_names_url_and_content(tmp_path, garbage_server):
    url = garbage_server("html")
    r = run("benchmark", "--sut", url, "--scenario", "Server", "--target-qps", "50", "--min-duration-s", "2", "--out", "./sb_case15", cwd=tmp_path)
    assert r.returncode == 2
    assert one_error_line(r) == f"error: GET {url}: answer is not JSON (text/html: b'<html>hello</html>')"
    url = garbage_server("noinputs")
    r = run("benchmark", "--sut", url, "--scenario", "Offline", "--min-duration-s", "1", cwd=tmp_path)
    assert r.returncode == 2 and one_error_line(r) == f"error: {url}: model metadata lists no inputs"


def test_case24_benchmark_table_one_unit_per_cell_as_simulate(tmp_path):
    r = run("benchmark", "--sut", "onnx:tiny", "--scenario", "SingleStream", "--min-duration-s", "1", "--out", "out24", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads((tmp_path / "out24" / "SingleStream" / "summary.json").read_text())
    p90_ns = d["headline_value"]
    row = next(ln for ln in r.stdout.splitlines() if ln.startswith("│ SingleStream"))
    assert f"│ {p90_ns:,.0f} │" in row  # the ns value under a metric named "... (ns)"
    assert " ms" not in row
    r = run("simulate", "--scenario", "SingleStream", "--min-duration-s", "1", "--out", "sim24", cwd=tmp_path)
    row = next(ln for ln in r.stdout.splitlines() if ln.startswith("│ SingleStream"))
    assert "latency (ns)" in row and " ms" not in row
