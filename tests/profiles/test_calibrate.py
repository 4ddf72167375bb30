"""simbench.profiles.calibrate: the library builds the shipped profiles as validated
``HardwareProfile`` objects, and PyYAML writes them back to the very bytes that ship."""

from __future__ import annotations

from pathlib import Path

import pytest

from simbench.profiles import load_profile, parse_profile
from simbench.profiles.calibrate import SHIPPED, build_profiles, load_calibration, render_profiles

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built():
    return build_profiles(load_calibration())


@pytest.mark.parametrize("name", SHIPPED)
def test_library_builds_the_shipped_profiles(built, name):
    """Every field of every shipped profile (as loaded) equals what the library builds."""
    assert built[name].model_dump() == load_profile(name).model_dump()


@pytest.mark.parametrize("name", SHIPPED)
def test_rendered_yaml_reads_back_equal(built, name):
    text = render_profiles(load_calibration())[name]
    assert parse_profile(text, f"{name}.yaml").model_dump() == built[name].model_dump()


def test_missing_calibration_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="nope.json: calibration file not found"):
        load_calibration(tmp_path / "nope.json")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_yaml_is_the_library_output_byte_for_byte(name):
    """hardware_profiles/<name>.yaml is exactly what ``simbench profile calibrate`` writes
    from simbench/data/published_calibration.json; if this fails, re-run it (or change the
    method in simbench/profiles/calibrate.py, not the YAML)."""
    shipped = (ROOT / "hardware_profiles" / f"{name}.yaml").read_bytes()
    assert render_profiles(load_calibration())[name].encode("utf-8") == shipped


def test_calibrate_cli_check_and_write(tmp_path):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "simbench.cli.main", "profile", "calibrate", "--out", str(tmp_path)]
    r = subprocess.run(cmd + ["--check"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1 and "missing: " in r.stderr and "a100.yaml" in r.stderr  # none there yet
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for name in SHIPPED:
        assert (tmp_path / f"{name}.yaml").read_bytes() == (ROOT / "hardware_profiles" / f"{name}.yaml").read_bytes()
    r = subprocess.run(cmd + ["--check"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == ""
    (tmp_path / "l4.yaml").write_text((tmp_path / "l4.yaml").read_text() + "# edited\n")
    r = subprocess.run(cmd + ["--check"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1 and r.stderr == f"out of date: {tmp_path / 'l4.yaml'}\n"
