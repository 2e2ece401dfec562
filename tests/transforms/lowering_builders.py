"""Builders and executors shared by the lowering tests: QONNX graphs in the shape Brevitas exports, random
BatchNorm statistics that put thresholds inside, on the edges of and outside the accumulator range, and a
batched executor for source and lowered graphs."""

from __future__ import annotations

import numpy as np
import onnxruntime as rt
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp, is_custom_op
from qonnx.transformation.infer_shapes import InferShapes

from fpgabnn.hw.base import DOMAIN

QONNX_DOMAIN = "qonnx.custom_op.general"
OPSET = 13

#: Brevitas BNN-PYNQ models: name -> (input shape, float spacing of the first layer's accumulator values:
#: 2 for the bipolar input of the FC models, 2^-7 for CNV's 8-bit input)
BNN_PYNQ = {
    "tfc_1w1a": ((1, 1, 28, 28), 2.0),
    "sfc_1w1a": ((1, 1, 28, 28), 2.0),
    "lfc_1w1a": ((1, 1, 28, 28), 2.0),
    "cnv_1w1a": ((1, 3, 32, 32), 2.0**-7),
}


# ---------------------------------------------------------------------------------------------------------
# execution
# ---------------------------------------------------------------------------------------------------------
def run_batched(model: ModelWrapper, x: np.ndarray, keep: bool = False):
    """Execute ``model`` on a batch ``x`` [B, ...] node by node (onnxruntime for standard ops with shapes taken
    from the arrays, the qonnx/fpgabnn reference for custom ops); constant Reshape targets get batch B.

    execute_onnx checks the input against the declared batch-1 shape, so it cannot run a batch; this executor
    is cross-checked against execute_onnx sample by sample in test_lower_bnn_pynq.py."""
    opset = next((o.version for o in model.model.opset_import if o.domain in ("", "ai.onnx")), OPSET)
    ctx = {model.graph.input[0].name: np.ascontiguousarray(x, dtype=np.float32)}
    for init in model.graph.initializer:
        ctx[init.name] = numpy_helper.to_array(init)
    for node in model.graph.node:
        if is_custom_op(node.domain, node.op_type):
            getCustomOp(node).execute_node(ctx, model.graph)
            continue
        feeds = {n: ctx[n] for n in node.input if n}
        if node.op_type == "Reshape" and model.get_initializer(node.input[1]) is not None:
            target = feeds[node.input[1]].copy()
            target[0] = x.shape[0]
            feeds[node.input[1]] = target
        inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                  for n, a in feeds.items()]
        outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in node.output]
        graph = helper.make_graph([node], "single", inputs, outputs)
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        proto.ir_version = 8
        sess = rt.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        for name, value in zip(node.output, sess.run(None, feeds)):
            ctx[name] = value
    return ctx if keep else ctx[model.graph.output[0].name]


def run_qonnx(model: ModelWrapper, images: np.ndarray) -> np.ndarray:
    """qonnx's execute_onnx, one image at a time (the reference semantics), stacked on axis 0."""
    name, out = model.graph.input[0].name, model.graph.output[0].name
    return np.concatenate([execute_onnx(model, {name: img[None]})[out] for img in images], axis=0)


def random_images(shape, count: int, seed: int) -> np.ndarray:
    """``count`` raw uint8 images (float32) of the model input ``shape``; the first two are all-0 and all-255."""
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, size=(count, *shape[1:])).astype(np.float32)
    if count >= 4:
        imgs[0] = 0
        imgs[1] = 255
        imgs[2] = rng.choice([0, 127, 128, 255], size=shape[1:])  # around the usual sign threshold
    return imgs


def hw_nodes(model: ModelWrapper) -> list:
    return [n for n in model.graph.node if n.domain == DOMAIN]


def provenance_mismatches(lowered: ModelWrapper, low_ctx: dict, src_ctx: dict) -> list[str]:
    """Every hardware layer that records a source tensor must output that tensor / source_scale (NHWC)."""
    bad = []
    for node in hw_nodes(lowered):
        op = getCustomOp(node)
        name = op.get_nodeattr("source_tensor")
        if not name or op.get_nodeattr("source_layout") == "TOPK":
            continue
        if name not in src_ctx:
            bad.append(f"{node.name}: source tensor {name} is not in the source graph")
            continue
        want = src_ctx[name].astype(np.float64) / op.get_nodeattr("source_scale")
        if op.get_nodeattr("source_layout") == "NCHW" and want.ndim == 4:
            want = want.transpose(0, 2, 3, 1)
        got = low_ctx[node.output[0]]
        if got.size != want.size or not np.array_equal(got.reshape(want.shape), want):
            bad.append(f"{node.name} ({node.op_type}) != {name} / {op.get_nodeattr('source_scale')}")
    return bad


