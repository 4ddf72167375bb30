"""``simbench stats``: sample sizes, Monte Carlo validation, and queries a trace needs.

A thin Typer layer over :mod:`simbench.stats`: parse, call one library
function, render with rich. Heavy modules (numba, statsmodels, plotly) are
imported inside the commands so ``simbench --help`` stays fast.

Percentiles are given in percent (as in ``mlperf.conf``); confidence levels as
fractions; margins in percentage points of probability (the paper's "0.05%").
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from simbench.cli._common import console, handle_errors
from simbench.errors import SimbenchInputError

app = typer.Typer(
    help="Statistics behind MLPerf query counts: sample sizes, percentile confidence, "
    "early stopping, and Monte Carlo checks of them (i.i.d. and under queueing correlation).",
    no_args_is_help=True,
)

_CLAIMS = "Claims"
_LAW = "Latency law"
_SIM = "Simulation"


class LawName(str, Enum):
    """Latency laws ``validate`` can draw from."""

    lognormal = "lognormal"
    gamma = "gamma"
    empirical = "empirical"
    queue = "queue"


def _bad(flag: str, message: str) -> SimbenchInputError:
    """One clear line (exit 2 through ``handle_errors``), worded as typer words a bad option."""
    return SimbenchInputError(f"Invalid value for '{flag}': {message}")


def _fraction_from_percent(value: float, name: str) -> float:
    if not 0.0 < value < 100.0:
        raise _bad(name, f"a percentile in percent, in (0, 100), got {value:g}")
    return value / 100.0


def _check_confidence(value: float) -> float:
    if not 0.0 < value < 1.0:
        raise _bad("--confidence", f"a fraction in (0, 1), got {value:g}")
    return value


def _check_margin(margin: float | None, p: float) -> None:
    """--margin is in percent of probability, in (0, min(p, 1 - p)] (as the library's check,
    which speaks in fractions: 'got -0.01' for --margin -1)."""
    top = min(p, 1.0 - p) * 100.0
    if margin is not None and not 0.0 < margin <= top:
        raise _bad("--margin", f"expected percent of probability in (0, {top:g}], got {margin:g}")


@app.command("sample-size")
@handle_errors
def sample_size_command(
    percentile: Annotated[float, typer.Option(help="Tail percentile in percent, e.g. 99.", rich_help_panel=_CLAIMS)] = 99.0,
    confidence: Annotated[float, typer.Option(help="Confidence level as a fraction.", rich_help_panel=_CLAIMS)] = 0.99,
    margin: Annotated[
        float | None,
        typer.Option(help="Error margin in percent of probability; default the paper's (100 - percentile)/20.",
                     rich_help_panel=_CLAIMS),
    ] = None,
    multiple: Annotated[int, typer.Option(help="Round the count up to a multiple of this.")] = 2**13,
    table: Annotated[bool, typer.Option("--table", help="Print the paper's Table IV (90/95/97/99th).")] = False,
) -> None:
    """Queries needed so a measured tail percentile is within a margin (MLPerf paper, Eq. 1-2).

    N = NormsInv((1-c)/2)^2 p (1-p) / m^2 with m = (1-p)/20, rounded up to a multiple of 2^13.

    Examples:

      simbench stats sample-size --percentile 99 --confidence 0.99   (262,742 -> 270,336)

      simbench stats sample-size --table   (the paper's Table IV)
    """
    from rich.table import Table

    from simbench.stats import paper_table, sample_size

    conf = _check_confidence(confidence)
    if table:
        rows = paper_table(confidence=conf)
    else:
        p = _fraction_from_percent(percentile, "--percentile")
        _check_margin(margin, p)
        m = None if margin is None else margin / 100.0
        rows = (sample_size(p, confidence=conf, margin=m, multiple=multiple),)
    out = Table(title="Query requirements for statistical confidence (arXiv:1911.02549, Eq. 2)")
    for column in ("Percentile", "Confidence", "Margin", "Eq. 2", "Inferences", "Rounded up", "="):
        out.add_column(column, justify="right")
    for row in rows:
        factor = row.rounded_queries // row.multiple
        unit = "2^13" if row.multiple == 2**13 else f"{row.multiple:,}"
        out.add_row(
            f"{row.percentile * 100:g}%",
            f"{row.confidence * 100:g}%",
            f"{row.margin * 100:.2f}%",
            f"{row.exact_queries:,.1f}",
            f"{row.paper_queries:,}",
            f"{row.rounded_queries:,}",
            f"{factor} x {unit}",
        )
    console().print(out)


def _build_law(law: LawName, median_ms: float, sigma: float, shape: float, mean_ms: float,
               trace: Path | None, utilization: float, arrival_shape: float):
    from simbench.stats import EmpiricalLaw, GammaLaw, LogNormalLaw, QueueLaw

    if law is LawName.lognormal:
        return LogNormalLaw(median_ns=median_ms * 1e6, sigma=sigma)
    if law is LawName.gamma:
        return GammaLaw(shape=shape, scale_ns=mean_ms * 1e6 / shape)
    if law is LawName.empirical:
        if trace is None:
            raise _bad("--trace", "--law empirical needs --trace RUN.parquet")
        return EmpiricalLaw.from_trace(trace)
    return QueueLaw(utilization=utilization, arrival_shape=arrival_shape, mean_service_ns=mean_ms * 1e6)


def _check_threads(threads: int | None) -> None:
    """``--threads`` must be 1..(the threads numba may use); checked before any work."""
    if threads is None:
        return
    import numba

    cores = int(numba.config.NUMBA_NUM_THREADS)
    if not 1 <= threads <= cores:
        raise _bad("--threads", f"expected 1..{cores} (the cores numba can use), got {threads}")
    numba.set_num_threads(threads)


def _check_out(out: Path | None) -> None:
    """The figure's folder exists (created if missing) and is writable, before any work is spent."""
    if out is None:
        return
    import os

    if out.is_dir():
        raise _bad("--out", f"{out} is a folder; give a file name such as {out / 'coverage.html'}")
    folder = out.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _bad("--out", f"cannot create the folder {folder}: {error.strerror or error}") from None
    if not os.access(folder, os.W_OK):
        raise _bad("--out", f"the folder {folder} is not writable")


@app.command("validate")
@handle_errors
def validate_command(
    law: Annotated[LawName, typer.Option(help="Latency law.", rich_help_panel=_LAW)] = LawName.lognormal,
    percentile: Annotated[float, typer.Option(help="Tail percentile in percent.", rich_help_panel=_CLAIMS)] = 99.0,
    confidence: Annotated[float, typer.Option(help="Confidence as a fraction.", rich_help_panel=_CLAIMS)] = 0.99,
    queries: Annotated[
        int | None, typer.Option(help="Queries per replication; default the paper's count.", rich_help_panel=_SIM)
    ] = None,
    replications: Annotated[int, typer.Option(help="Monte Carlo replications.", rich_help_panel=_SIM)] = 10_000,
    seed: Annotated[int, typer.Option(help="SeedSequence root.", rich_help_panel=_SIM)] = 0,
    threads: Annotated[int | None, typer.Option(help="numba threads, 1..cores (default: all cores).",
                                                rich_help_panel=_SIM)] = None,
    median_ms: Annotated[float, typer.Option(help="lognormal: median latency, ms.", rich_help_panel=_LAW)] = 1.0,
    sigma: Annotated[float, typer.Option(help="lognormal: sd of log latency.", rich_help_panel=_LAW)] = 0.5,
    shape: Annotated[float, typer.Option(help="gamma: shape parameter.", rich_help_panel=_LAW)] = 2.0,
    mean_ms: Annotated[float, typer.Option(help="gamma: mean latency; queue: mean service time, ms.",
                                           rich_help_panel=_LAW)] = 1.0,
    trace: Annotated[Path | None, typer.Option(help="empirical: Trace Parquet to resample.", rich_help_panel=_LAW)] = None,
    utilization: Annotated[
        list[str] | None,
        typer.Option(help="queue / --simulator: utilization(s) in (0, 1); repeat or comma-separate for a table.",
                     rich_help_panel=_LAW),
    ] = None,
    simulator: Annotated[
        str | None,
        typer.Option(help="Run the checks on Server latencies simulated with this hardware profile (e.g. a100) "
                     "instead of --law.", rich_help_panel=_LAW),
    ] = None,
    model: Annotated[str, typer.Option(help="--simulator: model in the profile.", rich_help_panel=_LAW)] = "resnet50",
    batching: Annotated[
        str, typer.Option(help="--simulator: dynamic (the profile's batcher) or a simulate/benchmark --batching form"
                          " (none, N, dynamic:MAX_BATCH[:TIMEOUT_US]); comma-separate for several.", rich_help_panel=_LAW)
    ] = "dynamic",
    arrival: Annotated[
        str, typer.Option(help="--simulator: poisson, gamma:CV, mmpp:RATIO[:BASE[:BURST]]; comma-separate for "
                          "several.", rich_help_panel=_LAW)
    ] = "poisson",
    governor: Annotated[
        str | None, typer.Option(help="--simulator: DVFS governor of the device, a simulate --governor spec (e.g. thermal:ambient_c=45,"
                                 " power_cap:260); default the fixed-clock device.", rich_help_panel=_LAW)
    ] = None,
    reference_queries: Annotated[
        int, typer.Option(help="--simulator, or queue with --service-shape: length of the reference sample giving "
                          "the true quantiles.",
                          rich_help_panel=_SIM)
    ] = 50_000_000,
    min_restore_replications: Annotated[
        int, typer.Option(help="--simulator: skip a restored run unless this many replications fit the budget.",
                          rich_help_panel=_SIM)
    ] = 150,
    tau_method: Annotated[
        str | None, typer.Option(help="queue / --simulator: pilot tau estimate the corrections use: acf, geyer, obm, "
                                 "batch_means, max (default acf; with --procedure: geyer, the estimator whose "
                                 "fresh runs are simulated).", rich_help_panel=_SIM)
    ] = None,
    workers: Annotated[
        int, typer.Option(help="--simulator: worker processes for replications (0 = all cores).", rich_help_panel=_SIM)
    ] = 0,
    arrival_shape: Annotated[
        float, typer.Option(help="queue: Gamma shape of inter-arrivals (1 = Poisson, <1 bursty).", rich_help_panel=_LAW)
    ] = 1.0,
    service_shape: Annotated[
        float, typer.Option(help="queue: Gamma shape of service times (1 = exponential, GI/M/1 with exact quantiles;"
                            " otherwise GI/G/1, true quantiles from a --reference-queries run after a 100,000-query"
                            " warm-up; 4 = CV 0.5).", rich_help_panel=_LAW)
    ] = 1.0,
    restore: Annotated[
        bool, typer.Option(help="queue: also simulate at the corrected count n*tau.", rich_help_panel=_SIM)
    ] = True,
    budget_queries: Annotated[
        float | None,
        typer.Option(help="queue / --simulator: cap on simulated queries of each restored run "
                     "(default 3e10 for the queue, 3e8 for the simulator).", rich_help_panel=_SIM),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write a self-contained Plotly HTML figure here (plotly.js inlined; "
                                             "the folder is created).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the results as JSON instead of a table.")] = False,
    procedure: Annotated[
        bool, typer.Option("--procedure", help="queue / --simulator: measure the whole user procedure instead: "
                           "--replications pilot runs of --queries, tau (geyer, acf, obm) with its interval from "
                           "each, N = Eq. 2 x tau_high, and fresh runs of N (for --tau-method, within "
                           "--budget-queries).", rich_help_panel=_SIM)
    ] = False,
) -> None:
    """Monte Carlo coverage of the paper's margin, the percentile interval and early stopping.

    Each replication simulates one run at the official query count; the table gives the
    coverage, its Monte Carlo standard error and the exact i.i.d. value. For --law queue the
    latencies are autocorrelated GI/M/1 sojourn times, and the table adds the autocorrelation
    time, the corrected checks and the corrected query count. With --simulator PROFILE each
    replication is an independent simulated Server run (numba engine) and the true quantiles
    come from a long reference run; restored runs that do not fit --budget-queries with
    --min-restore-replications replications are skipped.

    Several rows (utilizations x batching x arrivals) run one after another with "row n/N"
    and an ETA on stderr; Ctrl-C prints (and with --out, saves) the rows finished so far and
    exits 130.

    Examples:

      simbench stats validate --law lognormal --replications 10000 --out lognormal.html

      simbench stats validate --law queue --utilization 0.3 --utilization 0.7 --replications 2000

      simbench stats validate --simulator a100 --utilization 0.3,0.5,0.7,0.9,0.95 --batching dynamic,none
      --arrival poisson,mmpp:5 --replications 1000   (latencies from the simulator itself)

      simbench stats validate --law queue --utilization 0.8 --procedure --replications 300
      (end to end: one run, tau from it, the corrected count, a fresh run)
    """
    p = _fraction_from_percent(percentile, "--percentile")
    conf = _check_confidence(confidence)
    _check_out(out)
    _check_threads(threads)
    if replications < 2:
        raise _bad("--replications", f"expected at least 2, got {replications}")
    from simbench.stats.autocorrelation import TAU_METHODS

    if tau_method is None:
        tau_method = "geyer" if procedure else "acf"
    if tau_method not in TAU_METHODS:
        raise _bad("--tau-method", f"expected one of {', '.join(TAU_METHODS)}, got {tau_method!r}")
    rhos = _utilizations(utilization)
    out_console = console()
    if governor is not None:
        if simulator is None:
            raise _bad("--governor", "needs --simulator PROFILE (the governor is the simulated device's)")
        from simbench.sim.governors import parse_governor

        parse_governor(governor)  # a bad spec fails here, naming --governor, before any work
    if not service_shape > 0:
        raise _bad("--service-shape", f"expected a Gamma shape > 0, got {service_shape}")
    if service_shape != 1.0 and (simulator is not None or law is not LawName.queue):
        raise _bad("--service-shape", "applies to --law queue only")
    if service_shape != 1.0 and reference_queries < 16_000:
        raise _bad("--reference-queries", f"expected at least 16,000 for --service-shape, got {reference_queries}")
    if procedure and simulator is None and law is not LawName.queue:
        raise _bad("--procedure", "needs --law queue or --simulator PROFILE (a correlated law)")
    if simulator is None:  # flags that would be parsed and ignored
        for flag, given in (("--batching", batching != "dynamic"), ("--arrival", arrival != "poisson"),
                            ("--model", model != "resnet50")):
            if given:
                raise _bad(flag, "applies to --simulator PROFILE only")
        if utilization is not None and law is not LawName.queue:
            raise _bad("--utilization", f"applies to --law queue or --simulator PROFILE, not to --law {law.value}")
    if simulator is None and law is not LawName.queue:
        from simbench.stats import validate

        chosen = _build_law(law, median_ms, sigma, shape, mean_ms, trace, 0.5, arrival_shape)
        with console(stderr=True).status(f"simulating {chosen!r} ..."):
            result = validate(chosen, percentile=p, confidence=conf, query_count=queries,
                              replications=replications, seed=seed)
        if json_out:
            _print_json({"kind": "iid", "result": _plain(result)})
        else:
            out_console.print(_validation_table(result, out_console.width))
        if out is not None:
            _validation_figure(result).write_html(out, include_plotlyjs=True)
            console(stderr=True).print(f"figure written to {out}", markup=False)
        return
    if procedure:
        laws = (_simulator_laws(simulator, model, rhos, batching, arrival, reference_queries, workers, governor)
                if simulator is not None
                else _queue_laws(rhos, mean_ms, arrival_shape, service_shape, reference_queries))
        budget = (3e8 if simulator is not None else 3e10) if budget_queries is None else budget_queries
        jobs = [(label, repr(chosen), _procedure_run(chosen, p, conf, queries, replications, seed, budget, tau_method))
                for label, chosen in laws]
    elif simulator is not None:
        jobs = _simulator_jobs(simulator, model, rhos, batching, arrival, p, conf, queries, replications, seed, restore,
                               3e8 if budget_queries is None else budget_queries, reference_queries, workers,
                               min_restore_replications, tau_method, governor)
    else:
        jobs = _queue_jobs(rhos, mean_ms, arrival_shape, service_shape, reference_queries, p, conf, queries,
                           replications, seed, restore, 3e10 if budget_queries is None else budget_queries, tau_method)
    rows, interrupted = _run_rows(jobs)
    if rows:
        if json_out:
            _print_json({"kind": "correlated", "rows_planned": len(jobs), "rows_finished": len(rows),
                         "interrupted": interrupted, "rows": _plain(rows)})
        elif procedure:
            out_console.print(_procedure_table(rows, out_console.width))
        else:
            out_console.print(_correlated_table(rows, out_console.width))
        if out is not None:
            (_procedure_figure(rows) if procedure else _correlated_figure(rows)).write_html(out, include_plotlyjs=True)
            console(stderr=True).print(f"figure written to {out}", markup=False)
    if interrupted:
        import sys

        print(f"interrupted: {len(rows)} of {len(jobs)} rows finished"
              + (" (printed above" + (f", figure {out}" if out is not None and rows else "") + ")" if rows else ""),
              file=sys.stderr)
        raise typer.Exit(130)


def _plain(value):
    """A result dataclass as JSON-ready builtins."""
    import dataclasses
    import math

    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if not f.name.startswith("_")}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _print_json(payload) -> None:
    import json

    print(json.dumps(payload, indent=2))


