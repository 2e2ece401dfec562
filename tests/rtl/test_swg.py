"""Sliding-window RTL (SIMD mode and parallel-window mode) against
fpgabnn.hw.sliding_window.sliding_window_reference: strides, padding with an integer pad value, windows of one
pixel, and frames back to back."""

import numpy as np
import pytest

from fpgabnn.deploy.driver import frames
from fpgabnn.hw.sliding_window import sliding_window_reference

# (H, W, C, SIMD, KH, KW, SH, SW, pads (t, l, b, r), bits, kind, pad value, parallel)
CASES = [
    (5, 5, 4, 2, 3, 3, 1, 1, (0, 0, 0, 0), 1, "bipolar", 0, False),
    (6, 5, 2, 1, 3, 2, 2, 1, (1, 1, 1, 0), 4, "signed", -3, False),
    (4, 6, 3, 3, 2, 2, 2, 2, (0, 0, 0, 0), 2, "unsigned", 0, False),
    (5, 4, 2, 2, 1, 1, 2, 2, (0, 0, 0, 0), 3, "unsigned", 0, False),  # 1x1 window, stride 2: skipped rows
    (6, 6, 3, 3, 3, 3, 1, 1, (0, 0, 0, 0), 8, "unsigned", 0, True),  # CNV's first layer, parallel
    (5, 4, 2, 2, 3, 3, 2, 1, (1, 1, 1, 1), 4, "signed", 5, True),
]


@pytest.mark.parametrize("h,w,c,simd,kh,kw,sh,sw,pads,bits,kind,pad,parallel", CASES)
def test_swg(rtl, h, w, c, simd, kh, kw, sh, sw, pads, bits, kind, pad, parallel):
    rng = np.random.default_rng(h * w + c)
    n = 5
    if kind == "bipolar":
        x = rng.choice([-1, 1], size=(n, h, w, c))
    else:
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if kind == "signed" else (0, (1 << bits) - 1)
        x = rng.integers(lo, hi + 1, size=(n, h, w, c))
    expected = sliding_window_reference(x, (kh, kw), (sh, sw), pads, pad)
    _, oh, ow, _ = expected.shape
    pt, pl, pb, pr = pads
    params = dict(H=h, W=w, C=c, SIMD=simd, KH=kh, KW=kw, SH=sh, SW=sw, PT=pt, PL=pl, PB=pb, PR=pr, ELEM_BITS=bits,
                  PAD_VALUE=int(frames.to_raw(np.array([pad]), bits, "signed" if pad < 0 else "unsigned")[0])
                  if kind != "bipolar" else 0, PARALLEL=int(parallel))
    out_epw = kh * kw * c if parallel else simd
    in_words, out_words = h * w * c // simd, oh * ow * kh * kw * c // out_epw
    dut = rtl.build("fpgabnn_swg", params, simd * bits, out_epw * bits, in_words, out_words)
    raw_in = frames.to_raw(x, bits, kind).reshape(-1, simd)
    raw_out = frames.to_raw(expected, bits, kind).reshape(-1, out_epw)
    sts = dut.check(raw_in, bits, raw_out, bits, n)
    cpf = sts[0]["cycles_per_frame"]
    if parallel:  # one cycle per padded position
        assert cpf == pytest.approx((h + pt + pb) * (w + pl + pr), abs=1)
    else:  # output-bound, with the line buffer's fill overlapping the previous frame
        fill = kh * (w + pl + pr) * c // simd
        assert max(out_words, in_words) <= cpf <= fill + max(out_words, in_words)
