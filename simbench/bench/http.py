"""An HTTP inference endpoint as a SUT (KServe v2 / Open Inference Protocol).

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

Request bodies are encoded before timing starts (``load_samples``), so SUT latency holds no
client-side encoding: each pooled input is serialised once, and a batch's body is the list
of its samples' pre-encoded pieces, handed to the socket without copying. When the server
lists the ``binary_tensor_data`` extension in its metadata (``GET /v2``; Triton and
``serve_onnx`` do), tensors travel as raw little-endian bytes after a small JSON header
(``Inference-Header-Content-Length``; Triton's binary tensor data extension, also asked of
the outputs); otherwise as the standard JSON ``data`` list. For a batch of 8 ResNet-50 inputs
the binary body is 4.8 MB and the JSON one about 25 MB (see ``docs/benchmark.md``).
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
from simbench.errors import SimbenchInputError

__all__ = ["HttpSUT", "serve_onnx"]

_BATCH_MARK = 918273645546372819  # placeholders in the request-header template (never real sizes)
_SIZE_MARK = 192837465564738291
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
    binary : bool, optional
        Send tensors with the binary tensor data extension (True) or as JSON (False)
        [default: binary when the server's ``GET /v2`` metadata lists ``binary_tensor_data``].

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
        binary: bool | None = None,
    ) -> None:
        super().__init__(workers=workers, batching=batching)
        u = urllib.parse.urlsplit(url)
        parts = [p for p in u.path.split("/") if p]
        if u.scheme != "http" or len(parts) != 3 or parts[:2] != ["v2", "models"]:
            raise SimbenchInputError(f"--sut: expected http://HOST:PORT/v2/models/NAME, got {url!r}")
        self.url = url
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.model = parts[2]
        self.name = f"http:{self.model}"
        self.input_pool, self.seed, self.timeout_s = input_pool, seed, timeout_s
        self._local = threading.local()
        self._pool: np.ndarray | None = None
        self.binary_requested = binary
        self.binary = False
        self._rows: list[bytes] = []  # pre-encoded pool inputs, one per pooled tensor
        self._heads: dict[int, tuple[bytes, bytes]] = {}  # batch size -> (body head, tail)

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

    def _fetch_metadata(self) -> dict[str, Any]:
        """``GET /v2/models/NAME``; SimbenchInputError naming the URL and what was wrong.

        Runs before the load generator starts, so an endpoint that cannot be reached or
        answers something other than a KServe v2 metadata object is a clear input error.
        """
        path = f"/v2/models/{self.model}"
        get = f"GET {self.url}"
        try:
            c = self._conn()
            c.request("GET", path)
            r = c.getresponse()
            data = r.read()
            ctype = r.getheader("Content-Type") or "no Content-Type"
        except socket.timeout:
            self._local.conn = None
            raise SimbenchInputError(f"{self.url}: no answer within {self.timeout_s:g} s") from None
        except (OSError, http.client.HTTPException) as exc:
            self._local.conn = None
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise SimbenchInputError(f"{self.url}: cannot connect ({reason})") from None
        if r.status != 200:
            raise SimbenchInputError(f"{get}: HTTP {r.status} {r.reason} ({data[:80]!r})")
        try:
            meta = json.loads(data)
        except (ValueError, RecursionError):
            raise SimbenchInputError(f"{get}: answer is not JSON ({ctype}: {data[:40]!r})") from None
        if not isinstance(meta, dict):
            raise SimbenchInputError(f"{self.url}: model metadata is not a JSON object (got a JSON {type(meta).__name__})")
        inputs = meta.get("inputs")
        if not inputs or not isinstance(inputs, list):
            raise SimbenchInputError(f"{self.url}: model metadata lists no inputs")
        inp = inputs[0]
        if not isinstance(inp, dict) or not isinstance(inp.get("name"), str) or not isinstance(inp.get("datatype"), str):
            raise SimbenchInputError(f"{self.url}: model metadata inputs[0]: expected an object with name, datatype and shape")
        shape = inp.get("shape")
        if not isinstance(shape, list) or not shape or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
            raise SimbenchInputError(f"{self.url}: model metadata inputs[0].shape: expected a list of integers, got {shape!r:.60}")
        return meta

    def load_samples(self, indices) -> None:
        if self._pool is not None:
            return
        inp = self._fetch_metadata()["inputs"][0]
        shape = [int(d) for d in inp["shape"]][1:]
        if any(d < 1 for d in shape):
            raise SimbenchInputError(f"{self.url}: input {inp['name']!r} has a dynamic non-batch dimension")
        self.input_name, self.datatype = inp["name"], inp["datatype"]
        dtype = _V2_TO_NP.get(self.datatype)
        if dtype is None:
            raise SimbenchInputError(f"{self.url}: input datatype {self.datatype} is not supported")
        pool_bytes = self.input_pool * int(np.prod(shape, dtype=object)) * 4
        if pool_bytes > 1 << 30:
            raise SimbenchInputError(
                f"{self.url}: input {inp['name']!r} shape {shape}: {self.input_pool} synthetic inputs would"
                f" need {pool_bytes / 2**30:,.1f} GiB (at most 1 GiB)"
            )
        self.sample_shape = tuple(shape)
        rng = np.random.default_rng(self.seed)
        self._pool = rng.standard_normal((self.input_pool, *shape), dtype=np.float32).astype(dtype)
        self.binary = self._server_has_binary() if self.binary_requested is None else bool(self.binary_requested)
        self._encode_pool()

    def _server_has_binary(self) -> bool:
        """Whether the server's metadata (``GET /v2``) lists the binary tensor data extension."""
        try:
            meta = self._request("GET", "/v2")
        except (OSError, RuntimeError, ValueError, http.client.HTTPException):
            return False  # a plain KServe v2 server: JSON tensors
        extensions = meta.get("extensions") if isinstance(meta, dict) else None
        return isinstance(extensions, list) and "binary_tensor_data" in extensions

    def _encode_pool(self) -> None:
        """Serialise every pooled input once, and each batch size's body head and tail.

        JSON: a row is the sample's flattened values as JSON numbers (a leading comma added
        for every row but a batch's first is a second copy, so no join is needed); binary: a
        row is the sample's raw little-endian bytes, and the head is the JSON inference
        header whose length goes in ``Inference-Header-Content-Length``.
        """
        pool = self._pool
        shape = list(self.sample_shape)
        if self.binary:
            le = pool.astype(pool.dtype.newbyteorder("<"), copy=False)  # type: ignore[union-attr]
            self._rows = [np.ascontiguousarray(le[i]).tobytes() for i in range(self.input_pool)]
        else:
            # json.dumps of Python floats gives the shortest repr that round-trips exactly.
            self._rows = [json.dumps(pool[i].ravel().tolist())[1:-1].encode() for i in range(self.input_pool)]  # type: ignore[index]
            self._rows_comma = [b"," + r for r in self._rows]
        # One header template, split where the batch-dependent numbers go, so any batch size's
        # head is a few byte concatenations (never a JSON encoding) and nothing is built per
        # possible batch size up front.
        tensor = {"name": self.input_name, "shape": [_BATCH_MARK, *shape], "datatype": self.datatype}
        if self.binary:
            tensor["parameters"] = {"binary_data_size": _SIZE_MARK}
            text = json.dumps({"inputs": [tensor], "parameters": {"binary_data_output": True}})
        else:
            text = json.dumps({"inputs": [{**tensor, "data": []}]})
            cut = text.index('"data": [') + len('"data": [')
            text, self._tail = text[:cut], text[cut:].encode()
        before, after = text.split(str(_BATCH_MARK))
        self._head_parts = (before.encode(), *(p.encode() for p in after.split(str(_SIZE_MARK))))
        self._heads = {}
        for b in range(1, min(self.batching.max_batch, 64) + 1):
            self._head(b)

    def _head(self, batch: int) -> tuple[bytes, bytes]:
        """(body head, body tail) for a batch of ``batch`` samples (cached)."""
        h = self._heads.get(batch)
        if h is None:
            parts = self._head_parts
            if self.binary:
                head = parts[0] + str(batch).encode() + parts[1] + str(batch * len(self._rows[0])).encode() + parts[2]
                h = (head, b"")
            else:
                h = (parts[0] + str(batch).encode() + parts[1], self._tail)
            self._heads[batch] = h
        return h

    def start(self, sink) -> None:
        self.load_samples(())
        super().start(sink)

    def _run_batch(self, indices: np.ndarray, worker: int) -> None:
        rows = (indices % self.input_pool).tolist()
        head, tail = self._head(len(rows))
        if self.binary:
            chunks = [head, *(self._rows[i] for i in rows)]
            headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(head))}
        else:
            chunks = [head, self._rows[rows[0]], *(self._rows_comma[i] for i in rows[1:]), tail]
            headers = {"Content-Type": "application/json"}
        self._post_infer(chunks, headers)

    def _post_infer(self, chunks: list[bytes], headers: dict[str, str]) -> None:
        """POST one pre-encoded inference request (``chunks`` are sent in order, uncopied).

        The answer is read in full (the SUT's output has arrived only then) but not decoded:
        decoding the output tensors is client work, not the SUT's. A 200 answer must carry
        ``"outputs"`` in its JSON header (the part before any binary output data)."""
        path = f"/v2/models/{self.model}/infer"
        c = self._conn()
        headers = {**headers, "Content-Length": str(sum(len(x) for x in chunks))}
        try:
            c.request("POST", path, body=chunks, headers=headers)
            r = c.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException):
            self._local.conn = None
            c.close()
            raise
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status} from POST {path}: {data[:200]!r}")
        head_len = r.getheader("Inference-Header-Content-Length")
        end = int(head_len) if head_len else len(data)
        if data.find(b'"outputs"', 0, end) < 0:
            raise RuntimeError(f"HTTP 200 from POST {path} without \"outputs\": {data[:min(end, 200)]!r}")

    def describe(self) -> dict[str, Any]:
        return {"kind": "http-kserve-v2", **super().describe(), "url": self.url,
                "tensor_encoding": "binary" if self.binary else "json"}


