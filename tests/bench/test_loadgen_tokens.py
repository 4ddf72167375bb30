"""Issue 11 §6: token latencies (TTFT, TPOT) against the official LoadGen's own summaries.

A small Python SUT (``simbench.bench.llm_null``) drives the real mlcommons-loadgen in-process:
each sample's first token is reported (``FirstTokenComplete``) 2 ms after issue and the
sample completes (``n_tokens`` = 2 + 7·index mod 13) 0.2 ms per further token later. simbench imports LoadGen's log folder
(TTFT from mlperf_log_trace.json, token counts from mlperf_log_accuracy.json) and must print
LoadGen's summary line for line: the token headline, the TTFT/TPOT early-stopping blocks, the
validity lines and the token statistics. Each run takes well under a second.
"""

from __future__ import annotations

import json

import numpy as np

import pytest

lg = pytest.importorskip("mlperf_loadgen")

from simbench.bench.llm_null import run_token_loadgen  # noqa: E402
from simbench.bench.loadgen_logs import compare_with_loadgen, import_loadgen_dir  # noqa: E402
from simbench.report import render_text, summary_to_dict  # noqa: E402

# simbench's own blocks (issue lag of real runs, the statistics warnings): a header naming
# simbench, then lines up to a blank line; LoadGen's summary has neither.
_SIMBENCH_ONLY = "(simbench;"
# LoadGen divides these two by the last query's issue time measured from its own test start,
# which its logs do not record; simbench measures from the first query's scheduled time (the
# same gap makes "QPS w/ loadgen overhead" differ, tests/bench/test_mlcommons.py).
_OVERHEAD_LINES = ("QPS w/ loadgen overhead", "TPS w/ loadgen overhead")


def run_loadgen(out_dir, scenario: str, *, ttft_ns: int, tpot_ns: int, queries: int = 100, qps: float = 300.0,
                short_every: int = 0, accuracy_log_probability: float = 1.0, first_token: bool = True) -> None:
    run_token_loadgen(out_dir, scenario, ttft_latency_ns=ttft_ns, tpot_latency_ns=tpot_ns, min_query_count=queries,
                      target_qps=qps, short_every=short_every, accuracy_log_probability=accuracy_log_probability,
                      first_token=first_token)


def _comparable(text: str) -> list[str]:
    """The summary's lines without simbench's own blocks."""
    out, skip = [], False
    for line in text.splitlines():
        if _SIMBENCH_ONLY in line and line.endswith(":"):
            skip = True  # through the blank line that ends it (the one before it stays)
            continue
        if skip:
            skip = bool(line.strip())
            continue
        out.append(line)
    return out


def _assert_same_summary(ours: str, theirs: str) -> None:
    a, b = _comparable(ours), _comparable(theirs)
    assert len(a) == len(b), "\n".join(a)
    for x, y in zip(a, b):
        if x.startswith(_OVERHEAD_LINES):
            label, vx = x.rsplit(":", 1)
            assert y.startswith(label + ":")
            assert float(vx) == pytest.approx(float(y.rsplit(":", 1)[1]), rel=1e-3)
        else:
            assert x == y


CASES = {
    # Server, 100 queries, bounds below what the SUT can do: both constraints fail; TPOT's
    # early stopping fails (h(0) = 459 at p99), so LoadGen never runs TTFT's (empty block).
    "server-tight": ("Server", dict(ttft_ns=1_000_000, tpot_ns=100_000, queries=100)),
    # Server, 500 queries, bounds far above: both checks pass, "Run successful." twice.
    "server-loose": ("Server", dict(ttft_ns=1_000_000_000, tpot_ns=1_000_000_000, queries=500, qps=1000.0)),
    # Server, TPOT passes, TTFT bound below every TTFT: TTFT's early stopping fails with t = n.
    "server-ttft-fails": ("Server", dict(ttft_ns=1_000_000, tpot_ns=1_000_000_000, queries=500, qps=1000.0)),
    "singlestream": ("SingleStream", dict(ttft_ns=5_000_000, tpot_ns=1_000_000, queries=100)),
    "multistream": ("MultiStream", dict(ttft_ns=5_000_000, tpot_ns=1_000_000, queries=100)),
    "offline": ("Offline", dict(ttft_ns=5_000_000, tpot_ns=1_000_000, queries=100)),
    # an Offline LLM SUT reports no first tokens (LoadGen needs none there): counts only
    "offline-no-first-token": ("Offline", dict(ttft_ns=5_000_000, tpot_ns=1_000_000, queries=100, first_token=False)),
}


