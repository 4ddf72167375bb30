"""Client-side request encoding of the KServe v2 HTTP SUT, before and after pre-encoding.

Before (simbench <= issue 8): every batch was JSON-encoded inside the timed section
(``json.dumps`` of ``x.ravel().tolist()``), so the encoding counted as SUT latency. After:
``HttpSUT.load_samples`` serialises each pooled input once; a batch's request is a list of
pre-encoded pieces (JSON or the binary tensor data extension) handed to the socket.

Prints, for a batch of ResNet-50 inputs (3x224x224 float32): the old per-batch encoding time,
the new per-batch request-building time (JSON and binary) and the body sizes.

    python benchmarks/bench_http_encoding.py [--batch 8] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from simbench.batching import DynamicBatching
from simbench.bench.http import HttpSUT


def _old_body(x: np.ndarray) -> bytes:
    """The request body exactly as the pre-issue-8 ``HttpSUT._run_batch`` built it."""
    return json.dumps(
        {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}]}
    ).encode()


def _offline_sut(batch: int, binary: bool, pool: np.ndarray) -> HttpSUT:
    """An HttpSUT with its pool encoded, no server needed (requests are captured, not sent)."""
    sut = HttpSUT("http://127.0.0.1:9/v2/models/resnet50", batching=DynamicBatching(max_batch=batch),
                  input_pool=pool.shape[0], binary=binary)
    sut._pool, sut.sample_shape, sut.input_name, sut.datatype = pool, pool.shape[1:], "input", "FP32"
    sut.binary = binary
    sut._encode_pool()
    sent: list[int] = []
    sut._post_infer = lambda chunks, headers: sent.append(sum(len(c) for c in chunks))  # type: ignore[method-assign]
    sut._sent = sent  # type: ignore[attr-defined]
    return sut


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    pool = np.random.default_rng(0).standard_normal((16, 3, 224, 224), dtype=np.float32)
    idx = np.arange(args.batch, dtype=np.int64)
    x = pool[idx % 16]
    old_s, old_size = [], 0
    for _ in range(args.repeat):
        t = time.perf_counter()
        old_size = len(_old_body(x))
        old_s.append(time.perf_counter() - t)
    print(f"batch {args.batch} x 3x224x224 FP32, median of {args.repeat}")
    print(f"  before (JSON encoded per batch, inside the timed section): {statistics.median(old_s) * 1e3:9.1f} ms, body {old_size / 1e6:.1f} MB")
    for binary in (False, True):
        t = time.perf_counter()
        sut = _offline_sut(args.batch, binary, pool)
        setup = time.perf_counter() - t
        times = []
        for _ in range(max(args.repeat, 50)):
            t = time.perf_counter()
            sut._run_batch(idx, 0)
            times.append(time.perf_counter() - t)
        name = "binary" if binary else "JSON  "
        print(f"  after, {name} (pieces pre-encoded in load_samples):       {statistics.median(times) * 1e3:9.3f} ms, body {sut._sent[-1] / 1e6:.1f} MB"
              f"  [one-off load_samples encoding of 16 inputs: {setup * 1e3:.0f} ms]")


if __name__ == "__main__":
    main()
