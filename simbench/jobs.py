"""End-to-end jobs behind the CLI commands (library code: no terminal I/O here).

``simulate_job`` is ``simbench simulate``: for each scenario it assembles the settings
(LoadGen defaults < official mlperf.conf < the profile's harness settings < ``--conf``
user.conf < command-line flags), builds the simulated SUT from the profile, finds the peak
Server QPS when none is given, runs the simulation, computes the Summary and writes
``trace.parquet``, ``mlperf_log_summary.txt``, ``mlperf_log_detail.txt`` and ``summary.json``
per scenario (``simbench.results.write_scenario``, the writer ``simbench benchmark`` uses too).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from simbench.errors import SimbenchInputError
from simbench.batching import parse_batching
from simbench.profiles import load_profile
from simbench.settings import (
    ConfEntry,
    Scenario,
    TestMode,
    TestSettings,
    apply_conf,
    describe_origin,
    conf_sets,
    official_conf_entries,
    parse_conf,
    read_conf,
)

__all__ = ["SimulateOptions", "ScenarioOutcome", "simulate_job", "parse_batching", "build_settings", "peak_metadata"]


@dataclass(frozen=True)
class SimulateOptions:
    """What ``simbench simulate`` was asked to do (the CLI flags, validated)."""

    profile: str = "a100"
    model: str | None = None
    scenarios: tuple[Scenario, ...] = tuple(Scenario)
    target_qps: float | None = None
    target_latency_ms: float | None = None
    min_duration_s: float | None = None
    min_query_count: int | None = None
    batching: str | None = None
    replicas: int | None = None
    seed: int | None = None
    conf: str | None = None
    engine: str = "auto"
    out: str | None = None
    peak_criterion: str = "valid"
    arrival: str | None = None
    force: bool = False
    governor: str | None = None
    power_cap_w: float | None = None
    ambient_c: float | None = None
    routing: str | None = None


@dataclass
class ScenarioOutcome:
    """One scenario's result: summary, files written, and the peak search if one ran."""

    scenario: Scenario
    summary: Any
    settings: TestSettings
    out_dir: Path | None
    engine: str
    wall_s: float
    peak: Any = None


MAX_REPLICAS = 4096
"""Upper bound of ``--replicas``, the same as the profile schema's ``replicas`` field."""


def _flag_conf(opts: SimulateOptions) -> list[tuple[str, str]]:
    """The command-line flags as ``(flag, conf line)`` pairs, so they follow the conf's
    per-scenario mapping and an error names the flag."""
    lines = []
    if opts.target_qps is not None:
        lines.append(("--target-qps", f"*.*.target_qps = {opts.target_qps!r}"))
    if opts.target_latency_ms is not None:
        lines.append(("--target-latency-ms", f"*.*.target_latency = {opts.target_latency_ms!r}"))
    if opts.min_duration_s is not None:
        lines.append(("--min-duration-s", f"*.*.min_duration = {int(round(opts.min_duration_s * 1000))}"))
    if opts.min_query_count is not None:
        lines.append(("--min-query-count", f"*.*.min_query_count = {int(opts.min_query_count)}"))
    return lines


def _seed_overrides(seed: int | None) -> tuple[dict[str, int], int]:
    if seed is None:
        return {}, 0
    if seed < 0:
        raise SimbenchInputError(f"--seed: expected an integer >= 0, got {seed}")
    state = np.random.SeedSequence(seed).generate_state(3, dtype=np.uint64)
    return (
        {
            "qsl_rng_seed": int(state[0]),
            "sample_index_rng_seed": int(state[1]),
            "schedule_rng_seed": int(state[2]),
        },
        int(seed),
    )


