"""``simbench trace``: import LoadGen log folders, recompute summaries from trace files."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from simbench.cli._common import console, handle_errors

app = typer.Typer(help="Work with Trace files: import MLPerf LoadGen logs, recompute summaries.", no_args_is_help=True)


@app.command("import")
@handle_errors
def import_(
    directory: Annotated[str, typer.Argument(help="A LoadGen output folder (mlperf_log_detail.txt, mlperf_log_summary.txt, mlperf_log_trace.json).")],
    out: Annotated[Optional[str], typer.Option(help="Output folder [default: DIRECTORY/simbench].")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Import a LoadGen log folder as a simbench Trace and check simbench's summary against it.

    Writes trace.parquet (per-sample timestamps from mlperf_log_trace.json), simbench's
    mlperf_log_summary.txt recomputed from it, and summary.json with a metric-by-metric
    comparison to LoadGen's own detail-log results.

    Example:

      simbench trace import ./build/logs --out ./imported
    """
    import json
    from pathlib import Path

    from simbench.bench.loadgen_logs import compare_with_loadgen, import_loadgen_dir
    from simbench.report import render_text, summary_to_dict
    from simbench.trace import write_trace

    import sys

    run = import_loadgen_dir(directory)
    for w in run.warnings:
        print(f"warning: {w}", file=sys.stderr)
    out_dir = Path(out) if out else Path(directory) / "simbench"
    out_dir.mkdir(parents=True, exist_ok=True)
    payload: dict = {
        "loadgen_files": run.files,
        "loadgen_result_validity": run.detail.get("result_validity"),
        "import_warnings": list(run.warnings),
    }
    if run.trace is None:
        payload["note"] = "no per-sample Sample events in mlperf_log_trace.json; LoadGen's results only"
        payload["loadgen_results"] = {k: v for k, v in run.detail.items() if k.startswith(("result_", "early_stopping"))}
    else:
        write_trace(run.trace, out_dir / "trace.parquet")
        (out_dir / "mlperf_log_summary.txt").write_text(render_text(run.summary))
        payload.update(summary_to_dict(run.summary))
        payload["comparison"] = compare_with_loadgen(run.summary, run.detail)
    (out_dir / "summary.json").write_text(json.dumps(payload, indent=2, default=str))
    if json_out:
        typer.echo(json.dumps(payload, indent=2, default=str))
        return
    c = console()
    if run.trace is None:
        c.print(f"{directory}: {payload['note']}; wrote {out_dir / 'summary.json'}")
        return
    from rich.table import Table

    t = Table(title=f"{run.effective.scenario.value}: simbench summary of LoadGen's own latencies ({len(run.trace):,} samples)")
    for col in ("metric", "simbench", "LoadGen", "difference"):
        t.add_column(col)
    for k, v in payload["comparison"].items():
        diff = "" if v["rel_diff"] is None else f"{v['rel_diff'] * 100:+.4f} %"
        t.add_row(k, str(v["simbench"]), str(v["loadgen"]), diff)
    c.print(t)
    c.print(f"wrote {out_dir}/trace.parquet, mlperf_log_summary.txt, summary.json")


@app.command("summary")
@handle_errors
def summary(
    trace: Annotated[str, typer.Argument(help="A trace.parquet written by simbench (simulate, benchmark or trace import), a scenario folder, or the trace.parts/ folder a killed real run left.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of LoadGen text.")] = False,
) -> None:
    """Recompute and print a run's LoadGen summary from its trace file alone.

    Example:

      simbench trace summary traces/resnet50_ort_cpu/Server/trace.parquet

      simbench trace summary simbench_results/bench-<timestamp>/Server   # also a killed run's trace.parts/
    """
    from simbench.bench.job import summarize_trace_file
    from simbench.report import render_text, summary_to_json

    s = summarize_trace_file(trace)
    typer.echo(summary_to_json(s) if json_out else render_text(s), nl=False)
    if not json_out and s.errors:
        # LoadGen's text only counts the errors; the trace carries them, so show them.
        typer.echo("Errors recorded in the trace:\n" + "".join(f"  {e}\n" for e in s.errors), nl=False)
