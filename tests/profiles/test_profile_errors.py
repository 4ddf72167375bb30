"""Malformed profiles raise ``ProfileError`` naming the file and the offending field.

Each case starts from the shipped A100 profile, breaks one thing, and checks the message.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from simbench.errors import ProfileError, SimbenchInputError
from simbench.profiles import load_profile, parse_profile

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "broken_profile.yaml"


@pytest.fixture(scope="module")
def base() -> dict:
    return yaml.safe_load((ROOT / "hardware_profiles" / "a100.yaml").read_text())


def _rn(d):
    return d["models"]["resnet50"]


def _set(path_fn, key, value):
    def mutate(d):
        path_fn(d)[key] = value
    return mutate


def _del(path_fn, key):
    def mutate(d):
        del path_fn(d)[key]
    return mutate


CASES = [
    # (id, mutation, substrings the message must contain)
    ("string latency",
     _set(lambda d: _rn(d)["latency"]["points"][0], "latency_ns", "fast"),
     ["models.resnet50.latency.points[0].latency_ns", "valid number", "'fast'"]),
    ("negative latency",
     _set(lambda d: _rn(d)["latency"]["points"][2], "latency_ns", -5),
     ["models.resnet50.latency.points[2].latency_ns", "greater than 0"]),
    ("missing point source",
     _del(lambda d: _rn(d)["latency"]["points"][1], "source"),
     ["models.resnet50.latency.points[1].source", "required field is missing"]),
    ("empty point source",
     _set(lambda d: _rn(d)["latency"]["points"][1], "source", ""),
     ["models.resnet50.latency.points[1].source"]),
    ("missing spec source",
     _del(lambda d: d["specs"]["memory_bandwidth_gbps"], "source"),
     ["specs.memory_bandwidth_gbps.source", "required field is missing"]),
    ("missing power source",
     _del(lambda d: d["power_limit_w"], "source"),
     ["power_limit_w.source", "required field is missing"]),
    ("missing noise source",
     _del(lambda d: _rn(d)["noise"], "source"),
     ["models.resnet50.noise.quantiles.source", "required field is missing"]),
    ("missing harness source",
     _del(lambda d: _rn(d)["scenarios"]["Server"], "source"),
     ["models.resnet50.scenarios.Server.source", "required field is missing"]),
    ("missing target source",
     _del(lambda d: _rn(d)["calibration"][0], "source"),
     ["models.resnet50.calibration[0].source", "required field is missing"]),
    ("unknown scenario",
     lambda d: _rn(d)["scenarios"].__setitem__("Sideways", _rn(d)["scenarios"]["Offline"]),
     ["models.resnet50.scenarios", "unknown scenario 'Sideways'"]),
    ("unknown target scenario",
     _set(lambda d: _rn(d)["calibration"][0], "scenario", "Sideways"),
     ["models.resnet50.calibration[0].scenario"]),
    ("unknown batching kind",
     _set(lambda d: _rn(d)["scenarios"]["Server"]["batching"], "kind", "static"),
     ["models.resnet50.scenarios.Server.batching", "'static'"]),
    ("zero max batch",
     _set(lambda d: _rn(d)["scenarios"]["Server"]["batching"], "max_batch", 0),
     ["models.resnet50.scenarios.Server.batching.dynamic.max_batch"]),
    ("string setting",
     _set(lambda d: _rn(d)["scenarios"]["Offline"]["settings"], "offline_expected_qps", "lots"),
     ["models.resnet50.scenarios.Offline.settings.offline_expected_qps", "'lots'"]),
    ("batches not increasing",
     lambda d: _rn(d)["latency"]["points"].reverse(),
     ["models.resnet50.latency.points", "strictly increasing"]),
    ("noise not ending at 1",
     lambda d: _rn(d)["noise"]["points"].pop(),
     ["models.resnet50.noise.quantiles.points", "end at 1"]),
    ("noise decreasing",
     lambda d: _rn(d)["noise"]["points"].__setitem__(2, [0.9, 0.5]),
     ["models.resnet50.noise.quantiles.points", "non-decreasing"]),
    ("zero tolerance",
     _set(lambda d: _rn(d)["calibration"][0], "tolerance", 0),
     ["models.resnet50.calibration[0].tolerance"]),
    ("unknown top-level field",
     lambda d: d.__setitem__("colour", "green"),
     ["field colour", "Extra inputs are not permitted"]),
    ("unknown point field",
     _set(lambda d: _rn(d)["latency"]["points"][0], "latency_ms", 0.45),
     ["models.resnet50.latency.points[0].latency_ms", "Extra inputs"]),
    ("no models",
     lambda d: d.__setitem__("models", {}),
     ["field models"]),
    ("name with spaces",
     lambda d: d.__setitem__("name", "my a100"),
     ["field name"]),
    ("wrong schema version",
     lambda d: d.__setitem__("schema_version", 2),
     ["field schema_version"]),
]


@pytest.mark.parametrize("mutate,expected", [pytest.param(m, e, id=i) for i, m, e in CASES])
def test_malformed_profile_names_file_and_field(base, mutate, expected):
    d = copy.deepcopy(base)
    mutate(d)
    with pytest.raises(ProfileError) as info:
        parse_profile(yaml.safe_dump(d, sort_keys=False), ORIGIN)
    msg = str(info.value)
    assert msg.startswith(f"{ORIGIN}: ")
    for part in expected:
        assert part in msg, f"{part!r} not in {msg!r}"


def test_profile_error_is_an_input_error():
    assert issubclass(ProfileError, SimbenchInputError)
    assert issubclass(ProfileError, ValueError)


@pytest.mark.parametrize("text", ["models: [unclosed", "name: a100\n\tdevice: tab", "a: b: c"])
def test_bad_yaml(text):
    with pytest.raises(ProfileError, match=rf"^{ORIGIN}: not valid YAML"):
        parse_profile(text, ORIGIN)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string", ""])
def test_top_level_must_be_a_mapping(text):
    with pytest.raises(ProfileError, match=rf"^{ORIGIN}: expected a mapping"):
        parse_profile(text, ORIGIN)


def test_load_by_path_names_the_path(tmp_path, base):
    d = copy.deepcopy(base)
    d["models"]["resnet50"]["latency"]["points"][0]["latency_ns"] = "fast"
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(path) in str(info.value)
    assert "models.resnet50.latency.points[0].latency_ns" in str(info.value)


def test_valid_copy_loads_by_path(tmp_path, base):
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    assert load_profile(path) == load_profile("a100")


def test_missing_file(tmp_path):
    with pytest.raises(ProfileError, match="profile file not found"):
        load_profile(tmp_path / "nope.yaml")


def test_unknown_name_lists_shipped_profiles():
    with pytest.raises(ProfileError) as info:
        load_profile("a1000")
    msg = str(info.value)
    assert "unknown profile 'a1000'" in msg
    for name in ("a100", "h100", "l4", "t4"):
        assert name in msg


@pytest.mark.parametrize("value", [".inf", ".nan", "1e30"])
def test_non_finite_or_absurd_latency_rejected(tmp_path, value):
    from simbench.profiles import load_profile

    p = tmp_path / "p.yaml"
    p.write_text(
        "name: x\ndevice: y\nmodels:\n  m:\n    latency:\n      points:\n"
        f"        - {{batch: 1, latency_ns: {value}, source: s}}\n"
    )
    with pytest.raises(ProfileError, match=r"models.m.latency.points\[0\].latency_ns"):
        load_profile(p)
