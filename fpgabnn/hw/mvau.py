"""Matrix-vector(-threshold) unit: the XNOR-popcount (or integer-input) layer of a binary network.

out = x . W per input vector (W in {-1,+1}); with thresholds, out = +1 if dot >= T[c] else -1.
In XNOR mode the hardware counts matches P and dot = 2P - MW (docs/methods.md section 6), so a dot-domain
threshold T becomes P >= ceil((T + MW) / 2) in the popcount domain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType

from fpgabnn.errors import UserError
from fpgabnn.hw.base import (
    HWLayer, HWParams, bram18_for_memory, divisors, dtype_range, initializer, resources, signed_bits,
    unsigned_bits,
)


def mvau_reference(x: np.ndarray, weights: np.ndarray, thresholds: np.ndarray | None) -> np.ndarray:
    """Numpy reference: dot products (float64 BLAS is exact for |acc| < 2^53 and much faster than int64), then
    optional per-output-channel dot-domain thresholds."""
    dot = np.rint(np.matmul(x.astype(np.float64), weights.astype(np.float64))).astype(np.int64)
    if thresholds is None:
        return dot
    return np.where(dot >= thresholds.reshape(-1).astype(np.int64), 1, -1)


def popcount_thresholds(dot_thresholds: np.ndarray, mw: int) -> np.ndarray:
    """Dot-domain thresholds -> popcount-domain thresholds, clamped to [0, MW + 1] (always on / never on)."""
    t = np.ceil((dot_thresholds.astype(np.int64) + mw) / 2).astype(np.int64)
    return np.clip(t, 0, mw + 1)


def pack_weight_bits(weights: np.ndarray, pe: int, simd: int) -> np.ndarray:
    """[MW, MH] +-1 weights -> bits uint8[PE, TILES, SIMD] with tile = nf*SF + sf and
    bit s of (p, tile) = W[sf*SIMD + s][nf*PE + p] (1 = +1), FINN's memory layout."""
    mw, mh = weights.shape
    sf_, nf_ = mw // simd, mh // pe
    bits = (weights > 0).astype(np.uint8).reshape(sf_, simd, nf_, pe)  # [sf, s, nf, p]
    return bits.transpose(3, 2, 0, 1).reshape(pe, nf_ * sf_, simd)


def resolve_ram_style(ram_style: str, depth: int, width: int) -> str:
    """auto -> block when the memory needs a RAMB18 (more than 64 words and 1 Kibit, see bram18_for_memory),
    else distributed (LUTRAM/LUT-ROM): the one depth rule both backends and the estimate follow."""
    if ram_style != "auto":
        return ram_style
    return "block" if bram18_for_memory(depth, width) > 0 else "distributed"


