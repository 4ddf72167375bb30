"""``simbench profile``: list, show, calibrate, build, predict and fit hardware profiles."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from simbench.cli._common import console, handle_errors

app = typer.Typer(help="List, inspect, calibrate, measure and fit hardware profiles.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_cmd() -> None:
    """List the shipped hardware profiles with their device and models."""
    from rich.table import Table

    from simbench.profiles import list_profiles, load_profile

    table = Table(title="Shipped hardware profiles")
    for col in ("name", "device", "models"):
        table.add_column(col)
    for name in list_profiles():
        p = load_profile(name)
        table.add_row(name, p.device, ", ".join(p.models))
    console().print(table)


@app.command("show")
@handle_errors
def show_cmd(
    name: Annotated[str, typer.Argument(help="Profile name (e.g. a100) or path to a YAML file.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the validated profile as JSON.")] = False,
) -> None:
    """Show one profile: specs, latency tables, noise, harness settings and sources.

    Example: simbench profile show a100
    """
    from rich.table import Table

    from simbench.profiles import load_profile

    p = load_profile(name)
    if json_out:
        typer.echo(p.model_dump_json(indent=2))
        return
    c = console()
    c.print(f"[bold]{p.name}[/bold]  {p.device}  {p.description}")
    specs = Table(title="specs")
    for col in ("spec", "value", "unit", "source"):
        specs.add_column(col, overflow="fold")
    for k, v in p.specs.items():
        specs.add_row(k, f"{v.value:g}", v.unit, v.source)
    c.print(specs)
    for model, mp in p.models.items():
        t = Table(title=f"{model}: latency(batch)  [{mp.precision} {mp.framework}]")
        for col in ("batch", "median latency (ns)", "samples/s", "source"):
            t.add_column(col, overflow="fold")
        for pt in mp.latency.points:
            t.add_row(str(pt.batch), f"{pt.latency_ns:,.0f}", f"{pt.batch / pt.latency_ns * 1e9:,.1f}", pt.source)
        c.print(t)
        c.print(f"  noise: {mp.noise.kind} (mean multiplier {mp.noise.mean:.4f})")
        for scen, h in mp.scenarios.items():
            b = h.batching
            bs = "none" if b.kind == "none" else f"dynamic max_batch={b.max_batch} timeout_us={b.timeout_us:g}"
            c.print(f"  {scen}: batching {bs}, replicas {h.replicas}, settings {h.settings}")


@app.command("calibrate")
@handle_errors
def calibrate_cmd(
    calibration: Annotated[Optional[str], typer.Option("--calibration", help="published_calibration.json \\[default: the copy shipped in simbench/data].")] = None,
    out: Annotated[str, typer.Option(help="Folder for the <name>.yaml files.")] = "hardware_profiles",
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if any file would change.")] = False,
    report: Annotated[bool, typer.Option("--report", help="Print the secondary checks (Markdown) instead.")] = False,
) -> None:
    """(Re)build the shipped profiles a100, h100, l4, t4 from the published calibration file.

    Example (from a source checkout): simbench profile calibrate --check
    """
    from simbench.profiles.calibrate import calibration_report, load_calibration, write_profiles

    cal = load_calibration(calibration)
    if report:
        typer.echo(calibration_report(cal))
        return
    changed = write_profiles(cal, out, check=check)
    for p in changed:
        typer.echo(f"{'out of date' if check else 'wrote'}: {p}", err=check)
    if check and changed:
        raise typer.Exit(1)
