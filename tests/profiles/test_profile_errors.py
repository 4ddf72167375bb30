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
     lambda d: _rn(d)["scenarios"].__setitem__("Sideways", copy.deepcopy(_rn(d)["scenarios"]["Offline"])),
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
    ("latency falls with batch",
     lambda d: _rn(d)["latency"]["points"][1].__setitem__("latency_ns", _rn(d)["latency"]["points"][0]["latency_ns"] / 2),
     ["models.resnet50.latency.points", "latency_ns must not fall as the batch grows: batch 1 takes"]),
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


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string"])
def test_top_level_must_be_a_mapping(text):
    with pytest.raises(ProfileError, match=rf"^{ORIGIN}: expected a mapping"):
        parse_profile(text, ORIGIN)


@pytest.mark.parametrize("text", ["", "# a comment\n"])
def test_an_empty_profile_says_so(text):
    with pytest.raises(ProfileError, match=rf"^{ORIGIN}: the file is empty \(or only comments\)"):
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


def test_flat_latency_table_is_accepted():
    text = (
        "name: x\ndevice: y\nmodels:\n  m:\n    latency:\n      points:\n"
        "        - {batch: 1, latency_ns: 10, source: s}\n        - {batch: 8, latency_ns: 10, source: s}\n"
    )
    p = parse_profile(text, ORIGIN)
    assert p.models["m"].latency.latency_ns(64) == 10.0  # slope 0 beyond the table: never below 10


def test_falling_last_pair_reports_where_extrapolation_hits_zero():
    text = (
        "name: x\ndevice: y\nmodels:\n  m:\n    latency:\n      points:\n"
        "        - {batch: 1, latency_ns: 100, source: s}\n        - {batch: 2, latency_ns: 200, source: s}\n"
        "        - {batch: 4, latency_ns: 150, source: s}\n"
    )
    with pytest.raises(ProfileError) as info:
        parse_profile(text, ORIGIN)
    # the line through (2, 200) and (4, 150) reaches 0 at batch 4 + 150 * 2 / 50 = 10
    assert "batch 2 takes 200 ns but batch 4 takes 150 ns" in str(info.value)
    assert "non-positive times from batch 11" in str(info.value)


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("a: &x 1\nb: *x\n", "line 1: YAML anchor &x is not allowed"),
        ("name: &n x\n", "line 1: YAML anchor &n is not allowed"),
        ("base: {}\nother:\n  <<: *undefined\n", "line 3: YAML alias *undefined is not allowed"),
    ],
)
def test_anchors_and_aliases_are_refused_before_construction(text, fragment):
    with pytest.raises(ProfileError) as info:
        parse_profile(text, ORIGIN)
    assert str(info.value).startswith(f"{ORIGIN}: ") and fragment in str(info.value)


def test_node_count_and_size_are_capped():
    from simbench.profiles import MAX_PROFILE_BYTES, MAX_PROFILE_NODES

    many = "[" + ",".join("1" for _ in range(MAX_PROFILE_NODES + 1)) + "]"
    with pytest.raises(ProfileError, match=f"more than {MAX_PROFILE_NODES:,} YAML nodes"):
        parse_profile(f"x: {many}\n", ORIGIN)
    with pytest.raises(ProfileError, match="a profile is at most"):
        parse_profile("#" * (MAX_PROFILE_BYTES + 1), ORIGIN)


def test_python_tags_still_refused():
    with pytest.raises(ProfileError, match=rf"^{ORIGIN}: not valid YAML"):
        parse_profile("name: !!python/object/apply:os.system ['true']\n", ORIGIN)


def test_bare_name_is_shipped_even_when_cwd_has_that_name(tmp_path, monkeypatch, base):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a100").mkdir()  # e.g. an earlier run's --out a100
    (tmp_path / "l4").write_text("not a profile")
    assert load_profile("a100").name == "a100" and load_profile("l4").name == "l4"
    # a bare name that is not shipped but is a file: that file
    (tmp_path / "mine").write_text(yaml.safe_dump(dict(base, name="mine"), sort_keys=False))
    assert load_profile("mine").name == "mine"
    # clearly paths are paths
    with pytest.raises(ProfileError, match=r"^\./a100: is a directory"):
        load_profile("./a100")
    with pytest.raises(ProfileError, match=r"^a100\.yaml: profile file not found"):
        load_profile("a100.yaml")
