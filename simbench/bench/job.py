"""``benchmark_job``: the library side of ``simbench benchmark`` (no terminal I/O here).

For each scenario it assembles the settings exactly as ``simbench simulate`` does
(LoadGen defaults < official mlperf.conf < ``--conf`` user.conf < flags; ``jobs.build_settings``),
builds the real SUT, runs it under the chosen engine -- simbench's ``LoadGenerator`` or the
official ``mlperf_loadgen`` -- and writes ``trace.parquet``, ``mlperf_log_summary.txt``,
``mlperf_log_detail.txt`` and ``summary.json`` per scenario with ``simbench.results`` (the
writer ``simbench simulate`` uses; plus LoadGen's own logs under ``loadgen/`` for the
mlcommons engine). A Ctrl-C writes the partial run first, then propagates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from simbench.errors import SimbenchInputError
from simbench.settings import Scenario, TestSettings, conf_sets

__all__ = ["BenchmarkOptions", "BenchmarkOutcome", "benchmark_job", "write_run", "ENGINES"]

ENGINES = ("simbench", "mlcommons")


@dataclass(frozen=True)
class BenchmarkOptions:
    """What ``simbench benchmark`` was asked to do (the CLI flags).

    ``model`` names the mlperf.conf entry whose official values apply (default
    ``resnet50``); ``sut`` is a ``make_sut`` spec. ``stall_timeout_s`` bounds how long a SUT
    may leave samples outstanding without completing any.
    """

    sut: str = "onnx:resnet50"
    model: str = "resnet50"
    scenarios: tuple[Scenario, ...] = (Scenario.Offline,)
    target_qps: float | None = None
    target_latency_ms: float | None = None
    min_duration_s: float | None = None
    min_query_count: int | None = None
    conf: str | None = None
    seed: int | None = None
    workers: int = 1
    threads: int = 0
    batching: str | None = None
    out: str | None = None
    engine: str = "simbench"
    stall_timeout_s: float = 60.0
    force: bool = False


@dataclass
class BenchmarkOutcome:
    """One scenario's result and where its files went."""

    scenario: Scenario
    run: Any  # BenchmarkRun
    settings: TestSettings
    out_dir: Path
    engine: str


def _settings(opts: BenchmarkOptions, scenario: Scenario) -> TestSettings:
    from simbench.jobs import SimulateOptions, build_settings, check_run_size, check_simulated_mode

    sim_like = SimulateOptions(
        target_qps=opts.target_qps,
        target_latency_ms=opts.target_latency_ms,
        min_duration_s=opts.min_duration_s,
        min_query_count=opts.min_query_count,
        seed=opts.seed,
        conf=opts.conf,
    )
    origins: dict[str, str] = {}
    settings = build_settings(opts.model, scenario, {}, sim_like, origins=origins)
    check_run_size(settings, origins)
    if opts.engine == "simbench":
        check_simulated_mode(
            settings, origins, runner="simbench's load generator (use --engine mlcommons for LoadGen's other modes)"
        )
    if scenario is Scenario.Server and opts.target_qps is None and not conf_sets(opts.conf, opts.model, "target_qps", "Server"):
        raise SimbenchInputError(
            "--target-qps: Server needs a target QPS (mlperf.conf's 1 QPS is a placeholder);"
            " measure Offline first and start near half its samples/s"
        )
    return settings


def build_sut(opts: BenchmarkOptions):
    """The SUT named by ``opts.sut`` with its workers/threads/batching."""
    from simbench.batching import parse_batching
    from simbench.bench.sut import make_sut

    return make_sut(opts.sut, threads=opts.threads, workers=opts.workers, batching=parse_batching(opts.batching))


def _check_workers(workers: int) -> None:
    from simbench.errors import SimbenchInputError
    from simbench.output import thread_limit

    limit, source = thread_limit()
    if not isinstance(workers, int) or workers < 1:
        raise SimbenchInputError(f"--workers: expected an integer >= 1, got {workers!r}")
    if limit is not None and workers > limit:
        raise SimbenchInputError(f"--workers {workers}: more threads than this machine allows ({limit:,}, {source})")