# ---------------------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------------------
def adversarial_bn(rng: np.random.Generator, channels: int, reach: float, step: float) -> dict:
    """BatchNorm parameters whose sign thresholds sit inside, on the edges of and outside the accumulator range.

    ``reach``: largest |float accumulator| (fan-in for +-1 weights and |x| <= 1); ``step``: spacing of the
    reachable float accumulator values (2 for a bipolar dot product, the input scale for an integer input).
    Kinds, cycling over the channels: random thresholds where random inputs land (within ~2 sqrt(fan-in)),
    exactly on a reachable value with beta = 0 (a tie: BN output exactly 0, sign +1), half-way between
    reachable values, on or next to the edges of the range, outside it (constant), gamma = 0 (beta decides,
    incl. beta = 0), zero variance (eps alone), huge variance with beta placing the threshold, and beta
    nudging a threshold by 1e-7 / 1e-3 off a reachable value. Gamma is negative for about half the channels."""
    typical = 2.0 * np.sqrt(reach)
    n_steps = max(1, int(round(2 * reach / step)))
    lo, hi = int(round((reach - typical) / step)), int(round((reach + typical) / step))

    def on_grid(k=None):  # a reachable float accumulator value (near the typical ones unless k is given)
        k = int(rng.integers(max(lo, 0), min(hi, n_steps) + 1)) if k is None else k
        return np.float32(-reach + step * k)

    gamma = np.zeros(channels, np.float32)
    beta = np.zeros(channels, np.float32)
    mean = np.zeros(channels, np.float32)
    var = np.ones(channels, np.float32)
    kinds = rng.permutation(channels) % 11
    for c in range(channels):
        kind = kinds[c]
        gamma[c] = rng.choice([-1.0, 1.0]) * np.exp(rng.normal(0, 1))
        var[c] = np.exp(rng.uniform(np.log(1e-2), np.log(typical**2)))
        if kind in (0, 1):  # random
            mean[c] = rng.uniform(-typical, typical)
            beta[c] = rng.normal(0, 1)
        elif kind in (2, 3):  # exactly on a reachable value: BN output is exactly 0 there
            mean[c] = on_grid()
        elif kind == 4:  # half-way between two reachable values
            mean[c] = on_grid() + np.float32(step / 2)
        elif kind == 5:  # on or next to the edges
            mean[c] = rng.choice([-reach, reach, -reach + step, reach - step, -reach - step / 2, reach + step / 2])
        elif kind == 6:  # outside: constant output
            mean[c] = rng.choice([-1, 1]) * (reach * rng.uniform(1.01, 3.0) + step)
            beta[c] = rng.normal(0, 0.1)
        elif kind == 7:  # gamma exactly zero: beta decides (beta = 0 gives sign(0) = +1)
            gamma[c] = 0.0
            beta[c] = rng.choice([-1.0, 0.0, 1.0])
            mean[c] = rng.uniform(-typical, typical)
        elif kind == 8:  # zero variance: eps alone scales, steep slope
            var[c] = 0.0
            mean[c] = on_grid()
            beta[c] = rng.choice([0.0, 1e-3, -1e-3])
        elif kind == 9:  # huge variance, beta puts the threshold on a reachable value
            var[c] = np.float32(1e6)
            mean[c] = 0.0
            beta[c] = -gamma[c] * float(on_grid()) / np.sqrt(1e6 + 1e-4)
        else:  # beta nudges the threshold just off a reachable value
            mean[c] = on_grid()
            beta[c] = rng.choice([1e-7, -1e-7, 1e-3, -1e-3])
    return {"gamma": gamma, "beta": beta, "mean": mean, "var": var}


# ---------------------------------------------------------------------------------------------------------
# graph building
# ---------------------------------------------------------------------------------------------------------
def conv_out(size: int, k: int, s: int, p0: int = 0, p1: int = 0) -> int:
    return (size + p0 + p1 - k) // s + 1


