"""simbench.profiles.measure and .roofline: kernels compute what they claim, the roofline fit
recovers known rates, graph costs match hand counts, predictions match the closed form, and
``simbench profile build`` writes a profile that loads and simulates."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from simbench.profiles import _kernels as K
from simbench.profiles.measure import KernelSweep, KernelTiming, fit_roofline
from simbench.profiles.roofline import RooflineRates, graph_costs, predict_latency


def test_gemm_kernels_equal_numpy():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((37, 129), dtype=np.float32)
    b = rng.standard_normal((129, 300), dtype=np.float32)
    c = np.empty((37, 300), np.float32)
    K.gemm_f32(a, b, c)
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)
    K.gemm_blas_f32(a, b, c)
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)
    ai = rng.integers(-128, 128, (33, 70), dtype=np.int8)
    bi = rng.integers(-128, 128, (70, 41), dtype=np.int8)
    ci = np.empty((33, 41), np.int32)
    K.gemm_i8(ai, bi, ci)
    assert np.array_equal(ci, ai.astype(np.int32) @ bi.astype(np.int32))


@pytest.mark.parametrize("k,stride,pad", [(3, 1, 1), (3, 2, 1), (7, 2, 3), (1, 1, 0)])
def test_im2col_convolution_equals_direct_sum(k, stride, pad):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 3, 11, 13), dtype=np.float32)
    w = rng.standard_normal((4, 3, k, k), dtype=np.float32)
    xp = np.pad(x[0].astype(np.float64), ((0, 0), (pad, pad), (pad, pad)))
    oh, ow = (11 + 2 * pad - k) // stride + 1, (13 + 2 * pad - k) // stride + 1
    ref = np.zeros((4, oh, ow))
    for co in range(4):
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, i * stride:i * stride + k, j * stride:j * stride + k]
                ref[co, i, j] = np.sum(patch * w[co])
    cols = np.empty((3 * k * k, oh * ow), np.float32)
    y = np.empty((4, oh * ow), np.float32)
    K.conv2d_im2col(x, w.reshape(4, -1), cols, y, k, k, stride, pad)
    np.testing.assert_allclose(y.reshape(4, oh, ow), ref, rtol=1e-4, atol=1e-4)


def test_stream_kernels():
    a = np.arange(10.0)
    c = np.empty(10)
    K.stream_copy(a, c)
    assert np.array_equal(c, a)
    out = np.empty(10)
    K.stream_triad(out, a, c, 3.0)
    assert np.array_equal(out, a + 3.0 * c)


def _synthetic_sweep(rates: dict, t0_ns: float) -> KernelSweep:
    """Times that follow time = t0 + work / rate exactly (+ one outlier per size)."""
    sw = KernelSweep(threads=1, repeats=4, warmup=0)
    for kernel, (rate, work_kind) in rates.items():
        for n in (100, 200, 400, 800):
            ops = 2.0 * n**3 if work_kind == "ops" else 0.0
            nbytes = 24.0 * n * n
            work = ops if work_kind == "ops" else nbytes
            t = t0_ns + work / rate * 1e9
            times = (int(t), int(t), int(t), int(t * 3))  # one repeat slowed by a neighbour
            sw.timings.append(KernelTiming(kernel, f"n={n}", ops, nbytes, times))
    sw.timings.append(KernelTiming("dispatch", "1", 0.0, 0.0, (900, 1000, 1100, 50000)))
    return sw


def test_roofline_fit_recovers_known_rates_despite_outliers():
    rates = {"gemm_f32": (20e9, "ops"), "gemm_blas_f32": (80e9, "ops"), "gemm_i8": (40e9, "ops"),
             "stream_triad": (10e9, "bytes"), "stream_copy": (12e9, "bytes")}
    fit = fit_roofline(_synthetic_sweep(rates, 5000.0))
    assert fit.fp32_kernel == "gemm_blas_f32"
    assert fit.fp32_flops_per_s == pytest.approx(80e9, rel=1e-3)
    assert fit.rates["gemm_f32"] == pytest.approx(20e9, rel=1e-3)
    assert fit.int8_ops_per_s == pytest.approx(40e9, rel=1e-3)
    assert fit.memory_bytes_per_s == pytest.approx(10e9, rel=1e-3)
    assert fit.intercepts_ns["gemm_f32"] == pytest.approx(5000.0, rel=0.05)
    assert fit.dispatch_overhead_ns == 1050.0  # median of the four no-op times


def _one_gemm_model(m_in: int, n_out: int):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((m_in, n_out), np.float32), "w")
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    relu = helper.make_node("Relu", ["y"], ["z"], name="relu")
    g = helper.make_graph([node, relu], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", m_in])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", n_out])], initializer=[w])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model


def test_graph_costs_and_prediction_closed_form():
    k, n = 256, 512
    costs = graph_costs(_one_gemm_model(k, n))
    (node,) = costs.nodes  # the Relu is fused into the MatMul
    for b in (1, 3, 64):
        assert node.ops(b) == 2 * b * k * n + b * n  # MatMul + fused Relu, one op per element
        assert node.bytes(b) == 4 * (b * k + k * n + b * n)  # x, w read; z written (y never)
    assert costs.parameters == k * n
    rates = RooflineRates(1e9, 1e9, 2e9, 500.0, 4.0, {})
    pred = predict_latency(costs, rates, (1, 64))
    for b, t in zip(pred.batches, pred.latency_ns):
        expect = max((2 * b * k * n + b * n) / 1e9, 4 * (b * k + k * n + b * n) / 2e9) * 1e9 + 500.0
        assert t == pytest.approx(expect)
    assert pred.compute_bound_share[0] == 0.0  # batch 1 is memory-bound (weights)
    assert pred.compute_bound_share[1] > 0.99  # batch 64 is compute-bound


def test_resnet50_graph_matches_its_published_size():
    from simbench.bench.models import model_path

    costs = graph_costs(model_path("resnet50"))
    # 25.5 M parameters (He et al. 2016: 25.6 M with BN; BN is folded here) and ~4.1 GMAC
    assert costs.parameters == 25_530_472
    assert 8.1e9 < costs.total_ops(1) < 8.3e9
    assert costs.total_ops(4) == pytest.approx(4 * costs.total_ops(1), rel=1e-9)


def test_tiny_cnn_ops_by_hand():
    from simbench.bench.models import tiny_cnn

    costs = graph_costs(tiny_cnn())
    conv = [(3, 16, 32), (16, 32, 16), (32, 32, 8)]  # (c_in, c_out, output side)
    expect = sum(2 * co * s * s * ci * 9 + co * s * s + co * s * s for ci, co, s in conv)  # + bias + relu
    expect += 32 * 8 * 8  # global average pool reads every element
    expect += 2 * 32 * 10 + 10  # Gemm + bias
    expect += 5 * 10  # softmax
    assert costs.total_ops(1) == expect


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "simbench.cli.main", *args], capture_output=True, text=True, cwd=cwd)


def test_profile_build_writes_a_profile_that_loads_and_simulates(tmp_path):
    r = _cli("profile", "build", "--out", "local.yaml", "--quick", "--models", "tiny", "--threads", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    from simbench.profiles import load_profile

    prof = load_profile(tmp_path / "local.yaml")
    assert prof.roofline is not None and prof.roofline.fp32_flops_per_s.value > 0
    assert {m.kernel for m in prof.roofline.measurements} >= {"gemm_f32", "gemm_i8", "conv_f32", "stream_triad", "dispatch"}
    assert prof.specs["threads_used"].value == 1
    assert list(prof.models) == ["tiny"] and 0 <= prof.models["tiny"].compute_bound_share <= 1
    r = _cli("simulate", "--profile", "local.yaml", "--scenario", "SingleStream", "--min-duration-s", "1",
             "--min-query-count", "10", "--out", "sim", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "SingleStream" in r.stdout


@pytest.mark.parametrize("args,msg", [
    (["profile", "build", "--out", "x.yaml", "--models", "vgg"], "--models: expected names from"),
    (["profile", "predict", "--profile", "a100", "--onnx", "onnx:tiny", "--precision", "fp8"], "--precision: expected one of"),
])
def test_bad_flags_are_one_line_errors(tmp_path, args, msg):
    r = _cli(*args, cwd=tmp_path)
    assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "x.yaml").exists()


def test_bad_inputs_are_named_by_the_library(tmp_path):
    from simbench.profiles.measure import profile_this_machine
    from simbench.profiles.roofline import rates_for
    from simbench.profiles import load_profile

    with pytest.raises(ValueError, match="--models m: .*missing.onnx: ONNX file not found"):
        profile_this_machine({"m": tmp_path / "missing.onnx"})
    with pytest.raises(ValueError, match="--onnx .*missing.onnx: file not found"):
        graph_costs(tmp_path / "missing.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.onnx: not an ONNX model"):
        graph_costs(tmp_path / "bad.onnx")
    with pytest.raises(ValueError, match="batch sizes must be >= 1"):
        predict_latency(graph_costs(_one_gemm_model(4, 4)), RooflineRates(1, 1, 1, 0, 4, {}), (0,))
    with pytest.raises(ValueError, match="--precision: expected one of"):
        rates_for(load_profile("a100"), "fp8")


def test_predict_a100_int8_json(tmp_path):
    import json

    r = _cli("profile", "predict", "--profile", "a100", "--onnx", "onnx:tiny", "--batch", "1,64", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["precision"] == "int8" and d["rates"]["compute_ops_per_s"] == 624e12
    assert d["rates"]["memory_bytes_per_s"] == 2039e9
    assert [row["batch"] for row in d["rows"]] == [1, 64]
