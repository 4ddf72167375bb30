"""The one writer of a run's results, shared by ``simbench simulate`` and ``simbench benchmark``.

=========================  ============================================================
``write_scenario``         one scenario's folder: ``trace.parquet``,
                           ``mlperf_log_summary.txt``, ``mlperf_log_detail.txt``,
                           ``summary.json`` (atomic, trace first)
``summary_payload``        the ``summary.json`` document (same keys for both kinds of run)
``estimate_scenario``      disk and memory a scenario is expected to need, before it runs
=========================  ============================================================

Layout (the same for simulated and real runs)::

    OUT/<Scenario>/trace.parquet            one row per completed sample, self-describing
    OUT/<Scenario>/mlperf_log_summary.txt   LoadGen's summary layout
    OUT/<Scenario>/mlperf_log_detail.txt    LoadGen-style :::MLLOG lines
    OUT/<Scenario>/summary.json             the numbers, LoadGen's detail-log keys
    OUT/<Scenario>/loadgen/                 (benchmark --engine mlcommons) LoadGen's own logs
    OUT/<Scenario>/trace.parts/             (only while a real run is going, or if it was
                                            killed) completed samples spilled every second

Order and failure: the trace -- the completed work -- is written first; then each rendered
file. If one step fails (a full disk, an exception while rendering) the others are still
attempted, and the first failure is raised once all were tried, so a rendering bug or a
disk that fills on the summary never costs the trace. Every file is atomic
(``simbench.output``): it is complete under its final name or absent.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from simbench.output import OutputFolder, RunEstimate
from simbench.settings import EffectiveSettings, Scenario
from simbench.trace import PARTS_DIR, Trace, write_trace

__all__ = ["write_scenario", "summary_payload", "estimate_scenario", "knobs_for", "SAMPLE_BYTES"]

#: Bytes per sample, used by ``estimate_scenario`` (measured 2026-12-02 on this repository's
#: 2-core test machine, under load, with ``benchmarks/fault_matrix.py``'s neighbours; each
#: figure is about twice the measured one, as a margin):
#: trace on disk -- simulated 3-4 B (zstd + delta), real 7-14 B, LoadGen's
#: mlperf_log_trace.json ~810 B; peak memory -- simulated ~70 B, real ~76 B, and the
#: mlcommons importer parses LoadGen's JSON trace (~3 kB).
SAMPLE_BYTES = {
    "disk": {"simulated": 8, "real": 24, "mlcommons": 24 + 1600},
    "memory": {"simulated": 160, "real": 160, "mlcommons": 160 + 6000},
}
_LOG_BYTES = 64 * 1024  # the three text files of a scenario (a few kB each) and slack
_REPLICA_BYTES = {"numba": 64, "simpy": 1024, "auto": 64}  # per simulated replica (state arrays / lists)
_WORKER_BYTES = 8 * 1024 * 1024  # per SUT worker thread (its stack, reserved)
_BASE_BYTES = 64 * 1024 * 1024  # the run's fixed working set beyond the imported modules


def estimate_scenario(
    effective: EffectiveSettings,
    *,
    kind: str,
    knobs: str,
    replicas: int = 1,
    workers: int = 1,
    engine: str = "auto",
) -> RunEstimate:
    """What one scenario will need, computed from its effective settings before it runs.

    Parameters
    ----------
    effective : EffectiveSettings
    kind : {'simulated', 'real', 'mlcommons'}
        Which bytes-per-sample row of ``SAMPLE_BYTES`` applies.
    knobs : str
        The flags/conf keys that size the run (quoted in the error message).
    replicas : int
        Simulated replicas (state per replica: ``_REPLICA_BYTES``).
    workers : int
        Real SUT worker threads (8 MiB stack each).
    engine : str
        Simulator engine (``'simpy'`` keeps Python lists per replica).

    Returns
    -------
    RunEstimate
        ``samples`` from ``simbench.schedule.expected_sample_count``; disk = samples x
        disk bytes + 64 KiB of logs; memory = samples x memory bytes + replicas + workers
        + 64 MiB.
    """
    from simbench.schedule import expected_sample_count

    n = expected_sample_count(effective)
    disk = n * SAMPLE_BYTES["disk"][kind] + _LOG_BYTES
    per = SAMPLE_BYTES["memory"][kind]
    rep = int(replicas) * _REPLICA_BYTES.get(engine, 64)
    wrk = int(workers) * _WORKER_BYTES
    mem = n * per + rep + wrk + _BASE_BYTES
    parts = [f"{n:,} samples x {per} B"]
    if replicas > 1:
        parts.append(f"{int(replicas):,} replicas x {_REPLICA_BYTES.get(engine, 64)} B")
    if workers > 1:
        parts.append(f"{int(workers):,} worker threads x 8 MiB")
    # Name the flag behind the largest share, so the message says what to change.
    share = max((n * per, knobs), (rep if replicas > 1 else 0, "--replicas"), (wrk if workers > 1 else 0, "--workers"))[1]
    return RunEstimate(
        what=effective.scenario.value,
        samples=int(n),
        disk_bytes=int(disk),
        memory_bytes=int(mem),
        knobs=knobs,
        memory_detail=", ".join(parts),
        memory_knobs=share,
    )


def summary_payload(
    summary: Any,
    trace: Trace,
    *,
    wall_s: float | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``summary.json`` document of one scenario.

    Keys: the Summary's (``Summary.to_dict``: LoadGen's detail-log names) -- or, when no
    sample completed, ``scenario``, ``result_validity: 'INVALID'`` and
    ``result_invalid_reason`` -- then, for every run: ``kind`` (simulated/real), ``engine``,
    ``run_status``, ``run_errors``, ``wall_s``, ``sut``, ``host``, ``sample_count_in_trace``,
    then ``extra`` (the job's own keys: ``peak_search``, ``profile``, ``model`` for simulate;
    ``issued_query_count``, ``outstanding_samples``, ``issue_lag_ns``, ``loadgen`` for
    benchmark).
    """
    meta = trace.metadata
    errors = list(meta.get("errors") or ())
    if summary is not None:
        from simbench.report import summary_to_dict

        payload = summary_to_dict(summary)
    else:
        payload = {
            "scenario": meta.get("scenario"),
            "result_validity": "INVALID",
            "result_invalid_reason": errors or ["no sample completed"],
        }
    payload.update(
        {
            "kind": meta.get("kind"),
            "engine": meta.get("engine"),
            "run_status": meta.get("run_status", "complete"),
            "run_errors": errors,
            "wall_s": wall_s,
            "sut": meta.get("sut"),
            "host": meta.get("host"),
            "sample_count_in_trace": len(trace),
        }
    )
    payload.update(extra or {})
    return payload


