"""Simulate MLPerf scenarios over a simulated SUT built from a ``HardwareProfile``.

``simulate(settings, sut)`` generates the query schedule exactly as the real load generator
does (``simbench.schedule``), runs it through one of two engines, and returns a ``Trace``:

* ``engine='simpy'`` — the SimPy reference model (``engine_simpy``), every feature;
* ``engine='numba'`` — a compiled event loop (``engine_numba``) with identical semantics,
  typically 100x faster; MLPerf-scale runs (tens of millions of queries) need it;
* ``engine='auto'`` — numba when it supports the configuration, SimPy otherwise.

Both engines draw service-noise multipliers from the same seeded ``numpy.random.Generator``
(one draw per batch, in dispatch order, from the ``service`` stream), so for the same seed they return the
same Trace, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from simbench.profiles.schema import (
    DynamicBatching,
    HardwareProfile,
    NoBatching,
)
from simbench.errors import SimbenchInputError
from simbench.provenance import run_metadata
from simbench.rng import stream_rng
from simbench.schedule import QuerySchedule, schedule
from simbench.settings import SCENARIO_RULES, EffectiveSettings, Scenario, TestMode, TestSettings, resolve
from simbench.trace import Trace

__all__ = ["SimulatedSUT", "SimulationRun", "simulate", "sut_from_profile", "run_engine", "EngineOutput", "ENGINES", "dataset_size"]

ENGINES = ("auto", "simpy", "numba")
ROUTINGS = {"shared": 0, "jsq": 1, "round-robin": 2}  # the engines' routing codes

# Samples in each benchmark's data set (the QSL's total count), for the accuracy count.
_DATASET_SIZES = {
    "resnet50": 50_000,
    "retinanet": 24_781,
    "bert": 10_833,
    "3d-unet": 43,
    "rnnt": 2_513,
    "gptj": 13_368,
}


def dataset_size(model: str, performance_sample_count: int) -> int:
    """QSL total count for a model: its data set's size if known, else the performance count."""
    from simbench.settings import base_model_name

    return max(_DATASET_SIZES.get(base_model_name(model), 0), performance_sample_count, 1)


@dataclass(frozen=True)
class SimulatedSUT:
    """A simulated system under test: ``replicas`` identical devices behind one batcher.

    Attributes
    ----------
    name : str
        Shown as the SUT name in summaries.
    batch_points, latency_points_ns : numpy.ndarray
        The latency table (float64): median service time in ns of a batch of that size.
    noise : NoiseModel
        Multiplicative service-time noise, drawn once per batch.
    batching : NoBatching or DynamicBatching
    replicas : int
        Devices (>= 1).
    provenance : dict
        Where the numbers came from (profile name, device, model, sources).
    dvfs : DvfsModel or None
        Clocks, power law and thermal constants of each device (the profile's ``dvfs``).
    compute_share : ComputeShare or None
        The clock-scaled share of each batch's latency (the model's ``compute_share``).
    streams : StreamSharing or None
        Concurrent inference streams per device (None: one).
    governor : GovernorSpec or None
        How each device picks its clock (None: fixed at the reference clock, no ticks — the
        simulator as it was before the device model).
    ambient_c : float or None
        Ambient temperature for the thermal model (None: the profile's).
    routing : {'shared', 'jsq', 'round-robin'}
        Queue layout: ``shared`` — one FIFO queue in front of every device (the default, and
        what a single batcher over ``replicas`` devices is); per-device queues, each batched on
        its own, fed by ``jsq`` (join-shortest-queue: each query goes to the device with the
        fewest samples queued plus in service at its arrival, ties to the lowest device index)
        or ``round-robin`` (query ``q`` to device ``q mod replicas``). Per-device queues are
        simulated for the Server scenario (open loop, one sample per query).
    """

    name: str
    batch_points: np.ndarray
    latency_points_ns: np.ndarray
    noise: Any
    batching: NoBatching | DynamicBatching
    replicas: int = 1
    provenance: dict = field(default_factory=dict)
    dvfs: Any = None
    compute_share: Any = None
    streams: Any = None
    governor: Any = None
    ambient_c: float | None = None
    routing: str = "shared"

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise SimbenchInputError(f"replicas: expected >= 1, got {self.replicas}")
        if self.routing not in ROUTINGS:
            raise SimbenchInputError(f"routing: expected one of {', '.join(ROUTINGS)}, got {self.routing!r}")
        if isinstance(self.governor, str):
            from simbench.sim.governors import parse_governor

            object.__setattr__(self, "governor", parse_governor(self.governor))
        self.device_model  # validates governor / ambient against the device (clear ValueError)

    @property
    def device_model(self):
        """The ``DeviceModel`` of each replica (``simbench.sim.device``)."""
        from simbench.sim.device import DeviceModel

        return DeviceModel(
            batch_points=self.batch_points,
            latency_points_ns=self.latency_points_ns,
            noise=self.noise,
            compute_share=self.compute_share,
            dvfs=self.dvfs,
            streams=self.streams,
            governor=self.governor,
            ambient_c=self.ambient_c,
        )

    def with_governor(self, governor=None, ambient_c: float | None = None) -> "SimulatedSUT":
        """A copy with another governor (spec string or ``GovernorSpec``) and ambient."""
        import dataclasses

        return dataclasses.replace(self, governor=governor, ambient_c=ambient_c)

    @property
    def max_batch(self) -> int:
        return int(self.batching.max_batch)

    @property
    def timeout_ns(self) -> int:
        return int(round(self.batching.timeout_us * 1000))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "batching": self.batching.describe(),  # the same fields as a real SUT's
            "replicas": self.replicas,
            **({"routing": self.routing} if self.routing != "shared" else {}),
            "latency_table": {
                "batch": self.batch_points.tolist(),
                "latency_ns": self.latency_points_ns.tolist(),
            },
            "noise": self.noise.model_dump(),
            "provenance": self.provenance,
            **({"device_model": self.device_model.describe()} if self.dvfs is not None else {}),
        }


