"""Common base of fpgabnn's hardware layers (qonnx custom ops in domain ``fpgabnn.hw``).

A hardware layer is a node of a streaming dataflow accelerator. Tensors are NHWC and hold values in the
*value domain* (bipolar tensors are +-1, integer tensors integers); a bipolar value is one bit in hardware,
bit = (v + 1) / 2. Each layer owns its datatypes, its folding (elements per stream word), its expected
cycle count, its resource estimates, and a numpy reference in ``execute_node`` that qonnx runs.
"""

from __future__ import annotations

import math
from abc import abstractmethod

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp

DOMAIN = "fpgabnn.hw"


def divisors(n: int) -> list[int]:
    """All divisors of ``n`` in ascending order (legal PE/SIMD values for a dimension of size n)."""
    return [d for d in range(1, n + 1) if n % d == 0]


class HWLayer(CustomOp):
    """Abstract streaming layer: shapes, stream folding, cycles and estimates are derived, never stored."""

    #: attributes every hardware layer has: (type, required, default[, allowed values])
    COMMON_ATTRS = {
        # depth of the FIFO on this layer's output stream (elements = stream words)
        "out_fifo_depth": ("i", False, 2),
        # provenance for verification: the source-model tensor this layer's output equals (value = scale * out),
        # and whether that tensor is NCHW (the stream is NHWC) or the top-k of the source output (TOPK)
        "source_tensor": ("s", False, ""),
        "source_scale": ("f", False, 1.0),
        "source_layout": ("s", False, "", {"", "NCHW", "NC", "TOPK"}),
    }

    def get_nodeattr_types(self):
        return {**self.COMMON_ATTRS, **self.layer_attrs()}

    @abstractmethod
    def layer_attrs(self) -> dict:
        """Attribute declarations of this layer."""

    # ---- shapes and datatypes -------------------------------------------------------------------
    @abstractmethod
    def in_shape(self) -> tuple[int, ...]:
        """Unfolded input shape (NHWC or [1, C])."""

    @abstractmethod
    def out_shape(self) -> tuple[int, ...]:
        """Unfolded output shape."""

    @abstractmethod
    def in_dtype(self) -> DataType: ...

    @abstractmethod
    def out_dtype(self) -> DataType: ...

    @abstractmethod
    def in_elems_per_word(self) -> int:
        """Elements carried by one input stream word (the layer's input folding)."""

    @abstractmethod
    def out_elems_per_word(self) -> int:
        """Elements carried by one output stream word."""

    def in_stream_width(self) -> int:
        return self.in_elems_per_word() * self.in_dtype().bitwidth()

    def out_stream_width(self) -> int:
        return self.out_elems_per_word() * self.out_dtype().bitwidth()

    def in_words(self) -> int:
        return int(np.prod(self.in_shape())) // self.in_elems_per_word()

    def out_words(self) -> int:
        return int(np.prod(self.out_shape())) // self.out_elems_per_word()

    # ---- performance and cost -------------------------------------------------------------------
    @abstractmethod
    def exp_cycles(self) -> int:
        """Cycles to process one input frame at II=1 (the layer's initiation interval in the pipeline)."""

    @abstractmethod
    def folding_options(self) -> list[dict]:
        """Legal folding attribute settings, cheapest (fewest parallel units) first."""

    def lut_estimate(self) -> int:
        raise NotImplementedError(f"{self.onnx_node.op_type} has no LUT estimate")

    def bram18_estimate(self) -> int:
        raise NotImplementedError(f"{self.onnx_node.op_type} has no BRAM estimate")

    def ff_estimate(self) -> int:
        raise NotImplementedError(f"{self.onnx_node.op_type} has no FF estimate")

    def dsp_estimate(self) -> int:
        return 0

    def estimates(self) -> dict:
        return {
            "cycles": self.exp_cycles(),
            "LUT": self.lut_estimate(),
            "FF": self.ff_estimate(),
            "BRAM18": self.bram18_estimate(),
            "DSP": self.dsp_estimate(),
        }

    # ---- qonnx CustomOp contract ----------------------------------------------------------------
    def make_shape_compatible_op(self, model):
        return self.make_const_shape_op(list(self.out_shape()))

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], self.out_dtype())

    def verify_node(self):
        for name, (_, required, _default, *_rest) in self.get_nodeattr_types().items():
            if required:
                self.get_nodeattr(name)
        self.check_folding()

    def check_folding(self) -> None:
        """Raise ValueError when the folding attributes are illegal for the layer's shape."""

    def dtype_attr(self, name: str) -> DataType:
        return DataType[self.get_nodeattr(name)]


def bram18_for_memory(depth: int, width: int) -> int:
    """RAMB18 count for a ``depth`` x ``width`` simple-dual-port memory.

    Aspect ratios of a RAMB18E1 in SDP/TDP mode from Xilinx UG473 (7 Series Memory Resources), Table 1-7:
    16K x 1, 8K x 2, 4K x 4, 2K x 9, 1K x 18, 512 x 36. The cheapest tiling over these shapes is taken.
    Memories of at most 64 words (or 1 Kibit) are assumed to map to LUTRAM (returns 0), as Vivado does for
    ``ram_style=auto``.
    """
    if depth <= 0 or width <= 0 or depth <= 64 or depth * width <= 1024:
        return 0
    shapes = [(16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)]
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in shapes)


def lutram_luts(depth: int, width: int) -> int:
    """LUTs for a distributed memory: one RAM64X1S (a LUT6) per 64 words x 1 bit (UG474, CLB chapter)."""
    if bram18_for_memory(depth, width) > 0 or depth <= 0:
        return 0
    return math.ceil(depth / 64) * width
