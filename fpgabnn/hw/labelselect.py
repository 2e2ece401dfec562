"""Top-k label selection on the last layer's integer outputs; ties go to the lower index (as numpy's
stable argsort of the negated values, and as argmax)."""

from __future__ import annotations

import math

import numpy as np
from qonnx.core.datatype import DataType

from fpgabnn.hw.base import HWLayer, divisors


def labelselect_reference(x: np.ndarray, k: int) -> np.ndarray:
    """x [N, C] -> indices [N, k] of the k largest values, ties toward the lower index."""
    return np.argsort(-x.astype(np.float64), axis=-1, kind="stable")[..., :k]


class LabelSelect(HWLayer):
    def layer_attrs(self):
        return {
            "channels": ("i", True, 0),
            "k": ("i", False, 1),
            "in_dtype": ("s", True, ""),
            "pe": ("i", False, 1),
        }

    def in_shape(self):
        return (1, self.get_nodeattr("channels"))

    def out_shape(self):
        return (1, self.get_nodeattr("k"))

    def in_dtype(self):
        return self.dtype_attr("in_dtype")

    def out_dtype(self):
        bits = max(1, math.ceil(math.log2(self.get_nodeattr("channels"))))
        return DataType[f"UINT{bits}"]

    def in_elems_per_word(self):
        return self.get_nodeattr("pe")

    def out_elems_per_word(self):
        return 1

    def exp_cycles(self):
        return self.in_words() + self.get_nodeattr("k")

    def check_folding(self):
        if self.get_nodeattr("channels") % self.get_nodeattr("pe"):
            raise ValueError(f"LabelSelect {self.onnx_node.name}: PE must divide channels")

    def folding_options(self):
        return [{"pe": p} for p in divisors(self.get_nodeattr("channels"))]

    def lut_estimate(self):
        """An insertion-sorted top-k register file: k comparators of the input width per PE lane."""
        bits = self.in_dtype().bitwidth()
        return int(50 + self.get_nodeattr("pe") * self.get_nodeattr("k") * 2 * bits)

    def ff_estimate(self):
        bits = self.in_dtype().bitwidth() + self.out_dtype().bitwidth()
        return int(30 + self.get_nodeattr("k") * bits)

    def bram18_estimate(self):
        return 0

    def execute_node(self, context, graph):
        node = self.onnx_node
        x = context[node.input[0]]
        out = labelselect_reference(x.reshape(x.shape[0], -1), self.get_nodeattr("k"))
        context[node.output[0]] = out.astype(np.float32)
