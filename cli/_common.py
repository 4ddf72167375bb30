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
    """A rich console that prints text as given: no markup, so a ``[...]`` in a profile's
    framework, a source, a path or a message is shown, not taken for a style tag (use
    ``rich.text.Text`` for styling)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, markup=False)


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


def _click_exits() -> tuple[type[BaseException], ...]:
    """typer's own exit/abort/usage-error classes, whichever click they come from.

    typer up to 0.15 re-exports ``click``'s classes; later versions vendor click as
    ``typer._click`` and do not install ``click`` at all, so ``import click`` fails on a plain
    ``pip install .`` (and would catch the wrong classes where click is installed anyway).
    """
    found: list[type[BaseException]] = [typer.Exit, typer.Abort]
    found += [c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"]
    return tuple(found)


_CLICK_EXITS = _click_exits()


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command so every failure ends in one clear line and a documented exit code.

    * simbench's input errors (``SimbenchInputError``: a bad flag, conf, profile, trace...)
      and unusable files/folders (``OSError``) print ``error: <message>`` and exit 2;
    * Ctrl-C/SIGTERM exit 130, after what completed was written;
    * a closed stdout (``| head``) is not an error;
    * anything else is a bug: ``internal error (a bug): <Type>: <message>; rerun with
      --debug for the traceback``, exit 3.

    With the global ``--debug`` flag the traceback is printed first. Exit codes are listed in
    ``docs/reference.md`` ("Exit codes").
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from simbench.errors import SimbenchInputError
        from simbench.interrupt import guard

        try:
            with guard(on_signal=signal_note):
                return fn(*args, **kwargs)
        except _CLICK_EXITS:
            raise
        except SimbenchInputError as exc:
            if _after_interrupt(exc):
                exit_interrupted()
            _debug_traceback()
            print(f"error: {str(exc) or exc.__class__.__name__}", file=sys.stderr)
            raise typer.Exit(EXIT_INPUT) from None
        except BrokenPipeError:
            return None
        except OSError as exc:
            if _after_interrupt(exc):
                exit_interrupted()
            _debug_traceback()
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
            raise typer.Exit(EXIT_INPUT) from None
        except KeyboardInterrupt:
            exit_interrupted()
        except Exception as exc:  # noqa: BLE001 - the one place a bug is reported as such
            if _after_interrupt(exc):
                exit_interrupted()
            _debug_traceback()
            msg = " ".join(str(exc).split())
            if len(msg) > 300:
                msg = msg[:297] + "..."
            print(
                f"internal error (a bug): {type(exc).__name__}: {msg}; rerun with --debug for the traceback",
                file=sys.stderr,
            )
            raise typer.Exit(EXIT_BUG) from None

    return wrapper


def _after_interrupt(exc: BaseException) -> bool:
    """An error that is the interrupt in disguise: a signal came in and its KeyboardInterrupt
    surfaced as another exception (a C extension's import -- pybind11 reports ImportError --
    or numba's dispatcher). A full disk while writing the partial run is still reported."""
    from simbench.interrupt import current
    from simbench.output import OutputError

    g = current()
    return g is not None and g.stopped and not isinstance(exc, OutputError)


EXIT_OK = 0
EXIT_INVALID = 1
"""``--fail-on-invalid``: a run finished but its result is INVALID."""
EXIT_INPUT = 2
"""Bad input (flag, conf, profile, trace, SUT) or an unusable file/folder, refused before work."""
EXIT_BUG = 3
"""An internal error: a bug in simbench (the message says so)."""
EXIT_INTERRUPTED = 130
"""Ctrl-C / SIGTERM (the partial run is written first)."""

DEBUG = False
"""Set by the global ``--debug`` flag: print tracebacks."""


def _debug_traceback() -> None:
    if DEBUG:
        import traceback

        traceback.print_exc()

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


def _reflow(text: str) -> str:
    """Join each prose paragraph of a help text into one line (see escape_help_markup)."""
    import inspect
    import re

    out = []
    for para in re.split(r"\n\s*\n", inspect.cleandoc(text)):
        lines = para.split("\n")
        prose = all(ln and not ln[0].isspace() and not re.match(r"([*\-+]|\d+[.)])\s", ln) for ln in lines)
        out.append(" ".join(ln.strip() for ln in lines) if prose else para)
    return "\n\n".join(out)


def escape_help_markup(app: typer.Typer) -> None:
    """Show every ``[...]`` of the help texts as written.

    typer renders help with rich markup, which takes ``[dask]`` or ``[default: X]`` for a
    style tag and drops it (``pip install 'simbench[dask]'`` read ``pip install 'simbench'``).
    simbench's help texts use no markup, so every command's, group's and option's help is
    escaped as ``rich.markup.escape`` does, once, after all commands are registered. typer's rich
    mode also keeps a docstring's line breaks and then wraps each line at the terminal's
    width, which leaves ragged half-lines: prose paragraphs are joined into one line first
    (indented example lines and bulleted lists keep their breaks).
    """
    import inspect
    import typing

    import re

    from typer.models import DefaultPlaceholder, ParameterInfo

    def escape(text: str) -> str:
        # what rich.markup.escape does, leaving texts escaped by hand ("\\[") as they are
        return re.sub(r"(?<!\\)\[(?=[a-z#/@])", r"\\[", text)

    done: set[int] = set()

    def esc(obj: Any, attr: str, fallback: Any = None) -> None:
        if id(obj) in done and attr != "epilog":
            return
        value = getattr(obj, attr, None)
        if value is None and fallback is not None:
            value = inspect.getdoc(fallback)
        if isinstance(value, str):
            setattr(obj, attr, escape(_reflow(value)))

    def params(callback: Any) -> None:
        # With ``from __future__ import annotations`` each evaluation of the annotation
        # strings makes new typer.Option objects: evaluate them once, in place, so typer
        # reads the escaped ones.
        hints = typing.get_type_hints(callback, include_extras=True)
        for fn in {id(f): f for f in (callback, inspect.unwrap(callback))}.values():
            fn.__annotations__.update(hints)
        for p in inspect.signature(callback).parameters.values():
            infos = [p.default] + list(getattr(hints.get(p.name), "__metadata__", ()))
            for info in infos:
                if isinstance(info, ParameterInfo) and id(info) not in done:
                    esc(info, "help")
                    done.add(id(info))

    def walk(t: typer.Typer) -> None:
        if id(t) in done:
            return
        if not isinstance(t.info.help, DefaultPlaceholder):
            esc(t.info, "help")
        done.add(id(t.info))
        for cmd in t.registered_commands:
            if id(cmd) not in done:
                esc(cmd, "help", fallback=cmd.callback)
                esc(cmd, "epilog")
                params(cmd.callback)
                done.add(id(cmd))
        if t.registered_callback is not None and t.registered_callback.callback is not None:
            cb = t.registered_callback
            if not isinstance(cb.help, DefaultPlaceholder):
                esc(cb, "help")
            params(cb.callback)
        for group in t.registered_groups:
            if not isinstance(group.help, DefaultPlaceholder):
                esc(group, "help")
            if group.typer_instance is not None:
                walk(group.typer_instance)
        done.add(id(t))

    walk(app)


def parse_scenarios(text: str) -> tuple:
    """``--scenario``: ``all``, one scenario or a comma list (case-insensitive), each at most
    once; an error names the flag."""
    from simbench.errors import SimbenchInputError
    from simbench.settings import Scenario

    if text.strip().lower() == "all":
        return tuple(Scenario)
    out = []
    for item in text.split(","):
        try:
            s = Scenario.parse(item.strip())
        except SimbenchInputError as exc:
            raise SimbenchInputError(f"--scenario {text}: " + str(exc).removeprefix("scenario: ")) from None
        if s in out:
            raise SimbenchInputError(f"--scenario {text}: {s.value} is given twice (each scenario runs once and writes its own folder)")
        out.append(s)
    return tuple(out)


def lazy_progress(*columns: Any, **kwargs: Any):
    """A ``rich.progress.Progress`` that draws nothing until its first ``update`` or
    ``advance``: a command whose input is refused before any work (the job's first event
    comes after every check) prints only its error line, not a bar (or, off a terminal, a
    blank line) first."""
    from rich.progress import Progress

    class _LazyProgress(Progress):
        _drawn = False

        def __enter__(self) -> "_LazyProgress":
            return self

        def __exit__(self, *exc: Any) -> None:
            if self._drawn:
                self.stop()

        def _draw(self) -> None:
            if not self._drawn:
                self._drawn = True
                self.start()

        def update(self, *a: Any, **k: Any) -> None:
            self._draw()
            super().update(*a, **k)

        def advance(self, *a: Any, **k: Any) -> None:
            self._draw()
            super().advance(*a, **k)

    return _LazyProgress(*columns, **kwargs)
