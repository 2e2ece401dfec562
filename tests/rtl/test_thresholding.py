"""Thresholding RTL in table and comparator modes against fpgabnn.hw.thresholding.thresholding_reference; the
inputs include every threshold exactly and one below it (a `>` for `>=` must fail)."""

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from fpgabnn.codegen.memh import write_memh
from fpgabnn.deploy.driver import frames
from fpgabnn.hw.thresholding import thresholding_reference


def _case(in_dt, out_dt, channels, shared, nt, seed):
    """Integer thresholds inside the input range (sorted per channel), value-domain inputs hitting each."""
    rng = np.random.default_rng(seed)
    lo, hi = int(in_dt.min()), int(in_dt.max())
    rows = 1 if shared else channels
    t = np.sort(rng.integers(lo, hi + 2, size=(rows, nt)), axis=1).astype(np.float64)
    t[0, 0] = lo  # always-on threshold
    if nt > 1:
        t[0, -1] = hi + 1  # never-on threshold
    tc = np.broadcast_to(t, (channels, nt)) if shared else t
    n_pix = 2 * nt + 40
    x = rng.integers(lo, hi + 1, size=(n_pix, channels))
    for i in range(nt):  # on every threshold and one below it
        x[2 * i] = np.clip(tc[:, i], lo, hi)
        x[2 * i + 1] = np.clip(tc[:, i] - 1, lo, hi)
    x[-1], x[-2] = lo, hi
    return x, tc


def _kind(dt):
    return "bipolar" if dt == DataType["BIPOLAR"] else ("signed" if dt.signed() else "unsigned")


@pytest.mark.parametrize(
    "mode,in_dt,out_dt,channels,pe,shared",
    [
        ("lut", "UINT8", "BIPOLAR", 6, 3, True),
        ("lut", "INT4", "INT2", 8, 2, False),
        ("compare", "UINT8", "BIPOLAR", 4, 4, False),
        ("compare", "INT6", "INT3", 6, 2, False),
        ("compare", "UINT4", "UINT2", 5, 1, True),
    ],
)
def test_thresholding(rtl, tmp_path, mode, in_dt, out_dt, channels, pe, shared):
    in_dt, out_dt = DataType[in_dt], DataType[out_dt]
    bipolar = out_dt == DataType["BIPOLAR"]
    nt = 1 if bipolar else 2**out_dt.bitwidth() - 1
    out_base = 0 if bipolar else int(out_dt.min())
    x, tc = _case(in_dt, out_dt, channels, shared, nt, seed=channels * 7 + pe)
    expected = thresholding_reference(x.astype(np.float64), tc, out_base, bipolar)
    ib, ob = in_dt.bitwidth(), out_dt.bitwidth()
    rows_hw = 1 if shared else channels // pe
    mem = tmp_path / "thr.memh"
    if mode == "lut":
        # raw input pattern -> raw output bits, for every lane and row
        patterns = np.arange(2**ib)
        values = frames.from_raw(patterns, ib, _kind(in_dt))
        table = np.zeros((rows_hw, 2**ib, pe), dtype=np.int64)
        for r in range(rows_hw):
            for p in range(pe):
                c = 0 if shared else r * pe + p
                out = thresholding_reference(values[:, None].astype(np.float64), tc[c : c + 1], out_base, bipolar)
                table[r, :, p] = frames.to_raw(out[:, 0], ob, _kind(out_dt)).astype(np.int64)
        write_memh(mem, table.reshape(rows_hw * 2**ib, pe), ob)
        params = {"MODE": 0}
    else:
        thr = np.zeros((rows_hw, pe, nt), dtype=np.int64)
        for r in range(rows_hw):
            for p in range(pe):
                c = 0 if shared else r * pe + p
                thr[r, p] = np.clip(np.ceil(tc[c]), in_dt.min(), in_dt.max() + 1)
        write_memh(mem, thr.reshape(rows_hw, pe * nt), ib + 2)
        params = {"MODE": 1, "NT": nt, "OUT_BASE": 0 if bipolar else out_base}
    params.update(CHANNELS=channels, PE=pe, IN_BITS=ib, IN_SIGNED=int(in_dt.signed()), OUT_BITS=ob, ROWS=rows_hw,
                  MEM_FILE=str(mem))
    dut = rtl.build("fpgabnn_thresholding", params, pe * ib, pe * ob)
    raw_in = frames.to_raw(x, ib, _kind(in_dt)).reshape(-1, pe)
    raw_out = frames.to_raw(expected, ob, _kind(out_dt)).reshape(-1, pe)
    words = raw_in.shape[0]
    dut.check(raw_in, ib, raw_out, ob, words)
