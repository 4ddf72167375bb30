"""ONNX models built locally with deterministic weights (no downloads).

=====================  ================================================================
``resnet50_v15``       ResNet-50 v1.5 graph, NCHW 3x224x224, dynamic batch (MLPerf's shape)
``small_cnn``          a four-layer CNN at 3x96x96, a few ms per image (engine comparisons)
``tiny_cnn``           a three-layer CNN at 3x32x32, fast enough for tests
``model_path``         build (once) and cache a built-in model, return its path
``BUILTIN_MODELS``     names accepted by ``model_path`` and ``--sut onnx:NAME``
``cache_dir``          where built models are cached
=====================  ================================================================

Weights are drawn from a seeded ``numpy.random.Generator`` (He-normal), so the same seed
gives the same file bit for bit. They are not trained: the graphs have the real topology,
operator mix, FLOPs and parameter count, which is what inference *timing* depends on, but
their outputs are meaningless. BatchNorm is folded into the convolutions' biases, as
inference deployments (and ONNX Runtime's own graph optimiser) do.

References
----------
He et al., "Deep Residual Learning for Image Recognition", CVPR 2016 (ResNet-50).
"v1.5" moves the stride-2 of each down-sampling bottleneck from the first 1x1 to the 3x3
convolution (NVIDIA DeepLearningExamples; the MLPerf Inference reference model).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from simbench.errors import SimbenchInputError, require_extra

__all__ = ["BUILTIN_MODELS", "cache_dir", "model_path", "resnet50_v15", "small_cnn", "tiny_cnn"]

_OPSET = 13
_FORMAT_TAG = "v1"  # bump when a builder changes, so stale cache files are not reused


def cache_dir() -> Path:
    """The model cache: ``$SIMBENCH_CACHE_DIR/models``, else ``$XDG_CACHE_HOME/simbench/models``,
    else ``~/.cache/simbench/models``."""
    root = os.environ.get("SIMBENCH_CACHE_DIR")
    if root:
        return Path(root) / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "simbench" / "models"


class _Graph:
    """Accumulates nodes and initializers; names are generated."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.nodes: list = []
        self.inits: list = []
        self._n = 0

    def _name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def const(self, array: np.ndarray, prefix: str) -> str:
        from onnx import numpy_helper

        name = self._name(prefix)
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        from onnx import helper

        out = self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x: str, c_in: int, c_out: int, k: int, stride: int = 1, gain: float = 1.0, relu: bool = True) -> str:
        std = gain * np.sqrt(2.0 / (c_in * k * k))
        w = (self.rng.standard_normal((c_out, c_in, k, k), dtype=np.float32) * np.float32(std))
        b = np.zeros(c_out, dtype=np.float32)
        pad = k // 2
        y = self.node(
            "Conv",
            [x, self.const(w, "w"), self.const(b, "b")],
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[pad, pad, pad, pad],
        )
        return self.node("Relu", [y]) if relu else y

    def dense(self, x: str, c_in: int, c_out: int) -> str:
        w = self.rng.standard_normal((c_in, c_out), dtype=np.float32) * np.float32(np.sqrt(1.0 / c_in))
        b = np.zeros(c_out, dtype=np.float32)
        return self.node("Gemm", [x, self.const(w, "fc_w"), self.const(b, "fc_b")])

    def model(self, x_name: str, sample_shape: tuple[int, ...], y: str, n_out: int, graph_name: str):
        from onnx import TensorProto, helper

        x = helper.make_tensor_value_info(x_name, TensorProto.FLOAT, ["N", *sample_shape])
        out = helper.make_tensor_value_info(y, TensorProto.FLOAT, ["N", n_out])
        graph = helper.make_graph(self.nodes, graph_name, [x], [out], initializer=self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)], producer_name="simbench")
        m.ir_version = 8
        return m


