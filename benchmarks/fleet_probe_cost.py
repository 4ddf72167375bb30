"""CPU seconds of one official count-only Server probe of ``simbench plan fleet``, per queue
layout and governor: h100, ResNet-50, 100,000 QPS, 15 ms, 2 devices (60,004,435 queries).

    python benchmarks/fleet_probe_cost.py

Each probe runs twice in one process (the first includes loading or compiling the numba
kernels); the second figure is the cost a fleet search pays per probe.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    from simbench.plan.fleet import _probe
    from simbench.plan.spec import RunSpec, prepare

    load = os.getloadavg()[0]
    for layout, gov in (("shared", None), ("round-robin", None), ("jsq", None), ("shared", "power_cap:420")):
        pc = prepare(RunSpec(profile="h100", target_qps=100000.0, target_latency_ms=15.0, governor=gov))
        sut = dataclasses.replace(pc.sut, replicas=2)
        times = []
        for _ in range(2):
            c = cpu_s()
            ok, n, over, energy = _probe(pc.settings, sut, layout, pc.service_seed)
            times.append(round(cpu_s() - c, 2))
        print(json.dumps({"layout": layout, "governor": gov, "passed": ok, "queries": n, "over_bound": over,
                          "cpu_s_first": times[0], "cpu_s": times[1], "load_avg_1min_before": round(load, 2)}))


if __name__ == "__main__":
    main()