def _utilizations(values: list[str] | None) -> list[float]:
    if not values:
        return [0.5]
    try:
        rhos = [float(part) for value in values for part in value.split(",") if part.strip()]
    except ValueError:
        raise _bad("--utilization", f"expected numbers in (0, 1), got {values}") from None
    bad = [r for r in rhos if not 0.0 < r < 1.0]
    if bad or not rhos:
        raise _bad("--utilization", f"expected numbers in (0, 1), got {bad or values}")
    return rhos


def _queue_law(rho, mean_ms, arrival_shape, service_shape, reference_queries):
    """(label, law): GI/M/1 ``QueueLaw`` for exponential service, else ``GIG1Law`` (Gamma service)."""
    from simbench.stats import GIG1Law, QueueLaw

    arrivals = "Poisson" if arrival_shape == 1.0 else f"Gamma k={arrival_shape:g}"
    if service_shape == 1.0:
        return f"{rho:g}, {arrivals}", QueueLaw(utilization=rho, arrival_shape=arrival_shape,
                                                mean_service_ns=mean_ms * 1e6)
    return (f"{rho:g}, {arrivals}, Gamma k={service_shape:g} service",
            GIG1Law(utilization=rho, arrival_shape=arrival_shape, mean_service_ns=mean_ms * 1e6,
                    service_shape=service_shape, reference_queries=int(reference_queries)))


