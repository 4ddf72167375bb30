"""Findings of a new user's walk through the README and docs (the "breaker" pass).

Each test replays one finding from the CLI as a user types it and asserts what the docs
promise: exit code, one clear ``error:`` line naming the flag/file, files written.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Packages a plain ``pip install .`` does not bring (extras, and what only the test extra's
# dask pulls in): importing one of them in the core path breaks the README's main job.
NOT_IN_A_PLAIN_INSTALL = ("click", "dask", "distributed", "onnx", "onnxruntime", "mlperf_loadgen", "tritonclient", "hypothesis")

_BLOCK = f"""
import sys, importlib.abc
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {NOT_IN_A_PLAIN_INSTALL!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _Block())
"""


def run(*args, cwd, plain=False, timeout=300):
    """The installed entry point in a subprocess; ``plain``: as on a plain ``pip install .``."""
    code = (_BLOCK if plain else "") + (
        f"import sys; sys.argv = ['simbench', *{list(args)!r}]\nfrom simbench.cli.main import main\nmain()"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def one_error_line(r) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, r.stderr
    return errors[0]


# --- F1: the README's main job on a plain install --------------------------------------


def test_f1_simulate_runs_without_click_installed(tmp_path):
    """typer >= 0.16 vendors click and does not install it: the CLI must not import it."""
    r = run(
        "simulate", "--profile", "a100", "--scenario", "SingleStream", "--min-duration-s", "0.01",
        "--min-query-count", "10", "--out", "o", cwd=tmp_path, plain=True,
    )
    assert "No module named" not in r.stderr, r.stderr
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o" / "SingleStream" / "summary.json").is_file()
    # and an input error still ends in one line, exit 2
    r = run("simulate", "--profile", "nosuch", "--out", "o2", cwd=tmp_path, plain=True)
    assert r.returncode == 2, r.stderr
    assert "nosuch" in one_error_line(r)
