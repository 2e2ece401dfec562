"""``--host-threshold``: the input Thresholding layer runs on the host, so the accelerator's stream carries its
output (bits for a bipolar first layer) instead of raw 8-bit pixels: TFC needs 13 beats of 64 bits per frame
instead of 98."""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from fpgabnn.errors import UserError
from fpgabnn.hw.base import BIPOLAR, dtype_range, elem_kind

#: qonnx's domain of MultiThreshold (executable by execute_onnx, outside the accelerator)
QONNX_DOMAIN = "qonnx.custom_op.general"
#: metadata property holding the provenance of the host threshold's output
HOST_PROVENANCE = "fpgabnn_host_threshold"


class MoveInputThresholdToHost(Transformation):
    """[host pre-processing] -> Thresholding (first hardware layer) -> ...  ==>
    [host pre-processing] -> MultiThreshold (qonnx, host) -> ... : the same values, computed before the stream."""

    def apply(self, model):
        import json

        from fpgabnn.transforms.pipeline import split_dataflow

        first = split_dataflow(model).hw[0]
        if first.op_type != "Thresholding":
            raise UserError(f"--host-threshold: the accelerator starts with '{first.name}' ({first.op_type}), not an "
                            "input Thresholding layer; build without --host-threshold")
        if len(split_dataflow(model).hw) == 1:
            raise UserError("--host-threshold: the Thresholding is the only hardware layer; build without it")
        inst = getCustomOp(first)
        out_dt = inst.out_dtype()
        bipolar = out_dt == BIPOLAR
        attrs = {"out_dtype": out_dt.name, "out_scale": 2.0 if bipolar else 1.0,
                 "out_bias": -1.0 if bipolar else float(inst.get_nodeattr("out_base")),
                 "data_layout": "NHWC" if len(inst.in_shape()) == 4 else "NC"}
        node = helper.make_node("MultiThreshold", list(first.input[:2]), list(first.output), domain=QONNX_DOMAIN,
                                name=f"{first.name}_host", **attrs)
        model.set_metadata_prop(HOST_PROVENANCE, json.dumps({
            "source_tensor": inst.get_nodeattr("source_tensor"), "source_scale": inst.get_nodeattr("source_scale"),
            "source_layout": inst.get_nodeattr("source_layout"), "node": first.name}))
        nodes = model.graph.node
        idx = list(nodes).index(first)
        nodes.remove(first)
        nodes.insert(idx, node)
        return model, False


def host_threshold_table(model: ModelWrapper) -> dict:
    """The table of fpgabnn/deploy/driver/host_threshold.py for the host MultiThreshold in front of the
    accelerator: integer thresholds clamped to the input range (x >= T <=> x >= ceil(T) for integer x)."""
    import json

    from fpgabnn.transforms.pipeline import split_dataflow

    split = split_dataflow(model)
    node = model.find_producer(split.hw_input)
    if node is None or node.op_type != "MultiThreshold":
        raise UserError("the model has no host threshold in front of the accelerator; build with --host-threshold")
    thr = model.get_initializer(node.input[1]).astype(np.float64)
    in_dt, out_dt = model.get_tensor_datatype(node.input[0]), model.get_tensor_datatype(node.output[0])
    lo, hi = dtype_range(in_dt)
    inst = getCustomOp(node)
    provenance = json.loads(model.get_metadata_prop(HOST_PROVENANCE) or "{}")
    return {
        "thresholds": np.clip(np.ceil(thr), lo, hi + 1).astype(np.int64),
        "channels": int(model.get_tensor_shape(node.input[0])[-1]),
        "out_base": 0 if out_dt == BIPOLAR else int(inst.get_nodeattr("out_bias")),
        "in_bits": in_dt.bitwidth(), "in_kind": elem_kind(in_dt),
        "out_bits": out_dt.bitwidth(), "out_kind": elem_kind(out_dt),
        **{k: v for k, v in provenance.items() if k != "node"},
    }