def build_settings(
    model: str,
    scenario: Scenario,
    harness_settings: dict[str, float],
    opts: SimulateOptions,
    harness_origin: str = "profile harness settings",
    origins: dict[str, str] | None = None,
) -> TestSettings:
    """Settings for one scenario, in the documented precedence order (see module doc).

    ``origins``, when given, is filled with ``TestSettings`` field name -> where the user set
    it (``user.conf:3: key *.*.min_duration``, ``--min-duration-s``, the profile), so a
    later check can blame the setting at fault. Official mlperf.conf values are not listed.
    """
    found: dict[str, str] = {}
    official = official_conf_entries()
    settings = apply_conf(TestSettings(), official, model, scenario, official=True)
    if harness_settings:
        names = {f.name: f for f in dataclasses.fields(TestSettings)}
        upd: dict[str, Any] = {}
        for k, v in harness_settings.items():
            if k not in names:
                raise SimbenchInputError(f"{harness_origin}.{k}: not a TestSettings field")
            upd[k] = int(v) if names[k].type in ("int", int) else float(v)
        try:
            settings = dataclasses.replace(settings, **upd)
        except ValueError as exc:
            raise SimbenchInputError(f"{harness_origin}: {exc}") from None
        found.update({k: f"{harness_origin}.{k}" for k in upd})
    if opts.conf:
        conf_origins: dict[str, ConfEntry] = {}
        settings = apply_conf(settings, read_conf(opts.conf), model, scenario, origins=conf_origins)
        found.update({k: describe_origin(e) for k, e in conf_origins.items()})
    for flag, line in _flag_conf(opts):
        settings = apply_conf(settings, parse_conf(line, flag), model, scenario)
        found.update({k: flag for k in _FLAG_FIELDS[flag]})
    seeds, _ = _seed_overrides(opts.seed)
    if seeds:
        settings = dataclasses.replace(settings, **seeds)
        found.update({k: "--seed" for k in seeds})
    if origins is not None:
        origins.update(found)
    return settings


_FLAG_FIELDS = {
    "--target-qps": ("server_target_qps", "offline_expected_qps"),
    "--target-latency-ms": ("server_target_latency_ns", "single_stream_expected_latency_ns", "multi_stream_expected_latency_ns"),
    "--min-duration-s": ("min_duration_ms",),
    "--min-query-count": ("min_query_count",),
}


def check_run_size(settings: TestSettings, origins: dict[str, str]) -> None:
    """Refuse, before any work, settings whose schedule would not fit in memory.

    The run generates about ``min_duration_s * target_qps`` queries (Server; SingleStream
    and MultiStream use ``1e9 / expected_latency_ns`` as the rate; Offline issues
    ``1.1 * min_duration_s * offline_expected_qps`` samples in one query, as ``resolve``
    sizes it) and at least ``min_query_count``; each query costs tens of bytes per trace
    column, so more than ``simbench.arrivals.MAX_SCHEDULE_SIZE`` is refused.

    Raises
    ------
    SimbenchInputError
        Naming the setting at fault and where it was set (``user.conf:1: key
        *.*.min_duration``, a flag, the profile): ``min_duration`` when it is longer than
        the official 600 s or the rate was not set by the user, else the rate.
    """
    from simbench.arrivals import MAX_SCHEDULE_SIZE

    s = settings
    rate_field = {
        Scenario.Server: "server_target_qps",
        Scenario.Offline: "offline_expected_qps",
        Scenario.SingleStream: "single_stream_expected_latency_ns",
        Scenario.MultiStream: "multi_stream_expected_latency_ns",
    }[s.scenario]
    rate = getattr(s, rate_field)
    qps = 1e9 / rate if rate_field.endswith("_ns") else rate
    spq = s.multi_stream_samples_per_query if s.scenario is Scenario.MultiStream else 1
    factor = 1.1 if s.scenario is Scenario.Offline else 1.0
    by_duration = factor * s.min_duration_ms / 1000.0 * qps * spq
    by_count = float(s.min_query_count) * spq
    if max(by_duration, by_count) <= MAX_SCHEDULE_SIZE:
        return

    def named(field: str) -> str:
        where = origins.get(field)
        return f"{where} ({field})" if where else f"{field} (official mlperf.conf value)"

    limit = f"more than the {MAX_SCHEDULE_SIZE:,} one run can hold in memory"
    if by_count >= by_duration:
        raise SimbenchInputError(
            f"{named('min_query_count')}: min_query_count = {s.min_query_count:,} would generate"
            f" {by_count:,.0f} samples, {limit}; lower it"
        )
    rate_txt = f"{qps:,.6g} QPS" if not rate_field.endswith("_ns") else f"{rate:,} ns expected latency"
    if s.min_duration_ms > 600_000 or rate_field not in origins:
        raise SimbenchInputError(
            f"{named('min_duration_ms')}: min_duration = {s.min_duration_ms:,} ms at {rate_txt}"
            f" would generate {by_duration:,.0f} samples, {limit}; lower min_duration"
        )
    raise SimbenchInputError(
        f"{named(rate_field)}: {rate_txt} over min_duration {s.min_duration_ms:,} ms would"
        f" generate {by_duration:,.0f} samples, {limit}; lower the rate or min_duration"
    )