def _queue_laws(rhos, mean_ms, arrival_shape, service_shape=1.0, reference_queries=0):
    return [_queue_law(rho, mean_ms, arrival_shape, service_shape, reference_queries) for rho in rhos]


def _simulator_laws(profile, model, rhos, batching, arrival, reference_queries, workers, governor=None):
    from simbench.plan.coverage import SimulatorLaw

    return [(f"{rho:g}, {policy}, {arrival_law}" + (f", {governor}" if governor else ""),
             SimulatorLaw(rho, batching=policy, arrival=arrival_law, profile=profile, model=model,
                          reference_queries=reference_queries, workers=workers, governor=governor))
            for arrival_law in arrival.split(",") for policy in batching.split(",") for rho in rhos]


def _procedure_run(law, p, conf, queries, replications, seed, budget, tau_method):
    def run():
        from simbench.stats import QueueLaw, validate_procedure
        from simbench.stats.sample_size import sample_size

        methods = ("geyer", "acf", "obm")
        direct = (tau_method,) if tau_method in methods else ("geyer",)
        true_tau = None
        if not isinstance(law, QueueLaw):
            m = sample_size(p, confidence=conf).margin
            true_tau = law.reference_autocorrelation((p - m, p, p + m))
        result = validate_procedure(law, percentile=p, confidence=conf, pilot_queries=queries,
                                    replications=replications, methods=methods, direct_methods=direct,
                                    budget_queries=budget, true_tau=true_tau, seed=seed)
        return {"procedure": result}

    return run


