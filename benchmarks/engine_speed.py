"""Simulated queries per wall-clock second: numba engine vs SimPy reference, fixed clock vs governors.

    python benchmarks/engine_speed.py [--qps 30000] [--duration-s 60] [--simpy-duration-s 5]

Workload: the shipped a100 profile, ResNet-50, Server scenario at ``--qps`` with the profile's
harness batching (dynamic, max_batch 128, timeout 4 ms), official mlperf.conf seeds.

* numba, fixed clock (no governor: the simulator as before the device model), and numba with
  ``power_cap:260`` and ``thermal`` (hot ambient), each over ``--duration-s`` simulated seconds,
  in one process, one after the other: the ratio governor / fixed is measured in one run;
* SimPy (the reference model) over ``--simpy-duration-s``, fixed clock and power_cap; the numba
  traces of the same length are checked identical to the SimPy ones.

Numba times exclude JIT compilation (a warm-up run of every configuration first). Each timing
is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from simbench.profiles import load_profile
from simbench.settings import Scenario, official_settings
from simbench.sim import simulate, sut_from_profile

CONFIGS = (("fixed clock", None, None), ("power_cap:260", "power_cap:260", None), ("thermal, 45 C", "thermal", 45.0))


def _timed(s, sut, engine, repeat):
    best, run = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        run = simulate(s, sut, engine=engine)
        best = min(best, time.perf_counter() - t0)
    return best, run


def _same(a, b) -> bool:
    cols = ("issue_ns", "start_ns", "complete_ns", "batch_id", "device_id", "clock_mhz")
    ok = all(np.array_equal(getattr(a.trace, c), getattr(b.trace, c)) for c in cols)
    if a.timeline is not None:
        ok = ok and all(
            np.array_equal(getattr(a.timeline, c), getattr(b.timeline, c), equal_nan=True)
            for c in ("t_ns", "clock_mhz", "power_w", "temperature_c", "throttle")
        )
    return ok


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--qps", type=float, default=30000.0)
    ap.add_argument("--duration-s", type=float, default=60.0)
    ap.add_argument("--simpy-duration-s", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    profile = load_profile("a100")
    base = dataclasses.replace(official_settings("resnet50", "Server"), server_target_qps=args.qps)
    long_s = dataclasses.replace(base, min_duration_ms=int(args.duration_s * 1000))
    short_s = dataclasses.replace(base, min_duration_ms=int(args.simpy_duration_s * 1000))
    suts = {name: sut_from_profile(profile, "resnet50", Scenario.Server, governor=g, ambient_c=amb) for name, g, amb in CONFIGS}
    for sut in suts.values():  # JIT warm-up
        simulate(dataclasses.replace(base, min_duration_ms=200), sut, engine="numba")
    print(f"workload: a100/resnet50 Server {args.qps:g} QPS; numba over {args.duration_s:g} s, SimPy over {args.simpy_duration_s:g} s")
    t_fixed = None
    for name, sut in suts.items():
        t, run = _timed(long_s, sut, "numba", args.repeat)
        n = run.trace.query_count
        t_fixed = t if t_fixed is None else t_fixed
        print(f"numba {name:15s}: {t:8.3f} s  {n / t:14,.0f} queries/s  ({n:,} queries; time / fixed-clock time {t / t_fixed:.2f})")
        del run
    for name in ("fixed clock", "power_cap:260"):
        sut = suts[name]
        t_s, b = _timed(short_s, sut, "simpy", 1)
        t_n, a = _timed(short_s, sut, "numba", args.repeat)
        n = a.trace.query_count
        print(
            f"simpy {name:15s}: {t_s:8.3f} s  {n / t_s:14,.0f} queries/s  ({n:,} queries; numba/simpy speed"
            f" {t_s / t_n:,.1f}x; identical trace and timeline: {_same(a, b)})"
        )


if __name__ == "__main__":
    main()
