"""Measured power of a real run, where the machine exposes it; nothing is guessed.

Sources, each one "device" of the measured ``DeviceTimeline`` (``simbench.timeline``):

* Linux powercap / RAPL: every top-level zone ``/sys/class/powercap/intel-rapl:N`` (CPU
  packages; AMD's RAPL appears under the same class). Power = the change of ``energy_uj``
  over the sampling interval; the counter wraps at ``max_energy_range_uj``.
  (Linux kernel documentation, "Power Capping Framework", ``Documentation/power/powercap``.)
* NVIDIA GPUs through NVML (``pip install 'simbench[nvml]'``, the ``nvidia-ml-py`` package):
  ``nvmlDeviceGetPowerUsage`` (mW), ``nvmlDeviceGetClockInfo`` (SM clock) and
  ``nvmlDeviceGetTemperature`` at each sample.

With neither (a container without powercap, no NVIDIA driver) ``PowerSampler.start`` returns
None and the run's Summary has no ``device_power``: the fields stay empty.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import numpy as np

__all__ = ["PowerSampler", "rapl_zones"]

POWERCAP_ROOT = "/sys/class/powercap"


def rapl_zones(root: str | Path = POWERCAP_ROOT) -> list[Path]:
    """Top-level RAPL zones (``intel-rapl:N``, no sub-zones) with a readable ``energy_uj``."""
    r = Path(root)
    if not r.is_dir():
        return []
    out = []
    for d in sorted(r.glob("intel-rapl:*")):
        if d.name.count(":") != 1:
            continue
        try:
            int((d / "energy_uj").read_text())
        except (OSError, ValueError):
            continue
        out.append(d)
    return out


class PowerSampler:
    """Samples the machine's power meters every ``period_s`` in a background thread.

    Parameters
    ----------
    zones : list of Path
        RAPL zones (``rapl_zones()``).
    nvml_handles : list
        NVML device handles (empty without NVML).
    period_s : float
        Sampling period (default 1 s, spl.txt's rate in MLPerf power runs).
    """

    def __init__(self, zones, nvml_handles=(), period_s: float = 1.0):
        self.zones = list(zones)
        self.nvml = list(nvml_handles)
        self.period_s = float(period_s)
        self._rows: list[tuple] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0
        self._last: list[tuple[int, int]] = []
        self._max_uj = [self._read_int(z / "max_energy_range_uj", 2**63) for z in self.zones]

    @staticmethod
    def _read_int(path: Path, default: int | None = None) -> int:
        try:
            return int(path.read_text())
        except (OSError, ValueError):
            if default is None:
                raise
            return default

    @classmethod
    def start(cls, root: str | Path = POWERCAP_ROOT, period_s: float = 1.0, *, use_nvml: bool = True) -> "PowerSampler | None":
        """A running sampler over every source found, or None when there is none."""
        handles = _nvml_handles() if use_nvml else []
        zones = rapl_zones(root)
        if not zones and not handles:
            return None
        s = cls(zones, handles, period_s)
        s.begin()
        return s

    def begin(self) -> None:
        self._t0 = time.perf_counter_ns()
        self._last = [(self._t0, self._read_int(z / "energy_uj")) for z in self.zones]
        for d in range(len(self.zones) + len(self.nvml)):
            self._rows.append((d, 0, math.nan, math.nan, math.nan, 0))
        if self.period_s > 0:
            self._thread = threading.Thread(target=self._loop, name="simbench-power", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self.sample()

    def sample(self) -> None:
        """Read every source once and append a row per source."""
        now = time.perf_counter_ns()
        t = now - self._t0
        for i, z in enumerate(self.zones):
            t_prev, e_prev = self._last[i]
            try:
                e = self._read_int(z / "energy_uj")
            except (OSError, ValueError):
                continue
            de = e - e_prev
            if de < 0:  # the counter wrapped
                de += self._max_uj[i]
            p = de / 1e6 / ((now - t_prev) / 1e9) if now > t_prev else math.nan
            self._last[i] = (now, e)
            self._rows.append((i, t, math.nan, p, math.nan, 0))
        for j, h in enumerate(self.nvml):
            self._rows.append((len(self.zones) + j, t, *_nvml_read(h), 0))

    def stop(self, run_metadata: dict | None = None):
        """Stop sampling (one last sample) and return the measured ``DeviceTimeline``."""
        from simbench.timeline import DeviceTimeline

        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        rows = sorted(self._rows, key=lambda r: (r[1], r[0]))
        cols = list(zip(*rows))
        return DeviceTimeline(
            device_id=np.array(cols[0], dtype=np.int64),
            t_ns=np.array(cols[1], dtype=np.int64),
            clock_mhz=np.array(cols[2], dtype=np.float64),
            power_w=np.array(cols[3], dtype=np.float64),
            temperature_c=np.array(cols[4], dtype=np.float64),
            throttle=np.array(cols[5], dtype=np.int64),
            metadata={
                "kind": "measured",
                "sources": [str(z) for z in self.zones] + [f"nvml:{j}" for j in range(len(self.nvml))],
                "period_s": self.period_s,
                "how": "RAPL: delta energy_uj / delta t per sample; NVML: nvmlDeviceGetPowerUsage at each sample",
                **(run_metadata or {}),
            },
        )


def _nvml_handles() -> list:
    try:
        import pynvml  # the nvidia-ml-py package
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
        return [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # noqa: BLE001 - no driver / no GPU: no NVML source
        return []


def _nvml_read(h) -> tuple[float, float, float]:
    import pynvml

    try:
        clock = float(pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM))
    except Exception:  # noqa: BLE001
        clock = math.nan
    try:
        power = pynvml.nvmlDeviceGetPowerUsage(h) / 1000.0
    except Exception:  # noqa: BLE001
        power = math.nan
    try:
        temp = float(pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU))
    except Exception:  # noqa: BLE001
        temp = math.nan
    return clock, power, temp
