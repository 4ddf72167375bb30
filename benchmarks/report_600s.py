"""Issue 12 acceptance: the report of a 600 s a100 Server run opens in headless Chromium with
every figure drawn and is under 10 MB. One command:

    python benchmarks/report_600s.py [--out /tmp/report_600s]

Runs `simbench simulate --profile a100 --scenario Server` (official rules: 600 s, peak search,
~22 M samples), then `simbench report`, then opens the page in Chromium
(`simbench.testing.check_html_in_chromium`), keeping a screenshot beside it. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/report_600s")
    a = ap.parse_args()
    root = Path(a.out)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    run = [sys.executable, "-m", "simbench.cli.main"]
    t0 = time.perf_counter()
    subprocess.run([*run, "simulate", "--profile", "a100", "--scenario", "Server", "--out", str(root / "run")], check=True,
                   capture_output=True)
    t1 = time.perf_counter()
    subprocess.run([*run, "report", str(root / "run"), "-o", str(root / "report.html")], check=True, capture_output=True)
    t2 = time.perf_counter()
    from simbench.testing import check_html_in_chromium

    got = check_html_in_chromium(root / "report.html", root / "report.png")
    import pyarrow.parquet as pq

    print(json.dumps({
        "samples": pq.ParquetFile(root / "run" / "Server" / "trace.parquet").metadata.num_rows,
        "simulate_s": round(t1 - t0, 1), "report_s": round(t2 - t1, 1),
        "report_mb": round((root / "report.html").stat().st_size / 1e6, 2),
        "figures": got["figures"], "drawn": got["drawn"], "console_errors": got["errors"],
        "screenshot": str(root / "report.png"),
    }))


if __name__ == "__main__":
    main()
