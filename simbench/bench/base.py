"""The pieces every real SUT adapter shares: the LoadGen-shaped SUT protocol and the
worker pool with its dynamic batcher.

=====================  ================================================================
``QuerySample``        one sample of a query: response ``id`` and QSL ``index``
``CompletionSink``     what a SUT calls to report completions (or a failure)
``SUT``                the protocol every SUT follows
``BatchQueue``         the FIFO a pool's workers drain in batches
``PooledSUT``          workers pulling batches from a ``BatchQueue`` (base of the callable,
                       ONNX Runtime and HTTP adapters)
=====================  ================================================================

This module sits below the adapters (``simbench.bench.sut``, ``simbench.bench.http``), so
they import it and never each other.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from typing import Any, NamedTuple, Protocol, Sequence, runtime_checkable

import numpy as np

from simbench.batching import DynamicBatching, NoBatching
from simbench.errors import SimbenchInputError

__all__ = ["QuerySample", "CompletionSink", "SUT", "BatchQueue", "PooledSUT"]


class QuerySample(NamedTuple):
    """One sample of a query, as LoadGen's ``QuerySample``.

    Attributes
    ----------
    id : int
        Response id; report it back through ``CompletionSink.complete``. Opaque to the SUT.
    index : int
        QSL index of the sample (which input to run).
    """

    id: int
    index: int


@runtime_checkable
class CompletionSink(Protocol):
    """Where a SUT reports completions (LoadGen's ``QuerySamplesComplete``). Thread-safe."""

    def complete(
        self,
        ids: Sequence[int],
        *,
        start_ns: int | None = None,
        batch_id: int | None = None,
        device_id: int | None = None,
        n_tokens: int | Sequence[int] | None = None,
    ) -> bool | None:
        """Report samples complete; the sink timestamps the call on entry.

        Returns True when the completion was recorded and False when it was refused (the
        run already ended -- stopped, failed or timed out -- or an id was wrong), so a SUT
        can keep its own log of exactly what the harness counted.

        Parameters
        ----------
        ids : sequence of int
            Response ids (``QuerySample.id``) of the finished samples.
        start_ns : int, optional
            ``time.perf_counter_ns()`` when their execution began (batch dispatch).
        batch_id, device_id : int, optional
            Which batch and which worker served them.
        n_tokens : int or sequence of int, optional
            LLM SUTs: output tokens of each sample (one int for all, or one per id; >= 0),
            LoadGen's ``QuerySampleResponse.n_tokens``. Recorded in the Trace's ``n_tokens``.
        """

    def first_token(self, ids: Sequence[int]) -> bool | None:
        """LLM SUTs: report that the first output token of these samples is ready
        (LoadGen's ``FirstTokenComplete``); the sink timestamps the call on entry into the
        Trace's ``first_token_ns``. Call it before ``complete`` for the same ids; returns
        False (and fails the run) for an id not outstanding or reported twice."""

    def fail(self, reason: str) -> None:
        """Report that the SUT cannot go on (the run becomes INVALID with ``reason``)."""


@runtime_checkable
class SUT(Protocol):
    """A system under test, LoadGen-shaped.

    Attributes
    ----------
    name : str
        Shown as "SUT name" in the summary.
    """

    name: str

    def start(self, sink: CompletionSink) -> None:
        """Bind the completion sink and start worker threads (untimed)."""

    def load_samples(self, indices: Sequence[int]) -> None:
        """QSL: bring these sample indices into memory (untimed)."""

    def unload_samples(self, indices: Sequence[int]) -> None:
        """QSL: release them."""

    def issue_query(self, samples: Sequence[QuerySample]) -> None:
        """Accept a query; must return quickly and complete each sample later via the sink."""

    def flush_queries(self) -> None:
        """No more queries are coming (LoadGen's ``FlushQueries``)."""

    def stop(self) -> None:
        """Stop workers; pending samples are abandoned."""

    def describe(self) -> dict[str, Any]:
        """JSON-able description for trace metadata and provenance."""


# ---------------------------------------------------------------------------------------
# Worker pool + batcher shared by the callable and ONNX adapters
# ---------------------------------------------------------------------------------------


class BatchQueue:
    """FIFO of samples that workers drain in batches, by the simulator's dynamic-batching rule.

    A free worker takes ``max_batch`` queued samples at once if that many are waiting;
    otherwise it waits until ``max_batch`` are queued or the *oldest* queued sample has waited
    ``timeout_us`` since it was put in the queue (Triton's ``max_queue_delay_microseconds``;
    ``simbench.sim``'s batcher, ``DynamicBatching``), then takes what is queued. A sample that
    waited out its timeout behind a busy worker is therefore taken as soon as a worker is free.
    Arrival times are ``time.perf_counter_ns`` at ``put_many``.
    """

    def __init__(self, batching: NoBatching | DynamicBatching) -> None:
        self._items: collections.deque[QuerySample] = collections.deque()
        self._arrival_ns: collections.deque[int] = collections.deque()
        self._cv = threading.Condition()
        self._closed = False
        self._max = batching.max_batch
        self._timeout_ns = int(round(batching.timeout_us * 1000))

    def put_many(self, samples: Sequence[QuerySample]) -> None:
        now = time.perf_counter_ns()
        with self._cv:
            self._items.extend(samples)
            self._arrival_ns.extend(itertools.repeat(now, len(samples)))
            self._cv.notify(len(samples))

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._items.clear()
            self._arrival_ns.clear()
            self._cv.notify_all()

    def take(self) -> list[QuerySample] | None:
        """Block for the next batch (never empty); None once closed."""
        with self._cv:
            while True:
                if self._closed:
                    return None
                if not self._items:
                    self._cv.wait()
                    continue
                if len(self._items) >= self._max or self._timeout_ns == 0:
                    break
                # Re-read the head on every wake-up: another worker may have taken it.
                left_ns = self._arrival_ns[0] + self._timeout_ns - time.perf_counter_ns()
                if left_ns <= 0:
                    break
                self._cv.wait(left_ns / 1e9)
            n = min(self._max, len(self._items))
            batch = [self._items.popleft() for _ in range(n)]
            for _ in range(n):
                self._arrival_ns.popleft()
            if self._items:
                self._cv.notify()
            return batch


class PooledSUT:
    """Workers that pull batches from a ``BatchQueue`` and call ``self._run_batch``."""

    name = "PooledSUT"

    def __init__(self, *, workers: int = 1, batching: NoBatching | DynamicBatching | None = None) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise SimbenchInputError(f"workers: expected an integer >= 1, got {workers!r}")
        self.workers = workers
        if batching is not None and not isinstance(batching, (NoBatching, DynamicBatching)):
            raise TypeError(
                "batching: expected simbench.batching.NoBatching or DynamicBatching"
                f" (parse_batching reads the --batching text), got {type(batching).__name__}"
            )
        self.batching = batching or NoBatching()
        self._sink: CompletionSink | None = None
        self._queue: BatchQueue | None = None
        self._threads: list[threading.Thread] = []
        self._batch_seq = 0
        self._seq_lock = threading.Lock()

    def _run_batch(self, indices: np.ndarray, worker: int) -> None:  # pragma: no cover
        raise NotImplementedError

    def start(self, sink: CompletionSink) -> None:
        self._sink = sink
        self._queue = BatchQueue(self.batching)
        self._threads = [
            threading.Thread(target=self._worker, args=(w,), name=f"simbench-sut-{w}", daemon=True)
            for w in range(self.workers)
        ]
        for t in self._threads:
            t.start()

    def load_samples(self, indices: Sequence[int]) -> None:
        pass

    def unload_samples(self, indices: Sequence[int]) -> None:
        pass

    def issue_query(self, samples: Sequence[QuerySample]) -> None:
        self._queue.put_many(samples)  # type: ignore[union-attr]

    def flush_queries(self) -> None:
        pass

    def stop(self) -> None:
        if self._queue is not None:
            self._queue.close()
        for t in self._threads:
            t.join(timeout=1.0)
        self._threads = []

    def _worker(self, worker: int) -> None:
        q, sink = self._queue, self._sink
        while True:
            batch = q.take()  # type: ignore[union-attr]
            if batch is None:
                return
            with self._seq_lock:
                batch_id = self._batch_seq
                self._batch_seq += 1
            start = time.perf_counter_ns()
            try:
                self._run_batch(np.fromiter((s.index for s in batch), np.int64, len(batch)), worker)
            except BaseException as exc:  # a failing SUT ends the run, it must not hang it
                sink.fail(f"SUT raised {type(exc).__name__}: {exc}")  # type: ignore[union-attr]
                return
            sink.complete(  # type: ignore[union-attr]
                [s.id for s in batch], start_ns=start, batch_id=batch_id, device_id=worker
            )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "workers": self.workers,
            "batching": self.batching.describe(),
        }