def check_simulated_mode(settings: TestSettings, origins: dict[str, str], runner: str = "simbench simulate") -> None:
    """The simulator (and simbench's own load generator) run PerformanceOnly; refuse the
    modes they do not implement.

    Raises
    ------
    SimbenchInputError
        ``mode`` other than PerformanceOnly (2), naming where it was set.
    """
    if settings.mode is TestMode.PerformanceOnly:
        return
    where = origins.get("mode", "mode")
    raise SimbenchInputError(
        f"{where}: mode {int(settings.mode)} ({settings.mode.name}) is not implemented by"
        f" {runner}, which runs PerformanceOnly (mode 2) only; remove the line or set it to 2"
    )


def simulate_job(
    opts: SimulateOptions,
    *,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
) -> list[ScenarioOutcome]:
    """Run ``simbench simulate``: every requested scenario, files written under ``opts.out``.

    Everything is checked before the first scenario runs: the profile, model, flags and
    conf of every scenario; the output folder (creatable, writable, not holding results
    unless ``opts.force``); the disk space for the estimated traces and the memory of the
    largest scenario (``simbench.output.check_fits``). Each scenario's files are written by
    ``simbench.results.write_scenario`` as soon as it finishes. Ctrl-C/SIGTERM
    (``simbench.interrupt``) stop the run between or inside scenarios; finished scenarios
    are on disk, and no file is ever left truncated.

    ``on_event(kind, info)`` receives progress events: ``('scenario_start', {...})``,
    ``('peak_probe', {...})``, ``('scenario_done', {...})``.

    Raises
    ------
    ProfileError, ConfError, SimbenchInputError
        Bad profile, conf or flags (messages name the file/flag and field).
    OutputError
        The output folder is unusable, too small, or the disk filled while writing.
    KeyboardInterrupt
        Ctrl-C or SIGTERM, after the finished scenarios were written.
    """
    import time

    from simbench.interrupt import guard
    from simbench.output import check_fits, prepare_out_dir
    from simbench.results import estimate_scenario, knobs_for, summary_payload, write_scenario
    from simbench.settings import resolve
    from simbench.sim import dataset_size, simulate, sut_from_profile
    from simbench.plan.peak import capacity_qps, find_peak_qps, kept_arrivals
    from simbench.summary import summarize

    emit = on_event or (lambda kind, info: None)
    profile = load_profile(opts.profile)
    model = opts.model or profile.default_model
    if model not in profile.models:
        raise SimbenchInputError(
            f"--model: profile {profile.name!r} has no model {model!r}; it has "
            + ", ".join(profile.models)
        )
    batching = parse_batching(opts.batching) if opts.batching else None
    from simbench.arrivals import parse_arrivals

    arrivals = parse_arrivals(opts.arrival) if opts.arrival else None
    governor = governor_from_options(opts)
    opts = with_fixed_rate(opts, arrivals)
    if opts.replicas is not None and not 1 <= opts.replicas <= MAX_REPLICAS:
        raise SimbenchInputError(f"--replicas: expected 1..{MAX_REPLICAS} (the profile schema's bound), got {opts.replicas}")
    _, service_seed = _seed_overrides(opts.seed)
    mp = profile.models[model]
    plans = []
    for scenario in opts.scenarios:  # validate every scenario before running any
        harness = mp.scenarios.get(scenario.value)
        origins: dict[str, str] = {}
        settings = build_settings(
            model,
            scenario,
            dict(harness.settings) if harness else {},
            opts,
            harness_origin=f"profile {opts.profile}: models.{model}.scenarios.{scenario.value}.settings",
            origins=origins,
        )
        check_simulated_mode(settings, origins)
        check_run_size(settings, origins)
        try:
            sut = sut_from_profile(
                profile, model, scenario, batching=batching, replicas=opts.replicas,
                governor=governor, ambient_c=opts.ambient_c,
            )
        except ValueError as exc:
            raise SimbenchInputError(f"profile {opts.profile}: {exc}") from None
        if opts.routing is not None and scenario is Scenario.Server:
            import dataclasses as _dc

            sut = _dc.replace(sut, routing=opts.routing)  # per-device queues: the Server scenario only
        search = scenario is Scenario.Server and opts.target_qps is None and not conf_sets(opts.conf, model, "target_qps", "Server")
        plans.append((scenario, settings, sut, search))
    folder = prepare_out_dir(opts.out, subdirs=[p[0].value for p in plans], force=opts.force)

    def estimate(scenario, settings, sut):
        perf_count = settings.performance_sample_count_override or 1024
        eff = resolve(settings, dataset_size(model, perf_count), perf_count)
        return estimate_scenario(
            eff,
            kind="simulated",
            knobs=knobs_for(scenario, conf=bool(opts.conf)),
            replicas=sut.replicas,
            engine=opts.engine,
        )

    estimates = []
    for scenario, settings, sut, search in plans:
        if search:  # the search never settles above the SUT's saturation throughput
            settings = dataclasses.replace(settings, server_target_qps=1.25 * capacity_qps(sut))
        estimates.append(estimate(scenario, settings, sut))
    check_fits(folder, estimates)
    outcomes: list[ScenarioOutcome] = []
    with guard() as g:
        for scenario, settings, sut, search in plans:
            t0 = time.perf_counter()
            emit("scenario_start", {"scenario": scenario.value, "settings": settings})
            peak = None
            if search:
                peak = find_peak_qps(
                    settings,
                    sut,
                    service_seed=service_seed,
                    criterion=opts.peak_criterion,
                    on_probe=lambda p: emit("peak_probe", {"probe": p}),
                    arrivals=arrivals,
                )
                settings = dataclasses.replace(settings, server_target_qps=peak.peak_qps)
                check_fits(folder, [estimate(scenario, settings, sut)])
            run_arrivals = kept_arrivals(settings, arrivals) if peak is not None else arrivals
            perf_count = settings.performance_sample_count_override or 1024
            run = simulate(
                settings,
                sut,
                engine=opts.engine,
                service_seed=service_seed,
                qsl_total_count=dataset_size(model, perf_count),
                qsl_performance_count=perf_count,
                metadata={
                    "profile": profile.name,
                    "device": profile.device,
                    "model": model,
                    "peak_search": peak_metadata(peak),
                },
                arrivals=run_arrivals,
            )
            errors: tuple[str, ...] = ()
            if run.ran_out_of_queries:
                errors = (
                    "Ending early: Ran out of generated queries to issue before the minimum query"
                    " count and test duration were reached. Please update the relevant expected"
                    " latency or target qps in the TestSettings so they are more accurate.",
                )
            run.trace.metadata["errors"] = list(errors)
            summary_error = None
            try:
                summary = summarize(run.trace, run.effective, sut_name=sut.name, errors=errors, timeline=run.timeline)
            except Exception as exc:  # noqa: BLE001 - a bug here must not cost the trace: write, then raise
                summary, summary_error = None, exc
            wall = time.perf_counter() - t0
            payload = summary_payload(
                summary,
                run.trace,
                wall_s=wall,
                extra={
                    "peak_search": peak_metadata(peak), "profile": profile.name, "model": model,
                    "governor": sut.governor.describe() if sut.governor is not None else None,
                },
            )
            with g.protected():  # a signal now waits until the files are on disk
                out_dir = write_scenario(folder, scenario.value, run.trace, summary, settings=settings, payload=payload)
                _write_device_timeline(folder, scenario.value, run.timeline)
            if summary_error is not None:
                raise summary_error
            outcome = ScenarioOutcome(scenario, summary, settings, out_dir, run.engine, wall, peak)
            outcomes.append(outcome)
            emit("scenario_done", {"outcome": outcome})
            del run
            g.raise_if_stopped()
    return outcomes


