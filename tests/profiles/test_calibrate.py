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
