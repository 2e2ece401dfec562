"""Top-k label selection on the last layer's integer outputs; ties go to the lower index (as numpy's
stable argsort of the negated values, and as argmax)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType

from fpgabnn.errors import UserError
from fpgabnn.hw.base import HWLayer, HWParams, divisors, resources


def labelselect_reference(x: np.ndarray, k: int) -> np.ndarray:
    """x [N, C] -> indices [N, k] of the k largest values, ties toward the lower index."""
    return np.argsort(-x.astype(np.float64), axis=-1, kind="stable")[..., :k]


@dataclass(frozen=True, eq=False)
class LabelSelectParams(HWParams):
    c: int = 1
    pe: int = 1
    k: int = 1

    def resources(self):
        """An insertion-sorted top-k register file: k comparators of the input width per PE lane."""
        lut = 50 + self.pe * self.k * 2 * self.in_bits
        ff = 30 + self.k * (self.in_bits + self.out_bits)
        return resources(lut, ff)


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

    def hw_params(self, model=None, arrays=True):
        node = self.onnx_node
        c, pe, k = self.get_nodeattr("channels"), self.get_nodeattr("pe"), self.get_nodeattr("k")
        if c % pe or not 1 <= k <= c:
            raise UserError(f"node '{node.name}': need PE | channels and 1 <= k <= channels (C={c}, PE={pe}, k={k})")
        out_dt = self.out_dtype()
        if out_dt.signed() or out_dt.max() < c - 1:
            raise UserError(f"node '{node.name}': index type {out_dt.name} cannot hold {c - 1}")
        return LabelSelectParams(**self.base_params(), c=c, pe=pe, k=k)

    def execute_node(self, context, graph):
        node = self.onnx_node
        x = context[node.input[0]]
        out = labelselect_reference(x.reshape(x.shape[0], -1), self.get_nodeattr("k"))
        context[node.output[0]] = out.astype(np.float32)