def _write_device_timeline(folder, subdir: str, timeline) -> None:
    """Write ``subdir/device_timeline.parquet``, or remove a stale one a ``--force``d earlier run
    left (this run has no device model), so a folder never mixes two runs."""
    from simbench.timeline import write_timeline

    rel = f"{subdir}/device_timeline.parquet"
    if timeline is None:
        (folder.root / rel).unlink(missing_ok=True)
        return
    with folder.writing(rel) as tmp:
        write_timeline(timeline, tmp)


def governor_from_options(opts: SimulateOptions):
    """The ``GovernorSpec`` asked for by ``--governor`` / ``--power-cap-w`` (None: fixed clock).

    Raises
    ------
    SimbenchInputError
        Both flags given, a bad spec, a cap <= 0, or ``--ambient-c`` without a governor (the
        temperature is modelled at governor ticks, so it would be ignored).
    """
    from simbench.sim.governors import parse_governor

    if opts.governor is not None and opts.power_cap_w is not None:
        raise SimbenchInputError("--power-cap-w W is shorthand for --governor power_cap:W; give one of them")
    try:
        if opts.power_cap_w is not None:
            if not opts.power_cap_w > 0:
                raise SimbenchInputError(f"--power-cap-w: expected > 0 W, got {opts.power_cap_w:g}")
            gov = parse_governor(f"power_cap:{opts.power_cap_w!r}", flag="--power-cap-w")
        elif opts.governor is not None:
            gov = parse_governor(opts.governor)
        else:
            gov = None
    except ValueError as exc:
        raise SimbenchInputError(str(exc)) from None
    if opts.ambient_c is not None and gov is None:
        raise SimbenchInputError(
            "--ambient-c: needs --governor (the device temperature is modelled at governor ticks),"
            " e.g. --governor thermal --ambient-c 40"
        )
    return gov


