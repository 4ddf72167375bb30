"""Import MLPerf LoadGen's own log folders as simbench Traces.

=========================  ============================================================
``read_detail_log``        ``mlperf_log_detail.txt`` -> ``{key: value}`` (last value wins)
``read_summary_log``       ``mlperf_log_summary.txt`` -> ``{label: value}``
``read_trace_samples``     per-sample timestamps from ``mlperf_log_trace.json``
``read_accuracy_token_counts``  per-sample ``token_count`` from ``mlperf_log_accuracy.json``
``effective_from_detail``  ``EffectiveSettings`` from the ``effective_*`` detail keys
``import_loadgen_dir``     a whole folder -> ``ImportedLoadGenRun`` (Trace + both summaries)
``compare_with_loadgen``   simbench's Summary side by side with LoadGen's printed numbers
=========================  ============================================================

Timestamps: in the Chrome-trace ``mlperf_log_trace.json``, each ``"Sample"`` begin event
(``"ph": "b"``) sits at the query's *scheduled* time (``ts``, microseconds with ns
resolution) and carries ``issue_start_ns`` (issue delay, actual - scheduled) and
``complete_ns`` (the sample's latency from the scheduled time), both in ns. So

    issue_ns    = ts_ns - ts_ns(first sample)         (scheduled)
    issued_ns   = issue_ns + issue_start_ns
    complete_ns = issue_ns + complete_ns(arg)

which reproduces LoadGen's latencies exactly (checked against its summary percentiles).
Without the trace file a folder still yields LoadGen's results, but no per-sample Trace.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simbench.errors import SimbenchInputError, TraceError
from simbench.settings import EffectiveSettings, Scenario, TestMode
from simbench.trace import Trace

__all__ = [
    "read_detail_log",
    "read_summary_log",
    "read_trace_samples",
    "effective_from_detail",
    "import_loadgen_dir",
    "ImportedLoadGenRun",
    "compare_with_loadgen",
    "find_log_file",
    "read_accuracy_token_counts",
]

_MLLOG = ":::MLLOG "
MAX_LOG_BYTES = 4 << 30
"""Largest LoadGen log file read (4 GiB)."""


def find_log_file(directory: Path, kind: str) -> Path | None:
    """``<dir>/mlperf_log_<kind>.*`` (also with a date prefix or a suffix); None if absent."""
    exts = {"summary": ".txt", "detail": ".txt", "trace": ".json", "accuracy": ".json"}
    cands = sorted(directory.glob(f"*{kind}*{exts[kind]}"))
    cands = [c for c in cands if c.name.startswith("mlperf_log_") or "mlperf_log_" in c.name]
    return cands[0] if cands else None


def read_detail_log(path: str | Path) -> dict[str, Any]:
    """Parse ``mlperf_log_detail.txt`` (``:::MLLOG {json}`` lines).

    Returns
    -------
    dict
        ``key -> value``; repeated keys keep the last value, except ``error_runtime`` /
        ``warning`` style entries, collected under ``'_errors'`` and ``'_warnings'`` from
        each line's ``metadata.is_error`` / ``is_warning``.

    Raises
    ------
    TraceError
        A missing file, no MLLOG line, or MLLOG lines none of which is readable (the
        message quotes the first).
    """
    p = Path(path)
    if not p.is_file():
        raise TraceError(f"{p}: LoadGen detail log not found")
    if p.stat().st_size > MAX_LOG_BYTES:
        raise TraceError(f"{p}: {p.stat().st_size:,} bytes; a LoadGen detail log read here is at most {MAX_LOG_BYTES:,}")
    out: dict[str, Any] = {"_errors": [], "_warnings": []}
    n = 0
    bad: list[str] = []  # the first unreadable MLLOG line, for the message
    bad_count = 0
    for lineno, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
        i = line.find(_MLLOG)
        if i < 0:
            continue
        try:
            rec = json.loads(line[i + len(_MLLOG):])
        except (json.JSONDecodeError, RecursionError) as exc:
            bad_count += 1
            if not bad:
                bad.append(f"line {lineno}: not JSON ({type(exc).__name__}: {str(exc)[:80]})")
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get("key"), str):
            bad_count += 1
            if not bad:
                bad.append(f"line {lineno}: expected a JSON object with a string 'key'")
            continue
        n += 1
        key, value = rec.get("key"), rec.get("value")
        out[key] = value
        meta = rec.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        if meta.get("is_error"):
            out["_errors"].append(f"{key}: {value}")
        elif meta.get("is_warning"):
            out["_warnings"].append(f"{key}: {value}")
    if n == 0 and bad_count:
        raise TraceError(
            f"{p}: {bad_count:,} ':::MLLOG' line(s), none readable ({bad[0]}); expected"
            " ':::MLLOG {\"key\": ..., \"value\": ...}' lines as LoadGen writes them"
        )
    if n == 0:
        raise TraceError(f"{p}: no ':::MLLOG' lines; not a LoadGen detail log")
    return out


def read_summary_log(path: str | Path) -> dict[str, str]:
    """Parse ``mlperf_log_summary.txt``'s ``label : value`` lines into a dict of strings."""
    out: dict[str, str] = {}
    for line in Path(path).read_text(errors="replace").splitlines():
        if ":" in line and not line.startswith(" *"):
            k, v = line.split(":", 1)
            out.setdefault(k.strip(), v.strip())
    return out


