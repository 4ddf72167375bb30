"""Property-based fuzzing of simbench's four input parsers (issue 8 §6).

Each parser gets malformed input built by hypothesis -- random text and, more usefully,
valid inputs with parts broken -- and the property is the same for all four: the parser
either succeeds or raises one of simbench's input errors (``SimbenchInputError``: a
``ConfError``, ``ProfileError`` or ``TraceError``). Any other exception is an *escape*,
which the CLI would report as a bug.

================  =========================================================================
parser            what is fuzzed (``check_*`` is the code under test)
================  =========================================================================
conf reader       ``read_conf`` + ``apply_conf`` (+ ``resolve`` and the run-size check)
profile loader    ``parse_profile`` on YAML text (+ ``sut_from_profile`` when it validates)
trace reader      ``read_trace`` + ``summarize_trace_file`` on Parquet bytes/columns/metadata
LoadGen importer  ``import_loadgen_dir`` on malformed summary/detail/trace files
================  =========================================================================

CI runs ``EXAMPLES`` examples per parser; ``benchmarks/fuzz_parsers.py`` runs the same
properties at >= 10,000 each (results in docs/reliability.md, "Fuzzing").
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simbench.errors import SimbenchInputError

DATA = Path(__file__).resolve().parent / "data"
EXAMPLES = int(os.environ.get("SIMBENCH_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    derandomize=os.environ.get("SIMBENCH_FUZZ_RANDOM") is None,  # CI: the same examples every run
    database=None,
)

# --- shared value strategies ------------------------------------------------------------

_EDGE_INTS = [0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), 10**30]
ints = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from(_EDGE_INTS))
floats = st.floats(allow_nan=True, allow_infinity=True)
json_scalars = st.one_of(st.none(), st.booleans(), ints, floats, st.text(max_size=12))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def _json_safe(v):
    """JSON text for a value (non-finite floats as the literals NaN/Infinity, as json emits)."""
    return json.dumps(v, allow_nan=True)


# --- 1. conf reader -----------------------------------------------------------------------

_CONF_KEYS = [
    "mode", "target_qps", "target_latency", "target_latency_percentile", "samples_per_query",
    "coalesce_queries", "max_async_queries", "min_duration", "max_duration", "min_query_count",
    "max_query_count", "performance_sample_count_override", "accuracy_sample_count_override",
    "sample_concatenate_permutation", "performance_issue_unique", "performance_issue_same",
    "performance_issue_same_index", "print_timestamps", "use_token_latencies", "ttft_latency",
    "tpot_latency", "infer_token_latencies", "token_latency_scaling_factor", "accuracy_log_rng_seed",
    "accuracy_log_sampling_target", "qsl_rng_seed", "schedule_rng_seed", "target_duration",
]
_SCENARIOS = ["*", "SingleStream", "MultiStream", "Server", "Offline"]
_conf_value = st.one_of(
    ints.map(str),
    floats.map(repr),
    st.sampled_from(["1e400", "-1e400", "0x10", "0X", "1.", ".5", "1e-400", "nan", "inf", "", "1 2", "+0", "-0.0", "9" * 400]),
    st.text(max_size=10),
)
_conf_line = st.one_of(
    st.builds(
        lambda m, s, k, v, sp, c: f"{m}.{s}.{k}{sp}={sp}{v}{c}",
        st.sampled_from(["*", "resnet50", "bert-99", "bert", "m", "a.b"]) | st.text(max_size=6),
        st.sampled_from(_SCENARIOS) | st.text(max_size=6),
        st.sampled_from(_CONF_KEYS) | st.text(max_size=8),
        _conf_value,
        st.sampled_from([" ", "", "\t"]),
        st.sampled_from(["", " # c", "#", "=", " = 3"]),
    ),
    st.text(max_size=30),
)
conf_texts = st.builds(
    lambda bom, lines, nl: ("\ufeff" if bom else "") + nl.join(lines),
    st.booleans(),
    st.lists(_conf_line, max_size=8),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
conf_bytes = st.one_of(conf_texts.map(lambda t: t.encode("utf-8")), st.binary(max_size=64))


def check_conf(data: bytes) -> None:
    """Write ``data`` as a user.conf and apply it the way ``simbench simulate --conf`` does."""
    from simbench.jobs import SimulateOptions, build_settings, check_run_size
    from simbench.settings import Scenario, resolve

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "user.conf"
        p.write_bytes(data)
        for scenario in Scenario:
            origins: dict[str, str] = {}
            s = build_settings("resnet50", scenario, {}, SimulateOptions(conf=str(p)), origins=origins)
            check_run_size(s, origins)
            resolve(s, 50_000, 1024)


@FUZZ
@given(conf_bytes)
def test_fuzz_conf_reader(data):
    try:
        check_conf(data)
    except SimbenchInputError:
        pass


# --- 2. profile loader --------------------------------------------------------------------


def _base_profile() -> dict:
    """docs/profiles.md's example profile (one model, every section), as a dict."""
    import yaml

    text = (DATA / "cases" / "06-profile-decreasing-latency-absurd-throughput" / "decreasing.yaml").read_text()
    d = yaml.safe_load(text.replace("latency_ns: 100,", "latency_ns: 2468410,"))  # the docs' value
    return d


