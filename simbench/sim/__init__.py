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

import platform
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import simbench
from simbench.profiles.schema import (
    DynamicBatching,
    HardwareProfile,
    NoBatching,
)
from simbench.errors import SimbenchInputError
from simbench.rng import stream_rng
from simbench.schedule import QuerySchedule, schedule
from simbench.settings import SCENARIO_RULES, EffectiveSettings, Scenario, TestMode, TestSettings, resolve
from simbench.trace import Trace

__all__ = ["SimulatedSUT", "SimulationRun", "simulate", "sut_from_profile", "ENGINES", "dataset_size"]

ENGINES = ("auto", "simpy", "numba")

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
    """

    name: str
    batch_points: np.ndarray
    latency_points_ns: np.ndarray
    noise: Any
    batching: NoBatching | DynamicBatching
    replicas: int = 1
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ValueError(f"replicas: expected >= 1, got {self.replicas}")

    @property
    def max_batch(self) -> int:
        return int(self.batching.max_batch)

    @property
    def timeout_ns(self) -> int:
        return int(round(self.batching.timeout_us * 1000))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "batching": self.batching.model_dump(),
            "replicas": self.replicas,
            "latency_table": {
                "batch": self.batch_points.tolist(),
                "latency_ns": self.latency_points_ns.tolist(),
            },
            "noise": self.noise.model_dump(),
            "provenance": self.provenance,
        }


def sut_from_profile(
    profile: HardwareProfile,
    model: str,
    scenario: Scenario,
    *,
    batching: NoBatching | DynamicBatching | None = None,
    replicas: int | None = None,
) -> SimulatedSUT:
    """Build the simulated SUT for one model and scenario from a profile.

    The profile's per-scenario harness settings give the default batching and replicas;
    ``batching``/``replicas`` override them.

    Raises
    ------
    ValueError
        The model is not in the profile (the message lists the models it has).
    """
    if model not in profile.models:
        raise ValueError(
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
        provenance={
            "profile": profile.name,
            "device": profile.device,
            "model": model,
            "precision": mp.precision,
            "framework": mp.framework,
            "harness_source": harness.source if harness else None,
        },
    )


@dataclass
class SimulationRun:
    """The result of ``simulate``: the Trace plus what the run did."""

    trace: Trace
    effective: EffectiveSettings
    schedule: QuerySchedule
    engine: str
    ran_out_of_queries: bool
    batches: int


def engine_args(eff: EffectiveSettings, sched: QuerySchedule, sut: SimulatedSUT, service_seed: int) -> tuple:
    """The positional arguments both engines take (``engine_numba.run_kernel``)."""
    from simbench.profiles.latency import noise_kernel_args

    closed = SCENARIO_RULES[eff.scenario].closed_loop
    arrivals = sched.scheduled_ns if sched.scheduled_ns is not None else np.zeros(0, dtype=np.int64)
    return (
        closed,
        int(eff.samples_per_query),
        arrivals,
        int(sched.query_count),
        int(eff.min_query_count),
        int(eff.min_duration_ms) * 1_000_000,
        int(eff.max_duration_ms) * 1_000_000,
        np.ascontiguousarray(sut.batch_points, dtype=np.float64),
        np.ascontiguousarray(sut.latency_points_ns, dtype=np.float64),
        int(sut.max_batch),
        int(sut.timeout_ns),
        int(sut.replicas),
        stream_rng(service_seed, "service"),
        *noise_kernel_args(sut.noise),
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
        raise ValueError(f"engine: expected one of {ENGINES}, got {engine!r}")
    if settings.mode is not TestMode.PerformanceOnly:
        raise SimbenchInputError(
            f"mode: the simulator runs PerformanceOnly (2) only; {settings.mode.name}"
            f" ({int(settings.mode)}) is not implemented"
        )
    if settings.server_max_async_queries and settings.scenario is Scenario.Server:
        raise ValueError(
            "server_max_async_queries: the simulator does not yet model a bound on outstanding"
            " queries; use 0 (unbounded, the MLPerf default)"
        )
    eff = resolve(settings, qsl_total_count or qsl_performance_count, qsl_performance_count)
    sched = schedule(eff, arrivals)
    chosen = "numba" if engine == "auto" else engine
    args = engine_args(eff, sched, sut, service_seed)
    if chosen == "numba":
        from simbench.sim.engine_numba import run_kernel

        out = run_kernel(*args)
    else:
        from simbench.sim import engine_simpy

        out = engine_simpy.run(*args)
    q_issue, start, complete, batch, device, nq, batches, ran_out, _over = out
    spq = eff.samples_per_query
    trace = Trace(
        query_id=np.arange(nq, dtype=np.int64) if spq == 1 else np.repeat(np.arange(nq, dtype=np.int64), spq),
        sample_index=sched.sample_indices(nq),
        issue_ns=np.repeat(np.asarray(q_issue, dtype=np.int64), spq) if spq > 1 else np.asarray(q_issue),
        complete_ns=np.asarray(complete),
        start_ns=np.asarray(start),
        batch_id=np.asarray(batch),
        device_id=np.asarray(device),
        metadata={
            "kind": "simulated",
            "engine": chosen,
            "scenario": eff.scenario.value,
            "settings": settings.to_dict(),
            "effective_settings": eff.to_dict(),
            "sut": sut.describe(),
            "seeds": {
                "qsl_rng_seed": str(eff.qsl_rng_seed),
                "sample_index_rng_seed": str(eff.sample_index_rng_seed),
                "schedule_rng_seed": str(eff.schedule_rng_seed),
                "service_seed": str(service_seed),
            },
            "generated_query_count": int(sched.query_count),
            "arrivals": arrivals.describe() if arrivals is not None else {"kind": "poisson"},
            "ran_out_of_queries": bool(ran_out),
            "simbench_version": simbench.__version__,
            "host": {"python": platform.python_version(), "machine": platform.machine()},
            **(metadata or {}),
        },
    )
    return SimulationRun(trace, eff, sched, chosen, bool(ran_out), int(batches))


