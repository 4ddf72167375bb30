"""Findings of a new user's walk through the README and docs (the "breaker" pass).

Each test replays one finding from the CLI as a user types it and asserts what the docs
promise: exit code, one clear ``error:`` line naming the flag/file, files written.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Packages a plain ``pip install .`` does not bring (extras, and what only the test extra's
# dask pulls in): importing one of them in the core path breaks the README's main job.
NOT_IN_A_PLAIN_INSTALL = ("click", "dask", "distributed", "onnx", "onnxruntime", "mlperf_loadgen", "tritonclient", "hypothesis")

_BLOCK = f"""
import sys, importlib.abc
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {NOT_IN_A_PLAIN_INSTALL!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _Block())
"""


def run(*args, cwd, plain=False, timeout=300):
    """The installed entry point in a subprocess; ``plain``: as on a plain ``pip install .``."""
    code = (_BLOCK if plain else "") + (
        f"import sys; sys.argv = ['simbench', *{list(args)!r}]\nfrom simbench.cli.main import main\nmain()"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def one_error_line(r) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, r.stderr
    return errors[0]


# --- F1: the README's main job on a plain install --------------------------------------


def test_f1_simulate_runs_without_click_installed(tmp_path):
    """typer >= 0.16 vendors click and does not install it: the CLI must not import it."""
    r = run(
        "simulate", "--profile", "a100", "--scenario", "SingleStream", "--min-duration-s", "0.01",
        "--min-query-count", "10", "--out", "o", cwd=tmp_path, plain=True,
    )
    assert "No module named" not in r.stderr, r.stderr
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o" / "SingleStream" / "summary.json").is_file()
    # and an input error still ends in one line, exit 2
    r = run("simulate", "--profile", "nosuch", "--out", "o2", cwd=tmp_path, plain=True)
    assert r.returncode == 2, r.stderr
    assert "nosuch" in one_error_line(r)


# --- F2: rich markup ate every [...] of the help texts --------------------------------


def _commands():
    import typer

    from simbench.cli.main import app

    def walk(c, path):
        yield path, c
        for name, sub in sorted(getattr(c, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    return app, list(walk(typer.main.get_command(app), []))


def test_f2_every_help_shows_its_brackets_as_written():
    """``pip install 'simbench[dask]'`` was shown as ``pip install 'simbench'``, and
    ``[latency <= p-th percentile]`` vanished from a sentence."""
    import re

    from typer.testing import CliRunner

    app, commands = _commands()
    assert len(commands) > 20
    checked = 0
    for path, c in commands:
        r = CliRunner().invoke(app, [*path, "--help"], terminal_width=250, env={"COLUMNS": "250"})
        assert r.exit_code == 0, (path, r.output)
        shown = " ".join(r.output.replace("│", " ").split())
        assert "\\[" not in shown, (path, shown)
        texts = [c.help or ""] + [getattr(p, "help", None) or "" for p in c.params]
        for t in texts:
            for m in re.finditer(r"\[[^\]]*\]", t.replace("\\[", "[")):
                assert " ".join(m.group(0).split()) in shown, (path, m.group(0))
                checked += 1
    assert checked >= 3
    r = CliRunner().invoke(app, ["whatif", "--help"], terminal_width=250, env={"COLUMNS": "250"})
    assert "pip install 'simbench[dask]'" in r.output


def test_f2_help_prose_is_not_cut_into_half_lines():
    from typer.testing import CliRunner

    app, _ = _commands()
    r = CliRunner().invoke(app, ["simulate", "--help"], terminal_width=80, env={"COLUMNS": "80"})
    lines = [ln.strip() for ln in r.output.splitlines()]
    # the docstring's second paragraph is one flowing paragraph, not "early" / "stopping) on a"
    assert "stopping) on a" not in lines
    assert any(ln.startswith("Runs LoadGen's rules") for ln in lines)


def test_f3_profile_show_prints_brackets_of_the_profile(tmp_path):
    """The latency table's title ``[int8 TensorRT 8.6.0, ...]`` was eaten as a style tag;
    so would any ``[...]`` of a user's profile description."""
    from typer.testing import CliRunner

    from simbench.cli.main import app

    r = CliRunner().invoke(app, ["profile", "show", "a100"], terminal_width=200, env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "resnet50: latency(batch)  [int8 TensorRT 8.6.0" in r.output
    assert "bert-99: latency(batch)  [TensorRT 8.6.0" in r.output  # no precision published: no blank


# --- F4: profile calibrate on bad input -------------------------------------------------


def _invoke(*args, cwd=None, monkeypatch=None):
    from typer.testing import CliRunner

    from simbench.cli.main import app

    if cwd is not None:
        monkeypatch.chdir(cwd)
    return CliRunner().invoke(app, list(args), terminal_width=200)


def _error(r) -> str:
    assert "Traceback" not in r.output, r.output
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, (r.stdout, r.stderr)
    return errors[0]


@pytest.mark.parametrize(
    "content,expected",
    [
        (None, "--calibration cal.json: is a folder; expected the file published_calibration.json"),
        ("{}", "cal.json: not a calibration file: no section specs, mlperf_results, mlperf_harness_configs, power_cap_comparisons"),
        ("[1, 2]", "cal.json: not a calibration file: expected a JSON object"),
        ('{"specs": {}, "mlperf_results": [], "mlperf_harness_configs": [], "power_cap_comparisons": []}',
         "cal.json: no entry specs[A100-SXM4-80GB] (an object of spec fields)"),
    ],
)
def test_f4_calibrate_refuses_unusable_calibration_files(tmp_path, monkeypatch, content, expected):
    if content is None:
        (tmp_path / "cal.json").mkdir()
    else:
        (tmp_path / "cal.json").write_text(content)
    r = _invoke("profile", "calibrate", "--calibration", "cal.json", "--out", "o", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2, r.output
    assert _error(r).startswith("error: " + expected), r.stderr
    assert not (tmp_path / "o").exists()


def test_f4_calibrate_entry_of_the_wrong_type_names_file_and_entry(tmp_path, monkeypatch):
    import json

    from simbench.profiles.calibrate import default_calibration_path

    d = json.loads(default_calibration_path().read_text())
    d["specs"]["A100-SXM4-80GB"]["boost_clock_MHz"] = "fast"
    (tmp_path / "cal.json").write_text(json.dumps(d))
    r = _invoke("profile", "calibrate", "--calibration", "cal.json", "--out", "o", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2, r.output
    msg = _error(r)
    assert msg.startswith("error: cal.json: ") and "specs[A100-SXM4-80GB].boost_clock_MHz" in msg, msg


def test_f4_calibrate_out_a_file_and_check_outside_a_checkout(tmp_path, monkeypatch):
    (tmp_path / "afile").write_text("x")
    r = _invoke("profile", "calibrate", "--out", "afile", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2
    assert _error(r) == "error: --out afile: is a file; expected a folder for the <name>.yaml files"
    assert (tmp_path / "afile").read_text() == "x"
    # outside a source checkout --check reports the files as missing, not "out of date"
    r = _invoke("profile", "calibrate", "--check", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 1
    assert "missing: hardware_profiles/a100.yaml" in r.stderr and "out of date" not in r.stderr
    assert "compares with a source checkout's hardware_profiles/" in r.stderr
    # written, then checked: nothing to report
    assert _invoke("profile", "calibrate", "--out", "p", cwd=tmp_path, monkeypatch=monkeypatch).exit_code == 0
    assert sorted(x.name for x in (tmp_path / "p").iterdir()) == ["a100.yaml", "h100.yaml", "l4.yaml", "t4.yaml"]
    r = _invoke("profile", "calibrate", "--check", "--out", "p", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 0 and r.stderr == ""
    r = _invoke("profile", "calibrate", "--report", "--check", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2 and "--report" in _error(r)


# --- F5: profile predict ---------------------------------------------------------------


def test_f5_predict_empty_or_folder_onnx_is_an_input_error(tmp_path, monkeypatch):
    (tmp_path / "empty.onnx").write_bytes(b"")
    (tmp_path / "d.onnx").mkdir()
    r = _invoke("profile", "predict", "--profile", "a100", "--onnx", "empty.onnx", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2  # was ZeroDivisionError, exit 3
    assert _error(r) == "error: --onnx empty.onnx: an empty file; expected an ONNX model graph"
    r = _invoke("profile", "predict", "--profile", "a100", "--onnx", "d.onnx", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2
    assert _error(r) == "error: --onnx d.onnx: is a folder; expected an .onnx model file"


def test_f5_predict_tiny_model_latency_in_a_unit_that_shows_it():
    import json

    from simbench.cli.profile import _scaled, _sig

    r = _invoke("profile", "predict", "--profile", "a100", "--onnx", "onnx:tiny", "--batch", "1,64", "--json")
    rows = json.loads(r.stdout)["rows"]
    assert rows[0]["latency_ns"] < 1000  # a tens-of-ns prediction: "0.000 ms" before
    r = _invoke("profile", "predict", "--profile", "a100", "--onnx", "onnx:tiny", "--batch", "1,64")
    assert r.exit_code == 0
    assert "latency (ns)" in r.stdout and " 0.000 " not in r.stdout
    lat1 = rows[0]["latency_ns"]
    assert f"│     1 │ {_sig(lat1):>12} │" in r.stdout
    # the unit rule: the largest unit in which the smallest value is >= 1
    assert _scaled([34.86, 1778.0], (("us", 1e3), ("ns", 1.0))) == ("ns", ["34.86", "1,778"])
    assert _scaled([27_730.0, 19_271_000.0], (("ms", 1e6), ("us", 1e3), ("ns", 1.0))) == ("us", ["27.73", "19,271"])
    assert _sig(0.5) == "0.500" and _sig(123.44) == "123.4"


# --- F6: profile build checks its input before measuring --------------------------------


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--models", "e=empty.onnx"], "error: --models e=empty.onnx: an empty file; expected an ONNX model graph"),
        (["--models", "d=d.onnx"], "error: --models d=d.onnx: d.onnx is a folder; expected an .onnx model file"),
        (["--models", "=x.onnx"], "error: --models =x.onnx: expected NAME=PATH.onnx, with a model name before '='"),
        (["--name", "", "--models", "tiny"], "error: --name: expected letters, digits, '_', '.' or '-' (a profile name), got ''"),
    ],
)
def test_f6_build_refuses_bad_models_and_names_before_any_kernel(tmp_path, monkeypatch, args, expected):
    from simbench.profiles import measure

    (tmp_path / "empty.onnx").write_bytes(b"")
    (tmp_path / "d.onnx").mkdir()

    def no_kernels(**_kw):
        raise AssertionError("kernels measured before the input was checked")

    monkeypatch.setattr(measure, "measure_kernels", no_kernels)
    r = _invoke("profile", "build", "--out", "p.yaml", "--quick", *args, cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2, r.output
    assert _error(r) == expected  # names --models (was "--onnx empty.onnx", after the kernels)
    assert r.stderr.startswith("error: ")  # no progress bar drawn first
    assert not (tmp_path / "p.yaml").exists()


# --- F7: plan peak-qps / plan fleet / whatif flags ------------------------------------


@pytest.mark.parametrize(
    "args,flag",
    [
        (["plan", "peak-qps", "--sut", "null", "--target-qps", "100", "--workers", "0"], "--workers"),
        (["plan", "peak-qps", "--sut", "null", "--target-qps", "100", "--threads", "-1"], "--threads"),
        (["plan", "peak-qps", "--min-duration-s", "-1"], "--min-duration-s"),
        (["plan", "peak-qps", "--target-latency-ms", "-5"], "--target-latency-ms"),
        (["plan", "peak-qps", "--target-qps", "1e300"], "--target-qps"),
        (["plan", "peak-qps", "--replicas", "100000"], "--replicas"),
        (["plan", "fleet", "--target-qps", "1000", "--latency-bound-ms", "15", "--profile", "a100", "--quantile-run-s", "-1"], "--quantile-run-s"),
        (["plan", "fleet", "--target-qps", "1e300", "--latency-bound-ms", "15", "--profile", "a100"], "--target-qps"),
        (["whatif", "--sweep", "target_qps=1000", "--out", "w", "--min-duration-s", "-1"], "--min-duration-s"),
        (["whatif", "--sweep", "target_qps=1000", "--out", "w", "--target-qps", "1e300"], "--target-qps"),
        (["whatif", "--sweep", "target_qps=1000", "--out", "w", "--seed", str(2**64)], "--seed"),
    ],
)
def test_f7_out_of_range_flags_are_refused_by_name(tmp_path, monkeypatch, args, flag):
    """(--quantile-run-s -1 was blamed on --min-duration-s; --workers 0 ran a real peak search.)"""
    r = _invoke(*args, cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2, r.output
    assert f"'{flag}'" in r.output or f"{flag}:" in r.output, r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "w").exists()


def test_f7_peak_qps_flags_of_the_other_sut_are_refused(tmp_path, monkeypatch):
    """--profile was "a100" by default, so an explicit --profile with --sut was silently ignored."""
    r = _invoke("plan", "peak-qps", "--sut", "null", "--target-qps", "100", "--profile", "h100", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2
    assert _error(r) == "error: --profile: applies to the simulated SUT, not to --sut"
    r = _invoke("plan", "peak-qps", "--workers", "2", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2
    assert _error(r) == "error: --workers: applies to a real SUT (--sut) only"


def test_f7_whatif_checks_points_before_starting_workers(tmp_path, monkeypatch):
    from simbench.plan import executors

    def no_workers(*a, **k):
        raise AssertionError("workers started before the points were checked")

    monkeypatch.setattr(executors, "make_executor", no_workers)
    r = _invoke("whatif", "--sweep", "batching=dynamic:0", "--out", "w", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2
    assert r.stderr.startswith("error: ") and "dynamic:0" in _error(r)  # no progress bar first
    (tmp_path / "afile").write_text("x")
    r = _invoke("whatif", "--sweep", "target_qps=1000", "--out", "afile", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2
    assert _error(r) == "error: --out afile: is a file; expected a folder for sweep.json, points/, sweep.parquet"
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("cmd", [["whatif"], ["plan", "peak-qps"]])
def test_f7_batching_help_is_the_shared_grammar(cmd):
    from typer.testing import CliRunner

    from simbench.cli.main import app

    r = CliRunner().invoke(app, [*cmd, "--help"], terminal_width=400, env={"COLUMNS": "400"})
    shown = " ".join(r.output.replace("│", " ").split())
    assert "none | N | dynamic:MAX_BATCH[:TIMEOUT_US]" in shown
    assert "MAX_BATCH 1..1000000, TIMEOUT_US 0..60000000" in shown


# --- F8: trace import of a malformed LoadGen log ---------------------------------------


@pytest.mark.parametrize(
    "content,expected",
    [
        (':::MLLOG {"key": "x", bad json\n', "lg/mlperf_log_detail.txt: 1 ':::MLLOG' line(s), none readable (line 1: not JSON"),
        (':::MLLOG ["a list"]\n:::MLLOG 3\n', "lg/mlperf_log_detail.txt: 2 ':::MLLOG' line(s), none readable (line 1: expected a JSON object with a string 'key')"),
        ("", "lg/mlperf_log_detail.txt: no ':::MLLOG' lines; not a LoadGen detail log"),
        (':::MLLOG {"key": "result_validity", "value": "VALID"}\n', "lg/mlperf_log_detail.txt: key 'effective_test_mode' missing"),
    ],
)
def test_f8_trace_import_says_what_is_wrong_with_the_detail_log(tmp_path, monkeypatch, content, expected):
    (tmp_path / "lg").mkdir()
    (tmp_path / "lg" / "mlperf_log_detail.txt").write_text(content)
    r = _invoke("trace", "import", "lg", "--out", "o", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2
    assert _error(r).startswith("error: " + expected), r.stderr
    assert not (tmp_path / "o").exists()


def test_f8_trace_import_of_a_missing_folder_or_a_file(tmp_path, monkeypatch):
    (tmp_path / "afile").write_text("x")
    r = _invoke("trace", "import", "nosuch", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2 and _error(r) == "error: nosuch: no such folder"
    r = _invoke("trace", "import", "afile", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2 and _error(r) == "error: afile: not a folder; expected a LoadGen output folder"


# --- F10: the trace spill's first pyarrow import was inside the timed run ---------------


def test_f10_trace_spill_is_built_before_the_run_clock_starts(tmp_path, monkeypatch):
    """TraceSpill imports pyarrow.parquet when built (~60 ms the first time); built after
    t0, every Server query of that stretch was issued late and a null SUT at 1,000 QPS came
    out INVALID under simbench's engine but VALID under LoadGen. Checked by order, not time:
    the spill is built (and its import done) before the run's clock starts."""
    import time

    from simbench.bench.loadgen import LoadGenerator
    from simbench.bench.sut import NullSUT
    from simbench.settings import Scenario, TestSettings
    from simbench import trace as trace_mod

    built_ns: list[int] = []
    started_ns: list[int] = []
    orig_init, orig_start = trace_mod.TraceSpill.__init__, trace_mod.TraceSpill.start

    def init(self, *a, **k):
        orig_init(self, *a, **k)
        built_ns.append(time.perf_counter_ns())

    def start(self):
        started_ns.append(time.perf_counter_ns())
        return orig_start(self)

    monkeypatch.setattr(trace_mod.TraceSpill, "__init__", init)
    monkeypatch.setattr(trace_mod.TraceSpill, "start", start)
    s = TestSettings(scenario=Scenario.Server, server_target_qps=1000, min_duration_ms=20, min_query_count=10)
    gen = LoadGenerator(NullSUT(), s, qsl_total_count=1024, qsl_performance_count=1024, spill_dir=tmp_path / "parts", spill_every_s=0.1)
    run = gen.run()
    assert run.trace is not None and len(run.trace) >= 10
    assert len(built_ns) == 1 and len(started_ns) == 1
    assert built_ns[0] < gen._t0 <= started_ns[0]


# --- F15-F17: --scenario, --model, --sut ---------------------------------------------


@pytest.mark.parametrize("cmd", [["simulate"], ["benchmark", "--sut", "null"]])
@pytest.mark.parametrize(
    "value,expected",
    [
        ("Bogus", "error: --scenario Bogus: unknown value 'Bogus'; expected one of SingleStream, MultiStream, Server, Offline"),
        ("Offline,", "error: --scenario Offline,: unknown value ''"),
        ("Offline,offline", "error: --scenario Offline,offline: Offline is given twice"),
    ],
)
def test_f15_scenario_list_errors_name_the_flag(tmp_path, monkeypatch, cmd, value, expected):
    """A repeated scenario ran twice into the same folder; an unknown one said 'scenario:'."""
    r = _invoke(*cmd, "--scenario", value, "--out", "o", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2
    assert _error(r).startswith(expected)
    assert not (tmp_path / "o").exists()


def test_f16_benchmark_unknown_model_is_noted_not_silent(tmp_path, monkeypatch):
    """--model picks the mlperf.conf entry; a name mlperf.conf lacks (a typo) silently fell
    back to the '*' entries. LoadGen allows it (own models), so it is a note, not an error."""
    args = ("benchmark", "--sut", "null", "--scenario", "Offline", "--min-query-count", "8", "--min-duration-s", "0")
    r = _invoke(*args, "--model", "resnet-50", "--out", "o1", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 0, r.output
    assert "note: --model resnet-50: not a model of mlperf.conf, so only its '*' entries apply" in r.stderr
    r = _invoke(*args, "--model", "bert-99", "--out", "o2", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 0 and "note: --model" not in r.stderr  # bert-99 is mlperf.conf's bert


def test_f17_benchmark_sut_names_the_flag_and_the_builtins(tmp_path, monkeypatch):
    (tmp_path / "d").mkdir()
    r = _invoke("benchmark", "--sut", "onnx:nope", "--out", "o", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2
    assert _error(r) == "error: --sut onnx:nope: nope: no such file; expected an .onnx file or a built-in model (onnx:resnet50, onnx:small, onnx:tiny)"
    r = _invoke("benchmark", "--sut", "onnx:d", "--out", "o", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2 and "--sut onnx:d: d: is a folder" in _error(r)
    assert not (tmp_path / "o").exists()


# --- F18: whatif on Ctrl-C --------------------------------------------------------------


def _slow_write(folder):
    import time
    from pathlib import Path

    (Path(folder) / "started").write_text("")
    time.sleep(2.0)
    (Path(folder) / "finished").write_text("")
    return 1


def test_f18_ctrl_c_terminates_local_workers_instead_of_waiting(tmp_path):
    """A point inside numba's compiled loop does not see Ctrl-C: close() waited for every
    running point (18-27 s measured with the README sweep) and then dropped its result.
    On KeyboardInterrupt the executor terminates its workers: the running item never ends."""
    import time

    from simbench.plan.executors import LocalExecutor

    ex = LocalExecutor(workers=1)
    with pytest.raises(KeyboardInterrupt):
        with ex:
            pool = ex._ensure()
            pool.submit(_slow_write, str(tmp_path))
            for _ in range(6000):  # the spawned worker imports this module first
                if (tmp_path / "started").exists():
                    break
                time.sleep(0.01)
            assert (tmp_path / "started").exists()
            procs = list(pool._processes.values())
            raise KeyboardInterrupt
    assert procs and all(not p.is_alive() for p in procs)
    assert not (tmp_path / "finished").exists()  # the old shutdown(wait=True) let it finish


def test_f18_interrupted_sweep_writes_the_table_of_its_finished_points(tmp_path):
    """Ctrl-C left points/*.json but no sweep.parquet: `simbench report` then found nothing."""
    import pandas as pd

    from simbench.plan.executors import LocalExecutor
    from simbench.plan.spec import RunSpec
    from simbench.plan.whatif import parse_sweep, run_sweep

    calls = []

    def on_point(done, total, error):
        calls.append(done)
        if done == 1:
            raise KeyboardInterrupt

    base = RunSpec(profile="a100", scenario="Offline", min_duration_s=0.01, min_query_count=64)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(base, [parse_sweep("replicas=1,2,3")], tmp_path / "s", executor=LocalExecutor(workers=0), on_point=on_point)
    t = pd.read_parquet(tmp_path / "s" / "sweep.parquet")
    assert list(t["status"]) == ["ok", "missing", "missing"]
    assert list(t["replicas"]) == [1, 2, 3]
    assert t["result_validity"].iloc[0] == "VALID"
    assert len(list((tmp_path / "s" / "points").glob("*.json"))) == 1


# --- F20: stats --margin is in percent; its error was in fractions ---------------------


@pytest.mark.parametrize("value", ["-1", "5", "nan", "0"])
def test_f20_margin_errors_speak_in_percent(value):
    r = _invoke("stats", "sample-size", "--margin", value)
    assert r.exit_code == 2
    # was "margin must be in (0, min(percentile, 1 - percentile)], got -0.01" for --margin -1
    assert _error(r) == f"error: Invalid value for '--margin': expected percent of probability in (0, 1], got {value}"
    r = _invoke("stats", "sample-size", "--margin", "0.05")
    assert r.exit_code == 0 and "270,336" in r.stdout


# --- F21: --profile a folder / an empty YAML -----------------------------------------


def test_f21_profile_folder_or_empty_yaml(tmp_path, monkeypatch):
    (tmp_path / "adir").mkdir()
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    r = _invoke("simulate", "--profile", "adir", "--out", "o", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2  # was "unknown profile 'adir'"
    assert _error(r) == "error: profile 'adir' is a folder; expected a shipped profile name (a100, h100, l4, t4) or a .yaml file"
    r = _invoke("profile", "show", "empty.yaml", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2  # was "expected a mapping at the top level, got NoneType"
    assert _error(r) == "error: empty.yaml: the file is empty (or only comments); expected a hardware profile (docs/profiles.md)"


# --- F22: no progress bar (or blank line) before an input error -----------------------


@pytest.mark.parametrize("cmd", [["simulate"], ["benchmark", "--sut", "null"]])
def test_f22_input_error_is_the_first_thing_printed(tmp_path, cmd):
    r = run(*cmd, "--conf", "my_user.conf", "--out", "o", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("error: my_user.conf: cannot read conf file"), repr(r.stderr[:80])


# --- F23: stats validate flags that were parsed and ignored ---------------------------


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--law", "lognormal", "--utilization", "0.5"], "error: Invalid value for '--utilization': applies to --law queue or --simulator PROFILE, not to --law lognormal"),
        (["--law", "lognormal", "--batching", "none"], "error: Invalid value for '--batching': applies to --simulator PROFILE only"),
        (["--law", "queue", "--utilization", "0.5", "--arrival", "mmpp:5"], "error: Invalid value for '--arrival': applies to --simulator PROFILE only"),
        (["--law", "gamma", "--model", "bert-99"], "error: Invalid value for '--model': applies to --simulator PROFILE only"),
    ],
)
def test_f23_validate_refuses_flags_of_another_law(args, expected):
    r = _invoke("stats", "validate", *args, "--replications", "10")
    assert r.exit_code == 2
    assert _error(r) == expected


def test_f24_profile_fit_trace_folder_without_a_trace_names_the_flag(tmp_path, monkeypatch):
    (tmp_path / "adir").mkdir()
    r = _invoke("profile", "fit", "--trace", "adir", "--into", "x.yaml", "--model", "m", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2  # was "adir: no mlperf_log_detail.txt; not a LoadGen log folder"
    assert _error(r).startswith("error: --trace adir: a folder with neither trace.parquet nor a LoadGen log")
    assert not (tmp_path / "x.yaml").exists()
