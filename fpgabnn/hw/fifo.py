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
    """srl: one LUT per bit per 32 words plus the output register; lutram: one RAM64X1D per bit per 64 words
    (UG474); bram: RAMB18 per UG473 Table 1-7; ~8 LUT/FF of pointers and flags."""
    impl = fifo_impl(width, depth, impl)
    if impl == "srl":
        return resources(8 + width * math.ceil(depth / 32), 8 + width)
    if impl == "lutram":
        return resources(8 + width * math.ceil(depth / 64), 8 + width)
    return resources(8, 8, max(1, bram18_for_memory(depth, width)))


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
