"""Executors: run many ``RunSpec`` points on local worker processes or a Dask cluster.

One interface, ``Executor.run(fn, items)``, yields ``(index, value, error)`` as points
finish (any order); a point whose function raises is reported with its one-line error
and the others continue. Two implementations:

* ``LocalExecutor`` — long-lived worker processes (``concurrent.futures``
  ``ProcessPoolExecutor``): each worker imports simbench and loads numba's compiled
  kernels once, then serves every point it is given.
* ``DaskExecutor`` — a Dask ``distributed`` cluster at ``tcp://HOST:PORT`` (the
  ``simbench[dask]`` extra). Workers need simbench installed; the points and results
  travel pickled.

Results do not depend on where a point ran: every point is a pure function of its
``RunSpec`` (seeded), so the tables are identical either way.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Iterator

from simbench.errors import SimbenchInputError

__all__ = ["Executor", "LocalExecutor", "DaskExecutor", "make_executor", "guarded"]


def guarded(fn: Callable[[Any], Any], item: Any) -> tuple[Any, str | None]:
    """``(fn(item), None)``, or ``(None, 'ExceptionType: message')`` if it raises."""
    try:
        return fn(item), None
    except Exception as exc:  # noqa: BLE001 - a failed point is reported, not fatal
        msg = str(exc).splitlines()[0] if str(exc) else ""
        return None, f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


class Executor:
    """Runs ``fn(item)`` for many items; subclasses choose where."""

    name = "executor"
    workers = 1

    def run(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[int, Any, str | None]]:
        """Yield ``(index, result, error)`` for each item as it finishes (any order).

        ``error`` is None on success, else a one-line description; ``fn`` must be a
        module-level (picklable) function.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release the workers."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.abort()
        else:
            self.close()

    def abort(self) -> None:
        """Release the workers at once, dropping the points still running (Ctrl-C)."""
        self.close()


class LocalExecutor(Executor):
    """Long-lived local worker processes (``workers`` of them; default the CPU count).

    ``workers=0`` runs in this process (no pool), which is what a debugger wants.
    """

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and workers < 0:
            raise SimbenchInputError(f"--workers: expected >= 0, got {workers}")
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self._pool = None

    def _ensure(self):
        if self._pool is None and self.workers > 0:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            # 'spawn': workers start clean (no inherited threads or locks) and stay alive.
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn"))
        return self._pool

    def run(self, fn, items):
        items = list(items)
        pool = self._ensure()
        if pool is None:
            for i, item in enumerate(items):
                value, err = guarded(fn, item)
                yield i, value, err
            return
        from concurrent.futures import as_completed

        futures = {pool.submit(guarded, fn, item): i for i, item in enumerate(items)}
        try:
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    value, err = fut.result()
                except Exception as exc:  # a worker died (e.g. out of memory)
                    value, err = None, f"worker failed: {type(exc).__name__}: {exc}"
                yield i, value, err
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def abort(self) -> None:
        """Terminate the worker processes: a point inside numba's compiled loop does not see
        Ctrl-C until it ends (tens of seconds), and its result would be dropped anyway."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = list((getattr(pool, "_processes", None) or {}).values())
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(timeout=5.0)
        pool.shutdown(wait=True, cancel_futures=True)  # workers gone: returns at once, queues released


class DaskExecutor(Executor):
    """A Dask ``distributed`` cluster, by scheduler address (``tcp://HOST:PORT``)."""

    name = "dask"

    def __init__(self, scheduler: str, *, timeout_s: float = 10.0) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise SimbenchInputError(
                "--scheduler: Dask is not installed; pip install 'simbench[dask]' (dask[distributed])"
            ) from None
        if "://" not in scheduler:
            raise SimbenchInputError(f"--scheduler: expected an address like tcp://HOST:PORT, got {scheduler!r}")
        try:
            self._client = Client(scheduler, timeout=timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise SimbenchInputError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler: {exc}") from None
        self.scheduler = scheduler
        self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))

    def run(self, fn, items):
        from distributed import as_completed

        items = list(items)
        futures = [self._client.submit(guarded, fn, item, pure=False) for item in items]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures, loop=self._client.loop):
                i = index[fut.key]
                try:
                    value, err = fut.result()
                except Exception as exc:  # the worker holding it died
                    value, err = None, f"worker failed: {type(exc).__name__}: {exc}"
                yield i, value, err
                fut.release()
        finally:
            for f in futures:
                f.cancel()

    def close(self) -> None:
        self._client.close()


def make_executor(scheduler: str | None = None, workers: int | None = None) -> Executor:
    """``DaskExecutor(scheduler)`` when a scheduler address is given, else ``LocalExecutor``.

    Raises
    ------
    SimbenchInputError
        Dask missing, a malformed address, no scheduler there, or a negative worker count.
    """
    if scheduler:
        return DaskExecutor(scheduler)
    return LocalExecutor(workers)