def benchmark_job(
    opts: BenchmarkOptions,
    *,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
    sut_factory: Callable[[], Any] | None = None,
) -> list[BenchmarkOutcome]:
    """Run ``simbench benchmark``: every requested scenario, files under ``opts.out``.

    Before any SUT is built, every scenario's settings, the output folder (creatable,
    writable, not holding results unless ``opts.force``), the disk space for the estimated
    traces and the memory of the largest scenario are checked. While a scenario runs, its
    completed samples are spilled to ``<Scenario>/trace.parts/`` every second; when it ends
    -- complete, failed or interrupted -- ``simbench.results.write_scenario`` writes its
    four files and removes the spill. Ctrl-C/SIGTERM end the current scenario
    cooperatively; further signals are deferred until its partial run is on disk.

    Parameters
    ----------
    opts : BenchmarkOptions
    on_event : callable, optional
        ``on_event(kind, info)`` with kinds ``'scenario_start'`` (``scenario``, ``settings``),
        ``'progress'`` (the ``LoadGenerator`` progress dict) and ``'scenario_done'``
        (``outcome``).
    sut_factory : callable, optional
        ``sut_factory() -> SUT``, called once per scenario, in place of ``opts.sut`` (e.g. a
        ``CallableSUT`` from the Python API); ``opts.sut`` is then only recorded.

    Returns
    -------
    list of BenchmarkOutcome

    Raises
    ------
    SimbenchInputError, ConfError
        Bad flags or conf (messages name the flag/field).
        ``engine='mlcommons'`` without the ``mlcommons-loadgen`` package is an input error
        too, whose message gives the install command.
    OutputError
        The output folder is unusable or too small, or the disk filled while writing.
    BenchmarkInterrupted
        Ctrl-C/SIGTERM; the partial run of the current scenario is written before it
        propagates.
    """
    from simbench.bench.loadgen import BenchmarkInterrupted, LoadGenerator
    from simbench.errors import SimbenchInputError
    from simbench.interrupt import guard
    from simbench.output import check_fits, prepare_out_dir
    from simbench.results import estimate_scenario, knobs_for
    from simbench.settings import resolve
    from simbench.sim import dataset_size
    from simbench.trace import PARTS_DIR

    if opts.engine not in ENGINES:
        raise SimbenchInputError(f"--engine: expected one of {', '.join(ENGINES)}, got {opts.engine!r}")
    if opts.engine == "mlcommons":
        from simbench.bench.mlcommons import require_loadgen

        require_loadgen()  # MissingExtraError names pip install 'simbench[mlcommons]'
    _check_workers(opts.workers)
    emit = on_event or (lambda kind, info: None)
    all_settings = [(sc, _settings(opts, sc)) for sc in opts.scenarios]  # validate all first
    # Build the SUT and let it load (an ONNX file parsed, an HTTP endpoint's metadata
    # fetched) before any scenario runs, so a bad --sut is one clear error, not a failed run.
    first_sut = sut_factory() if sut_factory is not None else build_sut(opts)
    first_sut.load_samples([])
    folder = prepare_out_dir(opts.out, subdirs=[sc.value for sc, _ in all_settings], force=opts.force, default_prefix="bench-")
    estimates = []
    for sc, settings in all_settings:
        perf_count = settings.performance_sample_count_override or 1024
        eff = resolve(settings, dataset_size(opts.model, perf_count), perf_count)
        estimates.append(
            estimate_scenario(
                eff,
                kind="mlcommons" if opts.engine == "mlcommons" else "real",
                knobs=knobs_for(sc, conf=bool(opts.conf)),
                workers=opts.workers,
            )
        )
    check_fits(folder, estimates)
    outcomes: list[BenchmarkOutcome] = []
    with guard() as g:
        for scenario, settings in all_settings:
            g.raise_if_stopped()
            sut, first_sut = (first_sut if first_sut is not None else (sut_factory() if sut_factory is not None else build_sut(opts))), None
            perf_count = settings.performance_sample_count_override or 1024
            total = dataset_size(opts.model, perf_count)
            out_dir = folder.root / scenario.value
            emit("scenario_start", {"scenario": scenario.value, "settings": settings})
            meta = {"model_conf": opts.model, "sut_spec": opts.sut, "command_options": _opts_meta(opts)}
            interrupted = False
            from simbench.bench.power import PowerSampler

            sampler = PowerSampler.start()  # measured power where the machine exposes it, else None
            try:
                if opts.engine == "simbench":
                    run = LoadGenerator(
                        sut,
                        settings,
                        qsl_total_count=total,
                        qsl_performance_count=perf_count,
                        stall_timeout_s=opts.stall_timeout_s,
                        on_progress=lambda info: emit("progress", info),
                        metadata=meta,
                        spill_dir=out_dir / PARTS_DIR,
                    ).run()
                else:
                    from simbench.bench.mlcommons import run_mlcommons

                    run = run_mlcommons(
                        sut,
                        settings,
                        qsl_total_count=total,
                        qsl_performance_count=perf_count,
                        log_dir=out_dir / "loadgen",
                        metadata=meta,
                        stall_timeout_s=opts.stall_timeout_s,
                        on_progress=lambda info: emit("progress", info),
                        spill_dir=out_dir / PARTS_DIR,
                    )
            except BenchmarkInterrupted as exc:
                run, interrupted = exc.run, True
            finally:
                timeline = sampler.stop() if sampler is not None else None
            if timeline is not None and run.summary is not None and len(run.trace):
                from simbench.summary import device_power_stats

                run.summary.extra["device_power"] = device_power_stats(timeline, len(run.trace))
            with g.protected():  # further signals wait until the run is on disk
                write_run(run, out_dir)
                from simbench.jobs import _write_device_timeline

                _write_device_timeline(folder, scenario.value, timeline)
            outcome = BenchmarkOutcome(scenario, run, settings, out_dir, opts.engine)
            if not interrupted:
                outcomes.append(outcome)
            emit("scenario_done", {"outcome": outcome})
            if run.summary_error is not None:
                raise run.summary_error
            if interrupted:
                raise BenchmarkInterrupted(run)
    return outcomes


