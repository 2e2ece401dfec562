"""What a quantiser node produces: its integer datatype and the float scale of one integer step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper

from fpgabnn.core.graph import node_error

QUANT_OPS = ("BipolarQuant", "Quant")


@dataclass(frozen=True)
class QuantInfo:
    """float output = scale * q, q an integer of ``dtype`` (BIPOLAR: q in {-1, +1})."""

    dtype: DataType
    scale: float


def is_power_of_two(x: float) -> bool:
    if x <= 0:
        return False
    mantissa, _ = np.frexp(np.float64(x))
    return mantissa == 0.5


def quantizer_info(model: ModelWrapper, node) -> QuantInfo:
    """Datatype and per-tensor scale of a BipolarQuant/Quant node; refuses per-channel or zero-point quantisers."""
    scale = model.get_initializer(node.input[1])
    if scale is None or np.asarray(scale).size != 1:
        raise node_error(node, "the quantiser scale must be a single constant",
                         "export with per-tensor activation scaling (fpgabnn's layers do this)")
    scale = float(np.asarray(scale).reshape(()))
    if node.op_type == "BipolarQuant":
        return QuantInfo(DataType["BIPOLAR"], scale)
    zero_point = model.get_initializer(node.input[2])
    bit_width = model.get_initializer(node.input[3])
    if zero_point is None or np.any(zero_point != 0):
        raise node_error(node, "the quantiser has a non-zero zero-point", "use a symmetric (zero-point 0) quantiser")
    if bit_width is None or np.asarray(bit_width).size != 1:
        raise node_error(node, "the quantiser bit width must be a single constant", "re-export the model")
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    bits = int(np.asarray(bit_width).reshape(()))
    signed = bool(attrs.get("signed", 1))
    dtype = DataType[f"INT{bits}" if signed else f"UINT{bits}"]
    return QuantInfo(dtype, scale)


def dtype_for_range(lo: int, hi: int) -> DataType:
    """The narrowest qonnx INTn/UINTn datatype that holds every integer in [lo, hi]."""
    if lo >= 0:
        bits = max(1, int(hi).bit_length())
        return DataType[f"UINT{bits}"]
    bits = max(int(hi).bit_length(), int(-lo - 1).bit_length()) + 1
    return DataType[f"INT{bits}"]
