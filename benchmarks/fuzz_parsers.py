"""Fuzz simbench's four input parsers at scale and count escapes (issue 8 §6).

Runs the properties of ``tests/test_fuzz_parsers.py`` (the conf reader, the profile
loader, the trace reader, the LoadGen-log importer) with hypothesis at ``--examples``
examples each (default 10,000) and prints, per parser, the examples run and the *escapes*:
exceptions other than simbench's input errors (``SimbenchInputError``). Unlike the test,
an escape does not stop the run: each is counted and the first few are shown.

Run (from the repository root, with the test extra installed)::

    python benchmarks/fuzz_parsers.py                 # 10,000 examples per parser
    python benchmarks/fuzz_parsers.py --examples 500 --parser "conf reader"

Results are recorded in docs/reliability.md ("Fuzzing"). Exit code 1 if anything escaped.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def fuzz(name: str, check, strategy, examples: int, seed: int) -> dict:
    from hypothesis import HealthCheck, Phase, given, seed as hyp_seed, settings

    from simbench.errors import SimbenchInputError

    counts = Counter()
    escapes: list[str] = []
    kinds: Counter = Counter()

    @hyp_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def prop(value):
        counts["examples"] += 1
        try:
            check(value)
            counts["accepted"] += 1
        except SimbenchInputError:
            counts["refused"] += 1
        except Exception as exc:  # noqa: BLE001 - an escape: count it, keep going
            kinds[type(exc).__name__] += 1
            if len(escapes) < 5:
                tb = traceback.extract_tb(exc.__traceback__)[-1]
                escapes.append(f"{type(exc).__name__}: {str(exc)[:160]} (at {Path(tb.filename).name}:{tb.lineno})")

    t0 = time.perf_counter()
    prop()
    return {
        "parser": name,
        "examples": counts["examples"],
        "accepted": counts["accepted"],
        "refused": counts["refused"],
        "escapes": sum(kinds.values()),
        "kinds": dict(kinds),
        "first": escapes,
        "wall_s": time.perf_counter() - t0,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=10_000, help="examples per parser [10000]")
    ap.add_argument("--seed", type=int, default=20261202, help="hypothesis seed [20261202]")
    ap.add_argument("--parser", action="append", help="only this parser (repeatable)")
    args = ap.parse_args(argv)

    import test_fuzz_parsers as props

    rows = []
    for name, (check, strategy) in props.PARSERS.items():
        if args.parser and name not in args.parser:
            continue
        r = fuzz(name, check, strategy, args.examples, args.seed)
        rows.append(r)
        print(f"{name}: {r['examples']:,} examples, {r['escapes']} escapes ({r['wall_s']:.0f} s)", file=sys.stderr, flush=True)
    print(f"\n| parser | examples | accepted | refused (input error) | escapes | wall (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['parser']} | {r['examples']:,} | {r['accepted']:,} | {r['refused']:,} | {r['escapes']} | {r['wall_s']:.0f} |")
    for r in rows:
        for line in r["first"]:
            print(f"  escape in {r['parser']}: {line}")
    return 1 if any(r["escapes"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
