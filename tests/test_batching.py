"""One batching type and one ``--batching`` grammar for simulate, benchmark and profiles."""

from __future__ import annotations

import re

import pytest

from simbench.batching import BATCHING_GRAMMAR, DynamicBatching, NoBatching, parse_batching


@pytest.mark.parametrize(
    "text, expected",
    [
        (None, NoBatching()),
        ("none", NoBatching()),
        (" OFF ", NoBatching()),
        ("1", NoBatching()),
        ("8", DynamicBatching(max_batch=8, timeout_us=0)),
        ("dynamic:8", DynamicBatching(max_batch=8, timeout_us=0)),
        ("Dynamic:128:2000", DynamicBatching(max_batch=128, timeout_us=2000)),
        ("dynamic:4:0.5", DynamicBatching(max_batch=4, timeout_us=0.5)),
        ("dynamic:1000000:60000000", DynamicBatching(max_batch=1_000_000, timeout_us=60_000_000)),
    ],
)
def test_grammar(text, expected):
    assert parse_batching(text) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("static:8", "expected none | N | dynamic:MAX_BATCH[:TIMEOUT_US]"),
        ("-3", "expected none | N"),
        ("8:100", "expected none | N"),
        ("dynamic", "expected none | N"),
        ("dynamic:8:1:2", "expected none | N"),
        ("dynamic:x", "MAX_BATCH must be an integer"),
        ("dynamic:8:soon", "TIMEOUT_US a number"),
        ("dynamic:0", "MAX_BATCH must be in 1..1000000"),
        ("1000001", "MAX_BATCH must be in 1..1000000"),
        ("dynamic:8:-1", "TIMEOUT_US must be in 0..60000000"),
        ("dynamic:8:nan", "TIMEOUT_US must be in 0..60000000"),
        ("dynamic:8:inf", "TIMEOUT_US must be in 0..60000000"),
    ],
)
def test_bad_forms_name_the_flag_and_grammar(text, fragment):
    with pytest.raises(ValueError, match="^--batching") as info:
        parse_batching(text)
    assert fragment in str(info.value)


def test_one_type_everywhere():
    """Profiles, the simulator and the real SUTs take the very same classes and parser."""
    import simbench.bench as bench
    import simbench.jobs as jobs
    import simbench.profiles.schema as schema

    assert schema.NoBatching is NoBatching and schema.DynamicBatching is DynamicBatching
    assert bench.NoBatching is NoBatching and bench.DynamicBatching is DynamicBatching
    assert jobs.parse_batching is parse_batching is bench.parse_batching
    harness = schema.ScenarioHarness(batching={"kind": "dynamic", "max_batch": 8}, source="test")
    assert harness.batching == parse_batching("8")


def test_real_and_simulated_sut_read_one_policy():
    from simbench.bench.job import BenchmarkOptions, build_sut
    from simbench.profiles import load_profile
    from simbench.settings import Scenario
    from simbench.sim import sut_from_profile

    policy = parse_batching("dynamic:16:250")
    sim = sut_from_profile(load_profile("a100"), "resnet50", Scenario.Server, batching=policy)
    real = build_sut(BenchmarkOptions(sut="http://127.0.0.1:9/v2/models/m", batching="dynamic:16:250"))
    assert real.batching == sim.batching == policy
    assert (sim.max_batch, sim.timeout_ns) == (16, 250_000)
    assert real.describe()["batching"] == {"kind": "dynamic", "max_batch": 16, "timeout_us": 250.0}


def test_old_style_batching_object_is_refused():
    from simbench.bench.sut import CallableSUT

    with pytest.raises(TypeError, match="batching: expected simbench.batching.NoBatching or DynamicBatching"):
        CallableSUT(lambda i: None, batching=(8, 0))


def test_cli_help_states_the_grammar_once_for_both_commands():
    from simbench.batching import MAX_BATCH_LIMIT, TIMEOUT_US_LIMIT
    from simbench.cli._common import BATCHING_HELP

    assert BATCHING_GRAMMAR in BATCHING_HELP
    assert f"MAX_BATCH 1..{MAX_BATCH_LIMIT}" in BATCHING_HELP and f"TIMEOUT_US 0..{TIMEOUT_US_LIMIT}" in BATCHING_HELP


def test_stats_simulator_law_reads_the_same_grammar():
    """``stats validate --simulator --batching`` takes the simulate/benchmark forms (plus
    'dynamic' alone for the profile's own batcher)."""
    from simbench.plan.coverage import SimulatorLaw, _materialise

    law = SimulatorLaw(0.3, batching="dynamic:8", reference_queries=200_000, reference_runs=2, workers=1)
    assert _materialise(law._spec)[1].batching == DynamicBatching(max_batch=8, timeout_us=0)
    assert _materialise(SimulatorLaw(0.3, batching="16", workers=1)._spec)[1].batching == parse_batching("dynamic:16")
    with pytest.raises(ValueError, match=re.escape("--batching: expected none | N | dynamic:MAX_BATCH")):
        SimulatorLaw(0.3, batching="static:8", workers=1)


@pytest.mark.parametrize("text", ["none", "8", "dynamic:4:100"])
def test_simulated_and_real_sut_describe_batching_alike(text):
    """Trace metadata names a policy with the same fields whichever SUT ran it."""
    from simbench.bench.sut import CallableSUT
    from simbench.testing import make_sut

    policy = parse_batching(text)
    sim = make_sut(batching=policy).describe()["batching"]
    real = CallableSUT(lambda i: None, batching=policy).describe()["batching"]
    assert sim == real == {"kind": policy.kind, "max_batch": policy.max_batch, "timeout_us": policy.timeout_us}
