"""``simbench whatif``: sweep settings and policy parameters over a simulated SUT."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from simbench.cli._common import (
    BATCHING_HELP,
    MAX_DURATION_S,
    MAX_LATENCY_MS,
    MAX_QPS,
    MAX_QUERY_COUNT,
    MAX_REPLICAS,
    MAX_SEED,
    MAX_WORKERS,
    console,
    handle_errors,
)
from simbench.errors import SimbenchInputError

_SETTINGS = "TestSettings (every point; a --sweep overrides)"
_SUT = "Simulated SUT (every point; a --sweep overrides)"
_RUN = "Sweep and output"


@handle_errors
def whatif(
    sweep: Annotated[List[str], typer.Option("--sweep", help="NAME=START:STOP:COUNT (evenly spaced, ends included) or NAME=V1,V2,... Repeat for a grid. NAME: target_qps, target_latency_ms, min_duration_s, min_query_count, batching, batching.max_batch, batching.timeout_us, replicas, arrival, governor, routing (shared, jsq, round-robin), seed, profile, model, or any TestSettings field.", rich_help_panel=_RUN)],
    out: Annotated[str, typer.Option(help="Output folder: sweep.json, points/, sweep.parquet, figures.html.", rich_help_panel=_RUN)],
    profile: Annotated[str, typer.Option(help="Shipped profile name or a profile YAML path.", rich_help_panel=_SUT)] = "a100",
    model: Annotated[Optional[str], typer.Option(help="Model in the profile (default: its first).", rich_help_panel=_SUT)] = None,
    scenario: Annotated[str, typer.Option(help="Scenario of every point (default Server).", rich_help_panel=_SETTINGS)] = "Server",
    target_qps: Annotated[Optional[float], typer.Option("--target-qps", min=0.0, max=MAX_QPS, help="server_target_qps (Server without it and without a target_qps sweep: the peak is searched per point).", rich_help_panel=_SETTINGS)] = None,
    target_latency_ms: Annotated[Optional[float], typer.Option("--target-latency-ms", min=0.0, max=MAX_LATENCY_MS, help="Server latency bound (ms).", rich_help_panel=_SETTINGS)] = None,
    min_duration_s: Annotated[Optional[float], typer.Option("--min-duration-s", min=0.0, max=MAX_DURATION_S, help="min_duration (s; official 600).", rich_help_panel=_SETTINGS)] = None,
    min_query_count: Annotated[Optional[int], typer.Option("--min-query-count", min=0, max=MAX_QUERY_COUNT, help="min_query_count.", rich_help_panel=_SETTINGS)] = None,
    conf: Annotated[Optional[str], typer.Option(help="A user.conf applied over the official values.", rich_help_panel=_SETTINGS)] = None,
    batching: Annotated[Optional[str], typer.Option(help=BATCHING_HELP + " \\[default: the profile's]", rich_help_panel=_SUT)] = None,
    replicas: Annotated[Optional[int], typer.Option(min=1, max=MAX_REPLICAS, help="Devices sharing the queue.", rich_help_panel=_SUT)] = None,
    arrival: Annotated[Optional[str], typer.Option(help="Arrival law (see simbench simulate --arrival).", rich_help_panel=_SETTINGS)] = None,
    governor: Annotated[Optional[str], typer.Option(help="Device clock governor (when the device model provides governors).", rich_help_panel=_SUT)] = None,
    seed: Annotated[Optional[int], typer.Option(min=0, max=MAX_SEED, help="Derive every seed from this integer.", rich_help_panel=_SETTINGS)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the sweep in --out: finished points are kept, the rest run.", rich_help_panel=_RUN)] = False,
    scheduler: Annotated[Optional[str], typer.Option(help="Run the points on a Dask cluster at tcp://HOST:PORT (pip install 'simbench[dask]').", rich_help_panel=_RUN)] = None,
    workers: Annotated[Optional[int], typer.Option(min=0, max=MAX_WORKERS, help="Local worker processes (default: one per CPU; 0 = in this process).", rich_help_panel=_RUN)] = None,
) -> None:
    """Run a grid of what-if points and keep one tidy table (sweep.parquet) plus figures.

    Every point is a full simulated run under the MLPerf rules; each row holds the inputs,
    every Summary metric, VALID/INVALID and why, and the queries a valid run needs there
    (the MLPerf count and the autocorrelation-corrected one). An interrupted sweep keeps
    its finished points: rerun with --resume.

    Examples:

      simbench whatif --profile a100 --sweep target_qps=10000:40000:16 --sweep batching.timeout_us=500,1000,2000,4000 --out sweep1

      simbench whatif --sweep arrival=poisson,gamma:2 --sweep target_qps=20000,30000 --min-duration-s 60 --out sweep2

      simbench whatif ... --out sweep1 --resume --scheduler tcp://10.0.0.5:8786
    """
    import time
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from simbench.plan.executors import make_executor
    from simbench.plan.spec import RunSpec, prepare
    from simbench.plan.whatif import parse_sweep, run_sweep, sweep_points
    from simbench.report.figures import figures_page, sweep_figures

    if not sweep:
        raise SimbenchInputError("--sweep: give at least one NAME=VALUES")
    sweeps = [parse_sweep(s) for s in sweep]
    base = RunSpec(profile=profile, model=model, scenario=scenario, target_qps=target_qps, target_latency_ms=target_latency_ms,
                   min_duration_s=min_duration_s, min_query_count=min_query_count, conf=conf, batching=batching,
                   replicas=replicas, arrival=arrival, governor=governor, seed=seed)
    if Path(out).exists() and not Path(out).is_dir():
        raise SimbenchInputError(f"--out {out}: is a file; expected a folder for sweep.json, points/, sweep.parquet")
    seen: set[str] = set()
    for _inputs, spec in sweep_points(base, sweeps):  # every point checked before workers start
        if repr(spec) not in seen:
            seen.add(repr(spec))
            prepare(spec)
    err = console(stderr=True)
    t0 = time.perf_counter()
    failures: list[str] = []
    with make_executor(scheduler, workers) as ex:
        where = f"Dask {scheduler} ({ex.workers} workers)" if scheduler else f"{ex.workers} local worker processes"
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                      TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=False) as progress:
            task = progress.add_task(f"whatif on {where}", total=None, info="")

            def on_point(done: int, total: int, error: str | None) -> None:
                if error:
                    failures.append(error)
                progress.update(task, completed=done, total=total, info=f"{len(failures)} failed" if failures else "")

            result = run_sweep(base, sweeps, out, executor=ex, resume=resume, on_point=on_point, validate=False)
    names = [n for n, _ in sweeps]
    figs = sweep_figures(result.table, names)
    page = Path(out) / "figures.html"
    page.write_text(figures_page(f"simbench whatif: {', '.join(names)}", figs))
    c = console()
    from rich.table import Table

    t = result.table
    shown = names + [c_ for c_ in ("status", "result_validity", "target_percentile_latency_ns", "headline_value", "required_queries_corrected") if c_ in t]
    table = Table(title=f"simbench whatif: {result.total} points ({result.ran} run now, {result.reused} kept; {time.perf_counter() - t0:.1f} s)")
    for col in shown:
        table.add_column(col.replace("target_percentile_latency_ns", "p-target latency (ms)"))
    for i in range(len(t)):
        if i >= 40:
            table.add_row(*(["..."] * len(shown)))
            break
        vals = []
        for col in shown:
            v = t.iloc[i][col]
            if col == "target_percentile_latency_ns" and v is not None and v == v:
                vals.append(f"{float(v) / 1e6:.3f}")
            elif isinstance(v, float):
                vals.append(f"{v:,.6g}")
            else:
                vals.append(str(v))
        table.add_row(*vals)
    c.print(table)
    for i, e in result.failed:
        err.print(f"point {i} failed: {e}", markup=False, highlight=False)
    c.print(f"wrote {result.table_path}, {page}", markup=False, highlight=False)
