"""Print the calibration table: every published figure a shipped profile is calibrated to,
against what the profile reproduces analytically.

    python benchmarks/calibration_table.py            # Markdown table (docs/calibration.md)
    python benchmarks/calibration_table.py --profile a100 --json

The analytic value is the simulator's semantics in closed form:

* Offline samples/s  = replicas * B / (latency(B) * noise.mean), B = Offline max_batch
* SingleStream p90   = latency(1) * q(0.9)
* MultiStream p99    = latency(8) * q(0.99)

(q = the noise model's quantile function). Needs only the installed package and the shipped
profiles, not the calibration file. The simulated columns come from ``simbench simulate``.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from simbench.profiles import list_profiles, load_profile


def analytic(model, scenario: str) -> float:
    lat = model.latency.latency_ns
    q = lambda u: float(model.noise.multipliers(np.array([u]))[0])  # noqa: E731
    if scenario == "Offline":
        h = model.scenarios["Offline"]
        b = h.batching.max_batch
        return h.replicas * b / (lat(b) * 1e-9 * model.noise.mean)
    if scenario == "SingleStream":
        return lat(1) * q(0.9)
    if scenario == "MultiStream":
        return lat(8) * q(0.99)
    raise ValueError(f"no analytic formula for {scenario}")


def rows(names: list[str]) -> list[dict]:
    out = []
    for name in names:
        prof = load_profile(name)
        for mname, m in prof.models.items():
            for t in m.calibration:
                got = analytic(m, t.scenario)
                system = ""
                if "system=" in t.source:
                    system = t.source.split("system=", 1)[1].split(",", 1)[0]
                out.append({
                    "profile": name, "model": mname, "scenario": t.scenario, "metric": t.metric,
                    "unit": t.unit, "published": t.value, "analytic": got,
                    "error": got / t.value - 1, "tolerance": t.tolerance, "system": system,
                })
    return out


def fmt(v: float, unit: str) -> str:
    return f"{v:,.1f}" if unit == "samples/s" else f"{v:,.0f}"


def fmt_err(e: float) -> str:
    """Relative error in %, without a sign flicker on rounding noise (|e| < 0.005 %)."""
    return "0.00%" if abs(e) < 5e-5 else f"{e:+.2%}"


HEADER = (
    "| profile | model | scenario | metric | published | analytic (profile) | error "
    "| tolerance | published by |\n|---|---|---|---|---:|---:|---:|---:|---|"
)


def markdown_row(r: dict) -> str:
    return (
        f"| {r['profile']} | {r['model']} | {r['scenario']} | {r['metric']} | "
        f"{fmt(r['published'], r['unit'])} | {fmt(r['analytic'], r['unit'])} | "
        f"{fmt_err(r['error'])} | {r['tolerance']:.0%} | {r['system']} |"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", action="append", help="profile name (default: all shipped)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = ap.parse_args(argv)
    data = rows(args.profile or list_profiles())
    if args.json:
        print(json.dumps(data, indent=1))
        return 0
    print(HEADER)
    for r in data:
        print(markdown_row(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
