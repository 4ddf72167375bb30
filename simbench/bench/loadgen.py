"""The real load generator: LoadGen's issue rules driving a real SUT, recorded as a Trace.

=========================  ============================================================
``LoadGenerator``          issues one scenario's queries to a SUT and records the run
``BenchmarkRun``           the result: Trace, Summary, errors, issue-lag statistics
``BenchmarkInterrupted``   Ctrl-C during a run; carries the partial ``BenchmarkRun``
``host_info``              CPU model, cores, OS and Python, for provenance
=========================  ============================================================

The queries come from ``simbench.schedule.schedule`` -- the very code the simulator uses --
so a real and a simulated run of the same settings issue the same samples at the same
scheduled times. Issue rules (LoadGen ``loadgen.cc`` ``IssueQueries``):

* SingleStream / MultiStream: the next query is issued when the previous one completes;
  ``issue_ns = issued_ns`` = the moment it is handed over. After issuing, the run stops when
  ``queries_issued >= min_query_count`` and ``issue_ns >= min_duration``; if the
  pre-generated queries run out first the run is INVALID ("Ran out of generated queries").
* Server: every generated query is issued at its scheduled Poisson time ``issue_ns``; the
  moment it was actually handed over is ``issued_ns``, so ``issued_ns - issue_ns`` is the
  harness's lag, and it counts in latency as it does in LoadGen.
* Offline: one query holding every sample, scheduled at 0.

Clock: ``time.perf_counter_ns`` (CLOCK_MONOTONIC on Linux), ns from the run's start.
A completion is timestamped when the SUT calls ``CompletionSink.complete``, as LoadGen
timestamps on entry to ``QuerySamplesComplete``.

Faults end the run INVALID with the reason in ``errors`` and keep everything completed so
far: the SUT raises, reports an id it was not given (or twice), or leaves samples
outstanding with no completion for ``stall_timeout_s``. Ctrl-C raises
``BenchmarkInterrupted`` carrying the partial run so the caller can write it.
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from simbench.bench.sut import QuerySample
from simbench.errors import SimbenchInputError
from simbench.provenance import host_info, run_metadata
from simbench.schedule import QuerySchedule, schedule
from simbench.settings import EffectiveSettings, Scenario, TestMode, TestSettings, resolve
from simbench.trace import Trace

__all__ = [
    "LoadGenerator",
    "BenchmarkRun",
    "BenchmarkInterrupted",
    "RAN_OUT_MESSAGE",
    "INCOMPLETE_MESSAGE",
    "host_info",
]

RAN_OUT_MESSAGE = (
    "Ending early: Ran out of generated queries to issue before the minimum query"
    " count and test duration were reached. Please update the relevant expected"
    " latency or target qps in the TestSettings so they are more accurate."
)
INCOMPLETE_MESSAGE = (
    "Incomplete run: the process ended before it wrote its final trace; this trace holds the"
    " samples it had spilled to disk (every second) by then."
)
_SPIN_NS = 70_000  # sleep until this close to a scheduled time, then busy-wait (measured: sleep overshoots ~65 us here)
_PROGRESS_EVERY_NS = 200_000_000


@dataclass
class BenchmarkRun:
    """One real run of one scenario.

    Attributes
    ----------
    trace : Trace
        Every completed sample (query-major). Partial when ``status != 'complete'``.
    summary : Summary or None
        LoadGen's summary computed from ``trace`` (None only if nothing completed).
    settings : TestSettings
    effective : EffectiveSettings
    errors : tuple of str
        Why the run is INVALID beyond LoadGen's own checks (SUT failure, timeout, Ctrl-C,
        "Ran out of generated queries").
    status : {'complete', 'failed', 'interrupted'}
    issued_queries : int
        Queries handed to the SUT (completed or not).
    outstanding_samples : int
        Samples issued but never completed (lost to a fault or Ctrl-C).
    wall_s : float
        Wall time of the timed part, seconds.
    extra : dict
        Engine-specific results (``loadgen`` for the mlcommons engine).
    summary_error : Exception or None
        Set when computing the Summary raised (a bug): ``summary`` is then None, the trace
        is intact, and the job writes it before re-raising this.
    """

    trace: Trace
    summary: Any
    settings: TestSettings
    effective: EffectiveSettings
    errors: tuple[str, ...]
    status: str
    issued_queries: int
    outstanding_samples: int
    wall_s: float
    extra: dict[str, Any] = field(default_factory=dict)
    summary_error: BaseException | None = None

    def issue_lag_ns(self) -> np.ndarray:
        """Per-query harness lag ``issued_ns - issue_ns`` (int64) of the completed queries."""
        t = self.trace
        if t.issued_ns is None or len(t) == 0:
            return np.zeros(0, dtype=np.int64)
        b = t.query_bounds()
        return t.issued_ns[b] - t.issue_ns[b]


class BenchmarkInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run. ``.run`` is the partial ``BenchmarkRun`` (status 'interrupted')."""

    def __init__(self, run: BenchmarkRun) -> None:
        super().__init__("benchmark interrupted")
        self.run = run