def _queue_jobs(rhos, mean_ms, arrival_shape, service_shape, reference_queries, p, conf, queries, replications,
                seed, restore, budget, tau_method):
    """One (label, run) pair per utilization; every law is built (and validated) before any runs."""
    jobs = []
    for rho in rhos:
        label, queue = _queue_law(rho, mean_ms, arrival_shape, service_shape, reference_queries)

        def run(queue=queue):
            from simbench.stats import validate_correlated

            result = validate_correlated(queue, percentile=p, confidence=conf, query_count=queries,
                                         replications=replications, seed=seed, restore=restore,
                                         budget_queries=budget, tau_method=tau_method)
            return {"result": result}

        jobs.append((label, repr(queue), run))
    return jobs


def _simulator_jobs(profile, model, rhos, batching, arrival, p, conf, queries, replications, seed, restore,
                    budget_queries, reference_queries, workers, min_restore, tau_method, governor=None):
    from simbench.plan.coverage import SimulatorLaw

    jobs = []
    for arrival_law in arrival.split(","):
        for policy in batching.split(","):
            for rho in rhos:
                law = SimulatorLaw(rho, batching=policy, arrival=arrival_law, profile=profile, model=model,
                                   reference_queries=reference_queries, workers=workers, governor=governor)

                def run(law=law):
                    from simbench.stats import validate_correlated

                    reference = law.reference(p)
                    result = validate_correlated(law, percentile=p, confidence=conf, query_count=queries,
                                                 replications=replications, seed=seed, restore=restore,
                                                 budget_queries=budget_queries, min_restore_replications=min_restore,
                                                 skip_unaffordable=True, tau_method=tau_method)
                    return {"result": result, "reference": reference, "target_qps": law.target_qps}

                jobs.append((f"{rho:g}, {policy}, {arrival_law}" + (f", {governor}" if governor else ""), repr(law), run))
    return jobs


def _run_rows(jobs):
    """Run the rows one by one with "row n/N" and an ETA on stderr; stop cleanly on Ctrl-C.

    Returns (finished rows as dicts, interrupted?). Worker processes ignore SIGINT (the
    pool's initializer) and are terminated here, so an interrupt prints no worker tracebacks.
    """
    import time

    import signal

    err = console(stderr=True)
    rows: list[dict] = []
    started = time.perf_counter()
    received: list[int] = []

    def on_sigint(signum, frame):
        # Remember the signal: a KeyboardInterrupt raised inside numba's dispatcher can surface as a
        # SystemError ("returned a result with an exception set"), which is still this interrupt.
        received.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        for index, (label, name, run) in enumerate(jobs, start=1):
            row_start = time.perf_counter()
            with err.status(f"row {index}/{len(jobs)}: {name} ..."):
                values = run()
            row_s = time.perf_counter() - row_start
            rows.append({"label": label, "law": name, "elapsed_s": row_s, **values})
            mean_s = (time.perf_counter() - started) / index
            left = len(jobs) - index
            eta = f"; ETA {_duration(mean_s * left)}" if left else ""
            detail = _row_detail(rows[-1])
            err.print(f"row {index}/{len(jobs)} done in {_duration(row_s)}: {name}{detail}{eta}", markup=False, soft_wrap=True,
                      highlight=False)
    except BaseException:
        from simbench.interrupt import current

        g = current()
        if not received and not (g is not None and g.stopped):  # SIGTERM comes through the guard
            raise
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the clean-up
        _stop_workers()
        return rows, True
    finally:
        signal.signal(signal.SIGINT, previous)
    return rows, False


def _stop_workers() -> None:
    import sys

    module = sys.modules.get("simbench.plan.coverage")
    if module is not None:
        module.shutdown_workers()


def _row_detail(row: dict) -> str:
    ref = row.get("reference")
    if ref is None:
        return ""
    return (f"; {row['target_qps']:,.0f} QPS; reference {ref.queries:,} queries ({ref.runs} runs), "
            f"p{ref.percentile * 100:g} = {ref.quantile_ns / 1e6:.4f} ms, tau {ref.autocorrelation_time:.1f}")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _pct(value: float) -> str:
    return f"{value * 100:.2f}"


