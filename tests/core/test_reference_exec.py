"""The lowered graph is executed as computed: qonnx's rounding of integer-annotated tensors would turn a
fractional (wrong) value into a plausible integer; fpgabnn's reference leaves it for the comparison to catch."""

from __future__ import annotations

import os

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.util.basic import qonnx_make_model

from fpgabnn.sim.reference import execute_lowered


def _identity_int8() -> ModelWrapper:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_tensor_datatype("y", DataType["INT8"])
    return model


def test_fractional_values_are_not_rounded_away():
    model = _identity_int8()
    image = np.array([1.0, 2.4, -3.0], dtype=np.float32)
    before = os.environ.get("SANITIZE_QUANT_TENSORS")
    ctx = execute_lowered(model, image)
    np.testing.assert_array_equal(ctx["y"], image[None])  # 2.4 stays 2.4: a mismatch, not a silent 2
    assert os.environ.get("SANITIZE_QUANT_TENSORS") == before  # the process setting is restored
    with pytest.raises(Exception, match="Rounding error"):  # qonnx's default would have refused/rounded it
        execute_onnx(model, {"x": image[None]})
