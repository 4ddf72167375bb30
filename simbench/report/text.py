"""Text renderers of a ``Summary``: LoadGen's ``mlperf_log_summary.txt`` and ``mlperf_log_detail.txt``.

Rendering only: every number comes from ``simbench.summary.summarize``. The layout is
LoadGen 6.x's, line for line (``results.cc`` ``PerformanceSummary::LogSummary`` and
``LogDetail``; checked against summaries written by the ``mlcommons-loadgen`` 6.0.17 package).
"""

from __future__ import annotations

import json
from typing import Any

from simbench.settings import Scenario

__all__ = ["render_text", "render_detail_log", "render_no_result_text", "render_no_result_detail"]


def _g(x: float) -> str:
    """C++ ostream default formatting (6 significant digits), as LoadGen prints doubles."""
    return f"{x:g}"


def render_text(summary) -> str:
    """The run's ``mlperf_log_summary.txt``, laid out line for line as LoadGen 6.x does.

    Parameters
    ----------
    summary : simbench.summary.Summary

    Returns
    -------
    str
        The file's text, newline-terminated.
    """
    s = summary
    bar = "=" * 48
    eff = s.effective
    yn = lambda b: "Yes" if b else "NO"  # noqa: E731
    lines = [bar, "MLPerf Results Summary", bar]
    lines += [f"SUT name : {s.sut_name}", f"Scenario : {s.scenario.value}", f"Mode     : {s.mode}"]
    if s.scenario is Scenario.Server:
        lines.append(f"Completed samples per second    : {s.headline_value:.2f}")
    elif s.scenario is Scenario.Offline:
        lines.append(f"Samples per second: {_g(s.headline_value)}")
    else:
        lines.append(f"{s.headline_name} : {int(s.headline_value)}")
    tok = s.tokens
    if tok is not None:
        if s.scenario is Scenario.Server:
            lines.append(f"Completed tokens per second: {tok.completed_tokens_per_second:.2f}")
        elif s.scenario is Scenario.Offline:
            lines.append(f"Tokens per second: {_g(tok.tokens_per_second)}")
        else:
            pct = f"{eff.target_latency_percentile * 100:.1f}"
            lines.append(f"{pct}th first token percentile latency (ns) : {tok.first_token.target_ns}")
    if s.inferred_tokens_per_second is not None:
        if s.scenario is Scenario.Server:
            lines.append(f"Completed tokens per second (inferred): {s.inferred_tokens_per_second:.2f}")
        else:
            lines.append(f"Tokens per second (inferred): {_g(s.inferred_tokens_per_second)}")
    lines.append(f"Result is : {'VALID' if s.result_valid else 'INVALID'}")
    if s.perf_constraints_met is not None:
        lines.append(f"  Performance constraints satisfied : {yn(s.perf_constraints_met)}")
    lines.append(f"  Min duration satisfied : {yn(s.min_duration_met)}")
    lines.append(f"  Min queries satisfied : {yn(s.min_queries_met)}")
    lines.append(f"  Early stopping satisfied: {yn(s.early_stopping_met)}")
    if not s.result_valid:
        lines.append("Recommendations:")
        lines += list(s.recommendations)
    if s.early_stopping:
        lines.append("Early Stopping Result:")
        for es in s.early_stopping:
            lines += list(es.lines)
    if tok is not None and tok.early_stopping is not None:
        lines.append("TTFT Early Stopping Result:")
        lines += list(tok.early_stopping.ttft_lines)
        lines.append("TPOT Early Stopping Result:")
        lines += list(tok.early_stopping.tpot_lines)
    lines += ["", bar, "Additional Stats", bar]
    if s.scenario is Scenario.SingleStream:
        lines.append(f"QPS w/ loadgen overhead         : {s.qps_with_loadgen_overhead:.2f}")
        lines.append(f"QPS w/o loadgen overhead        : {s.qps_without_loadgen_overhead:.2f}")
        lines.append("")
    elif s.scenario is Scenario.MultiStream:
        lines.append("Per-query latency:  ")
    elif s.scenario is Scenario.Server:
        lines.append(f"Scheduled samples per second : {s.scheduled_samples_per_second:.2f}")
    lines.append(f"Min latency (ns)                : {s.latency_min_ns}")
    lines.append(f"Max latency (ns)                : {s.latency_max_ns}")
    lines.append(f"Mean latency (ns)               : {s.latency_mean_ns}")
    for p, v in s.latency_percentiles_ns.items():
        lines.append(f"{p * 100:.2f} percentile latency (ns)   : {v}")
    if tok is not None:
        lines += _token_stats_lines(s)
    lag = s.extra.get("issue_lag_ns")
    if lag:
        # Not in LoadGen's summary: simbench shows the harness's issue lag for real runs.
        lines.append("")
        lines.append("Issue lag, issued - scheduled (simbench; real runs only):")
        lines.append(f"Max issue lag (ns)              : {lag['max']}")
        for key in ("50.00", "99.00", "99.90"):
            lines.append(f"{key} percentile issue lag (ns) : {lag[key]}")
    power = s.extra.get("device_power")
    if power:
        # Not in LoadGen's summary: simbench's device model (or measured power on a real run).
        lines.append("")
        lines.append(f"Device power (simbench; {'measured' if power.get('measured') else 'simulated device model'}):")
        lines.append(f"Average device power (W)        : {power['avg_device_power_w']:.2f}")
        lines.append(f"Energy per sample (J)           : {power['energy_per_sample_j']:.6g}")
        if power.get("peak_temperature_c") is not None:
            lines.append(f"Peak temperature (C)            : {power['peak_temperature_c']:.2f}")
        lines.append(f"Time throttled (s)              : {power['time_throttled_s']:.3f}")
    lines += _statistics_lines(s.extra)
    lines += ["", bar, "Test Parameters Used", bar]
    lines += [
        f"samples_per_query : {eff.samples_per_query}",
        f"target_qps : {_g(eff.target_qps)}",
        *(
            [f"ttft_latency (ns): {eff.server_ttft_latency}", f"tpot_latency (ns): {eff.server_tpot_latency}"]
            if eff.use_token_latencies
            else [f"target_latency (ns): {eff.target_latency_ns}"]
        ),
        f"max_async_queries : {eff.max_async_queries}",
        f"min_duration (ms): {eff.min_duration_ms}",
        f"max_duration (ms): {eff.max_duration_ms}",
        f"min_query_count : {eff.min_query_count}",
        f"max_query_count : {eff.max_query_count}",
        f"qsl_rng_seed : {eff.qsl_rng_seed}",
        f"sample_index_rng_seed : {eff.sample_index_rng_seed}",
        f"schedule_rng_seed : {eff.schedule_rng_seed}",
        f"accuracy_log_rng_seed : {eff.accuracy_log_rng_seed}",
        f"accuracy_log_probability : {_g(eff.accuracy_log_probability)}",
        f"accuracy_log_sampling_target : {eff.accuracy_log_sampling_target}",
        f"print_timestamps : {int(eff.print_timestamps)}",
        f"performance_issue_unique : {int(eff.performance_issue_unique)}",
        f"performance_issue_same : {int(eff.performance_issue_same)}",
        f"performance_issue_same_index : {eff.performance_issue_same_index}",
        f"performance_sample_count : {eff.performance_sample_count}",
        f"accuracy_sample_count : {eff.accuracy_sample_count}",
        "",
    ]
    nw, ne = len(s.warnings), len(s.errors)
    lines.append(
        "No warnings encountered during test."
        if nw == 0
        else f"{nw} warning{'s' if nw > 1 else ''} encountered. See detailed log."
    )
    lines.append("")
    lines.append(
        "No errors encountered during test."
        if ne == 0
        else f"{ne} ERROR{'S' if ne > 1 else ''} encountered. See detailed log."
    )
    return "\n".join(lines) + "\n"


