"""Run a simbench SUT under the official MLPerf LoadGen (``mlperf_loadgen``) as a peer engine.

=====================  ================================================================
``require_loadgen``    import ``mlperf_loadgen`` or raise a clear ``ImportError``
``to_loadgen_settings`` simbench ``TestSettings`` -> ``mlperf_loadgen.TestSettings``
``run_mlcommons``      one scenario under LoadGen -> ``BenchmarkRun`` (engine 'mlcommons')
=====================  ================================================================

The same SUT object serves both engines: LoadGen's ``IssueQuery`` callback hands it
``QuerySample(id, index)`` lists with LoadGen's response ids, and its completions go to
``QuerySamplesComplete``. The SUT side records, per sample, when it received the sample
and when it reported it (``time.perf_counter_ns``), plus batch/worker ids.

The Trace's times come from LoadGen's own per-sample log (``mlperf_log_trace.json``: scheduled
time, issue delay, latency; see ``simbench.bench.loadgen_logs``) matched one-to-one with the
SUT-side records in issue order (the sample indices are checked to agree), so the Summary
simbench computes is over LoadGen's exact latencies; the SUT-side ``start_ns`` is shifted
onto LoadGen's clock by the median offset between the two records of the issue instant.
Note that LoadGen draws its own samples and Poisson times (mt19937), so the mlcommons and
simbench engines issue statistically equivalent, not identical, schedules.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from simbench.bench.loadgen import BenchmarkInterrupted, BenchmarkRun, _describe
from simbench.provenance import run_metadata
from simbench.bench.sut import QuerySample
from simbench.settings import Scenario, TestSettings, resolve
from simbench.trace import Trace

__all__ = ["require_loadgen", "to_loadgen_settings", "run_mlcommons"]

_RENAMED = {"server_ttft_latency": "ttft_latency", "server_tpot_latency": "tpot_latency"}


def require_loadgen():
    """Import ``mlperf_loadgen``.

    Raises
    ------
    MissingExtraError
        (an ``ImportError`` and a ``SimbenchInputError``) naming
        ``pip install 'simbench[mlcommons]'`` when the optional package is missing.
    """
    try:
        import mlperf_loadgen
    except ImportError:
        from simbench.interrupt import current

        g = current()
        if g is not None and g.stopped:
            # A Ctrl-C/SIGTERM during the extension's initialisation surfaces as ImportError
            # (pybind11 wraps it); it is the interrupt, not a missing package.
            raise KeyboardInterrupt from None
    else:
        return mlperf_loadgen
    from simbench.errors import require_extra

    return require_extra("mlperf_loadgen", "mlcommons", "--engine mlcommons")


def to_loadgen_settings(settings: TestSettings):
    """The same settings as an ``mlperf_loadgen.TestSettings`` (field names are LoadGen's)."""
    lg = require_loadgen()
    out = lg.TestSettings()
    for name, value in settings.to_dict().items():
        if name == "scenario":
            out.scenario = getattr(lg.TestScenario, settings.scenario.value)
        elif name == "mode":
            out.mode = getattr(lg.TestMode, settings.mode.name)
        else:
            target = _RENAMED.get(name, name)
            if hasattr(out, target):
                setattr(out, target, value)
    return out


class _SutSideSink:
    """CompletionSink that checks ids, forwards to LoadGen and records SUT-side timestamps.

    LoadGen's response ids are pointers: a wrong id must never reach it. After a failure
    (SUT error, wrong id, stall, Ctrl-C) every outstanding and every later sample is
    completed to LoadGen at once ("drained") so LoadGen can finish; drained samples are not
    SUT completions and are left out of the Trace.
    """

    def __init__(self, lg) -> None:
        self.lg = lg
        self.lock = threading.Lock()
        self.outstanding: set[int] = set()
        self.completed: dict[int, tuple[int, int, int, int]] = {}
        self.failure: str | None = None
        self.last_progress_ns = time.perf_counter_ns()
        self.order: list[int] = []  # completed ids in completion order (for the spill)
        self.first_token_at: dict[int, int] = {}  # id -> perf_counter_ns of its first token
        self.n_tokens: dict[int, int] = {}  # id -> the SUT's n_tokens

    def note_issue(self, ids: list[int]) -> bool:
        """Register issued ids; False (and the ids drained) once the run has failed."""
        with self.lock:
            if self.failure is None:
                if not self.outstanding:
                    self.last_progress_ns = time.perf_counter_ns()
                self.outstanding.update(ids)
                return True
        self._drain(ids)
        return False

    def first_token(self, ids) -> bool:
        """Record and forward a first token (``FirstTokenComplete``); False if refused."""
        now = time.perf_counter_ns()
        try:
            keys = [int(i) for i in ids]
        except (TypeError, ValueError) as exc:
            self.fail(f"SUT reported an invalid first-token id ({exc})")
            return False
        with self.lock:
            if self.failure is not None:
                return False
            bad = [i for i in keys if i not in self.outstanding or i in self.first_token_at]
            if bad or len(set(keys)) != len(keys):
                reason = "SUT reported a first token for a sample not outstanding or twice: " + ", ".join(map(str, (bad or keys)[:5]))
            else:
                reason = None
                for i in keys:
                    self.first_token_at[i] = now
        if reason is not None:
            self.fail(reason)
            return False
        self.lg.FirstTokenComplete([self.lg.QuerySampleResponse(i, 0, 0) for i in keys])
        return True

    def complete(self, ids, *, start_ns=None, batch_id=None, device_id=None, n_tokens=None) -> bool:
        """Record and forward a completion; True if recorded, False if refused."""
        now = time.perf_counter_ns()
        if n_tokens is not None:
            from simbench.bench.loadgen import _token_counts

            tokens = _token_counts(n_tokens, len(ids))
            if isinstance(tokens, str):
                self.fail(tokens)
                return False
        s = -1 if start_ns is None else int(start_ns)
        b = -1 if batch_id is None else int(batch_id)
        dv = -1 if device_id is None else int(device_id)
        try:
            keys = [int(i) for i in ids]
        except (TypeError, ValueError) as exc:
            self.fail(f"SUT reported an invalid response id ({exc})")
            return False
        with self.lock:
            if self.failure is not None:
                return False
            bad = [i for i in keys if i not in self.outstanding]
            if bad or len(set(keys)) != len(keys):
                reason = "SUT reported a wrong sample id: " + ", ".join(
                    f"{i} ({'already completed' if i in self.completed else 'never issued'})" for i in bad[:5]
                ) if bad else "SUT reported a wrong sample id: duplicate ids in one completion"
            else:
                reason = None
                for k, i in enumerate(keys):
                    self.outstanding.discard(i)
                    self.completed[i] = (now, s, b, dv)
                    if n_tokens is not None:
                        self.n_tokens[i] = int(tokens[k])
                self.order.extend(keys)
                self.last_progress_ns = now
        if reason is not None:
            self.fail(reason)
            return False
        if n_tokens is None:
            self.lg.QuerySamplesComplete([self.lg.QuerySampleResponse(i, 0, 0) for i in keys])
        else:
            self.lg.QuerySamplesComplete([self.lg.QuerySampleResponse(i, 0, 0, int(n)) for i, n in zip(keys, tokens)])
        return True

    def fail(self, reason: str) -> None:
        with self.lock:
            if self.failure is None:
                self.failure = reason
            pending = list(self.outstanding)
            self.outstanding.clear()
        self._drain(pending)

    def _drain(self, ids: list[int]) -> None:
        if ids:
            self.lg.QuerySamplesComplete([self.lg.QuerySampleResponse(int(i), 0, 0) for i in ids])

    def watch(self, stop: threading.Event, stall_timeout_ns: int) -> None:
        """Fail the run when samples stay outstanding with no completion for the timeout."""
        while not stop.wait(0.05):
            with self.lock:
                stalled = bool(self.outstanding) and time.perf_counter_ns() - self.last_progress_ns > stall_timeout_ns
                n = len(self.outstanding)
            if stalled:
                self.fail(
                    f"SUT never completed {n} outstanding sample(s): no completion for"
                    f" {stall_timeout_ns / 1e9:g} s (stall timeout)"
                )
                return


class _SutSideSpill:
    """Snapshots of the samples completed since the last spill, SUT-side times (as the
    interrupted path records them): ns from the first sample the SUT received."""

    def __init__(self, issued: list, issue_lock: threading.Lock, sink: _SutSideSink, eff, meta: dict[str, Any]) -> None:
        self.issued, self.issue_lock, self.sink, self.eff, self.meta = issued, issue_lock, sink, eff, meta
        self.done = 0  # entries of sink.order already spilled
        self.seen = 0  # entries of issued already indexed
        self.pos: dict[int, int] = {}  # loadgen id -> issue position

    def __call__(self) -> Trace | None:
        with self.sink.lock:
            new = self.sink.order[self.done:]
            recs = [self.sink.completed[i] for i in new]
            self.done += len(new)
        if not new:
            return None
        with self.issue_lock:
            fresh = self.issued[self.seen:]
            first_seen = self.issued[0][2]
        for k, (lid, _idx, _t) in enumerate(fresh, start=self.seen):
            self.pos[lid] = k
        self.seen += len(fresh)
        pos = np.array([self.pos[i] for i in new], dtype=np.int64)
        order = np.argsort(pos, kind="stable")
        pos = pos[order]
        c = np.array(recs, dtype=np.int64).reshape(-1, 4)[order]
        idx = np.array([self.issued[k][1] for k in pos], dtype=np.int64)
        seen = np.array([self.issued[k][2] for k in pos], dtype=np.int64) - first_seen
        spq = self.eff.samples_per_query
        q = pos if self.eff.scenario is Scenario.Server else pos // spq
        return Trace(
            query_id=q,
            sample_index=idx,
            issue_ns=seen,
            issued_ns=seen,
            complete_ns=c[:, 0] - first_seen,
            start_ns=np.where(c[:, 1] >= 0, c[:, 1] - first_seen, 0),
            batch_id=c[:, 2],
            device_id=c[:, 3],
            masks={"start_ns": c[:, 1] >= 0, "batch_id": c[:, 2] >= 0, "device_id": c[:, 3] >= 0},
            metadata=self.meta,
        )


def run_mlcommons(
    sut: Any,
    settings: TestSettings,
    *,
    qsl_total_count: int,
    qsl_performance_count: int,
    log_dir: str | Path,
    metadata: dict[str, Any] | None = None,
    enable_trace: bool = True,
    stall_timeout_s: float = 60.0,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    spill_dir: str | Path | None = None,
    spill_every_s: float = 1.0,
) -> BenchmarkRun:
    """Run one scenario of ``sut`` under the official LoadGen and record it as simbench does.

    Parameters
    ----------
    sut : SUT
    settings : TestSettings
        Passed field for field to ``mlperf_loadgen.TestSettings`` (no conf file is read by
        LoadGen, so the values are exactly these).
    qsl_total_count, qsl_performance_count : int
        ``ConstructQSL`` sizes.
    log_dir : path
        Where LoadGen writes its four logs (trace enabled).
    metadata : dict, optional
        Extra Trace metadata.
    enable_trace : bool
        LoadGen's ``enable_trace`` (per-sample timestamps). Without it the Trace holds
        SUT-side times only (``issue_ns`` = when the SUT received the sample), which hides
        LoadGen's issue lag; at very high QPS the trace log itself costs throughput.
    stall_timeout_s : float
        Samples outstanding with no completion for this long fail the run, seconds.
    on_progress : callable, optional
        Called about every 200 ms with the same dict as ``LoadGenerator``'s progress
        (queries as seen by the SUT).
    spill_dir : path, optional
        Spill the completed samples (SUT-side times) to Parquet part files here every
        ``spill_every_s`` seconds (``simbench.trace.TraceSpill``).
    spill_every_s : float
        Seconds between spills, > 0 [default 1].

    Returns
    -------
    BenchmarkRun
        ``trace`` with LoadGen's timestamps (see module notes); ``summary`` computed by
        simbench from it; ``extra['loadgen']`` holds LoadGen's own results and the
        metric-by-metric comparison.

    Raises
    ------
    ImportError
        ``mlperf_loadgen`` missing.
    BenchmarkInterrupted
        Ctrl-C or SIGTERM (``simbench.interrupt.guard``; LoadGen itself is not stopped).

    Notes
    -----
    LoadGen cannot be stopped mid-run. On a fault (the SUT raises, reports a wrong id, or
    stalls) simbench stops passing samples to the SUT and completes them to LoadGen at once,
    so LoadGen runs to the end of its schedule quickly; the run is INVALID with the reason,
    and the Trace keeps only real SUT completions. On Ctrl-C the SUT-side partial Trace
    (times as seen by the SUT) is returned through ``BenchmarkInterrupted`` at once, while
    LoadGen finishes in a daemon thread. If LoadGen's logs cannot be read afterwards (e.g.
    the disk filled while LoadGen wrote them), the SUT-side Trace is returned with the
    reason in ``errors``.
    """
    lg = require_loadgen()
    eff = resolve(settings, qsl_total_count, qsl_performance_count)
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    sink = _SutSideSink(lg)
    issued: list[tuple[int, int, int]] = []  # (loadgen id, index, perf_counter_ns) in issue order
    issue_lock = threading.Lock()

    def issue_cb(query_samples) -> None:
        now = time.perf_counter_ns()
        samples = [QuerySample(int(q.id), int(q.index)) for q in query_samples]
        with issue_lock:
            issued.extend((s.id, s.index, now) for s in samples)
        if not sink.note_issue([s.id for s in samples]):
            return
        try:
            sut.issue_query(samples)
        except Exception as exc:  # noqa: BLE001 - LoadGen must never see a Python error
            sink.fail(f"SUT raised {type(exc).__name__}: {exc}")

    def flush_cb() -> None:
        sut.flush_queries()

    lg_sut = lg.ConstructSUT(issue_cb, flush_cb)
    lg_qsl = lg.ConstructQSL(
        qsl_total_count,
        eff.performance_sample_count,
        lambda idx: sut.load_samples(list(idx)),
        lambda idx: sut.unload_samples(list(idx)),
    )
    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(log_dir)
    log_settings.log_output.copy_summary_to_stdout = False
    log_settings.enable_trace = enable_trace
    from simbench.interrupt import guard

    with guard() as g, g.cooperative():
        run = _run_loadgen(
            lg, lg_sut, lg_qsl, log_settings, sut, sink, settings, eff, issued, issue_lock, metadata,
            stall_timeout_s, on_progress, spill_dir, spill_every_s, g,
        )
    return run


def _run_loadgen(lg, lg_sut, lg_qsl, log_settings, sut, sink, settings, eff, issued, issue_lock, metadata,
                 stall_timeout_s, on_progress, spill_dir, spill_every_s, g) -> BenchmarkRun:
    from simbench.bench.loadgen_logs import compare_with_loadgen, import_loadgen_dir
    from simbench.summary import summarize

    log_dir = Path(log_settings.log_output.outdir)
    sut.start(sink)
    status = "complete"
    errors: list[str] = []
    stop_watch = threading.Event()
    watchdog = threading.Thread(target=sink.watch, args=(stop_watch, int(stall_timeout_s * 1e9)), daemon=True)
    watchdog.start()
    lg_settings = to_loadgen_settings(settings)
    # LoadGen runs in its own thread so that Ctrl-C reaches this (main) thread at once.
    runner = threading.Thread(
        target=lg.StartTestWithLogSettings, args=(lg_sut, lg_qsl, lg_settings, log_settings), name="mlperf-loadgen", daemon=True
    )
    spill = None
    if spill_dir is not None:
        from simbench.bench.loadgen import INCOMPLETE_MESSAGE
        from simbench.trace import TraceSpill

        spill_meta = run_metadata(
            kind="real", engine="mlcommons", settings=settings, effective=eff, sut=_describe(sut),
            run_status="incomplete", errors=(INCOMPLETE_MESSAGE,),
            extra={"clock": "SUT side (time.perf_counter_ns), ns from the first sample received", **(metadata or {})},
        )
        spill = TraceSpill(spill_dir, _SutSideSpill(issued, issue_lock, sink, eff, spill_meta), spill_every_s)
    wall0 = time.perf_counter()
    runner.start()
    if spill is not None:
        spill.start()
    try:
        last = (time.perf_counter(), 0)
        while runner.is_alive():
            runner.join(0.2)
            if g.stop.is_set():
                raise KeyboardInterrupt
            if on_progress is not None:
                now, done = time.perf_counter(), len(sink.completed)
                on_progress(
                    {
                        "scenario": eff.scenario.value,
                        "elapsed_s": now - wall0,
                        "issued_queries": len(issued) // (1 if eff.scenario is Scenario.Offline else eff.samples_per_query),
                        "completed_samples": done,
                        "completed_qps": (done - last[1]) / max(now - last[0], 1e-9),
                        "total_samples": eff.samples_per_query if eff.scenario is Scenario.Offline else None,
                        "min_duration_s": eff.min_duration_ms / 1000.0,
                    }
                )
                last = (now, done)
    except KeyboardInterrupt:
        wall = time.perf_counter() - wall0
        sink.fail("Run interrupted by the user (KeyboardInterrupt); trace holds SUT-side times of the samples completed before it.")
        stop_watch.set()
        if spill is not None:
            spill.stop()
        sut.stop()
        trace = _merge(None, list(issued), sink, eff)
        trace.metadata.update(
            run_metadata(
                kind="real",
                engine="mlcommons",
                settings=settings,
                effective=eff,
                sut=_describe(sut),
                generated_query_count=None,
                run_status="interrupted",
                errors=(sink.failure,),
                extra={"clock": "SUT side (time.perf_counter_ns), ns from the first sample received", **(metadata or {})},
            )
        )
        summary = summarize(trace, eff, sut_name=getattr(sut, "name", "SUT"), errors=(sink.failure,)) if len(trace) else None
        raise BenchmarkInterrupted(
            BenchmarkRun(trace=trace, summary=summary, settings=settings, effective=eff, errors=(sink.failure,),
                         status="interrupted", issued_queries=0, outstanding_samples=len(issued) - len(sink.completed), wall_s=wall)
        ) from None
    if spill is not None:
        spill.stop()
    wall = time.perf_counter() - wall0
    stop_watch.set()
    sut.stop()
    lg.DestroyQSL(lg_qsl)
    lg.DestroySUT(lg_sut)
    if sink.failure:
        errors.insert(0, sink.failure)
        status = "failed"
    try:
        imported = import_loadgen_dir(log_dir)
    except Exception as exc:  # noqa: BLE001 - the SUT's completions must survive unreadable logs
        errors.append(f"LoadGen's logs in {log_dir} could not be read ({exc}); trace holds SUT-side times")
        trace = _merge(None, list(issued), sink, eff)
        trace.metadata.update(
            run_metadata(
                kind="real", engine="mlcommons", settings=settings, effective=eff, sut=_describe(sut),
                run_status="failed", errors=errors,
                extra={"clock": "SUT side (time.perf_counter_ns), ns from the first sample received", **(metadata or {})},
            )
        )
        summary = summarize(trace, eff, sut_name=getattr(sut, "name", "SUT"), errors=tuple(errors)) if len(trace) else None
        return BenchmarkRun(trace=trace, summary=summary, settings=settings, effective=eff, errors=tuple(errors),
                            status="failed", issued_queries=0, outstanding_samples=len(issued) - len(sink.completed), wall_s=wall)
    errors += [e for e in imported.detail.get("_errors", []) if "uncommitted" not in e]
    trace = _merge(imported.trace, issued, sink, eff)
    trace.metadata.update(
        run_metadata(
            kind="real",
            engine="mlcommons",
            settings=settings,
            effective=imported.effective,
            sut=_describe(sut),
            generated_query_count=imported.detail.get("generated_query_count"),
            run_status=status,
            errors=errors,
            extra={
                "requested_effective_settings": eff.to_dict(),
                "loadgen_version": imported.detail.get("loadgen_version"),
                "loadgen_effective_settings": imported.effective.to_dict(),
                "clock": "LoadGen's per-sample trace (ns from the first scheduled query)",
                **(metadata or {}),
            },
        )
    )
    summary = summarize(trace, imported.effective, sut_name=getattr(sut, "name", "SUT"), errors=tuple(errors)) if len(trace) else None
    extra = {
        "loadgen": {
            "result_validity": imported.detail.get("result_validity"),
            "loadgen_version": imported.detail.get("loadgen_version"),
            "log_dir": str(log_dir),
            "comparison": compare_with_loadgen(summary, imported.detail) if summary is not None else {},
        }
    }
    n_issued = len(issued)
    run = BenchmarkRun(
        trace=trace,
        summary=summary,
        settings=settings,
        effective=imported.effective,
        errors=tuple(errors),
        status=status,
        issued_queries=int(imported.detail.get("result_query_count", 0) or 0),
        outstanding_samples=n_issued - len(sink.completed),
        wall_s=wall,
        extra=extra,
    )
    return run


def _merge(lg_trace: Trace | None, issued, sink: _SutSideSink, eff) -> Trace:
    """LoadGen's per-sample trace + the SUT-side records (start/batch/worker) in issue order."""
    n = len(issued)
    ids = np.array([r[0] for r in issued], dtype=np.uint64) if n else np.zeros(0, np.uint64)
    idx = np.array([r[1] for r in issued], dtype=np.int64)
    seen = np.array([r[2] for r in issued], dtype=np.int64)
    comp = [sink.completed.get(int(i)) for i in ids]
    done = np.array([c is not None for c in comp], dtype=bool)
    c_arr = np.array([c if c is not None else (-1, -1, -1, -1) for c in comp], dtype=np.int64).reshape(n, 4)
    if lg_trace is None or len(lg_trace) != n:
        # No per-sample LoadGen log (or a partial one): SUT-side times only; the scheduled
        # time is unknown, so issue_ns = issued_ns = when the SUT received the sample.
        t0 = int(seen.min()) if n else 0
        keep = np.flatnonzero(done)
        spq = eff.samples_per_query
        q = keep // spq if eff.scenario is not Scenario.Server else keep
        masks = {"start_ns": c_arr[keep, 1] >= 0, "batch_id": c_arr[keep, 2] >= 0, "device_id": c_arr[keep, 3] >= 0}
        tokens = {}
        for name, rec in (("first_token_ns", sink.first_token_at), ("n_tokens", sink.n_tokens)):
            if rec:  # LLM SUTs: what the SUT reported, on its own clock
                v = np.array([rec.get(int(i), -1) for i in ids[keep]], dtype=np.int64)
                tokens[name] = np.where(v >= 0, v - t0 if name == "first_token_ns" else v, 0)
                if np.any(v < 0):
                    masks[name] = v >= 0
        return Trace(
            query_id=q.astype(np.int64),
            sample_index=idx[keep],
            issue_ns=seen[keep] - t0,
            issued_ns=seen[keep] - t0,
            complete_ns=c_arr[keep, 0] - t0,
            start_ns=np.where(c_arr[keep, 1] >= 0, c_arr[keep, 1] - t0, 0),
            batch_id=c_arr[keep, 2],
            device_id=c_arr[keep, 3],
            masks=masks,
            metadata={"timestamps": "SUT side (no LoadGen per-sample trace)"},
            **tokens,
        )
    # LoadGen's trace rows are query-major by (query_seq, sample_seq), and LoadGen numbers
    # samples in the order it issues them, so row r is the r-th sample the SUT received.
    order = np.arange(n)
    mismatch = int(np.count_nonzero(lg_trace.sample_index != idx[order])) if n else 0
    if mismatch:
        raise RuntimeError(f"LoadGen trace and SUT-side records disagree on {mismatch} sample indices")
    offset = int(np.median(seen[order] - lg_trace.issued_ns)) if n else 0
    keep = np.flatnonzero(done[order])  # drained samples (after a fault) are not SUT completions
    sel = order[keep]
    start = c_arr[sel, 1]
    masks = {}
    if np.any(start < 0):
        masks["start_ns"] = start >= 0
    batch, device = c_arr[sel, 2], c_arr[sel, 3]
    if np.any(batch < 0):
        masks["batch_id"] = batch >= 0
        masks["device_id"] = device >= 0
    meta = dict(lg_trace.metadata)
    meta.pop("warnings", None)  # the run's own summary (summarize below) decides its warnings
    meta["sut_clock_offset_ns"] = offset
    for name in ("first_token_ns", "n_tokens"):  # LLM runs: LoadGen's token records
        col = getattr(lg_trace, name)
        if col is not None:
            masks.pop(name, None)
            if name in lg_trace.masks:
                masks[name] = lg_trace.masks[name][keep]
    tokens = {n: getattr(lg_trace, n)[keep] for n in ("first_token_ns", "n_tokens") if getattr(lg_trace, n) is not None}
    if sink.n_tokens:
        # The counts the SUT passed to LoadGen (equal to mlperf_log_accuracy.json's, which
        # holds only the responses accuracy_log_probability drew).
        sut_counts = np.array([sink.n_tokens.get(int(i), -1) for i in ids[sel]], dtype=np.int64)
        tokens["n_tokens"] = np.maximum(sut_counts, 0)
        masks.pop("n_tokens", None)
        if np.any(sut_counts < 0):
            masks["n_tokens"] = sut_counts >= 0
        meta["import_warnings"] = [w for w in meta.get("import_warnings", []) if "token_count" not in w and "token counts" not in w]
    meta["sut_side_latency_ns_median"] = int(np.median(c_arr[sel, 0] - seen[sel])) if sel.size else None
    return Trace(
        query_id=lg_trace.query_id[keep],
        sample_index=lg_trace.sample_index[keep],
        issue_ns=lg_trace.issue_ns[keep],
        issued_ns=lg_trace.issued_ns[keep],
        complete_ns=lg_trace.complete_ns[keep],
        start_ns=np.where(start >= 0, start - offset, 0),
        batch_id=batch,
        device_id=device,
        masks=masks,
        metadata=meta,
        **tokens,
    )
