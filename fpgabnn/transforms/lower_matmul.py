"""Lower Conv/MatMul layers with binary weights to SlidingWindow + MVAU, absorbing BatchNorm, scales and the
following sign into exact integer thresholds (or leaving the float tail for the host on the last layer)."""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

from fpgabnn.core.graph import node_error, single_consumer
from fpgabnn.hw.base import DOMAIN
from fpgabnn.transforms.lower_input import NCHW_TO_NHWC, NHWC_TO_NCHW
from fpgabnn.transforms.quantizers import QUANT_OPS, dtype_for_range, is_power_of_two, quantizer_info
from fpgabnn.transforms.thresholds import bipolar_thresholds, evaluate_on_values

CHAIN_OPS = ("Mul", "Add", "Sub", "Div", "BatchNormalization", "Identity")


def integer_source(model, tensor: str):
    """(integer tensor, scale) with value(tensor) = scale * integer tensor, walking back over Identity and
    scalar Mul; None when ``tensor`` does not come from a quantised (integer) tensor."""
    scale = 1.0
    while True:
        dtype = model.get_tensor_datatype(tensor)
        producer = model.find_producer(tensor)
        if producer is not None and producer.op_type == "Identity":
            tensor = producer.input[0]
            continue
        if producer is not None and producer.op_type == "Mul":
            const = [model.get_initializer(i) for i in producer.input]
            if const[1] is not None and np.asarray(const[1]).size == 1:
                scale *= float(np.asarray(const[1]).reshape(()))
                tensor = producer.input[0]
                continue
        if dtype.is_integer():
            return tensor, scale
        return None


def binary_weight(model, node, weight: np.ndarray) -> tuple[np.ndarray, float]:
    """Split a weight tensor into sign matrix and the single magnitude; refuse anything that is not binary."""
    mags = np.unique(np.abs(weight))
    if len(mags) != 1 or mags[0] == 0:
        raise node_error(node, "weights are not binary (more than one magnitude)",
                         "export with 1-bit weights (fpgabnn's binary layers or Brevitas weight_bit_width=1)")
    return np.sign(weight).astype(np.int64), float(mags[0])


def activation_chain(model, start_tensor: str):
    """Per-channel float ops after a layer up to its quantiser: (chain nodes, quantiser or None)."""
    chain = []
    tensor = start_tensor
    while True:
        node = single_consumer(model, tensor)
        if node is None:
            return chain, None
        if node.op_type in QUANT_OPS:
            return chain, node
        if node.op_type not in CHAIN_OPS:
            return chain, None
        others = [i for i in node.input[1:] if i]
        if any(model.get_initializer(i) is None for i in others):
            return chain, None
        chain.append(node)
        tensor = node.output[0]


class LowerMatrixLayers(Transformation):
    """One Conv/MatMul (the first in graph order that still has float weights) per application."""

    def apply(self, model):
        from fpgabnn.transforms.layout import MoveScalarMulPastLayout

        model = model.transform(MoveScalarMulPastLayout())
        for node in model.graph.node:
            if node.op_type in ("Conv", "MatMul") and model.get_initializer(node.input[1]) is not None:
                lower_one(model, node)
                model = model.transform(InferShapes()).transform(InferDataTypes())
                return model, True
        return model, False


