"""Lower MaxPool on quantised (bipolar or integer) tensors to the streaming MaxPool layer (OR on bits)."""

from __future__ import annotations

from onnx import helper
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

from fpgabnn.core.graph import node_error
from fpgabnn.hw.base import DOMAIN
from fpgabnn.transforms.lower_input import NCHW_TO_NHWC, NHWC_TO_NCHW


class LowerMaxPool(Transformation):
    """MaxPool(NCHW) on an integer tensor  ==>  Transpose -> MaxPool (hw, NHWC) -> Transpose."""

    def apply(self, model):
        from fpgabnn.transforms.layout import MoveScalarMulPastLayout, provenance

        model = model.transform(MoveScalarMulPastLayout())
        for node in model.graph.node:
            if node.op_type != "MaxPool" or node.domain == DOMAIN:
                continue
            dtype = model.get_tensor_datatype(node.input[0])
            if not dtype.is_integer():
                raise node_error(node, "max-pool of a float tensor", "pool after the binary activation")
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            auto_pad = attrs.get("auto_pad", b"NOTSET")
            auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
            if auto_pad not in ("NOTSET", "VALID") or any(attrs.get("pads", [0])) or attrs.get("ceil_mode", 0) or any(d != 1 for d in attrs.get("dilations", [1, 1])):
                raise node_error(node, "padded, dilated or ceil-mode max-pool is not supported", "use an unpadded pool")
            _, c, h, w = model.get_tensor_shape(node.input[0])
            kernel = list(attrs["kernel_shape"])
            stride = list(attrs.get("strides", [1] * len(kernel)))  # ONNX default stride is 1
            a, b, out = model.make_new_valueinfo_name(), model.make_new_valueinfo_name(), node.output[0]
            src_name, src_scale = provenance(model, out)  # a scalar Mul may have been moved past the pool
            new = [
                helper.make_node("Transpose", [node.input[0]], [a], perm=NCHW_TO_NHWC, name=f"{node.name}_to_nhwc"),
                helper.make_node("MaxPool", [a], [b], domain=DOMAIN, name=f"{node.name}_hw", ifm_dim=[h, w],
                                 channels=c, kernel=kernel, stride=stride, dtype=dtype.name,
                                 source_tensor=src_name, source_scale=src_scale, source_layout="NCHW"),
                helper.make_node("Transpose", [b], [out], perm=NHWC_TO_NCHW, name=f"{node.name}_to_nchw"),
            ]
            index = list(model.graph.node).index(node)
            model.graph.node.remove(node)
            for offset, n in enumerate(new):
                model.graph.node.insert(index + offset, n)
            model = model.transform(InferShapes()).transform(InferDataTypes())
            return model, True
        return model, False
