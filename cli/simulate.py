"""``simbench simulate``: MLPerf scenarios simulated over a hardware profile."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from simbench.cli._common import (
    lazy_progress,
    parse_scenarios,
    BATCHING_HELP,
    MAX_DURATION_S,
    MAX_LATENCY_MS,
    MAX_QPS,
    MAX_QUERY_COUNT,
    MAX_REPLICAS,
    MAX_SEED,
    EXIT_INVALID,
    console,
    echo,
    handle_errors,
)
from simbench.errors import SimbenchInputError

_SETTINGS = "TestSettings (override mlperf.conf and the profile's harness settings)"
_SUT = "Simulated SUT"
_RUN = "Run and output"


@handle_errors
def simulate(
    profile: Annotated[str, typer.Option(help="Shipped profile name (see `simbench profile list`) or a profile YAML path.", rich_help_panel=_SUT)] = "a100",
    model: Annotated[Optional[str], typer.Option(help="Model in the profile (default: the profile's first model).", rich_help_panel=_SUT)] = None,
    scenario: Annotated[str, typer.Option(help="SingleStream, MultiStream, Server, Offline, or all.", rich_help_panel=_SETTINGS)] = "all",
    target_qps: Annotated[Optional[float], typer.Option("--target-qps", min=0.0, max=MAX_QPS, help="Server: server_target_qps (without it, the peak valid QPS is searched as LoadGen's FindPeakPerformance does). Offline: offline_expected_qps.", rich_help_panel=_SETTINGS)] = None,
    target_latency_ms: Annotated[Optional[float], typer.Option("--target-latency-ms", min=0.0, max=MAX_LATENCY_MS, help="Server: the latency bound (ms). SingleStream/MultiStream: the expected latency hint (ms).", rich_help_panel=_SETTINGS)] = None,
    min_duration_s: Annotated[Optional[float], typer.Option("--min-duration-s", min=0.0, max=MAX_DURATION_S, help="min_duration in seconds (official: 600).", rich_help_panel=_SETTINGS)] = None,
    min_query_count: Annotated[Optional[int], typer.Option("--min-query-count", min=0, max=MAX_QUERY_COUNT, help="min_query_count.", rich_help_panel=_SETTINGS)] = None,
    conf: Annotated[Optional[str], typer.Option(help="A user.conf in mlperf.conf syntax, applied over the official values.", rich_help_panel=_SETTINGS)] = None,
    batching: Annotated[Optional[str], typer.Option(help=BATCHING_HELP + " \\[default: the profile's harness setting per scenario]", rich_help_panel=_SUT)] = None,
    replicas: Annotated[Optional[int], typer.Option(min=1, max=MAX_REPLICAS, help="Identical devices sharing one queue (default: the profile's).", rich_help_panel=_SUT)] = None,
    seed: Annotated[Optional[int], typer.Option(min=0, max=MAX_SEED, help="Derive every seed (QSL, sample index, schedule, service noise) from this integer (default: mlperf.conf's official seeds, service seed 0).", rich_help_panel=_RUN)] = None,
    engine: Annotated[str, typer.Option(help="auto, simpy or numba. Both give the identical trace; numba is the fast path.", rich_help_panel=_RUN)] = "auto",
    out: Annotated[Optional[str], typer.Option(help="Output folder, checked before the run: created if missing, must be writable and not already hold results (default: a fresh ./simbench_results/<timestamp>/).", rich_help_panel=_RUN)] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite results already in --out.", rich_help_panel=_RUN)] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summaries as JSON instead of LoadGen text.", rich_help_panel=_RUN)] = False,
    arrival: Annotated[Optional[str], typer.Option(help="Server arrival law: poisson (LoadGen's, default), deterministic, gamma:CV, mmpp:BURST_RATIO[:BASE_DWELL[:BURST_DWELL]], trace:PATH.csv[:COLUMN]. Non-Poisson laws are what-if runs, not MLPerf's Server.", rich_help_panel=_SETTINGS)] = None,
    governor: Annotated[Optional[str], typer.Option(help="DVFS governor of each device: fixed:MHZ, performance, ondemand[:up=0.8,down=0.3,period_ms=10,transition_us=0], power_cap:W[,window_ms=1000,period_ms=20,transition_us=0], thermal[:period_ms=100] (default: fixed at the profile's reference clock). See docs/dvfs.md.", rich_help_panel=_SUT)] = None,
    power_cap_w: Annotated[Optional[float], typer.Option("--power-cap-w", help="Shorthand for --governor power_cap:W (per-device power cap, watts).", rich_help_panel=_SUT)] = None,
    routing: Annotated[Optional[str], typer.Option("--routing", help="Server queue layout: shared (one queue for every replica, the default), jsq (per-device queues, join-shortest-queue: fewest samples queued plus in service, ties to the lowest device) or round-robin (per-device queues).", rich_help_panel=_SUT)] = None,
    ambient_c: Annotated[Optional[float], typer.Option("--ambient-c", help="Ambient temperature (C) of the thermal model (default: the profile's, 25 C); needs --governor.", rich_help_panel=_SUT)] = None,
    peak_criterion: Annotated[Optional[str], typer.Option("--peak-criterion", help="Server peak search: 'valid' (percentile bound and early stopping, as a submission is judged) or 'loadgen' (percentile only, as FindPeakPerformance) \\[default: valid].", rich_help_panel=_RUN)] = None,
    fail_on_invalid: Annotated[bool, typer.Option("--fail-on-invalid", help="Exit 1 when any scenario's result is INVALID (exit codes: docs/reference.md).", rich_help_panel=_RUN)] = False,
) -> None:
    """Simulate MLPerf Inference scenarios for a model on a hardware profile.

    Runs LoadGen's rules (official mlperf.conf, 600 s minimum duration, early stopping) on a
    simulated SUT and prints a LoadGen-style summary per scenario; writes trace.parquet,
    mlperf_log_summary.txt, mlperf_log_detail.txt, summary.json and (profiles with a device
    model) device_timeline.parquet per scenario. The output
    folder, disk space and memory are checked before anything runs.

    Examples:

      simbench simulate --profile a100

      simbench simulate --profile l4 --model bert-99 --scenario Server --target-qps 900

      simbench simulate --scenario Offline --batching dynamic:256 --min-duration-s 60

      simbench simulate --scenario Server --arrival gamma:3 --target-qps 20000

      simbench simulate --scenario Offline --power-cap-w 260 --min-duration-s 60

      simbench simulate --scenario Offline --governor thermal --ambient-c 45
    """
    import json
    import sys
    import time

    from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

    from simbench.jobs import SimulateOptions, simulate_job
    from simbench.report import render_text, summary_to_dict
    from simbench.settings import Scenario

    scenarios = parse_scenarios(scenario)
    if target_qps is not None and target_qps <= 0:
        raise SimbenchInputError(f"--target-qps: expected > 0 queries/s, got {target_qps:g}")
    if target_latency_ms is not None and target_latency_ms <= 0:
        raise SimbenchInputError(f"--target-latency-ms: expected > 0 ms, got {target_latency_ms:g}")
    if engine not in ("auto", "simpy", "numba"):
        raise SimbenchInputError(f"--engine: expected auto, simpy or numba, got {engine!r}")
    peak_given = peak_criterion is not None
    peak_criterion = peak_criterion or "valid"
    if peak_criterion not in ("valid", "loadgen"):
        raise SimbenchInputError(f"--peak-criterion: expected 'valid' or 'loadgen', got {peak_criterion!r}")
    from simbench.sim import ROUTINGS

    if routing is not None and routing not in ROUTINGS:
        raise SimbenchInputError(f"--routing: expected one of {', '.join(ROUTINGS)}, got {routing!r}")
    opts = SimulateOptions(
        routing=routing,
        profile=profile,
        model=model,
        scenarios=scenarios,
        target_qps=target_qps,
        target_latency_ms=target_latency_ms,
        min_duration_s=min_duration_s,
        min_query_count=min_query_count,
        batching=batching,
        replicas=replicas,
        seed=seed,
        conf=conf,
        engine=engine,
        out=out,
        peak_criterion=peak_criterion,
        arrival=arrival,
        force=force,
        governor=governor,
        power_cap_w=power_cap_w,
        ambient_c=ambient_c,
    )
    err = console(stderr=True)
    for flag, value, applies in (
        ("--target-qps", target_qps, {Scenario.Server, Scenario.Offline}),
        ("--target-latency-ms", target_latency_ms, {Scenario.Server, Scenario.SingleStream, Scenario.MultiStream}),
        ("--arrival", arrival, {Scenario.Server}),
        ("--routing", routing, {Scenario.Server}),
    ):
        ignored = [s.value for s in scenarios if s not in applies]
        if value is not None and ignored:
            err.print(f"note: {flag} does not apply to {', '.join(ignored)}; ignored there", highlight=False)
    searches = Scenario.Server in scenarios and target_qps is None
    if peak_given and not searches:
        why = "--target-qps is given" if Scenario.Server in scenarios else "no Server scenario is run"
        err.print(f"note: --peak-criterion applies only to the Server peak search; ignored ({why})", highlight=False)
    out_c = console()
    t_start = time.perf_counter()
    with lazy_progress(  # drawn at the first scenario: input errors come first
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} scenarios"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("simulating", total=len(scenarios))

        def on_event(kind: str, info: dict) -> None:
            if kind == "scenario_start":
                progress.update(task, description=f"{info['scenario']}: simulating")
            elif kind == "peak_probe":
                p = info["probe"]
                tag = "pass" if p.passed else "fail"
                length = "full" if p.full_length else "pilot"
                progress.update(task, description=f"Server peak search: {p.target_qps:,.1f} QPS {tag} ({length})")
            elif kind == "scenario_done":
                progress.advance(task)
                o = info["outcome"]
                if not json_out:
                    # On a terminal print above the live bar; otherwise straight to stdout.
                    target = progress.console if sys.stdout.isatty() else out_c
                    target.print(render_text(o.summary), markup=False, highlight=False, end="")
                    target.print(f"({o.scenario.value}: {o.wall_s:.1f} s, engine {o.engine}; files in {o.out_dir})\n", markup=False, highlight=False)

        outcomes = simulate_job(opts, on_event=on_event)
    if json_out:
        from simbench.jobs import peak_metadata

        echo(
            json.dumps(
                [summary_to_dict(o.summary) | {"peak_search": peak_metadata(o.peak), "files": str(o.out_dir)} for o in outcomes],
                indent=2,
                default=str,
            )
        )
        if fail_on_invalid and any(not o.summary.result_valid for o in outcomes):
            raise typer.Exit(EXIT_INVALID)
        return
    from rich.table import Table

    suts = sorted({o.summary.sut_name for o in outcomes})
    table = Table(title=f"simbench simulate: {', '.join(suts) or profile}  ({time.perf_counter() - t_start:.1f} s)")
    for col in ("scenario", "metric", "value", "result", "queries"):
        table.add_column(col)
    for o in outcomes:
        s = o.summary
        value = f"{s.headline_value:,.2f}" if s.scenario in (Scenario.Server, Scenario.Offline) else f"{s.headline_value:,.0f}"
        if o.peak is not None:
            value += f"  (peak search: {o.peak.peak_qps:,.1f} QPS)"
        result = "VALID" if s.result_valid else "INVALID: " + "; ".join(s.invalid_reasons)
        table.add_row(s.scenario.value, s.headline_name, value, result, f"{s.query_count:,}")
    out_c.print(table)
    if fail_on_invalid and any(not o.summary.result_valid for o in outcomes):
        raise typer.Exit(EXIT_INVALID)