NARROW_COLUMNS = 120
"""Below this terminal width the tables switch to a narrow layout (one small table per case)."""


def _validation_table(result, width: int = 200):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    narrow = width < NARROW_COLUMNS
    table = Table(
        title=f"{result.law}: {result.replications:,} runs x {result.query_count:,} queries, "
        f"p{result.percentile * 100:g}, c={result.confidence:g} "
        f"({result.elapsed_s:.1f} s on {result.threads} threads)"
    )
    columns = ("check", "coverage %", "MC s.e. %", "exact i.i.d. %", "target %")
    if not narrow:
        columns = ("check", "event") + columns[1:]
    for column in columns:
        table.add_column(column, justify="left" if column in ("check", "event") else "right", overflow="fold")
    for check in result.checks:
        numbers = (_pct(check.coverage), _pct(check.standard_error), _pct(check.nominal), _pct(check.target))
        table.add_row(check.check, *((check.description,) if not narrow else ()), *numbers)
    if not narrow:
        return table
    events = [Text(f"{check.check}: {check.description}", overflow="fold") for check in result.checks]
    return Group(table, *events)


def _cell(validation, name):
    try:
        check = validation.check(name)
    except KeyError:
        return "-"
    return f"{_pct(check.coverage)} ({_pct(check.standard_error)})"


def _correlated_cells(row) -> list[tuple[str, str]]:
    """(quantity, value) pairs of one correlated row, in the wide table's column order."""
    result = row["result"]
    official = result.official
    restored = f"{_cell(result.restored, 'margin')} R={result.restored.replications:,}" if result.restored else "-"
    cells = [("case: utilization, (batching,) arrivals", row["label"])]
    reference = row.get("reference")
    if reference is not None:
        cells.append((f"reference p{reference.percentile * 100:g} ms", f"{reference.quantile_ns / 1e6:.4f}"))
    cells += [
        ("tau (acf)", f"{result.autocorrelation_time:.1f}"),
        ("tau (batch)", f"{result.batch_means_time:.1f}"),
        ("tau (MC)", f"{official.count_variance_ratio:.1f}"),
        ("margin % (i.i.d.)", f"{_cell(official, 'margin')} [{_pct(official.check('margin').nominal)}]"),
        ("CI %", _cell(official, "percentile_ci")),
        ("ES %", _cell(official, "early_stopping")),
        ("CI+ess %", _cell(official, "percentile_ci+ess")),
        ("ES+ess %", _cell(official, "early_stopping+ess")),
        ("n*tau", f"{result.corrected_query_count:,}"),
        ("margin at n*tau %", restored),
    ]
    return cells


def _correlated_table(rows, width: int = 200):
    from rich.console import Group
    from rich.table import Table

    first = rows[0]["result"].official
    title = (f"Coverage under queueing correlation: p{first.percentile * 100:g}, c={first.confidence:g}, "
             f"n={first.query_count:,}, {first.replications:,} runs; (MC s.e.), \\[exact i.i.d.]")
    if width >= NARROW_COLUMNS:
        table = Table(title=title)
        for name, _ in _correlated_cells(rows[0]):
            table.add_column(name, justify="left" if name.startswith("case") else "right", overflow="fold")
        for row in rows:
            table.add_row(*(value for _, value in _correlated_cells(row)))
        return table
    tables = []
    for row in rows:
        table = Table(title=row["label"], title_justify="left")
        table.add_column("quantity", overflow="fold")
        table.add_column("value", justify="right", overflow="fold")
        for name, value in _correlated_cells(row)[1:]:
            table.add_row(name, value)
        tables.append(table)
    from rich.text import Text

    return Group(Text.from_markup(title), *tables)


def _procedure_cells(row) -> list[tuple[str, str]]:
    result = row["procedure"]
    tau = result.true_tau[1]
    cells = [("case", row["label"]),
             ("true tau at p", "-" if tau != tau else f"{tau:,.1f}"),
             ("Eq. 2 / exact i.i.d. %", f"{result.iid_queries:,} / {_pct(result.iid_coverage)}")]
    for e in result.estimates:
        direct = (f"{_pct(e.direct_coverage)} ({_pct(e.direct_standard_error)}) R={e.direct_replications:,}"
                  if e.direct_replications else "-")
        conditional = ("-" if e.conditional_coverage is None else
                       f"{_pct(e.conditional_coverage)} ({_pct(e.conditional_standard_error)})")
        cells += [(f"{e.method}: median tau [high]", f"{e.tau_median:,.1f} [{e.tau_high_median:,.1f}]"),
                  (f"{e.method}: median N", f"{e.corrected_median:,}"),
                  (f"{e.method}: fresh-run coverage %", direct),
                  (f"{e.method}: conditional coverage %", conditional)]
    cells.append(("pilots flagged %", f"{100 * result.estimates[0].flagged:.0f}"))
    return cells


def _procedure_table(rows, width: int = 200):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    first = rows[0]["procedure"]
    title = (f"End-to-end coverage of the corrected procedure: p{first.percentile * 100:g}, c={first.confidence:g}, "
             f"pilot n0={first.pilot_queries:,}, {first.estimates[0].pilots:,} pilots, tau interval "
             f"{first.tau_confidence:g}; (MC s.e.)")
    tables = []
    for row in rows:
        table = Table(title=row["label"], title_justify="left")
        table.add_column("quantity", overflow="fold")
        table.add_column("value", justify="right", overflow="fold")
        for name, value in _procedure_cells(row)[1:]:
            table.add_row(name, value)
        tables.append(table)
    return Group(Text(title, overflow="fold"), *tables)


