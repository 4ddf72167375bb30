"""Fault matrix: signals, a full disk, an unwritable --out and failing SUTs, each run as a user
would hit it; counts tracebacks and checks that every completed sample is in the written trace.

One command (about 10 minutes on 2 busy cores; needs root or unprivileged user namespaces
for the tmpfs runs, which happen inside a private mount namespace)::

    python benchmarks/fault_matrix.py                 # the whole matrix, seed 1
    python benchmarks/fault_matrix.py --quick         # one run per row kind (~1 min)
    python benchmarks/fault_matrix.py --json matrix.json

Rows
----
* ``cli``: ``simbench simulate``, ``simbench benchmark --engine simbench|mlcommons`` with
  ``--sut null`` and ``--sut onnx:tiny``, and a short ``simbench stats validate``; SIGINT or
  SIGTERM, once or twice, at seeded random moments. Checked: no traceback; exit 0 or 130;
  every scenario folder that exists holds all four files, its trace is readable and holds
  ``sample_count_in_trace`` rows.
* ``api``: ``benchmark_job`` (the library behind ``simbench benchmark``) on a callable SUT
  (``CallableSUT``) that appends the QSL index of every completion the harness *accepted*
  (``CompletionSink.complete`` returned True) to its own log; signals as above, or the SUT
  raises, hangs (stall timeout 1 s) or reports a wrong id. Checked: the trace's
  sample indices equal the SUT's log as multisets -- every completed sample is in the trace
  and nothing else is.
* ``disk``: ``--out`` on a tmpfs that is too small from the start (refused before running)
  or that is filled (``dd``) at a random moment during the run. Checked: exit 2, one
  ``error: --out ...`` line, no file under a final name left truncated, no temporary file
  left, and the spilled parts are a readable subset of the SUT's log.
* ``unwritable``: ``--out`` is a file, under ``/sys``, or on a read-only mount. Checked:
  exit 2, one clean line, nothing ran (the SUT's log is empty).

Prints a table (rows x runs, tracebacks, data-check failures) and, with ``--json``, every run.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PY = sys.executable
CLI = [PY, "-m", "simbench.cli.main"]
SELF = str(Path(__file__).resolve())
FILES = {"trace.parquet", "mlperf_log_summary.txt", "mlperf_log_detail.txt", "summary.json"}
BAD = ("Traceback (most recent call last)", "terminate called", "Exception ignored", "core dumped")


# ----------------------------------------------------------------------------- the child


def child(argv: list[str]) -> int:
    """``fault_matrix.py child ...``: one ``benchmark_job`` on a logging callable SUT.

    Mirrors the CLI's ``main``: one signal guard for the whole process, installed before the
    heavy imports, so a signal at any moment ends in exit 130, not a traceback."""
    from simbench.interrupt import guard

    try:
        with guard(ignore_after_stop=True):
            return _child(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _child(argv: list[str]) -> int:
    import typer

    from simbench.bench import CallableSUT
    from simbench.bench.job import BenchmarkOptions, benchmark_job
    from simbench.cli._common import handle_errors
    from simbench.settings import Scenario

    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", default="simbench")
    ap.add_argument("--scenario", default="Server")
    ap.add_argument("--fault", default="ok", choices=["ok", "raise", "hang", "wrong"])
    ap.add_argument("--at", type=int, default=200, help="the fault hits at this completion")
    ap.add_argument("--out", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--duration-s", type=float, default=5.0)
    a = ap.parse_args(argv)
    log = open(a.log, "a", buffering=1)
    lock = threading.Lock()
    count = [0]

    def fn(indices):
        with lock:
            count[0] += 1
            n = count[0]
        if a.fault == "raise" and n == a.at:
            raise RuntimeError("device lost (fault matrix)")
        if a.fault == "hang" and n == a.at:
            threading.Event().wait()
        time.sleep(0.001)

    class LoggingSink:
        def __init__(self, inner, index_of):
            self.inner, self.index_of, self.n = inner, index_of, 0

        def complete(self, ids, **kw):
            self.n += 1
            if a.fault == "wrong" and self.n == a.at:
                ids = [10**12 + int(ids[0])]  # an id the harness never issued
            ok = self.inner.complete(ids, **kw)
            if ok:
                log.write("".join(f"{self.index_of[int(i)]}\n" for i in ids))
            return ok

        def fail(self, reason):
            self.inner.fail(reason)

    class LoggedSUT(CallableSUT):
        def __init__(self):
            super().__init__(fn, workers=1, name="matrix-sut")
            self.index_of: dict[int, int] = {}

        def start(self, sink):
            super().start(LoggingSink(sink, self.index_of))

        def issue_query(self, samples):
            for s in samples:
                self.index_of[int(s.id)] = int(s.index)
            super().issue_query(samples)

    scen = Scenario.parse(a.scenario)
    opts = BenchmarkOptions(
        sut="callable:matrix",
        scenarios=(scen,),
        target_qps=300.0,
        min_duration_s=a.duration_s,
        min_query_count=4000 if scen is Scenario.Offline else None,
        out=a.out,
        engine=a.engine,
        stall_timeout_s=1.0,
    )
    from simbench.cli._common import signal_note
    from simbench.interrupt import current

    current().on_signal = signal_note
    try:
        handle_errors(lambda: benchmark_job(opts, sut_factory=LoggedSUT))()
    except typer.Exit as e:
        return int(e.exit_code)
    return 0


# ----------------------------------------------------------------------------- checks


def _problems_in_folder(d: Path, *, need_all: bool = True) -> list[str]:
    """Every file under its final name is complete; no temporary file is left behind."""
    from simbench.trace import read_trace

    out = []
    if not d.exists():
        return out
    names = {p.name for p in d.iterdir()}
    tmp = [n for n in names if ".tmp-" in n]
    if tmp:
        out.append(f"{d.name}: temporary files left: {tmp}")
    present = names & FILES
    if need_all and present and present != FILES:
        out.append(f"{d.name}: only {sorted(present)}")
    if "trace.parquet" in names:
        try:
            t = read_trace(d / "trace.parquet")
        except Exception as exc:  # noqa: BLE001
            return out + [f"{d.name}/trace.parquet unreadable: {exc}"]
        if "summary.json" in names:
            try:
                j = json.loads((d / "summary.json").read_text())
            except Exception as exc:  # noqa: BLE001
                return out + [f"{d.name}/summary.json unreadable: {exc}"]
            if j.get("sample_count_in_trace") not in (None, len(t)):
                out.append(f"{d.name}: summary.json says {j.get('sample_count_in_trace')} samples, trace has {len(t)}")
    for name in ("summary.json",):
        if name in names:
            try:
                json.loads((d / name).read_text())
            except Exception as exc:  # noqa: BLE001
                out.append(f"{d.name}/{name} truncated: {exc}")
    return out


def _log_multiset(path: Path) -> collections.Counter:
    if not path.exists():
        return collections.Counter()
    return collections.Counter(int(x) for x in path.read_text().split())


def _trace_multiset(path: Path) -> collections.Counter:
    from simbench.trace import read_trace

    return collections.Counter(read_trace(path).sample_index.tolist())


def _exit_ok(rc: int | None, out_dir: Path, ok=(0, 130)) -> bool:
    """0 or 130; or killed by the signal itself (-2/-15) while Python was still starting and
    importing, before the command installed its handler -- nothing had started then (no
    output folder yet), so nothing could be lost."""
    if rc in ok:
        return True
    return rc in (-signal.SIGINT, -signal.SIGTERM) and not out_dir.exists()


def _rc_text(rc) -> str:
    return "130 (killed by SIGINT: shell status 130)" if rc == -signal.SIGINT else str(rc)


def _tracebacks(text: str) -> int:
    return sum(text.count(b) for b in BAD)


# ----------------------------------------------------------------------------- runs


def _signal_run(cmd: list[str], cwd: Path, rng: random.Random, sig: int, times: int, delay_range=(0.3, 4.0)):
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    delay = rng.uniform(*delay_range)
    gap = rng.uniform(0.005, 0.3)
    t0 = time.perf_counter()
    sent = 0
    try:
        p.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        for k in range(times):
            if p.poll() is not None:
                break
            p.send_signal(sig)
            sent += 1
            if k + 1 < times:
                time.sleep(gap)
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += "\n[fault matrix: killed after 120 s: hang]"
    return {"rc": p.returncode, "out": out, "err": err, "delay_s": round(delay, 3), "gap_s": round(gap, 3),
            "signals_sent": sent, "wall_s": round(time.perf_counter() - t0, 2)}


def run_cli(kind: str, sig: int, times: int, rng: random.Random, work: Path) -> dict:
    d = Path(tempfile.mkdtemp(dir=work))
    cmds = {
        "simulate": ["simulate", "--scenario", "all", "--target-qps", "20000", "--min-duration-s", "3", "--out", "o"],
        "bench simbench null": ["benchmark", "--sut", "null", "--scenario", "Server", "--target-qps", "500", "--min-duration-s", "4", "--out", "o"],
        "bench simbench onnx:tiny": ["benchmark", "--sut", "onnx:tiny", "--scenario", "Offline", "--min-query-count", "40000",
                                     "--threads", "1", "--out", "o"],
        "bench mlcommons null": ["benchmark", "--sut", "null", "--scenario", "Server", "--target-qps", "500", "--min-duration-s", "4",
                                 "--engine", "mlcommons", "--out", "o"],
        "bench mlcommons onnx:tiny": ["benchmark", "--sut", "onnx:tiny", "--scenario", "Server", "--target-qps", "300",
                                      "--min-duration-s", "4", "--threads", "1", "--engine", "mlcommons", "--out", "o"],
        "stats validate": ["stats", "validate", "--law", "queue", "--utilization", "0.3", "--utilization", "0.5",
                           "--utilization", "0.7", "--replications", "3000", "--out", "o/fig.html"],
    }
    r = _signal_run([*CLI, *cmds[kind]], d, rng, sig, times)
    problems = []
    if not _exit_ok(r["rc"], d / "o"):
        problems.append(f"exit {r['rc']}")
    if kind != "stats validate" and (d / "o").exists():
        for sd in (d / "o").iterdir():
            if sd.is_dir():
                problems += _problems_in_folder(sd)
    r.update(row="cli", case=kind, signal=signal.Signals(sig).name, times=times, problems=problems,
             tracebacks=_tracebacks(r["out"] + r["err"]))
    shutil.rmtree(d, ignore_errors=True)
    return r


def _api_cmd(engine, scenario, fault, out, log, at=200):
    return [PY, SELF, "child", "--engine", engine, "--scenario", scenario, "--fault", fault, "--out", out, "--log", log, "--at", str(at)]


def _check_api(d: Path, scenario: str) -> list[str]:
    sd = d / "o" / scenario
    problems = _problems_in_folder(sd)
    logged = _log_multiset(d / "sut.log")
    if (sd / "trace.parquet").exists():
        traced = _trace_multiset(sd / "trace.parquet")
        if traced != logged:
            missing = sum((logged - traced).values())
            extra = sum((traced - logged).values())
            problems.append(f"trace vs SUT log: {missing} completed samples missing, {extra} not completed by the SUT")
    elif sum(logged.values()):
        problems.append(f"no trace.parquet but the SUT completed {sum(logged.values())} samples")
    return problems


def run_api_signal(engine, scenario, sig, times, rng, work) -> dict:
    d = Path(tempfile.mkdtemp(dir=work))
    r = _signal_run(_api_cmd(engine, scenario, "ok", "o", "sut.log"), d, rng, sig, times)
    problems = [] if _exit_ok(r["rc"], d / "o") else [f"exit {r['rc']}"]
    problems += _check_api(d, scenario)
    r.update(row="api", case=f"{engine} {scenario} signal", signal=signal.Signals(sig).name, times=times, problems=problems,
             tracebacks=_tracebacks(r["out"] + r["err"]), sut_completed=sum(_log_multiset(d / "sut.log").values()))
    shutil.rmtree(d, ignore_errors=True)
    return r


def run_api_fault(engine, scenario, fault, rng, work) -> dict:
    d = Path(tempfile.mkdtemp(dir=work))
    at = rng.randint(20, 400)
    t0 = time.perf_counter()
    p = subprocess.run(_api_cmd(engine, scenario, fault, "o", "sut.log", at), cwd=d, capture_output=True, text=True, timeout=180)
    problems = [] if p.returncode == 0 else [f"exit {p.returncode}"]
    problems += _check_api(d, scenario)
    sd = d / "o" / scenario
    if (sd / "summary.json").exists():
        j = json.loads((sd / "summary.json").read_text())
        want = {"raise": "SUT raised RuntimeError", "hang": "never completed", "wrong": "wrong sample id"}[fault]
        if j.get("run_status") != "failed" or not any(want in e for e in j.get("run_errors", [])):
            problems.append(f"status {j.get('run_status')}, errors {j.get('run_errors')}")
    r = {"row": "api", "case": f"{engine} {scenario} SUT {fault}", "rc": p.returncode, "at": at, "problems": problems,
         "tracebacks": _tracebacks(p.stdout + p.stderr), "err": p.stderr, "wall_s": round(time.perf_counter() - t0, 2),
         "sut_completed": sum(_log_multiset(d / "sut.log").values())}
    shutil.rmtree(d, ignore_errors=True)
    return r


def _in_namespace(script: str, cwd: Path) -> subprocess.CompletedProcess:
    prefix = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    return subprocess.run([*prefix, "bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=240)


def run_disk(kind: str, rng: random.Random, work: Path) -> dict:
    """Disk full: ``small`` (too small from the start: refused before running) or
    ``fill ENGINE`` (filled with dd at a random moment after the run started)."""
    d = Path(tempfile.mkdtemp(dir=work))
    sb = " ".join(map(shlex.quote, CLI))
    if kind.startswith("small"):
        what = kind.split()[1]
        cmd = {"simulate": f"{sb} simulate --scenario Server --target-qps 1000 --min-duration-s 5 --out fs/o",
               "benchmark": f"{sb} benchmark --sut null --scenario Server --target-qps 1000 --min-duration-s 3 --out fs/o"}[what]
        script = f"mkdir fs && mount -t tmpfs -o size=40k tmpfs fs; {cmd} > out.txt 2> err.txt; echo $? > rc; cp -a fs/. copy/"
    else:
        engine = kind.split()[1]
        delay = rng.uniform(0.5, 3.0)
        cmd = " ".join(map(shlex.quote, _api_cmd(engine, "Server", "ok", "fs/o", "sut.log")))
        script = (
            f"mkdir fs && mount -t tmpfs -o size=8m tmpfs fs; {cmd} > out.txt 2> err.txt & P=$!\n"
            "until [ -e fs/o/Server/trace.parts/part-000000.parquet ] || ! kill -0 $P 2>/dev/null; do sleep 0.02; done\n"
            f"sleep {delay:.3f}; dd if=/dev/zero of=fs/filler bs=4k 2>/dev/null; wait $P; echo $? > rc\n"
            "rm -f fs/filler; cp -a fs/. copy/"
        )
    (d / "copy").mkdir()
    t0 = time.perf_counter()
    ns = _in_namespace(script, d)
    rc = int((d / "rc").read_text()) if (d / "rc").exists() else None
    err = (d / "err.txt").read_text() if (d / "err.txt").exists() else ns.stderr
    out = (d / "out.txt").read_text() if (d / "out.txt").exists() else ns.stdout
    problems = []
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if rc != 2:
        problems.append(f"exit {rc}")
    if not lines or not lines[-1].startswith("error: --out fs/o: "):
        problems.append(f"last stderr line: {lines[-1] if lines else ''!r}")
    sd = d / "copy" / "o" / "Server"
    problems += _problems_in_folder(sd, need_all=False)
    kept = 0
    if not kind.startswith("small"):
        logged = _log_multiset(d / "sut.log")
        if (sd / "trace.parquet").exists():
            got = _trace_multiset(sd / "trace.parquet")
        elif (sd / "trace.parts").exists():
            got = _trace_multiset(sd / "trace.parts")
        else:
            got = collections.Counter()
        kept = sum(got.values())
        if got - logged:
            problems.append(f"{sum((got - logged).values())} samples in the kept trace that the SUT never completed")
    r = {"row": "disk", "case": kind, "rc": rc, "problems": problems, "tracebacks": _tracebacks(out + err), "err": err,
         "last_line": lines[-1] if lines else "", "kept_samples": kept, "wall_s": round(time.perf_counter() - t0, 2)}
    shutil.rmtree(d, ignore_errors=True)
    return r


def run_unwritable(kind: str, target: str, work: Path) -> dict:
    d = Path(tempfile.mkdtemp(dir=work))
    (d / "afile.txt").write_text("not a folder\n")
    out = {"file": "afile.txt", "sysfs": "/sys/kernel/x", "read-only": "ro/o"}[kind]
    if target == "simulate":
        cmd = [*CLI, "simulate", "--scenario", "Server", "--target-qps", "1000", "--min-duration-s", "600", "--out", out]
    elif target == "benchmark":
        cmd = [*CLI, "benchmark", "--sut", "null", "--scenario", "Server", "--target-qps", "1000", "--min-duration-s", "600", "--out", out]
    else:
        cmd = _api_cmd("simbench", "Server", "ok", out, "sut.log")
    t0 = time.perf_counter()
    if kind == "read-only":
        script = "mkdir ro && mount -t tmpfs -o size=1m,ro tmpfs ro; " + " ".join(map(shlex.quote, cmd))
        p = _in_namespace(script, d)
    else:
        p = subprocess.run(cmd, cwd=d, capture_output=True, text=True, timeout=120)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    problems = []
    if p.returncode != 2:
        problems.append(f"exit {p.returncode}")
    if not lines or not lines[-1].startswith(f"error: --out {out}"):
        problems.append(f"last stderr line: {lines[-1] if lines else ''!r}")
    if sum(_log_multiset(d / "sut.log").values()):
        problems.append("the SUT ran before the output folder was refused")
    r = {"row": "unwritable", "case": f"{target} --out {kind}", "rc": p.returncode, "problems": problems,
         "tracebacks": _tracebacks(p.stdout + p.stderr), "last_line": lines[-1] if lines else "",
         "wall_s": round(time.perf_counter() - t0, 2)}
    shutil.rmtree(d, ignore_errors=True)
    return r


# ----------------------------------------------------------------------------- the matrix


def plan(seed: int, quick: bool):
    rng = random.Random(seed)
    jobs = []
    sigs = (signal.SIGINT, signal.SIGTERM)
    reps = 1 if quick else 2
    cli_kinds = ["simulate", "bench simbench null", "bench simbench onnx:tiny", "bench mlcommons null",
                 "bench mlcommons onnx:tiny", "stats validate"]
    for rep in range(reps):
        for kind in cli_kinds:
            for sig in sigs:
                for times in (1, 2):
                    if quick and (sig, times) != ((signal.SIGINT, 2) if kind != "simulate" else (signal.SIGTERM, 1)):
                        continue
                    jobs.append(("cli", (kind, sig, times, random.Random(rng.random()))))
        for engine in ("simbench", "mlcommons"):
            for scen in ("Server", "Offline"):
                for sig in sigs:
                    for times in (1, 2):
                        if quick and (scen, sig, times) != ("Server", signal.SIGTERM, 2):
                            continue
                        jobs.append(("api_signal", (engine, scen, sig, times, random.Random(rng.random()))))
    for engine in ("simbench", "mlcommons"):
        for scen in ("Server", "SingleStream"):
            for fault in ("raise", "hang", "wrong"):
                if quick and scen != "Server":
                    continue
                jobs.append(("api_fault", (engine, scen, fault, random.Random(rng.random()))))
    for kind in ("small simulate", "small benchmark", "fill simbench", "fill mlcommons", "fill simbench", "fill mlcommons"):
        if quick and kind in ("small benchmark",):
            continue
        jobs.append(("disk", (kind, random.Random(rng.random()))))
    for kind in ("file", "sysfs", "read-only"):
        for target in ("simulate", "benchmark", "api"):
            if quick and target != "benchmark":
                continue
            jobs.append(("unwritable", (kind, target)))
    return jobs


def execute(job, work: Path) -> dict:
    kind, args = job
    try:
        if kind == "cli":
            return run_cli(*args, work=work)
        if kind == "api_signal":
            return run_api_signal(*args, work=work)
        if kind == "api_fault":
            return run_api_fault(*args, work=work)
        if kind == "disk":
            return run_disk(*args, work=work)
        return run_unwritable(*args, work=work)
    except Exception as exc:  # noqa: BLE001 - the matrix itself must report, not die
        return {"row": kind, "case": str(args), "problems": [f"matrix error: {type(exc).__name__}: {exc}"], "tracebacks": 0}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "child":
        return child(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2, help="runs in parallel")
    ap.add_argument("--quick", action="store_true", help="one run per row kind")
    ap.add_argument("--json", help="write every run here")
    a = ap.parse_args(argv)
    from simbench.bench.models import model_path

    model_path("tiny")  # build the tiny CNN once, before the clock
    jobs = plan(a.seed, a.quick)
    work = Path(tempfile.mkdtemp(prefix="fault-matrix-"))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=a.jobs) as ex:
        results = list(ex.map(lambda j: execute(j, work), jobs))
    wall = time.perf_counter() - t0
    shutil.rmtree(work, ignore_errors=True)
    table: dict[tuple[str, str], list] = collections.OrderedDict()
    for r in results:
        table.setdefault((r["row"], r["case"]), []).append(r)
    w = max(len(f"{k[0]}: {k[1]}") for k in table) + 2
    print(f"{'row':<{w}}{'runs':>5}{'tracebacks':>12}{'data/exit problems':>20}")
    for (row, case), rs in table.items():
        print(f"{row + ': ' + case:<{w}}{len(rs):>5}{sum(r['tracebacks'] for r in rs):>12}{sum(bool(r['problems']) for r in rs):>20}")
    n_tb = sum(r["tracebacks"] for r in results)
    n_bad = sum(bool(r["problems"]) for r in results)
    print(f"{'total':<{w}}{len(results):>5}{n_tb:>12}{n_bad:>20}   ({wall:.0f} s, seed {a.seed})")
    for r in results:
        if r["problems"] or r["tracebacks"]:
            print(f"  {r['row']}: {r['case']} {r.get('signal', '')}x{r.get('times', '')}: {r['problems']}"
                  f" tracebacks={r['tracebacks']}\n    stderr tail: {r.get('err', '')[-400:]!r}")
    if a.json:
        Path(a.json).write_text(json.dumps({"seed": a.seed, "wall_s": wall, "runs": results}, indent=1, default=str))
    return 0 if n_tb == 0 and n_bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
