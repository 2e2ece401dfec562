"""Matrix-vector(-threshold) unit: the XNOR-popcount (or integer-input) layer of a binary network.

out = x . W per input vector (W in {-1,+1}); with thresholds, out = +1 if dot >= T[c] else -1.
In XNOR mode the hardware counts matches P and dot = 2P - MW (docs/methods.md section 6), so a dot-domain
threshold T becomes P >= ceil((T + MW) / 2) in the popcount domain.
"""

from __future__ import annotations

import math

import numpy as np
from qonnx.core.datatype import DataType

from fpgabnn.hw.base import HWLayer, bram18_for_memory, divisors, lutram_luts


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

    # estimates
    def weight_mem_shape(self) -> tuple[int, int]:
        """(depth, width) of one PE's weight memory: NF*SF words of SIMD weights."""
        wbits = 1
        return self.neuron_fold() * self.synapse_fold(), self.get_nodeattr("simd") * wbits

    def bram18_estimate(self):
        if self.get_nodeattr("ram_style") == "distributed":
            return 0
        depth, width = self.weight_mem_shape()
        return self.get_nodeattr("pe") * bram18_for_memory(depth, width)

    def lut_estimate(self):
        """Analytic model after FINN-R (Blott et al., TRETS 2018, section 4.2): per PE, the SIMD-wide
        multiply (XNOR: one LUT6 per 3 bit pairs, folded into the compressor; integer: an add/subtract of
        the input width per lane), a popcount/adder tree of ~SIMD*log2 width, the accumulator, and a
        threshold comparator; plus LUTRAM for small weight memories and ~100 LUTs of control."""
        pe, simd = self.get_nodeattr("pe"), self.get_nodeattr("simd")
        acc_bits = self.acc_dtype().bitwidth()
        if self.is_xnor():
            lane = simd  # XNOR + compressor input
            tree = simd + acc_bits * math.ceil(math.log2(simd + 1))
        else:
            in_bits = self.in_dtype().bitwidth()
            lane = simd * in_bits
            tree = (simd - 1) * acc_bits
        compare = acc_bits if self.has_thresholds() else 0
        depth, width = self.weight_mem_shape()
        mem = pe * lutram_luts(depth, width) if self.get_nodeattr("ram_style") != "block" else 0
        thr_mem = pe * lutram_luts(self.neuron_fold(), acc_bits) if self.has_thresholds() else 0
        return int(100 + pe * (lane + tree + acc_bits + compare) + mem + thr_mem)

    def ff_estimate(self):
        pe, simd = self.get_nodeattr("pe"), self.get_nodeattr("simd")
        acc_bits = self.acc_dtype().bitwidth()
        # pipeline registers: input word, per-PE accumulator and output register
        return int(50 + self.in_stream_width() + pe * 2 * acc_bits + simd)

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