def _statistics_lines(extra: dict[str, Any]) -> list[str]:
    """simbench's lines for the procedure's warnings (none when no warning fired)."""
    warnings = extra.get("statistics_warnings") or []
    if not warnings:
        return []
    pct = f"{extra['statistics_percentile'] * 100:.1f}th"
    lines = ["", "Statistics warnings (simbench; docs/statistics.md, simbench stats required-queries):"]
    if extra.get("statistics_tau") is not None:
        lines.append(f"{'tau of the ' + pct + ' percentile indicator':<38} : {extra['statistics_tau']:.2f} "
                     f"(upper bound {extra['statistics_tau_high']:.2f})")
        lines.append(f"{'Queries needed (Eq. 2 x tau upper)':<38} : {extra['statistics_required_queries']}")
    lines += [f" * {w}" for w in warnings]
    return lines


def _token_stats_lines(s) -> list[str]:
    """The token block of LoadGen's "Additional Stats" (``results.cc`` ``LogSummary``)."""
    tok = s.tokens
    out = [""]
    if s.scenario is Scenario.SingleStream:
        out.append(f"TPS w/ loadgen overhead         : {tok.tps_with_loadgen_overhead:.2f}")
        out.append(f"TPS w/o loadgen overhead        : {tok.tps_without_loadgen_overhead:.2f}")
    elif s.scenario is Scenario.Server:
        out.append(f"Completed tokens per second                 : {tok.completed_tokens_per_second:.2f}")
    if s.scenario is Scenario.Offline:
        return out
    ft, tp = tok.first_token, tok.time_per_output_token
    out.append(f"Min First Token latency (ns)                : {ft.min_ns}")
    out.append(f"Max First Token latency (ns)                : {ft.max_ns}")
    out.append(f"Mean First Token latency (ns)               : {ft.mean_ns}")
    for p, v in ft.percentiles_ns.items():
        out.append(f"{p * 100:.2f} percentile first token latency (ns)   : {v}")
    out.append("")
    out.append(f"Min Time per Output Token (ns)                : {tp.min_ns}")
    out.append(f"Max Time per Output Token (ns)                : {tp.max_ns}")
    out.append(f"Mean Time per Output Token (ns)               : {tp.mean_ns}")
    for p, v in tp.percentiles_ns.items():
        out.append(f"{p * 100:.2f} percentile time to output token (ns)   : {v}")
    return out


