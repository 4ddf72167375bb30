"""A null LLM SUT for the official LoadGen: deterministic token timings, no model.

``TokenNullSUT`` answers every sample with a first token ``ttft_s`` after it was issued
(``mlperf_loadgen.FirstTokenComplete``) and completes it ``per_token_s`` per further token
later (``QuerySamplesComplete`` with ``n_tokens`` = ``2 + (7 * index) % 13``), from one
worker thread. ``run_token_loadgen`` runs one scenario of it under LoadGen with
``use_token_latencies`` and writes LoadGen's four logs: the fixture the token-latency
import is checked against (``tests/bench/test_loadgen_tokens.py``) and the example of
``docs/token-latencies.md``. Like LoadGen's ``perftests_null_sut``, it measures the harness,
not a model.
"""

from __future__ import annotations

import array
import heapq
import threading
import time
from pathlib import Path

from simbench.bench.mlcommons import require_loadgen

__all__ = ["TokenNullSUT", "run_token_loadgen", "null_token_count"]


def null_token_count(index: int, short_every: int = 0) -> int:
    """Tokens ``TokenNullSUT`` reports for QSL ``index``: ``2 + (7 * index) % 13``, or 1
    (fewer than LoadGen accepts) for every ``short_every``-th index when ``short_every > 0``."""
    if short_every and index % short_every == 0:
        return 1
    return 2 + (index * 7) % 13


class TokenNullSUT:
    """First token ``ttft_s`` after issue, then ``per_token_s`` per further token (s).

    Parameters
    ----------
    ttft_s, per_token_s : float
        Delays, seconds (> 0). Wall-clock sleeps, so the measured TTFT/TPOT are at least
        these, plus scheduling jitter.
    short_every : int
        0, or report 1 token for every ``short_every``-th QSL index (LoadGen's error path).
    first_token : bool
        Report first tokens (False: only completions with ``n_tokens``, as an Offline LLM
        SUT does; LoadGen records no first token in Offline anyway).
    """

    def __init__(self, ttft_s: float = 0.002, per_token_s: float = 0.0002, short_every: int = 0,
                 first_token: bool = True) -> None:
        self.lg = require_loadgen()
        self.ttft_s, self.per_token_s, self.short_every = float(ttft_s), float(per_token_s), int(short_every)
        self.first_token = bool(first_token)
        self.cv = threading.Condition()
        self.heap: list = []
        self.stopped = False
        self.buf = array.array("B", b"\x01\x02\x03\x04")  # the 4-byte "response" LoadGen logs
        self.ptr = self.buf.buffer_info()[0]
        self.thread = threading.Thread(target=self._work, name="token-null-sut", daemon=True)
        self.thread.start()

    def issue(self, samples) -> None:
        """LoadGen's ``IssueQuery`` callback: schedule the first token and the completion."""
        now = time.perf_counter()
        with self.cv:
            for q in samples:
                n = null_token_count(q.index, self.short_every)
                if self.first_token:
                    heapq.heappush(self.heap, (now + self.ttft_s, 0, q.id, n))
                heapq.heappush(self.heap, (now + self.ttft_s + self.per_token_s * max(n - 1, 1), 1, q.id, n))
            self.cv.notify()

    def _work(self) -> None:
        lg = self.lg
        while True:
            with self.cv:
                while not self.heap and not self.stopped:
                    self.cv.wait()
                if self.stopped and not self.heap:
                    return
                due, kind, sid, n = self.heap[0]
                wait = due - time.perf_counter()
                if wait > 0:
                    self.cv.wait(wait)
                    continue
                heapq.heappop(self.heap)
            if kind == 0:
                lg.FirstTokenComplete([lg.QuerySampleResponse(sid, self.ptr, 4)])
            else:
                lg.QuerySamplesComplete([lg.QuerySampleResponse(sid, self.ptr, 4, n)])

    def stop(self) -> None:
        with self.cv:
            self.stopped = True
            self.cv.notify()
        self.thread.join(10)


def run_token_loadgen(
    out_dir: str | Path,
    scenario: str,
    *,
    ttft_latency_ns: int,
    tpot_latency_ns: int,
    min_query_count: int = 100,
    target_qps: float = 300.0,
    min_duration_ms: int = 300,
    short_every: int = 0,
    accuracy_log_probability: float = 1.0,
    first_token: bool = True,
) -> Path:
    """Run ``TokenNullSUT`` under the official LoadGen with ``use_token_latencies``.

    Parameters
    ----------
    out_dir : path
        LoadGen's log folder (created).
    scenario : str
        ``SingleStream``, ``MultiStream``, ``Server`` or ``Offline``.
    ttft_latency_ns, tpot_latency_ns : int
        LoadGen's ``ttft_latency``/``tpot_latency`` (ns; Server's constraints).
    min_query_count, target_qps, min_duration_ms :
        Run length: ``server_target_qps``/``offline_expected_qps`` = ``target_qps``;
        SingleStream/MultiStream expect 3/5 ms per query.
    short_every : int
        See ``TokenNullSUT``.
    accuracy_log_probability : float
        1.0 logs every response, with its ``token_count``, to ``mlperf_log_accuracy.json``
        (LoadGen's only per-sample record of token counts).
    first_token : bool
        See ``TokenNullSUT``.

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    lg = require_loadgen()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    s = lg.TestSettings()
    s.scenario = getattr(lg.TestScenario, scenario)
    s.mode = lg.TestMode.PerformanceOnly
    s.use_token_latencies = True
    s.ttft_latency, s.tpot_latency = int(ttft_latency_ns), int(tpot_latency_ns)
    s.min_duration_ms, s.min_query_count = int(min_duration_ms), int(min_query_count)
    s.server_target_qps = s.offline_expected_qps = float(target_qps)
    s.single_stream_expected_latency_ns = 3_000_000
    s.multi_stream_expected_latency_ns = 5_000_000
    s.accuracy_log_probability = float(accuracy_log_probability)
    log = lg.LogSettings()
    log.log_output.outdir = str(out)
    log.log_output.copy_summary_to_stdout = False
    log.enable_trace = True
    sut = TokenNullSUT(short_every=short_every, first_token=first_token)
    lg_sut = lg.ConstructSUT(sut.issue, lambda: None)
    lg_qsl = lg.ConstructQSL(100, 100, lambda idx: None, lambda idx: None)
    try:
        lg.StartTestWithLogSettings(lg_sut, lg_qsl, s, log)
    finally:
        sut.stop()
        lg.DestroyQSL(lg_qsl)
        lg.DestroySUT(lg_sut)
    return out
