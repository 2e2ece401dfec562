"""Sliding-window generator (im2col on a stream): turns an NHWC feature map into the (kh, kw, c)-ordered
input vectors of a convolution's matrix-vector unit, with optional padding of integer inputs."""

from __future__ import annotations

import math

import numpy as np

from fpgabnn.hw.base import HWLayer, bram18_for_memory, divisors, lutram_luts


def conv_out_dim(ifm: int, k: int, stride: int, pad_before: int, pad_after: int) -> int:
    return (ifm + pad_before + pad_after - k) // stride + 1


def sliding_window_reference(x: np.ndarray, kernel, stride, pads, pad_value) -> np.ndarray:
    """x [N, H, W, C] -> [N, OH, OW, KH*KW*C], last axis ordered (kh, kw, c) like qonnx's Im2Col."""
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = kernel, stride, pads
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=pad_value)
    n, hp, wp, c = xp.shape
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    cols = np.empty((n, oh, ow, kh, kw, c), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = xp[:, i : i + sh * oh : sh, j : j + sw * ow : sw, :]
    return cols.reshape(n, oh, ow, kh * kw * c)


class SlidingWindow(HWLayer):
    def layer_attrs(self):
        return {
            "ifm_dim": ("ints", True, [1, 1]),
            "channels": ("i", True, 0),
            "kernel": ("ints", True, [1, 1]),
            "stride": ("ints", False, [1, 1]),
            # [top, left, bottom, right]
            "pads": ("ints", False, [0, 0, 0, 0]),
            "pad_value": ("i", False, 0),
            "in_dtype": ("s", True, ""),
            "simd": ("i", False, 1),
        }

    def ofm_dim(self) -> tuple[int, int]:
        (h, w), (kh, kw), (sh, sw) = (self.get_nodeattr(a) for a in ("ifm_dim", "kernel", "stride"))
        pt, pl, pb, pr = self.get_nodeattr("pads")
        return conv_out_dim(h, kh, sh, pt, pb), conv_out_dim(w, kw, sw, pl, pr)

    def in_shape(self):
        h, w = self.get_nodeattr("ifm_dim")
        return (1, h, w, self.get_nodeattr("channels"))

    def out_shape(self):
        kh, kw = self.get_nodeattr("kernel")
        return (1, *self.ofm_dim(), kh * kw * self.get_nodeattr("channels"))

    def in_dtype(self):
        return self.dtype_attr("in_dtype")

    def out_dtype(self):
        return self.in_dtype()

    def in_elems_per_word(self):
        return self.get_nodeattr("simd")

    def out_elems_per_word(self):
        return self.get_nodeattr("simd")

    def exp_cycles(self):
        """Output-bound: every output word takes a cycle; reading the (padded) input overlaps with it,
        except the first KH rows that fill the line buffer."""
        h, w = self.get_nodeattr("ifm_dim")
        pt, pl, pb, pr = self.get_nodeattr("pads")
        kh, _ = self.get_nodeattr("kernel")
        c, simd = self.get_nodeattr("channels"), self.get_nodeattr("simd")
        fill = kh * (w + pl + pr) * c // simd
        return int(fill + self.out_words())

    def check_folding(self):
        c, simd = self.get_nodeattr("channels"), self.get_nodeattr("simd")
        if c % simd:
            raise ValueError(f"SlidingWindow {self.onnx_node.name}: SIMD={simd} must divide channels={c}")

    def folding_options(self):
        return [{"simd": s} for s in divisors(self.get_nodeattr("channels"))]

    def buffer_shape(self) -> tuple[int, int]:
        """Line buffer (depth, width): KH padded rows of the feature map, SIMD elements per word."""
        _, w = self.get_nodeattr("ifm_dim")
        _, pl, _, pr = self.get_nodeattr("pads")
        kh, _ = self.get_nodeattr("kernel")
        c, simd = self.get_nodeattr("channels"), self.get_nodeattr("simd")
        return kh * (w + pl + pr) * c // simd, self.in_stream_width()

    def bram18_estimate(self):
        return bram18_for_memory(*self.buffer_shape())

    def lut_estimate(self):
        """Address counters and the output multiplexer (~ stream width), plus LUTRAM for small buffers."""
        return int(120 + 2 * self.in_stream_width() + lutram_luts(*self.buffer_shape()))

    def ff_estimate(self):
        return int(80 + 2 * self.in_stream_width() + 4 * math.ceil(math.log2(self.buffer_shape()[0] + 1)))

    def execute_node(self, context, graph):
        node = self.onnx_node
        x = context[node.input[0]]
        out = sliding_window_reference(
            x,
            self.get_nodeattr("kernel"),
            self.get_nodeattr("stride"),
            self.get_nodeattr("pads"),
            self.get_nodeattr("pad_value"),
        )
        context[node.output[0]] = out.astype(np.float32)
