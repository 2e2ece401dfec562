"""Lower the input normalisation and first quantiser into a Thresholding layer on raw UINT8 pixels.

The chain from the graph input to the first quantiser (Mul/Div/Add/Sub by constants, Reshape/Flatten) is
evaluated on all 256 pixel values at every input position, exactly as qonnx executes it; the resulting
pixel -> integer map becomes per-channel (or shared) thresholds.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

from fpgabnn.core.graph import evaluate_chain, node_error, single_consumer
from fpgabnn.errors import UserError
from fpgabnn.hw.base import DOMAIN
from fpgabnn.transforms.quantizers import QUANT_OPS, quantizer_info
from fpgabnn.transforms.thresholds import level_thresholds

ELEMENTWISE = ("Mul", "Div", "Add", "Sub")
SHAPE_OPS = ("Reshape", "Flatten", "Identity")
NCHW_TO_NHWC = [0, 2, 3, 1]
NHWC_TO_NCHW = [0, 3, 1, 2]


def input_chain(model):
    """Nodes from the graph input to the first quantiser, or raise naming the node that blocks the path."""
    tensor = model.graph.input[0].name
    chain = []
    while True:
        node = single_consumer(model, tensor)
        if node is None:
            raise UserError("the model input feeds several nodes or no quantiser; the input must go through one "
                            "normalisation chain into a quantiser (fpgabnn's InputQuant or Brevitas' QuantIdentity)")
        chain.append(node)
        if node.op_type in QUANT_OPS:
            return chain
        if node.op_type not in ELEMENTWISE + SHAPE_OPS:
            raise node_error(node, "only constant Mul/Div/Add/Sub and reshapes may come before the input quantiser",
                             "move other preprocessing out of the model")
        if node.op_type in ELEMENTWISE and not any(model.get_initializer(i) is not None for i in node.input):
            raise node_error(node, "input normalisation needs a constant operand", "fold the normalisation constants")
        tensor = node.output[0]


def pixel_map(model, chain, in_shape) -> np.ndarray:
    """For every input channel c and pixel value v the chain's integer output q[c, v] (position-independent)."""
    quant = chain[-1]
    info = quantizer_info(model, quant)
    n_pos = int(np.prod(in_shape))
    channels = in_shape[1] if len(in_shape) == 4 else 1
    per_channel = n_pos // channels
    runs = -(-256 // per_channel)
    result = np.full((channels, 256), np.nan)
    for run in range(runs):
        flat = (np.arange(n_pos) % per_channel + run * per_channel) % 256
        out = evaluate_chain(model, chain, model.graph.input[0].name, flat.reshape(in_shape).astype(np.float32))
        q = out.reshape(-1).astype(np.float64) / info.scale
        chan = np.arange(n_pos) // per_channel % channels
        for c in range(channels):
            vals, qs = flat[chan == c], q[chan == c]
            for v in np.unique(vals):
                group = qs[vals == v]
                if np.any(group != group[0]):
                    raise node_error(quant, "the input normalisation differs between pixel positions of one channel",
                                     "use per-channel normalisation constants")
                if not np.isnan(result[c, v]) and result[c, v] != group[0]:
                    raise node_error(quant, "the input normalisation is not position-independent", "use per-channel constants")
                result[c, v] = group[0]
    if np.any(result != np.round(result)):
        raise node_error(quant, "the quantiser output is not an integer multiple of its scale", "re-export the model")
    return result.astype(np.int64)


def _reapply_reshapes(model, chain, current: str, dtype, suffix: str, new_nodes: list) -> str:
    """Append copies of the chain's Reshape/Flatten nodes acting on ``current``; they do not change values."""
    for node in chain[:-1]:
        if node.op_type in SHAPE_OPS:
            out = model.make_new_valueinfo_name()
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            new_nodes.append(helper.make_node(node.op_type, [current, *node.input[1:]], [out], name=f"{node.name}_{suffix}", **attrs))
            model.set_tensor_datatype(out, dtype)
            current = out
    return current


class FlattenBeforeInputQuantizer(Transformation):
    """input chain -> quantiser (4-D) -> Reshape/Flatten to 2-D  ==>  input chain -> Reshape -> quantiser.

    A per-tensor quantiser is elementwise, so flattening first computes the same values; the input layer then
    thresholds the flat vector and can fold over all of its elements (PE up to C*H*W) instead of C.
    """

    def apply(self, model):
        try:
            quant = input_chain(model)[-1]
        except UserError:  # no float input chain (already lowered): LowerInputQuantizer reports real problems
            return model, False
        quantizer_info(model, quant)  # refuses per-channel scales, for which the swap would be wrong
        flat = single_consumer(model, quant.output[0])
        if flat is None or flat.op_type not in ("Reshape", "Flatten"):
            return model, False
        if len(model.get_tensor_shape(quant.output[0])) != 4 or len(model.get_tensor_shape(flat.output[0])) != 2:
            return model, False
        moved = model.make_new_valueinfo_name()
        quant_in, final = quant.input[0], flat.output[0]
        flat.input[0], flat.output[0] = quant_in, moved
        quant.input[0], quant.output[0] = moved, final
        nodes = model.graph.node
        nodes.remove(flat)
        nodes.insert(list(nodes).index(quant), flat)
        return model.transform(InferShapes()).transform(InferDataTypes()), False


class LowerInputQuantizer(Transformation):
    """Graph input -> normalisation -> first quantiser  ==>  [Transpose to NHWC] -> Thresholding -> [back] -> reshapes."""

    def apply(self, model):
        chain = input_chain(model)
        quant = chain[-1]
        info = quantizer_info(model, quant)
        in_name = model.graph.input[0].name
        in_shape = model.get_tensor_shape(in_name)
        qmap = pixel_map(model, chain, in_shape)  # [C, 256]
        values = np.arange(256)
        bipolar = info.dtype == DataType["BIPOLAR"]
        levels = (qmap.T + 1) // 2 if bipolar else qmap.T  # bipolar: threshold the bit (q + 1) / 2
        thresholds, base = level_thresholds(values, levels, quant, base=0 if bipolar else None)
        if np.all(thresholds == thresholds[0]):
            thresholds = thresholds[:1]
        out_shape = model.get_tensor_shape(quant.output[0])
        flat_first = len(in_shape) == 4 and len(out_shape) == 2
        in_channels = in_shape[1] if len(in_shape) == 4 else in_shape[-1]
        if thresholds.shape[0] not in (1, in_channels):
            raise node_error(quant, "per-channel input thresholds do not match the input channels", "re-export the model")
        new_nodes = []
        current = in_name
        if flat_first:
            # an MLP flattens its input: reshape raw pixels on the host and threshold the flat vector, so the
            # layer folds over all N elements (PE up to N) and the stream keeps the (c, h, w) order of the weights
            current = _reapply_reshapes(model, chain, current, DataType["UINT8"], "raw", new_nodes)
            channels, vec_shape = int(out_shape[1]), [1]
            if thresholds.shape[0] > 1:  # per input channel -> per flat position (c-major)
                thresholds = np.repeat(thresholds, channels // in_channels, axis=0)
        elif len(in_shape) == 4:
            channels, vec_shape = int(in_channels), [1, in_shape[2], in_shape[3]]
            nhwc = model.make_new_valueinfo_name()
            new_nodes.append(helper.make_node("Transpose", [current], [nhwc], perm=NCHW_TO_NHWC, name="input_to_nhwc"))
            model.set_tensor_shape(nhwc, [in_shape[0], in_shape[2], in_shape[3], in_shape[1]])
            current = nhwc
        else:
            channels, vec_shape = int(in_channels), [int(np.prod(in_shape[:-1]))]
        t_name = model.make_new_valueinfo_name()
        model.set_initializer(t_name, thresholds.astype(np.float32))
        q_out = model.make_new_valueinfo_name()
        new_nodes.append(helper.make_node(
            "Thresholding", [current, t_name], [q_out], domain=DOMAIN, name="input_quant",
            channels=channels, vec_shape=vec_shape, in_dtype="UINT8", out_dtype=info.dtype.name, out_base=int(base),
            source_tensor=quant.output[0], source_scale=float(info.scale),
            source_layout="NCHW" if len(out_shape) == 4 else "NC",
        ))
        model.set_tensor_datatype(q_out, info.dtype)
        current = q_out
        if len(in_shape) == 4 and not flat_first:
            nchw = model.make_new_valueinfo_name()
            new_nodes.append(helper.make_node("Transpose", [current], [nchw], perm=NHWC_TO_NCHW, name="input_to_nchw"))
            model.set_tensor_datatype(nchw, info.dtype)
            current = nchw
            # re-apply the chain's reshapes on the integer tensor (they do not change values)
            current = _reapply_reshapes(model, chain, current, info.dtype, "int", new_nodes)
        # restore the float value scale * q under the quantiser's output name
        if info.scale != 1.0:
            s_name = model.make_new_valueinfo_name()
            model.set_initializer(s_name, np.asarray(info.scale, dtype=np.float32))
            new_nodes.append(helper.make_node("Mul", [current, s_name], [quant.output[0]], name="input_scale"))
        else:
            new_nodes.append(helper.make_node("Identity", [current], [quant.output[0]], name="input_identity"))
        insert_at = list(model.graph.node).index(chain[0])
        for node in chain:
            model.graph.node.remove(node)
        for offset, node in enumerate(new_nodes):
            model.graph.node.insert(insert_at + offset, node)
        return model.transform(InferShapes()).transform(InferDataTypes()), False
