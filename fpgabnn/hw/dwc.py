"""Data-width converter: re-packs a stream from words of ``in_epw`` elements into words of ``out_epw``
elements (one count divides the other; InsertDWC goes through the least common multiple otherwise).
Elements keep their order: gathering puts the first word lowest, splitting sends the lowest bits first."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fpgabnn.errors import UserError
from fpgabnn.hw.base import HWParams, resources
from fpgabnn.hw.infrastructure import InfrastructureLayer


def converter_steps(out_epw: int, in_epw: int) -> list[tuple[int, int]]:
    """(in, out) elements per word of the converters from a producer's ``out_epw`` to a consumer's
    ``in_epw``: none, one, or two through the lcm when neither divides the other."""
    if out_epw == in_epw:
        return []
    if out_epw % in_epw == 0 or in_epw % out_epw == 0:
        return [(out_epw, in_epw)]
    mid = math.lcm(out_epw, in_epw)
    return [(out_epw, mid), (mid, in_epw)]


def dwc_resources(in_width: int, out_width: int) -> dict:
    """Gather: one LUT per output bit (load enable), the output word and its skid register; split: about two
    LUTs and three flip-flops per input bit (held word, shift and skid register). Re-fitted to Yosys
    synth_xilinx of hls_templates/rtllib/fpgabnn_dwc.sv (Yosys synth_xilinx fit,
    benchmarks/results/yosys_calibration.md: within ~10% over 8-1152 bit words)."""
    if out_width >= in_width:
        return resources(10 + out_width, 2 * out_width + 8)
    return resources(2 * in_width, 3 * in_width)


@dataclass(frozen=True, eq=False)
class DWCParams(HWParams):
    in_epw: int = 1
    out_epw: int = 1

    def resources(self):
        return dwc_resources(self.in_width, self.out_width)


class DataWidthConverter(InfrastructureLayer):
    def infrastructure_attrs(self):
        return {"in_epw": ("i", True, 1), "out_epw": ("i", True, 1)}

    def in_elems_per_word(self):
        return self.get_nodeattr("in_epw")

    def out_elems_per_word(self):
        return self.get_nodeattr("out_epw")

    def exp_cycles(self):
        """One word in or out per cycle: the wider side's count."""
        return max(self.in_words(), self.out_words())

    def check_folding(self):
        a, b, n = self.get_nodeattr("in_epw"), self.get_nodeattr("out_epw"), self.elems()
        if a % b and b % a:
            raise ValueError(f"DataWidthConverter {self.onnx_node.name}: {a} and {b} elements per word: "
                             "one must divide the other")
        if n % a or n % b:
            raise ValueError(f"DataWidthConverter {self.onnx_node.name}: {n} elements do not fill words of {a} and {b}")

    def hw_params(self, model=None, arrays=True):
        try:
            self.check_folding()
        except ValueError as err:
            raise UserError(f"{err}; insert converters with InsertDWC") from None
        return DWCParams(**self.base_params(), in_epw=self.get_nodeattr("in_epw"), out_epw=self.get_nodeattr("out_epw"))
