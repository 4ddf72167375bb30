"""Real systems under test, shaped like MLPerf LoadGen's ``SystemUnderTest``.

A SUT receives *queries* of *samples* and reports each sample complete, exactly as a
LoadGen SUT does (``IssueQuery`` / ``QuerySamplesComplete`` / ``FlushQueries``); a QSL
(``load_samples`` / ``unload_samples``) brings the performance sample set into memory
before timing starts.

=====================  ================================================================
``NullSUT``            completes every sample inside ``issue_query`` (harness overhead)
``CallableSUT``        a Python callable (sync or ``async def``) behind workers + batching
``OnnxSUT``            an ONNX Runtime session behind workers + dynamic batching
``make_sut``           ``'null'``, ``'onnx:resnet50'``, ``'onnx:tiny'``, ``PATH.onnx``,
                       ``http://HOST:PORT/v2/models/NAME`` -> SUT
=====================  ================================================================

``QuerySample``, ``CompletionSink``, ``SUT`` and the worker pool live in
``simbench.bench.base`` (re-exported here), below every adapter, so ``simbench.bench.http``
imports them without importing this module.

The load generator never looks inside a SUT: it hands over ``QuerySample`` lists and
timestamps the calls to ``CompletionSink.complete``. A SUT that raises, reports an id it
was never given, or never reports at all makes the run INVALID (see ``simbench.bench.loadgen``).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from simbench.batching import DynamicBatching, NoBatching
from simbench.bench.base import SUT, CompletionSink, PooledSUT, QuerySample
from simbench.errors import SimbenchInputError, require_extra

__all__ = [
    "QuerySample",
    "CompletionSink",
    "SUT",
    "NullSUT",
    "NullLLMSUT",
    "CallableSUT",
    "OnnxSUT",
    "make_sut",
]


# ---------------------------------------------------------------------------------------
# Null SUT
# ---------------------------------------------------------------------------------------


class NullSUT:
    """Completes every sample inside ``issue_query``: measures the harness alone.

    The counterpart of LoadGen's ``perftests_null_sut``; latencies are pure load-generator
    overhead (issue + completion bookkeeping).
    """

    name = "NullSUT"

    def __init__(self) -> None:
        self._sink: CompletionSink | None = None

    def start(self, sink: CompletionSink) -> None:
        self._sink = sink

    def load_samples(self, indices: Sequence[int]) -> None:
        pass

    def unload_samples(self, indices: Sequence[int]) -> None:
        pass

    def issue_query(self, samples: Sequence[QuerySample]) -> None:
        self._sink.complete([s.id for s in samples])  # type: ignore[union-attr]

    def flush_queries(self) -> None:
        pass

    def stop(self) -> None:
        self._sink = None

    def describe(self) -> dict[str, Any]:
        return {"kind": "null", "name": self.name}


class NullLLMSUT:
    """A null LLM: first token ``ttft_s`` after issue, then ``per_token_s`` per further token.

    Reports each sample's first token (``CompletionSink.first_token``, LoadGen's
    ``FirstTokenComplete``) and then completes it with ``n_tokens = 2 + (7 * index) % 13``
    (2 to 14 tokens), from one worker thread that sleeps until each event is due. No model
    runs: it measures the harness's token path, as ``NullSUT`` measures its request path.
    With ``--model llama2-70b`` (``use_token_latencies``) the Summary judges its TTFT
    (about ``ttft_s``) and TPOT (about ``per_token_s``).

    Parameters
    ----------
    ttft_s, per_token_s : float
        Seconds, > 0 [default 2 ms and 0.2 ms].
    """

    name = "NullLLMSUT"

    def __init__(self, ttft_s: float = 0.002, per_token_s: float = 0.0002) -> None:
        if not (ttft_s > 0 and per_token_s > 0):
            raise SimbenchInputError(f"NullLLMSUT: ttft_s and per_token_s must be > 0 s, got {ttft_s!r}, {per_token_s!r}")
        self.ttft_s, self.per_token_s = float(ttft_s), float(per_token_s)
        self._sink: CompletionSink | None = None
        self._cv = threading.Condition()
        self._heap: list = []
        self._stopped = False
        self._thread: threading.Thread | None = None

    def start(self, sink: CompletionSink) -> None:
        self._sink, self._stopped = sink, False
        self._thread = threading.Thread(target=self._work, name="null-llm-sut", daemon=True)
        self._thread.start()

    def load_samples(self, indices: Sequence[int]) -> None:
        pass

    def unload_samples(self, indices: Sequence[int]) -> None:
        pass

    def issue_query(self, samples: Sequence[QuerySample]) -> None:
        import heapq

        now = time.perf_counter()
        with self._cv:
            for q in samples:
                n = 2 + (int(q.index) * 7) % 13
                heapq.heappush(self._heap, (now + self.ttft_s, 0, q.id, n))
                heapq.heappush(self._heap, (now + self.ttft_s + self.per_token_s * (n - 1), 1, q.id, n))
            self._cv.notify()

    def _work(self) -> None:
        import heapq

        while True:
            with self._cv:
                while not self._heap and not self._stopped:
                    self._cv.wait()
                if self._stopped:
                    return
                due, kind, sid, n = self._heap[0]
                wait = due - time.perf_counter()
                if wait > 0:
                    self._cv.wait(wait)
                    continue
                heapq.heappop(self._heap)
            sink = self._sink
            if sink is None:
                return
            try:
                if kind == 0:
                    sink.first_token([sid])
                else:
                    sink.complete([sid], n_tokens=n)
            except Exception as exc:  # noqa: BLE001 - a dead worker would stall the run
                sink.fail(f"NullLLMSUT: {type(exc).__name__}: {exc}")
                return

    def flush_queries(self) -> None:
        pass

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._heap.clear()
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(10)
        self._sink = None

    def describe(self) -> dict[str, Any]:
        return {"kind": "null-llm", "name": self.name, "ttft_s": self.ttft_s, "per_token_s": self.per_token_s,
                "n_tokens": "2 + (7 * index) % 13"}


class CallableSUT(PooledSUT):
    """A plain Python callable as a SUT: ``fn(indices)`` runs one batch.

    Parameters
    ----------
    fn : callable
        ``fn(indices: numpy.ndarray[int64]) -> Any`` (return value ignored), or an
        ``async def`` coroutine function with the same signature; coroutines run on one event
        loop in a background thread, ``workers`` of them concurrently.
    workers : int
        Concurrent worker threads (>= 1), each taking batches from one shared queue.
    batching : NoBatching or DynamicBatching, optional
        SUT-side batching (``simbench.batching``) [default: one sample per call].
    name : str, optional
        SUT name for the summary [default: the callable's name].

    Notes
    -----
    An exception from ``fn`` ends the run (INVALID, the exception named in the errors).
    """

    def __init__(
        self,
        fn: Callable[[np.ndarray], Any],
        *,
        workers: int = 1,
        batching: NoBatching | DynamicBatching | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(workers=workers, batching=batching)
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "CallableSUT")
        self._is_async = inspect.iscoroutinefunction(fn)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None

    def start(self, sink: CompletionSink) -> None:
        if self._is_async:
            self._loop = asyncio.new_event_loop()
            self._loop_thread = threading.Thread(
                target=self._loop.run_forever, name="simbench-sut-loop", daemon=True
            )
            self._loop_thread.start()
        super().start(sink)

    def stop(self) -> None:
        super().stop()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop_thread.join(timeout=1.0)  # type: ignore[union-attr]
            self._loop.close()
            self._loop = None

    def _run_batch(self, indices: np.ndarray, worker: int) -> None:
        if self._is_async:
            asyncio.run_coroutine_threadsafe(self.fn(indices), self._loop).result()  # type: ignore[arg-type]
        else:
            self.fn(indices)

    def describe(self) -> dict[str, Any]:
        return {"kind": "callable", **super().describe(), "async": self._is_async}


# ---------------------------------------------------------------------------------------
# ONNX Runtime
# ---------------------------------------------------------------------------------------


def _load_session(ort, path: Path, opts):
    """``ort.InferenceSession`` on ``path``; SimbenchInputError if it is not a usable model.

    ONNX Runtime reports a bad file as ``[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load
    model from x failed:Protobuf parsing failed.``; the message keeps the reason only.
    """
    if path.stat().st_size == 0:
        raise SimbenchInputError(f"{path}: not a valid ONNX model (the file is empty)")
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises its own pybind11 types (InvalidProtobuf, Fail, ...)
        text = " ".join(str(exc).split())
        reason = text.rsplit("failed:", 1)[-1].strip() if "failed:" in text else text.rsplit(" : ", 1)[-1].strip()
        reason = reason.rstrip(".") or type(exc).__name__
        if len(reason) > 200:
            reason = reason[:197] + "..."
        raise SimbenchInputError(f"{path}: not a valid ONNX model ({reason})") from None


class OnnxSUT(PooledSUT):
    """An ONNX Runtime ``InferenceSession`` as a SUT (CPU execution provider).

    Parameters
    ----------
    model_path : str or pathlib.Path
        An ``.onnx`` file whose first input has a dynamic (or 1) batch dimension.
    threads : int
        ORT ``intra_op_num_threads`` (0 = ORT's default, one per core).
    workers : int
        Concurrent workers calling ``session.run`` on one shared session.
    batching : NoBatching or DynamicBatching, optional
        SUT-side batching (``simbench.batching``) [default: batch 1].
    input_pool : int
        Distinct input tensors generated by ``load_samples`` (seeded); sample ``i`` uses
        tensor ``i % input_pool``. A CNN's run time does not depend on pixel values, and a
        full 1,024-sample ImageNet-shaped set would need 616 MB.
    seed : int
        Seed of the synthetic inputs.
    name : str, optional
        SUT name [default: ``onnx:<file stem>``].
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        threads: int = 0,
        workers: int = 1,
        batching: NoBatching | DynamicBatching | None = None,
        input_pool: int = 64,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        super().__init__(workers=workers, batching=batching)
        if threads < 0:
            raise SimbenchInputError(f"threads: expected >= 0, got {threads}")
        if input_pool < 1:
            raise SimbenchInputError(f"input_pool: expected >= 1, got {input_pool}")
        ort = require_extra("onnxruntime", "onnx", f"--sut {name or model_path}")

        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise SimbenchInputError(f"{self.model_path}: ONNX model not found")
        self.threads = threads
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = _load_session(ort, self.model_path, opts)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = list(inp.shape)
        if len(shape) < 1:
            raise SimbenchInputError(f"{self.model_path}: input {inp.name!r} has no batch dimension")
        static_batch = shape[0] if isinstance(shape[0], int) else None
        if static_batch not in (None, 1) or (static_batch == 1 and self.batching.max_batch > 1):
            raise SimbenchInputError(
                f"{self.model_path}: input {inp.name!r} has a fixed batch dimension {shape[0]};"
                " batching needs a dynamic batch dimension"
            )
        dims = []
        for d in shape[1:]:
            if not isinstance(d, int) or d < 1:
                raise SimbenchInputError(
                    f"{self.model_path}: input {inp.name!r} has a dynamic non-batch dimension"
                    f" {d!r}; only the batch dimension may be dynamic"
                )
            dims.append(d)
        self.sample_shape = tuple(dims)
        self.dtype = _ORT_DTYPES.get(inp.type)
        if self.dtype is None:
            raise SimbenchInputError(f"{self.model_path}: input type {inp.type} is not supported")
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.input_pool = input_pool
        self.seed = seed
        self._pool: np.ndarray | None = None
        self.name = name or f"onnx:{self.model_path.stem}"
        self.ort_version = ort.__version__

    def load_samples(self, indices: Sequence[int]) -> None:
        if self._pool is None:
            rng = np.random.default_rng(self.seed)
            self._pool = rng.standard_normal((self.input_pool, *self.sample_shape), dtype=np.float32).astype(self.dtype)

    def unload_samples(self, indices: Sequence[int]) -> None:
        pass

    def start(self, sink: CompletionSink) -> None:
        self.load_samples(())
        # One untimed warm-up at the largest batch, so the first timed query does not pay
        # ORT's lazy allocations.
        self._run_batch(np.arange(self.batching.max_batch, dtype=np.int64), 0)
        super().start(sink)

    def _run_batch(self, indices: np.ndarray, worker: int) -> None:
        x = self._pool[indices % self.input_pool]  # type: ignore[index]
        self.session.run(self.output_names, {self.input_name: x})

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "onnxruntime",
            **super().describe(),
            "model_path": str(self.model_path),
            "input": {"name": self.input_name, "sample_shape": list(self.sample_shape), "dtype": str(np.dtype(self.dtype))},
            "intra_op_num_threads": self.threads,
            "onnxruntime_version": self.ort_version,
            "execution_provider": "CPUExecutionProvider",
            "input_pool": self.input_pool,
        }


_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
}


def make_sut(
    spec: str,
    *,
    threads: int = 0,
    workers: int = 1,
    batching: NoBatching | DynamicBatching | None = None,
) -> Any:
    """Build a SUT from its command-line name.

    Parameters
    ----------
    spec : str
        ``'null'``; ``'onnx:resnet50'`` / ``'onnx:small'`` / ``'onnx:tiny'`` (built locally with seeded weights,
        cached, see ``simbench.bench.models``); ``'onnx:PATH'`` or ``PATH.onnx``;
        ``'http://HOST:PORT/v2/models/NAME'`` (a KServe-v2 endpoint, ``simbench.bench.http``).
    threads, workers : int
        ONNX Runtime intra-op threads (0 = ORT default) and concurrent workers.
    batching : NoBatching or DynamicBatching, optional
        SUT-side batching (``simbench.batching.parse_batching`` reads the ``--batching`` text).

    Returns
    -------
    SUT

    Raises
    ------
    ValueError
        An unknown spec (the message lists the accepted forms).
    FileNotFoundError
        A model path that does not exist.
    """
    s = spec.strip()
    if s.lower() == "null":
        return NullSUT()
    if s.lower() == "null-llm":
        return NullLLMSUT()
    if s.lower().startswith("http://"):
        from simbench.bench.http import HttpSUT

        return HttpSUT(s, workers=workers, batching=batching)
    target = s[5:] if s.lower().startswith("onnx:") else s
    if s.lower().startswith("onnx:") or target.lower().endswith(".onnx"):
        from simbench.bench.models import BUILTIN_MODELS, model_path

        if target in BUILTIN_MODELS:
            return OnnxSUT(model_path(target), threads=threads, workers=workers, batching=batching, name=f"onnx:{target}")
        p = Path(target)
        if p.is_dir() or not p.exists():
            builtins = ", ".join(f"onnx:{m}" for m in BUILTIN_MODELS)
            what = "is a folder" if p.is_dir() else "no such file"
            raise SimbenchInputError(f"--sut {spec}: {target}: {what}; expected an .onnx file or a built-in model ({builtins})")
        return OnnxSUT(target, threads=threads, workers=workers, batching=batching)
    raise SimbenchInputError(
        f"--sut: expected 'null', 'null-llm', 'onnx:resnet50', 'onnx:small', 'onnx:tiny', 'onnx:PATH', PATH.onnx or"
        f" http://HOST:PORT/v2/models/NAME, got {spec!r}"
    )
