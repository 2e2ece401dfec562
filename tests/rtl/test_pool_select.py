"""MaxPool (non-overlapping and overlapping windows; OR for bipolar, signed and unsigned max) and LabelSelect
(top-k, ties to the lower index) RTL against their numpy references."""

import numpy as np
import pytest

from fpgabnn.deploy.driver import frames
from fpgabnn.hw.labelselect import labelselect_reference
from fpgabnn.hw.maxpool import maxpool_reference

KIND_CODE = {"bipolar": 0, "signed": 1, "unsigned": 2}


def _values(rng, shape, bits, kind):
    if kind == "bipolar":
        return rng.choice([-1, 1], size=shape)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if kind == "signed" else (0, (1 << bits) - 1)
    return rng.integers(lo, hi + 1, size=shape)


@pytest.mark.parametrize(
    "h,w,c,pe,k,s,bits,kind",
    [
        (4, 4, 4, 2, 2, 2, 1, "bipolar"),  # CNV's pools
        (5, 7, 2, 1, 2, 3, 4, "signed"),  # gaps between windows, floor mode
        (6, 6, 3, 3, 3, 2, 3, "unsigned"),  # overlapping
        (5, 5, 2, 1, 3, 1, 1, "bipolar"),  # overlapping, stride 1
    ],
)
def test_maxpool(rtl, h, w, c, pe, k, s, bits, kind):
    rng = np.random.default_rng(h * w * c + k)
    n = 6
    x = _values(rng, (n, h, w, c), bits, kind)
    x[0] = x.min() if kind != "bipolar" else -1  # an all-minimum frame
    expected = maxpool_reference(x, (k, k), (s, s)).astype(np.int64)
    params = dict(H=h, W=w, C=c, PE=pe, KH=k, KW=k, SH=s, SW=s, ELEM_BITS=bits, KIND=KIND_CODE[kind])
    _, oh, ow, _ = expected.shape
    dut = rtl.build("fpgabnn_maxpool", params, pe * bits, pe * bits, h * w * c // pe, oh * ow * c // pe)
    sts = dut.check(frames.to_raw(x, bits, kind).reshape(-1, pe), bits,
                    frames.to_raw(expected, bits, kind).reshape(-1, pe), bits, n)
    cpf = sts[0]["cycles_per_frame"]
    if k <= s:  # the input streams once
        assert cpf == pytest.approx(h * w * c // pe, abs=1)
    else:  # one window element per cycle, plus the window generator's fill
        assert oh * ow * k * k * c // pe <= cpf <= (oh * ow * k * k + k * w) * c // pe


@pytest.mark.parametrize("c,pe,k,bits,signed", [(10, 1, 1, 8, True), (10, 2, 3, 4, True), (12, 4, 5, 3, False),
                                                (10, 5, 10, 2, True)])
def test_labelselect(rtl, c, pe, k, bits, signed):
    rng = np.random.default_rng(c * k + pe)
    kind = "signed" if signed else "unsigned"
    x = _values(rng, (60, c), bits, kind)  # few bits: many ties
    x[0] = x[0, 0]  # all equal: indices 0..k-1
    expected = labelselect_reference(x, k)
    out_bits = max(1, int(np.ceil(np.log2(c))))
    params = dict(C=c, PE=pe, K=k, IN_BITS=bits, IN_SIGNED=int(signed))
    dut = rtl.build("fpgabnn_labelselect", params, pe * bits, out_bits, c // pe, k)
    sts = dut.check(frames.to_raw(x, bits, kind).reshape(-1, pe), bits, expected.reshape(-1, 1), out_bits, len(x))
    assert sts[0]["cycles_per_frame"] <= c // pe + k + 1
