"""The ``Trace``: one row per sample of one run, and its self-describing Parquet file.

Columns (integer ns from the run's start; see ``docs/reference.md``):

=============  ===============  =========================================================
column         type             meaning
=============  ===============  =========================================================
query_id       int64            LoadGen's query sequence number
sample_index   int64            QSL index of the sample
issue_ns       int64            when the scenario scheduled the query (Server: Poisson time)
issued_ns      int64, nullable  when a real load generator handed it to the SUT
start_ns       int64, nullable  when execution began (batch dispatch)
complete_ns    int64            when the SUT reported the sample complete
batch_id       int64, nullable  which batch served it
device_id      int64, nullable  which replica served it
clock_mhz      int64, nullable  simulated: the device clock the batch ran at (MHz, rounded)
first_token_ns int64, nullable  LLM runs: when the SUT reported the sample's first token
n_tokens       int64, nullable  LLM runs: output tokens the SUT reported for the sample
=============  ===============  =========================================================

The two token columns are optional (LoadGen >= 4.0 ``use_token_latencies`` runs): with
them, TTFT = ``first_token_ns - issue_ns`` and TPOT = ``(complete_ns - first_token_ns) //
(n_tokens - 1)`` (LoadGen's arithmetic, ``simbench.stats.tokens``). Traces written before
they existed simply lack them and read with both None. Every column's unit and meaning is
also stored in its Parquet field metadata (``simbench.doc``), so a file describes itself.

Run metadata (settings, profile and provenance, seeds, engine, host, version, real vs
simulated) is a JSON document stored in the Parquet key-value metadata under
``simbench.run``, so a trace file is self-describing.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from simbench.errors import SimbenchInputError, TraceError
from simbench.output import atomic_path

__all__ = [
    "Trace",
    "COLUMNS",
    "NULLABLE_COLUMNS",
    "TOKEN_COLUMNS",
    "COLUMN_DOCS",
    "write_trace",
    "read_trace",
    "concat_traces",
    "TraceSpill",
    "PARTS_DIR",
    "METADATA_KEY",
]

COLUMNS = (
    "query_id",
    "sample_index",
    "issue_ns",
    "issued_ns",
    "start_ns",
    "complete_ns",
    "batch_id",
    "device_id",
    "clock_mhz",
    "first_token_ns",
    "n_tokens",
)
NULLABLE_COLUMNS = frozenset(
    {"issued_ns", "start_ns", "batch_id", "device_id", "clock_mhz", "first_token_ns", "n_tokens"}
)
#: Per-sample token columns (LLM runs): present together or not at all.
TOKEN_COLUMNS = ("first_token_ns", "n_tokens")
#: Unit and meaning of each column, written into its Parquet field metadata (``simbench.doc``).
COLUMN_DOCS = {
    "query_id": "LoadGen's query sequence number",
    "sample_index": "QSL index of the sample",
    "issue_ns": "ns from the run's start: when the scenario scheduled the query (Server: the Poisson time)",
    "issued_ns": "ns from the run's start: when a real load generator handed the query to the SUT",
    "start_ns": "ns from the run's start: when execution of the sample's batch began",
    "complete_ns": "ns from the run's start: when the SUT reported the sample complete",
    "batch_id": "which batch served the sample",
    "device_id": "which replica served the sample",
    "clock_mhz": "MHz: the simulated device clock when the sample's batch was dispatched",
    "first_token_ns": "ns from the run's start: when the SUT reported the sample's first token"
    " (LoadGen FirstTokenComplete); TTFT = first_token_ns - issue_ns",
    "n_tokens": "output tokens the SUT reported for the sample (LoadGen QuerySampleResponse.n_tokens);"
    " TPOT = (complete_ns - first_token_ns) // (n_tokens - 1)",
}
_DOC_KEY = b"simbench.doc"
REQUIRED_COLUMNS = tuple(c for c in COLUMNS if c not in NULLABLE_COLUMNS)
METADATA_KEY = b"simbench.run"
#: Folder (beside ``trace.parquet``) where a running real run spills its completed samples.
PARTS_DIR = "trace.parts"
# Sorted-ish integer timestamps compress several-fold with delta encoding.
_DELTA_COLUMNS = ("query_id", "issue_ns", "issued_ns", "start_ns", "complete_ns", "batch_id")


@dataclass(eq=False)
class Trace:
    """Per-sample records of one run (real or simulated).

    Rows are query-major: the samples of query ``q`` are contiguous and queries appear in
    ``query_id`` order. Nullable columns are numpy int64 arrays with a boolean mask
    (``masks[name]``, True = present) or None when entirely absent.

    Attributes
    ----------
    query_id, sample_index, issue_ns, complete_ns : numpy.ndarray
        int64, shape (n_samples,).
    issued_ns, start_ns, batch_id, device_id : numpy.ndarray or None
        int64, shape (n_samples,), or None when the producer does not record them.
    clock_mhz : numpy.ndarray or None
        int64 MHz, shape (n_samples,): the clock of the device when the sample's batch was
        dispatched (simulated runs of a profile with a ``dvfs`` section); None otherwise.
    first_token_ns : numpy.ndarray or None
        int64 ns from the run's start, shape (n_samples,): when the SUT reported the
        sample's first token (LLM runs); None when the run recorded no token times.
    n_tokens : numpy.ndarray or None
        int64 >= 0, shape (n_samples,): output tokens reported for the sample (LLM runs).
    masks : dict[str, numpy.ndarray]
        Validity masks for nullable columns that are only partly present.
    metadata : dict
        JSON-able run metadata (``settings``, ``effective_settings``, ``scenario``,
        ``engine``, ``sut``, ``seeds``, ``simbench_version``, ``kind``: 'simulated'/'real',
        ``run_status``...).
    """

    query_id: np.ndarray
    sample_index: np.ndarray
    issue_ns: np.ndarray
    complete_ns: np.ndarray
    issued_ns: np.ndarray | None = None
    start_ns: np.ndarray | None = None
    batch_id: np.ndarray | None = None
    device_id: np.ndarray | None = None
    clock_mhz: np.ndarray | None = None
    first_token_ns: np.ndarray | None = None
    n_tokens: np.ndarray | None = None
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.query_id.shape[0]
        for name in COLUMNS:
            col = getattr(self, name)
            if col is None:
                continue
            if col.ndim != 1 or col.shape[0] != n:
                raise TraceError(f"column {name}: expected shape ({n},), got {col.shape}")
            if col.dtype != np.int64:
                setattr(self, name, col.astype(np.int64))

    def __len__(self) -> int:
        return int(self.query_id.shape[0])

    @property
    def query_count(self) -> int:
        """Number of distinct queries (rows are query-major, so count the boundaries)."""
        if len(self) == 0:
            return 0
        q = self.query_id
        return int(np.count_nonzero(q[1:] != q[:-1]) + 1)

    def query_bounds(self) -> np.ndarray:
        """Row index where each query starts (int64, shape (query_count,))."""
        if len(self) == 0:
            return np.zeros(0, dtype=np.int64)
        q = self.query_id
        changes = q[1:] != q[:-1]  # the same rows as np.diff(q) != 0, in 1/8 of the memory
        if np.all(changes):  # one sample per query (Server, SingleStream): every row starts one
            return np.arange(q.shape[0], dtype=np.int64)
        return np.concatenate([[0], np.flatnonzero(changes) + 1]).astype(np.int64)

    def query_latencies_ns(self) -> np.ndarray:
        """Query latency = max(complete_ns over its samples) - issue_ns (int64, per query)."""
        bounds = self.query_bounds()
        if bounds.shape[0] == len(self):
            return self.complete_ns - self.issue_ns
        return np.maximum.reduceat(self.complete_ns, bounds) - self.issue_ns[bounds]

    def sample_latencies_ns(self) -> np.ndarray:
        """Sample latency = complete_ns - issue_ns of its query (int64, per sample)."""
        return self.complete_ns - self.issue_ns

    def first_token_latencies_ns(self) -> np.ndarray | None:
        """TTFT = first_token_ns - issue_ns (int64, per sample); None without token times.

        Rows where ``first_token_ns`` is masked hold meaningless values: check
        ``masks.get('first_token_ns')``.
        """
        if self.first_token_ns is None:
            return None
        return self.first_token_ns - self.issue_ns

    def to_pandas(self):
        """The trace as a ``pandas.DataFrame`` (nullable columns as ``Int64``)."""
        return self._to_arrow().to_pandas(types_mapper=_int64_nullable_mapper())

    def _to_arrow(self):
        import pyarrow as pa

        arrays = []
        for name in COLUMNS:
            col = getattr(self, name)
            if col is None:
                arrays.append(pa.nulls(len(self), type=pa.int64()))
            elif name in self.masks:
                arrays.append(pa.array(col, type=pa.int64(), mask=~self.masks[name]))
            elif col.dtype == np.int64:
                arrays.append(pa.array(col))  # zero-copy (type=pa.int64() would copy and check 22 M rows)
            else:
                arrays.append(pa.array(col, type=pa.int64()))
        schema = pa.schema(
            [
                pa.field(n, pa.int64(), nullable=n in NULLABLE_COLUMNS, metadata={_DOC_KEY: COLUMN_DOCS[n].encode()})
                for n in COLUMNS
            ],
            metadata={METADATA_KEY: json.dumps(self.metadata, sort_keys=True).encode()},
        )
        return pa.Table.from_arrays(arrays, schema=schema)


def _int64_nullable_mapper():
    import pandas as pd
    import pyarrow as pa

    return {pa.int64(): pd.Int64Dtype()}.get


def write_trace(trace: Trace, path: str | Path) -> Path:
    """Write a trace to Parquet (zstd, delta-encoded timestamps) with its metadata.

    The file is written under a temporary name in the same folder and renamed into place
    (``simbench.output.atomic_path``), so ``path`` never holds a truncated trace.

    Returns
    -------
    pathlib.Path
        The path written. Parent folders are created.

    Raises
    ------
    OSError
        The file cannot be written (e.g. ``errno.ENOSPC``); ``path`` is left as it was.
    """
    import pyarrow.parquet as pq

    p = Path(path)
    table = trace._to_arrow()
    encodings = {c: "DELTA_BINARY_PACKED" for c in _DELTA_COLUMNS}
    with atomic_path(p) as tmp:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            compression_level=1,
            use_dictionary=["sample_index", "device_id"],
            column_encoding=encodings,
            write_statistics=False,
        )
    return p


def concat_traces(parts: list[Trace], metadata: dict[str, Any] | None = None) -> Trace:
    """Join traces of one run (e.g. spilled parts) into one query-major Trace.

    Rows are stably sorted by ``query_id``, so each query's samples end up contiguous.
    Nullable columns absent from some parts become masked there.

    Parameters
    ----------
    parts : list of Trace
    metadata : dict, optional
        [default: the last part's metadata].
    """
    meta = dict(metadata if metadata is not None else (parts[-1].metadata if parts else {}))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Trace(query_id=empty, sample_index=empty, issue_ns=empty, complete_ns=empty, metadata=meta)
    qid = np.concatenate([t.query_id for t in parts])
    order = np.argsort(qid, kind="stable")
    cols: dict[str, Any] = {}
    masks: dict[str, np.ndarray] = {}
    for name in COLUMNS:
        if all(getattr(t, name) is None for t in parts):
            cols[name] = None
            continue
        vals, present = [], []
        for t in parts:
            col = getattr(t, name)
            n = len(t)
            vals.append(col if col is not None else np.zeros(n, dtype=np.int64))
            if col is None:
                present.append(np.zeros(n, dtype=bool))
            else:
                present.append(t.masks.get(name, np.ones(n, dtype=bool)))
        cols[name] = np.concatenate(vals)[order]
        m = np.concatenate(present)[order]
        if not m.all():
            masks[name] = m
    return Trace(masks=masks, metadata=meta, **cols)


def _warm_write_path() -> None:
    """Run ``write_trace``'s whole path once on a one-row trace, into memory.

    Its first call imports ``pyarrow.parquet`` and -- inside ``pyarrow.array`` -- pandas,
    and loads the zstd codec: ~0.3 s of Python holding the GIL on an idle 2-core machine.
    Done in the spill thread during a timed run, that stalled the issue thread and the SUT's
    workers (measured: the first spill took 268 ms; Server queries issued up to 58 ms late
    around it and p99 rose from 20 to 114 ms at 600 QPS on the small CNN). Done here, before
    timing starts, every later spill costs a few ms.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    one = np.zeros(1, dtype=np.int64)
    t = Trace(query_id=one, sample_index=one, issue_ns=one, issued_ns=one, start_ns=one, complete_ns=one,
              batch_id=one, device_id=one, masks={"start_ns": np.ones(1, dtype=bool)}, metadata={})
    pq.write_table(t._to_arrow(), pa.BufferOutputStream(), compression="zstd", compression_level=1,
                   use_dictionary=["sample_index", "device_id"],
                   column_encoding={c: "DELTA_BINARY_PACKED" for c in _DELTA_COLUMNS}, write_statistics=False)


class TraceSpill:
    """Spill a running run's completed samples to Parquet part files, periodically.

    Construct it before timing starts: the constructor warms the write path
    (``_warm_write_path``), so no spill during the run pays first-call imports.

    A background thread calls ``snapshot()`` every ``every_s`` seconds; each non-empty
    Trace it returns (the samples completed since the previous call) is written atomically
    as ``directory/part-NNNNNN.parquet``. A process killed outright (SIGKILL, OOM) thus
    leaves every sample completed up to the last spill in readable files, and
    ``read_trace(directory)`` joins them. The run's writer deletes the folder once the
    final ``trace.parquet`` is on disk.

    Parameters
    ----------
    directory : path
        Usually ``<scenario folder>/trace.parts``.
    snapshot : callable
        ``snapshot() -> Trace | None``: the newly completed samples (thread-safe).
    every_s : float
        Seconds between spills, > 0.

    Attributes
    ----------
    error : BaseException or None
        The first failure of a spill (e.g. a full disk); spilling stops after it, the run
        goes on.
    parts : int
        Part files written.
    """

    def __init__(self, directory: str | Path, snapshot: Callable[[], "Trace | None"], every_s: float = 1.0) -> None:
        if not every_s > 0:
            raise SimbenchInputError(f"every_s: expected > 0 s, got {every_s!r}")
        _warm_write_path()
        self.directory = Path(directory)
        self.snapshot = snapshot
        self.every_s = float(every_s)
        self.error: BaseException | None = None
        self.parts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> "TraceSpill":
        self._thread = threading.Thread(target=self._loop, name="simbench-trace-spill", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.flush()

    def flush(self) -> None:
        """Write the samples completed since the last spill now (no-op after an error)."""
        with self._lock:
            if self.error is not None:
                return
            try:
                part = self.snapshot()
                if part is not None and len(part):
                    write_trace(part, self.directory / f"part-{self.parts:06d}.parquet")
                    self.parts += 1
            except BaseException as exc:  # noqa: BLE001 - a failed spill must not end the run
                self.error = exc

    def stop(self) -> None:
        """Stop the thread (no final flush: the run's writer writes the whole trace)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None


def _read_parts(directory: Path) -> Trace:
    parts = sorted(directory.glob("part-*.parquet"))
    if not parts:
        raise TraceError(f"{directory}: no trace.parquet and no spilled part-*.parquet files in this folder")
    traces = [read_trace(p) for p in parts]
    meta = dict(traces[-1].metadata)
    meta["read_from_parts"] = {"folder": str(directory), "parts": len(parts)}
    return concat_traces(traces, meta)


def read_trace(path: str | Path) -> Trace:
    """Read a trace written by ``write_trace`` (or any Parquet file with the Trace schema).

    ``path`` may also be a folder: a scenario folder (its ``trace.parquet``, else its
    ``trace.parts/``) or a ``trace.parts`` folder of spilled part files, which are joined
    (``concat_traces``). That is how the samples of a run killed before it wrote its final
    trace are read (its metadata says ``run_status: 'incomplete'``).

    Raises
    ------
    TraceError
        Missing file, not Parquet, a missing required column, a column of the wrong type, or
        unreadable metadata; the message names the file and the column.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    if p.is_dir():
        if (p / "trace.parquet").is_file():
            return read_trace(p / "trace.parquet")
        return _read_parts(p / PARTS_DIR if (p / PARTS_DIR).is_dir() else p)
    if not p.is_file():
        raise TraceError(f"{p}: trace file not found")
    try:
        table = pq.read_table(p)
    except (pa.ArrowInvalid, OSError) as exc:
        raise TraceError(f"{p}: not a readable Parquet trace: {exc}") from None
    names = set(table.column_names)
    for col in REQUIRED_COLUMNS:
        if col not in names:
            raise TraceError(
                f"{p}: missing required column {col!r}; a trace needs {', '.join(REQUIRED_COLUMNS)}"
            )
    cols: dict[str, Any] = {}
    masks: dict[str, np.ndarray] = {}
    for name in COLUMNS:
        if name not in names:
            cols[name] = None
            continue
        arr = table.column(name)
        if not pa.types.is_integer(arr.type):
            raise TraceError(f"{p}: column {name!r}: expected int64 ns, got {arr.type}")
        nulls = arr.null_count
        if name not in NULLABLE_COLUMNS and nulls:
            raise TraceError(f"{p}: column {name!r}: {nulls} null values in a required column")
        if name in NULLABLE_COLUMNS and nulls == len(arr):
            cols[name] = None  # entirely absent (a 0-row trace keeps empty required columns)
            continue
        values = arr.to_numpy(zero_copy_only=False) if nulls == 0 else arr.fill_null(0).to_numpy()
        cols[name] = np.ascontiguousarray(values, dtype=np.int64)
        if nulls:
            masks[name] = ~np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    meta: dict[str, Any] = {}
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    if raw is not None:
        try:
            meta = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise TraceError(f"{p}: metadata {METADATA_KEY.decode()!r} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise TraceError(f"{p}: metadata {METADATA_KEY.decode()!r}: expected a JSON object, got {type(meta).__name__}")
    qid = cols["query_id"]
    if qid.shape[0] and np.any(np.diff(qid) < 0):
        row = int(np.flatnonzero(np.diff(qid) < 0)[0]) + 1
        raise TraceError(
            f"{p}: column 'query_id': rows must be ordered by query_id (query-major); row {row}"
            f" has query_id {int(qid[row])} after {int(qid[row - 1])}"
        )
    _check_time_order(p, cols, masks)
    return Trace(masks=masks, metadata=meta, **cols)


def _check_time_order(p: Path, cols: dict[str, Any], masks: dict[str, np.ndarray]) -> None:
    """TraceError naming the first row that breaks ``0 <= issue_ns <= start_ns <= complete_ns``.

    ``start_ns`` is nullable: rows without it only need ``issue_ns <= complete_ns``. A
    sample cannot complete before its query was issued or start before it was issued, so a
    trace that says so is corrupt (its latencies would be negative).
    """
    issue, complete, start = cols["issue_ns"], cols["complete_ns"], cols["start_ns"]
    _check_token_columns(p, cols, masks)
    checks = [
        ("issue_ns", issue < 0, "issue_ns {a} < 0 (times are ns from the run's start)"),
        ("complete_ns", complete < issue, "complete_ns {c} < issue_ns {a}"),
    ]
    if start is not None:
        present = masks.get("start_ns", np.ones(start.shape[0], dtype=bool))
        checks.append(("start_ns", present & (start < issue), "start_ns {b} < issue_ns {a}"))
        checks.append(("complete_ns", present & (complete < start), "complete_ns {c} < start_ns {b}"))
    first: tuple[int, str, str] | None = None
    for col, bad, what in checks:
        rows = np.flatnonzero(bad)
        if rows.size and (first is None or rows[0] < first[0]):
            first = (int(rows[0]), col, what)
    if first is not None:
        row, col, what = first
        b = int(start[row]) if start is not None else None
        raise TraceError(
            f"{p}: column {col!r}: row {row} (query_id {int(cols['query_id'][row])}): "
            + what.format(a=int(issue[row]), b=b, c=int(complete[row]))
            + f"; a trace needs 0 <= issue_ns <= start_ns <= complete_ns"
            f" ({int(np.count_nonzero(np.logical_or.reduce([c[1] for c in checks])))} of {issue.shape[0]} rows break it)"
        )


def _check_token_columns(p: Path, cols: dict[str, Any], masks: dict[str, np.ndarray]) -> None:
    """TraceError naming the first row whose token columns cannot be true.

    A first token is reported after the query was issued and before the sample completes
    (LoadGen refuses a first token after completion: ``logging.cc``
    ``RecordTokenCompletion``), and a token count is never negative.
    """
    issue, complete = cols["issue_ns"], cols["complete_ns"]
    first, ntok = cols["first_token_ns"], cols["n_tokens"]
    checks = []
    if first is not None:
        present = masks.get("first_token_ns", np.ones(first.shape[0], dtype=bool))
        checks.append(("first_token_ns", present & (first < issue), "first_token_ns {f} < issue_ns {a}"))
        checks.append(("first_token_ns", present & (first > complete), "first_token_ns {f} > complete_ns {c}"))
    if ntok is not None:
        present = masks.get("n_tokens", np.ones(ntok.shape[0], dtype=bool))
        checks.append(("n_tokens", present & (ntok < 0), "n_tokens {n} < 0"))
    for col, bad, what in checks:
        rows = np.flatnonzero(bad)
        if rows.size:
            row = int(rows[0])
            raise TraceError(
                f"{p}: column {col!r}: row {row} (query_id {int(cols['query_id'][row])}): "
                + what.format(
                    a=int(issue[row]),
                    c=int(complete[row]),
                    f=int(first[row]) if first is not None else None,
                    n=int(ntok[row]) if ntok is not None else None,
                )
                + f"; a trace needs issue_ns <= first_token_ns <= complete_ns and n_tokens >= 0"
                f" ({rows.size} of {issue.shape[0]} rows break it)"
            )
