"""Issue 12 acceptance: a 200-point what-if sweep on a 2-worker Dask LocalCluster and on 2
local worker processes gives identical tables; killing it half way and resuming gives the
same table again. One command:

    python benchmarks/whatif_sweep.py [--min-duration-s 10] [--out /tmp/whatif_bench]

The grid: target_qps = 10000..40000 (25 values) x batching.timeout_us = 250, 500, 1000,
2000, 4000, 8000, 12000, 16000 (8 values) = 200 points on the a100 profile, ResNet-50,
Server, official rules except min_duration (default 10 s: the acceptance is about identical
tables, not 600 s runs). Prints one JSON line per phase with wall time and whether the
tables are equal.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

GRID = ["--sweep", "target_qps=10000:40000:25",
        "--sweep", "batching.timeout_us=250,500,1000,2000,4000,8000,12000,16000", "--profile", "a100"]


def whatif(out: Path, *extra: str, wait: bool = True):
    cmd = [sys.executable, "-m", "simbench.cli.main", "whatif", *GRID, "--out", str(out), *extra]
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min-duration-s", default="10")
    ap.add_argument("--out", default="/tmp/whatif_bench")
    a = ap.parse_args()
    root = Path(a.out)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    dur = ["--min-duration-s", a.min_duration_s]
    wall = whatif(root / "local", *dur, "--workers", "2")
    local = pd.read_parquet(root / "local" / "sweep.parquet")
    print(json.dumps({"phase": "local, 2 worker processes", "points": len(local), "wall_s": round(wall, 1),
                      "load_avg_1min": round(os.getloadavg()[0], 2)}))
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as c:
        wall = whatif(root / "dask", *dur, "--scheduler", c.scheduler_address)
    dask = pd.read_parquet(root / "dask" / "sweep.parquet")
    print(json.dumps({"phase": "Dask LocalCluster, 2 workers", "points": len(dask), "wall_s": round(wall, 1),
                      "identical_to_local": bool(dask.equals(local))}))
    p = whatif(root / "killed", *dur, "--workers", "2", wait=False)
    t0 = time.perf_counter()
    while len(list((root / "killed" / "points").glob("*.json"))) < len(local) // 2:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    kept = len(list((root / "killed" / "points").glob("*.json")))
    wall = whatif(root / "killed", *dur, "--workers", "2", "--resume")
    resumed = pd.read_parquet(root / "killed" / "sweep.parquet")
    print(json.dumps({"phase": "killed half way (SIGKILL) + --resume", "kept_at_kill": kept,
                      "wall_before_kill_s": round(time.perf_counter() - t0 - wall, 1), "resume_wall_s": round(wall, 1),
                      "identical_to_local": bool(resumed.equals(local))}))


if __name__ == "__main__":
    main()
