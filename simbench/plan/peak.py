"""Find the peak Server QPS the way LoadGen's ``FindPeakPerformance`` mode does.

Planning code (it drives the simulator), so it lives in ``simbench.plan``, not ``simbench.sim``.

LoadGen (``loadgen.cc`` ``FindBoundaries`` / ``FindPeakPerformanceBinarySearch``): the run at
``server_target_qps`` must pass; the upper bound grows by ``x (1 + step_size)`` until a run
fails; then the interval is bisected until ``floor(l*10^d) + 1 >= floor(u*10^d)`` with
``d = server_find_peak_qps_decimals_of_precision``. The peak is the last passing ``l``.

Two differences, both stated in ``docs/simulate.md``:

* ``criterion='valid'`` (default) judges each run as a submission is judged: the latency
  percentile within the bound *and* early stopping passed. ``criterion='loadgen'`` uses
  LoadGen's check, the percentile only.
* without a starting QPS, the lower bound comes from a short pilot search (runs of
  ``pilot_fraction`` of the duration), so the full-length bisection starts from a tight
  bracket; every reported pass/fail is still a full-length run.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable


from simbench.arrivals import PoissonArrivals, PoissonGapStream
from simbench.errors import SimbenchInputError
from simbench.schedule import QuerySchedule, schedule
from simbench.settings import Scenario, TestSettings, resolve
from simbench.stats import min_passing_queries

__all__ = ["PeakSearchResult", "PeakProbe", "find_peak_qps", "server_run_passes", "capacity_qps", "kept_arrivals"]


@dataclass(frozen=True)
class PeakProbe:
    """One trial run of the search."""

    target_qps: float
    passed: bool
    query_count: int
    overlatency_count: int
    full_length: bool


@dataclass(frozen=True)
class PeakSearchResult:
    """Outcome of ``find_peak_qps``: the peak (last passing QPS) and every probe run."""

    peak_qps: float
    criterion: str
    probes: tuple[PeakProbe, ...] = field(default_factory=tuple)


def capacity_qps(sut) -> float:
    """Saturation throughput of the simulated SUT in samples/s (full batches back to back):
    ``replicas * max_batch / (latency(max_batch) * E[noise])``."""
    from simbench.profiles.latency import interp_latency_ns

    b = sut.max_batch
    lat = interp_latency_ns(sut.batch_points, sut.latency_points_ns, b) * sut.noise.mean
    return sut.replicas * b / (lat / 1e9)


def server_run_passes(
    settings: TestSettings,
    sut,
    *,
    service_seed: int = 0,
    criterion: str = "valid",
    qsl_performance_count: int = 1024,
    arrivals=None,
) -> PeakProbe:
    """Simulate one Server run (numba engine, no trace kept) and judge it.

    Passing means ``sorted(latency)[floor(n*p)] <= bound`` (equivalently at most
    ``n - floor(n*p) - 1`` samples above the bound) and, for ``criterion='valid'``,
    ``n >= h(t) + t`` (early stopping).
    """
    from simbench.sim import run_engine

    eff = resolve(settings, qsl_performance_count, qsl_performance_count)
    out = run_engine(
        eff, _probe_schedule(eff, arrivals), sut, service_seed, record=False, latency_bound_ns=int(eff.target_latency_ns)
    )
    n = int(out.queries_issued)
    over = int(out.overlatency)
    p = eff.target_latency_percentile
    perf_ok = over <= n - math.floor(n * p) - 1
    ok = perf_ok
    if criterion == "valid" and ok:
        ok = n >= min_passing_queries(over, p) + over
    return PeakProbe(settings.server_target_qps, bool(ok), n, over, True)


_GAP_STREAMS: dict[int, PoissonGapStream] = {}


def _probe_schedule(eff, arrivals) -> QuerySchedule:
    """The probe's schedule: ``schedule(eff, arrivals)``, but for Poisson built from this
    process's kept draws of the seed (``PoissonGapStream``), identical to the ns and without
    redrawing tens of millions of variates per probe. The times are a reused buffer, valid
    until the next probe."""
    if arrivals is not None and not isinstance(arrivals, PoissonArrivals):
        return schedule(eff, arrivals)
    seed = int(eff.schedule_rng_seed)
    stream = _GAP_STREAMS.get(seed)
    if stream is None:
        _GAP_STREAMS.clear()  # one seed at a time: a 600 s search keeps ~200 MB of draws
        stream = _GAP_STREAMS[seed] = PoissonGapStream(seed)
    times = stream.times_ns(
        eff.target_qps, eff.target_duration_ms * 1_000_000, eff.min_query_count, eff.max_query_count, reuse=True
    )
    return QuerySchedule(eff.scenario, eff.samples_per_query, int(times.shape[0]), times, eff)


def kept_arrivals(settings: TestSettings, arrivals=None):
    """The arrival law for a run after a peak search with the same ``settings`` seed:
    ``KeptPoissonArrivals`` over this process's kept draws for Poisson (identical times,
    no redraw), else ``arrivals`` unchanged."""
    from simbench.arrivals import KeptPoissonArrivals

    if arrivals is not None and not isinstance(arrivals, PoissonArrivals):
        return arrivals
    return KeptPoissonArrivals(stream=_GAP_STREAMS.get(int(settings.schedule_rng_seed)))


_MAX_STEPS = 200


def _no_pass_reason(last: PeakProbe, settings: TestSettings) -> str:
    bound_ms = settings.server_target_latency_ns / 1e6
    if last.overlatency_count > 0:
        return (
            f"no Server QPS passes: even at {last.target_qps:,.3g} QPS, {last.overlatency_count:,} of"
            f" {last.query_count:,} queries exceed the {bound_ms:g} ms latency bound; the SUT's"
            " latency at low load (batching timeout + service time) is above the bound"
        )
    need = min_passing_queries(0, settings.server_target_latency_percentile)
    return (
        f"no Server QPS passes: even at {last.target_qps:,.3g} QPS the run has only"
        f" {last.query_count:,} queries, fewer than early stopping needs ({need:,}); raise"
        " --min-duration-s or --min-query-count"
    )


def find_peak_qps(
    settings: TestSettings,
    sut,
    *,
    service_seed: int = 0,
    criterion: str = "valid",
    start_qps: float | None = None,
    pilot_fraction: float = 0.1,
    on_probe: Callable[[PeakProbe], None] | None = None,
    arrivals=None,
    run_probe: Callable[[TestSettings], PeakProbe] | None = None,
    capacity: float | None = None,
) -> PeakSearchResult:
    """Search the highest passing ``server_target_qps`` (LoadGen's FindPeakPerformance).

    Parameters
    ----------
    settings : TestSettings
        Server settings; ``server_find_peak_qps_decimals_of_precision`` and
        ``server_find_peak_qps_boundary_step_size`` steer the search as in LoadGen.
    sut : SimulatedSUT
    service_seed : int
    criterion : {'valid', 'loadgen'}
        'valid': percentile bound and early stopping; 'loadgen': percentile bound only.
    start_qps : float, optional
        Lower bound that must pass (LoadGen uses ``server_target_qps``). Default: from a
        pilot search at ``pilot_fraction`` of ``min_duration``.
    on_probe : callable, optional
        Called with each ``PeakProbe`` (for progress display).
    arrivals : simbench.arrivals.ArrivalProcess, optional
        Arrival law of every probe run (default Poisson).
    run_probe : callable, optional
        ``run_probe(settings) -> PeakProbe`` runs one probe on another SUT (a real one);
        default ``server_run_passes`` on the simulated ``sut``.
    capacity : float, optional
        Upper estimate of the SUT's QPS; default ``capacity_qps(sut)`` for a simulated SUT,
        none for ``run_probe`` (then ``start_qps`` is required, as LoadGen requires
        ``server_target_qps``).

    Returns
    -------
    PeakSearchResult

    Raises
    ------
    ValueError
        Wrong scenario or criterion, or no passing QPS found above 1e-3 QPS.
    """
    if settings.scenario is not Scenario.Server:
        raise SimbenchInputError("scenario: the peak search applies to Server only")
    if criterion not in ("valid", "loadgen"):
        raise SimbenchInputError(f"criterion: expected 'valid' or 'loadgen', got {criterion!r}")
    probes: list[PeakProbe] = []
    es_min = min_passing_queries(0, settings.server_target_latency_percentile)
    decimals = settings.server_find_peak_qps_decimals_of_precision
    scale = 10.0**decimals

    def probe(qps: float, full: bool = True) -> bool:
        s = dataclasses.replace(settings, server_target_qps=float(qps))
        if not full:
            # Short pilot runs, but never so short that early stopping alone fails them.
            s = dataclasses.replace(
                s,
                min_duration_ms=max(1000, int(settings.min_duration_ms * pilot_fraction)),
                min_query_count=max(settings.min_query_count, 4 * es_min),
            )
        if run_probe is not None:
            r = run_probe(s)
        else:
            r = server_run_passes(s, sut, service_seed=service_seed, criterion=criterion, arrivals=arrivals)
        r = dataclasses.replace(r, full_length=full)
        probes.append(r)
        if on_probe is not None:
            on_probe(r)
        return r.passed

    def bisect(lo: float, hi: float, full: bool, stop: Callable[[float, float], bool]) -> tuple[float, float]:
        while not stop(lo, hi):
            mid = round((lo + hi) / 2, decimals) if full else (lo + hi) / 2
            if mid <= lo or mid >= hi:
                break
            if probe(mid, full):
                lo = mid
            else:
                hi = mid
        return lo, hi

    step = 1.0 + settings.server_find_peak_qps_boundary_step_size
    if capacity is not None:
        cap = float(capacity)
    elif run_probe is None:
        cap = capacity_qps(sut)
    else:
        cap = math.inf
        if start_qps is None:
            raise SimbenchInputError("--target-qps: a real SUT's peak search starts from a QPS that must pass (LoadGen's server_target_qps)")
    duration_s = max(settings.min_duration_ms / 1000.0, 1e-3)
    # The lowest rate worth trying: 0.1 % of capacity, but with enough queries in the run for
    # early stopping to be able to pass (twice its minimum).
    lowest = max(cap * 1e-3 if math.isfinite(cap) else 0.0, 2 * es_min / duration_s, 10**-decimals)
    if lowest >= cap:
        raise SimbenchInputError(
            f"no Server QPS can pass: a {duration_s:g} s run at the SUT's capacity"
            f" ({cap:,.1f} QPS) has fewer than the {2 * es_min:,} queries early stopping"
            " needs; raise --min-duration-s"
        )
    if start_qps is None:
        # A full-length run at 0.1 % of capacity must pass, or no rate will.
        if not probe(lowest):
            raise SimbenchInputError(_no_pass_reason(probes[-1], settings))
        lo, _ = bisect(lowest, cap * 1.05, False, lambda a, b: b - a <= 0.01 * b)
        lower = max(round(lo * 0.99, decimals), round(lowest, decimals))
        step = 1.02  # the pilot bracket is tight; move the bounds in 2 % steps
    else:
        lower = float(start_qps)
    for _ in range(_MAX_STEPS):
        if probe(lower):
            break
        if lower <= lowest:
            raise SimbenchInputError(_no_pass_reason(probes[-1], settings))
        lower = max(round(lower / step, decimals), round(lowest, decimals))
    else:
        raise SimbenchInputError(_no_pass_reason(probes[-1], settings))
    upper = round(lower * step, decimals)
    for _ in range(_MAX_STEPS):
        if not probe(upper):
            break
        lower = upper
        upper = round(lower * step, decimals)
    else:
        raise SimbenchInputError(
            f"server peak search: every rate up to {upper:,.1f} QPS passes; the SUT's capacity"
            f" estimate ({cap:,.1f} QPS) is far off, or the run is too short to fail"
        )
    lo, _ = bisect(
        lower, upper, True, lambda a, b: math.floor(a * scale) + 1 >= math.floor(b * scale)
    )
    return PeakSearchResult(lo, criterion, tuple(probes))