def _procedure_figure(rows):
    import plotly.graph_objects as go

    figure = go.Figure()
    labels = [row["label"] for row in rows]
    methods = [e.method for e in rows[0]["procedure"].estimates]
    for method in methods:
        points = [row["procedure"].estimate(method) for row in rows]
        figure.add_trace(go.Scatter(x=labels, y=[100 * e.conditional_coverage if e.conditional_coverage is not None
                                                 else None for e in points],
                                    mode="lines+markers", name=f"{method} (conditional)"))
        if any(e.direct_replications for e in points):
            figure.add_trace(go.Scatter(
                x=labels, y=[100 * e.direct_coverage if e.direct_replications else None for e in points],
                error_y={"type": "data", "array": [196 * (e.direct_standard_error or 0) for e in points]},
                mode="markers", name=f"{method} (fresh runs)"))
    figure.add_hline(y=99, line_dash="dash", annotation_text="nominal 99 %")
    figure.update_layout(title="End-to-end coverage: one run -> tau -> corrected count -> fresh run",
                         yaxis_title="coverage (%), bars = 95% MC interval")
    return figure


def _validation_figure(result):
    import plotly.graph_objects as go

    names = [check.check for check in result.checks]
    figure = go.Figure(
        go.Scatter(
            x=names, y=[100 * c.coverage for c in result.checks], mode="markers", name="Monte Carlo",
            error_y={"type": "data", "array": [196 * c.standard_error for c in result.checks]},
        )
    )
    figure.add_trace(go.Scatter(x=names, y=[100 * c.nominal for c in result.checks], mode="markers",
                                marker_symbol="x", name="exact (i.i.d.)"))
    figure.add_hline(y=100 * result.confidence, line_dash="dash", annotation_text="target")
    figure.update_layout(title=f"{result.law}: {result.replications:,} x {result.query_count:,} queries",
                         yaxis_title="coverage (%), bars = 95% MC interval")
    return figure


def _correlated_figure(rows):
    import plotly.graph_objects as go

    results = [row["result"] for row in rows]
    figure = go.Figure()
    x = [row["label"] for row in rows]
    for name in ("margin", "percentile_ci", "early_stopping", "percentile_ci+ess", "early_stopping+ess"):
        points = []
        for r in results:
            try:
                points.append(r.official.check(name))
            except KeyError:
                points.append(None)
        figure.add_trace(go.Scatter(
            x=x, y=[100 * c.coverage if c else None for c in points], mode="lines+markers", name=name,
            error_y={"type": "data", "array": [196 * c.standard_error if c else 0 for c in points]},
        ))
    figure.add_trace(go.Scatter(
        x=x, y=[100 * r.restored.check("margin").coverage if r.restored else None for r in results],
        mode="lines+markers", name="margin at n*tau",
    ))
    figure.add_hline(y=100 * results[0].official.confidence, line_dash="dash", annotation_text="target")
    figure.update_layout(title="Coverage under queueing correlation", yaxis_title="coverage (%)")
    return figure


