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


def _fraction_from_percent(value: float, name: str) -> float:
    if not 0.0 < value < 100.0:
        raise typer.BadParameter(f"{name} is in percent and must be in (0, 100), got {value}")
    return value / 100.0


def _check_confidence(value: float) -> float:
    if not 0.0 < value < 1.0:
        raise typer.BadParameter(f"--confidence is a fraction in (0, 1), got {value}")
    return value


def _console():
    from rich.console import Console

    return Console()


@app.command("sample-size")
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
        m = None if margin is None else margin / 100.0
        try:
            rows = (sample_size(p, confidence=conf, margin=m, multiple=multiple),)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None
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
    _console().print(out)


def _build_law(law: LawName, median_ms: float, sigma: float, shape: float, mean_ms: float,
               trace: Path | None, utilization: float, arrival_shape: float):
    from simbench.stats import EmpiricalLaw, GammaLaw, LogNormalLaw, QueueLaw

    if law is LawName.lognormal:
        return LogNormalLaw(median_ns=median_ms * 1e6, sigma=sigma)
    if law is LawName.gamma:
        return GammaLaw(shape=shape, scale_ns=mean_ms * 1e6 / shape)
    if law is LawName.empirical:
        if trace is None:
            raise typer.BadParameter("--law empirical needs --trace RUN.parquet")
        return EmpiricalLaw.from_trace(trace)
    return QueueLaw(utilization=utilization, arrival_shape=arrival_shape, mean_service_ns=mean_ms * 1e6)


@app.command("validate")
def validate_command(
    law: Annotated[LawName, typer.Option(help="Latency law.", rich_help_panel=_LAW)] = LawName.lognormal,
    percentile: Annotated[float, typer.Option(help="Tail percentile in percent.", rich_help_panel=_CLAIMS)] = 99.0,
    confidence: Annotated[float, typer.Option(help="Confidence as a fraction.", rich_help_panel=_CLAIMS)] = 0.99,
    queries: Annotated[
        int | None, typer.Option(help="Queries per replication; default the paper's count.", rich_help_panel=_SIM)
    ] = None,
    replications: Annotated[int, typer.Option(help="Monte Carlo replications.", rich_help_panel=_SIM)] = 10_000,
    seed: Annotated[int, typer.Option(help="SeedSequence root.", rich_help_panel=_SIM)] = 0,
    threads: Annotated[int | None, typer.Option(help="numba threads (default: all cores).", rich_help_panel=_SIM)] = None,
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
        str, typer.Option(help="--simulator: dynamic (the profile's batcher), none, dynamic:MAX:TIMEOUT_US; "
                          "comma-separate for several.", rich_help_panel=_LAW)
    ] = "dynamic",
    arrival: Annotated[
        str, typer.Option(help="--simulator: poisson, gamma:CV, mmpp:RATIO[:BASE[:BURST]]; comma-separate for "
                          "several.", rich_help_panel=_LAW)
    ] = "poisson",
    reference_queries: Annotated[
        int, typer.Option(help="--simulator: length of the reference sample giving the true quantiles.",
                          rich_help_panel=_SIM)
    ] = 50_000_000,
    min_restore_replications: Annotated[
        int, typer.Option(help="--simulator: skip a restored run unless this many replications fit the budget.",
                          rich_help_panel=_SIM)
    ] = 150,
    tau_method: Annotated[
        str, typer.Option(help="queue / --simulator: pilot tau estimate the corrections use: acf, batch_means, max.",
                          rich_help_panel=_SIM)
    ] = "acf",
    workers: Annotated[
        int, typer.Option(help="--simulator: worker processes for replications (0 = all cores).", rich_help_panel=_SIM)
    ] = 0,
    arrival_shape: Annotated[
        float, typer.Option(help="queue: Gamma shape of inter-arrivals (1 = Poisson, <1 bursty).", rich_help_panel=_LAW)
    ] = 1.0,
    restore: Annotated[
        bool, typer.Option(help="queue: also simulate at the corrected count n*tau.", rich_help_panel=_SIM)
    ] = True,
    budget_queries: Annotated[
        float | None,
        typer.Option(help="queue / --simulator: cap on simulated queries of each restored run "
                     "(default 3e10 for the queue, 3e8 for the simulator).", rich_help_panel=_SIM),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write a Plotly HTML figure here.")] = None,
) -> None:
    """Monte Carlo coverage of the paper's margin, the percentile interval and early stopping.

    Each replication simulates one run at the official query count; the table gives the
    coverage, its Monte Carlo standard error and the exact i.i.d. value. For --law queue the
    latencies are autocorrelated GI/M/1 sojourn times, and the table adds the autocorrelation
    time, the corrected checks and the corrected query count. With --simulator PROFILE each
    replication is an independent simulated Server run (numba engine) and the true quantiles
    come from a long reference run; restored runs that do not fit --budget-queries with
    --min-restore-replications replications are skipped.

    Examples:

      simbench stats validate --law lognormal --replications 10000 --out lognormal.html

      simbench stats validate --law queue --utilization 0.3 --utilization 0.7 --replications 2000

      simbench stats validate --simulator a100 --utilization 0.3,0.5,0.7,0.9,0.95 --batching dynamic,none
      --arrival poisson,mmpp:5 --replications 1000   (latencies from the simulator itself)
    """
    import numba

    from simbench.stats import validate, validate_correlated

    if threads is not None:
        numba.set_num_threads(threads)
    p = _fraction_from_percent(percentile, "--percentile")
    conf = _check_confidence(confidence)
    console = _console()
    try:
        rhos = _utilizations(utilization)
        if simulator is not None:
            results, labels = _simulator_results(console, simulator, model, rhos, batching, arrival, p, conf, queries,
                                                 replications, seed, restore,
                                                 3e8 if budget_queries is None else budget_queries,
                                                 reference_queries, workers, min_restore_replications, tau_method)
            console.print(_correlated_table(results, labels))
            figure = _correlated_figure(results, labels) if out else None
        elif law is LawName.queue:
            results, labels = [], []
            for rho in rhos:
                queue = _build_law(law, median_ms, sigma, shape, mean_ms, trace, rho, arrival_shape)
                with console.status(f"simulating {queue!r} ..."):
                    results.append(
                        validate_correlated(queue, percentile=p, confidence=conf, query_count=queries,
                                            replications=replications, seed=seed, restore=restore,
                                            budget_queries=3e10 if budget_queries is None else budget_queries,
                                            tau_method=tau_method)
                    )
                arrivals = "Poisson" if arrival_shape == 1.0 else f"Gamma k={arrival_shape:g}"
                labels.append(f"{rho:g}, {arrivals}")
            console.print(_correlated_table(results, labels))
            figure = _correlated_figure(results, labels) if out else None
        else:
            chosen = _build_law(law, median_ms, sigma, shape, mean_ms, trace, 0.5, arrival_shape)
            with console.status(f"simulating {chosen!r} ..."):
                result = validate(chosen, percentile=p, confidence=conf, query_count=queries,
                                  replications=replications, seed=seed)
            console.print(_validation_table(result))
            figure = _validation_figure(result) if out else None
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    if out is not None:
        figure.write_html(out, include_plotlyjs="cdn")
        console.print(f"figure written to {out}")


