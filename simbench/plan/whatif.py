"""What-if sweeps: a grid of ``RunSpec`` points, run anywhere, kept as one tidy table.

``parse_sweep('target_qps=10000:40000:16')`` gives 16 evenly spaced values (both ends
included); ``'batching.timeout_us=500,1000,2000'`` a list. ``sweep_points`` takes the
full grid (the Cartesian product, first sweep slowest). ``run_sweep`` runs every point on
an ``Executor`` and writes, under the output folder:

* ``sweep.json`` — the base spec and the sweeps (what ``--resume`` checks against);
* ``points/NNNNN.json`` — one file per finished point, written atomically (a killed sweep
  keeps every finished point; ``resume=True`` runs only the missing ones);
* ``sweep.parquet`` — the table, one row per point in grid order: ``point``, the swept
  inputs, ``status`` ('ok'/'failed'), ``error``, every scalar Summary metric (LoadGen's
  detail-log keys), ``result_validity`` and ``result_invalid_reason``, and the queries a
  valid run needs there (``required_queries_mlperf``: the MLPerf paper's Eq. 2;
  ``required_queries_corrected``: times the autocorrelation time, ``simbench.stats``).

The table is a function of the points alone (no host names or timings in it), so a sweep
run locally and on a Dask cluster, or killed and resumed, gives the identical table.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from simbench.errors import SimbenchInputError
from simbench.plan.spec import PARAMETERS, RunSpec, parameter_names

__all__ = ["parse_sweep", "sweep_points", "run_sweep", "SweepResult", "point_row", "TABLE_NAME"]

TABLE_NAME = "sweep.parquet"
_FORMAT = 1


def parse_sweep(text: str) -> tuple[str, list[Any]]:
    """Parse one ``--sweep NAME=START:STOP:COUNT`` or ``--sweep NAME=V1,V2,...``.

    ``START:STOP:COUNT`` gives ``COUNT`` (>= 1) evenly spaced values from START to STOP
    inclusive (``numpy.linspace``; integers rounded for integer parameters). Values are
    checked against the parameter's type now, before any run.

    Returns
    -------
    (name, values)

    Raises
    ------
    SimbenchInputError
        Not NAME=..., an unknown name (the message lists the accepted ones), a bad range or
        a value of the wrong type.
    """
    name, eq, rhs = text.partition("=")
    name = name.strip()
    if not eq or not name or not rhs.strip():
        raise SimbenchInputError(f"--sweep {text!r}: expected NAME=START:STOP:COUNT or NAME=V1,V2,...")
    if name not in parameter_names():
        raise SimbenchInputError(
            f"--sweep {name}: not a sweepable parameter; expected one of {', '.join(PARAMETERS)} or a"
            " TestSettings field (e.g. server_target_latency_percentile)"
        )
    rhs = rhs.strip()
    kind = PARAMETERS[name][0] if name in PARAMETERS else None
    if kind is None:
        from simbench.settings import TestSettings

        t = {f.name: f.type for f in dataclasses.fields(TestSettings)}[name]
        kind = {"int": int, "float": float, "bool": bool}.get(t if isinstance(t, str) else t.__name__, str)
    parts = rhs.split(":")
    numeric = kind in (int, float)
    if numeric and len(parts) == 3 and "," not in rhs:
        try:
            start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise SimbenchInputError(f"--sweep {text!r}: START and STOP must be numbers and COUNT an integer") from None
        if not 1 <= count <= 100_000:
            raise SimbenchInputError(f"--sweep {text!r}: COUNT must be in 1..100000")
        raw = np.linspace(start, stop, count).tolist()
        values = [int(round(v)) for v in raw] if kind is int else [float(v) for v in raw]
    else:
        items = [v.strip() for v in rhs.split(",")]
        if any(not v for v in items):
            raise SimbenchInputError(f"--sweep {text!r}: empty value in the list")
        values = items
    spec = RunSpec()
    out = []
    for v in values:
        checked = spec.with_param(name, v)  # raises naming the parameter
        out.append(_value_of(checked, name))
    if len(set(map(repr, out))) != len(out):
        raise SimbenchInputError(f"--sweep {text!r}: values repeat")
    return name, out


def _value_of(spec: RunSpec, name: str) -> Any:
    from simbench.plan.spec import _SPEC_FIELD

    if name in PARAMETERS:
        return getattr(spec, _SPEC_FIELD.get(name, name))
    return dict(spec.overrides)[name]


def sweep_points(base: RunSpec, sweeps: list[tuple[str, list[Any]]]) -> list[tuple[dict[str, Any], RunSpec]]:
    """The full grid: ``(inputs, spec)`` per point, first sweep varying slowest.

    Raises
    ------
    SimbenchInputError
        A parameter swept twice, or more than 100,000 points.
    """
    names = [n for n, _ in sweeps]
    if len(set(names)) != len(names):
        raise SimbenchInputError(f"--sweep: a parameter is swept twice ({', '.join(names)})")
    total = int(np.prod([len(v) for _, v in sweeps])) if sweeps else 1
    if total > 100_000:
        raise SimbenchInputError(f"--sweep: {total:,} points; at most 100,000")
    out = []
    for combo in itertools.product(*[v for _, v in sweeps]):
        spec = base
        inputs = {}
        for name, value in zip(names, combo):
            spec = spec.with_param(name, value)
            inputs[name] = value
        out.append((inputs, spec))
    return out


def point_row(spec: RunSpec) -> dict[str, Any]:
    """Run one point (on a worker) and return its metrics row (``run_point(...).row``)."""
    from simbench.plan.spec import run_point

    return run_point(spec).row


@dataclasses.dataclass
class SweepResult:
    """What ``run_sweep`` did: the table path, the points run now, reused and failed."""

    out_dir: Path
    table_path: Path
    total: int
    ran: int
    reused: int
    failed: list[tuple[int, str]]
    table: Any  # pandas.DataFrame


def _spec_json(spec: RunSpec) -> dict[str, Any]:
    d = dataclasses.asdict(spec)
    d["overrides"] = [list(kv) for kv in spec.overrides]
    return d


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def run_sweep(
    base: RunSpec,
    sweeps: list[tuple[str, list[Any]]],
    out_dir: str | Path,
    *,
    executor=None,
    resume: bool = False,
    on_point: Callable[[int, int, str | None], None] | None = None,
    validate: bool = True,
) -> SweepResult:
    """Run a sweep into ``out_dir`` (see the module doc for the files).

    Parameters
    ----------
    base : RunSpec
        What every point shares.
    sweeps : list of (name, values)
        From ``parse_sweep``.
    out_dir : path
        Created if missing. Without ``resume`` it must not hold a sweep already.
    executor : Executor, optional
        Default ``LocalExecutor()`` (one worker process per CPU).
    resume : bool
        Continue the sweep in ``out_dir``: the same base and sweeps, only missing points run.
    on_point : callable, optional
        ``on_point(done, total, error)`` after each point (for a progress bar).
    validate : bool
        ``prepare`` every point here first, so bad input fails before any run.

    Returns
    -------
    SweepResult

    Raises
    ------
    SimbenchInputError
        Bad parameters, an existing sweep without ``resume``, a different sweep with it.
    """
    from simbench.plan.executors import LocalExecutor
    from simbench.plan.spec import prepare

    out = Path(out_dir)
    points = sweep_points(base, sweeps)
    definition = {"format": _FORMAT, "base": _spec_json(base), "sweeps": [[n, v] for n, v in sweeps]}
    meta = out / "sweep.json"
    pdir = out / "points"
    if meta.exists():
        if not resume:
            raise SimbenchInputError(
                f"--out {out}: holds a sweep already (sweep.json); pass --resume to continue it or choose another --out"
            )
        try:
            old = json.loads(meta.read_text())
        except (OSError, ValueError) as exc:
            raise SimbenchInputError(f"{meta}: cannot read the sweep definition: {exc}") from None
        if old != json.loads(json.dumps(definition)):
            raise SimbenchInputError(
                f"--resume: {meta} describes a different sweep (base settings or --sweep values differ);"
                " rerun with the same flags or choose another --out"
            )
    elif resume:
        raise SimbenchInputError(f"--resume: {out} holds no sweep (no sweep.json)")
    if validate:
        seen = set()
        for inputs, spec in points:
            key = repr(spec)
            if key not in seen:
                seen.add(key)
                p = prepare(spec)
                del p
    try:
        pdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SimbenchInputError(f"--out {out}: cannot create the output folder: {exc.strerror or exc}") from None
    if not meta.exists():
        _write_atomic(meta, json.dumps(definition, indent=2))
    done: dict[int, dict[str, Any]] = {}
    for f in pdir.glob("*.json"):
        try:
            rec = json.loads(f.read_text())
            done[int(rec["point"])] = rec
        except (OSError, ValueError, KeyError):
            continue  # an unreadable file is run again
    todo = [i for i in range(len(points)) if i not in done or done[i].get("status") != "ok"]
    reused = len(points) - len(todo)
    failed: list[tuple[int, str]] = []
    ex = executor or LocalExecutor()
    count = reused
    if on_point:
        on_point(count, len(points), None)
    try:
        for j, row, err in ex.run(point_row, [points[i][1] for i in todo]):
            i = todo[j]
            rec = {"point": i, "inputs": points[i][0], "status": "ok" if err is None else "failed", "error": err, "row": row}
            _write_atomic(pdir / f"{i:05d}.json", json.dumps(rec, default=_json_default))
            done[i] = json.loads(json.dumps(rec, default=_json_default))
            if err is not None:
                failed.append((i, err))
            count += 1
            if on_point:
                on_point(count, len(points), err)
    except KeyboardInterrupt:
        # Ctrl-C: the finished points are on disk; write their table too (the rest are
        # "missing"), so `simbench report` reads the partial sweep and --resume continues it.
        _write_table(out, _table(points, sweeps, done))
        raise
    finally:
        if executor is None:
            ex.close()
    table = _table(points, sweeps, done)
    tpath = _write_table(out, table)
    return SweepResult(out, tpath, len(points), len(todo), reused, failed, table)


def _write_table(out: Path, table) -> Path:
    tpath = out / TABLE_NAME
    tmp = tpath.with_suffix(".parquet.tmp")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, tpath)
    return tpath


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def _table(points, sweeps, done):
    import pandas as pd

    names = [n for n, _ in sweeps]
    rows = []
    metric_cols: list[str] = []
    for i, (inputs, _) in enumerate(points):
        rec = done.get(i, {})
        row = rec.get("row") or {}
        for k in row:
            if k not in metric_cols:
                metric_cols.append(k)
        rows.append((i, inputs, rec.get("status", "missing"), rec.get("error"), row))
    data: dict[str, list] = {"point": [r[0] for r in rows]}
    for n in names:
        data[n] = [r[1][n] for r in rows]
    data["status"] = [r[2] for r in rows]
    data["error"] = [r[3] for r in rows]
    for k in metric_cols:
        if k in data:
            continue
        data[k] = [r[4].get(k) for r in rows]
    df = pd.DataFrame(data)
    for k in metric_cols:
        if k in df and df[k].dtype == object:
            vals = [v for v in df[k] if v is not None]
            if vals and all(isinstance(v, bool) for v in vals):
                df[k] = df[k].astype("boolean")
            elif vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
                df[k] = df[k].astype("Int64")
            elif vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                df[k] = df[k].astype("Float64")
    return df
