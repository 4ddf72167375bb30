"""Thin caller of ``simbench.profiles.calibrate`` (kept for old commands and notes).

    python benchmarks/calibration_build_profiles.py            # = simbench profile calibrate
    python benchmarks/calibration_build_profiles.py --check    # = ... --check
    python benchmarks/calibration_build_profiles.py --report   # = ... --report

The method lives in ``simbench/profiles/calibrate.py``; ``simbench profile calibrate --help``
documents the options.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from simbench.cli.main import app

    sys.exit(app(["profile", "calibrate", *sys.argv[1:]], standalone_mode=True))