class _Recorder:
    """The CompletionSink the load generator hands to the SUT: timestamps and checks ids."""

    def __init__(self, capacity: int, t0_ns: int) -> None:
        self.t0 = t0_ns
        self.complete_ns = np.full(capacity, -1, dtype=np.int64)
        self.start_ns = np.full(capacity, -1, dtype=np.int64)
        self.batch_id = np.full(capacity, -1, dtype=np.int64)
        self.device_id = np.full(capacity, -1, dtype=np.int64)
        # LLM SUTs (CompletionSink.first_token / complete(n_tokens=)): -1 = not reported
        self.first_token_ns = np.full(capacity, -1, dtype=np.int64)
        self.n_tokens = np.full(capacity, -1, dtype=np.int64)
        self.has_first_token = self.has_tokens = False
        self.issued = 0  # samples handed over; valid ids are [0, issued)
        self.completed = 0
        self.lock = threading.Lock()
        self.idle = threading.Event()  # set when every issued sample has completed
        self.idle.set()
        self.failure: str | None = None
        self.closed = False
        self.last_progress_ns = 0
        self.has_start = self.has_batch = self.has_device = False

    def note_issue(self, n_samples: int) -> None:
        with self.lock:
            self.issued += n_samples
            self.idle.clear()

    def first_token(self, ids) -> bool:
        """Record the first token of outstanding samples; False (run failed) for an id not
        outstanding or already reported."""
        now = time.perf_counter_ns() - self.t0
        with self.lock:
            if self.closed or self.failure is not None:
                return False
            try:
                sel = np.asarray(ids, dtype=np.int64).reshape(-1)
            except (TypeError, ValueError, OverflowError) as exc:
                self._fail_locked(f"SUT reported an invalid first-token id ({exc})")
                return False
            if sel.size == 0:
                return True
            if (sel.min() < 0 or sel.max() >= self.issued or np.any(self.complete_ns[sel] >= 0)
                    or np.any(self.first_token_ns[sel] >= 0) or np.unique(sel).size != sel.size):
                self._fail_locked(
                    "SUT reported a first token for a sample not outstanding or twice: "
                    + ", ".join(str(int(i)) for i in sel[:5])
                )
                return False
            self.first_token_ns[sel] = now
            self.has_first_token = True
        return True

    def complete(self, ids, *, start_ns=None, batch_id=None, device_id=None, n_tokens=None) -> bool:
        """Record a completion; True if recorded, False if refused (run over, wrong id, bad
        ``n_tokens``)."""
        now = time.perf_counter_ns() - self.t0
        if n_tokens is not None:
            tokens = _token_counts(n_tokens, len(ids))
            if isinstance(tokens, str):
                self.fail(tokens)
                return False
        with self.lock:
            if self.closed or self.failure is not None:
                return False
            try:
                if len(ids) == 1:
                    i = int(ids[0])
                    if not 0 <= i < self.issued or self.complete_ns[i] >= 0:
                        self._fail_locked(self._bad_id_message([i]))
                        return False
                    sel: Any = i
                else:
                    sel = np.asarray(ids, dtype=np.int64)
                    if sel.size == 0:
                        return True
                    if (
                        sel.min() < 0
                        or sel.max() >= self.issued
                        or np.any(self.complete_ns[sel] >= 0)
                        or np.unique(sel).size != sel.size
                    ):
                        self._fail_locked(self._bad_id_message(sel.tolist()))
                        return False
            except (TypeError, ValueError, OverflowError) as exc:
                self._fail_locked(f"SUT reported an invalid response id ({exc})")
                return False
            self.complete_ns[sel] = now
            if start_ns is not None:
                self.start_ns[sel] = int(start_ns) - self.t0
                self.has_start = True
            if batch_id is not None:
                self.batch_id[sel] = int(batch_id)
                self.has_batch = True
            if device_id is not None:
                self.device_id[sel] = int(device_id)
                self.has_device = True
            if n_tokens is not None:
                self.n_tokens[sel] = tokens if not isinstance(sel, int) else tokens[0]
                self.has_tokens = True
            self.completed += 1 if isinstance(sel, int) else int(sel.size)
            self.last_progress_ns = now
            if self.completed == self.issued:
                self.idle.set()
        return True

    def _bad_id_message(self, ids: list[int]) -> str:
        bad = []
        for i in ids:
            if not 0 <= i < self.issued:
                bad.append(f"{i} (never issued)")
            elif self.complete_ns[i] >= 0:
                bad.append(f"{i} (already completed)")
        if not bad:
            bad = ["duplicate ids in one completion"]
        return "SUT reported a wrong sample id: " + ", ".join(bad[:5])

    def fail(self, reason: str) -> None:
        with self.lock:
            self._fail_locked(reason)

    def _fail_locked(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
        self.idle.set()

    def close(self) -> None:
        with self.lock:
            self.closed = True


def _token_counts(n_tokens, count: int) -> np.ndarray | str:
    """``n_tokens`` as int64 per id, or the reason it is not (one int or ``count`` ints >= 0)."""
    try:
        arr = np.asarray(n_tokens)
        if arr.dtype.kind not in "iu" or arr.ndim > 1:
            raise TypeError
        arr = np.broadcast_to(arr.astype(np.int64), (count,)) if arr.ndim == 0 else arr.astype(np.int64)
    except (TypeError, ValueError, OverflowError):
        return f"SUT reported n_tokens={n_tokens!r:.60}: expected one integer or one per sample id"
    if arr.shape != (count,) or np.any(arr < 0):
        return f"SUT reported n_tokens={n_tokens!r:.60} for {count} ids: expected {count} integers >= 0"
    return arr


class LoadGenerator:
    """Drive a real SUT through one scenario by LoadGen's rules and record the run.

    Parameters
    ----------
    sut : SUT
        A started-or-not system under test (``simbench.bench.sut``); the generator calls
        ``start``, ``load_samples``, ``issue_query``, ``flush_queries``, ``stop``.
    settings : TestSettings
        Requested settings (``official_settings`` + overrides).
    qsl_total_count, qsl_performance_count : int
        The QSL's sizes (LoadGen's ``ConstructQSL`` arguments), >= 1.
    stall_timeout_s : float
        A SUT that leaves samples outstanding with no completion for this long makes the
        run INVALID ("never completed"); seconds, > 0.
    on_progress : callable, optional
        Called from the issuing thread about every 200 ms with a dict: ``elapsed_s``,
        ``issued_queries``, ``completed_samples``, ``completed_qps`` (samples/s since the
        previous call), ``total_samples`` (Offline) and ``min_duration_s``.
    sut_name : str, optional
        Summary SUT name [default: ``sut.name``].
    metadata : dict, optional
        Extra JSON-able run metadata stored in the Trace.
    spill_dir : path, optional
        Spill the completed samples to Parquet part files here every ``spill_every_s``
        seconds while the run goes on (``simbench.trace.TraceSpill``); ``read_trace`` on the
        folder joins them. [default: no spill]
    spill_every_s : float
        Seconds between spills, > 0 [default 1].

    Raises
    ------
    ValueError
        ``mode`` other than PerformanceOnly, ``server_num_issue_query_threads`` > 0, or a
        non-positive ``stall_timeout_s`` (the message names the field).

    Notes
    -----
    ``server_coalesce_queries`` is honoured (overdue Server queries go out in one
    ``issue_query`` call, each keeping its scheduled time); ``server_max_async_queries``
    and ``max_duration_ms`` stop issuing as in LoadGen.

    Examples
    --------
    >>> from simbench.bench.sut import NullSUT
    >>> from simbench.settings import TestSettings
    >>> s = TestSettings(scenario="Server", server_target_qps=1000, min_duration_ms=100,
    ...                  server_target_latency_ns=15_000_000)
    >>> run = LoadGenerator(NullSUT(), s, qsl_total_count=1024, qsl_performance_count=1024).run()
    >>> run.status, run.summary.result_valid is not None
    ('complete', True)
    """

    def __init__(
        self,
        sut: Any,
        settings: TestSettings,
        *,
        qsl_total_count: int,
        qsl_performance_count: int,
        stall_timeout_s: float = 60.0,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        sut_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        spill_dir: str | Path | None = None,
        spill_every_s: float = 1.0,
    ) -> None:
        if not stall_timeout_s > 0:
            raise SimbenchInputError(f"stall_timeout_s: expected > 0 s, got {stall_timeout_s!r}")
        if settings.mode is not TestMode.PerformanceOnly:
            raise SimbenchInputError(
                f"mode: the real load generator runs PerformanceOnly; {settings.mode.name} is not"
                " supported (use --engine mlcommons for LoadGen's other modes)"
            )
        if settings.server_num_issue_query_threads:
            raise SimbenchInputError("server_num_issue_query_threads: only 0 (one issuing thread) is supported")
        self.sut = sut
        self.settings = settings
        self.effective = resolve(settings, qsl_total_count, qsl_performance_count)
        self.schedule: QuerySchedule = schedule(self.effective)
        self.stall_timeout_ns = int(stall_timeout_s * 1e9)
        self.on_progress = on_progress
        self.sut_name = sut_name or getattr(sut, "name", type(sut).__name__)
        self.metadata = dict(metadata or {})
        if not spill_every_s > 0:
            raise SimbenchInputError(f"spill_every_s: expected > 0 s, got {spill_every_s!r}")
        self.spill_dir = None if spill_dir is None else Path(spill_dir)
        self.spill_every_s = float(spill_every_s)

    # ------------------------------------------------------------------ public
    def run(self) -> BenchmarkRun:
        """Run the scenario; returns the run (INVALID runs included).

        Ctrl-C and SIGTERM (``simbench.interrupt.guard``, installed here when the caller has
        not) end the run cooperatively: the issue loop stops, the SUT is stopped, and the
        partial run is built; further signals meanwhile are only counted, so they cannot
        cost it. With ``spill_dir`` set, the samples completed so far are also spilled to
        Parquet part files every ``spill_every_s`` seconds (``simbench.trace.TraceSpill``),
        so even a SIGKILL leaves them readable.

        Raises
        ------
        BenchmarkInterrupted
            On Ctrl-C/SIGTERM, after the SUT is stopped; ``.run`` holds the partial run.
        """
        from simbench.interrupt import guard

        with guard() as g, g.cooperative():
            self._guard = g
            return self._run(g)

    def _run(self, g) -> BenchmarkRun:
        eff, sched = self.effective, self.schedule
        spq = eff.samples_per_query
        n_q = sched.query_count
        if eff.scenario is Scenario.Offline:
            indices = sched.sample_indices(1)
            # Built before timing starts: LoadGen's Offline query exists before the clock runs.
            self._offline_samples = [QuerySample(i, x) for i, x in enumerate(indices.tolist())]
        else:
            indices = sched.sample_indices(n_q)
        from simbench.schedule import loaded_sample_set

        loaded = loaded_sample_set(eff)
        self.sut.load_samples(loaded.tolist())  # untimed, as LoadGen's LoadSamplesToRam
        self._issue_ns = np.zeros(n_q, dtype=np.int64)
        self._issued_ns = np.zeros(n_q, dtype=np.int64)
        self._queries_issued = 0
        self._errors: list[str] = []
        self._ran_out = False
        t0 = time.perf_counter_ns()
        rec = _Recorder(n_q * spq, t0)
        self._rec = rec
        self._indices = indices
        status = "complete"
        spill = None
        self.sut.start(rec)
        # Python's cyclic collector stops every thread for tens of ms once the heap holds the
        # imported numerics stack; LoadGen (C++) has no such pauses. Freeze what exists and
        # pause the collector for the timed part (the issue loop makes no reference cycles).
        gc_was_enabled = gc.isenabled()
        gc.collect()
        gc.freeze()
        gc.disable()
        if self.spill_dir is not None:
            # Built before the clock starts: its first import of pyarrow.parquet takes ~60 ms,
            # and every Server query of that stretch was issued late (a null SUT at 1,000
            # QPS was INVALID under this engine and VALID under LoadGen). Building it also
            # warms its whole write path (pandas, zstd: ~0.2-0.3 s), which the first spill
            # otherwise paid during the run (docs/fidelity.md, Diagnosis).
            from simbench.trace import TraceSpill

            self._spill_lo = 0
            self._spill_meta = self._metadata("incomplete", [INCOMPLETE_MESSAGE])
            spill = TraceSpill(self.spill_dir, self._spill_snapshot, self.spill_every_s)
        rec.t0 = t0 = time.perf_counter_ns()  # timing starts after the SUT is ready
        self._t0 = t0
        self._last_tick = (0, 0)
        wall0 = time.perf_counter()
        try:
            if spill is not None:
                spill.start()
            self._check_stop()
            match eff.scenario:
                case Scenario.Server:
                    self._run_server(indices)
                case Scenario.Offline:
                    self._run_offline(indices)
                case _:
                    self._run_streams(indices, spq)
            if rec.failure is None:
                self._wait_idle()
            self.sut.flush_queries()
        except KeyboardInterrupt:
            status = "interrupted"
            self._errors.append("Run interrupted by the user (KeyboardInterrupt); trace holds the samples completed before it.")
        finally:
            rec.close()
            wall = time.perf_counter() - wall0
            if gc_was_enabled:
                gc.enable()
            gc.unfreeze()
            if spill is not None:
                spill.stop()
            try:
                self.sut.stop()
            except Exception as exc:  # noqa: BLE001 - the run's data matters more
                self._errors.append(f"SUT stop() raised {type(exc).__name__}: {exc}")
        if rec.failure is not None:
            self._errors.insert(0, rec.failure)
            if status == "complete":
                status = "failed"
        if self._ran_out:
            self._errors.append(RAN_OUT_MESSAGE)
        run = self._finish(status, wall, indices)
        if status == "interrupted":
            raise BenchmarkInterrupted(run)
        return run

    def _check_stop(self) -> None:
        """End the run here if Ctrl-C/SIGTERM came in (the guard only sets the event)."""
        if self._guard.stop.is_set():
            raise KeyboardInterrupt

    def _spill_snapshot(self) -> Trace | None:
        """The samples completed since the previous spill, as a Trace (spill thread)."""
        rec, spq = self._rec, self.effective.samples_per_query
        lo = self._spill_lo
        with rec.lock:
            hi = rec.issued
            c = rec.complete_ns[lo:hi].copy()
            st = rec.start_ns[lo:hi].copy() if rec.has_start else None
            b = rec.batch_id[lo:hi].copy() if rec.has_batch else None
            dv = rec.device_id[lo:hi].copy() if rec.has_device else None
            ft = rec.first_token_ns[lo:hi].copy() if rec.has_first_token else None
            nt = rec.n_tokens[lo:hi].copy() if rec.has_tokens else None
        if not hasattr(self, "_spilled"):
            self._spilled = np.zeros(rec.complete_ns.shape[0], dtype=bool)
        fresh = np.flatnonzero((c >= 0) & ~self._spilled[lo:hi])
        if fresh.size == 0:
            return None
        ids = fresh + lo
        self._spilled[ids] = True
        pending = np.flatnonzero(~self._spilled[lo:hi])
        self._spill_lo = lo + (int(pending[0]) if pending.size else hi - lo)
        q = ids // spq
        masks = {}
        cols = {}
        for name, arr in (("start_ns", st), ("batch_id", b), ("device_id", dv), ("first_token_ns", ft), ("n_tokens", nt)):
            if arr is None:
                cols[name] = None
                continue
            v = arr[fresh]
            if np.any(v < 0):
                masks[name] = v >= 0
            cols[name] = v
        return Trace(
            query_id=q.astype(np.int64),
            sample_index=self._indices[ids].astype(np.int64),
            issue_ns=self._issue_ns[q],
            issued_ns=self._issued_ns[q],
            complete_ns=c[fresh],
            masks=masks,
            metadata=self._spill_meta,
            **cols,
        )

    # ------------------------------------------------------------------ scenarios
    def _issue(self, q: int, issue_ns: int | None, samples: list[QuerySample]) -> None:
        """Hand query ``q`` to the SUT; ``issue_ns`` None means "scheduled = now" (SS/MS)."""
        rec = self._rec
        issued = time.perf_counter_ns() - self._t0
        self._issue_ns[q] = issued if issue_ns is None else issue_ns
        self._issued_ns[q] = issued
        rec.note_issue(len(samples))
        self._queries_issued = q + 1
        self.sut.issue_query(samples)

    def _run_streams(self, indices: np.ndarray, spq: int) -> None:
        eff, rec = self.effective, self._rec
        min_dur_ns = eff.min_duration_ms * 1_000_000
        max_dur_ns = eff.max_duration_ms * 1_000_000
        n_q = self.schedule.query_count
        idx = indices.tolist()
        for q in range(n_q):
            self._check_stop()
            now = time.perf_counter_ns() - self._t0
            if max_dur_ns and now >= max_dur_ns:
                return
            base = q * spq
            # SS/MS: scheduled = issued (LoadGen), both set before the SUT sees the query
            self._issue(q, None, [QuerySample(base + k, idx[base + k]) for k in range(spq)])
            if not self._wait_idle():
                return
            if q + 1 >= eff.min_query_count and self._issue_ns[q] >= min_dur_ns:
                return
        self._ran_out = True

    def _run_server(self, indices: np.ndarray) -> None:
        eff, rec = self.effective, self._rec
        sched = self.schedule.scheduled_ns.tolist()  # type: ignore[union-attr]
        idx = indices.tolist()
        t0 = self._t0
        clock = time.perf_counter_ns
        max_async = eff.max_async_queries
        max_dur_ns = eff.max_duration_ms * 1_000_000
        coalesce = eff.server_coalesce_queries
        n_q = len(sched)
        next_tick = 0
        q = 0
        while q < n_q:
            target = sched[q]
            deadline = t0 + target
            left = deadline - clock()
            if left > 0:
                while left > _SPIN_NS:
                    # In slices of at most 50 ms, so a stop request is seen at low QPS too.
                    time.sleep(min(left - _SPIN_NS, 50_000_000) / 1e9)
                    self._check_stop()
                    left = deadline - clock()
                while clock() < deadline:
                    # Busy-wait the last stretch: sched_yield or sleep(0) would hand the core
                    # to another runnable process for a whole time slice (ms of lag).
                    pass
            if rec.failure is not None:
                return
            if max_dur_ns and clock() - t0 >= max_dur_ns:
                return
            if max_async:
                while rec.issued - rec.completed >= max_async and rec.failure is None:
                    self._check_stall()
                    self._check_stop()
                    time.sleep(0.0001)
            if coalesce:
                # server_coalesce_queries: every query already due goes out in one call;
                # each sample keeps its own scheduled time (LoadGen's coalescing).
                now_rel = clock() - t0
                end = q + 1
                while end < n_q and sched[end] <= now_rel:
                    end += 1
                self._issue_many(q, end, sched, [QuerySample(j, idx[j]) for j in range(q, end)])
                q = end
            else:
                self._issue(q, target, [QuerySample(q, idx[q])])
                q += 1
            now = clock()
            if now >= next_tick:
                next_tick = now + _PROGRESS_EVERY_NS
                self._check_stall()
                self._check_stop()
                self._tick()

    def _issue_many(self, first: int, end: int, sched: list[int], samples: list[QuerySample]) -> None:
        """Server with coalescing: queries [first, end) (one sample each) in one call."""
        self._issue_ns[first:end] = sched[first:end]
        self._issued_ns[first:end] = time.perf_counter_ns() - self._t0
        self._rec.note_issue(len(samples))
        self._queries_issued = end
        self.sut.issue_query(samples)

    def _run_offline(self, indices: np.ndarray) -> None:
        self._issue(0, 0, self._offline_samples)

    # ------------------------------------------------------------------ waiting
    def _check_stall(self) -> bool:
        rec = self._rec
        now = time.perf_counter_ns() - self._t0
        if rec.issued > rec.completed and now - max(rec.last_progress_ns, self._issued_ns[self._queries_issued - 1]) > self.stall_timeout_ns:
            rec.fail(
                f"SUT never completed {rec.issued - rec.completed} outstanding sample(s):"
                f" no completion for {self.stall_timeout_ns / 1e9:g} s (stall timeout)"
            )
            return False
        return rec.failure is None

    def _wait_idle(self) -> bool:
        """Wait until every issued sample completed; False on failure or stall timeout."""
        rec = self._rec
        while not rec.idle.wait(0.05):
            self._check_stop()
            self._tick()
            if not self._check_stall():
                return False
        self._tick()
        return rec.failure is None

    def _tick(self) -> None:
        if self.on_progress is None:
            return
        now = time.perf_counter_ns() - self._t0
        last_t, last_c = self._last_tick
        if now - last_t < _PROGRESS_EVERY_NS and last_t:
            return
        done = self._rec.completed
        qps = (done - last_c) / ((now - last_t) / 1e9) if now > last_t else 0.0
        self._last_tick = (now, done)
        self.on_progress(
            {
                "scenario": self.effective.scenario.value,
                "elapsed_s": now / 1e9,
                "issued_queries": self._queries_issued,
                "completed_samples": done,
                "completed_qps": qps,
                "total_samples": self.effective.samples_per_query if self.effective.scenario is Scenario.Offline else None,
                "min_duration_s": self.effective.min_duration_ms / 1000.0,
            }
        )

    # ------------------------------------------------------------------ results
    def _metadata(self, status: str, errors, *, issued_queries: int | None = None, outstanding: int | None = None) -> dict[str, Any]:
        return run_metadata(
            kind="real",
            engine="simbench",
            settings=self.settings,
            effective=self.effective,
            sut=_describe(self.sut),
            sut_name=self.sut_name,
            generated_query_count=self.schedule.query_count,
            ran_out_of_queries=self._ran_out,
            run_status=status,
            errors=tuple(errors),
            extra={
                "issued_query_count": issued_queries,
                "outstanding_samples": outstanding,
                "clock": "time.perf_counter_ns (monotonic), ns from run start",
                **self.metadata,
            },
        )

    def _finish(self, status: str, wall_s: float, indices: np.ndarray) -> BenchmarkRun:
        from simbench.summary import summarize

        eff, rec = self.effective, self._rec
        spq = eff.samples_per_query
        n_rows = self._queries_issued * spq
        done = np.flatnonzero(rec.complete_ns[:n_rows] >= 0)
        q = done // spq
        start = rec.start_ns[done] if rec.has_start else None
        masks = {}
        if start is not None and np.any(start < 0):
            masks["start_ns"] = start >= 0
        batch = rec.batch_id[done] if rec.has_batch else None
        if batch is not None and np.any(batch < 0):
            masks["batch_id"] = batch >= 0
        device = rec.device_id[done] if rec.has_device else None
        if device is not None and np.any(device < 0):
            masks["device_id"] = device >= 0
        tokens = {}
        for name, has in (("first_token_ns", rec.has_first_token), ("n_tokens", rec.has_tokens)):
            if has:
                tokens[name] = getattr(rec, name)[done]
                if np.any(tokens[name] < 0):
                    masks[name] = tokens[name] >= 0
                    tokens[name] = np.maximum(tokens[name], 0)
        errors = tuple(self._errors)
        trace = Trace(
            query_id=q.astype(np.int64),
            sample_index=indices[done].astype(np.int64),
            issue_ns=self._issue_ns[q],
            issued_ns=self._issued_ns[q],
            start_ns=start,
            complete_ns=rec.complete_ns[done],
            batch_id=batch,
            device_id=device,
            masks=masks,
            metadata=self._metadata(status, errors, issued_queries=self._queries_issued, outstanding=int(n_rows - done.size)),
            **tokens,
        )
        summary, summary_error = None, None
        if len(trace):
            try:
                summary = summarize(trace, eff, sut_name=self.sut_name, errors=errors)
            except Exception as exc:  # noqa: BLE001 - a bug here must not cost the trace
                summary_error = exc
        return BenchmarkRun(
            trace=trace,
            summary=summary,
            settings=self.settings,
            effective=eff,
            errors=errors,
            status=status,
            issued_queries=int(self._queries_issued),
            outstanding_samples=int(n_rows - done.size),
            wall_s=wall_s,
            summary_error=summary_error,
        )


def _describe(sut: Any) -> dict[str, Any]:
    d = getattr(sut, "describe", None)
    try:
        return dict(d()) if callable(d) else {"name": getattr(sut, "name", type(sut).__name__)}
    except Exception as exc:  # noqa: BLE001 - provenance must not break a run
        return {"name": getattr(sut, "name", "?"), "describe_error": repr(exc)}