@dataclass(frozen=True, eq=False)
class MVAUParams(HWParams):
    """weights: uint8[PE, NF*SF, SIMD] (1 = +1), tile t = nf*SF + sf, lane s multiplies input element
    sf*SIMD + s, PE p computes output channel nf*PE + p. thresholds: int64[PE, NF] in the accumulator domain
    (XNOR: popcount P, out bit = P >= T with T in [0, MW+1]; integer input: out bit = dot >= T)."""

    mw: int = 0
    mh: int = 0
    pe: int = 1
    simd: int = 1
    nf: int = 1
    sf: int = 1
    num_vecs: int = 1
    xnor: bool = True
    acc_bits: int = 1
    act: str = "identity"
    thr_bits: int = 0
    ram_style: str = "distributed"
    weights: np.ndarray | None = None
    thresholds: np.ndarray | None = None

    @property
    def tiles(self) -> int:
        return self.nf * self.sf

    def resources(self):
        """LUT/FF re-fitted to Yosys synth_xilinx of hls_templates/rtllib/fpgabnn_mvau.sv (Yosys synth_xilinx fit,
        benchmarks/results/yosys_calibration.md; least squares over PE x SIMD grids, mean error ~8% LUT XNOR,
        ~13% 8-bit, ~30% FF): a constant of control and ping-pong buffer, a cost per MAC lane (XNOR: popcount
        tree with the XNOR folded in; integer: a conditional add per input bit), per PE accumulator/threshold
        bits, and the LUT-ROM of distributed weights (a ROM of <= 8 words folds into the XNOR's LUT; each doubling
        beyond costs a third of a LUT per lane, one LUT6 per 64 words beyond 64). The form follows FINN-R
        (Blott et al., TRETS 2018, 4.2). Weight memory in BRAM: the RTL's one memory of NF*SF words of PE*SIMD bits
        (UG473 aspect ratios; Yosys maps exactly this count on every calibration point). The HLS kernel partitions
        the weights into PE memories of SIMD bits, which can take more RAMB18 when SIMD is narrow."""
        pe, simd, acc = self.pe, self.simd, self.acc_bits
        depth = self.tiles
        block = self.ram_style == "block"
        bram = bram18_for_memory(depth, pe * simd) if block else 0
        lanes = pe * simd
        if block:
            rom = 0.0
        else:
            rom = lanes * (math.ceil(depth / 64) if depth > 64 else max(0.0, (math.log2(max(depth, 1)) - 3) / 3))
        if self.xnor:
            lut = 90 + 2.6 * lanes + 2.25 * pe * acc + 2.1 * rom
            ff = 128 + 0.415 * lanes + 4.22 * pe * acc
        else:
            lut = 608 + 1.92 * lanes * self.in_bits + 4.3 * pe + 2.1 * rom
            ff = 360 + 0.39 * lanes + 27.3 * pe
        return resources(lut, ff, bram)