def sut_from_profile(
    profile: HardwareProfile,
    model: str,
    scenario: Scenario,
    *,
    batching: NoBatching | DynamicBatching | None = None,
    replicas: int | None = None,
    governor=None,
    ambient_c: float | None = None,
) -> SimulatedSUT:
    """Build the simulated SUT for one model and scenario from a profile.

    The profile's per-scenario harness settings give the default batching, replicas and
    inference streams; ``batching``/``replicas`` override them.

    Parameters
    ----------
    governor : str or GovernorSpec, optional
        A governor spec (``simbench.sim.governors``: ``fixed:MHZ``, ``performance``,
        ``ondemand:...``, ``power_cap:W``, ``thermal``). None: the fixed-clock device.
    ambient_c : float, optional
        Ambient temperature (C) for the thermal model; default the profile's.

    Raises
    ------
    ValueError
        The model is not in the profile (the message lists the models it has); a bad governor
        spec, or one the profile has no data for (no ``dvfs`` / ``compute_share``).
    """
    if model not in profile.models:
        raise SimbenchInputError(
            f"model: profile {profile.name!r} has no model {model!r}; it has "
            + ", ".join(profile.models)
        )
    mp = profile.models[model]
    harness = mp.scenarios.get(scenario.value)
    chosen_batching = batching or (harness.batching if harness else NoBatching())
    chosen_replicas = replicas or (harness.replicas if harness else 1)
    xs, ys = mp.latency.arrays()
    return SimulatedSUT(
        name=f"simbench-sim:{profile.name}/{model}",
        batch_points=xs,
        latency_points_ns=ys,
        noise=mp.noise,
        batching=chosen_batching,
        replicas=chosen_replicas,
        dvfs=profile.dvfs,
        compute_share=_compute_share(mp),
        streams=harness.streams if harness else None,
        governor=governor,
        ambient_c=ambient_c,
        provenance={
            "profile": profile.name,
            "device": profile.device,
            "model": model,
            "precision": mp.precision,
            "framework": mp.framework,
            "harness_source": harness.source if harness else None,
        },
    )


def _compute_share(mp):
    """The model's ``compute_share`` table, or its scalar ``compute_bound_share`` (a roofline
    prediction, the same share at every batch size), or None."""
    if mp.compute_share is not None:
        return mp.compute_share
    if getattr(mp, "compute_bound_share", None) is not None:
        from simbench.profiles.device import ComputeShare, ComputeSharePoint

        src = mp.source or "the model's compute_bound_share (roofline prediction)"
        return ComputeShare(points=[ComputeSharePoint(batch=1, share=mp.compute_bound_share, source=src)])
    return None


@dataclass
class SimulationRun:
    """The result of ``simulate``: the Trace plus what the run did."""

    trace: Trace
    effective: EffectiveSettings
    schedule: QuerySchedule
    engine: str
    ran_out_of_queries: bool
    batches: int
    timeline: Any = None


