"""Common base of fpgabnn's hardware layers (qonnx custom ops in domain ``fpgabnn.hw``).

A hardware layer is a node of a streaming dataflow accelerator. Tensors are NHWC and hold values in the
*value domain* (bipolar tensors are +-1, integer tensors integers); a bipolar value is one bit in hardware,
bit = (v + 1) / 2. Each layer owns its datatypes, its folding (elements per stream word), its expected
cycle count, its resource estimates, and a numpy reference in ``execute_node`` that qonnx runs.
"""

from __future__ import annotations

import dataclasses
import math
from abc import abstractmethod
from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp

from fpgabnn.core.names import safe_identifier

DOMAIN = "fpgabnn.hw"
BIPOLAR = DataType["BIPOLAR"]


def elem_kind(dt: DataType) -> str:
    """The element kind of fpgabnn/deploy/driver/frames.py: bipolar, signed or unsigned."""
    return "bipolar" if dt == BIPOLAR else ("signed" if dt.signed() else "unsigned")


def unsigned_bits(hi: int) -> int:
    """Bits of the narrowest unsigned type holding 0..hi."""
    return max(1, int(hi).bit_length())


def signed_bits(lo: int, hi: int) -> int:
    """Bits of the narrowest two's-complement type holding lo..hi."""
    b = 1
    while not (-(1 << (b - 1)) <= lo and hi <= (1 << (b - 1)) - 1):
        b += 1
    return b


def node_identifier(node) -> str:
    """The C/Verilog identifier of a node (its name made safe)."""
    return safe_identifier(node.name or f"{node.op_type}_{node.output[0]}", prefix="layer")


def resources(lut: int = 0, ff: int = 0, bram18: int = 0, dsp: int = 0) -> dict:
    return {"LUT": int(lut), "FF": int(ff), "BRAM18": int(bram18), "DSP": int(dsp)}


@dataclass(frozen=True, eq=False)
class HWParams:
    """Backend-neutral hardware parameters of one node, built once by ``HWLayer.hw_params``; the estimates,
    the HLS context and the RTL context are all made from it (CONTRACTS.md A).

    ``cycles`` is the node's cycles per frame at II=1; widths are stream word bits, words are per frame."""

    name: str
    op: str
    in_width: int
    out_width: int
    in_words: int
    out_words: int
    cycles: int
    in_bits: int
    out_bits: int
    in_kind: str
    out_kind: str

    def resources(self) -> dict:
        """{LUT, FF, BRAM18, DSP} of this node, from these parameters only."""
        raise NotImplementedError(f"{self.op} has no resource estimate")

    def estimates(self) -> dict:
        return {"cycles": int(self.cycles), **self.resources()}

    def as_dict(self) -> dict:
        """The plain fields (arrays left out), e.g. for a manifest."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if not isinstance(getattr(self, f.name), np.ndarray) and getattr(self, f.name) is not None}


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

    #: infrastructure nodes (width converters, FIFOs, ports) are inserted by transformations, carry no
    #: provenance and have no folding; compute layers do
    INFRASTRUCTURE = False
    #: whether the lowering records which source tensor this layer's output equals (verify checks it)
    HAS_PROVENANCE = True

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

    @abstractmethod
    def hw_params(self, model=None, arrays: bool = True) -> HWParams:
        """The node's hardware parameters. ``model`` gives the initializers (weights, thresholds); with
        ``arrays=False`` (or no model) the array fields are None, which is all a cost model needs."""

    def base_params(self) -> dict:
        """The HWParams fields every node derives the same way from its shapes and datatypes."""
        in_dt, out_dt = self.in_dtype(), self.out_dtype()
        return {
            "name": node_identifier(self.onnx_node), "op": self.onnx_node.op_type,
            "in_width": self.in_stream_width(), "out_width": self.out_stream_width(),
            "in_words": self.in_words(), "out_words": self.out_words(), "cycles": int(self.exp_cycles()),
            "in_bits": in_dt.bitwidth(), "out_bits": out_dt.bitwidth(),
            "in_kind": elem_kind(in_dt), "out_kind": elem_kind(out_dt),
        }

    def estimates(self, model=None) -> dict:
        """{cycles, LUT, FF, BRAM18, DSP}, computed from the hardware parameters."""
        return self.hw_params(model, arrays=False).estimates()

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


def initializer(model, node, idx: int, what: str) -> np.ndarray:
    """Constant input ``idx`` of ``node``; UserError when it is not an initializer."""
    from fpgabnn.errors import UserError

    value = model.get_initializer(node.input[idx]) if model is not None else None
    if value is None:
        raise UserError(f"node '{node.name}' ({node.op_type}): {what} '{node.input[idx]}' is not a constant; "
                        "fold it into an initializer before code generation")
    return np.asarray(value)


def fold_rows(table: np.ndarray, pe: int) -> np.ndarray:
    """[ROWS_TOTAL, ...] per-channel rows -> [PE, ROWS, ...] with row r of PE p = channel r*PE + p;
    a single shared row is repeated for every PE (each PE reads its own copy)."""
    if table.shape[0] == 1:
        return np.repeat(table[None], pe, axis=0)
    rows = table.shape[0] // pe
    return table.reshape((rows, pe) + table.shape[1:]).swapaxes(0, 1)


def dtype_range(dt: DataType) -> tuple[int, int]:
    return int(dt.min()), int(dt.max())
