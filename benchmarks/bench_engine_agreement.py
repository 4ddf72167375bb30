"""The same ONNX Runtime SUT under simbench's LoadGenerator and under the official LoadGen.

For a moderate Server load it reports p50/p90/p99 latency of each engine and their relative
difference; for SingleStream the early-stopping p90 estimates. Runs alternate engines
(simbench, mlcommons, simbench, ...) so slow drifts of a shared machine hit both.

Run:  python benchmarks/bench_engine_agreement.py --sut onnx:tiny --qps 1000 --duration-ms 20000 --json /tmp/agree.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from simbench.bench.loadgen import LoadGenerator, host_info
from simbench.bench.mlcommons import run_mlcommons
from simbench.batching import parse_batching
from simbench.bench.sut import make_sut
from simbench.settings import official_settings
from simbench.report import summary_to_dict

QSL_TOTAL, QSL_PERF = 50_000, 1024


def one(engine: str, sut_spec: str, settings, threads: int, workers: int, batching: str | None):
    sut = make_sut(sut_spec, threads=threads, workers=workers, batching=parse_batching(batching))
    if engine == "simbench":
        return LoadGenerator(sut, settings, qsl_total_count=QSL_TOTAL, qsl_performance_count=QSL_PERF).run()
    with tempfile.TemporaryDirectory() as d:
        return run_mlcommons(sut, settings, qsl_total_count=QSL_TOTAL, qsl_performance_count=QSL_PERF, log_dir=Path(d))


def figures(run) -> dict:
    s = run.summary
    d = summary_to_dict(s)
    out = {k: s.latency_percentiles_ns[p] for k, p in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}
    out.update(queries=s.query_count, valid=bool(s.result_valid), headline=s.headline_value)
    for k in ("early_stopping_latency_ss", "early_stopping_latency_ms", "result_completed_samples_per_sec"):
        if k in d:
            out[k] = d[k]
    if "loadgen" in run.extra:
        out["loadgen_printed"] = {k: v["loadgen"] for k, v in run.extra["loadgen"]["comparison"].items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sut", default="onnx:tiny")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--batching", default=None)
    ap.add_argument("--qps", type=float, default=1000)
    ap.add_argument("--duration-ms", type=int, default=20_000)
    ap.add_argument("--ss-expected-latency-us", type=float, default=200)
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--scenarios", default="Server,SingleStream")
    ap.add_argument("--json")
    a = ap.parse_args()
    out = {"host": host_info(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "args": vars(a), "runs": []}
    for scen in a.scenarios.split(","):
        s = dataclasses.replace(
            official_settings("resnet50", scen),
            server_target_qps=a.qps,
            min_duration_ms=a.duration_ms,
            single_stream_expected_latency_ns=int(a.ss_expected_latency_us * 1000),
        )
        for pair in range(a.pairs):
            for engine in ("simbench", "mlcommons"):
                f = figures(one(engine, a.sut, s, a.threads, a.workers, a.batching))
                f.update(engine=engine, scenario=scen, pair=pair)
                print(json.dumps(f), flush=True)
                out["runs"].append(f)
    # pooled comparison per scenario: mean over pairs of each engine
    table = {}
    for scen in a.scenarios.split(","):
        rows = {e: [r for r in out["runs"] if r["scenario"] == scen and r["engine"] == e] for e in ("simbench", "mlcommons")}
        keys = ["p50", "p90", "p99"] + (["early_stopping_latency_ss"] if scen == "SingleStream" else [])
        table[scen] = {}
        for k in keys:
            sb = sum(r[k] for r in rows["simbench"]) / len(rows["simbench"])
            mc = sum(r[k] for r in rows["mlcommons"]) / len(rows["mlcommons"])
            table[scen][k] = {"simbench": sb, "mlcommons": mc, "rel_diff": (sb - mc) / mc}
    out["comparison"] = table
    print(json.dumps(table, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
