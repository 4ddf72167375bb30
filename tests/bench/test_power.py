"""Measured power of real runs (simbench.bench.power): RAPL counters read as the kernel lays
them out, wraparound, the timeline and the Summary fields; nothing reported without a source."""

import numpy as np
import pytest

from simbench.bench.power import PowerSampler, rapl_zones
from simbench.summary import device_power_stats


def _zone(root, name, energy_uj, max_uj=1_000_000_000):
    d = root / name
    d.mkdir(parents=True)
    (d / "energy_uj").write_text(f"{energy_uj}\n")
    (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
    (d / "name").write_text("package-0\n")
    return d


def test_rapl_zones_are_top_level_only(tmp_path):
    _zone(tmp_path, "intel-rapl:0", 5)
    _zone(tmp_path, "intel-rapl:0:0", 5)  # a sub-zone (core): counted inside the package
    _zone(tmp_path, "intel-rapl:1", 5)
    assert [z.name for z in rapl_zones(tmp_path)] == ["intel-rapl:0", "intel-rapl:1"]
    assert rapl_zones(tmp_path / "missing") == []


def test_sampled_power_and_energy_from_counters(tmp_path):
    z = _zone(tmp_path, "intel-rapl:0", 999_000_000, max_uj=1_000_000_000)
    s = PowerSampler(rapl_zones(tmp_path), period_s=0)  # no thread: samples by hand
    s.begin()
    import time

    time.sleep(0.05)
    (z / "energy_uj").write_text("4000000\n")  # wrapped: 1e9 - 999e6 + 4e6 = 5e6 uJ = 5 J
    s.sample()
    tl = s.stop()
    assert tl.metadata["kind"] == "measured"
    first = tl.device(0)
    dt = (first.t_ns[1] - first.t_ns[0]) / 1e9
    assert first.power_w[1] == pytest.approx(5.0 / dt, rel=0.05)
    # the last sample read the same counter: no more energy
    assert first.power_w[-1] == 0.0
    stats = device_power_stats(tl, 100)
    assert stats["measured"] is True
    assert stats["energy_j"] == pytest.approx(5.0, rel=0.05)
    assert stats["energy_per_sample_j"] == pytest.approx(0.05, rel=0.05)
    assert stats["peak_temperature_c"] is None


def test_no_source_no_sampler(tmp_path):
    assert PowerSampler.start(tmp_path / "none", use_nvml=False) is None
