"""Roofline prediction of an ONNX model's ``latency(batch)`` on any profile.

=========================  ============================================================
``NodeCost``               one (fused) graph node: FLOPs and bytes as a function of batch
``graph_costs``            per-node costs of an ONNX model, by ONNX shape inference
``RooflineRates``          the rates a prediction uses, with their sources
``rates_for``              a profile's measured roofline, or its datasheet specs (GPUs)
``predict_latency``        predicted latency(batch) and compute-bound share
``predicted_model``        a ``ModelProfile`` whose latency table is the prediction
=========================  ============================================================

Method. The graph's input batch dimension is fixed to 1 and to 2 and ONNX shape inference
(``onnx.shape_inference.infer_shapes``) gives every tensor's shape; each node's operation
count and bytes follow from the shapes (``_node_cost``). For these CNNs every activation
is proportional to the batch, so ``cost(b) = cost(1) + (cost(2) - cost(1)) * (b - 1)``
exactly (weights are the constant part); the module checks it at batch 3 for the graph.
A node takes ``max(ops / rate, bytes / bandwidth) + overhead`` (roofline, Williams et al.
2009); the model takes the sum over nodes. Elementwise nodes that follow a Conv/Gemm/MatMul
(``Relu``, ``Add``, ...) are fused into it, as ONNX Runtime's and TensorRT's graph
optimisers do: they add their own operations and their extra inputs, but no write and
re-read of the producer's output and no dispatch. The compute-bound share is
``sum(time of nodes with ops / rate > bytes / bandwidth) / total``: the part of the latency
that scales with clock.

Operation counts (multiply-add = 2 operations): Conv ``2 N C_out H_out W_out C_in/g k_h
k_w``; Gemm/MatMul ``2 M N K``; pools ``N C H_out W_out k_h k_w``; global pools and
elementwise ops one per element; Softmax 5 per element. Bytes: every input read once
(initializers are weights, at ``weight_bytes_per_element``), every output written once,
activations at ``activation_bytes_per_element``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simbench.errors import SimbenchInputError

__all__ = [
    "NodeCost",
    "GraphCosts",
    "RooflineRates",
    "graph_costs",
    "rates_for",
    "predict_latency",
    "Prediction",
    "predicted_model",
]

_ELEMENTWISE = {"Relu", "Add", "Mul", "Sub", "Div", "Clip", "Sigmoid", "Tanh", "LeakyRelu",
                "HardSigmoid", "HardSwish", "Erf", "Gelu", "BatchNormalization"}
_COMPUTE = {"Conv", "Gemm", "MatMul", "ConvTranspose"}
_VIEW = {"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Shape", "Constant"}


@dataclass(frozen=True)
class NodeCost:
    """One node (after fusion) with cost linear in batch: ``x(b) = x1 + dx * (b - 1)``."""

    name: str
    op_type: str
    ops_1: float
    ops_per_sample: float
    bytes_1: float
    bytes_per_sample: float
    dispatches: int = 1

    def ops(self, batch: int) -> float:
        return self.ops_1 + self.ops_per_sample * (batch - 1)

    def bytes(self, batch: int) -> float:
        return self.bytes_1 + self.bytes_per_sample * (batch - 1)


@dataclass(frozen=True)
class GraphCosts:
    """Per-node costs of one model; ``total_ops(1)`` is its operation count per image."""

    model: str
    nodes: tuple[NodeCost, ...]
    parameters: int

    def total_ops(self, batch: int) -> float:
        return float(sum(n.ops(batch) for n in self.nodes))

    def total_bytes(self, batch: int) -> float:
        return float(sum(n.bytes(batch) for n in self.nodes))


def _shapes(model, batch: int):
    import onnx
    from onnx import shape_inference

    m = onnx.ModelProto()
    m.CopyFrom(model)
    for init in m.graph.initializer:  # shape inference needs the dims only; keep the copy small
        for f in ("raw_data", "float_data", "int32_data", "int64_data", "double_data"):
            init.ClearField(f)
    init_names = {i.name for i in m.graph.initializer}
    for inp in m.graph.input:
        if inp.name in init_names:
            continue
        dims = inp.type.tensor_type.shape.dim
        if len(dims) and not dims[0].dim_value:
            dims[0].ClearField("dim_param")
            dims[0].dim_value = batch
    for out in m.graph.output:  # let inference fill the outputs (their batch is symbolic)
        out.type.tensor_type.ClearField("shape")
    inferred = shape_inference.infer_shapes(m, strict_mode=True)
    shapes: dict[str, tuple[int, ...]] = {}
    elem: dict[str, int] = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        t = vi.type.tensor_type
        if not t.HasField("shape"):
            continue
        dims = tuple(d.dim_value for d in t.shape.dim)
        if any(d <= 0 for d in dims):
            continue
        shapes[vi.name] = dims
        elem[vi.name] = t.elem_type
    for init in inferred.graph.initializer:
        shapes[init.name] = tuple(init.dims)
    return inferred, shapes, init_names


def _numel(shape) -> float:
    return float(np.prod(shape)) if shape else 1.0


def _attr(node, name, default):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _node_cost(node, shapes, init_names, w_bytes: float, a_bytes: float) -> tuple[float, float]:
    """(operations, bytes) of one node at the shapes given (module docstring)."""
    op = node.op_type
    ins = [i for i in node.input if i]
    outs = [o for o in node.output if o]
    if op in _VIEW:
        return 0.0, 0.0
    for name in ins + outs:
        if name not in shapes:
            raise SimbenchInputError(f"node {node.name or op!r} ({op}): shape inference gave no shape for {name!r}")
    nbytes = sum(_numel(shapes[i]) * (w_bytes if i in init_names else a_bytes) for i in ins)
    nbytes += sum(_numel(shapes[o]) * a_bytes for o in outs)
    out = shapes[outs[0]]
    if op in ("Conv", "ConvTranspose"):
        w = shapes[ins[1]]
        group = _attr(node, "group", 1)
        ops = 2.0 * _numel(out) * (w[1] if op == "Conv" else w[0] / group) * _numel(w[2:])
        if len(ins) > 2:
            ops += _numel(out)
    elif op in ("Gemm", "MatMul"):
        a = shapes[ins[0]]
        k = a[0] if (op == "Gemm" and _attr(node, "transA", 0)) else a[-1]
        ops = 2.0 * _numel(out) * k + (_numel(out) if len(ins) > 2 else 0.0)
    elif op in ("MaxPool", "AveragePool"):
        ops = _numel(out) * _numel(_attr(node, "kernel_shape", [1]))
    elif op in ("GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceSum"):
        ops = _numel(shapes[ins[0]])
    elif op == "Softmax":
        ops = 5.0 * _numel(out)
    else:
        ops = _numel(out)
    return ops, nbytes


def _costs_at(model, batch: int, w_bytes: float, a_bytes: float, fuse: bool):
    inferred, shapes, init_names = _shapes(model, batch)
    nodes = list(inferred.graph.node)
    consumers: dict[str, int] = {}
    for n in nodes:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    out: list[list] = []  # [name, op, ops, bytes, dispatches]
    producer_of: dict[str, int] = {}  # tensor -> index in out of the (fused) node writing it
    for n in nodes:
        ops, nbytes = _node_cost(n, shapes, init_names, w_bytes, a_bytes)
        target = None
        if fuse and n.op_type in _ELEMENTWISE:
            for i in n.input:
                j = producer_of.get(i)
                if j is not None and out[j][1] in _COMPUTE and consumers.get(i, 0) == 1:
                    target = (j, i)
                    break
        if target is not None:
            j, via = target
            # the fused producer never writes `via` and this node never reads it back
            saved = 2 * _numel(shapes[via]) * a_bytes
            out[j][2] += ops
            out[j][3] += nbytes - saved
            for o in n.output:
                producer_of[o] = j
            continue
        out.append([n.name or n.op_type, n.op_type, ops, nbytes, 0 if n.op_type in _VIEW else 1])
        for o in n.output:
            producer_of[o] = len(out) - 1
    params = int(sum(_numel(i.dims) for i in inferred.graph.initializer))
    return out, params


def graph_costs(
    model: "str | Path | object",
    *,
    weight_bytes_per_element: float = 4.0,
    activation_bytes_per_element: float = 4.0,
    fuse: bool = True,
    where: str | None = None,
) -> GraphCosts:
    """Per-node operations and bytes of an ONNX model as linear functions of batch size.

    Parameters
    ----------
    model : path or onnx.ModelProto
        The model; its first graph input's leading dimension is the batch (dynamic or 1).
    weight_bytes_per_element, activation_bytes_per_element : float
        Storage per element (4 = fp32, 2 = fp16, 1 = int8) [default: 4, 4].
    fuse : bool
        Fuse elementwise nodes into their Conv/Gemm/MatMul producer (module docstring).
    where : str, optional
        How the file's error messages name it [default: ``--onnx PATH``; ``profile build``
        passes ``--models NAME=PATH``].

    Returns
    -------
    GraphCosts

    Raises
    ------
    SimbenchInputError
        The file is missing, a folder, empty or not an ONNX model, has no graph nodes, shape
        inference leaves a tensor without a concrete shape, or the costs are not linear in
        batch (the message names the node).
    """
    import onnx

    if isinstance(model, (str, Path)):
        p = Path(model)
        where = where or f"--onnx {p}"
        if p.is_dir():
            raise SimbenchInputError(f"{where}: is a folder; expected an .onnx model file")
        if not p.is_file():
            raise SimbenchInputError(f"{where}: file not found")
        try:
            proto = onnx.load(str(p))
        except Exception as exc:  # onnx raises DecodeError and friends
            raise SimbenchInputError(f"{where}: not an ONNX model ({type(exc).__name__}: {exc})") from None
        if not proto.graph.node:  # an empty file parses as an empty ModelProto
            what = "an empty file" if p.stat().st_size == 0 else "an ONNX model with no graph nodes"
            raise SimbenchInputError(f"{where}: {what}; expected an ONNX model graph")
        label = p.name
    else:
        proto, label = model, getattr(model.graph, "name", "model")
    light = onnx.ModelProto()
    light.CopyFrom(proto)
    for init in light.graph.initializer:
        for f in ("raw_data", "float_data", "int32_data", "int64_data", "double_data"):
            init.ClearField(f)
    proto = light
    try:
        c1, params = _costs_at(proto, 1, weight_bytes_per_element, activation_bytes_per_element, fuse)
        c2, _ = _costs_at(proto, 2, weight_bytes_per_element, activation_bytes_per_element, fuse)
        c3, _ = _costs_at(proto, 3, weight_bytes_per_element, activation_bytes_per_element, fuse)
    except onnx.shape_inference.InferenceError as exc:
        raise SimbenchInputError(f"{label}: ONNX shape inference failed: {exc}") from None
    nodes = []
    for a, b, c in zip(c1, c2, c3):
        d_ops, d_bytes = b[2] - a[2], b[3] - a[3]
        if not (np.isclose(c[2], a[2] + 2 * d_ops) and np.isclose(c[3], a[3] + 2 * d_bytes)):
            raise SimbenchInputError(f"{label}: node {a[0]!r} ({a[1]}) is not linear in batch size")
        nodes.append(NodeCost(a[0], a[1], a[2], d_ops, a[3], d_bytes, a[4]))
    return GraphCosts(label, tuple(nodes), params)


@dataclass(frozen=True)
class RooflineRates:
    """What a prediction uses: compute rate for GEMM-like and for other nodes, bandwidth,
    per-dispatch overhead, each with its source text."""

    compute_ops_per_s: float
    conv_ops_per_s: float
    memory_bytes_per_s: float
    overhead_ns: float
    bytes_per_element: float
    sources: dict[str, str]


def rates_for(profile, precision: str = "fp32", *, overhead_ns: float | None = None) -> RooflineRates:
    """The roofline of ``profile``: its measured ``roofline`` if it has one, else its datasheet
    specs (``memory_bandwidth_gbps`` and ``fp32_tflops`` / ``fp16_bf16_tensor_dense_tflops`` /
    ``int8_tensor_dense_tops`` by ``precision``).

    Parameters
    ----------
    profile : HardwareProfile
    precision : {'fp32', 'fp16', 'int8'}
        Arithmetic the model runs in; sets the rate and the bytes per element (4, 2, 1).
    overhead_ns : float, optional
        Per-dispatch overhead, ns [default: the measured roofline's ``dispatch_overhead_ns``;
        for a datasheet-only profile 0, which the returned ``sources`` says].

    Raises
    ------
    ValueError
        Unknown precision, or the profile has neither a roofline nor the needed specs.
    """
    bpe = {"fp32": 4.0, "fp16": 2.0, "int8": 1.0}
    if precision not in bpe:
        raise SimbenchInputError(f"--precision: expected one of fp32, fp16, int8, got {precision!r}")
    r = profile.roofline
    src: dict[str, str] = {}
    if r is not None:
        if precision == "int8" and r.int8_ops_per_s is not None:
            comp, src["compute"] = r.int8_ops_per_s.value, "roofline.int8_ops_per_s"
        else:
            comp, src["compute"] = r.fp32_flops_per_s.value, "roofline.fp32_flops_per_s"
        conv, src["conv"] = comp, src["compute"]  # one compute roof for every GEMM-like node
        bw, src["memory"] = r.memory_bytes_per_s.value, "roofline.memory_bytes_per_s"
        ov = r.dispatch_overhead_ns.value if overhead_ns is None else overhead_ns
        src["overhead"] = "roofline.dispatch_overhead_ns" if overhead_ns is None else "--overhead-us"
        return RooflineRates(comp, conv, bw, ov, bpe[precision], src)
    key = {"fp32": ("fp32_tflops", 1e12), "fp16": ("fp16_bf16_tensor_dense_tflops", 1e12),
           "int8": ("int8_tensor_dense_tops", 1e12)}[precision]
    missing = [k for k in (key[0], "memory_bandwidth_gbps") if k not in profile.specs]
    if missing:
        raise SimbenchInputError(
            f"profile {profile.name!r}: no measured roofline and no specs {', '.join(missing)}; "
            "build one with simbench profile build"
        )
    comp = profile.specs[key[0]].value * key[1]
    bw = profile.specs["memory_bandwidth_gbps"].value * 1e9
    src = {"compute": f"specs.{key[0]} (datasheet peak)", "conv": f"specs.{key[0]} (datasheet peak)",
           "memory": "specs.memory_bandwidth_gbps (datasheet peak)",
           "overhead": "--overhead-us" if overhead_ns is not None else
           "0 (datasheet profile: no measured dispatch overhead; pass --overhead-us)"}
    return RooflineRates(comp, comp, bw, overhead_ns or 0.0, bpe[precision], src)


@dataclass(frozen=True)
class Prediction:
    """Predicted ``latency_ns[i]`` at ``batches[i]`` and the compute-bound share of each."""

    batches: tuple[int, ...]
    latency_ns: tuple[float, ...]
    compute_bound_share: tuple[float, ...]
    total_ops: tuple[float, ...]
    total_bytes: tuple[float, ...]
    rates: RooflineRates


def predict_latency(costs: GraphCosts, rates: RooflineRates, batches=(1, 2, 4, 8, 16, 32, 64)) -> Prediction:
    """Roofline latency of one batch: ``sum over nodes of max(ops/rate, bytes/bandwidth) +
    dispatches * overhead`` (module docstring), ns.

    Parameters
    ----------
    costs : GraphCosts
    rates : RooflineRates
    batches : sequence of int
        Batch sizes (>= 1).

    Raises
    ------
    ValueError
        A batch size below 1.
    """
    lat, share, tops, tbytes = [], [], [], []
    for b in batches:
        if int(b) < 1:
            raise SimbenchInputError(f"batch sizes must be >= 1, got {b}")
        total = comp_time = 0.0
        for n in costs.nodes:
            rate = rates.conv_ops_per_s if n.op_type in ("Conv", "ConvTranspose") else rates.compute_ops_per_s
            t_c = n.ops(b) / rate * 1e9
            t_m = n.bytes(b) / rates.memory_bytes_per_s * 1e9
            t = max(t_c, t_m) + n.dispatches * rates.overhead_ns
            total += t
            if t_c > t_m:
                comp_time += max(t_c, t_m)
        lat.append(total)
        share.append(comp_time / total if total > 0 else 0.0)
        tops.append(costs.total_ops(b))
        tbytes.append(costs.total_bytes(b))
    return Prediction(tuple(int(b) for b in batches), tuple(lat), tuple(share), tuple(tops), tuple(tbytes), rates)


def predicted_model(pred: Prediction, *, description: str, profile_name: str, max_batch: int | None = None):
    """A ``ModelProfile`` whose latency table is a roofline prediction (no model was run).

    ``compute_share`` (per batch) and ``compute_bound_share`` (batch 1) are the prediction's
    compute-bound shares, the part the device model scales with clock. Noise is ``none`` (a
    roofline has no spread); scenarios follow the simulator's
    conventions (SingleStream and Server none; MultiStream 8 at once; Offline dynamic up to
    ``max_batch`` [default: the largest predicted batch]) with expected latency/QPS set from
    the prediction so LoadGen-length runs are sized right.
    """
    from simbench.profiles.schema import ModelProfile

    mb = max_batch or pred.batches[-1]
    rs = pred.rates.sources
    how = (f"roofline prediction on profile {profile_name}: sum over fused ONNX nodes of "
           f"max(ops / {rs['compute']} (Conv: {rs['conv']}), bytes / {rs['memory']}) + overhead "
           f"({rs['overhead']}); simbench.profiles.roofline")
    pts = [{"batch": b, "latency_ns": float(t), "source": how,
            "note": f"DERIVED: {o / 1e9:.3f} GOP, {y / 1e6:.1f} MB moved, compute-bound share {s:.3f}"}
           for b, t, s, o, y in zip(pred.batches, pred.latency_ns, pred.compute_bound_share,
                                    pred.total_ops, pred.total_bytes)]
    lat = dict(zip(pred.batches, pred.latency_ns))
    l1 = lat[pred.batches[0]]
    l8 = float(np.interp(8, pred.batches, pred.latency_ns))
    lmb = float(np.interp(mb, pred.batches, pred.latency_ns))
    scen_src = "simbench conventions for a roofline-predicted model (docs/profiles.md)"
    data = {
        "description": description,
        "precision": {4.0: "fp32", 2.0: "fp16", 1.0: "int8"}[pred.rates.bytes_per_element],
        "framework": "roofline prediction (no run)",
        "latency": {"kind": "table", "points": pts},
        "noise": {"kind": "none"},
        "scenarios": {
            "SingleStream": {"batching": {"kind": "none"}, "replicas": 1,
                             "settings": {"single_stream_expected_latency_ns": float(round(l1))},
                             "source": scen_src},
            "MultiStream": {"batching": {"kind": "dynamic", "max_batch": 8, "timeout_us": 0},
                            "replicas": 1,
                            "settings": {"multi_stream_expected_latency_ns": float(round(l8))},
                            "source": scen_src},
            "Server": {"batching": {"kind": "none"}, "replicas": 1, "settings": {},
                       "source": scen_src + " (no batching unless --batching is given)"},
            "Offline": {"batching": {"kind": "dynamic", "max_batch": mb, "timeout_us": 0},
                        "replicas": 1,
                        "settings": {"offline_expected_qps": float(mb / lmb * 1e9)},
                        "source": scen_src},
        },
        "compute_bound_share": float(np.interp(1, pred.batches, pred.compute_bound_share)),
        "compute_share": {"points": [
            {"batch": b, "share": round(float(sh), 6), "source": how,
             "note": "DERIVED: time in nodes whose ops/rate exceeds bytes/bandwidth, over latency(b)"}
            for b, sh in zip(pred.batches, pred.compute_bound_share)]},
        "source": how,
    }
    return ModelProfile.model_validate(data)
