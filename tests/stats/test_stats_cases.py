"""Issue 8 reproducer cases 22, 23, 27, 28 (``simbench stats validate``), as a user runs them.

The fixtures are in tests/data/cases/<case>/ (cmd.sh + expected.md); each test runs the case's
command (smaller where the case's own size would take minutes) through the installed CLI and
checks what expected.md asks for.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CASES = Path(__file__).resolve().parents[1] / "data" / "cases"


def run(*args, cwd, columns=None, timeout=300):
    env = dict(os.environ)
    if columns is None:
        env.pop("COLUMNS", None)
    else:
        env["COLUMNS"] = str(columns)
    return subprocess.run([sys.executable, "-m", "simbench.cli.main", "stats", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=env)


def test_case_files_are_shipped():
    for case in ("22-stats-validate-out-missing-dir-traceback", "23-stats-validate-threads-traceback",
                 "27-stats-tables-unreadable-at-80-columns", "28-stats-validate-interrupt-loses-all-rows"):
        assert (CASES / case / "cmd.sh").is_file() and (CASES / case / "expected.md").is_file()


def test_case_22_out_folder_is_created_and_figure_is_self_contained(tmp_path):
    # cmd.sh: --replications 100 --queries 2000 --out no_such_dir/fig.html
    r = run("validate", "--replications", "100", "--queries", "2000", "--out", "no_such_dir/fig.html", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    html = (tmp_path / "no_such_dir" / "fig.html").read_text()
    # plotly.js inlined (opens offline): the bundle is megabytes and no <script src=...cdn...>
    assert len(html) > 1_000_000 and '<script src="http' not in html and "<script src='http" not in html
    # a folder that cannot be created is one clean line, exit 2, before any work
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    start = time.perf_counter()
    r = run("validate", "--replications", "100000", "--out", "a_file/fig.html", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert r.stderr.startswith("error: Invalid value for '--out': cannot create the folder a_file")
    r = run("validate", "--out", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 2 and "is a folder" in r.stderr


def test_case_23_threads_out_of_range_is_a_flag_error(tmp_path):
    import numba

    cores = numba.config.NUMBA_NUM_THREADS
    for value in ("0", "64", str(cores + 1)):
        if value == "64" and cores >= 64:
            continue
        r = run("validate", "--replications", "100", "--queries", "2000", "--threads", value, cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        assert r.stderr.strip() == (f"error: Invalid value for '--threads': expected 1..{cores} "
                                    f"(the cores numba can use), got {value}")
    r = run("validate", "--replications", "50", "--queries", "2000", "--threads", "1", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["result"]["threads"] == 1


def test_case_27_tables_fold_and_narrow_layout_and_json(tmp_path):
    args = ("validate", "--law", "queue", "--utilization", "0.3", "--replications", "200", "--queries", "20000")
    narrow = run(*args, cwd=tmp_path)  # a pipe: rich's default 80 columns
    assert narrow.returncode == 0, narrow.stderr
    assert "…" not in narrow.stdout
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80
    for label in ("tau (acf)", "tau (batch)", "margin % (i.i.d.)", "CI+ess %", "ES+ess %", "n*tau"):
        assert label in narrow.stdout
    data = json.loads(run(*args, "--json", cwd=tmp_path).stdout)
    (row,) = data["rows"]
    assert data["rows_finished"] == data["rows_planned"] == 1 and not data["interrupted"]
    official = row["result"]["official"]
    assert official["query_count"] == 20_000 and official["replications"] == 200
    margin = next(c for c in official["checks"] if c["check"] == "margin")
    # the numbers the table shows are the JSON's: same seeds, same run
    assert f"{margin['coverage'] * 100:.2f} ({margin['standard_error'] * 100:.2f})" in narrow.stdout
    assert f"{row['result']['corrected_query_count']:,}" in narrow.stdout
    # the i.i.d. table folds too, narrow and wide
    for columns, width in ((None, 80), (200, 200)):
        iid = run("validate", "--law", "gamma", "--percentile", "90", "--queries", "2000", "--replications", "50",
                  cwd=tmp_path, columns=columns)
        assert iid.returncode == 0 and "…" not in iid.stdout and "interval [x_(" in iid.stdout
        assert max(len(line) for line in iid.stdout.splitlines()) <= width


def test_case_28_interrupt_keeps_finished_rows(tmp_path):
    args = [sys.executable, "-m", "simbench.cli.main", "stats", "validate", "--simulator", "a100",
            "--utilization", "0.3,0.5,0.7,0.8,0.9,0.95", "--batching", "none", "--percentile", "90",
            "--queries", "20000", "--replications", "400", "--reference-queries", "400000", "--workers", "2",
            "--no-restore", "--json", "--out", "fig.html"]
    # a new session, signalled as a whole: Ctrl-C reaches the parent and its worker processes alike
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            start_new_session=True)
    progress = []
    for line in proc.stderr:
        progress.append(line)
        if line.startswith("row 1/6 done"):
            os.killpg(proc.pid, signal.SIGINT)
            break
    err = "".join(progress) + proc.stderr.read()
    out = proc.stdout.read()
    proc.wait(timeout=120)
    assert "ETA" in progress[-1]
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err and "SystemError" not in err
    data = json.loads(out)
    assert data["interrupted"] and data["rows_planned"] == 6 and 1 <= data["rows_finished"] < 6
    assert data["rows"][0]["label"] == "0.3, none, poisson"
    assert err.strip().splitlines()[-1] == (f"interrupted: {data['rows_finished']} of 6 rows finished "
                                            "(printed above, figure fig.html)")
    assert "0.3, none, poisson" in (tmp_path / "fig.html").read_text()
