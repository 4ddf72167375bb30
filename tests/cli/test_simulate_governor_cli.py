"""simbench simulate --governor / --power-cap-w / --ambient-c, as a user runs them."""

import json
import subprocess
import sys
import tempfile

import numpy as np
import pytest


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "simbench.cli.main", *args],
        capture_output=True, text=True, cwd=cwd or tempfile.mkdtemp(prefix="simbench-gov-"), timeout=300,
    )


def test_power_cap_run_writes_timeline_and_power_summary(tmp_path):
    r = run("simulate", "--profile", "a100", "--scenario", "Offline", "--min-duration-s", "10",
            "--power-cap-w", "260", "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    (d,) = json.loads(r.stdout)
    p = d["device_power"]
    assert p["avg_device_power_w"] <= 260.0 * 1.01 and p["time_throttled_s"] > 5
    assert p["energy_per_sample_j"] == pytest.approx(p["energy_j"] / d["result_sample_count"])
    from simbench.timeline import read_timeline
    from simbench.trace import read_trace

    tl = read_timeline(tmp_path / "Offline" / "device_timeline.parquet")
    assert tl.metadata["governor"]["spec"].startswith("power_cap:260")
    assert tl.energy_j() == pytest.approx(p["energy_j"])
    tr = read_trace(tmp_path / "Offline" / "trace.parquet")
    assert tr.clock_mhz is not None and tr.clock_mhz.min() < 1410
    summary = json.loads((tmp_path / "Offline" / "summary.json").read_text())
    assert summary["governor"]["kind"] == "power_cap"
    assert "Average device power (W)" in (tmp_path / "Offline" / "mlperf_log_summary.txt").read_text()


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--governor", "turbo"], "--governor 'turbo': unknown governor"),
        (["--governor", "fixed:1000"], "not a clock state"),
        (["--governor", "power_cap:200", "--power-cap-w", "200"], "give one of them"),
        (["--power-cap-w", "-3"], "--power-cap-w"),
        (["--ambient-c", "40"], "--ambient-c: needs --governor"),
        (["--governor", "thermal", "--ambient-c", "95"], "--ambient-c 95"),
    ],
)
def test_bad_governor_flags_exit_2_before_work(args, msg, tmp_path):
    r = run("simulate", "--profile", "a100", "--scenario", "Offline", "--min-duration-s", "1", "--out", str(tmp_path), *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert msg in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "Offline").exists()


def test_forced_rerun_without_device_model_removes_the_stale_timeline(tmp_path):
    r = run("simulate", "--profile", "a100", "--scenario", "Offline", "--min-duration-s", "1", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "Offline" / "device_timeline.parquet").is_file()
    import yaml

    from simbench.profiles import load_profile

    d = load_profile("a100").model_dump(exclude_none=True)
    d.pop("dvfs")
    prof = tmp_path / "nodvfs.yaml"
    prof.write_text(yaml.safe_dump(d))
    r = run("simulate", "--profile", str(prof), "--scenario", "Offline", "--min-duration-s", "1", "--out", str(tmp_path), "--force")
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "Offline" / "device_timeline.parquet").exists()
    assert "Device power" not in (tmp_path / "Offline" / "mlperf_log_summary.txt").read_text()
