"""Issue 8 reproducer cases 09, 10, 11, 19, 20, 21, 26, 29 (check before you spend, nothing
lost), run from the command line as a new user would.

Each case's ``cmd.sh`` and ``expected.md`` are copied in ``tests/data/cases/NN-name/`` (from
the issue's ``shared/cases/``); each test replicates its ``cmd.sh`` and asserts what its
``expected.md`` asks for. The disk-full cases mount a small tmpfs inside a private mount
namespace (``unshare -m``; ``unshare -rm`` when not root), so nothing leaks to the host.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simbench.trace import read_trace

CASES = Path(__file__).resolve().parents[1] / "data" / "cases"
FILES = {"trace.parquet", "mlperf_log_summary.txt", "mlperf_log_detail.txt", "summary.json"}
TIMELINE = "device_timeline.parquet"  # written beside them for profiles with a device model
CLI = [sys.executable, "-m", "simbench.cli.main"]


def run(*args, cwd, timeout=120):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def start(*args, cwd, **kw):
    return subprocess.Popen([*CLI, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_for(path: Path, proc, timeout=90.0):
    """Block until ``path`` exists (an observable point of the run), not for a fixed time."""
    t_end = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, f"process ended before {path} appeared: {proc.communicate()}"
        assert time.time() < t_end, f"{path} never appeared"
        time.sleep(0.02)


def in_small_fs(script: str, cwd: Path, size: str = "40k") -> subprocess.CompletedProcess:
    """Run a bash ``script`` with ``$FS`` a fresh tmpfs of ``size`` (private mount namespace)
    and ``$SB`` the simbench command."""
    body = f"set -u; mkdir -p fs && mount -t tmpfs -o size={size} tmpfs fs; FS=fs; SB={shlex.quote(' '.join(CLI))}\n{script}"
    prefix = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    return subprocess.run([*prefix, "bash", "-c", body], capture_output=True, text=True, cwd=cwd, timeout=240)


def assert_case_copied(name):
    assert (CASES / name / "cmd.sh").is_file() and (CASES / name / "expected.md").is_file()


def test_case_09_replicas_and_memory_checked_before_running(tmp_path):
    assert_case_copied("09-replicas-unbounded-oom")
    r = run("simulate", "--scenario", "Server", "--target-qps", "1000", "--min-duration-s", "1", "--replicas", "1000000000",
            "--out", "sb_case09", cwd=tmp_path)
    assert r.returncode == 2 and "--replicas" in r.stderr and "Traceback" not in r.stderr
    # The memory estimate (schedule and trace of 100,000,000 samples at 160 B) against the
    # address-space limit: refused at once, naming the flags that size the run and the limit.
    r = subprocess.run(
        ["bash", "-c", "ulimit -v 3000000; exec " + " ".join(map(shlex.quote, CLI)) + " simulate --scenario Server"
         " --target-qps 100000 --min-duration-s 1000 --out mem"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("error: --target-qps / --min-duration-s: the Server run would need about 16.1 GB of memory")
    assert "the address-space limit (ulimit -v)" in line
    assert not (tmp_path / "mem" / "Server").exists()


def test_case_10_existing_results_refused_then_forced(tmp_path):
    assert_case_copied("10-out-existing-results-overwritten")
    prev = tmp_path / "prev" / "Server"
    prev.mkdir(parents=True)
    (prev / "mlperf_log_summary.txt").write_text("results of yesterday\n")
    args = ("simulate", "--scenario", "Server", "--target-qps", "1000", "--min-duration-s", "1", "--out", "prev")
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "error: --out prev: already holds results (prev/Server/mlperf_log_summary.txt); choose another --out or"
        " pass --force to overwrite them"
    )
    assert (prev / "mlperf_log_summary.txt").read_text() == "results of yesterday\n"
    r = run(*args, "--force", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (prev / "mlperf_log_summary.txt").read_text().startswith("=" * 48 + "\nMLPerf Results Summary")
    assert {p.name for p in prev.iterdir()} - {TIMELINE} == FILES
    # (Default folders of runs started together never collide: tests/test_output.py.)


def test_case_11_unusable_out_refused_before_measuring(tmp_path):
    assert_case_copied("11-benchmark-out-is-file-loses-run")
    (tmp_path / "afile.txt").write_text("not a folder\n")
    # 600 s of measurement were asked for; the refusal comes at once (well inside the timeout).
    for out, expected in (
        ("afile.txt", "error: --out afile.txt: exists and is not a directory"),
        ("/sys/kernel/x", "error: --out /sys/kernel/x: cannot create the output folder:"),
    ):
        r = run("benchmark", "--sut", "null", "--scenario", "Server", "--target-qps", "1000", "--min-duration-s", "600",
                "--out", out, cwd=tmp_path, timeout=60)
        assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith(expected), r.stderr
        assert "Traceback" not in r.stderr


def test_case_19_offline_stopped_names_the_sample_count(tmp_path):
    assert_case_copied("19-offline-invalid-reason-1-lt-1")
    p = start("benchmark", "--sut", "onnx:small", "--scenario", "Offline", "--min-duration-s", "1", "--threads", "1",
              "--out", "out19", cwd=tmp_path)
    wait_for(tmp_path / "out19" / "Offline" / "trace.parts" / "part-000000.parquet", p)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and "Traceback" not in err
    d = json.loads((tmp_path / "out19" / "Offline" / "summary.json").read_text())
    n = d["result_sample_count"]
    assert 0 < n < 24_576
    assert f"min sample count not met ({n} < 24576)" in d["result_invalid_reason"]
    assert not any("min query count" in r for r in d["result_invalid_reason"])


def test_case_20_readme_offline_example_is_bounded():
    """The README's Offline benchmark example carries --min-query-count (its one query then
    holds that many samples, not mlperf.conf's 24,576) and says how long it runs; the
    progress line shows done / total samples and an ETA."""
    assert_case_copied("20-readme-offline-benchmark-runs-40-min")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    lines = [ln for ln in readme.splitlines() if ln.startswith("simbench benchmark") and "--scenario Offline" in ln]
    assert lines, "README has an Offline benchmark example"
    for ln in lines:
        assert "--min-query-count 256" in ln
        assert re.search(r"~?\d+(-\d+)? ?(s|min)\b", ln.split("#", 1)[1]), "the example says how long it runs"
    from simbench.cli.benchmark import _progress_text

    info = {"completed_samples": 350, "total_samples": 24_576, "elapsed_s": 35.0, "completed_qps": 9.8,
            "issued_queries": 1, "min_duration_s": 10.0}
    assert _progress_text(info) == "350 / 24,576 samples, 9.8 samples/s, ETA 40m23s"


def test_case_20_readme_example_runs_256_samples(tmp_path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    ln = next(ln for ln in readme.splitlines() if ln.startswith("simbench benchmark") and "--scenario Offline" in ln)
    args = shlex.split(ln.split("#", 1)[0])[1:]
    args[args.index("--sut") + 1] = "null"  # same settings, a SUT that answers at once
    r = run(*args, "--out", "o", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)[0]
    assert d["result_sample_count"] == d["effective_settings"]["samples_per_query"] == 256


def test_case_21_closed_stdout_keeps_running_every_scenario(tmp_path):
    assert_case_copied("21-broken-pipe-aborts-remaining-scenarios")
    p = start("simulate", "--scenario", "all", "--target-qps", "5000", "--min-duration-s", "1", "--out", "out21", cwd=tmp_path)
    for _ in range(3):  # | head -3
        p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err
    for scen in ("SingleStream", "MultiStream", "Server", "Offline"):
        assert {q.name for q in (tmp_path / "out21" / scen).iterdir()} - {TIMELINE} == FILES


def test_case_26_disk_full_before_and_during_the_run(tmp_path):
    assert_case_copied("26-disk-full-traceback")
    # The case as written: 40 kB cannot hold either run; both are refused before running.
    r = in_small_fs(
        "$SB simulate --scenario Server --target-qps 1000 --min-duration-s 5 --out $FS/sim; echo rc=$?\n"
        "$SB benchmark --sut null --scenario Server --target-qps 1000 --min-duration-s 3 --out $FS/bench; echo rc=$?\n"
        "find $FS -type f | wc -l",
        tmp_path,
    )
    out = r.stdout.split()
    assert out == ["rc=2", "rc=2", "0"], r.stdout + r.stderr
    errs = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(errs) == 2 and "Traceback" not in r.stderr
    assert re.match(r"error: --out fs/sim: the results need about 10\d\.\d kB \(Server ~5,2\d\d samples\) but only 4\d\.\d kB is free there", errs[0])
    assert errs[1].startswith("error: --out fs/bench: the results need about ")
    # The disk fills while a real run goes on (after its first spill): one clean line, exit 2,
    # no truncated file under a final name, and the spilled samples are kept and readable.
    r = in_small_fs(
        "$SB benchmark --sut null --scenario Server --target-qps 500 --min-duration-s 2.5 --out $FS/b 2> err.txt & P=$!\n"
        "until [ -e $FS/b/Server/trace.parts/part-000000.parquet ]; do sleep 0.02; done\n"
        "dd if=/dev/zero of=$FS/filler bs=4k 2>/dev/null; wait $P; echo rc=$?; tail -1 err.txt\n"
        "rm $FS/filler; ls -a $FS/b/Server | tr '\\n' ' '; echo\n"
        "$SB trace summary $FS/b/Server --json > s.json; echo rc=$?\n",
        tmp_path,
        size="512k",
    )
    lines = r.stdout.splitlines()
    assert lines[0] == "rc=2", r.stdout + r.stderr
    assert lines[1] == "error: --out fs/b: no space left on device while writing trace.parquet"
    present = set(lines[2].split()) - {".", ".."}
    assert "trace.parts" in present and "trace.parquet" not in present
    assert not [n for n in present if ".tmp-" in n]
    assert lines[3] == "rc=0"
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["result_validity"] == "INVALID" and s["result_sample_count"] > 100
    assert any(r.startswith("Incomplete run") for r in s["result_invalid_reason"])


@pytest.mark.parametrize(
    "engine, sut, scenario, sig",
    [("simbench", "onnx:small", "Offline", "SIGTERM"), ("simbench", "null", "Server", "SIGINT"), ("mlcommons", "null", "Server", "SIGTERM")],
)
def test_case_29_second_signal_never_discards_the_partial_run(tmp_path, engine, sut, scenario, sig):
    assert_case_copied("29-second-signal-discards-partial-run")
    extra = ["--target-qps", "300"] if scenario == "Server" else ["--threads", "1"]
    p = start("benchmark", "--sut", sut, "--scenario", scenario, "--min-duration-s", "30", "--engine", engine, *extra,
              "--out", "out29", cwd=tmp_path)
    d = tmp_path / "out29" / scenario
    wait_for(d / "trace.parts" / "part-000000.parquet", p)
    s = getattr(signal, sig)
    p.send_signal(s)
    time.sleep(0.05)
    p.send_signal(s)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted"
    assert "Traceback" not in err and "terminate called" not in err
    assert {q.name for q in d.iterdir()} >= FILES and not (d / "trace.parts").exists()
    t = read_trace(d / "trace.parquet")
    assert len(t) > 0 and t.metadata["run_status"] == "interrupted"


def test_sigkill_leaves_the_spilled_samples_readable(tmp_path):
    p = start("benchmark", "--sut", "null", "--scenario", "Server", "--target-qps", "400", "--min-duration-s", "30",
              "--out", "k", cwd=tmp_path)
    d = tmp_path / "k" / "Server"
    wait_for(d / "trace.parts" / "part-000001.parquet", p)
    p.kill()
    p.communicate(timeout=30)
    n_rows = len(read_trace(d / "trace.parts"))
    r = run("trace", "summary", str(d), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["result_sample_count"] == n_rows > 0
    assert any(x.startswith("Incomplete run: the process ended before it wrote its final trace") for x in s["result_invalid_reason"])