_BASE_PROFILE = _base_profile()


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


_PROFILE_PATHS = [p for p in _paths(_BASE_PROFILE) if p]
_BASE_TEXT = __import__("yaml").safe_dump(_BASE_PROFILE, sort_keys=False)


def _mutate(base, edits):
    import copy

    d = copy.deepcopy(base)
    for path, op, value in edits:
        parent = d
        try:
            for k in path[:-1]:
                parent = parent[k]
            key = path[-1]
            if op == "delete":
                del parent[key]
            else:
                parent[key] = value
        except (KeyError, IndexError, TypeError):
            continue
    return d


_yaml_noise = st.sampled_from(
    ["&a", "*a", "<<: *a", "!!python/object:os.system", "!!binary", "? ", "- ", ": ", "{", "[", "'", '"', "%YAML 1.1", "---", "...",
     "\t", "!tag", "&x [*x]", "\x00", "\ufeff", "a: b: c", "1e999", ".nan", "-.inf", "0x" + "f" * 40]
)


def _profile_text(kind, edits, noise, cut):
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    if kind == "mutated":
        return yaml.dump(_mutate(_BASE_PROFILE, edits), Dumper=dumper, sort_keys=False, allow_unicode=True)
    text = _BASE_TEXT
    if kind == "truncated":
        return text[: cut % (len(text) + 1)]
    i = cut % (len(text) + 1)
    return text[:i] + noise + text[i:]


profile_texts = st.one_of(
    st.builds(
        _profile_text,
        st.sampled_from(["mutated", "mutated", "truncated", "noise"]),
        st.lists(st.tuples(st.sampled_from(_PROFILE_PATHS), st.sampled_from(["set", "set", "delete"]), json_values), min_size=1, max_size=3),
        _yaml_noise,
        st.integers(0, 10**6),
    ),
    st.text(max_size=80),
    st.lists(_yaml_noise, max_size=10).map("\n".join),
)


def check_profile(text: str) -> None:
    from simbench.profiles import parse_profile
    from simbench.settings import Scenario
    from simbench.sim import sut_from_profile

    prof = parse_profile(text, "fuzz.yaml")
    for model in prof.models:
        for scenario in Scenario:
            sut = sut_from_profile(prof, model, scenario)
            for b in (1, 2, sut.max_batch, sut.max_batch * 4):
                assert prof.models[model].latency.latency_ns(b) > 0


@FUZZ
@given(profile_texts)
def test_fuzz_profile_loader(text):
    try:
        check_profile(text)
    except SimbenchInputError:
        pass


# --- 3. trace reader ----------------------------------------------------------------------


def _valid_trace_table(n: int):
    """A small valid simulated-Server trace table with full metadata (schema of write_trace)."""
    import dataclasses

    from simbench.settings import official_settings, resolve
    from simbench.trace import Trace

    eff = resolve(dataclasses.replace(official_settings("resnet50", "Server"), server_target_qps=100, min_duration_ms=10), 1024, 1024)
    q = np.arange(n, dtype=np.int64)
    issue = q * 10_000
    tr = Trace(
        query_id=q, sample_index=q % 7, issue_ns=issue, complete_ns=issue + 5_000 + q, start_ns=issue + 100,
        batch_id=q, device_id=np.zeros(n, dtype=np.int64),
        metadata={"kind": "simulated", "scenario": "Server", "effective_settings": eff.to_dict(), "sut": {"name": "fuzz"}, "errors": []},
    )
    return tr._to_arrow()


