"""``simbench plan``: capacity planning — peak QPS and fleet sizing."""

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
    cores,
    handle_errors,
)
from simbench.errors import SimbenchInputError

app = typer.Typer(help="Capacity planning: the peak Server QPS of a SUT, and fleet sizing.", no_args_is_help=True)

_SETTINGS = "TestSettings (override mlperf.conf and the profile's harness settings)"
_SUT = "Simulated SUT"
_REAL = "Real SUT (as simbench benchmark)"
_RUN = "Run and output"


def _probe_table(probes, title: str):
    from rich.table import Table

    t = Table(title=title)
    for col in ("#", "target QPS", "run", "result", "queries", "over bound"):
        t.add_column(col, justify="right" if col != "result" else "left")
    for i, p in enumerate(probes, 1):
        t.add_row(
            str(i),
            f"{p.target_qps:,.1f}",
            "full" if p.full_length else "pilot",
            "pass" if p.passed else "fail",
            f"{p.query_count:,}",
            f"{p.overlatency_count:,}",
        )
    return t


@app.command("peak-qps")
@handle_errors
def peak_qps(
    profile: Annotated[Optional[str], typer.Option(help="Shipped profile name or a profile YAML path \\[default: a100].", rich_help_panel=_SUT)] = None,
    model: Annotated[Optional[str], typer.Option(help="Model in the profile (default: its first).", rich_help_panel=_SUT)] = None,
    batching: Annotated[Optional[str], typer.Option(help=BATCHING_HELP + " \\[default: the profile's]", rich_help_panel=_SUT)] = None,
    replicas: Annotated[Optional[int], typer.Option(min=1, max=MAX_REPLICAS, help="Devices sharing one queue (default: the profile's).", rich_help_panel=_SUT)] = None,
    governor: Annotated[Optional[str], typer.Option(help="Device clock governor (when the device model provides governors).", rich_help_panel=_SUT)] = None,
    target_qps: Annotated[Optional[float], typer.Option("--target-qps", min=0.0, max=MAX_QPS, help="Starting QPS that must pass (LoadGen's server_target_qps). Simulated SUT: default from the capacity bound and a pilot search. Real SUT: required.", rich_help_panel=_SETTINGS)] = None,
    target_latency_ms: Annotated[Optional[float], typer.Option("--target-latency-ms", min=0.0, max=MAX_LATENCY_MS, help="Server latency bound (ms).", rich_help_panel=_SETTINGS)] = None,
    min_duration_s: Annotated[Optional[float], typer.Option("--min-duration-s", min=0.0, max=MAX_DURATION_S, help="min_duration of each probe run (s; official 600).", rich_help_panel=_SETTINGS)] = None,
    min_query_count: Annotated[Optional[int], typer.Option("--min-query-count", min=0, max=MAX_QUERY_COUNT, help="min_query_count.", rich_help_panel=_SETTINGS)] = None,
    conf: Annotated[Optional[str], typer.Option(help="A user.conf applied over the official values.", rich_help_panel=_SETTINGS)] = None,
    arrival: Annotated[Optional[str], typer.Option(help="Arrival law (see simbench simulate --arrival); Poisson is MLPerf's.", rich_help_panel=_SETTINGS)] = None,
    seed: Annotated[Optional[int], typer.Option(min=0, max=MAX_SEED, help="Derive every seed from this integer.", rich_help_panel=_SETTINGS)] = None,
    peak_criterion: Annotated[str, typer.Option("--peak-criterion", help="'valid' (bound and early stopping) or 'loadgen' (bound only).", rich_help_panel=_RUN)] = "valid",
    sut: Annotated[Optional[str], typer.Option(help="Search a REAL SUT instead (simbench benchmark's --sut: onnx:resnet50, null, PATH.onnx, http://...).", rich_help_panel=_REAL)] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, max=MAX_WORKERS, help="Real SUT: concurrent workers \\[default: 1].", rich_help_panel=_REAL)] = None,
    threads: Annotated[Optional[int], typer.Option(min=0, max=cores(), help="Real SUT: ONNX Runtime intra-op threads (0 = ORT default) \\[default: 0].", rich_help_panel=_REAL)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON: peak_qps and every probe.", rich_help_panel=_RUN)] = False,
) -> None:
    """Find the peak valid Server QPS (LoadGen's FindPeakPerformance), showing every probe.

    The same search `simbench simulate --scenario Server` runs without --target-qps, so the
    peaks agree. With --sut, each probe is a real run of that SUT.

    Examples:

      simbench plan peak-qps --profile a100 --model resnet50

      simbench plan peak-qps --profile l4 --batching dynamic:64:2000 --json

      simbench plan peak-qps --sut null --target-qps 500 --min-duration-s 2
    """
    import json
    import time

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    if peak_criterion not in ("valid", "loadgen"):
        raise SimbenchInputError(f"--peak-criterion: expected 'valid' or 'loadgen', got {peak_criterion!r}")
    if target_qps is not None and target_qps <= 0:
        raise SimbenchInputError(f"--target-qps: expected > 0 queries/s, got {target_qps:g}")
    if sut is not None:
        for flag, value in (("--profile", profile), ("--batching", batching), ("--replicas", replicas), ("--governor", governor), ("--arrival", arrival)):
            if value is not None:
                raise SimbenchInputError(f"{flag}: applies to the simulated SUT, not to --sut")
    else:
        for flag, value in (("--workers", workers), ("--threads", threads)):
            if value is not None:
                raise SimbenchInputError(f"{flag}: applies to a real SUT (--sut) only")
        profile = profile or "a100"
    err = console(stderr=True)
    t0 = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True) as progress:
        task = progress.add_task("peak search", total=None)

        def on_probe(p) -> None:
            progress.update(task, description=f"probe {p.target_qps:,.1f} QPS: {'pass' if p.passed else 'fail'} ({'full' if p.full_length else 'pilot'})")

        if sut is not None:
            from simbench.bench.job import BenchmarkOptions
            from simbench.plan.spec import peak_for_real_sut
            from simbench.settings import Scenario

            opts = BenchmarkOptions(sut=sut, model=model or "resnet50", scenarios=(Scenario.Server,), target_qps=target_qps,
                                    target_latency_ms=target_latency_ms, min_duration_s=min_duration_s,
                                    min_query_count=min_query_count, conf=conf, seed=seed, workers=workers or 1, threads=threads or 0)
            result = peak_for_real_sut(opts, criterion=peak_criterion, on_probe=on_probe)
            what = f"--sut {sut}"
            bound_ns = None
        else:
            from simbench.plan.spec import RunSpec, peak_for_spec

            spec = RunSpec(profile=profile, model=model, target_qps=target_qps, target_latency_ms=target_latency_ms,
                           min_duration_s=min_duration_s, min_query_count=min_query_count, conf=conf, batching=batching,
                           replicas=replicas, arrival=arrival, governor=governor, seed=seed, peak_criterion=peak_criterion)
            result, prepared = peak_for_spec(spec, on_probe=on_probe)
            what = f"--profile {profile} --model {prepared.model}"
            bound_ns = prepared.settings.server_target_latency_ns
    wall = time.perf_counter() - t0
    if json_out:
        import dataclasses

        typer.echo(json.dumps({
            "peak_qps": result.peak_qps,
            "criterion": result.criterion,
            "target_latency_ns": bound_ns,
            "probes": [dataclasses.asdict(p) for p in result.probes],
            "wall_s": round(wall, 3),
        }, indent=2))
        return
    out = console()
    out.print(_probe_table(result.probes, f"simbench plan peak-qps {what}: probes"))
    out.print(f"peak Server QPS ({result.criterion}): {result.peak_qps:,.1f}  ({len(result.probes)} probes, {wall:.1f} s)")


