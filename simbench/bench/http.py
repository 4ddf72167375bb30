"""An HTTP inference endpoint as a SUT (KServe v2 / Open Inference Protocol, JSON).

=====================  ================================================================
``HttpSUT``            POSTs each batch to ``{base}/v2/models/{name}/infer``
``serve_onnx``         a small real KServe-v2 server for an ONNX model (loopback, threads)
=====================  ================================================================

The protocol (https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/):
``GET /v2/models/{name}`` returns the model metadata (inputs with ``name``, ``datatype``,
``shape``; -1 = dynamic); ``POST /v2/models/{name}/infer`` takes
``{"id": ..., "inputs": [{"name", "shape", "datatype", "data"}]}`` and answers with
``{"model_name", "id", "outputs": [...]}``. A non-200 answer or a connection error ends the
run INVALID with the status in the errors.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from simbench.batching import DynamicBatching, NoBatching
from simbench.bench.base import PooledSUT

__all__ = ["HttpSUT", "serve_onnx"]

_NP_TO_V2 = {np.dtype(np.float32): "FP32", np.dtype(np.float16): "FP16", np.dtype(np.float64): "FP64"}
_V2_TO_NP = {v: k for k, v in _NP_TO_V2.items()}


class HttpSUT(PooledSUT):
    """A KServe-v2 HTTP endpoint as a SUT: one POST per batch, one keep-alive connection per worker.

    Parameters
    ----------
    url : str
        ``http://host:port/v2/models/NAME`` (the model's metadata URL).
    workers : int
        Concurrent requests in flight (one connection each).
    batching : NoBatching or DynamicBatching, optional
        Samples per request (SUT-side dynamic batching) [default: 1].
    input_pool : int
        Distinct synthetic inputs (seeded); sample ``i`` sends tensor ``i % input_pool``.
    timeout_s : float
        Per-request socket timeout, seconds.

    Raises
    ------
    ValueError
        A URL that is not ``http://host:port/v2/models/NAME``, or metadata without a
        usable input.
    OSError
        The endpoint cannot be reached when ``start`` fetches the metadata.
    """

    def __init__(
        self,
        url: str,
        *,
        workers: int = 1,
        batching: NoBatching | DynamicBatching | None = None,
        input_pool: int = 16,
        seed: int = 0,
        timeout_s: float = 30.0,
    ) -> None:
        super().__init__(workers=workers, batching=batching)
        u = urllib.parse.urlsplit(url)
        parts = [p for p in u.path.split("/") if p]
        if u.scheme != "http" or len(parts) != 3 or parts[:2] != ["v2", "models"]:
            raise ValueError(f"--sut: expected http://HOST:PORT/v2/models/NAME, got {url!r}")
        self.url = url
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.model = parts[2]
        self.name = f"http:{self.model}"
        self.input_pool, self.seed, self.timeout_s = input_pool, seed, timeout_s
        self._local = threading.local()
        self._pool: np.ndarray | None = None

    def _conn(self) -> http.client.HTTPConnection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            c.connect()
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.conn = c
        return c

    def _request(self, method: str, path: str, body: bytes | None = None) -> dict[str, Any]:
        c = self._conn()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException):
            self._local.conn = None
            c.close()
            raise
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status} from {method} {path}: {data[:200]!r}")
        return json.loads(data)

    def load_samples(self, indices) -> None:
        if self._pool is not None:
            return
        meta = self._request("GET", f"/v2/models/{self.model}")
        inputs = meta.get("inputs") or []
        if not inputs:
            raise ValueError(f"{self.url}: model metadata lists no inputs")
        inp = inputs[0]
        shape = [int(d) for d in inp["shape"]][1:]
        if any(d < 1 for d in shape):
            raise ValueError(f"{self.url}: input {inp['name']!r} has a dynamic non-batch dimension")
        self.input_name, self.datatype = inp["name"], inp["datatype"]
        dtype = _V2_TO_NP.get(self.datatype)
        if dtype is None:
            raise ValueError(f"{self.url}: input datatype {self.datatype} is not supported")
        self.sample_shape = tuple(shape)
        rng = np.random.default_rng(self.seed)
        self._pool = rng.standard_normal((self.input_pool, *shape), dtype=np.float32).astype(dtype)

    def start(self, sink) -> None:
        self.load_samples(())
        super().start(sink)

    def _run_batch(self, indices: np.ndarray, worker: int) -> None:
        x = self._pool[indices % self.input_pool]  # type: ignore[index]
        body = json.dumps(
            {
                "inputs": [
                    {"name": self.input_name, "shape": list(x.shape), "datatype": self.datatype, "data": x.ravel().tolist()}
                ]
            }
        ).encode()
        self._request("POST", f"/v2/models/{self.model}/infer", body)

    def describe(self) -> dict[str, Any]:
        return {"kind": "http-kserve-v2", **super().describe(), "url": self.url}


def serve_onnx(model_path: str | Path, *, name: str = "model", host: str = "127.0.0.1", port: int = 0, threads: int = 1):
    """Serve an ONNX model over KServe v2 (JSON) from a background thread.

    Parameters
    ----------
    model_path : path
        The ``.onnx`` file (first input float, batch dimension dynamic).
    name : str
        Model name in the URL.
    host, port : str, int
        Where to listen; port 0 picks a free port.
    threads : int
        ORT intra-op threads.

    Returns
    -------
    (http.server.ThreadingHTTPServer, str)
        The running server (call ``shutdown()`` then ``server_close()``) and the model URL.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    meta = {
        "name": name,
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": inp.name, "datatype": "FP32", "shape": [d if isinstance(d, int) else -1 for d in inp.shape]}],
        "outputs": [{"name": o.name, "datatype": "FP32", "shape": [d if isinstance(d, int) else -1 for d in o.shape]} for o in sess.get_outputs()],
    }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; with Nagle on, delayed ACKs add
        # ~40 ms to every keep-alive response.
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, code: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == f"/v2/models/{name}":
                self._send(200, meta)
            else:
                self._send(404, {"error": f"unknown path {self.path}"})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path != f"/v2/models/{name}/infer":
                self._send(404, {"error": f"unknown path {self.path}"})
                return
            try:
                req = json.loads(body)
                t = req["inputs"][0]
                x = np.asarray(t["data"], dtype=np.float32).reshape(t["shape"])
                outs = sess.run(None, {inp.name: x})
            except Exception as exc:  # noqa: BLE001 - report to the client, keep serving
                self._send(400, {"error": str(exc)})
                return
            self._send(
                200,
                {
                    "model_name": name,
                    "id": req.get("id", ""),
                    "outputs": [
                        {"name": o.name, "shape": list(y.shape), "datatype": "FP32", "data": y.ravel().tolist()}
                        for o, y in zip(sess.get_outputs(), outs)
                    ],
                },
            )

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="simbench-kserve", daemon=True).start()
    return server, f"http://{server.server_address[0]}:{server.server_address[1]}/v2/models/{name}"
