"""Wall and CPU time of the planning acceptance commands (issue 12), one command:

    python benchmarks/plan_speed.py            # peak-qps + the main job
    python benchmarks/plan_speed.py --fleet    # + the walkthrough's fleet question

Each command runs as a user runs it (a subprocess of the installed entry point, from an
empty folder, output discarded). CPU time (user + sys of the child) is printed beside the
wall time so a figure measured on a shared machine can be told apart from contention.
Targets (2 cores, quiet): peak-qps < 10 s, the main job < 15 s, fleet < 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "peak-qps": ["plan", "peak-qps", "--profile", "a100", "--model", "resnet50", "--json"],
    "main job": ["simulate", "--profile", "a100"],
}
FLEET = ["plan", "fleet", "--target-qps", "100000", "--latency-bound-ms", "15",
         "--profile", "a100", "--profile", "h100", "--profile", "l4", "--json"]


def timed(args: list[str]) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "simbench.cli.main", *args, *(["--out", d] if args[0] == "simulate" else [])],
                           cwd=d, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = {"command": "simbench " + " ".join(args), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "rc": r.returncode}
    if args[:2] == ["plan", "peak-qps"] and r.returncode == 0:
        out["peak_qps"] = json.loads(r.stdout)["peak_qps"]
    if r.returncode != 0:
        out["stderr"] = r.stderr[-500:]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fleet", action="store_true", help="also time the fleet walkthrough question")
    a = ap.parse_args()
    cmds = dict(COMMANDS)
    if a.fleet:
        cmds["fleet"] = FLEET
    load = os.getloadavg()[0]
    for name, args in cmds.items():
        res = timed(args)
        res["load_avg_1min_before"] = round(load, 2)
        print(json.dumps({"name": name, **res}))
        load = os.getloadavg()[0]


if __name__ == "__main__":
    main()