@app.command("fleet")
@handle_errors
def fleet(
    target_qps: Annotated[float, typer.Option("--target-qps", max=MAX_QPS, help="Server target QPS the fleet must sustain.")],
    latency_bound_ms: Annotated[float, typer.Option("--latency-bound-ms", max=MAX_LATENCY_MS, help="Latency bound (ms) on the percentile.")],
    profile: Annotated[List[str], typer.Option("--profile", help="Profile to size (repeat: --profile a100 --profile h100 ...).")],
    percentile: Annotated[float, typer.Option(help="Percentile (%) the bound applies to (MLPerf Server: 99).")] = 99.0,
    model: Annotated[str, typer.Option(help="Model in every profile.")] = "resnet50",
    layout: Annotated[Optional[List[str]], typer.Option("--layout", help="Queue layouts to try (repeat): shared (one queue), round-robin or jsq (one queue per device, join-shortest-queue: fewest samples queued plus in service, ties to the lowest device). Default all three.")] = None,
    governor: Annotated[Optional[List[str]], typer.Option("--governor", help="Governors to try (repeat; 'none' = the fixed-clock device; 'auto' = none, performance and power_cap at 80 % and 60 % of each profile's power limit). Default: none and power_cap at 60 % of each profile's power limit (only none without a power model). The first is the baseline of the device-count search, the others are tried on its winning configuration (fewer devices win, ties to the lower energy per query).")] = None,
    min_duration_s: Annotated[Optional[float], typer.Option("--min-duration-s", min=0.0, max=MAX_DURATION_S, help="min_duration of each run (s; official 600).")] = None,
    p99_run_s: Annotated[float, typer.Option("--quantile-run-s", min=0.0, max=MAX_DURATION_S, help="Length (s) of the recorded run that measures the shown latency quantile.")] = 60.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print the ranked rows as a JSON list.")] = False,
) -> None:
    """Fewest devices per profile (with batching, queue layout and governor) meeting the bound at --target-qps under MLPerf's Server rules.

    Analytic first guess (Erlang C with the Allen-Cunneen correction), confirmed by
    official-length count-only simulations; goodput (share of queries within the bound),
    cost per hour (profile price_per_hour_usd) and energy per query (where the profile
    models power) beside the verdict.

    Example:

      simbench plan fleet --target-qps 100000 --latency-bound-ms 15 --profile a100 --profile h100 --profile l4
    """
    import json
    import time

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from simbench.plan.fleet import LAYOUTS, size_fleet

    if not 0 < percentile < 100:
        raise SimbenchInputError(f"--percentile: expected a percentage in (0, 100), got {percentile:g}")
    err = console(stderr=True)
    t0 = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True) as progress:
        task = progress.add_task("sizing", total=None)
        rows = size_fleet(target_qps, latency_bound_ms, list(profile), model=model, percentile=percentile / 100,
                          layouts=tuple(layout) if layout else LAYOUTS,
                          governors=tuple(None if g.lower() == "none" else g for g in governor) if governor else None,
                          min_duration_s=min_duration_s, p99_run_s=p99_run_s,
                          on_step=lambda m: progress.update(task, description=m))
    wall = time.perf_counter() - t0
    if json_out:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=2, default=str))
        return
    from rich.table import Table

    t = Table(title=f"simbench plan fleet: {target_qps:,.0f} QPS, p{percentile:g} <= {latency_bound_ms:g} ms, {model}  ({wall:.1f} s)")
    for col in ("rank", "profile", "devices", "batching", "layout", "governor", "verdict", f"p{percentile:g} (ms)", "goodput", "$/hour", "$/1M queries", "J/query", "analytic guess"):
        t.add_column(col)
    for i, r in enumerate(rows, 1):
        t.add_row(str(i), r.profile, str(r.devices), f"dynamic:{r.max_batch}:{r.timeout_us:g}", r.layout, r.governor or "fixed clock",
                  r.verdict, f"{r.latency_quantile_ms:.2f}" if r.latency_quantile_ms is not None else "-",
                  f"{r.goodput * 100:.3f} %" if r.goodput is not None else "-",
                  f"{r.cost_per_hour_usd:,.2f}" if r.cost_per_hour_usd is not None else "n/a",
                  f"{r.cost_per_million_queries_usd:.4f}" if r.cost_per_million_queries_usd is not None else "n/a",
                  f"{r.energy_per_query_j:.4f}" if r.energy_per_query_j is not None else "n/a",
                  str(r.analytic_devices))
    out = console()
    out.print(t)
    out.print("$/hour: devices x the profile's price_per_hour_usd (on-demand list price; its source is in the profile); "
              "$/1M queries: $/hour / (3600 x target QPS) x 1e6; n/a: the profile gives no price / no power model (never guessed)",
              highlight=False)
    for r in rows:
        if r.simulate_command:
            out.print(f"re-run {r.profile}: {r.simulate_command}", markup=False, highlight=False)
