"""Helpers for testing code that uses simbench: small simulated SUTs with known answers.

``make_sut`` builds a ``SimulatedSUT`` from a constant service time or a small latency table,
e.g. for closed-form queueing checks (M/D/1 with ``NoNoise``, M/M/c with
``ExponentialNoise``). ``ReplayArrivals`` replays exact arrival times (e.g. the moments a
real SUT received its queries) in the simulator; ``RecordingSink`` is a ``CompletionSink``
that records what a real SUT reports, for driving a SUT without the load generator.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from simbench.arrivals import ArrivalProcess

from simbench.errors import SimbenchInputError
from simbench.profiles.schema import DynamicBatching, NoBatching, NoNoise
from simbench.sim import SimulatedSUT

__all__ = ["make_sut", "ReplayArrivals", "RecordingSink", "demo_dvfs"]


def make_sut(
    latency_ns: float = 1_000_000.0,
    noise=None,
    batching: NoBatching | DynamicBatching | None = None,
    replicas: int = 1,
    table: list[tuple[int, float]] | None = None,
    *,
    dvfs=None,
    compute_share: list[tuple[int, float]] | None = None,
    streams: int | None = None,
    stream_gain: float = 0.0,
    governor=None,
    ambient_c: float | None = None,
) -> SimulatedSUT:
    """A simulated SUT with a one-point latency table (``latency_ns`` for any batch of one) or
    the given ``table`` of ``(batch, median latency ns)`` pairs.

    Examples
    --------
    >>> sut = make_sut(2e6, replicas=2)
    >>> sut.max_batch, sut.replicas
    (1, 2)
    ``dvfs`` (a ``DvfsModel``, e.g. ``demo_dvfs()``), ``compute_share`` (``(batch, share)``
    pairs), ``streams``/``stream_gain`` and ``governor``/``ambient_c`` give it a device model.
    """
    from simbench.profiles.device import ComputeShare, ComputeSharePoint, StreamSharing

    if table is None:
        xs, ys = np.array([1.0]), np.array([float(latency_ns)])
    else:
        xs = np.array([float(b) for b, _ in table])
        ys = np.array([float(v) for _, v in table])
    return SimulatedSUT(
        name="test-sut",
        batch_points=xs,
        latency_points_ns=ys,
        noise=noise or NoNoise(),
        batching=batching or NoBatching(),
        replicas=replicas,
        dvfs=dvfs,
        compute_share=ComputeShare(points=[ComputeSharePoint(batch=b, share=c, source="test") for b, c in compute_share])
        if compute_share
        else None,
        streams=StreamSharing(count=streams, gain=stream_gain, source="test") if streams else None,
        governor=governor,
        ambient_c=ambient_c,
    )


@dataclass(frozen=True, eq=False)
class ReplayArrivals(ArrivalProcess):
    """Server arrivals at exactly the given times (int64 ns, first at 0, non-decreasing),
    whatever the target rate: a recorded schedule replayed in the simulator.

    Examples
    --------
    >>> ReplayArrivals([0, 5, 9]).times_ns(0, 1.0, 0, 0).tolist()
    [0, 5, 9]
    """

    times: np.ndarray = None  # type: ignore[assignment]
    kind = "replay"  # type: ignore[assignment]
    mean = 1.0
    cv = float("nan")

    def __post_init__(self) -> None:
        t = np.asarray(self.times, dtype=np.int64)
        if t.ndim != 1 or t.size < 1 or t[0] != 0 or np.any(np.diff(t) < 0):
            raise SimbenchInputError("replay times: expected non-decreasing int64 ns starting at 0")
        object.__setattr__(self, "times", t)

    def times_ns(self, seed, target_qps, duration_ns, min_queries, max_queries=0) -> np.ndarray:
        return self.times.copy()

    def describe(self) -> dict:
        return {"kind": "replay", "count": int(self.times.size)}


@dataclass
class RecordingSink:
    """A ``CompletionSink`` that records each ``complete`` call (thread-safe).

    ``records`` holds ``(ids, start_ns, complete_ns, batch_id, device_id)`` tuples, the times
    from ``time.perf_counter_ns``; ``failures`` the ``fail`` reasons. ``wait(n)`` blocks until
    ``n`` samples have completed (or ``timeout_s`` passes; returns whether they did).
    """

    records: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    _cv: threading.Condition = field(default_factory=threading.Condition)
    _done: int = 0

    def complete(self, ids, *, start_ns=None, batch_id=None, device_id=None) -> None:
        now = time.perf_counter_ns()
        with self._cv:
            self.records.append((list(ids), start_ns, now, batch_id, device_id))
            self._done += len(ids)
            self._cv.notify_all()

    def fail(self, reason: str) -> None:
        with self._cv:
            self.failures.append(reason)
            self._cv.notify_all()

    def wait(self, n: int, timeout_s: float = 60.0) -> bool:
        with self._cv:
            return self._cv.wait_for(lambda: self._done >= n or bool(self.failures), timeout_s) and not self.failures


def demo_dvfs(thermal: bool = True, **overrides):
    """A small ``DvfsModel`` for tests: 300..1200 MHz in 100 MHz steps, 50 W idle, 300 W busy at
    1200 MHz, voltage slope 0.5, and (``thermal``) R 0.2 C/W, C 20 J/C (a 4 s time constant),
    slowdown at 80 C with 5 C hysteresis, 25 C ambient."""
    from simbench.profiles.device import DvfsModel

    def v(x):
        return {"value": x, "source": "test"}

    data = {
        "reference_clock_mhz": v(1200), "min_clock_mhz": v(300), "max_clock_mhz": v(1200),
        "clock_step_mhz": v(100), "idle_power_w": v(50), "busy_power_w": v(300), "voltage_slope": v(0.5),
    }
    if thermal:
        data["thermal"] = {
            "resistance_c_per_w": v(0.2), "capacitance_j_per_c": v(20), "slowdown_c": v(80),
            "hysteresis_c": v(5), "ambient_c": v(25),
        }
    data.update({k: v(x) for k, x in overrides.items()})
    return DvfsModel.model_validate(data)


_ERROR_HOOK = (
    "<script>window.__sbErrors=[];window.addEventListener('error',function(e){window.__sbErrors.push(String(e.message))});"
    "(function(){var o=console.error;console.error=function(){window.__sbErrors.push(Array.from(arguments).join(' '));"
    "o.apply(console,arguments)}})();window.addEventListener('load',function(){setTimeout(function(){"
    "var d=document.createElement('div');d.id='sb-errors';d.textContent=JSON.stringify(window.__sbErrors);"
    "document.body.appendChild(d)},500)});</script>"
)


def check_html_in_chromium(page, screenshot=None, *, timeout_s: float = 180.0) -> dict:
    """Open an HTML page in headless Chromium (the Debian ``chromium`` package) and report
    what it drew: JavaScript errors and ``console.error`` calls, and for every
    ``<section class="sb-figure">`` whether plotly drew it (an ``svg.main-svg`` inside).

    A copy of the page with a tiny error-recording script added first in ``<head>`` is what
    Chromium loads (the page itself is not changed). With ``screenshot`` a PNG of the page
    is written there too.

    Returns
    -------
    dict
        ``errors`` (list of str), ``figures`` (count), ``drawn`` (count), ``names`` (the
        figures not drawn).

    Raises
    ------
    FileNotFoundError
        No ``chromium`` on PATH (``apt-get install chromium``).
    """
    import json
    import re
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise FileNotFoundError("chromium: not on PATH; install it (Debian: apt-get install -y chromium)")
    text = Path(page).read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as d:
        probe = Path(d) / "probe.html"
        probe.write_text(text.replace("<head>", "<head>" + _ERROR_HOOK, 1), encoding="utf-8")
        common = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                  f"--user-data-dir={d}/profile", "--virtual-time-budget=30000"]
        dom = subprocess.run([*common, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=timeout_s).stdout
        if screenshot is not None:
            subprocess.run([*common, "--window-size=1280,6000", f"--screenshot={Path(screenshot).resolve()}", probe.as_uri()],
                           capture_output=True, text=True, timeout=timeout_s)
    m = re.search(r'id="sb-errors">([^<]*)<', dom)
    errors = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&")) if m else ["the page never finished loading"]
    sections = dom.split('class="sb-figure"')[1:]
    names = [re.search(r'data-name="([^"]*)"', s).group(1) for s in sections if 'class="main-svg"' not in s]
    return {"errors": errors, "figures": len(sections), "drawn": len(sections) - len(names), "names": names}
