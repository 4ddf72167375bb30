"""Harness overhead on a null SUT: simbench's LoadGenerator vs the official LoadGen.

Measures, on this machine, in one process each:

1. issue lag (issued - scheduled) percentiles of Server at a fixed QPS (default 1,000);
2. the highest Server QPS whose run is VALID (15 ms p99 bound, early stopping), by
   doubling then bisecting, for both engines.

Run:  python benchmarks/bench_harness_overhead.py --json /tmp/overhead.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from simbench.bench.loadgen import LoadGenerator, host_info
from simbench.bench.mlcommons import run_mlcommons
from simbench.bench.sut import NullSUT
from simbench.settings import official_settings
from simbench.stats import loadgen_percentile

QSL_TOTAL, QSL_PERF = 50_000, 1024


def settings(qps: float, duration_ms: int):
    return dataclasses.replace(
        official_settings("resnet50", "Server"), server_target_qps=float(qps), min_duration_ms=duration_ms
    )


def run_once(engine: str, qps: float, duration_ms: int, trace: bool = True):
    s = settings(qps, duration_ms)
    if engine == "simbench":
        return LoadGenerator(NullSUT(), s, qsl_total_count=QSL_TOTAL, qsl_performance_count=QSL_PERF).run()
    with tempfile.TemporaryDirectory() as d:
        return run_mlcommons(NullSUT(), s, qsl_total_count=QSL_TOTAL, qsl_performance_count=QSL_PERF,
                             log_dir=Path(d), enable_trace=trace)


def lag_stats(run) -> dict:
    lag = run.issue_lag_ns()
    return {f"p{int(p * 100) if p < 0.999 else 99.9}": int(loadgen_percentile(lag, p)) for p in (0.5, 0.9, 0.99, 0.999)} | {
        "max": int(lag.max()), "n": int(lag.size)}


def valid(engine: str, qps: float, duration_ms: int) -> tuple[bool, dict]:
    run = run_once(engine, qps, duration_ms, trace=False)
    s = run.summary
    if engine == "mlcommons":
        ok = run.extra["loadgen"]["result_validity"] == "VALID"
    else:
        ok = bool(s.result_valid)
    return ok, {"qps": qps, "valid": ok, "p99_ns": s.latency_percentiles_ns[0.99],
                "completed_sps": s.completed_samples_per_second, "queries": s.query_count}


def peak(engine: str, duration_ms: int, start: float, steps: int) -> dict:
    probes = []
    lo, hi = 0.0, None
    q = start
    while hi is None:
        ok, info = valid(engine, q, duration_ms)
        probes.append(info)
        print(engine, info, flush=True)
        if ok:
            lo, q = q, q * 2
        else:
            hi = q
        if q > 1e6:
            break
    for _ in range(steps):
        if hi is None or hi - lo < 0.02 * hi:
            break
        mid = round((lo + hi) / 2, -2)
        ok, info = valid(engine, mid, duration_ms)
        probes.append(info)
        print(engine, info, flush=True)
        lo, hi = (mid, hi) if ok else (lo, mid)
    return {"peak_valid_qps": lo, "first_invalid_qps": hi, "probes": probes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lag-qps", type=float, default=1000)
    ap.add_argument("--lag-duration-ms", type=int, default=10_000)
    ap.add_argument("--lag-repeats", type=int, default=3)
    ap.add_argument("--peak-duration-ms", type=int, default=2_000)
    ap.add_argument("--peak-start", type=float, default=5_000)
    ap.add_argument("--bisect-steps", type=int, default=5)
    ap.add_argument("--skip-peak", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    out = {"host": host_info(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "lag": {}, "peak": {}}
    for engine in ("simbench", "mlcommons"):
        reps = []
        for _ in range(a.lag_repeats):
            run = run_once(engine, a.lag_qps, a.lag_duration_ms)
            st = lag_stats(run) | {"valid": bool(run.summary.result_valid), "latency_p99_ns": run.summary.latency_percentiles_ns[0.99]}
            print(engine, "lag @", a.lag_qps, st, flush=True)
            reps.append(st)
        out["lag"][engine] = reps
    if not a.skip_peak:
        for engine in ("simbench", "mlcommons"):
            out["peak"][engine] = peak(engine, a.peak_duration_ms, a.peak_start, a.bisect_steps)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))
    print(json.dumps({k: v for k, v in out.items() if k != "host"}, indent=1)[:3000])


if __name__ == "__main__":
    main()