class GraphBuilder:
    """A single-path QONNX graph built op by op, tracking the current tensor and its shape."""

    def __init__(self, in_shape):
        self.nodes, self.inits = [], []
        self.in_shape = list(in_shape)
        self.shape = list(in_shape)
        self.tensor = "image"
        self._count = 0

    def _name(self, prefix):
        self._count += 1
        return f"{prefix}{self._count}"

    def const(self, value, prefix="c") -> str:
        name = self._name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def node(self, op_type, inputs, domain="", out_shape=None, name=None, **attrs) -> str:
        out = self._name("t")
        self.nodes.append(helper.make_node(op_type, inputs, [out], domain=domain,
                                           name=name or self._name(op_type + "_"), **attrs))
        self.tensor = out
        if out_shape is not None:
            self.shape = [int(d) for d in out_shape]
        return out

    # elementwise
    def binary(self, op_type, value):
        value = np.asarray(value, dtype=np.float32)
        return self.node(op_type, [self.tensor, self.const(value)],
                         out_shape=np.broadcast_shapes(tuple(self.shape), value.shape))

    def mul(self, value):
        return self.binary("Mul", value)

    def add(self, value):
        return self.binary("Add", value)

    def sub(self, value):
        return self.binary("Sub", value)

    def div(self, value):
        return self.binary("Div", value)

    def channel_shape(self):
        """Broadcast shape of a per-channel constant: [1, C, 1, 1] for NCHW, [C] for [1, C]."""
        return [1, self.shape[1], 1, 1] if len(self.shape) == 4 else [self.shape[-1]]

    # quantisers
    def quant(self, scale, bits=8, signed=1, narrow=0, rounding="ROUND"):
        ins = [self.tensor, self.const(scale), self.const(0.0), self.const(float(bits))]
        return self.node("Quant", ins, domain=QONNX_DOMAIN, signed=signed, narrow=narrow, rounding_mode=rounding)

    def bipolar(self, scale=1.0):
        return self.node("BipolarQuant", [self.tensor, self.const(scale)], domain=QONNX_DOMAIN)

    # layers
    def conv(self, weight, strides=(1, 1), pads=(0, 0, 0, 0), bias=None, **extra):
        weight = np.asarray(weight, np.float32)
        co, _, kh, kw = weight.shape
        ins = [self.tensor, self.const(weight, "w")]
        if bias is not None:
            ins.append(self.const(bias, "b"))
        attrs = {"kernel_shape": [kh, kw], "strides": list(strides), "pads": list(pads), **extra}
        attrs = {k: v for k, v in attrs.items() if v is not None}
        _, _, h, w = self.shape
        pt, pl, pb, pr = pads
        out = [1, co, conv_out(h, kh, strides[0], pt, pb), conv_out(w, kw, strides[1], pl, pr)]
        return self.node("Conv", ins, out_shape=out, **attrs)

    def matmul(self, weight):
        weight = np.asarray(weight, np.float32)
        return self.node("MatMul", [self.tensor, self.const(weight, "w")], out_shape=[self.shape[0], weight.shape[1]])

    def batchnorm(self, gamma, beta, mean, var, eps=1e-4):
        ins = [self.tensor] + [self.const(a, "bn") for a in (gamma, beta, mean, var)]
        return self.node("BatchNormalization", ins, epsilon=float(eps))

    def maxpool(self, kernel, strides, **extra):
        _, c, h, w = self.shape
        attrs = {"kernel_shape": list(kernel), "strides": None if strides is None else list(strides), **extra}
        attrs = {k: v for k, v in attrs.items() if v is not None}
        s = strides if strides is not None else (1, 1)
        out = [1, c, conv_out(h, kernel[0], s[0]), conv_out(w, kernel[1], s[1])]
        return self.node("MaxPool", [self.tensor], out_shape=out, **attrs)

    def reshape(self, target):
        target = np.asarray(target, np.int64)
        name = self._name("shape")
        self.inits.append(numpy_helper.from_array(target, name))
        size = int(np.prod(self.shape))
        out = [d if d != -1 else size // int(np.prod([t for t in target if t != -1])) for d in target]
        return self.node("Reshape", [self.tensor, name], out_shape=out)

    def flatten(self):
        return self.reshape([1, -1])

    def model(self) -> ModelWrapper:
        graph = helper.make_graph(
            self.nodes, "fpgabnn_test",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, self.in_shape)],
            [helper.make_tensor_value_info(self.tensor, TensorProto.FLOAT, self.shape)],
            initializer=self.inits,
        )
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                        helper.make_opsetid(QONNX_DOMAIN, 1)])
        proto.ir_version = 8
        return ModelWrapper(proto).transform(InferShapes())


def signs(rng: np.random.Generator, shape, magnitude=1.0) -> np.ndarray:
    return (rng.choice([-1.0, 1.0], size=shape) * magnitude).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------
