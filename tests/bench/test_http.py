"""The KServe-v2 HTTP SUT against a small real server on loopback."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from bench_helpers import short_settings  # noqa: E402

from simbench.bench.http import HttpSUT, serve_onnx  # noqa: E402
from simbench.bench.loadgen import LoadGenerator  # noqa: E402
from simbench.batching import DynamicBatching  # noqa: E402
from simbench.bench.sut import make_sut  # noqa: E402


@pytest.fixture
def server(tiny_model):
    srv, url = serve_onnx(tiny_model, name="tiny")
    yield url
    srv.shutdown()
    srv.server_close()


def test_http_sut_server_scenario(server):
    sut = make_sut(server, workers=2, batching=DynamicBatching(max_batch=4, timeout_us=1000))
    assert isinstance(sut, HttpSUT)
    run = LoadGenerator(sut, short_settings("Server", server_target_qps=200.0), qsl_total_count=1000, qsl_performance_count=256).run()
    assert run.status == "complete" and run.outstanding_samples == 0
    assert np.bincount(run.trace.batch_id).max() <= 4
    assert run.trace.metadata["sut"]["kind"] == "http-kserve-v2"


def test_http_metadata_error_status_is_an_input_error(server):
    from simbench.errors import SimbenchInputError

    url = server.replace("/tiny", "/nosuch")
    sut = HttpSUT(url)
    with pytest.raises(SimbenchInputError) as info:
        sut.load_samples(())  # before the load generator starts: a bad --sut, not a failed run
    assert str(info.value).startswith(f"GET {url}: HTTP 404 Not Found (")


def test_http_server_error_mid_run(server):
    sut = HttpSUT(server)
    sut.load_samples(())
    sut.sample_shape = (3, 8, 8)  # the server will reject these tensors with 400
    sut._pool = np.zeros((4, 3, 8, 8), np.float32)
    sut.input_pool = 4
    sut._encode_pool()
    run = LoadGenerator(sut, short_settings("SingleStream"), qsl_total_count=1000, qsl_performance_count=256, stall_timeout_s=2).run()
    assert run.status == "failed" and "HTTP 400" in run.errors[0]


def test_bad_http_url():
    with pytest.raises(ValueError, match="v2/models"):
        HttpSUT("http://127.0.0.1:1/models/x")


def _drive(sut, batches):
    """Load, start and issue ``batches`` (lists of QSL indices, one query each) to a SUT;
    returns (perf_counter_ns when issuing began, the sink)."""
    import time

    from simbench.bench.base import QuerySample
    from simbench.testing import RecordingSink

    sink = RecordingSink()
    sut.load_samples(())
    sut.start(sink)
    try:
        t_issue = time.perf_counter_ns()
        k = 0
        for b in batches:
            sut.issue_query([QuerySample(k + j, i) for j, i in enumerate(b)])
            k += len(b)
            assert sink.wait(k, timeout_s=30), sink.failures
    finally:
        sut.stop()
    return t_issue, sink


@pytest.mark.parametrize("binary", [True, False])
def test_requests_decode_to_the_pooled_tensors(tiny_model, binary):
    seen = []
    srv, url = serve_onnx(tiny_model, name="tiny", on_inputs=seen.append)
    try:
        sut = HttpSUT(url, batching=DynamicBatching(max_batch=3), input_pool=5, binary=binary)
        batches = [[7], [0, 4, 9], [3, 3]]
        _drive(sut, batches)
    finally:
        srv.shutdown()
        srv.server_close()
    assert sut.describe()["tensor_encoding"] == ("binary" if binary else "json")
    assert len(seen) == 3
    for b, x in zip(batches, seen):
        assert x.dtype == np.float32 and np.array_equal(x, sut._pool[np.array(b) % 5])


@pytest.mark.parametrize("server_binary", [True, False])
def test_encoding_follows_the_servers_extensions(tiny_model, server_binary):
    srv, url = serve_onnx(tiny_model, name="tiny", binary=server_binary)
    try:
        sut = HttpSUT(url)
        sut.load_samples(())
    finally:
        srv.shutdown()
        srv.server_close()
    assert sut.binary is server_binary


@pytest.mark.parametrize("binary", [True, False])
def test_no_encoding_between_issue_and_complete(tiny_model, binary, monkeypatch):
    """Every request body is serialised in load_samples, before the first sample is issued:
    the timed path only hands pre-encoded pieces to the socket."""
    import json
    import time
    import types

    import simbench.bench.http as http_mod

    import threading

    calls = []  # (perf_counter_ns, thread name); the loopback server encodes its answers too

    def dumps(*a, **k):
        calls.append((time.perf_counter_ns(), threading.current_thread().name))
        return json.dumps(*a, **k)

    monkeypatch.setattr(http_mod, "json", types.SimpleNamespace(dumps=dumps, loads=json.loads))
    srv, url = serve_onnx(tiny_model, name="tiny")
    try:
        sut = HttpSUT(url, batching=DynamicBatching(max_batch=4), binary=binary)
        t_issue, sink = _drive(sut, [[1, 2, 3, 4], [5], [6, 7]])
    finally:
        srv.shutdown()
        srv.server_close()
    client = [t for t, name in calls if name == threading.main_thread().name]
    # the header template, and in JSON each pooled row, were encoded (so the spy sees them)
    assert len(client) == (1 if binary else sut.input_pool + 1)
    assert max(client) < t_issue
    assert not [name for _, name in calls if name.startswith("simbench-sut")]  # the SUT's workers
    assert sum(len(r[0]) for r in sink.records) == 7


def test_binary_format_is_tritons(tiny_model):
    """tritonclient (NVIDIA's reference client) and HttpSUT build requests the server decodes
    to the same tensor, and tritonclient parses the server's binary response."""
    import http.client
    import urllib.parse

    import onnxruntime as ort
    import tritonclient.http as triton

    seen = []
    srv, url = serve_onnx(tiny_model, name="tiny", on_inputs=seen.append)
    try:
        sut = HttpSUT(url, batching=DynamicBatching(max_batch=2), binary=True)
        _drive(sut, [[1, 2]])
        x = sut._pool[[1, 2]]
        inp = triton.InferInput(sut.input_name, list(x.shape), "FP32")
        inp.set_data_from_numpy(x, binary_data=True)
        out_name = ort.InferenceSession(str(tiny_model)).get_outputs()[0].name
        body, json_size = triton.InferenceServerClient.generate_request_body(
            [inp], outputs=[triton.InferRequestedOutput(out_name, binary_data=True)]
        )
        u = urllib.parse.urlsplit(url)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        c.request("POST", u.path + "/infer", body=body, headers={"Inference-Header-Content-Length": str(json_size)})
        r = c.getresponse()
        data = r.read()
        c.close()
    finally:
        srv.shutdown()
        srv.server_close()
    assert r.status == 200
    assert np.array_equal(seen[0], x) and np.array_equal(seen[1], x)
    assert body[json_size:] == b"".join(sut._rows[i] for i in (1, 2))
    result = triton.InferResult.from_response_body(data, header_length=int(r.getheader("Inference-Header-Content-Length")))
    expected = ort.InferenceSession(str(tiny_model)).run(None, {sut.input_name: x})[0]
    assert np.array_equal(result.as_numpy(out_name), expected)


def test_answer_without_outputs_ends_the_run(tiny_model):
    """A 200 answer that is not an inference response is a SUT failure, not a completion."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import json
    import threading

    srv0, url0 = serve_onnx(tiny_model, name="tiny")

    class Liar(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, payload):
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            import urllib.request

            self._send(json.loads(urllib.request.urlopen(url0).read()) if "models" in self.path else {"extensions": []})

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self._send({"error": "busy"})

    liar = ThreadingHTTPServer(("127.0.0.1", 0), Liar)
    threading.Thread(target=liar.serve_forever, daemon=True).start()
    try:
        sut = HttpSUT(f"http://127.0.0.1:{liar.server_address[1]}/v2/models/tiny")
        run = LoadGenerator(sut, short_settings("SingleStream"), qsl_total_count=1000, qsl_performance_count=256,
                            stall_timeout_s=5).run()
    finally:
        liar.shutdown()
        liar.server_close()
        srv0.shutdown()
        srv0.server_close()
    assert run.status == "failed" and 'without "outputs"' in run.errors[0]
    assert len(run.trace) == 0


@pytest.mark.parametrize("answer", [b"[1, 2]", b"not json", b'{"extensions": "binary_tensor_data"}'])
def test_odd_server_metadata_means_json_tensors(tiny_model, answer):
    """Whatever GET /v2 answers, the SUT falls back to JSON tensors (the standard protocol)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading
    import urllib.request

    srv0, url0 = serve_onnx(tiny_model, name="tiny")
    model_meta = urllib.request.urlopen(url0).read()

    class Odd(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            data = model_meta if "models" in self.path else answer
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    odd = ThreadingHTTPServer(("127.0.0.1", 0), Odd)
    threading.Thread(target=odd.serve_forever, daemon=True).start()
    try:
        sut = HttpSUT(f"http://127.0.0.1:{odd.server_address[1]}/v2/models/tiny")
        sut.load_samples(())
    finally:
        odd.shutdown()
        odd.server_close()
        srv0.shutdown()
        srv0.server_close()
    assert sut.binary is False and sut.describe()["tensor_encoding"] == "json"
