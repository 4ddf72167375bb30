"""End-to-end coverage of the corrected procedure (issue 11 §3): one run, τ from it, N_iid x tau_high, a fresh run.

Run from the repository root; each group is one command under 10 minutes on 2 cores (rows are
appended to the JSON-lines file as they finish, so an interrupted group keeps its rows):

    python benchmarks/stats_procedure.py --group mm1 --json benchmarks/stats_procedure_results.jsonl
    python benchmarks/stats_procedure.py --group gim1 --json benchmarks/stats_procedure_results.jsonl
    python benchmarks/stats_procedure.py --group gig1 --json benchmarks/stats_procedure_gig1.jsonl
    python benchmarks/stats_procedure.py --group simulator --json benchmarks/stats_procedure_results.jsonl
    python benchmarks/stats_procedure.py --group warmup --json benchmarks/stats_procedure_results.jsonl
    python benchmarks/stats_procedure.py --render benchmarks/stats_procedure_results.jsonl

Groups: ``mm1`` = M/M/1 (QueueLaw, Poisson) at rho 0.5/0.8/0.9, p90 and p99; ``gim1`` = GI/M/1
with bursty Gamma arrivals (shape 0.25, cv 2) at rho 0.5/0.8/0.9, p99; ``gig1`` = GI/G/1 (GIG1Law)
with Gamma(0.5) arrivals (cv 1.41) and Gamma(4) service (cv 0.5) at rho 0.5/0.8/0.9, p90 and p99, true
quantiles from a 1e9-query reference run (8 runs, each after a 100,000-query warm-up); ``simulator`` = the
simulator's a100 ResNet-50 Server with the profile's dynamic batcher at 50/70/90/95 % load
(Poisson) and with bursty Gamma cv 2 arrivals at 50 %, and without batching at 50 % (about M/D/1:
Poisson arrivals, near-deterministic service, i.e. a GI/G/1 queue with non-exponential service), p99; ``warmup`` = i.i.d. latencies whose
first 2 % are twice as slow (the issue's case): how often the procedure flags it.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from dataclasses import asdict

METHODS = ("geyer", "acf", "obm")


def _rows(group: str, args):
    from simbench.stats import QueueLaw

    if group == "mm1":
        for rho in (0.5, 0.8, 0.9):
            for p in (0.9, 0.99):
                yield f"M/M/1 rho={rho}", QueueLaw(rho), p
    elif group == "gim1":
        for rho in (0.5, 0.8, 0.9):
            yield f"GI/M/1 Gamma(0.25) arrivals rho={rho}", QueueLaw(rho, arrival_shape=0.25), 0.99
    elif group == "gig1":
        from simbench.stats import GIG1Law

        for rho in (0.5, 0.8, 0.9):
            for p in (0.9, 0.99):
                yield (f"GI/G/1 Gamma(0.5) arrivals Gamma(4) service rho={rho}",
                       GIG1Law(rho, arrival_shape=0.5, service_shape=4.0, reference_queries=args.gig1_reference), p)
    elif group == "simulator":
        from simbench.plan.coverage import SimulatorLaw

        for load, arrival, batching in ((0.5, "poisson", "dynamic"), (0.7, "poisson", "dynamic"),
                                        (0.9, "poisson", "dynamic"), (0.95, "poisson", "dynamic"),
                                        (0.5, "gamma:2", "dynamic"), (0.5, "poisson", "none")):
            label = f"a100 Server {batching} {arrival} load={load}"
            if args.only and not re.search(args.only, label):
                continue  # building a SimulatorLaw costs a reference run
            law = SimulatorLaw(load, batching=batching, arrival=arrival, reference_queries=args.reference_queries,
                               workers=args.workers)
            yield label, law, 0.99


def _simulator_true_tau(law, p, m):
    """τ at ξ_{p-m}, ξ_p, ξ_{p+m} from the reference run's first segment (batch means, b = 20,000)."""
    return law.reference_autocorrelation((p - m, p, p + m))