# Brevitas-shaped networks from a spec
# ---------------------------------------------------------------------------------------------------------
def build_network(spec: dict) -> ModelWrapper:
    """A network in the shape Brevitas exports, from ``spec`` (see test_lower_random_graphs.network_specs):

    image [1, C, H, W] -> [Reshape] -> Mul/Sub normalisation -> Quant (integer, power-of-two scale) or
    BipolarQuant -> [Conv (+-1) -> [per-channel Mul] -> BatchNorm -> BipolarQuant -> [MaxPool]]* -> Reshape
    -> [MatMul (+-1) -> [Mul] -> BatchNorm -> BipolarQuant]* -> MatMul -> [per-class Mul, Add]."""
    rng = np.random.default_rng(spec["seed"])
    c, h, w = spec["input"]
    b = GraphBuilder([1, c, h, w])
    if spec["flatten_at"] == "input":
        b.flatten()
    # normalisation of raw pixels: x * m - s (per channel when asked)
    per_channel = spec["norm_per_channel"] and len(b.shape) == 4
    shape = [1, c, 1, 1] if per_channel else []
    m = np.asarray(spec["norm_mul"], np.float32) * (rng.uniform(0.8, 1.25, size=shape).astype(np.float32)
                                                    if per_channel else np.float32(1))
    b.mul(m)
    b.sub(np.float32(spec["norm_sub"]) + (rng.uniform(-0.1, 0.1, size=shape).astype(np.float32)
                                           if per_channel else np.float32(0)))
    first = spec["first"]
    bq_scale = spec["bipolar_scale"]
    mag = spec["weight_mag"]
    if first["kind"] == "bipolar":
        b.bipolar(bq_scale)
        x_max, step_x = bq_scale, 2 * bq_scale
    else:
        scale = first["scale"]
        b.quant(scale, bits=first["bits"], signed=first["signed"], narrow=first["narrow"], rounding=first["rounding"])
        x_max, step_x = scale * 2 ** (first["bits"] - first["signed"]), scale

    def activation(fan_in):
        nonlocal x_max, step_x
        ch = b.shape[1]
        p = adversarial_bn(rng, ch, reach=fan_in * x_max * mag, step=step_x * mag)
        if spec["chmul"]:
            scale = rng.choice([-2.0, -0.5, 0.0, 0.75, 1.0, 3.0], size=ch).astype(np.float32)
            b.mul(scale.reshape(b.channel_shape()))
            p["mean"] = p["mean"] * scale
            p["var"] = p["var"] * scale**2
        b.batchnorm(p["gamma"], p["beta"], p["mean"], p["var"], eps=spec["eps"])
        act = spec.get("act_bits")
        if act:
            b.quant(1.0, bits=act)
        else:
            b.bipolar(bq_scale)
        x_max, step_x = bq_scale, 2 * bq_scale

    for conv in spec["convs"]:
        cin = b.shape[1]
        kh, kw = conv["kernel"]
        weight = signs(rng, (conv["cout"], cin, kh, kw), mag)
        bias = rng.normal(0, 1, size=conv["cout"]).astype(np.float32) if conv["bias"] else None
        b.conv(weight, strides=conv["stride"], pads=conv["pads"], bias=bias)
        activation(cin * kh * kw)
        if conv["pool"] is not None:
            b.maxpool(*conv["pool"])
    if spec["flatten_at"] != "input":
        b.flatten()
    for width in spec["hidden"]:
        fan_in = b.shape[-1]
        b.matmul(signs(rng, (fan_in, width), mag))
        activation(fan_in)
    b.matmul(signs(rng, (b.shape[-1], spec["classes"]), mag))
    if spec["tail"]:
        b.mul(rng.choice([-1.5, 0.5, 1.0, 2.0, 0.0], size=spec["classes"]).astype(np.float32))
        b.add(rng.normal(0, 1, size=spec["classes"]).astype(np.float32))
    return b.model()


def fold_randomly(lowered: ModelWrapper, rng: np.random.Generator) -> None:
    """Give every hardware layer of ``lowered`` (in place) a random legal folding drawn from ``rng``."""
    from fpgabnn.transforms.pipeline import split_dataflow

    for node in split_dataflow(lowered).hw:
        layer = getCustomOp(node)
        options = layer.folding_options()
        for attr, value in options[rng.integers(len(options))].items():
            layer.set_nodeattr(attr, int(value))
        layer.check_folding()
