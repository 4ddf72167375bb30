"""The shipped hardware profiles: they load, cover all four scenarios, reproduce every
calibration target analytically, give VALID-length runs, and trace back to the published
calibration file number by number.

The analytic formulas are the simulator's semantics in closed form (docs/calibration.md):

* Offline throughput  = replicas * B / (latency(B) * noise.mean),  B = Offline max_batch
* SingleStream p90    = latency(1) * q(0.9)    (one sample per query, issued on completion)
* MultiStream p99     = latency(8) * q(0.99)   (the 8 samples of a query form one batch)

with ``q`` the noise model's quantile function. The traceability tests read
``published_calibration.json``, shipped in the package as ``simbench/data/`` (a copy of
the project's ``shared/reference/published_calibration.json``, every number with its source),
so they run in a plain clone.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest

from simbench.profiles import list_profiles, load_profile
from simbench.profiles.schema import SCENARIO_NAMES, DynamicBatching, NoBatching

ROOT = Path(__file__).resolve().parents[2]
CAL_JSON = Path(
    os.environ.get(
        "SIMBENCH_CALIBRATION_JSON",
        ROOT / "simbench" / "data" / "published_calibration.json",
    )
)
SHIPPED = ("a100", "h100", "l4", "t4")
MODELS = ("resnet50", "bert-99")
MIN_DURATION_S = 600.0
# mlperf.conf ``<model>.Offline.min_query_count`` (LoadGen v4.0+; loadgen.md section 2c).
OFFLINE_MIN_QUERY_COUNT = {"resnet50": 24576, "bert-99": 10833}
METRIC_BY_SCENARIO = {
    "Offline": ("Samples per second", "samples/s"),
    "SingleStream": ("90th percentile latency (ns)", "ns"),
    "MultiStream": ("99th percentile latency (ns)", "ns"),
}


def quantile(noise, u: float) -> float:
    return float(noise.multipliers(np.array([u]))[0])


def analytic(model, scenario: str) -> float:
    """What the simulator reproduces for ``scenario``, in closed form (module docstring)."""
    lat = model.latency.latency_ns
    if scenario == "Offline":
        h = model.scenarios["Offline"]
        b = h.batching.max_batch
        return h.replicas * b / (lat(b) * 1e-9 * model.noise.mean)
    if scenario == "SingleStream":
        return lat(1) * quantile(model.noise, 0.9)
    if scenario == "MultiStream":
        return lat(8) * quantile(model.noise, 0.99)
    raise AssertionError(f"no analytic formula for {scenario}")


def _targets():
    out = []
    for name in SHIPPED:
        prof = load_profile(name)
        for mname, m in prof.models.items():
            for i, t in enumerate(m.calibration):
                out.append(pytest.param(name, mname, i, id=f"{name}-{mname}-{t.scenario}"))
    return out


def _models():
    return [pytest.param(p, m, id=f"{p}-{m}") for p in SHIPPED for m in MODELS]


# ----------------------------------------------------------------------------------------------
# Loading and structure
# ----------------------------------------------------------------------------------------------


def test_registry_lists_the_shipped_profiles():
    assert set(SHIPPED) <= set(list_profiles())


@pytest.mark.parametrize("name", SHIPPED)
def test_profile_loads_with_resnet50_first(name):
    prof = load_profile(name)
    assert prof.name == name
    assert list(prof.models)[:2] == list(MODELS)
    assert prof.default_model == "resnet50"


@pytest.mark.parametrize("name", SHIPPED)
def test_specs_clocks_and_power(name):
    prof = load_profile(name)
    for key in ("memory_bandwidth_gbps", "boost_clock_mhz", "tdp_w", "sm_count"):
        assert key in prof.specs, key
    assert any(k.startswith("int8_tensor") for k in prof.specs)
    assert any(k.startswith("fp16") for k in prof.specs)
    assert prof.power_limit_w is not None and prof.power_limit_w.unit == "W"
    clocks = [c.value for c in prof.clock_states_mhz]
    assert clocks and clocks == sorted(clocks)
    assert clocks[-1] == prof.specs["boost_clock_mhz"].value
    if "base_clock_mhz" in prof.specs:
        assert clocks[0] == prof.specs["base_clock_mhz"].value


@pytest.mark.parametrize("name,model", _models())
def test_every_model_has_all_four_scenarios(name, model):
    m = load_profile(name).models[model]
    assert set(m.scenarios) == set(SCENARIO_NAMES)


@pytest.mark.parametrize("name,model", _models())
def test_scenario_batching_follows_the_simulator_semantics(name, model):
    m = load_profile(name).models[model]
    batches = [p.batch for p in m.latency.points]
    assert isinstance(m.scenarios["SingleStream"].batching, NoBatching)
    ms = m.scenarios["MultiStream"].batching
    assert isinstance(ms, DynamicBatching) and (ms.max_batch, ms.timeout_us) == (8, 0)
    off = m.scenarios["Offline"].batching
    assert isinstance(off, DynamicBatching) and off.timeout_us == 0
    assert off.max_batch in batches  # the Offline batch is a calibrated table point
    srv = m.scenarios["Server"].batching
    assert isinstance(srv, DynamicBatching) and srv.timeout_us > 0
    assert 1 <= srv.max_batch <= batches[-1]  # no extrapolation beyond the table
    assert {1, 8} <= set(batches)
    assert all(h.replicas == 1 for h in m.scenarios.values())


@pytest.mark.parametrize("name,model", _models())
def test_latency_table_is_physical(name, model):
    """Latency grows with batch, per-sample cost falls (throughput b/latency(b) rises)."""
    pts = load_profile(name).models[model].latency.points
    lat = [p.latency_ns for p in pts]
    per_sample = [p.latency_ns / p.batch for p in pts]
    assert lat == sorted(lat) and len(set(lat)) == len(lat)
    assert per_sample == sorted(per_sample, reverse=True)


@pytest.mark.parametrize("name,model", _models())
def test_noise_has_median_one_and_documented_points(name, model):
    noise = load_profile(name).models[model].noise
    assert noise.kind == "quantiles"
    assert quantile(noise, 0.5) == pytest.approx(1.0)
    assert [p for p, _ in noise.points] == [0.0, 0.5, 0.9, 0.95, 0.97, 0.99, 0.999, 1.0]
    assert 0.9 < noise.mean < 1.1


@pytest.mark.parametrize("name,model", _models())
def test_every_derived_number_says_so(name, model):
    """A point whose source is not a single published entry carries a DERIVED note."""
    for p in load_profile(name).models[model].latency.points:
        if p.source.startswith("DERIVED") or len(_refs(p.source)) != 1:
            assert p.note and p.note.startswith("DERIVED"), (p.batch, p.note)


# ----------------------------------------------------------------------------------------------
# Calibration targets and run validity, analytically
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,model,i", _targets())
def test_calibration_target_reproduced_analytically(name, model, i):
    m = load_profile(name).models[model]
    t = m.calibration[i]
    assert (t.metric, t.unit) == METRIC_BY_SCENARIO[t.scenario]
    expected_tol = {"Offline": 0.05, "SingleStream": 0.10, "MultiStream": 0.10}[t.scenario]
    assert t.tolerance <= expected_tol
    got = analytic(m, t.scenario)
    assert abs(got / t.value - 1) <= t.tolerance, f"{t.scenario}: {got:.6g} vs {t.value}"


@pytest.mark.parametrize("name,model", _models())
def test_every_model_has_an_offline_target(name, model):
    m = load_profile(name).models[model]
    assert [t.scenario for t in m.calibration].count("Offline") == 1


@pytest.mark.parametrize("name,model", _models())
def test_offline_run_lasts_min_duration(name, model):
    """LoadGen issues max(min_query_count, 1.1 * 600 s * offline_expected_qps) samples; the
    simulated run must last >= 600 s or it is INVALID."""
    m = load_profile(name).models[model]
    qps = m.scenarios["Offline"].settings["offline_expected_qps"]
    samples = max(OFFLINE_MIN_QUERY_COUNT[model], math.floor(1.1 * MIN_DURATION_S * qps))
    duration_s = samples / analytic(m, "Offline")
    assert duration_s >= MIN_DURATION_S, duration_s


@pytest.mark.parametrize("scenario,key,batch", [
    ("SingleStream", "single_stream_expected_latency_ns", 1),
    ("MultiStream", "multi_stream_expected_latency_ns", 8),
])
@pytest.mark.parametrize("name,model", _models())
def test_expected_latency_does_not_run_out_of_queries(name, model, scenario, key, batch):
    """LoadGen pre-generates 2 * min_duration / expected_latency queries; they must cover
    min_duration / mean latency, i.e. expected <= 2 * mean latency."""
    m = load_profile(name).models[model]
    expected_ns = m.scenarios[scenario].settings[key]
    mean_ns = m.latency.latency_ns(batch) * m.noise.mean
    generated = 2 * MIN_DURATION_S * 1e9 / expected_ns
    needed = MIN_DURATION_S * 1e9 / mean_ns
    assert generated >= needed, (expected_ns, mean_ns)


# ----------------------------------------------------------------------------------------------
# Traceability to published_calibration.json
# ----------------------------------------------------------------------------------------------

REF_RE = re.compile(
    r"published_calibration\.json (?P<section>\w+)\[(?P<sel>[^\]]*)\]"
    r"(?P<path>(?:\.\w+|\[\"[^\"]*\"\])*)"
)
PATH_RE = re.compile(r"\.(\w+)|\[\"([^\"]*)\"\]")


def _refs(source: str) -> list[re.Match]:
    return list(REF_RE.finditer(source))


@pytest.fixture(scope="module")
def cal():
    return json.loads(CAL_JSON.read_text())


def resolve(cal: dict, ref: re.Match):
    """The value a citation points to; fails unless it names exactly one entry."""
    sec = cal[ref["section"]]
    sel = ref["sel"]
    if "=" in sel:
        conds = dict(kv.split("=", 1) for kv in sel.split(", "))
        hits = [e for e in sec if all(str(e.get(k)) == v for k, v in conds.items())]
        assert len(hits) == 1, f"{ref[0]}: {len(hits)} entries match"
        node = hits[0]
    else:
        node = sec[sel]
    for a, b in PATH_RE.findall(ref["path"]):
        node = node[a or b]
    return node


def _num(v) -> float:
    return float(v.strip()) if isinstance(v, str) else float(v)


def _all_sources(obj):
    """Every ``source`` string anywhere in a profile."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "source" and isinstance(v, str):
                yield v
            else:
                yield from _all_sources(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _all_sources(v)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_citation_resolves(cal, name):
    prof = load_profile(name)
    n = 0
    for src in _all_sources(prof.model_dump()):
        refs = _refs(src)
        if not refs:
            # only a value computed from this profile's own table may cite nothing, or a
            # device-model constant no published source gives, which says ASSUMED up front
            assert ("DERIVED" in src and "this profile's" in src) or src.startswith("ASSUMED"), src[:160]
            continue
        for r in refs:
            resolve(cal, r)
            n += 1
        # the original source string of the cited entry is carried along
        assert src.count("(orig: ") >= 1, src[:160]
    assert n > 30


@pytest.mark.parametrize("name,model,i", _targets())
def test_calibration_target_equals_published_value(cal, name, model, i):
    t = load_profile(name).models[model].calibration[i]
    (ref,) = _refs(t.source)
    assert ref["section"] == "mlperf_results" and ref["path"] == ".value"
    assert f"scenario={t.scenario}" in ref["sel"]
    entry = resolve(cal, REF_RE.match(f"published_calibration.json {ref['section']}[{ref['sel']}]"))
    assert t.value == resolve(cal, ref)
    assert t.metric == entry["metric"]
    assert entry["result_validity"] == "VALID"
    assert entry["n_accel"] == 1


@pytest.mark.parametrize("name", SHIPPED)
def test_copied_numbers_equal_their_source(cal, name):
    """Every number that cites one entry and is not marked DERIVED is that entry's value."""
    prof = load_profile(name)
    sourced = list(prof.specs.values()) + list(prof.clock_states_mhz) + [prof.power_limit_w]
    for s in sourced:
        if s.note and s.note.startswith("DERIVED"):
            continue
        (ref,) = _refs(s.source)
        assert s.value == _num(resolve(cal, ref)), s.source
    for m in prof.models.values():
        for p in m.latency.points:
            if p.note and p.note.startswith("DERIVED"):
                continue
            (ref,) = _refs(p.source)
            assert p.latency_ns == _num(resolve(cal, ref)), p.source


@pytest.mark.parametrize("name,model", _models())
def test_harness_settings_equal_their_source(cal, name, model):
    """Batch sizes, timeouts and TestSettings come from the cited harness config entries
    unless the source says DERIVED for that field."""
    m = load_profile(name).models[model]
    for scen, h in m.scenarios.items():
        by_field = {}
        for r in _refs(h.source):
            fields = [a or b for a, b in PATH_RE.findall(r["path"])]
            by_field.setdefault(fields[-1], []).append(resolve(cal, r))
        for key, value in h.settings.items():
            if f"{key} DERIVED" in h.source:
                continue
            assert value == _num(by_field[key][0]), (scen, key)
        if isinstance(h.batching, DynamicBatching) and scen in ("Server", "Offline"):
            assert h.batching.max_batch == _num(by_field["gpu_batch_size"][0])
        if scen == "Server":
            assert h.batching.timeout_us == _num(by_field["deque_timeout_usec"][0])


@pytest.mark.parametrize("name,model", _models())
def test_every_published_figure_is_a_target(cal, name, model):
    """If the calibration file has a 1-GPU SingleStream/MultiStream/Offline result for the
    profile's system, the profile is calibrated to it."""
    m = load_profile(name).models[model]
    off = next(t for t in m.calibration if t.scenario == "Offline")
    system = re.search(r"system=([^,\]]+)", off.source)[1]
    published = {
        e["scenario"] for e in cal["mlperf_results"]
        if e["system"] == system and e["benchmark"] == model and e["round"] == "v3.0"
    }
    assert published >= {"Offline"}
    assert {t.scenario for t in m.calibration} == published & set(METRIC_BY_SCENARIO)


@pytest.mark.parametrize("name", SHIPPED)
def test_price_per_gpu_hour_is_the_instance_price_over_its_gpus_with_its_source(name):
    """Every shipped profile carries an on-demand price read from a public page: the value is
    the calibration entry's instance price divided by its GPU count, and the source names the
    page (never a guess)."""
    import json

    from simbench.profiles.calibrate import default_calibration_path

    prof = load_profile(name)
    price = prof.price_per_hour_usd
    assert price is not None and price.unit == "USD/h"
    entry = json.loads(default_calibration_path().read_text())["cloud_prices_on_demand"][prof.device]
    assert price.value == entry["usd_per_gpu_hour"]
    assert price.value == pytest.approx(entry["instance_usd_per_hour"] / entry["gpus_per_instance"], abs=5e-5)
    assert entry["source"] in price.source and "cloud_prices_on_demand" in price.source
    assert "sku" in entry["sku_match"].lower() or "gpu" in entry["sku_match"].lower()
    assert entry["source_date"] in price.note
