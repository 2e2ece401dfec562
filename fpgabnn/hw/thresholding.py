"""Multi-threshold unit: integer in, ``out_base + #(x >= T[c, i])`` out (FINN's MultiThreshold convention).

Used for the input quantiser: raw UINT8 pixels through the model's normalisation and first quantiser
become INT8 (or bipolar) values; the thresholds are found by evaluating the source graph on every input value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.general.multithreshold import multithreshold

from fpgabnn.deploy.driver.frames import from_raw
from fpgabnn.errors import UserError
from fpgabnn.hw.base import (
    BIPOLAR, HWLayer, elem_kind, HWParams, divisors, dtype_range, fold_rows, initializer, lutram_luts, resources, signed_bits,
)

#: inputs of at most this many bits are thresholded through a lookup table instead of comparators
LUT_MAX_INPUT_BITS = 8


@dataclass(frozen=True, eq=False)
class ThresholdingParams(HWParams):
    """Channel of (pe p, row r) is r*PE + p. lut mode: table uint64[PE, ROWS, 2**in_bits] holds the raw
    output bits for every raw input bit pattern; compare mode: thresholds int64[PE, ROWS, NT],
    out = out_base + #(x >= T) (ceil'd, clamped to [min(in), max(in) + 1])."""

    channels: int = 0
    pe: int = 1
    num_vecs: int = 1
    out_base: int = 0
    mode: str = "lut"
    rows: int = 1
    nt: int = 1
    thr_bits: int = 0
    table: np.ndarray | None = None
    thresholds: np.ndarray | None = None

    def resources(self):
        """Fitted to Yosys synth_xilinx of hls_templates/rtllib/fpgabnn_thresholding.sv with random tables and
        thresholds (benchmarks/results/yosys_calibration.md, "thresholding"). lut mode: a ROM of ROWS * 2^in_bits
        entries of out_bits per PE, read combinationally into the output register: a third of a LUT per output
        bit up to 64 entries (LUT6s shared), ~10 LUT per output bit per 64 entries beyond (ABC's mapping of a
        random table, far above the ideal one LUT6 per 64 entries; real tables are monotone steps and cost
        less). compare mode: NT comparators of in_bits per PE (~0.5 LUT per bit against constant thresholds);
        per-channel thresholds (ROWS > 1) come from a LUT-ROM into a register (~1.5 LUT, 0.9 FF per bit)."""
        pe, ib, ob = self.pe, self.in_bits, self.out_bits
        if self.mode == "lut":
            entries = self.rows << ib
            lut = 13 + pe * ob * (0.33 + 10 * max(0, entries - 64) / 64)
            return resources(lut, 3 + self.out_width)
        tw = self.thr_bits or ib + 2
        if self.rows > 1:
            return resources(11 + 1.55 * pe * self.nt * tw, 8 + 0.86 * pe * self.nt * tw)
        return resources(11 + 0.52 * pe * self.nt * ib, 8 + self.out_width)


def thresholding_reference(x: np.ndarray, thresholds: np.ndarray, out_base: int, bipolar: bool) -> np.ndarray:
    """count(x >= T) along the last (channel) axis, shifted by out_base; bipolar maps the count {0,1} to -1/+1."""
    count = multithreshold(x.astype(np.float64), thresholds.astype(np.float64), channels_last=True)
    if bipolar:
        return 2 * count - 1
    return count + out_base


