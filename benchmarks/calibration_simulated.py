"""Simulate every calibration target of the shipped profiles under the official rules and
compare with the published figure and the analytic value.

    python benchmarks/calibration_simulated.py                   # all targets (~1-2 min)
    python benchmarks/calibration_simulated.py --profile a100 --all-scenarios

Each run is ``simbench simulate --profile P --model M --scenario S --json`` with the default
seeds and the official settings (600 s minimum duration); the output is a Markdown table for
docs/calibration.md. ``--all-scenarios`` also runs the SingleStream/MultiStream/Offline
scenarios that have no published figure (e.g. H100 SingleStream, bert-99 MultiStream) to
check they are VALID.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration_table import analytic, fmt, fmt_err  # noqa: E402

from simbench.profiles import list_profiles, load_profile  # noqa: E402

SCENARIOS = ("SingleStream", "MultiStream", "Offline")


def simulate(profile: str, model: str, scenario: str, out_dir: str) -> dict:
    cmd = [
        sys.executable, "-c", "from simbench.cli.main import main; main()", "simulate",
        "--profile", profile, "--model", model, "--scenario", scenario, "--json",
        "--out", str(Path(out_dir) / f"{profile}_{model}_{scenario}"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", action="append", help="profile name (default: all shipped)")
    ap.add_argument("--all-scenarios", action="store_true",
                    help="also run scenarios without a published figure")
    args = ap.parse_args(argv)
    print("| profile | model | scenario | published | analytic (profile) | simulated "
          "| simulated vs published | result | queries |")
    print("|---|---|---|---:|---:|---:|---:|---|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.profile or list_profiles():
            prof = load_profile(name)
            for mname, m in prof.models.items():
                targets = {t.scenario: t for t in m.calibration}
                for scen in SCENARIOS:
                    t = targets.get(scen)
                    if t is None and not args.all_scenarios:
                        continue
                    d = simulate(name, mname, scen, tmp)
                    unit = "samples/s" if scen == "Offline" else "ns"
                    sim = d["headline_value"]
                    pub = fmt(t.value, unit) if t else "–"
                    err = fmt_err(sim / t.value - 1) if t else "–"
                    print(
                        f"| {name} | {mname} | {scen} | {pub} | {fmt(analytic(m, scen), unit)} "
                        f"| {fmt(sim, unit)} | {err} | {d['result_validity']} "
                        f"| {d['result_query_count']:,} |",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
