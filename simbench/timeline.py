"""The device timeline: clock, power and temperature of each simulated device over a run.

Written beside ``trace.parquet`` as ``device_timeline.parquet``. One row per device at each
state change the model knows: the run's start, every governor tick (a new mean power and
temperature, maybe a new clock), every delayed clock change, and the run's end.

=============  ========  ================================================================
column         type      meaning
=============  ========  ================================================================
device_id      int64     the replica
t_ns           int64     ns from the run's start
clock_mhz      float64   the device clock from this row on (MHz)
power_w        float64   mean device power since this device's previous row (W); the start
                         row holds the idle power
temperature_c  float64   RC-model temperature at ``t_ns`` (NaN when not modelled)
throttle       int64     NVML clock-event reason bits in force: 0x4 SwPowerCap, 0x40
                         HwThermalSlowdown, 0 none
=============  ========  ================================================================

Sum of ``power_w * (t_ns - previous t_ns)`` over a device's rows is its energy. Run-level
metadata (governor, device model, energy per device, the run's end) is JSON in the Parquet
key-value metadata under ``simbench.device_timeline``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simbench.errors import TraceError

__all__ = ["DeviceTimeline", "write_timeline", "read_timeline", "TIMELINE_COLUMNS", "TIMELINE_KEY"]

TIMELINE_COLUMNS = ("device_id", "t_ns", "clock_mhz", "power_w", "temperature_c", "throttle")
_TYPES = {"device_id": "int64", "t_ns": "int64", "clock_mhz": "float64", "power_w": "float64", "temperature_c": "float64", "throttle": "int64"}
TIMELINE_KEY = b"simbench.device_timeline"


@dataclass(eq=False)
class DeviceTimeline:
    """Rows sorted by ``(t_ns, device_id)`` (see the module docstring for the columns)."""

    device_id: np.ndarray
    t_ns: np.ndarray
    clock_mhz: np.ndarray
    power_w: np.ndarray
    temperature_c: np.ndarray
    throttle: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    def device(self, d: int) -> "DeviceTimeline":
        """The rows of one device."""
        sel = self.device_id == d
        return DeviceTimeline(*(getattr(self, c)[sel] for c in TIMELINE_COLUMNS), metadata=self.metadata)

    def energy_j(self) -> float:
        """Total energy of every device (J): sum over rows of ``power_w * dt``."""
        total = 0.0
        for d in np.unique(self.device_id):
            tl = self.device(int(d))
            total += float(np.sum(tl.power_w[1:] * np.diff(tl.t_ns))) / 1e9
        return total

    def throttled_ns(self) -> int:
        """Time any device spent with a throttle reason in force, summed over devices (ns):
        each row's reason holds until the device's next row."""
        total = 0
        for d in np.unique(self.device_id):
            tl = self.device(int(d))
            total += int(np.sum(np.diff(tl.t_ns)[tl.throttle[:-1] != 0]))
        return total

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame({c: getattr(self, c) for c in TIMELINE_COLUMNS})


def write_timeline(tl: DeviceTimeline, path: str | Path) -> Path:
    """Write the timeline to Parquet (zstd) with its metadata; returns the path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema(
        [pa.field(c, getattr(pa, _TYPES[c])(), nullable=False) for c in TIMELINE_COLUMNS],
        metadata={TIMELINE_KEY: json.dumps(tl.metadata, sort_keys=True, default=str).encode()},
    )
    table = pa.Table.from_arrays([pa.array(getattr(tl, c), type=getattr(pa, _TYPES[c])()) for c in TIMELINE_COLUMNS], schema=schema)
    pq.write_table(table, p, compression="zstd", compression_level=1, write_statistics=False)
    return p


def read_timeline(path: str | Path) -> DeviceTimeline:
    """Read a timeline written by ``write_timeline``.

    Raises
    ------
    TraceError
        Missing or unreadable file, a missing column; the message names the file and column.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    if not p.is_file():
        raise TraceError(f"{p}: device timeline file not found")
    try:
        table = pq.read_table(p)
    except (pa.ArrowInvalid, OSError) as exc:
        raise TraceError(f"{p}: not a readable Parquet device timeline: {exc}") from None
    for c in TIMELINE_COLUMNS:
        if c not in table.column_names:
            raise TraceError(f"{p}: missing column {c!r}; a device timeline has {', '.join(TIMELINE_COLUMNS)}")
    raw = (table.schema.metadata or {}).get(TIMELINE_KEY)
    meta = json.loads(raw) if raw else {}
    cols = {c: np.ascontiguousarray(table.column(c).to_numpy(), dtype=_TYPES[c]) for c in TIMELINE_COLUMNS}
    return DeviceTimeline(**cols, metadata=meta)
