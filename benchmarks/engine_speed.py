"""Simulated queries per wall-clock second: numba engine vs SimPy reference, same Server workload.

    python benchmarks/engine_speed.py [--qps 30000] [--duration-s 5]

Workload: the shipped a100 profile, ResNet-50, Server scenario at ``--qps`` with the profile's
harness batching (dynamic, max_batch 128, timeout 4 ms), official mlperf.conf seeds, for
``--duration-s`` simulated seconds. Both engines produce the identical trace (checked here);
the numba time excludes JIT compilation (one warm-up run first).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from simbench.profiles import load_profile
from simbench.settings import Scenario, official_settings
from simbench.sim import simulate, sut_from_profile


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--qps", type=float, default=30000.0)
    ap.add_argument("--duration-s", type=float, default=5.0)
    args = ap.parse_args()
    profile = load_profile("a100")
    sut = sut_from_profile(profile, "resnet50", Scenario.Server)
    s = dataclasses.replace(
        official_settings("resnet50", "Server"),
        server_target_qps=args.qps,
        min_duration_ms=int(args.duration_s * 1000),
    )
    simulate(dataclasses.replace(s, min_duration_ms=100), sut, engine="numba")  # JIT warm-up
    t0 = time.perf_counter()
    a = simulate(s, sut, engine="numba")
    t_numba = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = simulate(s, sut, engine="simpy")
    t_simpy = time.perf_counter() - t0
    same = np.array_equal(a.trace.complete_ns, b.trace.complete_ns) and np.array_equal(a.trace.start_ns, b.trace.start_ns)
    n = a.trace.query_count
    print(f"workload: a100/resnet50 Server {args.qps:g} QPS x {args.duration_s:g} s = {n:,} queries; identical traces: {same}")
    print(f"numba : {t_numba:8.3f} s  {n / t_numba:14,.0f} queries/s")
    print(f"simpy : {t_simpy:8.3f} s  {n / t_simpy:14,.0f} queries/s")
    print(f"ratio numba/simpy: {t_simpy / t_numba:,.1f}x")


if __name__ == "__main__":
    main()
