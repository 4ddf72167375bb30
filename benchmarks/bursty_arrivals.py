"""Bursty arrivals against Poisson at equal mean rate (issue 12): simulated p99 at a fixed
rate and the peak valid Server QPS, a100 ResNet-50, official rules (600 s). One command:

    python benchmarks/bursty_arrivals.py [--qps 30000,36000] [--min-duration-s 600]

Prints one JSON line per arrival law: the p99 at each --qps (Summary of a full recorded run) and the
peak found by LoadGen's FindPeakPerformance search (simbench plan peak-qps).
"""

from __future__ import annotations

import argparse
import json
import time

LAWS = ["poisson", "gamma:2", "mmpp:5", "trace:azure-conv", "diurnal:peak_to_mean=1.5,period_s=60"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qps", default="30000,36000", help="comma list of fixed rates (QPS)")
    ap.add_argument("--min-duration-s", type=float, default=None)
    ap.add_argument("--profile", default="a100")
    a = ap.parse_args()
    from simbench.plan.spec import RunSpec, peak_for_spec, run_point

    for law in LAWS:
        t0 = time.perf_counter()
        spec = RunSpec(profile=a.profile, arrival=None if law == "poisson" else law, min_duration_s=a.min_duration_s)
        at = {}
        for q in [float(x) for x in a.qps.split(",")]:
            row = run_point(RunSpec(**{**spec.__dict__, "target_qps": q}), required_queries=False).row
            at[f"{q:g}"] = {"p99_ms": row["result_99.00_percentile_latency_ns"] / 1e6, "validity": row["result_validity"]}
        peak, _ = peak_for_spec(spec)
        print(json.dumps({
            "arrival": law, "profile": a.profile, "at_qps": at, "peak_qps": peak.peak_qps,
            "min_duration_s": a.min_duration_s or 600, "wall_s": round(time.perf_counter() - t0, 1),
        }))


if __name__ == "__main__":
    main()
