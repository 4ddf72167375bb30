"""Cost of the statistics every Summary now carries (tau, corrected count, warnings; issue 11).

Times ``simbench.stats.run_statistics`` (what ``summarize`` adds) on the traces of the main job
``simbench simulate --profile a100`` and prints its fields:

    simbench simulate --profile a100 --out /tmp/a100
    python benchmarks/summary_statistics_cost.py /tmp/a100 [--repeat 5]

The added cost of the job is the sum over its scenarios (Offline is not analysed).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="simulate/benchmark output folder (one sub-folder per scenario)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from simbench.settings import SCENARIO_RULES, Scenario
    from simbench.stats import loadgen_percentile
    from simbench.stats.run_statistics import run_statistics
    from simbench.trace import read_trace

    run_statistics(list(range(1000)), 0.99)  # imports (scipy.fft, scipy.stats) once, as in a job
    total = 0.0
    for sub in sorted(p for p in args.folder.iterdir() if (p / "trace.parquet").exists()):
        trace = read_trace(sub / "trace.parquet")
        scenario = Scenario(trace.metadata["scenario"]) if "scenario" in trace.metadata else Scenario(sub.name)
        if scenario is Scenario.Offline:
            continue
        lat = trace.query_latencies_ns() if SCENARIO_RULES[scenario].per_query_latency else trace.sample_latencies_ns()
        p = json.loads((sub / "summary.json").read_text())["effective_settings"]["target_latency_percentile"]
        threshold = loadgen_percentile(lat, p)  # summarize has it already
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = run_statistics(lat, p, threshold_ns=threshold)
            times.append(time.perf_counter() - t0)
        best = min(times)
        total += best
        print(f"{scenario.value:12s} n={lat.size:>11,} p={p:g}: {best * 1e3:7.1f} ms (best of {args.repeat}; "
              f"median {sorted(times)[len(times) // 2] * 1e3:.1f} ms)  tau={result.tau:.2f} "
              f"[{result.tau_low:.2f}, {result.tau_high:.2f}] required={result.required_queries:,} "
              f"basis={result.basis!r} warnings={list(result.warnings)}")
    print(f"total added per job: {total * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
