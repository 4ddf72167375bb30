"""``simbench plan`` and ``simbench whatif`` as a user runs them (real subprocesses)."""

import json
import subprocess
import sys
import tempfile


def run(*args, cwd=None):
    # From an empty folder outside the checkout (a stray ./a100 would shadow the profile name).
    with tempfile.TemporaryDirectory() as empty:
        return subprocess.run(
            [sys.executable, "-m", "simbench.cli.main", *args],
            capture_output=True,
            text=True,
            cwd=cwd or empty,
            timeout=300,
        )


def test_peak_qps_equals_simulates_search(tmp_path):
    r = run("plan", "peak-qps", "--profile", "a100", "--model", "resnet50", "--min-duration-s", "4", "--json")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    s = run("simulate", "--profile", "a100", "--scenario", "Server", "--min-duration-s", "4", "--json", "--out", str(tmp_path))
    assert s.returncode == 0, s.stderr
    sim = json.loads(s.stdout)[0]
    assert plan["peak_qps"] == sim["peak_search"]["peak_qps"]
    assert [p["target_qps"] for p in plan["probes"]] == [p["target_qps"] for p in sim["peak_search"]["probes"]]
    # LoadGen's stop rule: the last passing rate is within 10^-decimals of a failing one
    full_fail = [p["target_qps"] for p in plan["probes"] if p["full_length"] and not p["passed"]]
    assert min(q for q in full_fail if q > plan["peak_qps"]) - plan["peak_qps"] <= 0.1 + 1e-9


def test_peak_qps_table_and_bad_input():
    r = run("plan", "peak-qps", "--profile", "l4", "--min-duration-s", "3")
    assert r.returncode == 0, r.stderr
    assert "peak Server QPS (valid):" in r.stdout and "pilot" in r.stdout and "full" in r.stdout
    bad = run("plan", "peak-qps", "--profile", "a100", "--batching", "dynamic:x")
    assert bad.returncode == 2 and "error: batching" in bad.stderr and "Traceback" not in bad.stderr
    real = run("plan", "peak-qps", "--sut", "null", "--batching", "dynamic:8")
    assert real.returncode == 2 and "--batching: applies to the simulated SUT" in real.stderr


def test_peak_qps_of_a_real_sut_follows_findpeak_and_matches_a_real_run(tmp_path):
    """--sut onnx:tiny (a real ONNX Runtime model, short runs): every probe is a real run; the
    probes follow LoadGen's FindPeakPerformance (doubling from the starting rate while runs
    pass, then bisection to 0.1 QPS), each verdict is the Server rule on its own counts, the
    answer is the last passing bisection rate, and a real `simbench benchmark` run at the
    starting rate issues the same queries as that probe (LoadGen's seeded schedule)."""
    import math

    flags = ["--target-qps", "200", "--min-duration-s", "0.25", "--min-query-count", "50", "--target-latency-ms", "20"]
    r = run("plan", "peak-qps", "--sut", "onnx:tiny", *flags, "--peak-criterion", "loadgen", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    probes = res["probes"]
    assert probes[0]["target_qps"] == 200.0 and probes[0]["passed"]
    for p in probes:
        assert p["full_length"] and p["query_count"] >= 50
        n, over = p["query_count"], p["overlatency_count"]
        assert p["passed"] == (over <= n - math.floor(n * 0.99) - 1)  # LoadGen's Server rule
    i = 0  # upper-bound phase: x2 (server_find_peak_qps_boundary_step_size = 1) while passing
    while probes[i]["passed"]:
        assert probes[i + 1]["target_qps"] == round(probes[i]["target_qps"] * 2, 1)
        i += 1
    lo, hi = probes[i - 1]["target_qps"], probes[i]["target_qps"]
    for p in probes[i + 1:]:  # bisection, rounded to 0.1 QPS
        assert p["target_qps"] == round((lo + hi) / 2, 1)
        lo, hi = (p["target_qps"], hi) if p["passed"] else (lo, p["target_qps"])
    assert res["peak_qps"] == lo and math.floor(lo * 10) + 1 >= math.floor(hi * 10)
    b = run("benchmark", "--sut", "onnx:tiny", "--scenario", "Server", *flags, "--out", str(tmp_path / "real"), "--json")
    assert b.returncode == 0, b.stderr
    real = json.loads(b.stdout)[0]
    assert real["result_query_count"] == probes[0]["query_count"]
