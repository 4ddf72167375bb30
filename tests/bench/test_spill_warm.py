"""The trace spill must not import anything while a real run is timed.

Its first write used to import pandas (inside ``pyarrow.array``) and ``pyarrow.parquet`` in
the spill thread, holding the GIL for ~0.2-0.3 s during the run (docs/fidelity.md,
Diagnosis); the spill is now warmed when built, and built before the clock starts.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np


def test_a_built_spill_writes_its_first_part_without_importing(tmp_path):
    # a fresh interpreter, so modules imported by other tests do not hide an import
    code = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from simbench.trace import Trace, TraceSpill, read_trace
        z = np.arange(50, dtype=np.int64)
        part = Trace(query_id=z, sample_index=z, issue_ns=z, issued_ns=z, start_ns=z, complete_ns=z + 5,
                     batch_id=z, device_id=z * 0, metadata={{"run_status": "incomplete"}})
        spill = TraceSpill({str(tmp_path / "parts")!r}, lambda: part, 1.0)
        before = set(sys.modules)
        spill.flush()
        new = sorted(set(sys.modules) - before)
        print(new)
        assert spill.error is None and spill.parts == 1, spill.error
        assert new == [], new
        assert np.array_equal(read_trace({str(tmp_path / "parts")!r}).complete_ns, z + 5)
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]


def test_load_generator_builds_the_spill_before_the_clock_starts(tmp_path, monkeypatch):
    import time

    import simbench.trace as st
    from simbench.bench import LoadGenerator, NullSUT
    from simbench.settings import TestSettings

    built: list[int] = []
    orig = st.TraceSpill.__init__

    def recording_init(self, *a, **k):
        orig(self, *a, **k)
        built.append(time.perf_counter_ns())

    monkeypatch.setattr(st.TraceSpill, "__init__", recording_init)
    s = TestSettings(scenario="Server", server_target_qps=500.0, min_duration_ms=50, min_query_count=1,
                     server_target_latency_ns=10_000_000)
    lg = LoadGenerator(NullSUT(), s, qsl_total_count=64, qsl_performance_count=64, spill_dir=tmp_path / "parts")
    run = lg.run()
    assert run.status == "complete" and len(run.trace) > 0
    assert len(built) == 1 and built[0] < lg._t0
    assert np.all(run.trace.issue_ns >= 0)
