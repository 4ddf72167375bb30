"""Coverage of the MLPerf statistical claims on latencies produced by the simulator (issue 4, item 5).

Run from the repository root (the figures in docs/statistics.md §6 "Coverage on simulator
latencies"):

    python benchmarks/stats_simulator.py --replications 1000 --budget 3e8 --min-restore 150 \
        --json benchmarks/stats_simulator_results.jsonl                       # Poisson and mmpp:5
    python benchmarks/stats_simulator.py --arrival gamma:2 --replications 1000 --budget 3e8 \
        --min-restore 150 --json benchmarks/stats_simulator_results.jsonl     # Gamma gaps, cv 2
    python benchmarks/stats_simulator.py --render benchmarks/stats_simulator_results.jsonl

For each batching policy x arrival law x utilization: a SimulatorLaw (A100 ResNet-50 Server,
numba engine), its reference run (true quantiles), validate_correlated at n = 270,336 with
``replications`` independent simulator runs, and the margin claim at the corrected count
n*tau where ``budget`` queries allow at least ``min_restore`` replications. Rows are printed
(markdown) as they finish and appended to the JSON file, so a partial run keeps its rows.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict


def _pct(check) -> str:
    return f"{100 * check.coverage:.2f} ± {100 * check.standard_error:.2f}"


def _cell(result, name) -> str:
    try:
        return _pct(result.check(name))
    except KeyError:
        return "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utilization", default="0.3,0.5,0.7,0.9,0.95")
    parser.add_argument("--batching", default="dynamic,none")
    parser.add_argument("--arrival", default="poisson,mmpp:5")
    parser.add_argument("--queries", type=int, default=270_336)
    parser.add_argument("--replications", type=int, default=2000)
    parser.add_argument("--reference-queries", type=int, default=50_000_000)
    parser.add_argument("--budget", type=float, default=4e8, help="queries for each restored run")
    parser.add_argument("--min-restore", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tau-method", default="acf", help="pilot tau for the corrections: acf, batch_means, max")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    from simbench.stats import validate_correlated
    from simbench.plan.coverage import SimulatorLaw

    print(
        "| batching | arrivals | utilization | target QPS | ref. p99 ms (s.e. on F) | τ (acf, pilot) | τ (batch means) "
        "| τ (MC) | margin | CI | early stopping | CI, n/τ | ES, n/τ | n·τ | margin at n·τ (R) | s |"
    )
    print("|---" * 16 + "|")
    for arrival in args.arrival.split(","):
        for batching in args.batching.split(","):
            for u in (float(v) for v in args.utilization.split(",")):
                start = time.perf_counter()
                law = SimulatorLaw(u, batching=batching, arrival=arrival, reference_queries=args.reference_queries,
                                   workers=args.workers)
                ref = law.reference(0.99)
                result = validate_correlated(
                    law, percentile=0.99, query_count=args.queries, replications=args.replications, seed=args.seed,
                    budget_queries=args.budget, min_restore_replications=args.min_restore, skip_unaffordable=True,
                    tau_method=args.tau_method,
                )
                elapsed = time.perf_counter() - start
                off = result.official
                restored = (
                    f"{_cell(result.restored, 'margin')} ({result.restored.replications:,})"
                    if result.restored else "not run"
                )
                print(
                    f"| {batching} | {arrival} | {u:g} | {law.target_qps:,.0f} | {ref.quantile_ns / 1e6:.3f} "
                    f"(±{100 * ref.standard_error:.3f} pt) | {result.autocorrelation_time:.1f} | "
                    f"{result.batch_means_time:.1f} | {off.count_variance_ratio:.1f} | {_cell(off, 'margin')} | "
                    f"{_cell(off, 'percentile_ci')} | {_cell(off, 'early_stopping')} | "
                    f"{_cell(off, 'percentile_ci+ess')} | {_cell(off, 'early_stopping+ess')} | "
                    f"{result.corrected_query_count:,} | {restored} | {elapsed:.0f} |",
                    flush=True,
                )
                if args.json:
                    row = {
                        "batching": batching, "arrival": arrival, "utilization": u, "target_qps": law.target_qps,
                        "tau_method": args.tau_method, "budget": args.budget,
                        "reference": asdict(ref), "result": asdict(result), "elapsed_s": elapsed,
                    }
                    with open(args.json, "a") as handle:
                        handle.write(json.dumps(row) + "\n")


def render(path: str) -> None:
    """Print the docs table from the JSON lines a run appended (``--render FILE``)."""
    import math

    def cell(validation, name):
        for check in (validation or {}).get("checks", ()):
            if check["check"] == name:
                return f"{100 * check['coverage']:.2f} ± {100 * check['standard_error']:.2f}"
        return "–"

    print("| batching | arrivals | load | target QPS | reference p99, ms (s.e. on F, pt) | τ pilot acf | τ pilot batch "
          "means | τ (MC) | margin | CI | early stopping | CI, n/τ | ES, n/τ | n·τ | margin at n·τ (R) | s |")
    print("|---" * 16 + "|")
    for line in open(path):
        row = json.loads(line)
        res, ref = row["result"], row["reference"]
        off = res["official"]
        tau_mc = off["count_variance_ratio"]
        se = math.sqrt(0.99 * 0.01 * max(tau_mc, ref["autocorrelation_time"]) / ref["queries"])
        restored = res["restored"]
        restored = f"{cell(restored, 'margin')} ({restored['replications']:,})" if restored else "not run"
        pilot_flat = res["autocorrelation_time"] == 1.0 and res["batch_means_time"] == 1.0
        print(f"| {row['batching']} | {row['arrival']} | {row['utilization']:g} | {row['target_qps']:,.0f} | "
              f"{ref['quantile_ns'] / 1e6:.2f} (±{100 * se:.3f}) | "
              f"{'1.0†' if pilot_flat else format(res['autocorrelation_time'], '.1f')} | "
              f"{res['batch_means_time']:.1f} | {tau_mc:.1f} | {cell(off, 'margin')} | {cell(off, 'percentile_ci')} | "
              f"{cell(off, 'early_stopping')} | {cell(off, 'percentile_ci+ess')} | {cell(off, 'early_stopping+ess')} | "
              f"{res['corrected_query_count']:,} | {restored} | {row['elapsed_s']:.0f} |")


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--render":
        render(sys.argv[2])
    else:
        main()
