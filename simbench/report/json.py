"""JSON renderer of a ``Summary``, with LoadGen's detail-log result keys where they exist.

Rendering only: every number comes from ``simbench.summary.summarize``. Keys follow
LoadGen's ``mlperf_log_detail.txt`` (``result_validity``, ``result_*_latency_ns``,
``result_completed_samples_per_sec`` ...; LoadGen ``results.cc`` v6.0.17).
"""

from __future__ import annotations

import json
from typing import Any

from simbench.settings import Scenario

__all__ = ["summary_to_dict", "summary_to_json"]


def summary_to_dict(summary) -> dict[str, Any]:
    """JSON-able dict of a Summary using LoadGen's detail-log result keys where they exist.

    Parameters
    ----------
    summary : simbench.summary.Summary

    Returns
    -------
    dict
        ``result_validity`` ('VALID'/'INVALID'), ``result_invalid_reason`` (list of str),
        latencies in ns, rates in samples/s, ``effective_settings``, and the summary's
        ``extra`` entries (e.g. ``target_percentile_latency_ns``, ``run_end_ns``).
    """
    s = summary
    d: dict[str, Any] = {
        "scenario": s.scenario.value,
        "sut_name": s.sut_name,
        "mode": s.mode,
        "result_validity": "VALID" if s.result_valid else "INVALID",
        "result_perf_constraints_met": s.perf_constraints_met,
        "result_min_duration_met": s.min_duration_met,
        "result_min_queries_met": s.min_queries_met,
        "early_stopping_met": s.early_stopping_met,
        "result_invalid_reason": list(s.invalid_reasons),
        "headline_metric": s.headline_name,
        "headline_value": s.headline_value,
        "result_query_count": s.query_count,
        "result_sample_count": s.sample_count,
        "result_min_latency_ns": s.latency_min_ns,
        "result_max_latency_ns": s.latency_max_ns,
        "result_mean_latency_ns": s.latency_mean_ns,
    }
    for p, v in s.latency_percentiles_ns.items():
        d[f"result_{p * 100:.2f}_percentile_latency_ns"] = v
    if s.scenario is Scenario.SingleStream:
        d["result_qps_with_loadgen_overhead"] = s.qps_with_loadgen_overhead
        d["result_qps_without_loadgen_overhead"] = s.qps_without_loadgen_overhead
        # LoadGen logs 0 for an estimate it did not make (too few queries), never a number
        # (results.cc: early_stopping_latency_ss/_ms keep their initial 0).
        if s.early_stopping:  # () for an empty run
            d["early_stopping_latency_ss"] = _estimate_or_zero(s.early_stopping, 0)
            d["early_stopping_latency_ms"] = _estimate_or_zero(s.early_stopping, 1)
    elif s.scenario is Scenario.MultiStream:
        if s.early_stopping:
            d["early_stopping_latency_ms"] = _estimate_or_zero(s.early_stopping, 0)
    elif s.scenario is Scenario.Server:
        d["result_scheduled_samples_per_sec"] = s.scheduled_samples_per_second
        d["result_completed_samples_per_sec"] = s.completed_samples_per_second
        d["result_overlatency_query_count"] = s.overlatency_count
    else:
        d["result_samples_per_second"] = s.samples_per_second
    d["early_stopping_result"] = [list(es.lines) for es in s.early_stopping]
    d["effective_settings"] = s.effective.to_dict()
    d["errors"] = list(s.errors)
    d["warnings"] = list(s.warnings)
    d.update(s.extra)
    return d


def _estimate_or_zero(results, index: int) -> int:
    if index >= len(results) or not results[index].passed or results[index].estimate_ns is None:
        return 0
    return int(results[index].estimate_ns)


def summary_to_json(summary) -> str:
    """``summary_to_dict`` as indented JSON text (key order kept)."""
    return json.dumps(summary_to_dict(summary), indent=2, sort_keys=False, default=str)
