"""TestSettings, conf parsing with LoadGen's lookup order, and effective settings."""

import dataclasses

import pytest

from simbench.errors import ConfError
from simbench.settings import (
    Scenario,
    TestSettings,
    apply_conf,
    official_settings,
    parse_conf,
    read_conf,
    resolve,
)


def test_loadgen_defaults():
    s = TestSettings()
    assert (s.min_duration_ms, s.min_query_count, s.server_target_latency_ns) == (10_000, 100, 100_000_000)
    assert s.multi_stream_samples_per_query == 8 and s.single_stream_target_latency_percentile == 0.9


@pytest.mark.parametrize(
    "model,scenario,field,value",
    [
        ("resnet50", "Server", "server_target_latency_ns", 15_000_000),
        ("bert-99", "Server", "server_target_latency_ns", 130_000_000),
        ("retinanet", "MultiStream", "multi_stream_expected_latency_ns", 528_000_000),
        ("resnet50", "MultiStream", "min_query_count", 662),
        ("resnet50", "Offline", "min_query_count", 24576),
        ("bert-99", "Offline", "min_query_count", 10833),
        ("resnet50", "SingleStream", "min_duration_ms", 600_000),
        ("resnet50", "Server", "schedule_rng_seed", 16159082839903944936),
        ("resnet50", "Offline", "performance_sample_count_override", 1024),
        ("llama2-70b", "Server", "server_ttft_latency", 2_000_000_000),
    ],
)
def test_official_values(model, scenario, field, value):
    assert getattr(official_settings(model, scenario), field) == value


def test_lookup_order_model_scenario_beats_wildcards():
    text = "*.*.min_query_count = 1\nm.*.min_query_count = 2\n*.Server.min_query_count = 3\nm.Server.min_query_count = 4\n"
    e = parse_conf(text, "t.conf")
    assert apply_conf(TestSettings(), e, "m", "Server").min_query_count == 4
    assert apply_conf(TestSettings(), e, "other", "Server").min_query_count == 3
    assert apply_conf(TestSettings(), e, "m", "Offline").min_query_count == 2
    assert apply_conf(TestSettings(), e, "other", "Offline").min_query_count == 1


def test_units_and_truncation_match_loadgen():
    e = parse_conf(
        "*.Server.target_latency = 0.5\n*.SingleStream.target_latency = 0.66\n"
        "*.Server.target_latency_percentile = 97\n*.*.min_duration = 1500.7\n",
        "u.conf",
    )
    server = apply_conf(TestSettings(), e, "x", "Server")
    assert server.server_target_latency_ns == 0  # strtoull truncates 0.5 ms to 0
    assert server.server_target_latency_percentile == pytest.approx(0.97)
    assert server.min_duration_ms == 1500
    ss = apply_conf(TestSettings(), e, "x", "SingleStream")
    assert ss.single_stream_expected_latency_ns == 660_000


def test_user_conf_cannot_set_seeds(tmp_path):
    p = tmp_path / "user.conf"
    p.write_text("*.*.schedule_rng_seed = 5\nresnet50.Server.target_qps = 1234.5\n")
    s = official_settings("resnet50", "Server", user_conf=p)
    assert s.schedule_rng_seed == 16159082839903944936  # only the official conf sets seeds
    assert s.server_target_qps == 1234.5


@pytest.mark.parametrize(
    "line,fragment",
    [
        ("resnet50.Server.target_qps 100", "expected 'model.scenario.key = value'"),
        ("resnet50.target_qps = 100", "expected 'model.scenario.key'"),
        ("resnet50.Sever.target_qps = 100", "unknown scenario 'Sever'"),
        ("resnet50.Server.target_qsp = 100", "unknown setting 'target_qsp'"),
        ("resnet50.Server.target_qps = fast", "expected a number, got 'fast'"),
        ("resnet50.Server.min_duration = -5", "expected a non-negative integer"),
    ],
)
def test_malformed_conf_names_file_line_and_key(tmp_path, line, fragment):
    p = tmp_path / "bad.conf"
    p.write_text("# comment\n\n" + line + "\n")
    with pytest.raises(ConfError) as exc:
        apply_conf(TestSettings(), read_conf(p), "resnet50", "Server")
    msg = str(exc.value)
    assert f"{p}:3" in msg and fragment in msg


def test_missing_conf_file():
    with pytest.raises(ConfError, match="cannot read conf file"):
        read_conf("/nonexistent/user.conf")


