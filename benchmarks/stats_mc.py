"""Monte Carlo acceptance figures for simbench.stats (issue 4), measured by hand.

Run from the repository root (about 70 minutes on 2 cores, almost all of it the queue section):

    python benchmarks/stats_mc.py                     # everything, markdown to stdout
    python benchmarks/stats_mc.py --only timing       # just the 10,000 x 270,336 timing
    python benchmarks/stats_mc.py --only iid --replications 10000
    python benchmarks/stats_mc.py --only queue --json results.json
    python benchmarks/stats_mc.py --only simulator --duration-s 600

Sections
--------
timing  10,000 replications x 270,336 queries (lognormal), kernel wall time, cold and warm.
iid     coverage of the three claims for lognormal, Gamma and an empirical law (resampled
        from a simulated A100 ResNet-50 Server trace), at p99/270,336 and p90/24,576.
queue   GI/M/1 sojourn times (Poisson and bursty Gamma arrivals) by utilization: tau,
        coverage at the official count, corrected checks, coverage at n*tau.
simulator  simulated A100 ResNet-50 Server traces (simbench simulate) by load, with and
        without dynamic batching: tau, effective sample size, queries needed.

The figures in docs/statistics.md were produced by this script; it prints the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path


def _machine() -> str:
    import numba

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, numba {numba.__version__} with {numba.get_num_threads()} threads"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _row(result, names=("margin", "percentile_ci", "early_stopping")) -> list[str]:
    cells = []
    for name in names:
        try:
            check = result.check(name)
        except KeyError:
            cells.append("-")
            continue
        cells.append(f"{_pct(check.coverage)} ± {_pct(check.standard_error)} ({_pct(check.nominal)})")
    return cells


def timing(replications: int) -> dict:
    from simbench.stats import LogNormalLaw, validate

    law = LogNormalLaw()
    start = time.perf_counter()
    first = validate(law, replications=replications, seed=0)
    first_total = time.perf_counter() - start
    start = time.perf_counter()
    second = validate(law, replications=replications, seed=0)
    second_total = time.perf_counter() - start
    same = [c.successes for c in first.checks] == [c.successes for c in second.checks]
    print(f"\n### Timing: {replications:,} replications x {first.query_count:,} queries, {law!r}\n")
    print("| run | kernel s | total s (incl. ranks, seeding) | threads | identical results |")
    print("|---|---|---|---|---|")
    print(f"| first in this process | {first.elapsed_s:.1f} | {first_total:.1f} | {first.threads} | |")
    print(f"| second | {second.elapsed_s:.1f} | {second_total:.1f} | {second.threads} | {same} |")
    return {"first_kernel_s": first.elapsed_s, "first_total_s": first_total,
            "second_kernel_s": second.elapsed_s, "second_total_s": second_total, "identical": same}


def _simulated_trace(directory: Path, target_qps: float) -> Path:
    command = [sys.executable, "-m", "simbench.cli.main", "simulate", "--profile", "a100", "--scenario", "Server",
               "--target-qps", str(target_qps), "--min-duration-s", "60", "--out", str(directory)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return directory / "Server" / "trace.parquet"


def iid(replications: int) -> list[dict]:
    from simbench.stats import EmpiricalLaw, GammaLaw, LogNormalLaw, validate

    with tempfile.TemporaryDirectory() as folder:
        trace = _simulated_trace(Path(folder), 20_000.0)
        empirical = EmpiricalLaw.from_trace(trace)
    empirical = EmpiricalLaw(empirical.values_ns, source="simbench simulate --profile a100 --scenario Server "
                                                         "--target-qps 20000 --min-duration-s 60")
    laws = [LogNormalLaw(median_ns=1e6, sigma=0.5), GammaLaw(shape=2.0, scale_ns=5e5), empirical]
    rows = []
    print(f"\n### i.i.d. coverage, {replications:,} replications each: MC coverage % ± MC s.e. (exact i.i.d. %)\n")
    print("| law | p | n | margin claim | percentile CI | early stopping | kernel s |")
    print("|---|---|---|---|---|---|---|")
    for percentile in (0.99, 0.90):
        for law in laws:
            result = validate(law, percentile=percentile, replications=replications, seed=0)
            print(f"| {law!r} | {percentile:g} | {result.query_count:,} | " + " | ".join(_row(result))
                  + f" | {result.elapsed_s:.1f} |")
            rows.append(asdict(result))
    return rows


def queue(replications: int, budget: float) -> list[dict]:
    from simbench.stats import QueueLaw, validate_correlated

    rows = []
    configs = [(rho, 1.0) for rho in (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)] + [(rho, 0.25) for rho in (0.5, 0.8)]
    print(f"\n### Correlated latencies (GI/M/1, p99, n = 270,336, {replications:,} replications; "
          "MC coverage % ± s.e.)\n")
    print("| utilization | arrivals | tau (acf) | tau (batch means) | tau (MC var. ratio) | margin | CI | "
          "early stopping | CI, n_eff = n/tau | ES, n_eff = n/tau | n*tau | margin at n*tau (replications) | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for rho, shape in configs:
        start = time.perf_counter()
        result = validate_correlated(QueueLaw(rho, arrival_shape=shape), percentile=0.99,
                                     replications=replications, seed=0, budget_queries=budget)
        elapsed = time.perf_counter() - start
        official = result.official
        cells = []
        for name in ("margin", "percentile_ci", "early_stopping", "percentile_ci+ess", "early_stopping+ess"):
            try:
                check = official.check(name)
                cells.append(f"{_pct(check.coverage)} ± {_pct(check.standard_error)}")
            except KeyError:  # e.g. n/tau below early stopping's minimum
                cells.append("–")
        restored = result.restored.check("margin")
        arrivals = "Poisson" if shape == 1.0 else f"Gamma k={shape:g} (CV²={1 / shape:g})"
        print(f"| {rho:g} | {arrivals} | {result.autocorrelation_time:.1f} | {result.batch_means_time:.1f} | "
              f"{official.count_variance_ratio:.1f} | " + " | ".join(cells)
              + f" | {result.corrected_query_count:,} | {_pct(restored.coverage)} ± {_pct(restored.standard_error)}"
              f" ({restored.replications:,}) | {elapsed:.0f} |")
        rows.append(asdict(result))
    return rows


def simulator(duration_s: float) -> list[dict]:
    """tau and required queries of simulated A100 ResNet-50 Server runs (simbench simulate)."""
    from simbench.stats import required_queries
    from simbench.stats._trace_io import read_query_latencies

    single_sample_ns = 453_428  # a100.yaml resnet50 latency(1): capacity without batching ~2,205 QPS
    peak_dynamic_qps = 36_914.0  # `simbench simulate --profile a100` peak search, dynamic:128:4000
    rows = []
    print(f"\n### Simulated A100 ResNet-50 Server runs ({duration_s:g} s each): autocorrelation of "
          "[latency <= p99] and the queries needed (p99, c = 0.99, margin 0.05%)\n")
    print("| batching | load (fraction of capacity) | target QPS | queries | lag-1 autocorr. | tau (acf) | "
          "tau (batch means) | n_eff = n/tau | queries needed (Eq. 2 x tau) | ES minimum x tau | enough? |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for batching, capacity in (("none", 1e9 / single_sample_ns), ("dynamic:128:4000", peak_dynamic_qps)):
        for load in (0.3, 0.5, 0.7, 0.9, 0.95):
            qps = round(load * capacity, 1)
            with tempfile.TemporaryDirectory() as folder:
                command = [sys.executable, "-m", "simbench.cli.main", "simulate", "--profile", "a100",
                           "--scenario", "Server", "--target-qps", str(qps), "--batching", batching,
                           "--min-duration-s", str(duration_s), "--out", folder]
                subprocess.run(command, check=True, capture_output=True, text=True)
                latencies = read_query_latencies(Path(folder) / "Server" / "trace.parquet")
            result = required_queries(latencies, 0.99)
            tau = result.autocorrelation
            print(f"| {batching} | {load:g} | {qps:,.1f} | {result.query_count:,} | "
                  f"{tau.latency_lag1_autocorrelation:.3f} | {tau.acf_time:.1f} | {tau.batch_means_time:.1f} | "
                  f"{tau.effective_sample_count:,.0f} | {result.required_queries:,} | "
                  f"{result.early_stopping_required_queries:,} | {'yes' if result.sufficient else 'no'} |")
            rows.append({"batching": batching, "load": load, "target_qps": qps, **asdict(result)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("timing", "iid", "queue", "simulator"))
    parser.add_argument("--duration-s", type=float, default=600.0, help="simulator section: min_duration")
    parser.add_argument("--replications", type=int, default=10_000)
    parser.add_argument("--budget", type=float, default=2.0e10, help="simulated queries per restored run")
    parser.add_argument("--json", type=Path, help="also write all results as JSON here")
    args = parser.parse_args()
    print(f"Machine: {_machine()}")
    results: dict = {}
    if args.only in (None, "timing"):
        results["timing"] = timing(args.replications)
    if args.only in (None, "iid"):
        results["iid"] = iid(args.replications)
    if args.only in (None, "queue"):
        results["queue"] = queue(args.replications, args.budget)
    if args.only in (None, "simulator"):
        results["simulator"] = simulator(args.duration_s)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