def render_detail_log(
    summary,
    requested: Any = None,
    generated_query_count: int | None = None,
) -> str:
    """The run's ``mlperf_log_detail.txt``: one ``:::MLLOG {json}`` line per key.

    Keys follow LoadGen's detail log (``requested_*``, ``effective_*``,
    ``generated_query_count``, ``error_runtime``, ``result_*``, ``early_stopping_*``,
    ``num_errors``); ``time_ms`` is the simulated/measured time of the event (0 for
    settings, the run's last completion for results), so the file is deterministic.

    Parameters
    ----------
    summary : simbench.summary.Summary
    requested : TestSettings, optional
        The requested settings, logged as ``requested_*``.
    generated_query_count : int, optional
        Queries the schedule generated.

    Returns
    -------
    str
    """
    from simbench.report.json import summary_to_dict

    s = summary
    end_ms = s.extra.get("run_end_ns", 0) / 1e6
    out: list[str] = []

    def log(key: str, value: Any, time_ms: float = 0.0, *, error: bool = False, warning: bool = False) -> None:
        rec = {
            "key": key,
            "value": value,
            "time_ms": time_ms,
            "namespace": "mlperf::logging",
            "event_type": "POINT_IN_TIME",
            "metadata": {"is_error": error, "is_warning": warning, "file": "simbench", "line_no": 0, "pid": 0, "tid": 0},
        }
        out.append(":::MLLOG " + json.dumps(rec, default=str))

    log("sut_name", s.sut_name)
    if requested is not None:
        for k, v in requested.to_dict().items():
            log(f"requested_{k}", v)
    for k, v in s.effective.to_dict().items():
        log(f"effective_{k}", v)
    if generated_query_count is not None:
        log("generated_query_count", generated_query_count)
        log("generated_samples_per_query", s.effective.samples_per_query)
    for e in s.errors:
        log("error_runtime", e, end_ms, error=True)
    for w in s.warnings:
        log("warning_generic_message", w, end_ms, warning=True)
    d = summary_to_dict(s)
    log("result_validity", d["result_validity"], end_ms)
    if s.perf_constraints_met is not None:
        log("result_perf_constraints_met", s.perf_constraints_met, end_ms)
    log("result_min_duration_met", s.min_duration_met, end_ms)
    log("result_min_queries_met", s.min_queries_met, end_ms)
    log("early_stopping_met", s.early_stopping_met, end_ms)
    if not s.result_valid:
        log("result_invalid_reason", "; ".join(s.invalid_reasons), end_ms)
    if s.early_stopping:
        log("early_stopping_result", " ".join(line for es in s.early_stopping for line in es.lines), end_ms)
    log("result_query_count", s.query_count, end_ms)
    skip = {"scenario", "sut_name", "mode", "result_validity", "result_perf_constraints_met",
            "result_min_duration_met", "result_min_queries_met", "early_stopping_met",
            "result_invalid_reason", "headline_metric", "headline_value", "result_query_count",
            "early_stopping_result", "effective_settings", "errors", "warnings"}
    for k, v in d.items():
        if k not in skip and not k.startswith("target_percentile"):
            log(k, v, end_ms)
    log("num_errors", len(s.errors), end_ms)
    return "\n".join(out) + "\n"


def render_no_result_text(scenario: str, sut_name: str, errors: tuple[str, ...] | list[str]) -> str:
    """``mlperf_log_summary.txt`` of a run in which no sample completed (INVALID, with why)."""
    bar = "=" * 48
    lines = [bar, "MLPerf Results Summary", bar, f"SUT name : {sut_name}", f"Scenario : {scenario}",
             "Mode     : PerformanceOnly", "Result is : INVALID", "  No sample completed; nothing to summarise.", ""]
    lines += [bar, f"{len(errors)} ERROR{'S' if len(errors) != 1 else ''} encountered:"]
    lines += [f"  {e}" for e in errors]
    return "\n".join(lines) + "\n"


def render_no_result_detail(scenario: str, sut_name: str, errors) -> str:
    """``mlperf_log_detail.txt`` of a run in which no sample completed: its errors and INVALID."""
    def rec(key: str, value: Any, error: bool = False) -> str:
        return ":::MLLOG " + json.dumps(
            {"key": key, "value": value, "time_ms": 0.0, "namespace": "mlperf::logging", "event_type": "POINT_IN_TIME",
             "metadata": {"is_error": error, "is_warning": False, "file": "simbench", "line_no": 0, "pid": 0, "tid": 0}}
        )

    out = [rec("sut_name", sut_name), rec("effective_scenario", scenario)]
    out += [rec("error_runtime", e, True) for e in errors]
    out += [rec("result_validity", "INVALID"), rec("result_query_count", 0), rec("num_errors", len(errors))]
    return "\n".join(out) + "\n"
