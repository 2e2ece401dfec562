"""Max-pool on a stream: OR of bits for bipolar activations (docs/methods.md section 6), max for integers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fpgabnn.errors import UserError
from fpgabnn.hw.base import HWLayer, HWParams, bram18_for_memory, divisors, lutram_luts, resources


def maxpool_reference(x: np.ndarray, kernel, stride) -> np.ndarray:
    """x [N, H, W, C] -> [N, OH, OW, C], no padding, floor mode."""
    (kh, kw), (sh, sw) = kernel, stride
    n, h, w, c = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.full((n, oh, ow, c), -np.inf)
    for i in range(kh):
        for j in range(kw):
            out = np.maximum(out, x[:, i : i + sh * oh : sh, j : j + sw * ow : sw, :])
    return out


@dataclass(frozen=True, eq=False)
class MaxPoolParams(HWParams):
    """overlap: kernel > stride in some direction (then the kernel is a sliding window plus a reduction)."""

    h: int = 1
    w: int = 1
    c: int = 1
    pe: int = 1
    kh: int = 1
    kw: int = 1
    sh: int = 1
    sw: int = 1
    oh: int = 1
    ow: int = 1
    overlap: bool = False

    def row_buffer(self) -> tuple[int, int]:
        """(depth, width) of the buffer: one output row of partial maxima (non-overlapping), or the sliding
        window's KH + SH input rows (overlapping)."""
        cf = self.c // self.pe
        if self.overlap:
            return (self.kh + self.sh) * self.w * cf, self.in_width
        return self.ow * cf, self.in_width

    def resources(self):
        """The buffer in RAMB18/LUTRAM (UG473/UG474) plus one comparator per PE lane (an OR for bits) and the
        C/PE-word register chain of the running maxima."""
        depth, width = self.row_buffer()
        cmp = self.pe * self.in_bits * (1 if self.in_bits == 1 else 2)
        lut = 60 + cmp + lutram_luts(depth, width)
        ff = 40 + 2 * self.in_width + (self.c // self.pe) * self.in_width
        return resources(lut, ff, bram18_for_memory(depth, width))


class MaxPool(HWLayer):
    def layer_attrs(self):
        return {
            "ifm_dim": ("ints", True, [1, 1]),
            "channels": ("i", True, 0),
            "kernel": ("ints", True, [2, 2]),
            "stride": ("ints", True, [2, 2]),
            "dtype": ("s", True, ""),
            "pe": ("i", False, 1),
        }

    def ofm_dim(self):
        (h, w), (kh, kw), (sh, sw) = (self.get_nodeattr(a) for a in ("ifm_dim", "kernel", "stride"))
        return (h - kh) // sh + 1, (w - kw) // sw + 1

    def in_shape(self):
        return (1, *self.get_nodeattr("ifm_dim"), self.get_nodeattr("channels"))

    def out_shape(self):
        return (1, *self.ofm_dim(), self.get_nodeattr("channels"))

    def in_dtype(self):
        return self.dtype_attr("dtype")

    def out_dtype(self):
        return self.in_dtype()

    def in_elems_per_word(self):
        return self.get_nodeattr("pe")

    def out_elems_per_word(self):
        return self.get_nodeattr("pe")

    def exp_cycles(self):
        """Non-overlapping windows stream the input once; overlapping ones (kernel > stride) are generated as
        a sliding window and reduced, one window element per cycle (the HLS kernel's two modes)."""
        (kh, kw), (sh, sw) = self.get_nodeattr("kernel"), self.get_nodeattr("stride")
        if kh > sh or kw > sw:
            oh, ow = self.ofm_dim()
            return oh * ow * kh * kw * self.get_nodeattr("channels") // self.get_nodeattr("pe")
        return self.in_words()

    def check_folding(self):
        if self.get_nodeattr("channels") % self.get_nodeattr("pe"):
            raise ValueError(f"MaxPool {self.onnx_node.name}: PE must divide channels")

    def folding_options(self):
        return [{"pe": p} for p in divisors(self.get_nodeattr("channels"))]

    def hw_params(self, model=None, arrays=True):
        node = self.onnx_node
        (h, w), (kh, kw), (sh, sw) = (self.get_nodeattr(a) for a in ("ifm_dim", "kernel", "stride"))
        c, pe = self.get_nodeattr("channels"), self.get_nodeattr("pe")
        if c % pe:
            raise UserError(f"node '{node.name}': PE={pe} must divide channels={c}")
        if h < kh or w < kw:
            raise UserError(f"node '{node.name}': pooling window {kh}x{kw} is larger than the {h}x{w} input")
        oh, ow = self.ofm_dim()
        return MaxPoolParams(**self.base_params(), h=h, w=w, c=c, pe=pe, kh=kh, kw=kw, sh=sh, sw=sw, oh=oh, ow=ow,
                             overlap=kh > sh or kw > sw)

    def execute_node(self, context, graph):
        node = self.onnx_node
        out = maxpool_reference(context[node.input[0]], self.get_nodeattr("kernel"), self.get_nodeattr("stride"))
        context[node.output[0]] = out.astype(np.float32)
