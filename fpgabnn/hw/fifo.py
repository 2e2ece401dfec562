"""Stream FIFO: the buffer on every stream between two nodes; its ``depth`` attribute is the one both
backends use (InsertFIFO sets 2, the FIFO sizing sets the depth the layers' schedules need)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fpgabnn.hw.base import HWParams, bram18_for_memory, resources
from fpgabnn.hw.infrastructure import InfrastructureLayer

#: deepest FIFO built from SRLC32E shift registers (UG474: one LUT per bit per 32 words)
SRL_MAX_DEPTH = 32


def fifo_impl(width: int, depth: int, impl: str = "auto") -> str:
    """auto -> srl up to 32 words, bram when the memory needs a RAMB18, else lutram."""
    if impl != "auto":
        return impl
    if depth <= SRL_MAX_DEPTH:
        return "srl"
    return "bram" if bram18_for_memory(depth, width) > 0 else "lutram"


def fifo_resources(width: int, depth: int, impl: str = "auto") -> dict:
    """hls_templates/rtllib/fpgabnn_fifo.sv: DEPTH - 1 words in the memory, one in the output register (a
    flip-flop and an input multiplexer per bit), counters of ~log2(DEPTH) bits. Fitted to Yosys synth_xilinx
    (benchmarks/results/yosys_calibration.md, "fifo"): srl: one SRL16E/SRLC32E per bit per 32 words (a memory
    of 1-2 words stays in flip-flops); lutram: a RAM64M (4 LUT) per 3 bits per 64 words (~1.6 LUT per bit per 64
    words with the read multiplexer); bram: RAMB18 per UG473 Table 1-7, the read and bypass registers."""
    impl = fifo_impl(width, depth, impl)
    mem = max(0, depth - 1)
    log2d = math.ceil(math.log2(max(2, depth)))
    if impl == "srl":
        if mem <= 2:  # too short for an SRL: flip-flops
            return resources(width + 6 + 2 * log2d, width * (1 + mem) + 3)
        return resources(width * (math.ceil(mem / 32) + 1) + 6 + 2 * log2d, width + 3 + log2d)
    if impl == "lutram":
        return resources(66 + 1.63 * width * math.ceil(mem / 64) + 0.3 * width, width + 2 + 4 * log2d)
    return resources(width + 16 + 4 * log2d, width + 3 + 3 * log2d, max(1, bram18_for_memory(mem, width)))


@dataclass(frozen=True, eq=False)
class FIFOParams(HWParams):
    width: int = 1
    depth: int = 2
    impl: str = "srl"

    def resources(self):
        return fifo_resources(self.width, self.depth, self.impl)


class StreamFIFO(InfrastructureLayer):
    def infrastructure_attrs(self):
        return {
            "epw": ("i", True, 1),  # elements per word of the stream
            "depth": ("i", False, 2),  # words
            "impl": ("s", False, "auto", {"auto", "srl", "lutram", "bram"}),
        }

    def in_elems_per_word(self):
        return self.get_nodeattr("epw")

    def out_elems_per_word(self):
        return self.get_nodeattr("epw")

    def exp_cycles(self):
        return self.in_words()

    def check_folding(self):
        if self.get_nodeattr("depth") < 2:
            raise ValueError(f"StreamFIFO {self.onnx_node.name}: depth {self.get_nodeattr('depth')} is below 2")

    def hw_params(self, model=None, arrays=True):
        width, depth = self.in_stream_width(), int(self.get_nodeattr("depth"))
        return FIFOParams(**self.base_params(), width=width, depth=depth,
                          impl=fifo_impl(width, depth, self.get_nodeattr("impl")))
