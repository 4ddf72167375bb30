"""Output folders checked before any work; atomic files; capacity estimates (simbench.output)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from simbench.errors import SimbenchInputError
from simbench.output import (
    OutputError,
    OutputFolder,
    RunEstimate,
    atomic_path,
    check_fits,
    default_out_dir,
    prepare_out_dir,
)


def test_out_is_a_file(tmp_path):
    f = tmp_path / "afile.txt"
    f.write_text("not a folder")
    with pytest.raises(OutputError, match=r"^--out .*afile.txt: exists and is not a directory$"):
        prepare_out_dir(f, subdirs=["Server"])


def test_out_under_a_file(tmp_path):
    f = tmp_path / "afile.txt"
    f.write_text("x")
    with pytest.raises(OutputError, match="cannot create the output folder: a path component is a file"):
        prepare_out_dir(f / "run", subdirs=["Server"])


def test_out_scenario_folder_is_a_file(tmp_path):
    (tmp_path / "Server").write_text("x")
    with pytest.raises(OutputError, match="Server exists and is not a directory"):
        prepare_out_dir(tmp_path, subdirs=["Server"])


@pytest.mark.parametrize("marker", ["mlperf_log_summary.txt", "trace.parquet", "summary.json", "trace.parts", "loadgen"])
def test_out_holding_results_is_refused_unless_forced(tmp_path, marker):
    p = tmp_path / "Server" / marker
    p.parent.mkdir()
    p.write_text("results of yesterday") if "." in marker else p.mkdir()
    with pytest.raises(OutputError, match=r"already holds results .*pass --force to overwrite"):
        prepare_out_dir(tmp_path, subdirs=["Offline", "Server"])
    # Another scenario's folder, or --force, is fine.
    assert prepare_out_dir(tmp_path, subdirs=["Offline"]).root == tmp_path
    assert prepare_out_dir(tmp_path, subdirs=["Server"], force=True).root == tmp_path
    assert p.exists()  # --force replaces files when the new ones are written, not before


def test_out_unrelated_files_are_fine(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    folder = prepare_out_dir(tmp_path, subdirs=["Server"])
    assert isinstance(folder, OutputFolder) and not list(tmp_path.glob(".simbench-write-test*"))


def test_default_folders_never_collide(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    made = [default_out_dir("bench-") for _ in range(200)]
    assert len(set(made)) == 200 and all(p.is_dir() for p in made)
    assert all(p.parent.name == "simbench_results" and p.name.startswith("bench-") for p in made)


def test_default_folders_of_concurrent_processes_differ(tmp_path):
    # Eight processes create their default folder at the same moment (a barrier file).
    code = (
        "import os, sys, time\n"
        "from simbench.output import default_out_dir\n"
        "while not os.path.exists('go'): time.sleep(0.001)\n"
        "print(default_out_dir())\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.PIPE, text=True) for _ in range(8)]
    (tmp_path / "go").write_text("")
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(outs)) == 8


def test_atomic_path_keeps_the_old_file_on_error(tmp_path):
    final = tmp_path / "summary.json"
    final.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(final) as tmp:
            tmp.write_text("half a new fi")
            raise RuntimeError("renderer bug")
    assert final.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    with atomic_path(final) as tmp:
        tmp.write_text("new")
    assert final.read_text() == "new" and len(list(tmp_path.iterdir())) == 1


def test_folder_write_error_names_flag_folder_and_file(tmp_path):
    folder = OutputFolder(tmp_path, flag="--out")
    (tmp_path / "Server").write_text("a file where a folder should be")
    with pytest.raises(OutputError, match=r"^--out .*: Server is a file, not a folder; cannot write trace.parquet$"):
        folder.write_bytes("Server/trace.parquet", b"x")


def _est(**kw):
    base = dict(what="Server", samples=1_000_000, disk_bytes=10_000_000, memory_bytes=200_000_000, knobs="--target-qps / --min-duration-s")
    base.update(kw)
    return RunEstimate(**base)


def test_check_fits_disk(tmp_path):
    folder = OutputFolder(tmp_path)
    check_fits(folder, [_est(), _est(what="Offline")], free_bytes=20_000_000, memory_bytes=10**12)
    with pytest.raises(OutputError) as exc:
        check_fits(folder, [_est(), _est(what="Offline")], free_bytes=19_999_999, memory_bytes=10**12)
    msg = str(exc.value)
    assert msg.startswith(f"--out {tmp_path}: the results need about 20.0 MB")
    assert "only 20.0 MB is free" in msg and "--target-qps / --min-duration-s" in msg


def test_check_fits_memory_takes_the_largest_scenario(tmp_path):
    folder = OutputFolder(tmp_path)
    small, big = _est(memory_bytes=10**8), _est(what="Offline", memory_bytes=3 * 10**9, memory_knobs="--replicas")
    check_fits(folder, [small, big], free_bytes=10**12, memory_bytes=3 * 10**9)  # scenarios run one at a time
    with pytest.raises(SimbenchInputError, match=r"^--replicas: the Offline run would need about 3.0 GB of memory") as exc:
        check_fits(folder, [small, big], free_bytes=10**12, memory_bytes=2 * 10**9, memory_source="test")
    assert not isinstance(exc.value, OutputError) and "2.0 GB available (test)" in str(exc.value)


@pytest.mark.parametrize(
    "scenario, extra",
    [
        ("SingleStream", {}),
        ("MultiStream", {}),
        ("Offline", {"offline_expected_qps": 3000.0}),
        ("Server", {"server_target_qps": 2000.0}),
        ("Server", {"server_target_qps": 5.0, "min_query_count": 300}),
    ],
)
def test_expected_sample_count_bounds_the_schedule(scenario, extra):
    """Exact for the deterministic scenarios; for Server an upper estimate that holds for
    every seed tried (mean + 4 sd + 1) and is within 10 % of the real count."""
    import dataclasses

    from simbench.schedule import expected_sample_count, schedule
    from simbench.settings import TestSettings, resolve

    base = TestSettings(scenario=scenario, min_duration_ms=3000, **extra)
    for seed in range(5 if scenario == "Server" else 1):
        eff = resolve(dataclasses.replace(base, schedule_rng_seed=seed + 11), 50_000, 1024)
        sched = schedule(eff)
        actual = sched.query_count * sched.samples_per_query
        est = expected_sample_count(eff)
        if scenario == "Server":
            assert actual <= est <= actual * 1.1 + 60
        else:
            assert est == actual


def test_memory_estimate_names_replicas(tmp_path):
    from simbench.results import estimate_scenario
    from simbench.settings import TestSettings, resolve

    eff = resolve(TestSettings(scenario="Server", server_target_qps=1000.0, min_duration_ms=1000), 1024, 1024)
    est = estimate_scenario(eff, kind="simulated", knobs="--target-qps", replicas=10**9, engine="numba")
    assert est.memory_knobs == "--replicas" and est.memory_bytes > 64 * 10**9
    est = estimate_scenario(eff, kind="simulated", knobs="--target-qps", replicas=1)
    assert est.memory_knobs == "--target-qps"
    assert est.samples == est.samples and np.isclose(est.disk_bytes, est.samples * 8 + 64 * 1024)


def test_thread_limit_is_known_here():
    from simbench.output import thread_limit

    n, src = thread_limit()
    assert n is not None and n > 0 and src


def test_unwritable_sysfs_folder():
    if not os.path.isdir("/sys/kernel"):
        pytest.fail("this test needs Linux /sys")
    with pytest.raises(OutputError, match=r"^--out /sys/kernel/x: cannot create the output folder"):
        prepare_out_dir("/sys/kernel/x", subdirs=["Server"])