@dataclass
class TraceSamples:
    """What ``read_trace_samples`` found: the per-sample arrays and how the file read.

    Attributes
    ----------
    columns : dict of numpy.ndarray
        ``sample_seq``, ``query_seq``, ``sample_index``, ``scheduled_ns`` (absolute trace
        time), ``issue_delay_ns``, ``latency_ns`` (int64, shape (n,), ordered by
        ``sample_seq``).
    truncated : bool
        The file is not complete JSON (a run or copy cut short); the complete lines were
        salvaged.
    skipped : int
        Sample events dropped because a field was missing or not an integer.
    first_tokens : dict of numpy.ndarray or None
        LLM runs (``use_token_latencies``): LoadGen's first-token records. SingleStream,
        MultiStream, Offline: ``"Token"`` events, ``{'sample_seq', 'ttft_ns'}``; Server:
        ``"Token_Latency"`` counter events, which carry no sample id,
        ``{'scheduled_ns', 'ttft_ns'}`` (``ttft_ns = issue_delay + issue_to_done``, ns from
        the scheduled time, like the sample's own latency). None without any.
    """

    columns: dict[str, np.ndarray]
    truncated: bool = False
    skipped: int = 0
    first_tokens: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return int(self.columns["sample_seq"].shape[0])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]


def read_trace_samples(path: str | Path) -> TraceSamples | None:
    """Per-sample records from ``mlperf_log_trace.json``, ordered by ``sample_seq``.

    Returns
    -------
    TraceSamples or None
        None if the file has no Sample events (LoadGen ran with ``enable_trace = False``).

    Raises
    ------
    TraceError
        The file is larger than ``MAX_LOG_BYTES``.
    """
    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0:
        return None
    if p.stat().st_size > MAX_LOG_BYTES:
        raise TraceError(f"{p}: {p.stat().st_size:,} bytes; a LoadGen trace read here is at most {MAX_LOG_BYTES:,}")
    text = p.read_text(errors="replace")
    truncated = False
    try:
        events = json.loads(text)["traceEvents"]
        if not isinstance(events, list):
            raise TypeError
    except (json.JSONDecodeError, KeyError, TypeError, IndexError, RecursionError):
        # A run cut short leaves an unterminated file: salvage complete lines. LoadGen's own
        # complete files fail to parse too (its "LogDetail" trace events quote their key twice,
        # "key":""loadgen_version""), so only a file without LoadGen's closing "LastTrace"
        # event counts as truncated.
        truncated = '{"name":"LastTrace"}' not in text[-4096:]
        events = []
        for line in text.splitlines():
            line = line.strip().rstrip(",")
            if line.startswith("{") and ('"Sample"' in line or '"Token' in line):
                try:
                    events.append(json.loads(line))
                except (json.JSONDecodeError, RecursionError):
                    pass
    rows = []
    skipped = 0
    tokens_by_seq: list[tuple[int, int]] = []
    tokens_by_time: list[tuple[int, int]] = []
    for e in events:
        if isinstance(e, dict) and e.get("name") in ("Token", "Token_Latency"):
            _first_token_row(e, tokens_by_seq, tokens_by_time)
            continue
        if isinstance(e, dict) and e.get("name") == "Sample" and e.get("ph") == "b":
            a = e.get("args")
            ts = e.get("ts")
            if not isinstance(a, dict) or ts is None or "complete_ns" not in a:
                skipped += 1
                continue
            try:
                row = (
                    _int(a["sample_seq"]),
                    _int(a["query_seq"]),
                    _int(a["sample_idx"]),
                    _int(round(float(ts) * 1000)),
                    _int(a["issue_start_ns"]),
                    _int(a["complete_ns"]),
                )
            except (KeyError, ValueError, TypeError, OverflowError):
                skipped += 1
                continue
            rows.append(row)
    if not rows:
        return None
    arr = np.array(sorted(rows), dtype=np.int64)
    first_tokens = None
    if tokens_by_seq:
        t = np.array(sorted(tokens_by_seq), dtype=np.int64)
        first_tokens = {"sample_seq": t[:, 0], "ttft_ns": t[:, 1]}
    elif tokens_by_time:
        t = np.array(sorted(tokens_by_time), dtype=np.int64)
        first_tokens = {"scheduled_ns": t[:, 0], "ttft_ns": t[:, 1]}
    return TraceSamples(
        {
            "sample_seq": arr[:, 0],
            "query_seq": arr[:, 1],
            "sample_index": arr[:, 2],
            "scheduled_ns": arr[:, 3],
            "issue_delay_ns": arr[:, 4],
            "latency_ns": arr[:, 5],
        },
        truncated=truncated,
        skipped=skipped,
        first_tokens=first_tokens,
    )