class EngineOutput(NamedTuple):
    """What both engines return (``engine_numba.run_kernel``, ``engine_simpy.run``)."""

    query_issue_ns: np.ndarray
    start_ns: np.ndarray
    complete_ns: np.ndarray
    batch_id: np.ndarray
    device_id: np.ndarray
    clock_idx: np.ndarray
    queries_issued: int
    batches: int
    ran_out: bool
    overlatency: int
    energy_wns: np.ndarray
    end_ns: int
    tl_t_ns: np.ndarray
    tl_device_id: np.ndarray
    tl_clock_idx: np.ndarray
    tl_power_w: np.ndarray
    tl_temperature_c: np.ndarray
    tl_throttle: np.ndarray


def engine_args(eff: EffectiveSettings, sched: QuerySchedule, sut: SimulatedSUT, service_seed: int) -> tuple:
    """``(RunPlan, EngineModel, rng)``: the three arguments both engines take."""
    from simbench.sim.device import RunPlan

    arrivals = sched.scheduled_ns if sched.scheduled_ns is not None else np.zeros(0, dtype=np.int64)
    plan = RunPlan(
        closed=bool(SCENARIO_RULES[eff.scenario].closed_loop),
        samples_per_query=int(eff.samples_per_query),
        arrivals_ns=np.ascontiguousarray(arrivals, dtype=np.int64),
        generated_queries=int(sched.query_count),
        min_query_count=int(eff.min_query_count),
        min_duration_ns=int(eff.min_duration_ms) * 1_000_000,
        max_duration_ns=int(eff.max_duration_ms) * 1_000_000,
    )
    model = sut.device_model.lower(sut.max_batch, sut.timeout_ns, sut.replicas)
    return plan, model, stream_rng(service_seed, "service")


def run_engine(
    eff: EffectiveSettings,
    sched: QuerySchedule,
    sut: SimulatedSUT,
    service_seed: int,
    *,
    engine: str = "numba",
    record: bool = True,
    latency_bound_ns: int = -1,
) -> EngineOutput:
    """Run one engine on a resolved schedule; ``record=False`` keeps no per-sample arrays
    (numba only) and ``latency_bound_ns >= 0`` counts samples above the bound."""
    args = engine_args(eff, sched, sut, service_seed)
    routing = ROUTINGS[sut.routing]
    if routing and (args[0].closed or eff.scenario is not Scenario.Server):
        raise SimbenchInputError(
            f"routing {sut.routing!r}: per-device queues are simulated for the Server scenario only"
            f" (got {eff.scenario.value}); use routing 'shared'")
    if engine == "numba":
        from simbench.sim.engine_numba import run_kernel

        out = run_kernel(*args, record, latency_bound_ns, routing)
    elif engine == "simpy":
        from simbench.sim import engine_simpy

        out = engine_simpy.run(*args, record, latency_bound_ns, routing)
    else:
        raise SimbenchInputError(f"engine: expected 'numba' or 'simpy', got {engine!r}")
    out = EngineOutput(*out)
    # timeline rows in (t, device) order (stable: a device's rows at one instant keep their order)
    order = np.lexsort((out.tl_device_id, out.tl_t_ns))
    return out._replace(
        tl_t_ns=out.tl_t_ns[order],
        tl_device_id=out.tl_device_id[order],
        tl_clock_idx=out.tl_clock_idx[order],
        tl_power_w=out.tl_power_w[order],
        tl_temperature_c=out.tl_temperature_c[order],
        tl_throttle=out.tl_throttle[order],
    )


