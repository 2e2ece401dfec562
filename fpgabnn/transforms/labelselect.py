"""Append a top-k LabelSelect to the accelerator when the host's float tail cannot change the ranking."""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

from fpgabnn.core.graph import evaluate_chain
from fpgabnn.errors import UserError
from fpgabnn.hw.base import DOMAIN


class InsertLabelSelect(Transformation):
    """hw chain -> float tail -> output  ==>  hw chain -> LabelSelect(k) -> output (indices).

    Allowed only when the tail uses scalar constants and is strictly increasing over the accumulator's range, so
    the integer ranking in hardware equals the ranking of the source's float outputs (ties included).
    """

    def __init__(self, k: int):
        super().__init__()
        self.k = k

    def apply(self, model):
        from fpgabnn.transforms.pipeline import split_dataflow

        split = split_dataflow(model)
        last = split.hw[-1]
        channels = model.get_tensor_shape(last.output[0])[-1]
        if not 1 <= self.k <= channels:
            raise UserError(f"--topk {self.k} is outside 1..{channels} (the number of classes)")
        acc = model.get_tensor_datatype(last.output[0])
        if last.op_type != "MVAU" or acc == DataType["BIPOLAR"]:
            raise UserError("--topk needs a last layer with integer outputs (no activation after the last layer)")
        for node in split.post:
            for name in node.input[1:]:
                const = model.get_initializer(name)
                if const is None or const.size != 1:
                    raise UserError(f"--topk: node '{node.name}' ({node.op_type}) after the last layer is per-class, "
                                    "so hardware top-k could rank differently; build without --topk")
        if split.post:
            values = np.arange(int(acc.min()), int(acc.max()) + 1, dtype=np.float32).reshape(-1, 1)
            mapped = evaluate_chain(model, split.post, split.hw_output, values).reshape(-1)
            if not np.all(np.diff(mapped) > 0):
                raise UserError("--topk: the float tail after the last layer is not strictly increasing, so hardware "
                                "top-k could rank differently; build without --topk")
        out = model.graph.output[0].name
        for node in split.post:
            model.graph.node.remove(node)
        model.graph.node.append(helper.make_node(
            "LabelSelect", [split.hw_output], [out], domain=DOMAIN, name="LabelSelect_0", channels=int(channels),
            k=int(self.k), in_dtype=acc.name, source_tensor=out, source_layout="TOPK",
        ))
        model.set_tensor_shape(out, [1, self.k])
        return model.transform(InferShapes()).transform(InferDataTypes()), False
