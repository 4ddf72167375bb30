"""Ctrl-C and SIGTERM that never cost completed work.

``guard()`` installs one handler for SIGINT and SIGTERM for the duration of a job. The
first signal sets ``stop`` (a ``threading.Event``) and, outside a *cooperative* or
*protected* section, raises ``KeyboardInterrupt`` at once (so a long set-up or a simulation
ends promptly). Every further signal is only counted: it never raises, so it cannot land in
the ``finally`` that stops the SUT or in the middle of writing the partial run (a double
Ctrl-C, ``timeout -s TERM``, which signals the child and then its group, or a supervisor
that re-signals).

* ``with g.cooperative():`` -- a run loop that polls ``g.stop`` and ends by itself
  (``simbench.bench.loadgen.LoadGenerator``): no signal raises inside it.
* ``with g.protected():`` -- writing results: no signal raises inside it; the job calls
  ``g.raise_if_stopped()`` once the files are on disk.

Guards nest: an inner ``guard()`` (the load generator's) reuses the outer one (the job's).
Off the main thread, or with no signal support, ``guard()`` installs nothing and ``stop``
is only set by ``request_stop``. SIGKILL cannot be caught; for that, real runs spill their
completed samples to disk every second (``simbench.trace.TraceSpill``).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Callable, Iterator

__all__ = ["InterruptGuard", "guard", "current"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_active: "InterruptGuard | None" = None


class InterruptGuard:
    """State of the installed SIGINT/SIGTERM handler (see the module docstring).

    Attributes
    ----------
    stop : threading.Event
        Set by the first signal (or ``request_stop``).
    signals : int
        Signals received so far.
    last_signal : int or None
        The number of the last one (``signal.SIGINT`` / ``signal.SIGTERM``).
    on_signal : callable, optional
        ``on_signal(signum, count)``, called from the handler for every signal (the CLI
        prints a note; keep it short and non-blocking).
    """

    def __init__(self, on_signal: Callable[[int, int], None] | None = None) -> None:
        self.stop = threading.Event()
        self.signals = 0
        self.last_signal: int | None = None
        self.on_signal = on_signal
        self._shielded = 0
        self._previous: dict[int, object] = {}

    # ----------------------------------------------------------------- handler
    def _handle(self, signum: int, frame) -> None:
        self.signals += 1
        self.last_signal = signum
        first = not self.stop.is_set()
        self.stop.set()
        if self.on_signal is not None:
            try:
                self.on_signal(signum, self.signals)
            except Exception:  # noqa: BLE001 - a note must never break the run
                pass
        if first and self._shielded == 0:
            raise KeyboardInterrupt

    def request_stop(self) -> None:
        """Ask the run to stop, as a signal would (from any thread; never raises)."""
        self.stop.set()

    # ----------------------------------------------------------------- sections
    @contextlib.contextmanager
    def cooperative(self) -> Iterator["InterruptGuard"]:
        """A section that polls ``stop`` itself: signals only set it."""
        self._shielded += 1
        try:
            yield self
        finally:
            self._shielded -= 1

    protected = cooperative  # same mechanics; named for what the section does

    def raise_if_stopped(self) -> None:
        """Raise ``KeyboardInterrupt`` if a signal (or ``request_stop``) came in."""
        if self.stop.is_set():
            raise KeyboardInterrupt

    @property
    def stopped(self) -> bool:
        return self.stop.is_set()

    # ----------------------------------------------------------------- install
    def _install(self) -> bool:
        if threading.current_thread() is not threading.main_thread():
            return False
        try:
            for s in _SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        except (ValueError, OSError):  # pragma: no cover - no signals here
            self._restore()
            return False
        return True

    def _restore(self) -> None:
        for s, h in self._previous.items():
            try:
                signal.signal(s, h)  # type: ignore[arg-type]
            except (ValueError, OSError, TypeError):  # pragma: no cover
                pass
        self._previous.clear()


def current() -> InterruptGuard | None:
    """The guard in force, if any."""
    return _active


@contextlib.contextmanager
def guard(
    on_signal: Callable[[int, int], None] | None = None, *, ignore_after_stop: bool = False
) -> Iterator[InterruptGuard]:
    """Install the SIGINT/SIGTERM handler for a job (or reuse the one in force).

    Parameters
    ----------
    on_signal : callable, optional
        ``on_signal(signum, count)`` for every signal (ignored when an outer guard exists
        and already has one).
    ignore_after_stop : bool
        If a signal came in, leave SIGINT and SIGTERM ignored on exit instead of restoring
        the previous handlers (a process that is about to exit after writing its partial
        results: the CLI's ``main``). Never use it in a long-lived process.

    Yields
    ------
    InterruptGuard
    """
    global _active
    if _active is not None:
        if on_signal is not None and _active.on_signal is None:
            _active.on_signal = on_signal
        yield _active
        return
    g = InterruptGuard(on_signal)
    installed = g._install()
    _active = g
    try:
        yield g
    finally:
        _active = None
        if installed:
            if ignore_after_stop and g.stopped:
                for sig in _SIGNALS:
                    signal.signal(sig, signal.SIG_IGN)
                g._previous.clear()
            else:
                g._restore()