def with_fixed_rate(opts, arrivals):
    """Options with ``target_qps`` set to the mean rate an arrival law fixes
    (``trace:NAME@RATE`` / ``@native``), which then applies to Server only.

    Raises
    ------
    SimbenchInputError
        ``--target-qps`` disagreeing with that rate, or scenarios other than Server.
    """
    fixed = getattr(arrivals, "fixed_rate_qps", None)
    if fixed is None:
        return opts
    if opts.target_qps is not None and not math.isclose(opts.target_qps, fixed, rel_tol=1e-9):
        raise SimbenchInputError(
            f"--arrival {opts.arrival}: fixes the mean rate at {fixed:g} QPS but --target-qps is"
            f" {opts.target_qps:g}; drop one (trace:NAME without @ follows --target-qps)"
        )
    if any(s is not Scenario.Server for s in opts.scenarios):
        raise SimbenchInputError(
            f"--arrival {opts.arrival}: a fixed-rate trace applies to Server only; add --scenario Server"
        )
    return dataclasses.replace(opts, target_qps=float(fixed))


def peak_metadata(peak) -> dict[str, Any] | None:
    if peak is None:
        return None
    return {
        "peak_qps": peak.peak_qps,
        "criterion": peak.criterion,
        "probes": [dataclasses.asdict(p) for p in peak.probes],
    }