def write_scenario(
    folder: OutputFolder,
    subdir: str,
    trace: Trace,
    summary: Any,
    *,
    settings: Any = None,
    payload: dict[str, Any],
) -> Path:
    """Write one scenario's four result files into ``folder.root / subdir``.

    Parameters
    ----------
    folder : OutputFolder
        From ``simbench.output.prepare_out_dir``.
    subdir : str
        The scenario's folder name (``Scenario.value``).
    trace : Trace
        Every completed sample (may be empty).
    summary : Summary or None
        None when no sample completed.
    settings : TestSettings, optional
        The requested settings (``requested_*`` lines of the detail log).
    payload : dict
        ``summary.json`` (``summary_payload``).

    Returns
    -------
    pathlib.Path
        The scenario folder.

    Raises
    ------
    OutputError
        A file could not be written (full disk, permissions); the message names the flag,
        the folder and the file. The other files were still attempted.
    Exception
        Whatever a renderer raised (a bug), after every file that could be written was.

    Notes
    -----
    After ``trace.parquet`` is on disk, a ``trace.parts`` spill folder of this scenario is
    removed (it holds a subset of the same samples).
    """
    d = folder.root / subdir
    first: BaseException | None = None
    sut_name = trace.metadata.get("sut_name") or (trace.metadata.get("sut") or {}).get("name") or "simbench"
    errors = tuple(trace.metadata.get("errors") or ())
    try:
        with folder.writing(f"{subdir}/trace.parquet") as tmp:
            write_trace(trace, tmp)
        shutil.rmtree(d / PARTS_DIR, ignore_errors=True)
    except Exception as exc:  # noqa: BLE001 - keep going: the other files may still fit
        first = exc

    def render_summary() -> str:
        from simbench.report import render_no_result_text, render_text

        return render_text(summary) if summary is not None else render_no_result_text(subdir, sut_name, errors)

    def render_detail() -> str:
        from simbench.report import render_detail_log, render_no_result_detail

        if summary is None:
            return render_no_result_detail(subdir, sut_name, errors)

        return render_detail_log(summary, settings, generated_query_count=trace.metadata.get("generated_query_count"))

    def render_json() -> str:
        return json.dumps(payload, indent=2, default=str)

    for name, render in (
        ("mlperf_log_summary.txt", render_summary),
        ("mlperf_log_detail.txt", render_detail),
        ("summary.json", render_json),
    ):
        try:
            folder.write_text(f"{subdir}/{name}", render())
        except Exception as exc:  # noqa: BLE001 - see Raises
            first = first or exc
    if first is not None:
        raise first
    return d


def knobs_for(scenario: Scenario, *, conf: bool) -> str:
    """The flags (and conf keys) that size a scenario's schedule, for messages."""
    flags = {
        Scenario.Server: "--target-qps / --min-duration-s",
        Scenario.Offline: "--min-query-count / --target-qps",
        Scenario.SingleStream: "--min-duration-s / --min-query-count",
        Scenario.MultiStream: "--min-duration-s / --min-query-count",
    }[scenario]
    keys = {
        Scenario.Server: "target_qps, min_duration",
        Scenario.Offline: "min_query_count, target_qps",
        Scenario.SingleStream: "min_duration, min_query_count",
        Scenario.MultiStream: "min_duration, min_query_count",
    }[scenario]
    return f"{flags}" + (f" (conf: {keys})" if conf else "")
