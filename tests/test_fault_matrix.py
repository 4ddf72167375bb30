"""A small, fast subset of benchmarks/fault_matrix.py in CI: a failing SUT, a double SIGTERM
and a disk that fills during a real run, each checked against the SUT's own log of the
completions the harness accepted (the whole matrix: the benchmark script; unwritable --out:
tests/cli/test_cases_nothing_lost.py)."""

from __future__ import annotations

import importlib.util
import random
import signal
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "fault_matrix.py"


@pytest.fixture(scope="module")
def fm():
    spec = importlib.util.spec_from_file_location("fault_matrix", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _ok(r):
    assert r["tracebacks"] == 0 and r["problems"] == [], r


def test_sut_raising_loses_nothing(fm, tmp_path):
    r = fm.run_api_fault("simbench", "Server", "raise", random.Random(3), work=tmp_path)
    _ok(r)
    assert r["sut_completed"] == r["at"] - 1  # every batch before the failing one, all in the trace


def test_double_sigterm_keeps_every_completed_sample(fm, tmp_path):
    r = fm.run_api_signal("simbench", "Server", signal.SIGTERM, 2, random.Random(5), work=tmp_path)
    _ok(r)


def test_disk_filling_during_a_run(fm, tmp_path):
    r = fm.run_disk("fill simbench", random.Random(6), work=tmp_path)
    _ok(r)
    assert r["last_line"] == "error: --out fs/o: no space left on device while writing trace.parquet"
