"""Exit codes and error classes (docs/reference.md "Exit codes and errors"), from the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from simbench.cli import _common
from simbench.cli._common import handle_errors
from simbench.errors import ConfError, MissingExtraError, SimbenchInputError, require_extra


def run(*args, cwd, pre=""):
    code = f"import sys; {pre}sys.argv = ['simbench', *{list(args)!r}]; from simbench.cli.main import main; main()"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=300)


def _app(exc: BaseException) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @handle_errors
    def boom() -> None:
        raise exc

    @app.command()
    def other() -> None:  # a second command so typer keeps the sub-command name
        pass

    return app


@pytest.mark.parametrize(
    "exc,code,line",
    [
        (ConfError("u.conf:1: key *.*.mode: expected 0..3, got '9'"), 2, "error: u.conf:1: key *.*.mode: expected 0..3, got '9'"),
        (FileNotFoundError(2, "No such file or directory", "x.csv"), 2, "error: x.csv: No such file or directory"),
        (ZeroDivisionError("division by zero"), 3, "internal error (a bug): ZeroDivisionError: division by zero; rerun with --debug for the traceback"),
        # a plain ValueError is not one of simbench's input errors: it is a bug, and says so
        (ValueError("setting an array element with a sequence"), 3, "internal error (a bug): ValueError: setting an array element with a sequence; rerun with --debug for the traceback"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_handle_errors_tells_input_errors_from_bugs(exc, code, line, monkeypatch):
    monkeypatch.setattr(_common, "DEBUG", False)
    r = CliRunner().invoke(_app(exc), ["boom"])
    assert r.exit_code == code
    assert r.stderr.strip() == line
    assert "Traceback" not in r.stderr


def test_debug_prints_the_traceback_first(monkeypatch):
    monkeypatch.setattr(_common, "DEBUG", True)
    r = CliRunner().invoke(_app(ZeroDivisionError("division by zero")), ["boom"])
    assert r.exit_code == 3
    assert r.stderr.startswith("Traceback (most recent call last):")
    assert r.stderr.rstrip().endswith("rerun with --debug for the traceback")


def test_global_debug_flag_from_the_cli(tmp_path):
    r = run("--debug", "simulate", "--scenario", "Streaming", cwd=tmp_path)
    assert r.returncode == 2
    assert "Traceback (most recent call last)" in r.stderr and "SimbenchInputError" in r.stderr
    assert r.stderr.rstrip().splitlines()[-1].startswith("error: --scenario Streaming: unknown value 'Streaming'")
    r = run("simulate", "--scenario", "Streaming", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_fail_on_invalid(tmp_path):
    # Offline for 1 s on the a100 profile is VALID; Server at 1e6 QPS (25x its capacity) is not.
    ok = run("simulate", "--scenario", "Offline", "--min-duration-s", "1", "--fail-on-invalid", "--out", "a", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    args = ("simulate", "--scenario", "Offline,Server", "--target-qps", "1e6", "--min-duration-s", "0.05", "--json")
    bad = run(*args, "--fail-on-invalid", "--out", "b", cwd=tmp_path)
    assert bad.returncode == 1, bad.stderr
    assert [d["result_validity"] for d in json.loads(bad.stdout)] == ["VALID", "INVALID"]
    # the same runs without the flag exit 0 (an INVALID result is still a finished run)
    assert run(*args, "--out", "c", cwd=tmp_path).returncode == 0
    # ~10 queries in 0.1 s at 100 QPS: below min_query_count, so INVALID
    r = run("benchmark", "--sut", "null", "--scenario", "Server", "--target-qps", "100", "--min-duration-s", "0.1", "--fail-on-invalid", "--out", "d", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert json.loads((tmp_path / "d" / "Server" / "summary.json").read_text())["result_validity"] == "INVALID"


def test_missing_optional_extra_is_one_line_naming_the_pip_extra(tmp_path):
    r = run("benchmark", "--sut", "onnx:tiny", "--min-duration-s", "1", cwd=tmp_path, pre="sys.modules['onnxruntime'] = None; ")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (
        "error: --sut onnx:tiny needs onnxruntime, which is not installed: pip install 'simbench[onnx]'"
    )
    r = run("benchmark", "--sut", "null", "--engine", "mlcommons", "--min-duration-s", "1", cwd=tmp_path, pre="sys.modules['mlperf_loadgen'] = None; ")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (
        "error: --engine mlcommons needs mlperf_loadgen, which is not installed: pip install 'simbench[mlcommons]'"
    )


def test_require_extra_is_an_input_error_and_an_import_error():
    with pytest.raises(MissingExtraError) as info:
        require_extra("simbench_no_such_module", "dask", "--cluster")
    assert isinstance(info.value, SimbenchInputError) and isinstance(info.value, ImportError)
    assert str(info.value) == "--cluster needs simbench_no_such_module, which is not installed: pip install 'simbench[dask]'"
    assert require_extra("json", "x", "y") is json


@pytest.mark.parametrize(
    "args,notes",
    [
        (("simulate", "--scenario", "Offline", "--min-duration-s", "0.5", "--peak-criterion", "loadgen"),
         ["--peak-criterion applies only to the Server peak search; ignored (no Server scenario is run)"]),
        (("simulate", "--scenario", "Server", "--target-qps", "100", "--min-duration-s", "0.5", "--peak-criterion", "loadgen"),
         ["--peak-criterion applies only to the Server peak search; ignored (--target-qps is given)"]),
        (("benchmark", "--sut", "null", "--scenario", "SingleStream", "--min-duration-s", "0.2", "--target-qps", "5", "--threads", "1", "--workers", "2", "--batching", "4"),
         ["--target-qps does not apply to SingleStream; ignored there",
          "--threads sets ONNX Runtime threads; --sut null runs no ONNX Runtime session here; ignored",
          "--workers does not apply to --sut null (it completes every sample inline); ignored",
          "--batching does not apply to --sut null (it completes every sample inline); ignored"]),
        (("benchmark", "--sut", "null", "--scenario", "Offline", "--min-duration-s", "0.2", "--target-latency-ms", "5"),
         ["--target-latency-ms does not apply to Offline; ignored there"]),
    ],
)
def test_flags_that_do_not_apply_get_a_visible_note(tmp_path, args, notes):
    r = run(*args, "--out", "o", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = [" ".join(n.split()) for n in " ".join(r.stderr.split("\n")).split("note: ")[1:]]
    assert got == notes


def test_simbench_validation_raises_its_input_error_class():
    """The CLI reports a plain ValueError as a bug (exit 3), so simbench's own checks must
    raise SimbenchInputError (a ValueError subclass). pydantic validators in the profile
    schema may raise ValueError: pydantic turns those into a ProfileError."""
    import re
    from pathlib import Path

    import simbench

    root = Path(simbench.__file__).resolve().parent
    cli_root = Path(_common.__file__).resolve().parent
    offenders = []
    for path in [*root.rglob("*.py"), *cli_root.rglob("*.py")]:
        if path.name == "schema.py" and path.parent.name == "profiles":
            continue
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\braise ValueError\(", line):
                offenders.append(f"{path.name}:{no}")
    assert offenders == [], "raise SimbenchInputError (simbench.errors), not ValueError: " + ", ".join(offenders)
