"""Shared CLI helpers: error handling, signals, a console that survives a closed pipe.
Only ``cli/`` imports rich."""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Callable

import typer


class PipeSafeStream:
    """A text stream that keeps the program going when its reader goes away.

    ``simbench simulate ... | head -3``: once ``head`` exits, writing to stdout raises
    ``BrokenPipeError``. This wrapper swallows it, points the file descriptor at
    ``/dev/null`` (so the interpreter's final flush is quiet too) and drops every later
    write, so the run goes on and writes its files; the exit code is the run's own.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.broken = False

    def _gone(self) -> None:
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._gone()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._gone()

    def isatty(self) -> bool:
        try:
            return (not self.broken) and self._stream.isatty()
        except (ValueError, AttributeError):
            return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def install_pipe_safe_streams() -> None:
    """Wrap ``sys.stdout``/``sys.stderr`` in ``PipeSafeStream`` (the console entry point)."""
    for name in ("stdout", "stderr"):
        s = getattr(sys, name)
        if s is not None and not isinstance(s, PipeSafeStream):
            setattr(sys, name, PipeSafeStream(s))


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def echo(text: str, nl: bool = True) -> None:
    """Print to stdout (through ``sys.stdout``, so a closed pipe is harmless)."""
    out = sys.stdout
    try:
        out.write(text + ("\n" if nl else ""))
        out.flush()
    except BrokenPipeError:
        pass


def signal_note(signum: int, count: int) -> None:
    """What the user sees on Ctrl-C/SIGTERM (called from the signal handler: no buffered I/O)."""
    if count == 1:
        msg = "\ninterrupted: stopping; what completed is being written (further signals wait until it is on disk)\n"
    else:
        msg = "still writing what completed; signal deferred (SIGKILL would lose only what was not yet spilled)\n"
    try:
        os.write(2, msg.encode())
    except OSError:
        pass


def exit_interrupted() -> None:
    """Leave with exit code 130 after an interrupt whose partial results are on disk.

    If threads the run started are still alive (ONNX Runtime workers finishing a batch,
    the official LoadGen's C++ thread, which cannot be stopped), a normal interpreter exit
    could abort on them ("terminate called without an active exception"); leave at once.
    """
    import threading

    print("interrupted", file=sys.stderr)
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()]
    if others:
        for s in (sys.stdout, sys.stderr):
            try:
                s.flush()
            except (OSError, ValueError):
                pass
        os._exit(130)
    raise typer.Exit(130)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn bad input (``ValueError`` and simbench's input errors) into one clear line and
    exit code 2, instead of a traceback; Ctrl-C/SIGTERM exit 130 (after what completed was
    written); a closed stdout is not an error."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from simbench.interrupt import guard

        try:
            with guard(on_signal=signal_note):
                return fn(*args, **kwargs)
        except (ValueError, FileNotFoundError) as exc:
            if _after_interrupt(exc):
                exit_interrupted()
            msg = str(exc) or exc.__class__.__name__
            print(f"error: {msg}", file=sys.stderr)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            exit_interrupted()
        except BrokenPipeError:
            return None
        except Exception as exc:
            if _after_interrupt(exc):
                exit_interrupted()
            raise

    return wrapper


def _after_interrupt(exc: BaseException) -> bool:
    """An error that is the interrupt in disguise: a signal came in and its KeyboardInterrupt
    surfaced as another exception (a C extension's import -- pybind11 reports ImportError --
    or numba's dispatcher). A full disk while writing the partial run is still reported."""
    from simbench.interrupt import current
    from simbench.output import OutputError

    g = current()
    return g is not None and g.stopped and not isinstance(exc, OutputError)


# Upper bounds of the size/count flags, checked by typer before any work (each derived from
# what a run can hold; tests/cli/test_input_cases.py checks them against the library's own).
MAX_QPS = 1e9
"""--target-qps: one query per ns, the resolution of the int64-ns schedule."""
MAX_DURATION_S = 9_223_372_036.0
"""--min-duration-s: the largest whole second count whose ns value fits int64."""
MAX_LATENCY_MS = 9_223_372_036_854.0
"""--target-latency-ms: the largest ms value whose ns value fits int64."""
MAX_QUERY_COUNT = 150_000_000
"""--min-query-count: simbench.arrivals.MAX_SCHEDULE_SIZE, the queries one run holds in memory."""
MAX_REPLICAS = 4096
"""--replicas: the profile schema's bound on ``replicas``."""
MAX_SEED = 2**64 - 1
"""--seed: LoadGen's seeds are uint64."""
MAX_WORKERS = 1024
"""benchmark --workers: one OS thread each."""
MAX_STALL_S = 7 * 86_400.0
"""benchmark --stall-timeout-s: a week."""


def cores() -> int:
    """Cores this process may use (the bound of thread-count flags)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


BATCHING_HELP = (
    "SUT-side batching, the same grammar for simulate and benchmark: none | N |"
    " dynamic:MAX_BATCH[:TIMEOUT_US]. 'none' (or '1'): one sample per batch; 'N': up to N queued"
    " samples, no waiting (= dynamic:N:0); 'dynamic:MAX_BATCH[:TIMEOUT_US]': wait until MAX_BATCH"
    " samples are queued or the oldest has waited TIMEOUT_US microseconds (default 0), as Triton's"
    " max_queue_delay. MAX_BATCH 1..1000000, TIMEOUT_US 0..60000000."
)
"""``--batching`` help for ``simulate`` and ``benchmark`` (``simbench.batching.parse_batching``)."""
