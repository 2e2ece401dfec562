"""MVAU RTL (XNOR-popcount and integer-input first layer) against fpgabnn.hw.mvau.mvau_reference: all-ones,
all-zeros and maximum-fan-in words, inputs exactly on thresholds and one step below, always-on / never-on
thresholds, and one tile per cycle at full rate."""

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from fpgabnn.codegen.memh import write_memh
from fpgabnn.deploy.driver import frames
from fpgabnn.hw.mvau import mvau_reference, popcount_thresholds


def _signed_bits(lo, hi):
    b = 1
    while not (-(1 << (b - 1)) <= lo and hi <= (1 << (b - 1)) - 1):
        b += 1
    return b


def _vectors_and_thresholds(rng, mw, mh, w, in_dt, with_thr):
    lo, hi = (-1, 1) if in_dt is None else (int(in_dt.min()), int(in_dt.max()))

    def rand(n):
        if in_dt is None:
            return rng.choice([-1, 1], size=(n, mw))
        return rng.integers(lo, hi + 1, size=(n, mw))

    x = [rand(20), np.full((1, mw), hi), np.full((1, mw), lo)]  # random, all-ones, all-zeros (bipolar -1)
    t = None
    if with_thr:
        base = rand(mh)
        t = np.einsum("ci,ic->c", base, w).astype(np.int64)  # channel c's threshold = dot of vector c
        below = base.copy()
        for c in range(mh):  # the same vector one step below channel c's threshold
            if in_dt is None:
                i = np.nonzero(w[:, c] * base[c] == 1)[0]
                if i.size:
                    below[c, i[0]] = -below[c, i[0]]
            else:
                i = np.nonzero(((w[:, c] == 1) & (base[c] > lo)) | ((w[:, c] == -1) & (base[c] < hi)))[0]
                if i.size:
                    below[c, i[0]] -= w[i[0], c]
        x += [base, below]
        if mh >= 3:
            t[0], t[1] = -10 * mw * max(1, hi), 10 * mw * max(1, hi) + 1  # always on, never on
    return np.concatenate(x), t


@pytest.mark.parametrize(
    "mw,mh,pe,simd,in_dt,act,ram",
    [
        (16, 8, 2, 4, None, "threshold", "distributed"),
        (64, 4, 4, 64, None, "threshold", "block"),  # maximum fan-in: one 64-bit word per vector
        (12, 6, 3, 3, None, "popcount_to_dot", "distributed"),
        (5, 3, 1, 1, None, "threshold", "block"),  # fully folded, odd MW
        (27, 8, 2, 3, "INT8", "threshold", "block"),  # CNV's first layer shape
        (16, 4, 4, 8, "UINT8", "identity", "distributed"),
    ],
)
def test_mvau(rtl, tmp_path, mw, mh, pe, simd, in_dt, act, ram):
    rng = np.random.default_rng(mw * 100 + mh)
    in_dt = DataType[in_dt] if in_dt else None
    xnor = in_dt is None
    w = rng.choice([-1, 1], size=(mw, mh))
    x, t = _vectors_and_thresholds(rng, mw, mh, w, in_dt, act == "threshold")
    expected = mvau_reference(x, w, t)
    sf, nf = mw // simd, mh // pe

    # weight ROM word t = nf * SF + sf: bit p * SIMD + s is the weight of input sf * SIMD + s, output nf * PE + p
    wb = (w == 1).astype(np.int64).reshape(sf, simd, nf, pe).transpose(2, 0, 3, 1).reshape(nf * sf, pe * simd)
    write_memh(tmp_path / "w.memh", wb, 1)
    params = dict(MW=mw, MH=mh, PE=pe, SIMD=simd, XNOR=int(xnor), IN_BITS=1 if xnor else in_dt.bitwidth(),
                  IN_SIGNED=int(bool(in_dt and in_dt.signed())), RAM_STYLE=int(ram == "block"),
                  WEIGHT_FILE=str(tmp_path / "w.memh"), THRESH_FILE=str(tmp_path / "t.memh"))
    if act == "threshold":
        if xnor:
            thr = popcount_thresholds(t, mw)
            thr_bits = int(mw + 1).bit_length()
        else:
            thr = t
            thr_bits = _signed_bits(int(t.min()), int(t.max()))
        write_memh(tmp_path / "t.memh", thr.reshape(nf, pe), thr_bits)
        params.update(ACT=0, OUT_BITS=1, THR_BITS=thr_bits)
        out_kind, out_bits = "bipolar", 1
    else:
        out_bits = _signed_bits(int(expected.min()) - 1, int(expected.max()) + 1)
        params.update(ACT=1 if act == "popcount_to_dot" else 2, OUT_BITS=out_bits)
        out_kind = "signed"
    in_bits = params["IN_BITS"]
    in_kind = "bipolar" if xnor else ("signed" if in_dt.signed() else "unsigned")
    dut = rtl.build("fpgabnn_mvau", params, simd * in_bits, pe * out_bits, sf, nf)
    raw_in = frames.to_raw(x, in_bits, in_kind).reshape(-1, simd)
    raw_out = frames.to_raw(expected, out_bits, out_kind).reshape(-1, pe)
    sts = dut.check(raw_in, in_bits, raw_out, out_bits, len(x))
    # one tile per cycle: NF * SF cycles per vector at full rate
    assert sts[0]["cycles_per_frame"] == pytest.approx(nf * sf, abs=0.05)