def _first_token_row(e: dict, by_seq: list, by_time: list) -> None:
    """Append one first-token record of ``mlperf_log_trace.json`` (malformed ones are
    skipped; the import then reports the samples without a first token)."""
    a, ts = e.get("args"), e.get("ts")
    if not isinstance(a, dict) or ts is None:
        return
    try:
        if e.get("name") == "Token" and e.get("ph") == "b":
            by_seq.append((_int(a["sample_seq"]), _int(a["complete_ns"])))
        elif e.get("name") == "Token_Latency" and e.get("ph") == "C":
            by_time.append((_int(round(float(ts) * 1000)), _int(_int(a["issue_delay"]) + _int(a["issue_to_done"]))))
    except (KeyError, ValueError, TypeError, OverflowError):
        return


def read_accuracy_token_counts(path: str | Path) -> dict[int, int]:
    """``seq_id -> token_count`` from ``mlperf_log_accuracy.json`` (LLM runs).

    LoadGen writes ``token_count`` (the SUT's ``n_tokens``, as reported) beside each logged
    response when ``use_token_latencies`` is on (``logging.cc`` ``LogAccuracy``); that is
    the only file holding per-sample token counts. A performance run logs the responses its
    ``accuracy_log_probability`` draws (all of them at 1.0).

    Returns
    -------
    dict
        Empty when the file has no ``token_count`` entries.

    Raises
    ------
    TraceError
        The file is larger than ``MAX_LOG_BYTES`` or is not a JSON array (a truncated file
        is salvaged line by line instead).
    """
    p = Path(path)
    if p.stat().st_size > MAX_LOG_BYTES:
        raise TraceError(f"{p}: {p.stat().st_size:,} bytes; a LoadGen accuracy log read here is at most {MAX_LOG_BYTES:,}")
    text = p.read_text(errors="replace")
    try:
        records = json.loads(text) if text.strip() else []
    except (json.JSONDecodeError, RecursionError):
        records = []
        for line in text.splitlines():
            line = line.strip().rstrip(",")
            if line.startswith("{") and "token_count" in line:
                try:
                    records.append(json.loads(line))
                except (json.JSONDecodeError, RecursionError):
                    pass
    if not isinstance(records, list):
        raise TraceError(f"{p}: expected a JSON array of LoadGen accuracy records, got {type(records).__name__}")
    out: dict[int, int] = {}
    for r in records:
        if isinstance(r, dict) and "token_count" in r and "seq_id" in r:
            try:
                out[_int(r["seq_id"])] = _int(r["token_count"])
            except (ValueError, TypeError, OverflowError):
                continue
    return out


