"""Common base of the infrastructure nodes (width converters, FIFOs, AXI-Stream ports): inserted by
transformations between the compute layers, identity on values, no folding and no provenance."""

from __future__ import annotations

import numpy as np

from fpgabnn.hw.base import HWLayer


class InfrastructureLayer(HWLayer):
    """A stream node that moves the tensor ``shape`` of datatype ``dtype`` unchanged."""

    INFRASTRUCTURE = True
    HAS_PROVENANCE = False

    def layer_attrs(self):
        return {
            # the tensor on the stream (NHWC or [1, C]) and its element datatype
            "shape": ("ints", True, [1]),
            "dtype": ("s", True, ""),
            **self.infrastructure_attrs(),
        }

    def infrastructure_attrs(self) -> dict:
        return {}

    def in_shape(self):
        return tuple(self.get_nodeattr("shape"))

    def out_shape(self):
        return self.in_shape()

    def elems(self) -> int:
        return int(np.prod(self.in_shape()))

    def in_dtype(self):
        return self.dtype_attr("dtype")

    def out_dtype(self):
        return self.in_dtype()

    def folding_options(self):
        return [{}]

    def execute_node(self, context, graph):
        node = self.onnx_node
        context[node.output[0]] = np.asarray(context[node.input[0]], dtype=np.float32)