def _utilizations(values: list[str] | None) -> list[float]:
    if not values:
        return [0.5]
    try:
        return [float(part) for value in values for part in value.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"--utilization: expected numbers in (0, 1), got {values}") from None


def _simulator_results(console, profile, model, rhos, batching, arrival, p, conf, queries, replications, seed,
                       restore, budget_queries, reference_queries, workers, min_restore, tau_method="acf"):
    from simbench.stats import validate_correlated
    from simbench.plan.coverage import SimulatorLaw

    results, labels = [], []
    for arrival_law in arrival.split(","):
        for policy in batching.split(","):
            for rho in rhos:
                law = SimulatorLaw(rho, batching=policy, arrival=arrival_law, profile=profile, model=model,
                                   reference_queries=reference_queries, workers=workers)
                with console.status(f"simulating {law!r} ..."):
                    ref = law.reference(p)
                    results.append(
                        validate_correlated(law, percentile=p, confidence=conf, query_count=queries,
                                            replications=replications, seed=seed, restore=restore,
                                            budget_queries=budget_queries, min_restore_replications=min_restore,
                                            skip_unaffordable=True, tau_method=tau_method)
                    )
                labels.append(f"{rho:g}, {policy}, {arrival_law}")
                console.print(
                    f"{law!r}: {law.target_qps:,.0f} QPS; reference {ref.queries:,} queries ({ref.runs} runs), "
                    f"p{p * 100:g} = {ref.quantile_ns / 1e6:.4f} ms, tau {ref.autocorrelation_time:.1f}, "
                    f"s.e. of F(reference) {ref.standard_error * 100:.4f} pt"
                )
    return results, labels


def _pct(value: float) -> str:
    return f"{value * 100:.2f}"


def _validation_table(result):
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title=f"{result.law}: {result.replications:,} runs x {result.query_count:,} queries, "
        f"p{result.percentile * 100:g}, c={result.confidence:g} "
        f"({result.elapsed_s:.1f} s on {result.threads} threads)"
    )
    for column in ("check", "event", "coverage %", "MC s.e. %", "exact i.i.d. %", "target %"):
        table.add_column(column, justify="left" if column in ("check", "event") else "right",
                         no_wrap=column == "check")
    for check in result.checks:
        table.add_row(check.check, escape(check.description), _pct(check.coverage), _pct(check.standard_error),
                      _pct(check.nominal), _pct(check.target))
    return table