@app.command("required-queries")
@handle_errors
def required_queries_command(
    trace: Annotated[Path, typer.Option(help="Trace Parquet file (simbench Trace schema).", exists=True, dir_okay=False)],
    percentile: Annotated[float, typer.Option(help="Tail percentile in percent.", rich_help_panel=_CLAIMS)] = 99.0,
    confidence: Annotated[float, typer.Option(help="Confidence as a fraction.", rich_help_panel=_CLAIMS)] = 0.99,
    margin: Annotated[
        float | None, typer.Option(help="Error margin in percent; default (100 - percentile)/20.", rich_help_panel=_CLAIMS)
    ] = None,
    method: Annotated[str, typer.Option(help="tau estimator: geyer (default, picked by measured end-to-end "
                                        "coverage), acf, obm, batch_means or max.")] = "geyer",
    tau_confidence: Annotated[float, typer.Option(help="Level of tau's two-sided interval; the counts use its "
                                                  "upper end.")] = 0.9,
    warmup_s: Annotated[float | None, typer.Option(help="Drop queries issued in the first SECONDS as warm-up.")] = None,
    trim: Annotated[str | None, typer.Option(help="'auto': drop the warm-up MSER-5 finds (White 1997).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """How many queries does this system need, given how correlated its latencies are?

    Query latency = max(complete_ns over the query's samples) - issue_ns, in issue order; the
    autocorrelation time tau of [latency <= p-th percentile] scales the paper's count. The
    count is sized from tau's upper confidence bound; a run too short to tell its own tau,
    a warm-up, a drift or disagreeing estimators are printed as warnings (and make
    "enough queries?" NO).

    Examples:

      simbench stats required-queries --trace simbench_results/run/Server/trace.parquet

      simbench stats required-queries --trace run.parquet --trim auto --json
    """
    from rich.table import Table

    from simbench.stats import required_queries
    from simbench.stats.autocorrelation import TAU_METHODS
    from simbench.trace import read_trace

    p = _fraction_from_percent(percentile, "--percentile")
    conf = _check_confidence(confidence)
    if method not in TAU_METHODS:
        raise _bad("--method", f"expected one of {', '.join(TAU_METHODS)}, got {method!r}")
    if not 0.0 < tau_confidence < 1.0:
        raise _bad("--tau-confidence", f"a fraction in (0, 1), got {tau_confidence:g}")
    if trim not in (None, "auto"):
        raise _bad("--trim", f"expected 'auto', got {trim!r}")
    if trim is not None and warmup_s is not None:
        raise _bad("--trim", "give --trim auto or --warmup-s, not both")
    if warmup_s is not None and not warmup_s >= 0.0:
        raise _bad("--warmup-s", f"expected seconds >= 0, got {warmup_s:g}")
    _check_margin(margin, p)
    run = read_trace(trace)
    latencies = run.query_latencies_ns()
    warmup: int | str = 0
    if trim == "auto":
        warmup = "auto"
    elif warmup_s:
        import numpy as np

        issue = run.issue_ns[run.query_bounds()]
        warmup = int(np.searchsorted(issue, warmup_s * 1e9, side="left"))
        if warmup >= latencies.size:
            raise _bad("--warmup-s", f"drops all {latencies.size:,} queries (the last is issued at "
                       f"{issue[-1] / 1e9:.3f} s)")
    result = required_queries(latencies, p, confidence=conf, margin=None if margin is None else margin / 100.0,
                              method=method, tau_confidence=tau_confidence, warmup_queries=warmup)
    if json_out:
        _print_json(_plain(result) | {"trace": str(trace)})
        return
    tau = result.autocorrelation
    table = Table(title=f"Required queries for {trace.name}: p{p * 100:g}, c={conf:g}, margin {result.margin * 100:.3f}%")
    table.add_column("quantity", overflow="fold")
    table.add_column("value", justify="right", overflow="fold")
    level = f"{tau.tau_confidence * 100:g}%"
    rows = [
        ("queries in trace (after warm-up)", f"{result.query_count:,}"),
        ("warm-up dropped", f"{result.trimmed_queries:,} queries"),
        ("lag-1 autocorrelation of latency", f"{tau.latency_lag1_autocorrelation:.3f}"),
        ("tau, Sokal window (M)", f"{tau.acf_time:.2f} ({tau.acf_window})"),
        ("tau, Geyer initial monotone (lags)", f"{tau.geyer_time:.2f} ({tau.geyer_lags})"),
        ("tau, overlapping batch means (b)", f"{tau.obm_time:.2f} ({tau.obm_batch_size:,})"),
        ("tau, batch means (b)", f"{tau.batch_means_time:.2f} ({tau.batch_size:,})"),
        (f"tau used ({tau.method}), {level} interval", f"{tau.autocorrelation_time:.2f} [{tau.tau_low:.2f}, "
         f"{tau.tau_high:.2f}]"),
        ("effective sample size n/tau", f"{tau.effective_sample_count:,.0f}"),
        ("queries if independent (Eq. 2)", f"{result.iid_queries:,}"),
        ("queries this system needs (tau upper bound)", f"{result.required_queries:,}"),
        ("... from the point estimate", f"{result.required_queries_point:,}"),
        ("margin achieved by this trace", f"{result.achieved_margin * 100:.4f}%"),
        ("early-stopping minimum, independent / corrected",
         f"{result.early_stopping_iid_min_queries:,} / {result.early_stopping_required_queries:,}"),
        ("enough queries?", "yes" if result.sufficient else "NO"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    out = console()
    out.print(table)
    for warning in result.warnings:
        out.print(f"warning: {warning}", markup=False, highlight=False)


@app.command("oc")
@handle_errors
def oc_command(
    queries: Annotated[int, typer.Option(help="Queries in the run, n.", rich_help_panel=_CLAIMS)] = 270_336,
    percentile: Annotated[float, typer.Option(help="Target latency percentile in percent.", rich_help_panel=_CLAIMS)] = 99.0,
    rates: Annotated[
        str | None,
        typer.Option(help="True over-latency rates in percent, comma-separated (default: nine rates from 0.8 to "
                     "1.05 x (100 - percentile)).", rich_help_panel=_CLAIMS),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the OC curve and coverage-vs-n sawtooth as self-contained "
                                             "Plotly HTML (plotly.js inlined).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the results as JSON instead of tables.")] = False,
) -> None:
    """Operating characteristics: how often LoadGen's rules pass, and how coverage moves with n.

    Prints (1) the probability that Server early stopping passes n i.i.d. queries when the
    true over-latency rate is r, beside the plain percentile check; (2) the exact coverage of
    the paper's margin claim at the paper's counts (the floor(n p) sawtooth); (3) the exact
    (Beta) query count beside the paper's normal approximation.

    Examples:

      simbench stats oc   (n = 270,336, p99: passes with 0.999 at r = 0.9 %, 0.62 at 0.95 %, 0.099 at 0.98 %)

      simbench stats oc --queries 24576 --percentile 90 --out oc.html
    """
    from simbench.stats import exact_sample_size, margin_coverage, operating_characteristic

    p = _fraction_from_percent(percentile, "--percentile")
    if queries < 1:
        raise _bad("--queries", f"expected at least 1, got {queries}")
    _check_out(out)
    q = 1.0 - p
    if rates is None:
        chosen = [q * f for f in (0.8, 0.85, 0.9, 0.925, 0.95, 0.965, 0.98, 1.0, 1.05)]
    else:
        try:
            chosen = [float(v) / 100.0 for v in rates.split(",") if v.strip()]
        except ValueError:
            raise _bad("--rates", f"expected percentages separated by commas, got {rates!r}") from None
        if not chosen or not all(0.0 <= r <= 1.0 for r in chosen):
            raise _bad("--rates", f"expected percentages in [0, 100], got {rates!r}")
    oc = operating_characteristic(queries, chosen, p)
    exact = exact_sample_size(p)
    if json_out:
        _print_json({"operating_characteristic": _plain(oc), "exact_sample_size": _plain(exact)})
    else:
        from rich.table import Table

        c = console()
        table = Table(title=f"Server early stopping at n = {queries:,}, p{percentile:g}: tolerates "
                      f"{oc.max_overlatency_count:,} over-latency queries (plain p{percentile:g} check: "
                      f"{oc.percentile_check_max_overlatency:,}); passes half the time at r = {oc.rate_at_half * 100:.4f} %")
        for column in ("true over-latency rate %", "P[ES passes]", f"P[p{percentile:g} check passes]"):
            table.add_column(column, justify="right", overflow="fold", min_width=len(column) if len(column) < 14 else 8)
        for r, es, plain in zip(oc.rates, oc.pass_probability, oc.percentile_check_probability):
            table.add_row(f"{r * 100:.4g}", f"{es:.3g}", f"{plain:.3g}")
        c.print(table)
        sizes = Table(title=f"Queries for the margin claim (p{percentile:g}, c=0.99, m={exact.margin * 100:.3g} %): "
                      "exact Beta law vs Eq. 2")
        sizes.add_column("count", overflow="fold")
        sizes.add_column("n", justify="right")
        sizes.add_column("exact coverage %", justify="right")
        sizes.add_row("Eq. 2 (normal approximation), unrounded", f"{exact.normal_queries:,}",
                      f"{exact.normal_coverage * 100:.4f} (one period either side: "
                      f"{exact.normal_coverage_range[0] * 100:.4f}-{exact.normal_coverage_range[1] * 100:.4f})")
        sizes.add_row("exact: first n reaching 99 %", f"{exact.first_queries:,}",
                      f"{margin_coverage(exact.first_queries, p) * 100:.4f}")
        sizes.add_row("exact: n from which it stays >= 99 %", f"{exact.stable_queries:,}",
                      f"{margin_coverage(exact.stable_queries, p) * 100:.4f}")
        sizes.add_row("the paper's rounded count", f"{exact.paper_rounded_queries:,}",
                      f"{exact.paper_rounded_coverage * 100:.4f}")
        c.print(sizes)
    if out is not None:
        _oc_figure(oc, exact, p).write_html(out, include_plotlyjs=True)
        console(stderr=True).print(f"figure written to {out}", markup=False)


def _oc_figure(oc, exact, p):
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from simbench.stats import margin_coverage, operating_characteristic

    curve = operating_characteristic(oc.query_count, None, p)
    n = np.arange(int(0.9 * exact.normal_queries), int(1.08 * exact.paper_rounded_queries), dtype=np.int64)
    step = max(1, n.size // 20_000)
    figure = make_subplots(rows=1, cols=2, subplot_titles=(
        f"Server early stopping, n = {oc.query_count:,}: P[pass] vs true over-latency rate",
        "Exact coverage of the margin claim vs n (floor(n p) sawtooth)"))
    figure.add_trace(go.Scatter(x=[100 * r for r in curve.rates], y=curve.pass_probability, name="early stopping"),
                     row=1, col=1)
    figure.add_trace(go.Scatter(x=[100 * r for r in curve.rates], y=curve.percentile_check_probability,
                                name="plain percentile check", line_dash="dot"), row=1, col=1)
    figure.add_vline(x=100 * (1 - p), line_dash="dash", row=1, col=1)
    figure.add_trace(go.Scatter(x=n[::step], y=100 * margin_coverage(n[::step], p), name="margin coverage",
                                mode="lines"), row=1, col=2)
    figure.add_hline(y=99, line_dash="dash", row=1, col=2)
    for value, name in ((exact.normal_queries, "Eq. 2"), (exact.first_queries, "exact"),
                        (exact.paper_rounded_queries, "paper")):
        figure.add_vline(x=value, line_dash="dot", annotation_text=name, row=1, col=2)
    figure.update_xaxes(title_text="true over-latency rate (%)", row=1, col=1)
    figure.update_xaxes(title_text="queries n", row=1, col=2)
    figure.update_yaxes(title_text="probability", row=1, col=1)
    figure.update_yaxes(title_text="coverage (%)", row=1, col=2)
    return figure


@app.command("early-stopping")
@handle_errors
def early_stopping_command(
    queries: Annotated[int, typer.Option(help="Queries processed, n.")],
    percentile: Annotated[float, typer.Option(help="Target latency percentile in percent.")] = 99.0,
    overlatency: Annotated[
        int | None, typer.Option(help="Server: queries over the target latency, t (strictly greater).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """LoadGen's early stopping for one run: h(t), t*, the estimate's rank, and LoadGen's wording.

    With --overlatency T: the Server check (passes iff n >= h(T) + T) and its summary lines.
    Always: the SingleStream/MultiStream estimate (t* = max{t : n >= h(t) + t}; the estimate
    is the t*-th largest latency, ascending rank n - t* + 1).

    Examples:

      simbench stats early-stopping --queries 270336 --overlatency 2583 --percentile 99

      simbench stats early-stopping --queries 1000 --percentile 90
    """
    from simbench.stats import max_overlatency_count, min_passing_queries, server_early_stopping

    p = _fraction_from_percent(percentile, "--percentile")
    if queries < 0:
        raise _bad("--queries", f"expected a count >= 0, got {queries}")
    if overlatency is not None and not 0 <= overlatency <= queries:
        raise _bad("--overlatency", f"expected 0..{queries} (at most --queries), got {overlatency}")
    h1 = min_passing_queries(1, p)
    t_star = max_overlatency_count(queries, p) if queries >= h1 + 1 else None
    label = f"{p * 100:.1f}"
    latency = {
        "query_count": queries, "percentile": p, "min_queries": h1 + 1, "overlatency_count": t_star,
        "estimate_rank": None if t_star is None else queries - t_star + 1,
        "discarded": None if t_star is None else t_star - 1,
        "lines": ([f" * Only processed {queries} queries.",
                   f" * Need to process at least {h1 + 1} queries for early stopping."] if t_star is None else
                  [f" * Processed at least {h1 + 1} queries ({queries}).",
                   f" * Would discard {t_star - 1} highest latency queries.",
                   f" * Early stopping {label}th percentile estimate: <latency of rank {queries - t_star + 1}>"]),
    }
    server = None
    if overlatency is not None:
        result = server_early_stopping(queries, overlatency, p)
        server = {"query_count": queries, "overlatency_count": overlatency,
                  "min_passing_queries": result.min_passing_queries, "min_queries": result.min_queries,
                  "passed": result.passed, "queries_needed": result.queries_needed, "lines": list(result.lines)}
    if json_out:
        _print_json({"server": server, "latency": latency})
        return
    c = console()
    if server is not None:
        c.print(f"Server, p{percentile:g}, n = {queries:,}, t = {overlatency:,} over latency: "
                f"h(t) = {server['min_passing_queries']:,}, needs n >= h(t) + t = {server['min_queries']:,} -> "
                f"{'passes' if server['passed'] else 'fails'}", markup=False, soft_wrap=True)
        c.print("Early Stopping Result:\n" + "\n".join(server["lines"]), markup=False, highlight=False)
        c.print()
    if t_star is None:
        c.print(f"SingleStream/MultiStream, p{percentile:g}: n = {queries:,} is below h(1) + 1 = {h1 + 1:,}; "
                "LoadGen reports no estimate", markup=False, soft_wrap=True)
    else:
        c.print(f"SingleStream/MultiStream, p{percentile:g}, n = {queries:,}: t* = {t_star:,} "
                f"(h(t*) + t* = {min_passing_queries(t_star, p) + t_star:,} <= n); estimate = the t*-th largest "
                f"latency, ascending rank {queries - t_star + 1:,} ({(queries - t_star + 1) / queries * 100:.2f} % "
                "of n)", markup=False, soft_wrap=True)
    c.print("Early Stopping Result:\n" + "\n".join(latency["lines"]), markup=False, highlight=False)