_EXPECTED_FIRST_LINES = {
    "server-tight": ("", " * Run unsuccessful."),
    "server-loose": (" * Run successful.", " * Run successful."),
    "server-ttft-fails": (" * Run unsuccessful.", " * Run successful."),
    "singlestream": (" * Processed at least 64 queries (100).", " * Processed at least 64 queries (100)."),
    "multistream": ("", " * Only processed 100 queries."),
}


@pytest.mark.parametrize("case", list(CASES))
def test_token_summary_equals_loadgens_line_for_line(case, tmp_path):
    scenario, kw = CASES[case]
    run_loadgen(tmp_path, scenario, **kw)
    loadgen_text = (tmp_path / "mlperf_log_summary.txt").read_text()
    imported = import_loadgen_dir(tmp_path)
    assert imported.warnings == ()
    s = imported.summary
    assert s.tokens is not None and s.tokens.token_count > 0
    ours = render_text(s)
    _assert_same_summary(ours, loadgen_text)
    if scenario != "Offline":
        assert "TTFT Early Stopping Result:" in ours and "TPOT Early Stopping Result:" in ours
        assert "Mean Time per Output Token (ns)" in ours
    else:
        assert "Tokens per second: " in ours
    first_lines = _EXPECTED_FIRST_LINES.get(case)
    if first_lines is not None:
        lines = loadgen_text.splitlines()
        ttft = lines[lines.index("TTFT Early Stopping Result:") + 1]
        tpot = lines[lines.index("TPOT Early Stopping Result:") + 1]
        assert (ttft, tpot) == first_lines
    d = summary_to_dict(s)
    detail = imported.detail
    assert d["result_validity"] == detail["result_validity"]
    assert d["early_stopping_met"] == detail["early_stopping_met"]
    if scenario != "Offline":
        assert d["early_stopping_ttft_result"] == detail["early_stopping_ttft_result"]
        assert d["early_stopping_tpot_result"] == detail["early_stopping_tpot_result"]
    cmp = compare_with_loadgen(s, detail)
    token_keys = [k for k in cmp if "token" in k]
    assert len(token_keys) >= (1 if scenario == "Offline" else 20), sorted(cmp)
    for key in token_keys:
        v = cmp[key]
        if isinstance(v["simbench"], int) and not isinstance(v["simbench"], bool):
            assert v["simbench"] == v["loadgen"], key  # every ns statistic to the ns
        elif key != "result_token_throughput_with_loadgen_overhead":  # see _OVERHEAD_LINES
            assert v["rel_diff"] is None or abs(v["rel_diff"]) < 1e-5, (key, v)  # 6 digits logged


def test_server_case_outcomes_are_the_ones_intended(tmp_path):
    """The Server cases above exercise the branches they name (against LoadGen's words)."""
    run_loadgen(tmp_path, "Server", **CASES["server-tight"][1])
    text = (tmp_path / "mlperf_log_summary.txt").read_text().splitlines()
    i = text.index("TTFT Early Stopping Result:")
    assert text[i + 1] == "" and text[i + 2] == "TPOT Early Stopping Result:"
    assert " * TTFT constrain not met: Reduce target QPS to improve latency." in text
    assert " * TPOT constrain not met: Reduce target QPS to improve latency." in text
    s = import_loadgen_dir(tmp_path).summary
    assert s.tokens.early_stopping.ttft is None and not s.result_valid
    assert s.tokens.ttft_constraint_met is False and s.tokens.tpot_constraint_met is False