class Thresholding(HWLayer):
    def layer_attrs(self):
        return {
            "channels": ("i", True, 0),
            "pe": ("i", False, 1),
            # leading dimensions, e.g. [1, H, W]
            "vec_shape": ("ints", True, [1]),
            "in_dtype": ("s", True, ""),
            "out_dtype": ("s", True, ""),
            "out_base": ("i", False, 0),
        }

    def in_shape(self):
        return tuple(self.get_nodeattr("vec_shape")) + (self.get_nodeattr("channels"),)

    def out_shape(self):
        return self.in_shape()

    def in_dtype(self):
        return self.dtype_attr("in_dtype")

    def out_dtype(self):
        return self.dtype_attr("out_dtype")

    def in_elems_per_word(self):
        return self.get_nodeattr("pe")

    def out_elems_per_word(self):
        return self.get_nodeattr("pe")

    def exp_cycles(self):
        return int(np.prod(self.in_shape())) // self.get_nodeattr("pe")

    def check_folding(self):
        c, pe = self.get_nodeattr("channels"), self.get_nodeattr("pe")
        if c % pe:
            raise ValueError(f"Thresholding {self.onnx_node.name}: PE={pe} must divide channels={c}")

    def folding_options(self):
        return [{"pe": p} for p in divisors(self.get_nodeattr("channels"))]

    def hw_params(self, model=None, arrays=True):
        node = self.onnx_node
        c, pe = self.get_nodeattr("channels"), self.get_nodeattr("pe")
        in_dt, out_dt = self.in_dtype(), self.out_dtype()
        if c % pe:
            raise UserError(f"node '{node.name}': PE={pe} must divide channels={c}")
        if in_dt == BIPOLAR or not in_dt.is_integer():
            raise UserError(f"node '{node.name}': Thresholding input must be an integer type, not {in_dt.name}")
        thr = None
        if model is not None:
            thr = initializer(model, node, 1, "thresholds").astype(np.float64)
            if thr.ndim != 2 or thr.shape[0] not in (1, c):
                raise UserError(f"node '{node.name}': thresholds of shape {thr.shape} must be [{c}, NT] or [1, NT]")
            if np.any(np.diff(thr, axis=1) < 0):
                raise UserError(f"node '{node.name}': threshold rows must be ascending; sort them")
        bipolar_out = out_dt == BIPOLAR
        nt = thr.shape[1] if thr is not None else 1 if bipolar_out else 2**out_dt.bitwidth() - 1
        out_base = 0 if bipolar_out else int(self.get_nodeattr("out_base"))
        if bipolar_out and nt != 1:
            raise UserError(f"node '{node.name}': a bipolar output needs exactly one threshold per channel, got {nt}")
        if not bipolar_out:
            lo, hi = dtype_range(out_dt)
            if out_base < lo or out_base + nt > hi:
                raise UserError(f"node '{node.name}': outputs {out_base}..{out_base + nt} do not fit "
                                f"{out_dt.name}; widen out_dtype")
        rows = 1 if thr is not None and thr.shape[0] == 1 else c // pe
        in_bits = in_dt.bitwidth()
        mode = "lut" if in_bits <= LUT_MAX_INPUT_BITS else "compare"
        lo, hi = dtype_range(in_dt)
        table = thresholds = None
        thr_bits = 0
        if mode == "compare":
            thr_bits = signed_bits(lo, hi + 1)
        if thr is not None and arrays:
            if mode == "lut":
                x = from_raw(np.arange(2**in_bits, dtype=np.uint64), in_bits, elem_kind(in_dt)).astype(np.float64)
                count = (x[None, :, None] >= thr[:, None, :]).sum(axis=-1)  # [rows_total, 2^bits]
                # count is the output bit itself for bipolar outputs (bit 1 = +1)
                table = fold_rows(((count + out_base) & ((1 << out_dt.bitwidth()) - 1)).astype(np.uint64), pe)
            else:
                t = np.clip(np.ceil(thr), lo, hi + 1).astype(np.int64)  # x >= T <=> x >= ceil(T) for integer x
                thresholds = fold_rows(t, pe)
        return ThresholdingParams(
            **self.base_params(), channels=c, pe=pe, num_vecs=int(np.prod(self.in_shape()[:-1])),
            out_base=out_base, mode=mode, rows=rows, nt=nt, thr_bits=thr_bits, table=table, thresholds=thresholds,
        )

    def execute_node(self, context, graph):
        node = self.onnx_node
        x = context[node.input[0]]
        t = context[node.input[1]]
        out = thresholding_reference(
            x, t, self.get_nodeattr("out_base"), self.out_dtype() == DataType["BIPOLAR"]
        )
        context[node.output[0]] = out.astype(np.float32)
