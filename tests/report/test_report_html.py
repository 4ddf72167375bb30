"""``simbench report``: one self-contained page, opened in real headless Chromium."""

import re
import subprocess
import sys

import pandas as pd
import pytest

from simbench.testing import check_html_in_chromium


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "simbench.cli.main", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_run_report_opens_in_chromium_with_every_figure_drawn(tmp_path):
    r = cli("simulate", "--scenario", "Server,Offline", "--target-qps", "20000", "--min-duration-s", "2", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = cli("report", str(tmp_path / "run"), "-o", str(tmp_path / "report.html"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "report.html").read_text()
    assert not re.search(r"<script[^>]*\bsrc=", page) and page.count("Plotly.newPlot") >= 8  # plotly.js inlined
    shot = tmp_path / "report.png"
    got = check_html_in_chromium(tmp_path / "report.html", shot)
    print(f"screenshot kept at {shot}")
    assert got["errors"] == []
    # Server and Offline: CDF, timeline, arrival rate, batch sizes (+ device timeline figures if saved)
    assert got["figures"] >= 8 and got["drawn"] == got["figures"], got["names"]
    assert shot.stat().st_size > 10_000
    for text in ("Server: latency CDF", "bound 15 ms", "Offline: batch sizes", "VALID"):
        assert text in page


def test_sweep_report_and_bad_folder(tmp_path):
    r = cli("whatif", "--sweep", "target_qps=10000,20000,30000", "--sweep", "batching.timeout_us=1000,4000",
            "--min-duration-s", "1", "--workers", "0", "--out", str(tmp_path / "sw"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = cli("report", str(tmp_path / "sw"), "-o", str(tmp_path / "sweep.html"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = check_html_in_chromium(tmp_path / "sweep.html")
    assert got["errors"] == [] and got["figures"] == 4 and got["drawn"] == 4, got
    page = (tmp_path / "sweep.html").read_text()
    assert "heatmap" in page and len(pd.read_parquet(tmp_path / "sw" / "sweep.parquet")) == 6
    bad = cli("report", str(tmp_path / "nothing"), "-o", str(tmp_path / "x.html"), cwd=tmp_path)
    assert bad.returncode == 2 and "not a folder" in bad.stderr