def test_tokens_below_two_follow_loadgens_arithmetic(tmp_path):
    """n_tokens = 1 (LoadGen logs an error and records 0 tokens; TPOT = -(latency - TTFT)):
    the token statistics still equal LoadGen's, to the ns."""
    run_loadgen(tmp_path, "Server", ttft_ns=1_000_000_000, tpot_ns=1_000_000_000, queries=100, short_every=10)
    imported = import_loadgen_dir(tmp_path)
    tok = imported.summary.tokens
    assert tok.short_samples > 0 and tok.time_per_output_token.min_ns < 0
    assert any("greater than 1" in e for e in imported.detail["_errors"])
    cmp = compare_with_loadgen(imported.summary, imported.detail)
    for key in ("result_time_to_output_token_min", "result_time_to_output_token_mean",
                "result_time_per_output_token_50.00_percentile_ns", "result_first_token_mean_latency_ns"):
        assert cmp[key]["simbench"] == cmp[key]["loadgen"], key
    ours = [ln for ln in render_text(imported.summary).splitlines() if "Token" in ln or "token" in ln]
    theirs = [ln for ln in imported.summary_text.splitlines() if "Token" in ln or "token" in ln]
    assert ours == theirs


def test_all_short_samples_reproduce_loadgens_unsigned_mean(tmp_path):
    """Every sample reports 1 token: every TPOT is negative, and LoadGen's mean divides the
    negative int64 sum by a size_t, i.e. unsigned (it printed 184467440736693497-like values
    on 6.0.17). simbench prints the same number."""
    run_loadgen(tmp_path, "Server", ttft_ns=1_000_000_000, tpot_ns=1_000_000_000, queries=100, short_every=1)
    imported = import_loadgen_dir(tmp_path)
    tok = imported.summary.tokens
    assert tok.token_count == 0 and tok.time_per_output_token.max_ns < 0
    assert tok.time_per_output_token.mean_ns > 10**17  # the unsigned wrap, not a mean
    assert tok.time_per_output_token.mean_ns == imported.detail["result_time_to_output_token_mean"]
    ours = [ln for ln in render_text(imported.summary).splitlines() if "Output Token" in ln or "tokens per" in ln]
    theirs = [ln for ln in imported.summary_text.splitlines() if "Output Token" in ln or "tokens per" in ln]
    assert ours == theirs and len(ours) == 5


def test_without_token_counts_the_import_says_so(tmp_path):
    """accuracy_log_probability = 0: LoadGen logs no per-sample token count, so no TPOT; the
    import and the summary say so and judge request latency instead (never silently)."""
    run_loadgen(tmp_path, "SingleStream", ttft_ns=5_000_000, tpot_ns=1_000_000, accuracy_log_probability=0.0)
    imported = import_loadgen_dir(tmp_path)
    assert any("token_count" in w or "token counts" in w for w in imported.warnings)
    assert imported.summary.tokens is None
    assert any("use_token_latencies is on but" in w for w in imported.summary.warnings)
    assert imported.trace.first_token_ns is not None  # TTFT still imported