def test_invalid_field_values_raise_naming_the_field():
    with pytest.raises(ValueError, match="server_target_qps"):
        TestSettings(scenario=Scenario.Server, server_target_qps=0)
    with pytest.raises(ValueError, match="single_stream_target_latency_percentile"):
        TestSettings(single_stream_target_latency_percentile=90)


@pytest.mark.parametrize("scenario", list(Scenario))
def test_effective_settings_per_scenario(scenario):
    s = dataclasses.replace(official_settings("resnet50", scenario), offline_expected_qps=43000, server_target_qps=30000)
    eff = resolve(s, 50_000, 1024)
    expected = {
        Scenario.SingleStream: (1, 100.0, 1, 0),
        Scenario.MultiStream: (8, 12.5, 1, 0),
        Scenario.Server: (1, 30000.0, 0, 15_000_000),
        Scenario.Offline: (28_380_000, 43000.0, 1, 0),  # 1.1 * 600 s * 43000 (NVIDIA's v3.0 run)
    }[scenario]
    assert (eff.samples_per_query, eff.target_qps, eff.max_async_queries, eff.target_latency_ns) == expected
    if scenario is Scenario.Offline:
        assert eff.min_query_count == 1 and eff.target_duration_ms == 0 and eff.min_sample_count == 28_380_000
    assert eff.performance_sample_count == 1024 and eff.accuracy_sample_count == 50_000


# --- int64 / float range of every value after unit conversion (issue 8) ----------------


@pytest.mark.parametrize(
    "line,fragment",
    [
        ("*.*.min_duration = 1e400", "key *.*.min_duration: expected a non-negative integer, got '1e400'"),
        ("*.Server.target_qps = 1e999", "key *.Server.target_qps: expected a finite number, got '1e999'"),
        ("*.Server.target_latency_percentile = 1" + "0" * 400, "key *.Server.target_latency_percentile: expected a finite number"),
        ("*.SingleStream.target_latency = 1e300", "single_stream_expected_latency_ns: 1000000"),
        ("*.*.max_duration = 9223372036855", "max_duration_ms: 9223372036855 ms does not fit int64 once converted to ns"),
        ("*.Server.target_latency = 9223372036855", "server_target_latency_ns: 9223372036855000000 ns does not fit int64"),
        ("*.*.min_query_count = 9223372036854775808", "min_query_count: 9223372036854775808 does not fit int64"),
        ("*.*.print_timestamps = 1" + "0" * 400, None),  # a bool: any non-zero integer is true
    ],
)
def test_conf_values_out_of_range_name_file_line_and_key(line, fragment):
    e = parse_conf("# header\n" + line + "\n", "u.conf")
    scenario = "SingleStream" if ".SingleStream." in line else "Server"
    if fragment is None:
        assert apply_conf(TestSettings(), e, "m", scenario).print_timestamps is True
        return
    with pytest.raises(ConfError) as info:
        apply_conf(TestSettings(), e, "m", scenario)
    msg = str(info.value)
    assert msg.startswith("u.conf:2: key ") and fragment in msg


def test_largest_values_that_fit_are_accepted():
    limit_ms = (2**63 - 1) // 1_000_000
    e = parse_conf(f"*.*.max_duration = {limit_ms}\n*.*.schedule_rng_seed = {2**64 - 1}\n", "u.conf")
    s = apply_conf(TestSettings(), e, "m", "Server", official=True)
    assert s.max_duration_ms * 1_000_000 <= 2**63 - 1 and s.schedule_rng_seed == 2**64 - 1
    with pytest.raises(ValueError, match="schedule_rng_seed: expected a 64-bit unsigned seed"):
        TestSettings(schedule_rng_seed=2**64)


def test_conf_with_byte_order_mark(tmp_path):
    p = tmp_path / "user.conf"
    p.write_bytes("\ufeff*.Server.target_latency = 1\n".encode("utf-8"))
    s = official_settings("resnet50", "Server", user_conf=p)
    assert s.server_target_latency_ns == 1_000_000


def test_apply_conf_reports_where_each_field_was_set():
    origins = {}
    e = parse_conf("*.Server.target_qps = 5\n\nm.*.min_duration = 7\n", "u.conf")
    apply_conf(TestSettings(), e, "m", "Server", origins=origins)
    assert {k: (v.origin, v.line_no) for k, v in origins.items()} == {
        "server_target_qps": ("u.conf", 1),
        "min_duration_ms": ("u.conf", 3),
    }