def serve_onnx(
    model_path: str | Path,
    *,
    name: str = "model",
    host: str = "127.0.0.1",
    port: int = 0,
    threads: int = 1,
    binary: bool = True,
    on_inputs=None,
):
    """Serve an ONNX model over KServe v2 (JSON, and binary tensors) from a background thread.

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
    binary : bool
        Offer the binary tensor data extension (listed by ``GET /v2``, accepted on requests
        with ``Inference-Header-Content-Length``, used for outputs a request asks in binary).
    on_inputs : callable, optional
        Called with each decoded input array (shape ``[batch, ...]``) before inference.

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

    server_meta = {"name": "simbench-kserve", "version": "2", "extensions": ["binary_tensor_data"] if binary else []}

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
            elif self.path.rstrip("/") == "/v2":
                self._send(200, server_meta)
            else:
                self._send(404, {"error": f"unknown path {self.path}"})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path != f"/v2/models/{name}/infer":
                self._send(404, {"error": f"unknown path {self.path}"})
                return
            try:
                req, x, binary_out = _decode_request(body, self.headers.get("Inference-Header-Content-Length"), binary)
                if on_inputs is not None:
                    on_inputs(x)
                outs = sess.run(None, {inp.name: x})
            except Exception as exc:  # noqa: BLE001 - report to the client, keep serving
                self._send(400, {"error": str(exc)})
                return
            outputs = []
            for o, y in zip(sess.get_outputs(), outs):
                t = {"name": o.name, "shape": list(y.shape), "datatype": "FP32"}
                if binary_out:
                    t["parameters"] = {"binary_data_size": int(y.astype("<f4").nbytes)}
                else:
                    t["data"] = y.ravel().tolist()
                outputs.append(t)
            payload = {"model_name": name, "id": req.get("id", ""), "outputs": outputs}
            if not binary_out:
                self._send(200, payload)
                return
            head = json.dumps(payload).encode()
            data = head + b"".join(np.ascontiguousarray(y, dtype="<f4").tobytes() for y in outs)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Inference-Header-Content-Length", str(len(head)))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="simbench-kserve", daemon=True).start()
    return server, f"http://{server.server_address[0]}:{server.server_address[1]}/v2/models/{name}"


def _decode_request(body: bytes, header_length: str | None, binary_ok: bool) -> tuple[dict[str, Any], np.ndarray, bool]:
    """A KServe v2 request body -> (JSON header, first input as an array, binary outputs?).

    With ``Inference-Header-Content-Length`` the body is a JSON header of that many bytes
    followed by each input's raw little-endian bytes (``parameters.binary_data_size`` of
    them, in input order): Triton's binary tensor data extension. Without it, the body is
    JSON and the tensor is its ``data`` list.
    """
    if header_length is not None:
        if not binary_ok:
            raise SimbenchInputError("binary tensor data is not enabled on this server")
        n = int(header_length)
        req = json.loads(body[:n])
        t = req["inputs"][0]
        size = int(t["parameters"]["binary_data_size"])
        dtype = _V2_TO_NP[t["datatype"]].newbyteorder("<")
        x = np.frombuffer(body, dtype=dtype, count=size // dtype.itemsize, offset=n).reshape(t["shape"]).astype(np.float32)
    else:
        req = json.loads(body)
        t = req["inputs"][0]
        x = np.asarray(t["data"], dtype=np.float32).reshape(t["shape"])
    params = req.get("parameters") or {}
    binary_out = binary_ok and (
        bool(params.get("binary_data_output"))
        or any((o.get("parameters") or {}).get("binary_data") for o in req.get("outputs") or [])
    )
    return req, x, binary_out
