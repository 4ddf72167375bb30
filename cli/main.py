"""The ``simbench`` command line: a thin Typer layer over the library.

Each command parses options, calls one library function and renders the result. Heavy
imports (numpy, numba, pandas ...) happen inside the commands so ``simbench --help`` is fast.
"""

from __future__ import annotations

import sys


def _quiet_interrupt_hook(exc_type, exc, tb, _default=sys.excepthook):
    """A Ctrl-C that lands while the CLI is still importing (before any command installed its
    handler) ends with one line, not a traceback of the import machinery."""
    if issubclass(exc_type, KeyboardInterrupt):
        import os

        print("interrupted", file=sys.stderr)
        sys.stderr.flush()
        os._exit(130)  # nothing has run yet; the documented code, not a re-raised SIGINT
    _default(exc_type, exc, tb)


if sys.excepthook is sys.__excepthook__:
    sys.excepthook = _quiet_interrupt_hook

import importlib  # noqa: E402

import typer  # noqa: E402

app = typer.Typer(
    name="simbench",
    help=(
        "Benchmark and simulate ML inference the way MLPerf Inference defines it.\n\n"
        "Main job:  simbench simulate --profile a100"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)


def _register() -> None:
    from simbench.cli import profile as profile_cli
    from simbench.cli import simulate as simulate_cli

    app.command(name="simulate", no_args_is_help=False)(simulate_cli.simulate)
    app.add_typer(profile_cli.app, name="profile")
    # Sub-commands that live in optional modules (added as they are built).
    for module, name, kind in (
        ("simbench.cli.benchmark", "benchmark", "command"),
        ("simbench.cli.trace", "trace", "group"),
        ("simbench.cli.stats", "stats", "group"),
        ("simbench.cli.report", "report", "command"),
        ("simbench.cli.plan", "plan", "group"),
        ("simbench.cli.whatif", "whatif", "command"),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        if kind == "group":
            app.add_typer(mod.app, name=name)
        else:
            app.command(name=name)(getattr(mod, name))


_register()

from simbench.cli._common import escape_help_markup  # noqa: E402

escape_help_markup(app)


def _print_version(value: bool) -> None:
    if value:
        import simbench

        typer.echo(f"simbench {simbench.__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Print the Python traceback of an error (for bug reports)."
    ),
) -> None:
    """Benchmark and simulate ML inference the way MLPerf Inference defines it."""
    from simbench.cli import _common

    _common.DEBUG = debug


def main() -> None:
    """Console-script entry point.

    stdout/stderr are wrapped so that a reader that goes away (``| head``) never stops a
    run: output is dropped, files are still written, and the exit code is the run's own.
    """
    from simbench.cli._common import install_pipe_safe_streams, signal_note
    from simbench.interrupt import guard
    from simbench.memory import keep_freed_memory

    keep_freed_memory()  # reuse freed 100 MB arrays instead of page-faulting new ones (simbench.memory)
    install_pipe_safe_streams()
    # One SIGINT/SIGTERM handler for the whole command (simbench.interrupt): the first signal
    # stops the work, and none after it can cut short writing what completed or the exit.
    with guard(on_signal=signal_note, ignore_after_stop=True):
        app()


if __name__ == "__main__":
    main()
