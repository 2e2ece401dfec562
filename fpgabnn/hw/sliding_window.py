"""Sliding-window generator (im2col on a stream): turns an NHWC feature map into the (kh, kw, c)-ordered
input vectors of a convolution's matrix-vector unit, with optional padding of integer inputs.

Two modes. Normal: output words of SIMD elements, one per cycle, so a window of KH*KW*C elements takes
KH*KW*C/SIMD cycles. Parallel window (``parallel_window=1``, needs SIMD == C): one output word per output
pixel holding the whole window, so a layer with few channels (CNV's 3-channel first layer) is bound by its
input pixels instead of KH*KW times its output pixels; the consumer MVAU then takes SIMD = MW.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fpgabnn.errors import UserError
from fpgabnn.hw.base import BIPOLAR, HWLayer, HWParams, bram18_for_memory, divisors, dtype_range, lutram_luts, resources


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


@dataclass(frozen=True, eq=False)
class SlidingWindowParams(HWParams):
    """pads (pt, pl, pb, pr); pad_raw: raw bits of the pad element; parallel: one whole-window word per
    output pixel (SIMD == C)."""

    h: int = 1
    w: int = 1
    c: int = 1
    simd: int = 1
    kh: int = 1
    kw: int = 1
    sh: int = 1
    sw: int = 1
    pt: int = 0
    pl: int = 0
    pb: int = 0
    pr: int = 0
    oh: int = 1
    ow: int = 1
    pad_raw: int = 0
    parallel: bool = False

    def buffer_shape(self) -> tuple[int, int]:
        """Line buffer (depth, width): KH + SH padded rows of SIMD-element words (the HLS kernel's ring)."""
        return (self.kh + self.sh) * (self.w + self.pl + self.pr) * self.c // self.simd, self.in_width

    def resources(self):
        """The line buffer in RAMB18/LUTRAM (UG473/UG474), address counters and the output multiplexer
        (~ stream width); in parallel mode the buffer is read KH*KW words at a time, so it is split into
        KH*KW banks and the output register is the whole window."""
        depth, width = self.buffer_shape()
        banks = self.kh * self.kw if self.parallel else 1
        bank_depth = math.ceil(depth / banks)
        bram = banks * bram18_for_memory(bank_depth, width)
        # LUT/FF fitted to Yosys synth_xilinx of hls_templates/rtllib/fpgabnn_swg.sv (benchmarks/results/
        # yosys_calibration.md, "sliding_window"): normal mode ~4.6 LUT and 1.2 FF per input bit plus address
        # logic growing with log2(words per frame) (within ~30% over CNV's windows); parallel mode ~3 LUT per
        # input bit with its small LUTRAM line buffer, the window register ~1.6 FF per output bit (within ~6%;
        # the old parallel model counted ~6x the LUTs)
        log2w = math.ceil(math.log2(max(2, self.h * self.w * self.c / self.simd)))
        if self.parallel:
            lut = 23 + 3.03 * self.in_width + 1.3 * log2w
            ff = 25 + 0.18 * self.in_width + 1.63 * self.out_width
        else:
            lut = max(60, -179 + 4.64 * self.in_width + 28.3 * log2w) + lutram_luts(depth, width)
            ff = 64 + 1.2 * self.in_width
        return resources(lut, ff, bram)


class SlidingWindow(HWLayer):
    HAS_PROVENANCE = False  # its output (im2col windows) is no tensor of the source model

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
            # 1: one output word per output pixel with the whole KH*KW*C window (needs SIMD == channels)
            "parallel_window": ("i", False, 0, {0, 1}),
        }

    def is_parallel(self) -> bool:
        return bool(self.get_nodeattr("parallel_window"))

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
        if self.is_parallel():
            kh, kw = self.get_nodeattr("kernel")
            return kh * kw * self.get_nodeattr("channels")
        return self.get_nodeattr("simd")

    def exp_cycles(self):
        """The kernel loop writes one padded input position and reads one output word per cycle. Normal
        mode is output-bound after the first KH rows fill the line buffer: fill + output words. Parallel
        mode: max(padded input positions, fill + output pixels)."""
        h, w = self.get_nodeattr("ifm_dim")
        pt, pl, pb, pr = self.get_nodeattr("pads")
        kh, _ = self.get_nodeattr("kernel")
        c, simd = self.get_nodeattr("channels"), self.get_nodeattr("simd")
        cf = c // simd
        fill = kh * (w + pl + pr) * cf
        if self.is_parallel():
            return int(max((h + pt + pb) * (w + pl + pr) * cf, fill + self.out_words()))
        return int(fill + self.out_words())

    def check_folding(self):
        c, simd = self.get_nodeattr("channels"), self.get_nodeattr("simd")
        if c % simd:
            raise ValueError(f"SlidingWindow {self.onnx_node.name}: SIMD={simd} must divide channels={c}")
        if self.is_parallel() and simd != c:
            raise ValueError(f"SlidingWindow {self.onnx_node.name}: parallel_window=1 needs SIMD = channels = {c}, "
                             f"not {simd}")

    def folding_options(self):
        c = self.get_nodeattr("channels")
        return [{"simd": s, "parallel_window": 0} for s in divisors(c)] + [{"simd": c, "parallel_window": 1}]

    def hw_params(self, model=None, arrays=True):
        node = self.onnx_node
        (h, w), (kh, kw), (sh, sw) = (self.get_nodeattr(a) for a in ("ifm_dim", "kernel", "stride"))
        pt, pl, pb, pr = self.get_nodeattr("pads")
        c, simd, dt = self.get_nodeattr("channels"), self.get_nodeattr("simd"), self.in_dtype()
        try:
            self.check_folding()
        except ValueError as err:
            raise UserError(f"node '{node.name}': {err}; fix the folding") from None
        if h + pt + pb < kh or w + pl + pr < kw:
            raise UserError(f"node '{node.name}': kernel {kh}x{kw} is larger than the padded input")
        pad_value = int(self.get_nodeattr("pad_value"))
        if dt == BIPOLAR:
            if any((pt, pl, pb, pr)):
                raise UserError(f"node '{node.name}': bipolar inputs cannot be zero-padded (0 is not a bipolar "
                                "value); remove the padding or pad before binarisation")
            pad_raw = 0
        else:
            lo, hi = dtype_range(dt)
            if not lo <= pad_value <= hi:
                raise UserError(f"node '{node.name}': pad value {pad_value} does not fit {dt.name}")
            pad_raw = pad_value & ((1 << dt.bitwidth()) - 1)
        oh, ow = self.ofm_dim()
        return SlidingWindowParams(
            **self.base_params(), h=h, w=w, c=c, simd=simd, kh=kh, kw=kw, sh=sh, sw=sw, pt=pt, pl=pl, pb=pb, pr=pr,
            oh=oh, ow=ow, pad_raw=pad_raw, parallel=self.is_parallel(),
        )

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
