"""Max-pool on a stream: OR of bits for bipolar activations (docs/methods.md section 6), max for integers."""

from __future__ import annotations

import numpy as np

from fpgabnn.hw.base import HWLayer, divisors, lutram_luts


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

    def row_buffer(self) -> tuple[int, int]:
        """Partial maxima of one output row: OW * C / PE words of the stream width."""
        return self.ofm_dim()[1] * self.get_nodeattr("channels") // self.get_nodeattr("pe"), self.in_stream_width()

    def bram18_estimate(self):
        from fpgabnn.hw.base import bram18_for_memory

        return bram18_for_memory(*self.row_buffer())

    def lut_estimate(self):
        bits = self.in_dtype().bitwidth()
        return int(60 + self.get_nodeattr("pe") * bits * (1 if bits == 1 else 2) + lutram_luts(*self.row_buffer()))

    def ff_estimate(self):
        return int(40 + 2 * self.in_stream_width())

    def execute_node(self, context, graph):
        node = self.onnx_node
        out = maxpool_reference(context[node.input[0]], self.get_nodeattr("kernel"), self.get_nodeattr("stride"))
        context[node.output[0]] = out.astype(np.float32)
