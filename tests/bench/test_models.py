"""ONNX models built locally: deterministic, right shapes, ResNet-50 v1.5 topology."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from simbench.bench.models import model_path, resnet50_v15, tiny_cnn  # noqa: E402


def test_tiny_model_same_seed_same_bytes(tmp_path):
    a = model_path("tiny", directory=tmp_path / "a")
    b = model_path("tiny", directory=tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()
    assert model_path("tiny", directory=tmp_path / "a") == a  # cached, not rebuilt


def test_tiny_model_different_seed_different_weights():
    w0 = tiny_cnn(0).graph.initializer[0].raw_data
    w1 = tiny_cnn(1).graph.initializer[0].raw_data
    assert w0 != w1


@pytest.mark.parametrize("batch", [1, 3, 8])
def test_tiny_model_runs_with_dynamic_batch(tiny_model, batch):
    s = ort.InferenceSession(str(tiny_model), providers=["CPUExecutionProvider"])
    inp = s.get_inputs()[0]
    assert inp.shape[1:] == [3, 32, 32] and not isinstance(inp.shape[0], int)
    (y,) = s.run(None, {inp.name: np.ones((batch, 3, 32, 32), np.float32)})
    assert y.shape == (batch, 10)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)


def test_resnet50_topology():
    m = resnet50_v15(0)
    onnx.checker.check_model(m)
    ops = [n.op_type for n in m.graph.node]
    # 1 stem + 16 bottlenecks x 3 + 4 projection shortcuts = 53 convolutions, 1 FC.
    assert ops.count("Conv") == 53
    assert ops.count("Gemm") == 1 and ops.count("MaxPool") == 1
    params = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
    assert 25_400_000 < params < 25_700_000  # ResNet-50: 25.5 M (BatchNorm folded)
    x = m.graph.input[0].type.tensor_type.shape.dim
    assert x[0].dim_param == "N" and [d.dim_value for d in x[1:]] == [3, 224, 224]
    # v1.5: the stride-2 of a down-sampling block sits on the 3x3 convolution.
    def attr(node, name):
        return next(list(a.ints) for a in node.attribute if a.name == name)

    strided = [n for n in m.graph.node if n.op_type == "Conv" and attr(n, "strides") == [2, 2]]
    kernels = sorted(tuple(attr(n, "kernel_shape")) for n in strided)
    assert kernels == [(1, 1)] * 3 + [(3, 3)] * 3 + [(7, 7)]


def test_unknown_model_name():
    with pytest.raises(ValueError, match="model"):
        model_path("vgg")