def _opts_meta(opts: BenchmarkOptions) -> dict[str, Any]:
    import dataclasses

    d = dataclasses.asdict(opts)
    d["scenarios"] = [s.value for s in opts.scenarios]
    return d


def lag_stats(run) -> dict[str, int | None]:
    """Issue lag (``issued_ns - issue_ns``) percentiles in ns, LoadGen's index rule."""
    from simbench.stats import loadgen_percentile

    lag = run.issue_lag_ns()
    if lag.size == 0:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    return {
        "p50": int(loadgen_percentile(lag, 0.50)),
        "p90": int(loadgen_percentile(lag, 0.90)),
        "p99": int(loadgen_percentile(lag, 0.99)),
        "max": int(np.max(lag)),
    }


def write_run(run, out_dir: str | Path) -> Path:
    """Write a run's ``trace.parquet``, ``mlperf_log_summary.txt``, ``mlperf_log_detail.txt``
    and ``summary.json`` into ``out_dir`` (``simbench.results.write_scenario``, the writer
    ``simbench simulate`` uses too).

    A run with no completed sample gets an empty trace, a summary saying why, and a
    ``summary.json`` with its status and errors.

    Raises
    ------
    OutputError
        A file could not be written; the message names ``--out`` (``out_dir``'s parent),
        the folder and the file. Whatever could be written was.
    """
    from simbench.output import OutputFolder
    from simbench.results import summary_payload, write_scenario

    d = Path(out_dir)
    extra = {
        "issued_query_count": run.issued_queries,
        "outstanding_samples": run.outstanding_samples,
        "issue_lag_ns": lag_stats(run),
        **run.extra,
    }
    payload = summary_payload(run.summary, run.trace, wall_s=run.wall_s, extra=extra)
    return write_scenario(OutputFolder(d.parent), d.name, run.trace, run.summary, settings=run.settings, payload=payload)


def summarize_trace_file(path: str | Path):
    """Recompute a run's Summary from its ``trace.parquet`` alone.

    The effective settings, SUT name and run errors travel in the Trace's metadata, so the
    result equals the Summary printed when the run was made.

    Raises
    ------
    TraceError
        The file is missing/malformed or carries no ``effective_settings`` metadata.
    """
    from simbench.errors import TraceError
    from simbench.settings import EffectiveSettings
    from simbench.summary import summarize
    from simbench.trace import read_trace

    trace = read_trace(path)
    meta = trace.metadata
    key = "simbench.run"
    eff_d = meta.get("effective_settings")
    if not eff_d:
        raise TraceError(f"{path}: no 'effective_settings' in the trace metadata ({key!r}); cannot summarise")
    try:
        eff = EffectiveSettings.from_dict(eff_d)
    except ValueError as exc:
        raise TraceError(f"{path}: metadata {key!r} effective_settings: {exc}") from None
    errors_meta = meta.get("errors") or ()
    if not isinstance(errors_meta, (list, tuple)) or not all(isinstance(e, str) for e in errors_meta):
        raise TraceError(f"{path}: metadata {key!r} errors: expected a list of strings, got {errors_meta!r:.80}")
    sut_meta = meta.get("sut")
    if sut_meta is not None and not isinstance(sut_meta, dict):
        raise TraceError(f"{path}: metadata {key!r} sut: expected a JSON object, got {type(sut_meta).__name__}")
    name = str(meta.get("sut_name") or (sut_meta or {}).get("name") or "simbench")
    errors = tuple(meta.get("errors") or ())
    warnings_meta = meta.get("warnings") or ()
    if not isinstance(warnings_meta, (list, tuple)) or not all(isinstance(w, str) for w in warnings_meta):
        raise TraceError(f"{path}: metadata {key!r} warnings: expected a list of strings, got {warnings_meta!r:.80}")
    if meta.get("ran_out_of_queries") and not errors:
        from simbench.bench.loadgen import RAN_OUT_MESSAGE

        errors = (RAN_OUT_MESSAGE,)
    return summarize(trace, eff, sut_name=name, errors=errors, warnings=tuple(warnings_meta))