def test_cli_import_then_trace_summary_rederives_the_token_block(tmp_path):
    from typer.testing import CliRunner

    from simbench.cli.main import app

    run_loadgen(tmp_path / "lg", "Server", **CASES["server-loose"][1])
    runner = CliRunner()
    res = runner.invoke(app, ["trace", "import", str(tmp_path / "lg"), "--out", str(tmp_path / "imp"), "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output)
    assert payload["early_stopping_tpot_result"] == " * Run successful."
    res = runner.invoke(app, ["trace", "summary", str(tmp_path / "imp" / "trace.parquet")])
    assert res.exit_code == 0, res.output
    _assert_same_summary(res.output, (tmp_path / "lg" / "mlperf_log_summary.txt").read_text())
    from simbench.trace import read_trace

    tr = read_trace(tmp_path / "imp" / "trace.parquet")
    assert tr.n_tokens is not None and tr.first_token_ns is not None and not tr.masks


@pytest.mark.parametrize("scenario", ["Server", "Offline"])
def test_inferred_token_lines_equal_loadgens(scenario, tmp_path):
    """infer_token_latencies (gptj: tokens = 69 x samples): LoadGen's "(inferred)" summary line
    and detail key, re-derived from an imported folder that does not log the flag itself."""
    from bench_helpers import short_settings

    from simbench.bench.mlcommons import run_mlcommons
    from simbench.bench.sut import NullSUT

    settings = short_settings(scenario, min_duration_ms=100, infer_token_latencies=True, token_latency_scaling_factor=69)
    run = run_mlcommons(NullSUT(), settings, qsl_total_count=1000, qsl_performance_count=256, log_dir=tmp_path)
    imported = import_loadgen_dir(tmp_path)
    assert imported.effective.infer_token_latencies and imported.effective.token_latency_scaling_factor == 69
    ours = [ln for ln in render_text(imported.summary).splitlines() if "(inferred)" in ln]
    theirs = [ln for ln in imported.summary_text.splitlines() if "(inferred)" in ln]
    assert ours == theirs and len(ours) == 1
    key = "result_inferred_completed_tokens_per_second" if scenario == "Server" else "result_inferred_tokens_per_second"
    assert abs(run.extra["loadgen"]["comparison"][key]["rel_diff"]) < 1e-5


# --- broken LLM log folders: only simbench's input errors escape ------------------------

@pytest.fixture(scope="module")
def llm_folder_texts(tmp_path_factory):
    out = tmp_path_factory.mktemp("lg_llm")
    run_loadgen(out, "Server", ttft_ns=1_000_000_000, tpot_ns=1_000_000_000, queries=40)
    return {p.name: p.read_text() for p in out.iterdir()}


def test_broken_llm_logs_raise_only_input_errors(llm_folder_texts, tmp_path_factory):
    """Token records and accuracy entries mutated at random (60 examples): the import and
    the summary either work or raise a SimbenchInputError; never a traceback."""
    import tempfile

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from simbench.errors import SimbenchInputError

    values = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                       st.text(max_size=4), st.lists(st.integers(), max_size=2))

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(["accuracy", "accuracy", "trace", "cut"]), st.integers(0, 10**6), values,
           st.sampled_from(["token_count", "seq_id", "issue_delay", "issue_to_done", "complete_ns", "sample_seq", "ts"]))
    def check(target, pos, value, field):
        files = dict(llm_folder_texts)
        if target == "cut":
            name = "mlperf_log_accuracy.json"
            files[name] = files[name][: pos % (len(files[name]) + 1)]
        else:
            name = "mlperf_log_accuracy.json" if target == "accuracy" else "mlperf_log_trace.json"
            lines = files[name].splitlines()
            cands = [i for i, ln in enumerate(lines) if ("token_count" in ln or "Token_Latency" in ln)] or [0]
            i = cands[pos % len(cands)]
            line = lines[i].rstrip(",")
            try:
                rec = json.loads(line)
                target_dict = rec.get("args", rec) if isinstance(rec, dict) else rec
                if isinstance(target_dict, dict):
                    target_dict[field] = value
                lines[i] = json.dumps(rec) + ("," if lines[i].endswith(",") else "")
            except (json.JSONDecodeError, ValueError):
                lines[i] = line[: pos % (len(line) + 1)]
            files[name] = "\n".join(lines)
        with tempfile.TemporaryDirectory(prefix="tokens_fuzz_") as d:
            from pathlib import Path

            for n, t in files.items():
                (Path(d) / n).write_text(t)
            try:
                run = import_loadgen_dir(d)
                if run.summary is not None:
                    render_text(run.summary)
                    summary_to_dict(run.summary)
            except SimbenchInputError:
                pass

    check()


# --- a simbench SUT that reports tokens, under both engines ------------------------------

def _llm_settings(scenario: str):
    from bench_helpers import short_settings

    return short_settings(scenario, min_duration_ms=200, min_query_count=100, server_target_qps=500.0,
                          single_stream_expected_latency_ns=3_000_000, use_token_latencies=True,
                          server_ttft_latency=50_000_000, server_tpot_latency=5_000_000)


@pytest.mark.parametrize("scenario", ["Server", "SingleStream"])
def test_mlcommons_engine_passes_the_suts_tokens_to_loadgen(scenario, tmp_path):
    """NullLLMSUT under the official LoadGen: its first tokens and n_tokens reach LoadGen
    (FirstTokenComplete, QuerySampleResponse.n_tokens), and simbench's summary of the run
    re-derives LoadGen's token block (counts from the SUT, no accuracy log needed)."""
    from simbench.bench.mlcommons import run_mlcommons
    from simbench.bench.sut import NullLLMSUT

    run = run_mlcommons(NullLLMSUT(), _llm_settings(scenario), qsl_total_count=1000, qsl_performance_count=256,
                        log_dir=tmp_path)
    assert run.errors == () and run.summary.tokens is not None
    tr = run.trace
    assert "n_tokens" not in tr.masks and "first_token_ns" not in tr.masks
    np.testing.assert_array_equal(tr.n_tokens, 2 + (tr.sample_index * 7) % 13)
    cmp = run.extra["loadgen"]["comparison"]
    for key in ("result_first_token_99.00_percentile_latency_ns", "result_time_to_output_token_max",
                "result_time_per_output_token_50.00_percentile_ns", "early_stopping_tpot_result", "early_stopping_ttft_result"):
        assert cmp[key]["simbench"] == cmp[key]["loadgen"], key
    theirs = (tmp_path / "mlperf_log_summary.txt").read_text()
    for label in ("TTFT Early Stopping Result:", "TPOT Early Stopping Result:"):
        assert label in render_text(run.summary) and label in theirs


