"""``RunSpec``: one simulated run, described in plain picklable values, and running it.

A ``RunSpec`` names everything a run needs — profile (shipped name or YAML path), model,
scenario, the TestSettings flags and overrides, batching, replicas, arrival law, governor,
seed — as strings and numbers, so it crosses process and cluster boundaries unchanged and
is turned into settings and a simulated SUT on whichever worker runs it (``prepare``).
``run_point`` simulates it (searching the peak Server QPS first when no target QPS is set,
as ``simbench simulate`` does) and returns a ``PointResult`` with the Summary and a flat
row of metrics, the unit of every sweep table.

Parameters a sweep may vary are listed in ``PARAMETERS``; any ``TestSettings`` field name
is accepted too (e.g. ``server_target_latency_percentile``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

from simbench.errors import SimbenchInputError

__all__ = ["RunSpec", "Prepared", "PointResult", "PARAMETERS", "prepare", "run_point", "parameter_names", "summary_row"]

# name -> (type, what it sets)
PARAMETERS: dict[str, tuple[type, str]] = {
    "profile": (str, "hardware profile: shipped name or YAML path"),
    "model": (str, "model in the profile"),
    "target_qps": (float, "Server: server_target_qps; Offline: offline_expected_qps (queries/s)"),
    "target_latency_ms": (float, "Server latency bound (ms)"),
    "min_duration_s": (float, "min_duration (s)"),
    "min_query_count": (int, "min_query_count"),
    "batching": (str, "'none' or 'dynamic:MAX_BATCH[:TIMEOUT_US]'"),
    "batching.max_batch": (int, "dynamic batching: largest batch"),
    "batching.timeout_us": (float, "dynamic batching: longest wait of the oldest queued sample (us)"),
    "replicas": (int, "devices behind the queue"),
    "arrival": (str, "Server arrival law (see simbench simulate --arrival)"),
    "governor": (str, "device clock governor (the device model's spec string)"),
    "routing": (str, "queue layout: shared (one queue), jsq or round-robin (per-device queues; Server)"),
    "seed": (int, "derive every seed from this integer"),
}

_SPEC_FIELD = {
    "batching.max_batch": "max_batch",
    "batching.timeout_us": "timeout_us",
}


def parameter_names() -> list[str]:
    """Every name ``RunSpec.with_param`` accepts: ``PARAMETERS`` and the TestSettings fields."""
    from simbench.settings import TestSettings

    return list(PARAMETERS) + [f.name for f in dataclasses.fields(TestSettings) if f.name not in ("scenario", "mode")]


def _convert(name: str, kind: type, value: Any) -> Any:
    if value is None:
        return None
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.strip().lower() in ("1", "true", "yes"):
                    return True
                if value.strip().lower() in ("0", "false", "no"):
                    return False
                raise ValueError
            return bool(value)
        if kind is int:
            f = float(value)
            if not f.is_integer():
                raise ValueError
            return int(f)
        if kind is float:
            f = float(value)
            if not math.isfinite(f):
                raise ValueError
            return f
        return str(value)
    except (TypeError, ValueError):
        raise SimbenchInputError(f"{name}: expected {kind.__name__}, got {value!r}") from None


@dataclass(frozen=True)
class RunSpec:
    """One simulated run, in picklable plain values.

    Attributes
    ----------
    profile : str
        Shipped profile name (``'a100'``) or a profile YAML path (read on the worker).
    model : str or None
        Model in the profile; default its first.
    scenario : str
        ``'Server'`` (default), ``'Offline'``, ``'SingleStream'`` or ``'MultiStream'``.
    target_qps, target_latency_ms, min_duration_s, min_query_count, conf, seed
        As ``simbench simulate``'s flags (None: the official value / the profile's).
    batching : str or None
        ``'none'`` or ``'dynamic:MAX_BATCH[:TIMEOUT_US]'``; default the profile's.
    max_batch, timeout_us : int, float or None
        Override one field of the chosen dynamic batching.
    replicas : int or None
        Devices sharing the queue; default the profile's.
    arrival : str or None
        Server arrival law (``simbench.arrivals.parse_arrivals``); default Poisson.
    governor : str or None
        Device clock governor spec, passed to the device model when it takes one.
    routing : str or None
        Queue layout (``SimulatedSUT.routing``): ``shared`` (default), ``jsq`` or
        ``round-robin`` (per-device queues, Server only).
    overrides : tuple of (str, value)
        ``TestSettings`` field overrides applied last.
    find_peak : bool or None
        Server: search the peak QPS first (LoadGen's FindPeakPerformance). None: search when
        no target QPS is set, as ``simbench simulate`` does.
    peak_criterion : {'valid', 'loadgen'}
    engine : {'auto', 'simpy', 'numba'}
    """

    profile: str = "a100"
    model: str | None = None
    scenario: str = "Server"
    target_qps: float | None = None
    target_latency_ms: float | None = None
    min_duration_s: float | None = None
    min_query_count: int | None = None
    conf: str | None = None
    batching: str | None = None
    max_batch: int | None = None
    timeout_us: float | None = None
    replicas: int | None = None
    arrival: str | None = None
    governor: str | None = None
    routing: str | None = None
    seed: int | None = None
    overrides: tuple[tuple[str, Any], ...] = ()
    find_peak: bool | None = None
    peak_criterion: str = "valid"
    engine: str = "auto"

    def with_param(self, name: str, value: Any) -> "RunSpec":
        """A copy with one parameter set (a ``PARAMETERS`` name or a TestSettings field).

        Raises
        ------
        SimbenchInputError
            Unknown name (the message lists the accepted ones) or a value of the wrong type.
        """
        from simbench.settings import TestSettings

        if name in PARAMETERS:
            kind = PARAMETERS[name][0]
            return dataclasses.replace(self, **{_SPEC_FIELD.get(name, name): _convert(name, kind, value)})
        fields = {f.name: f for f in dataclasses.fields(TestSettings)}
        if name in fields and name not in ("scenario", "mode"):
            t = fields[name].type
            kind = {"int": int, "float": float, "bool": bool}.get(t if isinstance(t, str) else t.__name__, str)
            kept = tuple((k, v) for k, v in self.overrides if k != name)
            return dataclasses.replace(self, overrides=kept + ((name, _convert(name, kind, value)),))
        raise SimbenchInputError(
            f"{name}: not a sweepable parameter; expected one of {', '.join(PARAMETERS)} or a"
            " TestSettings field (e.g. server_target_latency_percentile, min_duration_ms)"
        )

    def describe(self) -> dict[str, Any]:
        """The non-default fields, for tables and logs."""
        base = RunSpec()
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) != getattr(base, f.name)}


@dataclass
class Prepared:
    """A ``RunSpec`` made concrete on a worker: settings, SUT, arrival law, seeds."""

    spec: RunSpec
    profile: Any
    model: str
    settings: Any
    sut: Any
    arrivals: Any
    service_seed: int
    find_peak: bool


_PROFILES: dict[str, Any] = {}


def _profile(name: str):
    from simbench.profiles import load_profile

    if name not in _PROFILES:
        _PROFILES[name] = load_profile(name)
    return _PROFILES[name]


def _supports_governor() -> bool:
    import inspect

    from simbench.sim import sut_from_profile

    return "governor" in inspect.signature(sut_from_profile).parameters


def prepare(spec: RunSpec) -> Prepared:
    """Turn a ``RunSpec`` into settings and a simulated SUT, checking everything first.

    Raises
    ------
    SimbenchInputError, ProfileError, ConfError, ValueError
        Bad profile, model, settings, batching, arrival law or governor; the message names
        the parameter.
    """
    from simbench.arrivals import parse_arrivals
    from simbench.jobs import (
        MAX_REPLICAS,
        SimulateOptions,
        _seed_overrides,
        build_settings,
        check_run_size,
        check_simulated_mode,
        parse_batching,
    )
    from simbench.profiles import DynamicBatching, NoBatching
    from simbench.settings import Scenario, TestSettings, conf_sets
    from simbench.sim import sut_from_profile

    profile = _profile(spec.profile)
    model = spec.model or profile.default_model
    if model not in profile.models:
        raise SimbenchInputError(
            f"model: profile {profile.name!r} has no model {model!r}; it has " + ", ".join(profile.models)
        )
    scenario = Scenario.parse(spec.scenario)
    try:
        arrivals = parse_arrivals(spec.arrival) if spec.arrival else None
    except ValueError as exc:
        raise SimbenchInputError(str(exc).replace("--arrival", "arrival")) from None
    fixed = getattr(arrivals, "fixed_rate_qps", None)
    if fixed is not None:
        if spec.target_qps is not None and not math.isclose(spec.target_qps, fixed, rel_tol=1e-9):
            raise SimbenchInputError(
                f"arrival {spec.arrival}: fixes the mean rate at {fixed:g} QPS but target_qps is {spec.target_qps:g}; drop one"
            )
        spec = dataclasses.replace(spec, target_qps=float(fixed))
    opts = SimulateOptions(
        profile=spec.profile,
        model=model,
        scenarios=(scenario,),
        target_qps=spec.target_qps,
        target_latency_ms=spec.target_latency_ms,
        min_duration_s=spec.min_duration_s,
        min_query_count=spec.min_query_count,
        seed=spec.seed,
        conf=spec.conf,
    )
    for name, v in (("target_qps", spec.target_qps), ("target_latency_ms", spec.target_latency_ms)):
        if v is not None and not v > 0:
            raise SimbenchInputError(f"{name}: expected > 0, got {v:g}")
    harness = profile.models[model].scenarios.get(scenario.value)
    origins: dict[str, str] = {}
    settings = build_settings(
        model,
        scenario,
        dict(harness.settings) if harness else {},
        opts,
        harness_origin=f"profile {spec.profile}: models.{model}.scenarios.{scenario.value}.settings",
        origins=origins,
    )
    if spec.overrides:
        try:
            settings = dataclasses.replace(settings, **dict(spec.overrides))
        except (TypeError, ValueError) as exc:
            raise SimbenchInputError(f"settings override: {exc}") from None
        origins.update({k: k for k, _ in spec.overrides})
    check_simulated_mode(settings, origins, runner="simbench plan")
    if spec.replicas is not None and not 1 <= spec.replicas <= MAX_REPLICAS:
        raise SimbenchInputError(f"replicas: expected 1..{MAX_REPLICAS}, got {spec.replicas}")
    try:
        batching = parse_batching(spec.batching) if spec.batching else None
    except ValueError as exc:
        raise SimbenchInputError(str(exc).replace("--batching", "batching")) from None
    kwargs: dict[str, Any] = {"batching": batching, "replicas": spec.replicas}
    if spec.governor is not None:
        if not _supports_governor():
            raise SimbenchInputError(
                f"governor {spec.governor!r}: this simulator has no clock governors yet (the device"
                " model of issue 9); leave governor unset"
            )
        kwargs["governor"] = spec.governor
    try:
        sut = sut_from_profile(profile, model, scenario, **kwargs)
    except ValueError as exc:
        raise SimbenchInputError(str(exc).replace("--governor", "governor")) from None
    if spec.routing is not None and spec.routing != sut.routing:
        if scenario is not Scenario.Server and spec.routing != "shared":
            raise SimbenchInputError(f"routing {spec.routing!r}: per-device queues are simulated for the Server scenario only")
        sut = dataclasses.replace(sut, routing=spec.routing)
    if spec.max_batch is not None or spec.timeout_us is not None:
        cur = sut.batching
        if isinstance(cur, NoBatching) and spec.max_batch is None:
            raise SimbenchInputError(
                "batching.timeout_us: the SUT does not batch (batching 'none'); set batching.max_batch"
                " or batching=dynamic:MAX_BATCH:TIMEOUT_US as well"
            )
        try:
            new = DynamicBatching(
                max_batch=spec.max_batch if spec.max_batch is not None else cur.max_batch,
                timeout_us=spec.timeout_us if spec.timeout_us is not None else cur.timeout_us,
            )
        except ValueError as exc:
            raise SimbenchInputError(f"batching: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from None
        sut = dataclasses.replace(sut, batching=new)
    if spec.seed is not None and spec.seed < 0:
        raise SimbenchInputError(f"seed: expected an integer >= 0, got {spec.seed}")
    _, service_seed = _seed_overrides(spec.seed)
    auto_peak = (
        scenario is Scenario.Server
        and spec.target_qps is None
        and "server_target_qps" not in dict(spec.overrides)
        and not conf_sets(spec.conf, model, "target_qps", "Server")
    )
    find_peak = auto_peak if spec.find_peak is None else bool(spec.find_peak)
    if find_peak and scenario is not Scenario.Server:
        raise SimbenchInputError("find_peak: the peak QPS search applies to the Server scenario only")
    if not find_peak:
        check_run_size(settings, origins)
    assert isinstance(settings, TestSettings)
    return Prepared(spec, profile, model, settings, sut, arrivals, service_seed, find_peak)


@dataclass
class PointResult:
    """One run's outcome: its Summary (None if it failed), the peak search, a flat row."""

    spec: RunSpec
    summary: Any = None
    peak: Any = None
    row: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    wall_s: float = 0.0
    trace: Any = None


def run_point(spec: RunSpec, *, keep_trace: bool = False, required_queries: bool = True) -> PointResult:
    """Simulate one ``RunSpec`` (searching the peak first when asked) and summarise it.

    Parameters
    ----------
    spec : RunSpec
    keep_trace : bool
        Keep the Trace in the result (memory: ~60 bytes per sample).
    required_queries : bool
        Add the MLPerf Eq. 2 query count and the autocorrelation-corrected one
        (``simbench.stats.required_queries``) to the row.

    Returns
    -------
    PointResult

    Raises
    ------
    SimbenchInputError, ValueError
        As ``prepare``, or a peak search that finds no passing QPS.
    """
    from simbench.plan.peak import find_peak_qps, kept_arrivals
    from simbench.sim import dataset_size, simulate
    from simbench.summary import summarize

    t0 = time.perf_counter()
    p = prepare(spec)
    settings = p.settings
    peak = None
    if p.find_peak:
        peak = find_peak_qps(
            settings, p.sut, service_seed=p.service_seed, criterion=spec.peak_criterion, arrivals=p.arrivals
        )
        settings = dataclasses.replace(settings, server_target_qps=peak.peak_qps)
    arrivals = kept_arrivals(settings, p.arrivals) if peak is not None else p.arrivals
    perf_count = settings.performance_sample_count_override or 1024
    run = simulate(
        settings,
        p.sut,
        engine=spec.engine,
        service_seed=p.service_seed,
        qsl_total_count=dataset_size(p.model, perf_count),
        qsl_performance_count=perf_count,
        metadata={"profile": p.profile.name, "device": p.profile.device, "model": p.model},
        arrivals=arrivals,
    )
    errors: tuple[str, ...] = ()
    if run.ran_out_of_queries:
        errors = ("Ending early: Ran out of generated queries to issue before the minimum query count and test duration were reached.",)
    summary = summarize(run.trace, run.effective, sut_name=p.sut.name, errors=errors)
    row = summary_row(summary, run.trace if required_queries else None)
    row["peak_qps"] = peak.peak_qps if peak is not None else None
    row["max_batch"] = int(p.sut.max_batch)
    row["timeout_us"] = float(p.sut.batching.timeout_us)
    row["replicas"] = int(p.sut.replicas)
    # Energy per query: the device model's energy over the run (all devices, idle included)
    # divided by the queries; None where the profile models no power (never guessed).
    energy = None
    tl = getattr(run, "timeline", None)
    if getattr(p.sut, "dvfs", None) is not None and tl is not None and tl.metadata.get("energy_j"):
        energy = float(sum(tl.metadata["energy_j"])) / max(summary.query_count, 1)
    row["energy_per_query_j"] = energy
    row["governor"] = spec.governor
    row["routing"] = p.sut.routing
    return PointResult(spec, summary, peak, row, None, time.perf_counter() - t0, run.trace if keep_trace else None)


def summary_row(summary, trace=None) -> dict[str, Any]:
    """A Summary as one flat row: every scalar metric (LoadGen's detail-log keys), the
    verdict and its reasons, and with ``trace`` the queries a valid run needs.

    Returns
    -------
    dict
        Scalars only; ``result_invalid_reason`` joined with '; '. With ``trace``:
        ``required_queries_mlperf`` (Eq. 2, i.i.d.), ``required_queries_corrected``
        (times the autocorrelation time τ), ``autocorrelation_tau``,
        ``early_stopping_required_queries`` (LoadGen's minimum scaled by τ); Reddi et al.,
        "MLPerf Inference Benchmark" (2020) §III-D and ``simbench.stats.required_queries``.
    """
    from simbench.report.json import summary_to_dict

    d = summary_to_dict(summary)
    row: dict[str, Any] = {}
    for k, v in d.items():
        if k in ("effective_settings", "early_stopping_result", "errors", "warnings", "issue_lag_ns"):
            continue
        if k == "result_invalid_reason":
            row[k] = "; ".join(v)
        elif isinstance(v, (int, float, str, bool)) or v is None:
            row[k] = v
    row["target_latency_ns"] = int(summary.effective.target_latency_ns)
    row["target_latency_percentile"] = float(summary.effective.target_latency_percentile)
    row["target_qps"] = float(summary.effective.target_qps)
    if trace is not None:
        from simbench.stats import required_queries

        lat = trace.query_latencies_ns()
        p = summary.effective.target_latency_percentile
        if lat.size >= 64:
            rq = required_queries(lat, p)
            row["required_queries_mlperf"] = int(rq.iid_queries)
            row["required_queries_corrected"] = int(rq.required_queries)
            row["autocorrelation_tau"] = float(rq.autocorrelation.autocorrelation_time)
            row["early_stopping_required_queries"] = int(rq.early_stopping_required_queries)
    return row


def peak_for_spec(spec: RunSpec, *, on_probe=None):
    """LoadGen's FindPeakPerformance for the simulated SUT of ``spec`` (Server).

    Starts from ``spec.target_qps`` when set (the rate that must pass, as LoadGen's
    ``server_target_qps``), else from the capacity bound and a pilot search.

    Returns
    -------
    (PeakSearchResult, Prepared)

    Raises
    ------
    SimbenchInputError, ValueError
        As ``prepare``; or no passing QPS.
    """
    from simbench.plan.peak import find_peak_qps

    if spec.arrival:
        from simbench.arrivals import parse_arrivals

        try:
            law = parse_arrivals(spec.arrival)
        except ValueError as exc:
            raise SimbenchInputError(str(exc)) from None
        if getattr(law, "fixed_rate_qps", None) is not None:
            raise SimbenchInputError(
                f"--arrival {spec.arrival}: fixes the mean rate, so there is no QPS to search; use"
                " trace:NAME without @ (its gaps rescaled to each probe's rate)"
            )
    p = prepare(dataclasses.replace(spec, scenario="Server", find_peak=True))
    result = find_peak_qps(
        p.settings,
        p.sut,
        service_seed=p.service_seed,
        criterion=spec.peak_criterion,
        start_qps=spec.target_qps,
        on_probe=on_probe,
        arrivals=p.arrivals,
    )
    return result, p


def peak_for_real_sut(opts, *, criterion: str = "valid", on_probe=None):
    """LoadGen's FindPeakPerformance on a real SUT (``simbench benchmark``'s options).

    Each probe is a full ``LoadGenerator`` run at the probe's QPS (``opts.min_duration_s``
    long); ``opts.target_qps`` is the starting rate, which must pass.

    Parameters
    ----------
    opts : simbench.bench.job.BenchmarkOptions
        ``scenarios`` is ignored (Server); ``target_qps`` is required.

    Returns
    -------
    PeakSearchResult

    Raises
    ------
    ValueError
        No ``target_qps``, bad options, or the starting rate fails and no lower one passes.
    """
    from simbench.bench.job import _settings, build_sut
    from simbench.bench.loadgen import LoadGenerator
    from simbench.plan.peak import PeakProbe, find_peak_qps
    from simbench.settings import Scenario
    from simbench.sim import dataset_size

    if opts.target_qps is None:
        raise SimbenchInputError("--target-qps: a real SUT's peak search starts from a QPS that must pass (LoadGen's server_target_qps)")
    settings = _settings(opts, Scenario.Server)

    def run_probe(s):
        perf = s.performance_sample_count_override or 1024
        run = LoadGenerator(build_sut(opts), s, qsl_total_count=dataset_size(opts.model, perf),
                            qsl_performance_count=perf, stall_timeout_s=opts.stall_timeout_s).run()
        sm = run.summary
        if sm is None:
            return PeakProbe(s.server_target_qps, False, 0, 0, True)
        ok = bool(sm.perf_constraints_met) and not sm.errors
        if criterion == "valid":
            ok = ok and sm.early_stopping_met
        return PeakProbe(s.server_target_qps, ok, sm.query_count, int(sm.overlatency_count or 0), True)

    return find_peak_qps(settings, None, criterion=criterion, start_qps=opts.target_qps,
                         on_probe=on_probe, run_probe=run_probe)