def _int(value: Any) -> int:
    """An int64 from a JSON number (ValueError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SimbenchInputError(value)
    out = int(value)
    if not -(2**63) <= out < 2**63:
        raise SimbenchInputError(value)
    return out


def effective_from_detail(detail: dict[str, Any]) -> EffectiveSettings:
    """``EffectiveSettings`` from the detail log's ``effective_*`` keys.

    Raises
    ------
    TraceError
        A missing key (named).
    """

    def g(key: str, default: Any = None) -> Any:
        full = f"effective_{key}"
        if full in detail:
            return detail[full]
        if default is not None:
            return default
        raise TraceError(f"LoadGen detail log: key {full!r} missing")

    try:
        return EffectiveSettings.from_dict(_effective_dict(detail, g))
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        if isinstance(exc, TraceError):
            raise
        raise TraceError(f"LoadGen detail log: an effective_* value is malformed ({exc})") from None


def _effective_dict(detail: dict[str, Any], g) -> dict[str, Any]:
    mode = g("test_mode")
    return dict(
        scenario=Scenario.parse(g("scenario")),
        mode=TestMode[mode] if isinstance(mode, str) else TestMode(int(mode)),
        samples_per_query=int(g("samples_per_query")),
        target_qps=float(g("target_qps")),
        target_latency_ns=int(g("target_latency_ns")),
        target_latency_percentile=float(g("target_latency_percentile")),
        max_async_queries=int(g("max_async_queries")),
        target_duration_ms=int(g("target_duration_ms")),
        min_duration_ms=int(g("min_duration_ms")),
        max_duration_ms=int(g("max_duration_ms")),
        min_query_count=int(g("min_query_count")),
        max_query_count=int(g("max_query_count")),
        min_sample_count=int(g("min_sample_count")),
        qsl_rng_seed=int(g("qsl_rng_seed")),
        sample_index_rng_seed=int(g("sample_index_rng_seed")),
        schedule_rng_seed=int(g("schedule_rng_seed")),
        accuracy_log_rng_seed=int(g("accuracy_log_rng_seed")),
        accuracy_log_probability=float(g("accuracy_log_probability")),
        accuracy_log_sampling_target=int(g("accuracy_log_sampling_target")),
        print_timestamps=bool(g("print_timestamps")),
        performance_issue_unique=bool(g("performance_issue_unique")),
        performance_issue_same=bool(g("performance_issue_same")),
        performance_issue_same_index=int(g("performance_issue_same_index")),
        performance_sample_count=int(g("performance_sample_count")),
        accuracy_sample_count=int(g("accuracy_sample_count")),
        sample_concatenate_permutation=bool(g("sample_concatenate_permutation")),
        server_coalesce_queries=bool(detail.get("requested_server_coalesce_queries", False)),
        **_token_settings(detail),
    )


def _token_bounds_from_summary(eff: EffectiveSettings, summary_p: Path) -> EffectiveSettings:
    """Offline: the detail log omits the TTFT/TPOT bounds, but LoadGen's summary prints them
    under "Test Parameters Used"; take them from there so the summary re-derives that too."""
    import dataclasses

    values = read_summary_log(summary_p)
    out = {}
    for label, name in (("ttft_latency (ns)", "server_ttft_latency"), ("tpot_latency (ns)", "server_tpot_latency")):
        raw = values.get(label)
        if raw is not None:
            if not raw.isdigit():
                raise TraceError(f"{summary_p}: {label!r}: expected an integer (ns), got {raw!r}")
            out[name] = int(raw)
    return dataclasses.replace(eff, **out)


def _inferred_token_settings(detail: dict[str, Any]) -> dict[str, Any]:
    """``infer_token_latencies`` is not logged as a setting; its result key is. The integer
    ``token_latency_scaling_factor`` is that result over the sample rate LoadGen logs beside
    it (both with 6 significant digits, so the ratio rounds to the integer exactly for
    factors below ~10^5)."""
    pairs = (("result_inferred_completed_tokens_per_second", "result_completed_samples_per_sec"),
             ("result_inferred_tokens_per_second", "result_samples_per_second"))
    for inferred, rate in pairs:
        if inferred in detail:
            a, b = detail[inferred], detail.get(rate)
            numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
            if not numeric or not b or not math.isfinite(a / b):
                raise TraceError(f"LoadGen detail log: {inferred!r} / {rate!r}: expected two numbers, got {a!r}, {b!r}")
            return {"infer_token_latencies": True, "token_latency_scaling_factor": max(0, round(a / b))}
    return {}


def _token_settings(detail: dict[str, Any]) -> dict[str, Any]:
    """Token-latency settings: LoadGen logs them only as ``requested_*`` keys, only when
    ``use_token_latencies`` is on, and the bounds only outside Offline
    (``test_settings_internal.cc`` ``LogRequestedTestSettings``); TestSettingsInternal
    copies them unchanged, so requested = effective."""
    use = detail.get("requested_use_token_latencies", False)
    if not isinstance(use, bool):
        raise TraceError(f"LoadGen detail log: key 'requested_use_token_latencies': expected true/false, got {use!r}")
    out: dict[str, Any] = _inferred_token_settings(detail)
    if not use:
        return out
    out["use_token_latencies"] = True
    for key in ("server_ttft_latency", "server_tpot_latency"):
        full = f"requested_{key}"
        if full in detail:
            value = detail[full]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise TraceError(f"LoadGen detail log: key {full!r}: expected an integer >= 0 (ns), got {value!r}")
            out[key] = value
    return out


@dataclass
class ImportedLoadGenRun:
    """A LoadGen log folder read back.

    Attributes
    ----------
    trace : Trace or None
        Per-sample Trace from ``mlperf_log_trace.json`` (None without it).
    effective : EffectiveSettings
    detail : dict
        The detail log's keys (``result_*``, ``early_stopping_*``, ...).
    summary_text : str or None
        LoadGen's ``mlperf_log_summary.txt`` verbatim.
    summary : Summary or None
        simbench's Summary recomputed from ``trace``.
    """

    trace: Trace | None
    effective: EffectiveSettings
    detail: dict[str, Any]
    summary_text: str | None
    summary: Any = None
    files: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def trace_from_samples(
    samples, metadata: dict[str, Any] | None = None, token_counts: dict[int, int] | None = None
) -> Trace:
    """Build a Trace from ``read_trace_samples`` output (origin: the first scheduled time).

    With LoadGen's first-token records (``TraceSamples.first_tokens``) and/or the accuracy
    log's token counts (``read_accuracy_token_counts``), the Trace gets ``first_token_ns`` =
    ``issue_ns + TTFT`` and ``n_tokens``; samples without a record are masked (see
    ``token_import_warnings`` for why a record can be missing).
    """
    first_tokens = samples.first_tokens if isinstance(samples, TraceSamples) else None
    if isinstance(samples, TraceSamples):
        samples = samples.columns
    origin = int(samples["scheduled_ns"].min())
    issue = samples["scheduled_ns"] - origin
    order = np.lexsort((samples["sample_seq"], samples["query_seq"]))
    cols: dict[str, Any] = {}
    masks: dict[str, np.ndarray] = {}
    if first_tokens is not None:
        ttft, have = _match_first_tokens(samples, first_tokens)
        # LoadGen traces a first token reported after the sample completed but does not
        # record it (logging.cc RecordTokenCompletion): such a record is not a TTFT.
        have &= (ttft >= 0) & (ttft <= samples["latency_ns"])
        cols["first_token_ns"] = np.where(have, issue + ttft, 0)[order]
        if not have.all():
            masks["first_token_ns"] = have[order]
    if token_counts:
        seq = samples["sample_seq"]
        have = np.fromiter((int(q) in token_counts for q in seq), dtype=bool, count=seq.shape[0])
        n = np.fromiter((token_counts.get(int(q), 0) for q in seq), dtype=np.int64, count=seq.shape[0])
        # LoadGen records a negative count as 0 (logging.cc); so does the Trace (n_tokens >= 0).
        cols["n_tokens"] = np.maximum(n, 0)[order]
        if not have.all():
            masks["n_tokens"] = have[order]
    return Trace(
        query_id=samples["query_seq"][order],
        sample_index=samples["sample_index"][order],
        issue_ns=issue[order],
        issued_ns=(issue + samples["issue_delay_ns"])[order],
        complete_ns=(issue + samples["latency_ns"])[order],
        masks=masks,
        metadata=dict(metadata or {}),
        **cols,
    )


def _match_first_tokens(samples: dict[str, np.ndarray], first_tokens: dict[str, np.ndarray]):
    """TTFT per sample (in ``samples`` order) and whether it was found.

    ``"Token"`` events name their sample (``sample_seq``). Server's ``"Token_Latency"``
    counters carry only the query's scheduled time, which is unique per Server query (one
    sample each) unless two Poisson arrivals fall in the same ns; such ties are left
    unmatched rather than guessed.
    """
    n = samples["sample_seq"].shape[0]
    ttft = np.zeros(n, dtype=np.int64)
    if "sample_seq" in first_tokens:
        key_s, key_t = samples["sample_seq"], first_tokens["sample_seq"]
    else:
        key_s, key_t = samples["scheduled_ns"], first_tokens["scheduled_ns"]
    uniq_t, cnt_t = np.unique(key_t, return_counts=True)
    uniq_s, cnt_s = np.unique(key_s, return_counts=True)
    ok_t = uniq_t[cnt_t == 1]
    ok_s = uniq_s[cnt_s == 1]
    pos_t = np.searchsorted(key_t, key_s)  # key_t is sorted (read_trace_samples sorts it)
    pos_t = np.minimum(pos_t, max(key_t.shape[0] - 1, 0))
    have = (key_t.shape[0] > 0) & (key_t[pos_t] == key_s) & np.isin(key_s, ok_t) & np.isin(key_s, ok_s)
    ttft[have] = first_tokens["ttft_ns"][pos_t[have]]
    return ttft, have


def import_loadgen_dir(directory: str | Path) -> ImportedLoadGenRun:
    """Read a LoadGen output folder into a Trace and both summaries.

    Parameters
    ----------
    directory : path
        Holds ``mlperf_log_detail.txt`` (required), ``mlperf_log_summary.txt`` and
        ``mlperf_log_trace.json`` (for the per-sample Trace).

    Returns
    -------
    ImportedLoadGenRun

    Raises
    ------
    TraceError
        No detail log, or one without the effective settings.
    """
    from simbench.summary import summarize

    d = Path(directory)
    if not d.is_dir():
        raise TraceError(f"{d}: " + ("not a folder; expected a LoadGen output folder" if d.exists() else "no such folder"))
    detail_p = find_log_file(d, "detail")
    if detail_p is None:
        raise TraceError(f"{d}: no mlperf_log_detail.txt; not a LoadGen log folder")
    detail = read_detail_log(detail_p)
    try:
        eff = effective_from_detail(detail)
    except TraceError as exc:
        raise TraceError(str(exc).replace("LoadGen detail log", f"{detail_p}", 1)) from None
    summary_p = find_log_file(d, "summary")
    if eff.use_token_latencies and "requested_server_ttft_latency" not in detail and summary_p is not None:
        eff = _token_bounds_from_summary(eff, summary_p)
    trace_p = find_log_file(d, "trace")
    samples = read_trace_samples(trace_p) if trace_p else None
    accuracy_p = find_log_file(d, "accuracy")
    files = {"detail": str(detail_p)}
    if summary_p:
        files["summary"] = str(summary_p)
    if trace_p:
        files["trace"] = str(trace_p)
    token_counts: dict[int, int] = {}
    if eff.use_token_latencies and accuracy_p is not None:
        files["accuracy"] = str(accuracy_p)
        token_counts = read_accuracy_token_counts(accuracy_p)
    trace = None
    summary = None
    warnings = _trace_warnings(samples, detail, eff) if trace_p else ()
    if samples is not None:
        trace = trace_from_samples(
            samples,
            {
                "kind": "real",
                "engine": "mlcommons",
                "source": "mlperf_log_trace.json",
                "scenario": eff.scenario.value,
                "effective_settings": eff.to_dict(),
                "loadgen_version": detail.get("loadgen_version"),
                "sut_name": detail.get("sut_name"),
                "loadgen_files": files,
                "import_warnings": list(warnings),
            },
            token_counts=token_counts,
        )
        if eff.use_token_latencies:
            warnings += token_import_warnings(trace, samples, token_counts, accuracy_p, eff)
            trace.metadata["import_warnings"] = list(warnings)
            trace.metadata["token_latencies"] = {
                "first_token_ns": "issue_ns + TTFT from mlperf_log_trace.json ("
                + ("'Token_Latency' counters matched by scheduled time" if eff.scenario is Scenario.Server else "'Token' events")
                + ")",
                "n_tokens": "token_count from mlperf_log_accuracy.json (matched by seq_id = sample_seq)",
            }
        run_errors = tuple(_run_errors(detail))
        # LoadGen's own warnings of the run (e.g. "Logging allocation detected") count in its
        # "N warnings encountered" line, so they count in the re-derived one too; both travel
        # in the Trace so `simbench trace summary` of the imported file prints the same.
        run_warnings = warnings + tuple(str(w) for w in detail.get("_warnings", []))
        trace.metadata["errors"] = list(run_errors)
        trace.metadata["warnings"] = list(run_warnings)
        summary = summarize(
            trace,
            eff,
            sut_name=str(detail.get("sut_name", "LoadGen")),
            errors=run_errors,
            warnings=run_warnings,
        )
    return ImportedLoadGenRun(
        trace=trace,
        effective=eff,
        detail=detail,
        summary_text=summary_p.read_text() if summary_p else None,
        summary=summary,
        files=files,
        warnings=warnings,
    )


def _trace_warnings(samples: TraceSamples | None, detail: dict[str, Any], eff: EffectiveSettings) -> tuple[str, ...]:
    """Say when ``mlperf_log_trace.json`` holds fewer samples than the run completed.

    The run's sample count is LoadGen's ``result_query_count`` x
    ``effective_samples_per_query`` from the detail log. A truncated file (not complete
    JSON: a copy interrupted, a disk filled) is salvaged line by line; the summary then
    covers only the salvaged samples, so the import says so, on stderr and in summary.json.
    """
    held = len(samples) if samples is not None else 0
    queries = detail.get("result_query_count")
    expected = None
    if isinstance(queries, int) and not isinstance(queries, bool) and queries >= 0:
        expected = queries * eff.samples_per_query
    out = []
    of = f" of {expected:,}" if expected is not None else ""
    if samples is not None and samples.truncated:
        out.append(
            f"trace json truncated: holds {held:,}{of} samples (mlperf_log_trace.json is not complete"
            " JSON; the summary covers only the samples it holds)"
        )
    elif expected is not None and held < expected:
        out.append(f"trace json incomplete: holds {held:,}{of} samples; the summary covers only those")
    if samples is not None and samples.skipped:
        out.append(f"trace json: {samples.skipped:,} Sample events skipped (a field missing or not an integer)")
    return tuple(out)


def token_import_warnings(trace: Trace, samples: TraceSamples, token_counts: dict[int, int], accuracy_p, eff) -> tuple[str, ...]:
    """Say which token data a ``use_token_latencies`` folder lacks, and why.

    TTFT comes from ``mlperf_log_trace.json`` (needs ``enable_trace``); per-sample token
    counts only from ``mlperf_log_accuracy.json``, which holds the responses the run's
    ``accuracy_log_probability`` selected. Without both for every sample, simbench cannot
    re-derive TPOT and the summary falls back to request latency (``summarize`` says so).
    """
    out = []
    n = len(trace)
    if eff.scenario is not Scenario.Offline:
        if samples.first_tokens is None:
            out.append("no first-token records ('Token'/'Token_Latency' events) in mlperf_log_trace.json: no TTFT")
        elif "first_token_ns" in trace.masks:
            miss = int(np.count_nonzero(~trace.masks["first_token_ns"]))
            out.append(
                f"no usable first-token record for {miss:,} of {n:,} samples in mlperf_log_trace.json"
                " (missing, reported after completion, or - Server - two queries scheduled in the same ns)"
            )
    if accuracy_p is None:
        out.append("no mlperf_log_accuracy.json: LoadGen logs per-sample token counts only there, so no TPOT")
    elif not token_counts:
        out.append(f"{accuracy_p}: no token_count entries (was use_token_latencies on?): no TPOT")
    elif "n_tokens" in trace.masks:
        miss = int(np.count_nonzero(~trace.masks["n_tokens"]))
        out.append(
            f"{accuracy_p}: no token_count for {miss:,} of {n:,} samples (it logs the responses that"
            f" accuracy_log_probability = {eff.accuracy_log_probability:g} drew; use 1 for all)"
        )
    return tuple(out)


_BENIGN_ERRORS = ("Loadgen built with uncommitted changes", "Multiple conf files are used")


def _run_errors(detail: dict[str, Any]) -> list[str]:
    return [e for e in detail.get("_errors", []) if not any(b in e for b in _BENIGN_ERRORS)]


def compare_with_loadgen(summary, detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """simbench's Summary next to LoadGen's detail-log results, metric by metric.

    Returns
    -------
    dict
        ``metric -> {'simbench': x, 'loadgen': y, 'rel_diff': (x - y) / y}`` for the
        latency percentiles, min/max/mean, early-stopping estimates, throughput and
        validity (``rel_diff`` None where not numeric or both are 0; ``inf`` where LoadGen
        logged 0, i.e. made no estimate, and simbench reports a number).
    """
    from simbench.report.json import summary_to_dict

    d = summary_to_dict(summary)
    keys = [k for k in d if k.startswith("result_") and k.endswith("_latency_ns")]
    keys += [
        "early_stopping_latency_ss",
        "early_stopping_latency_ms",
        "result_qps_with_loadgen_overhead",
        "result_qps_without_loadgen_overhead",
        "result_scheduled_samples_per_sec",
        "result_completed_samples_per_sec",
        "result_samples_per_second",
        "result_overlatency_query_count",
        "result_query_count",
        "result_validity",
        "early_stopping_met",
    ]
    # LLM runs: LoadGen's token-latency detail keys (results.cc LogDetail) simbench also writes.
    keys += [
        k for k in d
        if k.startswith(("result_time_per_output_token_", "result_time_to_output_token_", "result_token_",
                         "result_completed_tokens_", "result_tokens_per_second", "early_stopping_ttft_",
                         "early_stopping_tpot_", "result_inferred_"))
        and k not in keys
    ]
    per_query = summary.scenario is Scenario.MultiStream
    out: dict[str, dict[str, Any]] = {}
    for k in keys:
        lk = _per_query_key(k) if per_query else k
        if lk not in detail or k not in d:
            continue
        ours, theirs = d[k], detail[lk]
        if ours is None and theirs == 0:
            ours = 0  # LoadGen logs 0 for an estimate it could not make; simbench None
        rel = None
        numeric = isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) and not isinstance(ours, bool)
        if numeric and theirs:
            rel = (float(ours) - float(theirs)) / float(theirs)
        elif numeric and ours != 0:
            rel = math.inf  # LoadGen logged 0 (no estimate) where simbench reports a number: flag it
        out[k] = {"simbench": ours, "loadgen": theirs, "rel_diff": rel}
    return out


def _per_query_key(key: str) -> str:
    """MultiStream: simbench's latency keys are per query; LoadGen names those differently."""
    m = re.match(r"result_(min|max|mean)_latency_ns$", key)
    if m:
        return f"result_{m.group(1)}_query_latency_ns"
    m = re.match(r"result_([0-9.]+)_percentile_latency_ns$", key)
    if m:
        return f"result_{m.group(1)}_percentile_per_query_latency_ns"
    return key
