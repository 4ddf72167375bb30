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


def test_http_error_status_makes_run_invalid(server):
    sut = HttpSUT(server.replace("/tiny", "/nosuch"))
    with pytest.raises(RuntimeError, match="HTTP 404"):
        sut.load_samples(())


def test_http_server_error_mid_run(server):
    sut = HttpSUT(server)
    sut.load_samples(())
    sut.sample_shape = (3, 8, 8)  # the server will reject these tensors with 400
    sut._pool = np.zeros((4, 3, 8, 8), np.float32)
    sut.input_pool = 4
    run = LoadGenerator(sut, short_settings("SingleStream"), qsl_total_count=1000, qsl_performance_count=256, stall_timeout_s=2).run()
    assert run.status == "failed" and "HTTP 400" in run.errors[0]


def test_bad_http_url():
    with pytest.raises(ValueError, match="v2/models"):
        HttpSUT("http://127.0.0.1:1/models/x")
