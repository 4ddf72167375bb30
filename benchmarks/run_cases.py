"""Re-run every reproducer case and print a Markdown table of what each gives now.

Each case folder holds ``cmd.sh`` (run with ``simbench`` on PATH) and ``expected.md``
(**Input:** / **Happens:** / **Should:**). The table puts the case's "Should" beside the last
lines the command prints today, with its wall time, so docs/reliability.md can show, case by
case, that the fix holds. Each case is also a pytest test that asserts the same promise (search tests/ for the case number).

Usage::

    python benchmarks/run_cases.py                       # cases from ../shared/cases
    python benchmarks/run_cases.py --cases DIR --only 01,07 --markdown out.md

Case 26 mounts a tmpfs and needs root; cases 20, 28 and 29 take 1-3 minutes each.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CASES = REPO.parent / "shared" / "cases"


def should_text(expected: str) -> str:
    m = re.search(r"\*\*Should:\*\*(.*)", expected, re.S)
    return " ".join((m.group(1) if m else expected).split())


def run_case(folder: Path, timeout_s: float) -> tuple[str, float, int | None]:
    t0 = time.monotonic()
    try:
        p = subprocess.run(
            ["bash", str(folder / "cmd.sh")], capture_output=True, text=True, timeout=timeout_s
        )
        out, rc = (p.stdout + p.stderr), p.returncode
    except subprocess.TimeoutExpired as exc:
        out = ((exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or ""))
        out += f"\n[timed out after {timeout_s:.0f} s]"
        rc = None
    return out, time.monotonic() - t0, rc


def cell(text: str, max_lines: int = 6) -> str:
    lines = [ln.rstrip() for ln in text.strip().splitlines() if ln.strip()][-max_lines:]
    esc = [ln.replace("|", "\\|").replace("`", "'") for ln in lines]
    return "<br>".join(f"`{ln[:160]}`" for ln in esc) or "(no output)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=Path, default=DEFAULT_CASES, help="folder of case folders")
    ap.add_argument("--only", default="", help="comma-separated case number prefixes, e.g. 01,07")
    ap.add_argument("--timeout-s", type=float, default=400.0)
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = ap.parse_args(argv)
    if shutil.which("simbench") is None:
        print("error: simbench is not on PATH (activate the venv that has it installed)", file=sys.stderr)
        return 2
    if not args.cases.is_dir():
        print(f"error: --cases {args.cases}: not a folder", file=sys.stderr)
        return 2
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    rows = ["| case | should | gives now (last lines) | s |", "|---|---|---|---|"]
    for folder in sorted(p for p in args.cases.iterdir() if (p / "cmd.sh").is_file()):
        if only and folder.name.split("-")[0] not in only:
            continue
        out, secs, _rc = run_case(folder, args.timeout_s)
        should = should_text((folder / "expected.md").read_text())
        rows.append(f"| {folder.name} | {should.replace('|', '/')} | {cell(out)} | {secs:.1f} |")
        print(f"{folder.name}: {secs:.1f} s", file=sys.stderr)
    table = "\n".join(rows) + "\n"
    print(table)
    if args.markdown:
        args.markdown.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
