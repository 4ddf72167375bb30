"""Run metadata: the one builder of the ``simbench.run`` document every Trace carries.

=================  ==================================================================
``run_metadata``   the metadata of one run, simulated or real (same keys for both)
``host_info``      CPU model, cores, OS and Python of the machine a real run used
``sim_host``       the machine fields a simulated run records (kept minimal so a
                   simulated trace is the same bit for bit on any machine)
=================  ==================================================================

Both producers (``simbench.sim.simulate`` and the real load generators in
``simbench.bench``) call ``run_metadata``, so a simulated and a real trace describe
themselves with the same keys (see ``docs/reference.md``).
"""

from __future__ import annotations

import os
import platform
from typing import Any

import simbench

__all__ = ["run_metadata", "host_info", "sim_host"]


def host_info() -> dict[str, Any]:
    """Where a real run happened: CPU model, logical CPUs usable, OS, Python.

    Returns
    -------
    dict
        ``cpu_model``, ``logical_cpus``, ``cpus_usable`` (affinity), ``platform``,
        ``python``, ``machine``.
    """
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu_model": cpu,
        "logical_cpus": os.cpu_count(),
        "cpus_usable": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def sim_host() -> dict[str, Any]:
    """Python version and machine architecture only (a simulated run does not depend on more)."""
    return {"python": platform.python_version(), "machine": platform.machine()}


def run_metadata(
    *,
    kind: str,
    engine: str,
    settings: Any,
    effective: Any,
    sut: dict[str, Any],
    sut_name: str | None = None,
    generated_query_count: int | None = None,
    ran_out_of_queries: bool = False,
    run_status: str = "complete",
    errors: tuple[str, ...] | list[str] = (),
    service_seed: int | None = None,
    host: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``simbench.run`` metadata document of one run.

    Parameters
    ----------
    kind : {'simulated', 'real'}
    engine : str
        ``'numba'``/``'simpy'`` (simulated) or ``'simbench'``/``'mlcommons'`` (real).
    settings : TestSettings
        The requested settings.
    effective : EffectiveSettings
        What the run used (``resolve``); its seeds are recorded under ``seeds``.
    sut : dict
        The SUT's ``describe()``.
    sut_name : str, optional
        The summary's SUT name [default ``sut['name']``].
    generated_query_count : int, optional
        Queries in the schedule.
    ran_out_of_queries : bool
    run_status : {'complete', 'failed', 'interrupted', 'incomplete'}
    errors : sequence of str
        Run errors (each makes the result INVALID).
    service_seed : int, optional
        Simulated runs: the service-noise seed.
    host : dict, optional
        [default: ``host_info()`` for real runs, ``sim_host()`` for simulated ones].
    extra : dict, optional
        Producer- or job-specific keys (profile, model, SUT spec, command options ...);
        they override the keys above.

    Returns
    -------
    dict
        JSON-able: ``kind``, ``engine``, ``scenario``, ``settings``, ``effective_settings``,
        ``sut``, ``sut_name``, ``seeds`` (decimal strings: they may exceed 2**53),
        ``generated_query_count``, ``ran_out_of_queries``, ``run_status``, ``errors``,
        ``simbench_version``, ``host``, then ``extra``.
    """
    seeds = {
        "qsl_rng_seed": str(effective.qsl_rng_seed),
        "sample_index_rng_seed": str(effective.sample_index_rng_seed),
        "schedule_rng_seed": str(effective.schedule_rng_seed),
    }
    if service_seed is not None:
        seeds["service_seed"] = str(service_seed)
    meta: dict[str, Any] = {
        "kind": kind,
        "engine": engine,
        "scenario": effective.scenario.value,
        "settings": settings.to_dict(),
        "effective_settings": effective.to_dict(),
        "sut": sut,
        "sut_name": sut_name or sut.get("name"),
        "seeds": seeds,
        "generated_query_count": None if generated_query_count is None else int(generated_query_count),
        "ran_out_of_queries": bool(ran_out_of_queries),
        "run_status": run_status,
        "errors": list(errors),
        "simbench_version": simbench.__version__,
        "host": host if host is not None else (sim_host() if kind == "simulated" else host_info()),
    }
    meta.update(extra or {})
    return meta
