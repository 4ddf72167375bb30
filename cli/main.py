"""The ``simbench`` command line: a thin Typer layer over the library.

Each command parses options, calls one library function and renders the result. Heavy
imports (numpy, numba, pandas ...) happen inside the commands so ``simbench --help`` is fast.
"""

from __future__ import annotations

import importlib

import typer

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
) -> None:
    """Benchmark and simulate ML inference the way MLPerf Inference defines it."""


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
