"""docs/profiles.md: its example profile is valid and says what the reference says."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

from simbench.profiles import parse_profile
from simbench.profiles.schema import SCENARIO_NAMES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "profiles.md"
CALIBRATION_DOC = ROOT / "docs" / "calibration.md"


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)


def test_example_profile_parses():
    (example,) = _yaml_blocks()
    prof = parse_profile(example, "docs/profiles.md")
    assert prof.default_model == "resnet50"
    m = prof.models["resnet50"]
    assert set(m.scenarios) == set(SCENARIO_NAMES)
    # the example's Offline point reproduces its own target, as its note says
    h = m.scenarios["Offline"]
    b = h.batching.max_batch
    qps = b / (m.latency.latency_ns(b) * 1e-9 * m.noise.mean)
    (t,) = m.calibration
    assert abs(qps / t.value - 1) <= t.tolerance


def _load_script(name: str):
    path = ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    try:
        spec.loader.exec_module(mod)
    finally:
        del sys.modules[spec.name]
    return mod


def test_calibration_doc_table_is_current():
    """Every row of ``benchmarks/calibration_table.py`` is in docs/calibration.md (columns
    added to the right of the printed ones, e.g. simulated values, are allowed)."""
    table = _load_script("calibration_table")
    doc_lines = CALIBRATION_DOC.read_text().splitlines()
    rows = table.rows(["a100", "h100", "l4", "t4"])
    assert len(rows) == 17
    for r in rows:
        line = table.markdown_row(r)
        prefix = line.rsplit("|", 2)[0]  # up to the "published by" column
        assert any(d.startswith(prefix) for d in doc_lines), line
