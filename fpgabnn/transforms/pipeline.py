"""The lowering pipeline: tidy QONNX -> hardware-layer graph, and the split into host and accelerator parts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes

from fpgabnn.errors import UserError
from fpgabnn.hw.base import DOMAIN
from fpgabnn.transforms.layout import (
    AbsorbTransposeIntoFlatten,
    CancelTransposePairs,
    RemoveDeadNodes,
    RemoveIdentities,
    RemoveStreamReshapes,
)
from fpgabnn.transforms.lower_input import FlattenBeforeInputQuantizer, LowerInputQuantizer
from fpgabnn.transforms.lower_matmul import LowerMatrixLayers
from fpgabnn.transforms.lower_pool import LowerMaxPool
from fpgabnn.transforms.tidy import tidy


class PrependPixelScale(Transformation):
    """For models trained on [0, 1] inputs (Brevitas' BNN-PYNQ examples): input / 255 in front, so the
    accelerator still receives raw UINT8 pixels."""

    def apply(self, model):
        old_in = model.graph.input[0].name
        scaled = model.make_new_valueinfo_name()
        for consumer in model.find_consumers(old_in):
            for i, name in enumerate(consumer.input):
                if name == old_in:
                    consumer.input[i] = scaled
        c_name = model.make_new_valueinfo_name()
        model.set_initializer(c_name, np.asarray(255.0, dtype=np.float32))
        model.graph.node.insert(0, helper.make_node("Div", [old_in, c_name], [scaled], name="pixel_scale"))
        return model.transform(InferShapes()), False


#: the lowering steps in order; each preserves the model's function exactly (tests check every step)
LOWERING_STEPS = (
    ("flatten_before_input_quantizer", FlattenBeforeInputQuantizer),
    ("lower_input_quantizer", LowerInputQuantizer),
    ("lower_matrix_layers", LowerMatrixLayers),
    ("lower_maxpool", LowerMaxPool),
    ("remove_dead_nodes", RemoveDeadNodes),
    ("remove_identities", RemoveIdentities),
    ("cancel_transposes", CancelTransposePairs),
    ("absorb_transpose_into_flatten", AbsorbTransposeIntoFlatten),
    ("remove_stream_reshapes", RemoveStreamReshapes),
)


PIXEL_RANGES = ("raw", "unit")


def prepare_source(model: ModelWrapper, pixel_range: str = "raw") -> ModelWrapper:
    """The reference the accelerator must match: tidied QONNX taking raw 0..255 pixels."""
    if pixel_range not in PIXEL_RANGES:
        raise UserError(f"unknown pixel range '{pixel_range}'; use one of {', '.join(PIXEL_RANGES)}")
    model = tidy(model)
    if pixel_range == "unit":
        model = model.transform(PrependPixelScale())
    return model


def lower_to_hw(source: ModelWrapper, steps=LOWERING_STEPS) -> ModelWrapper:
    """Prepared source (see prepare_source) -> graph whose accelerator part is a chain of fpgabnn.hw layers."""
    model = source
    for _name, step in steps:
        model = model.transform(step())
    model = model.transform(InferShapes()).transform(InferDataTypes()).transform(GiveUniqueNodeNames())
    model = model.transform(GiveReadableTensorNames())  # reproducible names in model_hw.onnx
    split_dataflow(model)  # validates the partition
    return model


@dataclass
class DataflowSplit:
    """Node lists of the host pre-processing, the accelerator chain and the host post-processing."""

    pre: list
    hw: list
    post: list

    @property
    def hw_input(self) -> str:
        return self.hw[0].input[0]

    @property
    def hw_output(self) -> str:
        return self.hw[-1].output[0]


def split_dataflow(model: ModelWrapper) -> DataflowSplit:
    nodes = list(model.graph.node)
    hw_idx = [i for i, n in enumerate(nodes) if n.domain == DOMAIN]
    if not hw_idx:
        raise UserError("no layer of the model could be mapped to hardware; check that it is a binary network")
    first, last = hw_idx[0], hw_idx[-1]
    for node in nodes[first : last + 1]:
        if node.domain != DOMAIN:
            raise UserError(f"node '{node.name}' ({node.op_type}) sits between hardware layers and has no hardware "
                            "implementation; remove it from the model or report it as a missing feature")
    hw = nodes[first : last + 1]
    for a, b in zip(hw, hw[1:]):
        if b.input[0] != a.output[0] or len(model.find_consumers(a.output[0])) != 1:
            raise UserError(f"hardware layers '{a.name}' and '{b.name}' do not form a single stream; "
                            "branching networks (residual connections) are not supported yet")
    return DataflowSplit(pre=nodes[:first], hw=hw, post=nodes[last + 1 :])