def _correlated_table(results, labels):
    from rich.markup import escape
    from rich.table import Table

    first = results[0].official
    table = Table(
        title=f"Coverage under queueing correlation: p{first.percentile * 100:g}, c={first.confidence:g}, "
        f"n={first.query_count:,}, {first.replications:,} runs; (MC s.e.), \\[exact i.i.d.]"
    )
    columns = ("case: utilization, (batching,) arrivals", "tau (acf)", "tau (batch)", "tau (MC)",
               "margin % (i.i.d.)", "CI %", "ES %", "CI+ess %", "ES+ess %", "n*tau", "margin at n*tau %")
    for column in columns:
        table.add_column(column, justify="left" if column.startswith("case") else "right")
    for label, result in zip(labels, results):
        official = result.official

        def cell(name, validation=official):
            try:
                check = validation.check(name)
            except KeyError:
                return "-"
            return f"{_pct(check.coverage)} ({_pct(check.standard_error)})"

        restored = (
            f"{cell('margin', result.restored)} R={result.restored.replications:,}" if result.restored else "-"
        )
        restored = escape(restored)
        margin_iid = escape(f"{cell('margin')} [{_pct(official.check('margin').nominal)}]")
        table.add_row(
            label, f"{result.autocorrelation_time:.1f}", f"{result.batch_means_time:.1f}",
            f"{official.count_variance_ratio:.1f}", margin_iid, cell("percentile_ci"), cell("early_stopping"),
            cell("percentile_ci+ess"), cell("early_stopping+ess"), f"{result.corrected_query_count:,}", restored,
        )
    return table


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


def _correlated_figure(results, labels):
    import plotly.graph_objects as go

    figure = go.Figure()
    x = labels
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
def required_queries_command(
    trace: Annotated[Path, typer.Option(help="Trace Parquet file (simbench Trace schema).", exists=True, dir_okay=False)],
    percentile: Annotated[float, typer.Option(help="Tail percentile in percent.", rich_help_panel=_CLAIMS)] = 99.0,
    confidence: Annotated[float, typer.Option(help="Confidence as a fraction.", rich_help_panel=_CLAIMS)] = 0.99,
    margin: Annotated[
        float | None, typer.Option(help="Error margin in percent; default (100 - percentile)/20.", rich_help_panel=_CLAIMS)
    ] = None,
    method: Annotated[str, typer.Option(help="tau estimator: acf, batch_means or max.")] = "acf",
) -> None:
    """How many queries does this system need, given how correlated its latencies are?

    Query latency = max(complete_ns over the query's samples) - issue_ns, in issue order; the
    autocorrelation time tau of [latency <= p-th percentile] scales the paper's count.

    Example:

      simbench stats required-queries --trace simbench_results/run/Server/trace.parquet
    """
    from rich.table import Table

    from simbench.stats import required_queries
    from simbench.stats._trace_io import read_query_latencies

    p = _fraction_from_percent(percentile, "--percentile")
    conf = _check_confidence(confidence)
    try:
        latencies = read_query_latencies(trace)
        result = required_queries(latencies, p, confidence=conf,
                                  margin=None if margin is None else margin / 100.0, method=method)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    tau = result.autocorrelation
    table = Table(title=f"Required queries for {trace.name}: p{p * 100:g}, c={conf:g}, margin {result.margin * 100:.3f}%")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    rows = [
        ("queries in trace", f"{result.query_count:,}"),
        ("lag-1 autocorrelation of latency", f"{tau.latency_lag1_autocorrelation:.3f}"),
        ("tau, autocorrelation sum (window)", f"{tau.acf_time:.2f} ({tau.acf_window})"),
        ("tau, batch means (batch size)", f"{tau.batch_means_time:.2f} ({tau.batch_size:,})"),
        (f"tau used ({tau.method})", f"{tau.autocorrelation_time:.2f}"),
        ("effective sample size n/tau", f"{tau.effective_sample_count:,.0f}"),
        ("queries if independent (Eq. 2)", f"{result.iid_queries:,}"),
        ("queries this system needs", f"{result.required_queries:,}"),
        ("margin achieved by this trace", f"{result.achieved_margin * 100:.4f}%"),
        ("early-stopping minimum, independent / corrected",
         f"{result.early_stopping_iid_min_queries:,} / {result.early_stopping_required_queries:,}"),
        ("enough queries?", "yes" if result.sufficient else "NO"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    _console().print(table)