def lower_one(model, node) -> None:
    src = integer_source(model, node.input[0])
    if src is None:
        raise node_error(node, "its input is not a quantised tensor",
                         "put a quantiser (binary activation or input quantiser) before every layer")
    x_int, s_x = src
    in_dtype = model.get_tensor_datatype(x_int)
    signs, s_w = binary_weight(model, node, model.get_initializer(node.input[1]))
    step = s_x * s_w
    if not is_power_of_two(step):
        raise node_error(node, f"input scale x weight scale = {step:g} is not a power of two, so the float reference "
                         "is not exact", "use power-of-two input scales and move per-channel scales after the layer")
    is_conv = node.op_type == "Conv"
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    new_nodes = []
    if is_conv:
        auto_pad = attrs.get("auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
        if auto_pad not in ("NOTSET", "VALID"):
            raise node_error(node, f"auto_pad={auto_pad} is not supported", "export with explicit pads")
        if attrs.get("group", 1) != 1 or any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise node_error(node, "grouped or dilated convolutions are not supported", "use group=1, dilation=1")
        co, ci, kh, kw = signs.shape
        pads = list(attrs.get("pads", [0, 0, 0, 0]))  # ONNX: [top, left, bottom, right]
        if in_dtype == DataType["BIPOLAR"] and any(pads):
            raise node_error(node, "zero padding of a binary (bipolar) input cannot be represented in one bit",
                             "use padding=0 on binary convolutions (only the integer-input first layer may pad)")
        weights = signs.transpose(2, 3, 1, 0).reshape(kh * kw * ci, co)  # rows (kh, kw, ci), like the window
        in_shape = model.get_tensor_shape(x_int)
        _, _, h, w = in_shape
        out_shape = model.get_tensor_shape(node.output[0])
        oh, ow = out_shape[2], out_shape[3]
        nhwc = model.make_new_valueinfo_name()
        new_nodes.append(helper.make_node("Transpose", [x_int], [nhwc], perm=NCHW_TO_NHWC, name=f"{node.name}_to_nhwc"))
        window = model.make_new_valueinfo_name()
        new_nodes.append(helper.make_node(
            "SlidingWindow", [nhwc], [window], domain=DOMAIN, name=f"{node.name}_swg",
            ifm_dim=[h, w], channels=ci, kernel=[kh, kw], stride=list(attrs.get("strides", [1, 1])),
            pads=pads, pad_value=0, in_dtype=in_dtype.name,
        ))
        mvau_in, vec_shape = window, [1, oh, ow]
        bias = model.get_initializer(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    else:
        if len(model.get_tensor_shape(node.input[0])) != 2:
            raise node_error(node, "matrix product on a tensor of more than 2 dimensions",
                             "flatten the input before a fully connected layer")
        weights = signs
        mvau_in, vec_shape = x_int, list(model.get_tensor_shape(node.output[0])[:-1])
        bias = None
    mw, mh = weights.shape

    # reachable accumulator values
    if in_dtype == DataType["BIPOLAR"]:
        values = np.arange(-mw, mw + 1, 2)
    else:
        lo_x, hi_x = int(in_dtype.min()), int(in_dtype.max())
        lo = int(np.sum(np.minimum(weights * lo_x, weights * hi_x), axis=0).min())
        hi = int(np.sum(np.maximum(weights * lo_x, weights * hi_x), axis=0).max())
        if is_conv and any(pads):
            lo, hi = min(lo, 0), max(hi, 0)
        values = np.arange(lo, hi + 1)

    # the float tail: conv bias (as an explicit Add), per-channel ops, then the quantiser (if any)
    chain, quant = activation_chain(model, node.output[0])
    eval_chain = list(chain)
    bias_name = None
    if bias is not None:
        bias_name = model.make_new_valueinfo_name()
        model.set_initializer(bias_name, bias.reshape(1, -1, 1, 1).astype(np.float32))
        first_in = node.output[0]
        eval_chain.insert(0, helper.make_node("Add", [first_in, bias_name], [first_in + "_biased"], name=f"{node.name}_bias"))
        if eval_chain[1:]:
            eval_chain[1] = _rewire(eval_chain[1], first_in, first_in + "_biased")
    acc_dtype = dtype_for_range(int(values[0]) - 1, int(values[-1]) + 1)
    mvau_out = model.make_new_valueinfo_name()
    mvau_inputs = [mvau_in]
    if quant is not None:
        info = quantizer_info(model, quant)
        if info.dtype != DataType["BIPOLAR"]:
            raise node_error(quant, "multi-bit activations are not supported yet", "use binary (1-bit) activations")
        full = eval_chain + [quant]
        spatial = 2 if is_conv else len(model.get_tensor_shape(node.output[0])) - 2
        out = evaluate_on_values(model, full, node.output[0], values, mh, spatial, step)
        th = bipolar_thresholds(values, out / np.float32(info.scale) > 0, quant)  # q = +1 (scale may be negative)
        weights = np.where(th.flip[None, :], -weights, weights)
        t_name = model.make_new_valueinfo_name()
        model.set_initializer(t_name, th.thresholds.reshape(mh, 1).astype(np.float32))
        mvau_inputs.append(t_name)
        out_dtype, target, out_scale = DataType["BIPOLAR"], quant.output[0], info.scale
        removed = [node, *chain, quant]
    else:
        if bias is not None:
            raise node_error(node, "a convolution bias on the last layer is not supported", "export without conv bias")
        out_dtype, target, out_scale = acc_dtype, node.output[0], step
        removed = [node]
    w_name = model.make_new_valueinfo_name()
    model.set_initializer(w_name, weights.astype(np.float32))
    new_nodes.append(helper.make_node(
        "MVAU", [mvau_in, w_name, *mvau_inputs[1:]], [mvau_out], domain=DOMAIN, name=f"{node.name}_mvau",
        mw=int(mw), mh=int(mh), vec_shape=[int(v) for v in vec_shape], in_dtype=in_dtype.name, acc_dtype=acc_dtype.name,
        source_tensor=target, source_scale=float(out_scale), source_layout="NCHW" if is_conv else "NC",
    ))
    model.set_tensor_datatype(mvau_out, out_dtype)
    current = mvau_out
    if is_conv:
        nchw = model.make_new_valueinfo_name()
        new_nodes.append(helper.make_node("Transpose", [current], [nchw], perm=NHWC_TO_NCHW, name=f"{node.name}_to_nchw"))
        current = nchw
    if out_scale != 1.0:
        s_name = model.make_new_valueinfo_name()
        model.set_initializer(s_name, np.asarray(out_scale, dtype=np.float32))
        new_nodes.append(helper.make_node("Mul", [current, s_name], [target], name=f"{node.name}_scale"))
    else:
        new_nodes.append(helper.make_node("Identity", [current], [target], name=f"{node.name}_out"))
    insert_at = list(model.graph.node).index(node)
    for old in removed:
        model.graph.node.remove(old)
    for offset, new in enumerate(new_nodes):
        model.graph.node.insert(insert_at + offset, new)


def _rewire(node, old: str, new: str):
    copy = type(node)()
    copy.CopyFrom(node)
    for i, name in enumerate(copy.input):
        if name == old:
            copy.input[i] = new
    return copy