def simulate(
    settings: TestSettings,
    sut: SimulatedSUT,
    *,
    engine: str = "auto",
    service_seed: int = 0,
    qsl_total_count: int | None = None,
    qsl_performance_count: int = 1024,
    metadata: dict[str, Any] | None = None,
    arrivals=None,
) -> SimulationRun:
    """Run one MLPerf scenario against a simulated SUT.

    Parameters
    ----------
    settings : TestSettings
        Requested settings; the scenario rules are applied by ``resolve``.
    sut : SimulatedSUT
    engine : {'auto', 'simpy', 'numba'}
    service_seed : int
        Seed of the service-noise stream (0 <= seed < 2**64).
    qsl_total_count, qsl_performance_count : int
        QSL sizes; ``qsl_total_count`` defaults to ``qsl_performance_count``.
    metadata : dict, optional
        Extra run metadata stored in the Trace (e.g. the profile, the requested flags).
    arrivals : simbench.arrivals.ArrivalProcess, optional
        Server arrival law (default Poisson, LoadGen's); see ``simbench.arrivals``.

    Returns
    -------
    SimulationRun

    Raises
    ------
    ValueError
        Unknown engine.
    SimbenchInputError
        ``settings.mode`` is not PerformanceOnly (the only mode simulated).
    """
    if engine not in ENGINES:
        raise SimbenchInputError(f"engine: expected one of {ENGINES}, got {engine!r}")
    if settings.mode is not TestMode.PerformanceOnly:
        raise SimbenchInputError(
            f"mode: the simulator runs PerformanceOnly (2) only; {settings.mode.name}"
            f" ({int(settings.mode)}) is not implemented"
        )
    if settings.server_max_async_queries and settings.scenario is Scenario.Server:
        raise SimbenchInputError(
            "server_max_async_queries: the simulator does not yet model a bound on outstanding"
            " queries; use 0 (unbounded, the MLPerf default)"
        )
    eff = resolve(settings, qsl_total_count or qsl_performance_count, qsl_performance_count)
    sched = schedule(eff, arrivals)
    chosen = "numba" if engine == "auto" else engine
    out = run_engine(eff, sched, sut, service_seed, engine=chosen)
    q_issue, start, complete, batch, device = out[:5]
    nq, batches, ran_out = out.queries_issued, out.batches, out.ran_out
    spq = eff.samples_per_query
    model = sut.device_model
    clock_col = None
    timeline = None
    if sut.dvfs is not None:
        grid = sut.device_model.lower(sut.max_batch, sut.timeout_ns, sut.replicas).clocks_mhz
        clock_col = np.round(grid).astype(np.int64)[out.clock_idx]
        timeline = _timeline(out, grid, sut, model)
    trace = Trace(
        query_id=(np.arange(nq, dtype=np.int64) if spq == 1
                  else np.zeros(spq, dtype=np.int64) if nq == 1  # Offline: one query (np.repeat's values, faster)
                  else np.repeat(np.arange(nq, dtype=np.int64), spq)),
        sample_index=sched.sample_indices(nq),
        issue_ns=(np.asarray(q_issue) if spq == 1
                  else np.full(spq, int(q_issue[0]), dtype=np.int64) if nq == 1
                  else np.repeat(np.asarray(q_issue, dtype=np.int64), spq)),
        complete_ns=np.asarray(complete),
        start_ns=np.asarray(start),
        batch_id=np.asarray(batch),
        device_id=np.asarray(device),
        clock_mhz=clock_col,
        metadata=run_metadata(
            kind="simulated",
            engine=chosen,
            settings=settings,
            effective=eff,
            sut=sut.describe(),
            sut_name=sut.name,
            generated_query_count=sched.query_count,
            ran_out_of_queries=bool(ran_out),
            service_seed=service_seed,
            extra={
                "arrivals": arrivals.describe() if arrivals is not None else {"kind": "poisson"},
                **(metadata or {}),
            },
        ),
    )
    return SimulationRun(trace, eff, sched, chosen, bool(ran_out), int(batches), timeline)


def _timeline(out: EngineOutput, grid: np.ndarray, sut: SimulatedSUT, model):
    from simbench.timeline import DeviceTimeline

    energy_j = [float(e) / 1e9 for e in out.energy_wns]
    return DeviceTimeline(
        device_id=out.tl_device_id,
        t_ns=out.tl_t_ns,
        clock_mhz=grid[out.tl_clock_idx],
        power_w=out.tl_power_w,
        temperature_c=out.tl_temperature_c,
        throttle=out.tl_throttle,
        metadata={
            "kind": "simulated",
            "end_ns": int(out.end_ns),
            "energy_j": energy_j,
            "governor": sut.governor.describe() if sut.governor is not None else None,
            "ambient_c": model.ambient,
            "power_law": "P(f, busy) = idle_power_w + busy * (busy_power_w - idle_power_w) * (f / f_max) * (1 - s (1 - f / f_max))^2",
            "thermal_law": "C dT/dt = P - (T - T_ambient) / R, stepped exactly per governor period at the period's mean power",
            "columns": {
                "device_id": "replica", "t_ns": "ns from the run's start", "clock_mhz": "device clock from this row on",
                "power_w": "mean power since the device's previous row (W)", "temperature_c": "RC-model temperature (NaN: not modelled)",
                "throttle": "NVML clock-event reason bits in force: 0x4 SwPowerCap, 0x40 HwThermalSlowdown",
            },
            "dvfs": sut.dvfs.model_dump() if sut.dvfs is not None else None,
        },
    )