def _warmup(args) -> dict:
    import numpy as np

    from simbench.stats import required_queries

    flagged = warm = 0
    trimmed = []
    start = time.perf_counter()
    for r in range(args.warmup_replications):
        x = np.random.default_rng([args.seed, 7, r]).exponential(1e6, size=270_336)
        x[: int(0.02 * x.size)] *= 2.0
        result = required_queries(x, 0.99)
        flagged += bool(result.warnings)
        warm += any(w.startswith("warm-up") for w in result.warnings)
        trimmed.append(required_queries(x, 0.99, warmup_queries="auto").trimmed_queries)
    return {"case": "i.i.d. exponential, first 2 % twice as slow (n = 270,336, p99)",
            "replications": args.warmup_replications, "flagged": flagged, "warm_up_flagged": warm,
            "mser5_trim_median": float(np.median(trimmed)), "elapsed_s": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", choices=("mm1", "gim1", "gig1", "simulator", "warmup"))
    parser.add_argument("--replications", type=int, default=300, help="pilot runs per row")
    parser.add_argument("--budget", type=float, default=6e9, help="fresh-run queries per row (Geyer)")
    parser.add_argument("--reference-queries", type=int, default=20_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--gig1-reference", type=int, default=1_000_000_000,
                        help="gig1: queries of the reference run giving the true quantiles")
    parser.add_argument("--warmup-replications", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=None, help="run only rows whose label matches this regular expression "
                        "(re.search: a plain substring works; end with $ to exclude longer labels)")
    parser.add_argument("--percentile", type=float, default=None, help="run only rows at this p (fraction)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--render", default=None)
    parser.add_argument("--compact", action="store_true", help="--render: one line per case (the docs' table)")
    args = parser.parse_args()
    if args.render:
        (render_compact if args.compact else render)(args.render)
        return
    if args.group == "warmup":
        row = {"group": "warmup", **_warmup(args)}
        print(json.dumps(row))
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")
        return
    from simbench.stats.procedure import validate_procedure
    from simbench.stats.sample_size import sample_size

    for label, law, p in _rows(args.group, args):
        if (args.only and not re.search(args.only, label)) or (args.percentile is not None and p != args.percentile):
            continue
        start = time.perf_counter()
        true_tau = None
        if args.group == "simulator":
            true_tau = _simulator_true_tau(law, p, sample_size(p).margin)
        result = validate_procedure(law, percentile=p, replications=args.replications, methods=METHODS,
                                    direct_methods=("geyer",), budget_queries=args.budget, true_tau=true_tau,
                                    seed=args.seed)
        row = {"group": args.group, "label": label, "wall_s": time.perf_counter() - start, **asdict(result)}
        if args.group == "gig1":  # the reference quantiles and their own error (no closed form)
            m = sample_size(p).margin
            row["reference"] = {"queries": law.reference_queries, "runs": law.reference_runs,
                                "warmup_queries": law.warmup_queries,
                                "quantiles_ns": {f"{q:.6g}": law.reference_quantile(q) for q in (p - m, p, p + m)}}
        print(json.dumps(row), flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")


def render_compact(path: str) -> None:
    """One line per case: Geyer's procedure (direct and conditional) and the other estimators' conditional."""
    rows = [json.loads(line) for line in open(path) if line.strip()]
    print("| case | p | true τ at p (s.e.) | median τ̂ [τ_high], Geyer | τ_high < τ | flagged | median N [p10, p90] | "
          "**direct coverage %** (fresh runs) | conditional %: Geyer / acf / OBM | s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        if row["group"] == "warmup":
            continue
        e = {x["method"]: x for x in row["estimates"]}
        g = e["geyer"]
        tau, tau_se = row["true_tau"][1], row["true_tau_standard_error"][1]
        tau_cell = "–" if not math.isfinite(tau) else f"{tau:,.1f}" + (f" (±{tau_se:.1f})" if tau_se else "")
        below = g["tau_high_below_true"]
        direct = (f"**{_pct(g['direct_coverage'], g['direct_standard_error'])}** ({g['direct_replications']:,})"
                  if g["direct_replications"] else "–")
        cond = " / ".join(_pct(e[m]["conditional_coverage"], e[m]["conditional_standard_error"]) if m in e else "–"
                          for m in ("geyer", "acf", "obm"))
        print(f"| {row['label']} | {row['percentile']:g} | {tau_cell} | {g['tau_median']:,.1f} [{g['tau_high_median']:,.1f}] | "
              f"{'–' if below != below else f'{100 * below:.0f} %'} | {100 * g['flagged']:.0f} % | "
              f"{g['corrected_median']:,} [{g['corrected_p10']:,}, {g['corrected_p90']:,}] | {direct} | {cond} | "
              f"{row['wall_s']:.0f} |")
    _render_references(rows)


def _render_references(rows) -> None:
    """gig1 rows: the reference quantiles and their own error, also on the probability scale."""
    for row in rows:
        ref = row.get("reference")
        if not ref:
            continue
        (q_low, (x_low, _)), (_, (x_mid, se_mid)), (q_high, (x_high, _)) = sorted(
            (float(q), v) for q, v in ref["quantiles_ns"].items())
        density = (q_high - q_low) / (x_high - x_low)  # probability per ns around xi_p
        print(f"\n{row['label']}, p{100 * row['percentile']:g}: reference {ref['queries']:.3g} queries "
              f"({ref['runs']} runs, each after a {ref['warmup_queries']:,}-query warm-up): "
              f"xi_p = {x_mid / 1e6:.5f} ms +- {se_mid / 1e6:.5f} ({100 * se_mid / x_mid:.3f} %); "
              f"on the probability scale +- {density * se_mid:.2e} = {100 * density * se_mid / row['margin']:.1f} % "
              f"of the margin m = {row['margin']:g}")


def _pct(value, se=None) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.2f}" + (f" ± {100 * se:.2f}" if se is not None else "")


def render(path: str) -> None:
    rows = [json.loads(line) for line in open(path) if line.strip()]
    print("| case | p | n0 | true τ at p (s.e.) | estimator | median τ̂ [τ_high] | τ_high < τ | flagged | "
          "median N [p10, p90] | direct coverage % (R) | conditional coverage % | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        if row["group"] == "warmup":
            continue
        tau = row["true_tau"][1]
        tau_se = row["true_tau_standard_error"][1]
        tau_cell = "–" if not math.isfinite(tau) else f"{tau:,.1f}" + (f" (±{tau_se:.1f})" if tau_se else "")
        for e in row["estimates"]:
            direct = (f"{_pct(e['direct_coverage'], e['direct_standard_error'])} ({e['direct_replications']})"
                      if e["direct_replications"] else "–")
            below = e["tau_high_below_true"]
            below_cell = "–" if below != below else f"{100 * below:.0f} %"
            print(f"| {row['label']} | {row['percentile']:g} | {row['pilot_queries']:,} | {tau_cell} | {e['method']} | "
                  f"{e['tau_median']:,.1f} [{e['tau_high_median']:,.1f}] | {below_cell} | "
                  f"{100 * e['flagged']:.0f} % | {e['corrected_median']:,} [{e['corrected_p10']:,}, "
                  f"{e['corrected_p90']:,}] | {direct} | "
                  f"{_pct(e['conditional_coverage'], e['conditional_standard_error'])} | {row['wall_s']:.0f} |")
    for row in rows:
        if row["group"] == "warmup":
            print(f"\nwarm-up: {row['case']}: flagged in {row['flagged']} of {row['replications']} runs "
                  f"(warm-up warning in {row['warm_up_flagged']}); MSER-5 trims a median "
                  f"{row['mser5_trim_median']:,.0f} queries (the warm-up is 5,406).")


if __name__ == "__main__":
    main()