def resnet50_v15(seed: int = 0):
    """ResNet-50 v1.5 as an ``onnx.ModelProto`` with seeded He-normal weights.

    Parameters
    ----------
    seed : int
        Seed of the weight generator.

    Returns
    -------
    onnx.ModelProto
        Input ``input_tensor`` float32 ``[N, 3, 224, 224]`` (N dynamic); output
        ``softmax_tensor`` float32 ``[N, 1000]``. 25.5 M parameters, about 4.1 GMAC per image.

    Notes
    -----
    conv 7x7/2 (64) -> max-pool 3x3/2 -> bottleneck stages of [3, 4, 6, 3] blocks with widths
    64/128/256/512 (expansion 4), stride 2 on the 3x3 of each stage's first block (v1.5), a
    1x1 projection shortcut where the shape changes -> global average pool -> 1000-way FC ->
    softmax.
    """
    g = _Graph(np.random.default_rng(seed))
    x = g.conv("input_tensor", 3, 64, 7, stride=2)
    x = g.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    c_in = 64
    for stage, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
        for b in range(blocks):
            stride = 2 if (b == 0 and stage > 0) else 1
            c_out = width * 4
            y = g.conv(x, c_in, width, 1)
            y = g.conv(y, width, width, 3, stride=stride)
            y = g.conv(y, width, c_out, 1, gain=0.2, relu=False)  # small last gain keeps activations finite
            short = g.conv(x, c_in, c_out, 1, stride=stride, relu=False) if (b == 0) else x
            x = g.node("Relu", [g.node("Add", [y, short])])
            c_in = c_out
    x = g.node("GlobalAveragePool", [x])
    x = g.node("Flatten", [x], axis=1)
    x = g.dense(x, 2048, 1000)
    y = g.node("Softmax", [x], axis=1)
    g.nodes[-1].output[0] = "softmax_tensor"
    return g.model("input_tensor", (3, 224, 224), "softmax_tensor", 1000, "resnet50_v1.5")


def tiny_cnn(seed: int = 0):
    """A tiny CNN (3x32x32 -> 10 classes) for fast tests.

    Returns
    -------
    onnx.ModelProto
        Input ``input`` float32 ``[N, 3, 32, 32]``; output ``probs`` float32 ``[N, 10]``.
        conv3x3(16) -> conv3x3/2(32) -> conv3x3/2(32) -> global average pool -> FC(10) -> softmax.
    """
    g = _Graph(np.random.default_rng(seed))
    x = g.conv("input", 3, 16, 3)
    x = g.conv(x, 16, 32, 3, stride=2)
    x = g.conv(x, 32, 32, 3, stride=2)
    x = g.node("GlobalAveragePool", [x])
    x = g.node("Flatten", [x], axis=1)
    x = g.dense(x, 32, 10)
    g.node("Softmax", [x], axis=1)
    g.nodes[-1].output[0] = "probs"
    return g.model("input", (3, 32, 32), "probs", 10, "tiny_cnn")


def small_cnn(seed: int = 0):
    """A small CNN (3x96x96 -> 100 classes, ~0.11 GMAC/image): a few ms per image on a CPU core.

    Sized so that harness overhead (tens of microseconds) is a small fraction of service
    time, as it is for real models, while runs stay short; used for engine-agreement checks.

    Returns
    -------
    onnx.ModelProto
        Input ``input`` float32 ``[N, 3, 96, 96]``; output ``probs`` float32 ``[N, 100]``.
        conv3x3(32) -> conv3x3/2(64) -> conv3x3/2(128) -> conv3x3/2(128) -> global average
        pool -> FC(100) -> softmax.
    """
    g = _Graph(np.random.default_rng(seed))
    x = g.conv("input", 3, 32, 3)
    x = g.conv(x, 32, 64, 3, stride=2)
    x = g.conv(x, 64, 128, 3, stride=2)
    x = g.conv(x, 128, 128, 3, stride=2)
    x = g.node("GlobalAveragePool", [x])
    x = g.node("Flatten", [x], axis=1)
    x = g.dense(x, 128, 100)
    g.node("Softmax", [x], axis=1)
    g.nodes[-1].output[0] = "probs"
    return g.model("input", (3, 96, 96), "probs", 100, "small_cnn")


BUILTIN_MODELS: dict[str, Callable] = {"resnet50": resnet50_v15, "small": small_cnn, "tiny": tiny_cnn}


def model_path(name: str, *, seed: int = 0, directory: str | Path | None = None) -> Path:
    """Path of a built-in model, building and caching it on first use.

    Parameters
    ----------
    name : {'resnet50', 'small', 'tiny'}
        Built-in model name.
    seed : int
        Weight seed (part of the file name).
    directory : path, optional
        Cache folder [default: ``cache_dir()``].

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        An unknown name.
    """
    if name not in BUILTIN_MODELS:
        raise SimbenchInputError(f"model: expected one of {sorted(BUILTIN_MODELS)}, got {name!r}")
    d = Path(directory) if directory is not None else cache_dir()
    p = d / f"{name}_seed{seed}_{_FORMAT_TAG}.onnx"
    if p.is_file():
        return p
    onnx = require_extra("onnx", "onnx", f"building the {name} model")

    d.mkdir(parents=True, exist_ok=True)
    model = BUILTIN_MODELS[name](seed)
    onnx.checker.check_model(model)
    tmp = p.with_suffix(f".tmp{os.getpid()}")
    onnx.save_model(model, str(tmp))
    os.replace(tmp, p)  # atomic: concurrent builders never see a half-written file
    return p
