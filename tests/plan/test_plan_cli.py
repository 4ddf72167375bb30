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
