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
    if s.tokens is not None:
        d.update(_token_keys(s))
    if s.inferred_tokens_per_second is not None:
        key = "completed_tokens_per_second" if s.scenario is Scenario.Server else "tokens_per_second"
        d[f"result_inferred_{key}"] = s.inferred_tokens_per_second
    d["effective_settings"] = s.effective.to_dict()
    d["errors"] = list(s.errors)
    d["warnings"] = list(s.warnings)
    d.update(s.extra)
    return d


def _token_keys(s) -> dict[str, Any]:
    """LoadGen's token-latency detail keys (``results.cc`` ``LogDetail``), plus
    ``result_token_count``; early-stopping texts are LoadGen's strings (newlines as spaces)."""
    tok = s.tokens
    d: dict[str, Any] = {"result_token_count": tok.token_count}
    if s.scenario is Scenario.Offline:
        d["result_tokens_per_second"] = tok.tokens_per_second
        return d
    ft, tp = tok.first_token, tok.time_per_output_token
    d["result_first_token_min_latency_ns"] = ft.min_ns
    d["result_first_token_max_latency_ns"] = ft.max_ns
    d["result_first_token_mean_latency_ns"] = ft.mean_ns
    for p, v in ft.percentiles_ns.items():
        d[f"result_first_token_{p * 100:.2f}_percentile_latency_ns"] = v
    d["result_token_throughput_with_loadgen_overhead"] = tok.tps_with_loadgen_overhead
    d["result_token_throughput"] = tok.token_throughput_loadgen
    for p, v in tp.percentiles_ns.items():
        d[f"result_time_per_output_token_{p * 100:.2f}_percentile_ns"] = v
    d["result_time_to_output_token_min"] = tp.min_ns
    d["result_time_to_output_token_max"] = tp.max_ns
    d["result_time_to_output_token_mean"] = tp.mean_ns
    d["result_completed_tokens_per_second"] = tok.completed_tokens_per_second
    es = tok.early_stopping
    d["early_stopping_ttft_result"] = " ".join(es.ttft_lines)
    d["early_stopping_tpot_result"] = " ".join(es.tpot_lines)
    if s.scenario is Scenario.Server:
        d["result_ttft_constraint_met"] = tok.ttft_constraint_met
        d["result_tpot_constraint_met"] = tok.tpot_constraint_met
    # LoadGen's early_stopping_latency_ss/_ms hold the *last* EarlyStopping call's estimates,
    # i.e. TTFT's (results.cc calls it on TPOT, then TTFT); 0 when no estimate was made.
    last = es.ttft if es.ttft is not None else ()
    if s.scenario is Scenario.SingleStream:
        d["early_stopping_latency_ss"] = _estimate_or_zero(last, 0)
        d["early_stopping_latency_ms"] = _estimate_or_zero(last, 1) or _estimate_or_zero(es.tpot, 1)
    elif s.scenario is Scenario.MultiStream:
        d["early_stopping_latency_ms"] = _estimate_or_zero(last, 0) or _estimate_or_zero(es.tpot, 0)
    return d


def _estimate_or_zero(results, index: int) -> int:
    if index >= len(results) or not results[index].passed or results[index].estimate_ns is None:
        return 0
    return int(results[index].estimate_ns)


def summary_to_json(summary) -> str:
    """``summary_to_dict`` as indented JSON text (key order kept)."""
    return json.dumps(summary_to_dict(summary), indent=2, sort_keys=False, default=str)
