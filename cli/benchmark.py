"""``simbench benchmark``: MLPerf scenarios on a real SUT (ONNX Runtime, null, or a file)."""

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
    MAX_SEED,
    MAX_STALL_S,
    MAX_WORKERS,
    EXIT_INVALID,
    console,
    cores,
    echo,
    handle_errors,
)

_SETTINGS = "TestSettings (override mlperf.conf)"
_SUT = "System under test"
_RUN = "Run and output"


def _fmt_s(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else (f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s")


def _fraction(info: dict) -> float:
    if info.get("total_samples"):
        return info["completed_samples"] / info["total_samples"]
    return min(1.0, info["elapsed_s"] / max(info["min_duration_s"], 1e-9))


def _progress_text(info: dict) -> str:
    """Progress line: Offline shows ``done / total samples`` and an ETA at the mean rate so
    far; the other scenarios show the time left of min_duration."""
    done, elapsed = info["completed_samples"], info["elapsed_s"]
    total = info.get("total_samples")
    if total:
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = _fmt_s((total - done) / rate) if rate > 0 else "?"
        return f"{done:,} / {total:,} samples, {info['completed_qps']:,.1f} samples/s, ETA {eta}"
    left = max(0.0, info["min_duration_s"] - elapsed)
    return (
        f"{info['issued_queries']:,} queries, {done:,} samples, {info['completed_qps']:,.1f} samples/s,"
        f" min duration left {_fmt_s(left)}"
    )


@handle_errors
def benchmark(
    sut: Annotated[str, typer.Option(help="'onnx:resnet50' (ResNet-50 v1.5, seeded weights, built locally), 'onnx:small' (~0.1 GMAC CNN), 'onnx:tiny', 'null' (completes at once: harness overhead), 'null-llm' (first token after 2 ms, then 0.2 ms per token, 2-14 tokens: the token-latency path, with --model llama2-70b), PATH.onnx, or a KServe-v2 endpoint http://HOST:PORT/v2/models/NAME.", rich_help_panel=_SUT)] = "onnx:resnet50",
    model: Annotated[str, typer.Option(help="mlperf.conf model whose official settings apply (bound, sample counts).", rich_help_panel=_SETTINGS)] = "resnet50",
    scenario: Annotated[str, typer.Option(help="SingleStream, MultiStream, Server, Offline, a comma list, or all.", rich_help_panel=_SETTINGS)] = "Offline",
    target_qps: Annotated[Optional[float], typer.Option("--target-qps", min=0.0, max=MAX_QPS, help="Server: server_target_qps (required for Server). Offline: offline_expected_qps (sizes the one query).", rich_help_panel=_SETTINGS)] = None,
    target_latency_ms: Annotated[Optional[float], typer.Option("--target-latency-ms", min=0.0, max=MAX_LATENCY_MS, help="Server: the latency bound (ms). SingleStream/MultiStream: the expected-latency hint (ms).", rich_help_panel=_SETTINGS)] = None,
    min_duration_s: Annotated[Optional[float], typer.Option("--min-duration-s", min=0.0, max=MAX_DURATION_S, help="min_duration in seconds \\[official: 600].", rich_help_panel=_SETTINGS)] = None,
    min_query_count: Annotated[Optional[int], typer.Option("--min-query-count", min=0, max=MAX_QUERY_COUNT, help="min_query_count (Offline: samples in the query).", rich_help_panel=_SETTINGS)] = None,
    conf: Annotated[Optional[str], typer.Option(help="A user.conf in mlperf.conf syntax, applied over the official values.", rich_help_panel=_SETTINGS)] = None,
    seed: Annotated[Optional[int], typer.Option(min=0, max=MAX_SEED, help="Derive the QSL, sample-index and schedule seeds from this integer \\[default: mlperf.conf's official seeds].", rich_help_panel=_SETTINGS)] = None,
    workers: Annotated[int, typer.Option(min=1, max=MAX_WORKERS, help="Concurrent SUT workers sharing one ORT session.", rich_help_panel=_SUT)] = 1,
    threads: Annotated[int, typer.Option(min=0, max=cores(), help="ONNX Runtime intra-op threads (0 = ORT default, one per core).", rich_help_panel=_SUT)] = 0,
    batching: Annotated[Optional[str], typer.Option(help=BATCHING_HELP + " \\[default: none]", rich_help_panel=_SUT)] = None,
    engine: Annotated[str, typer.Option(help="'simbench' (this package's load generator) or 'mlcommons' (the official mlperf_loadgen; pip install 'simbench\\[mlcommons]').", rich_help_panel=_RUN)] = "simbench",
    stall_timeout_s: Annotated[float, typer.Option("--stall-timeout-s", min=0.001, max=MAX_STALL_S, help="INVALID if samples stay outstanding with no completion for this long (seconds).", rich_help_panel=_RUN)] = 60.0,
    out: Annotated[Optional[str], typer.Option(help="Output folder, checked before the run: created if missing, must be writable and not already hold results \\[default: a fresh ./simbench_results/bench-<timestamp>/].", rich_help_panel=_RUN)] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite results already in --out.", rich_help_panel=_RUN)] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summaries as JSON instead of LoadGen text.", rich_help_panel=_RUN)] = False,
    fail_on_invalid: Annotated[bool, typer.Option("--fail-on-invalid", help="Exit 1 when any scenario's result is INVALID or its run failed (exit codes: docs/reference.md).", rich_help_panel=_RUN)] = False,
) -> None:
    """Benchmark a real SUT under MLPerf LoadGen's scenario rules.

    Uses the same settings, schedule, Trace and Summary code as `simbench simulate`; writes trace.parquet, mlperf_log_summary.txt, mlperf_log_detail.txt and summary.json per scenario, the same files as `simbench simulate` (--engine mlcommons adds LoadGen's own logs under loadgen/). The output folder, disk space and memory are checked before anything runs. Official durations are 600 s; shorten them for exploration (the summary then says INVALID where the run is too short for early stopping); Offline's one query holds mlperf.conf's 24,576 samples unless --min-query-count says fewer (the progress line shows done / total samples and an ETA). Ctrl-C or SIGTERM writes the partial run before exiting (exit 130); while a run goes on its completed samples are also spilled to <Scenario>/trace.parts/ every second, so even a killed process leaves them (read them with `simbench trace summary <Scenario>/`).

    Examples:

      simbench benchmark --sut onnx:resnet50 --scenario Offline --min-duration-s 10 --min-query-count 64

      simbench benchmark --sut onnx:resnet50 --scenario Server --target-qps 3 --min-duration-s 10

      simbench benchmark --sut null --scenario Server --target-qps 1000 --min-duration-s 2

      simbench benchmark --sut onnx:tiny --scenario all --target-qps 200 --min-duration-s 1 --engine mlcommons
    """
    import json
    import sys
    import time

    from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

    from simbench.bench.job import BenchmarkOptions, benchmark_job, lag_stats
    from simbench.report import render_text, summary_to_dict
    from simbench.settings import Scenario

    scenarios = parse_scenarios(scenario)
    opts = BenchmarkOptions(
        sut=sut,
        model=model,
        scenarios=scenarios,
        target_qps=target_qps,
        target_latency_ms=target_latency_ms,
        min_duration_s=min_duration_s,
        min_query_count=min_query_count,
        conf=conf,
        seed=seed,
        workers=workers,
        threads=threads,
        batching=batching,
        out=out,
        engine=engine,
        stall_timeout_s=stall_timeout_s,
        force=force,
    )
    err = console(stderr=True)
    from simbench.settings import base_model_name, official_conf_entries

    conf_models = {e.model for e in official_conf_entries()} - {"*"}
    if model not in conf_models and base_model_name(model) not in conf_models:
        err.print(f"note: --model {model}: not a model of mlperf.conf, so only its '*' entries apply"
                  " (LoadGen's rule); official models: " + ", ".join(sorted(conf_models)), highlight=False, soft_wrap=True)
    for note in _inapplicable_flag_notes(sut, scenarios, target_qps, target_latency_ms, workers, threads, batching):
        err.print(f"note: {note}", highlight=False)
    out_c = console()
    t_start = time.perf_counter()
    with lazy_progress(  # drawn at the first scenario: input errors come first
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        refresh_per_second=2,  # each redraw holds the GIL; keep it off the issue path
    ) as progress:
        task = progress.add_task("starting", total=1.0, info="")

        def on_event(kind: str, info: dict) -> None:
            if kind == "scenario_start":
                progress.update(task, description=f"{info['scenario']} ({engine})", completed=0, info="loading SUT")
            elif kind == "progress":
                progress.update(task, completed=_fraction(info), info=_progress_text(info))
            elif kind == "scenario_done":
                o = info["outcome"]
                progress.update(task, completed=1.0)
                if not json_out:
                    target = progress.console if sys.stdout.isatty() else out_c
                    if o.run.summary is not None:
                        target.print(render_text(o.run.summary), markup=False, highlight=False, end="")
                    lag = lag_stats(o.run)
                    lag_txt = f"issue lag p50/p99 {lag['p50']}/{lag['p99']} ns" if lag["p50"] is not None else "no samples completed"
                    target.print(
                        f"({o.scenario.value}: {o.run.wall_s:.1f} s, engine {o.engine}, {o.run.status}; {lag_txt}; files in {o.out_dir})\n",
                        markup=False,
                        highlight=False,
                    )

        # Ctrl-C and SIGTERM end the run cooperatively (simbench.interrupt, installed by
        # handle_errors); further signals wait until the partial run is on disk.
        outcomes = benchmark_job(opts, on_event=on_event)
    if json_out:
        payload = []
        for o in outcomes:
            d = summary_to_dict(o.run.summary) if o.run.summary is not None else {"scenario": o.scenario.value}
            d.update({"run_status": o.run.status, "run_errors": list(o.run.errors), "issue_lag_ns": lag_stats(o.run), "out_dir": str(o.out_dir)})
            d.update(o.run.extra)
            payload.append(d)
        echo(json.dumps(payload, indent=2, default=str))
        _exit_if_invalid(fail_on_invalid, outcomes)
        return
    from rich.table import Table

    table = Table(title=f"simbench benchmark --sut {sut} --engine {engine}  ({time.perf_counter() - t_start:.1f} s)")
    for col in ("scenario", "metric", "value", "result", "queries"):
        table.add_column(col)
    for o in outcomes:
        s = o.run.summary
        if s is None:
            table.add_row(o.scenario.value, "-", "-", "INVALID: " + "; ".join(o.run.errors), "0")
            continue
        # One unit per cell, as simulate prints it: the metric name carries "(ns)".
        value = f"{s.headline_value:,.2f}" if s.scenario in (Scenario.Server, Scenario.Offline) else f"{s.headline_value:,.0f}"
        result = "VALID" if s.result_valid else "INVALID: " + "; ".join(r.split(". ")[0][:70] for r in s.invalid_reasons)
        table.add_row(s.scenario.value, s.headline_name, value, result, f"{s.query_count:,}")
    out_c.print(table)
    _exit_if_invalid(fail_on_invalid, outcomes)