_TRACE_COLUMNS = ["query_id", "sample_index", "issue_ns", "issued_ns", "start_ns", "complete_ns", "batch_id", "device_id"]
_EFF_KEYS = list(json.loads(_valid_trace_table(1).schema.metadata[b"simbench.run"])["effective_settings"])


@st.composite
def trace_files(draw):
    """Bytes of a (usually) Parquet file: a valid trace with columns, values or metadata broken."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    kind = draw(st.sampled_from(["columns", "values", "metadata", "metadata", "bytes", "truncated"]))
    n = draw(st.integers(0, 12))
    table = _valid_trace_table(n)
    meta = json.loads(table.schema.metadata[b"simbench.run"])
    if kind == "columns":
        cols = {name: table.column(name) for name in table.column_names}
        for name in draw(st.lists(st.sampled_from(_TRACE_COLUMNS + ["extra"]), max_size=3)):
            action = draw(st.sampled_from(["drop", "type", "nulls"]))
            if action == "drop":
                cols.pop(name, None)
            elif action == "type":
                typ = draw(st.sampled_from([pa.int32(), pa.float64(), pa.string(), pa.bool_(), pa.uint64(), pa.int8()]))
                values = draw(st.lists(st.integers(0, 100), min_size=n, max_size=n))
                cols[name] = pa.array([str(v) for v in values] if typ == pa.string() else [bool(v) for v in values] if typ == pa.bool_() else values, type=typ)
            else:
                cols[name] = pa.array([None] * n, type=pa.int64())
        table = pa.table(cols) if cols else pa.table({"x": pa.array([], pa.int64())})
    elif kind == "values":
        cols = {name: table.column(name).to_pylist() for name in table.column_names}
        for _ in range(draw(st.integers(1, 4))):
            name = draw(st.sampled_from(_TRACE_COLUMNS))
            if n:
                cols[name][draw(st.integers(0, n - 1))] = draw(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)))
        table = pa.table({k: pa.array(v, type=pa.int64()) for k, v in cols.items()})
    if kind == "metadata":
        which = draw(st.sampled_from(["drop_key", "set_key", "extra_key", "eff_value", "whole", "raw"]))
        eff = meta["effective_settings"]
        if which == "drop_key":
            eff.pop(draw(st.sampled_from(_EFF_KEYS)), None)
        elif which == "extra_key":
            eff[draw(st.text(max_size=6))] = draw(json_values)
        elif which == "eff_value":
            eff[draw(st.sampled_from(_EFF_KEYS))] = draw(json_values)
        elif which == "set_key":
            meta[draw(st.sampled_from(["effective_settings", "errors", "sut", "sut_name", "ran_out_of_queries", "scenario"]))] = draw(json_values)
        elif which == "whole":
            meta = draw(json_values)
        raw = draw(st.binary(max_size=40)) if which == "raw" else _json_safe(meta).encode()
    else:
        raw = _json_safe(meta).encode()
    table = table.replace_schema_metadata({b"simbench.run": raw})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    data = buf.getvalue()
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "truncated":
        return data[: draw(st.integers(0, len(data)))]
    return data


def check_trace(data: bytes) -> None:
    from simbench.bench.job import summarize_trace_file
    from simbench.report import render_text, summary_to_json

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "trace.parquet"
        p.write_bytes(data)
        s = summarize_trace_file(p)
        render_text(s)
        summary_to_json(s)


@FUZZ
@given(trace_files())
def test_fuzz_trace_reader(data):
    try:
        check_trace(data)
    except SimbenchInputError:
        pass


# --- 4. LoadGen-log importer --------------------------------------------------------------

_LG_SEEDS = [DATA / "fuzz" / "lg_singlestream", DATA / "cases" / "25-trace-import-truncated-trace-silent" / "lg_trunc"]
_LG_FILES = {seed: {f: (seed / f).read_text() for f in ("mlperf_log_detail.txt", "mlperf_log_summary.txt", "mlperf_log_trace.json")} for seed in _LG_SEEDS}


def _mllog_records(text: str) -> list[str]:
    return text.splitlines()


@st.composite
def loadgen_dirs(draw):
    """The files of a LoadGen log folder, one of them broken."""
    seed = draw(st.sampled_from(_LG_SEEDS))
    files = dict(_LG_FILES[seed])
    target = draw(st.sampled_from(["detail", "detail", "trace", "trace", "summary", "missing"]))
    if target == "detail":
        lines = files["mlperf_log_detail.txt"].splitlines()
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(lines) - 1))
            how = draw(st.sampled_from(["value", "drop", "garble", "nonobject"]))
            prefix, _, body = lines[i].partition(":::MLLOG ")
            if how == "drop":
                lines[i] = ""
            elif how == "garble":
                lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))] + draw(st.text(max_size=5))
            elif how == "nonobject":
                lines[i] = prefix + ":::MLLOG " + _json_safe(draw(json_values))
            else:
                try:
                    rec = json.loads(body)
                    rec["value"] = draw(json_values)
                    lines[i] = prefix + ":::MLLOG " + _json_safe(rec)
                except (json.JSONDecodeError, TypeError):
                    pass
        files["mlperf_log_detail.txt"] = "\n".join(lines)
    elif target == "trace":
        text = files["mlperf_log_trace.json"]
        how = draw(st.sampled_from(["cut", "event", "whole"]))
        if how == "cut":
            files["mlperf_log_trace.json"] = text[: draw(st.integers(0, len(text)))]
        elif how == "whole":
            files["mlperf_log_trace.json"] = _json_safe(draw(json_values))
        else:
            lines = text.splitlines()
            sample_lines = [i for i, ln in enumerate(lines) if '"Sample"' in ln] or [0]
            i = draw(st.sampled_from(sample_lines))
            try:
                ev = json.loads(lines[i].strip().rstrip(","))
                field = draw(st.sampled_from(["ts", "args", "ph", "name"]))
                if field == "args" and isinstance(ev.get("args"), dict) and draw(st.booleans()):
                    ev["args"][draw(st.sampled_from(["sample_seq", "query_seq", "sample_idx", "issue_start_ns", "complete_ns"]))] = draw(json_values)
                else:
                    ev[field] = draw(json_values)
                lines[i] = _json_safe(ev) + ","
            except (json.JSONDecodeError, AttributeError):
                lines[i] = draw(st.text(max_size=20))
            files["mlperf_log_trace.json"] = "\n".join(lines)
    elif target == "summary":
        files["mlperf_log_summary.txt"] = draw(st.text(max_size=100))
    else:
        del files[draw(st.sampled_from(sorted(files)))]
    return files


def check_loadgen_import(files: dict[str, str]) -> None:
    from simbench.bench.loadgen_logs import compare_with_loadgen, import_loadgen_dir
    from simbench.report import render_text

    with tempfile.TemporaryDirectory() as d:
        for name, text in files.items():
            (Path(d) / name).write_text(text, encoding="utf-8", errors="surrogatepass")
        run = import_loadgen_dir(d)
        if run.summary is not None:
            render_text(run.summary)
            compare_with_loadgen(run.summary, run.detail)


@FUZZ
@given(loadgen_dirs())
def test_fuzz_loadgen_importer(files):
    try:
        check_loadgen_import(files)
    except SimbenchInputError:
        pass


PARSERS = {
    "conf reader": (check_conf, conf_bytes),
    "profile loader": (check_profile, profile_texts),
    "trace reader": (check_trace, trace_files()),
    "LoadGen importer": (check_loadgen_import, loadgen_dirs()),
}
"""name -> (check function, strategy), for ``benchmarks/fuzz_parsers.py``."""


def test_seeds_are_valid_inputs():
    """The fuzzers start from inputs that parse: a failure is the mutation's doing."""
    import io

    import pyarrow.parquet as pq

    check_conf(b"*.Server.target_qps = 100\n")
    import yaml

    check_profile(yaml.safe_dump(_BASE_PROFILE, sort_keys=False))
    buf = io.BytesIO()
    pq.write_table(_valid_trace_table(5), buf)
    check_trace(buf.getvalue())
    for seed in _LG_SEEDS:
        check_loadgen_import(_LG_FILES[seed])