@pytest.fixture(scope="module")
def simbench_llm_run():
    """NullLLMSUT's Server run under the simbench engine (shared by two tests)."""
    from simbench.bench.loadgen import LoadGenerator
    from simbench.bench.sut import NullLLMSUT

    return LoadGenerator(NullLLMSUT(), _llm_settings("Server"), qsl_total_count=1000, qsl_performance_count=256).run()


def test_simbench_engine_records_the_suts_tokens(simbench_llm_run):
    run = simbench_llm_run
    tr, tok = run.trace, run.summary.tokens
    np.testing.assert_array_equal(tr.n_tokens, 2 + (tr.sample_index * 7) % 13)
    ttft = tr.first_token_ns - tr.issue_ns
    assert ttft.min() >= 2_000_000 and (tr.first_token_ns <= tr.complete_ns).all()
    tpot = sorted(int(c - f) // int(n - 1) for c, f, n in zip(tr.complete_ns, tr.first_token_ns, tr.n_tokens))
    assert tok.time_per_output_token.target_ns == tpot[int(len(tpot) * 0.99)]
    assert tok.time_per_output_token.min_ns == tpot[0] and tok.token_count == int(tr.n_tokens.sum())
    assert "TTFT Early Stopping Result:" in render_text(run.summary)


def test_sink_refuses_bad_token_reports():
    from simbench.bench.loadgen import _Recorder

    rec = _Recorder(8, 0)
    rec.note_issue(3)
    assert rec.first_token([0]) and rec.complete([0], n_tokens=5)
    assert rec.n_tokens[0] == 5 and rec.first_token_ns[0] >= 0
    assert not rec.first_token([0]) and "not outstanding or twice" in rec.failure  # already completed
    rec = _Recorder(8, 0)
    rec.note_issue(3)
    assert not rec.complete([1, 2], n_tokens=[4]) and "expected 2 integers >= 0" in rec.failure
    rec = _Recorder(8, 0)
    rec.note_issue(3)
    assert not rec.complete([1], n_tokens=-1) and "n_tokens=-1" in rec.failure


def test_sut_side_trace_keeps_the_suts_tokens():
    """Without LoadGen's per-sample log (unreadable, interrupted run), the SUT-side Trace still
    carries the first tokens and counts the SUT reported, on its own clock."""
    from simbench.bench.mlcommons import _merge, _SutSideSink
    from simbench.settings import resolve

    sink = _SutSideSink(lg)
    sink.completed = {10: (1_500, -1, -1, -1), 11: (2_600, -1, -1, -1)}
    sink.first_token_at = {10: 1_200}
    sink.n_tokens = {10: 7, 11: 3}
    eff = resolve(_llm_settings("Server"), 1000, 256)
    tr = _merge(None, [(10, 3, 1_000), (11, 4, 2_000)], sink, eff)
    assert tr.first_token_ns.tolist()[0] == 200 and tr.masks["first_token_ns"].tolist() == [True, False]
    assert tr.n_tokens.tolist() == [7, 3] and tr.complete_ns.tolist() == [500, 1_600]


def test_html_report_shows_ttft_and_tpot(simbench_llm_run, tmp_path):
    from simbench.report import summary_to_json
    from simbench.report.html import build_report
    from simbench.trace import write_trace

    run = simbench_llm_run
    d = tmp_path / "Server"
    write_trace(run.trace, d / "trace.parquet")
    (d / "summary.json").write_text(summary_to_json(run.summary))
    page = build_report(tmp_path)
    assert "time to first token CDF" in page and "time per output token CDF" in page
    assert "ttft_latency 50 ms" in page  # the Server bound drawn on the TTFT CDF
