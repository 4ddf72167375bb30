"""Write PROVENANCE.md for a folder of real traces from the traces' own metadata.

Run:  python benchmarks/bench_trace_provenance.py traces/resnet50_ort_cpu "collect command"
"""

from __future__ import annotations

import sys
from pathlib import Path

from simbench.bench.job import summarize_trace_file
from simbench.trace import read_trace


def describe(path: Path, root: Path) -> list[str]:
    t = read_trace(path)
    m = t.metadata
    eff = m["effective_settings"]
    sut = m.get("sut", {})
    s = summarize_trace_file(path)
    opts = m.get("command_options", {})
    flags = " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in opts.items()
        if v is not None and k in ("target_qps", "target_latency_ms", "min_duration_s", "min_query_count", "workers", "threads", "batching")
    )
    head = s.headline_name
    val = f"{s.headline_value:,.2f}" if s.scenario.value in ("Server", "Offline") else f"{s.headline_value / 1e6:,.2f} ms"
    return [
        f"### {path.parent.relative_to(root)}",
        "",
        f"- file: `{path}` ({path.stat().st_size / 1024:.0f} KiB, {len(t):,} samples, {t.query_count:,} queries)",
        f"- command: `simbench benchmark --sut {m.get('sut_spec')} --scenario {eff['scenario']} {flags} --out ...`",
        f"- SUT: {sut.get('kind')} `{sut.get('name')}`, ORT {sut.get('onnxruntime_version')} {sut.get('execution_provider')},"
        f" intra-op threads {sut.get('intra_op_num_threads')} (0 = ORT default), workers {sut.get('workers')},"
        f" batching max {sut.get('batching', {}).get('max_batch')} / timeout {sut.get('batching', {}).get('timeout_us')} us",
        f"- effective settings: min_duration {eff['min_duration_ms']} ms (official 600000), min_query_count {eff['min_query_count']},"
        f" samples/query {eff['samples_per_query']}, target_qps {eff['target_qps']:g}, target_latency {eff['target_latency_ns']} ns,"
        f" percentile {eff['target_latency_percentile']}",
        f"- result: {head} = {val}; {'VALID' if s.result_valid else 'INVALID: ' + '; '.join(r.split('. ')[0] for r in s.invalid_reasons)}",
        f"- run status: {m.get('run_status')}; errors: {len(m.get('errors') or [])}",
        "",
    ]


def main() -> None:
    root = Path(sys.argv[1])
    lines = []
    for p in sorted(root.rglob("trace.parquet")):
        lines += describe(p, root)
    t = read_trace(sorted(root.rglob("trace.parquet"))[0])
    h = t.metadata["host"]
    header = [
        f"- host: {h['cpu_model']}, {h['logical_cpus']} logical CPUs ({h['cpus_usable']} usable), {h['platform']}, Python {h['python']}",
        f"- simbench {t.metadata.get('simbench_version')}, engine {t.metadata.get('engine')}, clock: {t.metadata.get('clock')}",
        "",
    ]
    print("\n".join(header + lines))


if __name__ == "__main__":
    main()