class MVAU(HWLayer):
    def layer_attrs(self):
        return {
            "mw": ("i", True, 0),
            "mh": ("i", True, 0),
            "pe": ("i", False, 1),
            "simd": ("i", False, 1),
            # leading dimensions of the input, e.g. [1, OH, OW] after a sliding window, [1] for a vector
            "vec_shape": ("ints", True, [1]),
            "in_dtype": ("s", True, ""),
            "acc_dtype": ("s", True, ""),
            # weight memory implementation: auto lets the estimate pick BRAM or LUTRAM
            "ram_style": ("s", False, "auto", {"auto", "block", "distributed"}),
        }

    # shapes / types
    def has_thresholds(self) -> bool:
        return len(self.onnx_node.input) > 2 and self.onnx_node.input[2] != ""

    def is_xnor(self) -> bool:
        return self.in_dtype() == DataType["BIPOLAR"]

    def num_vecs(self) -> int:
        return int(np.prod(self.get_nodeattr("vec_shape")))

    def in_shape(self):
        return tuple(self.get_nodeattr("vec_shape")) + (self.get_nodeattr("mw"),)

    def out_shape(self):
        return tuple(self.get_nodeattr("vec_shape")) + (self.get_nodeattr("mh"),)

    def in_dtype(self):
        return self.dtype_attr("in_dtype")

    def acc_dtype(self):
        return self.dtype_attr("acc_dtype")

    def out_dtype(self):
        return DataType["BIPOLAR"] if self.has_thresholds() else self.acc_dtype()

    def in_elems_per_word(self):
        return self.get_nodeattr("simd")

    def out_elems_per_word(self):
        return self.get_nodeattr("pe")

    def neuron_fold(self) -> int:
        return self.get_nodeattr("mh") // self.get_nodeattr("pe")

    def synapse_fold(self) -> int:
        return self.get_nodeattr("mw") // self.get_nodeattr("simd")

    def exp_cycles(self):
        return self.num_vecs() * self.neuron_fold() * self.synapse_fold()

    def check_folding(self):
        mw, mh, pe, simd = (self.get_nodeattr(a) for a in ("mw", "mh", "pe", "simd"))
        if mh % pe or mw % simd:
            raise ValueError(f"MVAU {self.onnx_node.name}: PE={pe} must divide MH={mh} and SIMD={simd} MW={mw}")

    def folding_options(self):
        mw, mh = self.get_nodeattr("mw"), self.get_nodeattr("mh")
        opts = [{"pe": p, "simd": s} for p in divisors(mh) for s in divisors(mw)]
        return sorted(opts, key=lambda o: (o["pe"] * o["simd"], o["pe"]))

    def dot_range(self) -> tuple[int, int]:
        """Smallest and largest dot product of one row."""
        mw = self.get_nodeattr("mw")
        if self.is_xnor():
            return -mw, mw
        lo, hi = dtype_range(self.in_dtype())
        m = max(abs(lo), abs(hi))
        return -mw * m, mw * m

    def hw_params(self, model=None, arrays=True):
        node = self.onnx_node
        mw, mh, pe, simd = (self.get_nodeattr(a) for a in ("mw", "mh", "pe", "simd"))
        if mw % simd or mh % pe:
            raise UserError(f"node '{node.name}': PE={pe} must divide MH={mh} and SIMD={simd} must divide MW={mw}")
        xnor = self.is_xnor()
        nf, sf = mh // pe, mw // simd
        dot_lo, dot_hi = self.dot_range()
        acc_bits = unsigned_bits(mw) if xnor else signed_bits(dot_lo, dot_hi)
        if self.has_thresholds():
            act = "threshold"
            thr_bits = unsigned_bits(mw + 1) if xnor else signed_bits(dot_lo, dot_hi + 1)
        else:
            act = "popcount_to_dot" if xnor else "identity"
            thr_bits = 0
            olo, ohi = dtype_range(self.out_dtype())
            if dot_lo < olo or dot_hi > ohi:
                raise UserError(f"node '{node.name}': dot products in [{dot_lo}, {dot_hi}] do not fit acc_dtype "
                                f"{self.out_dtype().name}; widen acc_dtype")
        weights = thresholds = None
        if arrays and model is not None:
            w = initializer(model, node, 1, "weights")
            if w.shape != (mw, mh):
                raise UserError(f"node '{node.name}': weights of shape {w.shape} are not [MW, MH] = [{mw}, {mh}]")
            if not np.all(np.abs(w) == 1):
                raise UserError(f"node '{node.name}': MVAU weights must be +-1; binarise the layer before lowering")
            weights = pack_weight_bits(w, pe, simd)
            if act == "threshold":
                t = initializer(model, node, 2, "thresholds").astype(np.float64).reshape(-1)
                if t.size != mh:
                    raise UserError(f"node '{node.name}': {t.size} thresholds for MH={mh} channels; "
                                    "give one per channel")
                if xnor:
                    tp = popcount_thresholds(t, mw)  # P >= ceil((T + MW) / 2), clamped to [0, MW + 1]
                else:
                    tp = np.clip(np.ceil(t), dot_lo, dot_hi + 1).astype(np.int64)  # dot >= T <=> dot >= ceil(T)
                thresholds = np.ascontiguousarray(tp.reshape(nf, pe).T)  # [PE][NF]: channel nf*PE + p
        return MVAUParams(
            **self.base_params(), mw=mw, mh=mh, pe=pe, simd=simd, nf=nf, sf=sf, num_vecs=self.num_vecs(),
            xnor=xnor, acc_bits=acc_bits, act=act, thr_bits=thr_bits,
            ram_style=resolve_ram_style(self.get_nodeattr("ram_style"), nf * sf, simd),
            weights=weights, thresholds=thresholds,
        )

    # reference
    def execute_node(self, context, graph):
        node = self.onnx_node
        x = context[node.input[0]]
        w = context[node.input[1]]
        t = context[node.input[2]] if self.has_thresholds() else None
        out = mvau_reference(x.reshape(-1, self.get_nodeattr("mw")), w, t)
        vec_shape = tuple(self.get_nodeattr("vec_shape"))
        out_shape = (x.shape[0],) + vec_shape[1:] + (self.get_nodeattr("mh"),)
        context[node.output[0]] = out.reshape(out_shape).astype(np.float32)
