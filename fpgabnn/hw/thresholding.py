"""Multi-threshold unit: integer in, ``out_base + #(x >= T[c, i])`` out (FINN's MultiThreshold convention).

Used for the input quantiser: raw UINT8 pixels through the model's normalisation and first quantiser
become INT8 (or bipolar) values; the thresholds are found by evaluating the source graph on every input value.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.general.multithreshold import multithreshold

from fpgabnn.hw.base import HWLayer, divisors, lutram_luts


def thresholding_reference(x: np.ndarray, thresholds: np.ndarray, out_base: int, bipolar: bool) -> np.ndarray:
    """count(x >= T) along the last (channel) axis, shifted by out_base; bipolar maps the count {0,1} to -1/+1."""
    count = multithreshold(x.astype(np.float64), thresholds.astype(np.float64), channels_last=True)
    if bipolar:
        return 2 * count - 1
    return count + out_base


class Thresholding(HWLayer):
    def layer_attrs(self):
        return {
            "channels": ("i", True, 0),
            "pe": ("i", False, 1),
            # leading dimensions, e.g. [1, H, W]
            "vec_shape": ("ints", True, [1]),
            "in_dtype": ("s", True, ""),
            "out_dtype": ("s", True, ""),
            "out_base": ("i", False, 0),
        }

    def in_shape(self):
        return tuple(self.get_nodeattr("vec_shape")) + (self.get_nodeattr("channels"),)

    def out_shape(self):
        return self.in_shape()

    def in_dtype(self):
        return self.dtype_attr("in_dtype")

    def out_dtype(self):
        return self.dtype_attr("out_dtype")

    def in_elems_per_word(self):
        return self.get_nodeattr("pe")

    def out_elems_per_word(self):
        return self.get_nodeattr("pe")

    def exp_cycles(self):
        return int(np.prod(self.in_shape())) // self.get_nodeattr("pe")

    def check_folding(self):
        c, pe = self.get_nodeattr("channels"), self.get_nodeattr("pe")
        if c % pe:
            raise ValueError(f"Thresholding {self.onnx_node.name}: PE={pe} must divide channels={c}")

    def folding_options(self):
        return [{"pe": p} for p in divisors(self.get_nodeattr("channels"))]

    def lut_estimate(self):
        """A LUT6-based table of 2^in_bits entries per PE when the input is at most 8 bits wide
        (one LUT6 per 64 entries per output bit), else one comparator per threshold per PE."""
        pe = self.get_nodeattr("pe")
        ib, ob = self.in_dtype().bitwidth(), self.out_dtype().bitwidth()
        if ib <= 8:
            return 20 + pe * lutram_luts(2**ib, ob) if 2**ib <= 64 else 20 + pe * (2**ib // 64) * ob
        return 20 + pe * (2**ob - 1) * ib

    def ff_estimate(self):
        return 20 + self.in_stream_width() + self.out_stream_width()

    def bram18_estimate(self):
        return 0

    def execute_node(self, context, graph):
        node = self.onnx_node
        x = context[node.input[0]]
        t = context[node.input[1]]
        out = thresholding_reference(
            x, t, self.get_nodeattr("out_base"), self.out_dtype() == DataType["BIPOLAR"]
        )
        context[node.output[0]] = out.astype(np.float32)