def _exit_if_invalid(fail_on_invalid: bool, outcomes) -> None:
    if fail_on_invalid and any(o.run.summary is None or not o.run.summary.result_valid for o in outcomes):
        raise typer.Exit(EXIT_INVALID)


def _inapplicable_flag_notes(sut, scenarios, target_qps, target_latency_ms, workers, threads, batching) -> list[str]:
    """A note for every flag given that the chosen SUT or scenarios do not use."""
    from simbench.settings import Scenario

    notes = []
    for flag, value, applies in (
        ("--target-qps", target_qps, {Scenario.Server, Scenario.Offline}),
        ("--target-latency-ms", target_latency_ms, {Scenario.Server, Scenario.SingleStream, Scenario.MultiStream}),
    ):
        ignored = [s.value for s in scenarios if s not in applies]
        if value is not None and ignored:
            notes.append(f"{flag} does not apply to {', '.join(ignored)}; ignored there")
    kind = "null" if sut.strip().lower() in ("null", "null-llm") else "http" if sut.strip().lower().startswith("http://") else "onnx"
    if threads and kind != "onnx":
        notes.append(f"--threads sets ONNX Runtime threads; --sut {sut} runs no ONNX Runtime session here; ignored")
    if kind == "null":
        if workers != 1:
            how = "it completes every sample inline" if sut.strip().lower() == "null" else "it has one fixed worker"
            notes.append(f"--workers does not apply to --sut {sut.strip().lower()} ({how}); ignored")
        if batching is not None and batching.strip().lower() not in ("none", "off", "1"):
            how = "it completes every sample inline" if sut.strip().lower() == "null" else "it serves samples one by one"
            notes.append(f"--batching does not apply to --sut {sut.strip().lower()} ({how}); ignored")
    return notes
