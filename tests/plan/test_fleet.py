"""Fleet sizing: Erlang C against closed forms; the chosen fleet re-run with simulate is VALID."""

import json
import math
import subprocess
import sys
import tempfile

import pytest

from simbench.plan.fleet import erlang_c, erlang_c_guess


def test_erlang_c_closed_forms():
    assert erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: P(wait) = rho
    a = 1.5  # M/M/2: C = a^2 / (2 + a) ... = (a^2/2 * 2/(2-a)) / (1 + a + a^2/2 * 2/(2-a))
    top = a**2 / 2 * 2 / (2 - a)
    assert erlang_c(2, a) == pytest.approx(top / (1 + a + top))
    c, a = 10, 8.0
    terms = sum(a**k / math.factorial(k) for k in range(c))
    top = a**c / math.factorial(c) * c / (c - a)
    assert erlang_c(c, a) == pytest.approx(top / (terms + top), rel=1e-12)
    assert erlang_c(3, 3.0) == 1.0
    n, q = erlang_c_guess(1000.0, 15e6, 0.99, 1, 0.0, 1e6, 0.0)  # M/M/c, 1 ms service, 1000 QPS
    assert n == 2 and q <= 15e6  # one server is saturated (rho = 1), two suffice


def test_fleet_cli_json_and_the_chosen_config_is_valid_in_simulate(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "simbench.cli.main", *args], capture_output=True, text=True,
                              cwd=tmp_path, timeout=300)

    r = run("plan", "fleet", "--target-qps", "60000", "--latency-bound-ms", "15", "--profile", "a100",
            "--profile", "l4", "--min-duration-s", "3", "--quantile-run-s", "3", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    by = {row["profile"]: row for row in rows}
    assert by["a100"]["devices"] >= by["a100"]["lower_bound_devices"] == 2  # 60000 / 37131 QPS per A100
    for row in rows:
        assert row["verdict"] == "VALID" and 0.99 <= row["goodput"] <= 1.0
        assert row["cost_per_hour_usd"] is None or row["cost_per_hour_usd"] == pytest.approx(row["devices"] * row["price_per_hour_usd"])
        assert row["latency_quantile_ms"] <= 15
        # one device fewer fails (or is below the capacity bound, where the queue cannot keep up)
        fewer = [p for p in row["probes"] if p["devices"] == row["devices"] - 1 and p["max_batch"] == row["max_batch"] and p["layout"] == row["layout"]]
        assert all(not p["passed"] for p in fewer)
        assert row["devices"] - 1 < row["lower_bound_devices"] or fewer
    cmd = by["a100"]["simulate_command"].split()[1:] + ["--out", str(tmp_path / "re"), "--json"]
    s = run(*cmd)
    assert s.returncode == 0, s.stderr
    assert json.loads(s.stdout)[0]["result_validity"] == "VALID"
    bad = run("plan", "fleet", "--target-qps", "1000", "--latency-bound-ms", "15", "--profile", "a100", "--layout", "random")
    assert bad.returncode == 2 and "--layout 'random'" in bad.stderr


def test_governor_passes_through_and_energy_per_query_comes_from_the_device_model():
    from simbench.errors import SimbenchInputError
    from simbench.plan.spec import RunSpec, run_point

    base = RunSpec(profile="a100", target_qps=20000.0, min_duration_s=2)
    free, capped = (run_point(RunSpec(**{**base.__dict__, "governor": g}), required_queries=False).row
                    for g in (None, "power_cap:200"))
    assert capped["governor"] == "power_cap:200" and free["governor"] is None
    # a 200 W cap on a ~400 W part lowers energy per query (the device runs at lower clocks)
    assert 0 < capped["energy_per_query_j"] < free["energy_per_query_j"]
    with pytest.raises(SimbenchInputError):
        run_point(RunSpec(**{**base.__dict__, "governor": "turbo"}))


def test_fleet_with_join_shortest_queue_and_its_rerun(tmp_path):
    """--layout jsq sizes per-device queues through the engine's router; the printed simulate
    command (with --routing jsq) re-runs the same configuration VALID."""
    def run(*args):
        return subprocess.run([sys.executable, "-m", "simbench.cli.main", *args], capture_output=True, text=True,
                              cwd=tmp_path, timeout=300)

    r = run("plan", "fleet", "--target-qps", "30000", "--latency-bound-ms", "15", "--profile", "a100",
            "--layout", "jsq", "--min-duration-s", "3", "--quantile-run-s", "3", "--json")
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(r.stdout)
    assert row["layout"] == "jsq" and row["verdict"] == "VALID" and row["devices"] >= 1
    assert {p["layout"] for p in row["probes"]} == {"jsq"}
    assert row["cost_per_hour_usd"] == pytest.approx(row["devices"] * row["price_per_hour_usd"])
    assert row["cost_per_million_queries_usd"] == pytest.approx(row["cost_per_hour_usd"] / (30000 * 3600) * 1e6)
    assert "--routing jsq" in row["simulate_command"]
    s = run(*row["simulate_command"].split()[1:], "--out", str(tmp_path / "re"), "--json")
    assert s.returncode == 0, s.stderr
    out = json.loads(s.stdout)[0]
    assert out["result_validity"] == "VALID"
