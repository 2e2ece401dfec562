"""The accelerator's AXI-Stream ports at the board's DMA width (``axi_port_width``).

Frames travel as in fpgabnn/deploy/driver/frames.py: elements packed densely, each frame padded to whole
beats. AxisInput turns the port's beats into the first layer's words (dropping the frame's pad bits),
AxisOutput the last layer's words into beats (zero-padding the frame). Both move one beat or one word per
cycle, so a frame takes max(beats, words) cycles: this is how the DMA width enters the II (TFC with 8-bit
pixels: 784 bytes = 98 beats of 64 bits). TLAST (CONTRACTS.md B): the output's last beat of a frame carries
TLAST when the input's last beat of that frame did; an input TLAST before a frame's last beat ends the frame
early (the missing elements are zero) and counts as a TLAST error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fpgabnn.deploy.driver.frames import beats_per_frame
from fpgabnn.errors import UserError
from fpgabnn.hw.base import HWParams, resources
from fpgabnn.hw.infrastructure import InfrastructureLayer


def gearbox_resources(port_width: int, word_width: int, direction: str = "input") -> dict:
    """A beat/word gearbox (hls_templates/rtllib/fpgabnn_axis_input.sv / _output.sv), fitted to Yosys
    synth_xilinx at P = 64 (benchmarks/results/yosys_calibration.md, "ports": mean error ~10%): the input side
    keeps a P + W bit window and shifts it (~3.6 LUT, 3.3 FF per port bit, 1.9 LUT and 2 FF per word bit); the
    output side packs words into a beat (~6.4 LUT, 1 FF per word bit). The port terms are assumed to scale
    with P (no 128-bit points yet)."""
    p, w = port_width, word_width
    if direction == "input":
        return resources(3.6 * p + 1.9 * w, 3.3 * p + 2 * w)
    return resources(1.9 * p + 6.4 * w, 2.2 * p + w)


@dataclass(frozen=True, eq=False)
class PortParams(HWParams):
    """port_width P; beats per frame; words and elements per word of the layer side; elems per frame."""

    port_width: int = 64
    beats: int = 1
    words: int = 1
    epw: int = 1
    elems: int = 1

    def resources(self):
        return gearbox_resources(self.port_width, self.epw * self.in_bits,
                                 "input" if self.op == "AxisInput" else "output")


class _Port(InfrastructureLayer):
    def infrastructure_attrs(self):
        return {
            "epw": ("i", True, 1),  # elements per word on the layer side
            "port_width": ("i", True, 64),  # bits of the AXI-Stream port
        }

    def beats(self) -> int:
        return beats_per_frame(self.elems(), self.in_dtype().bitwidth(), self.get_nodeattr("port_width"))

    def exp_cycles(self):
        return max(self.beats(), self.elems() // self.get_nodeattr("epw"))

    def check_folding(self):
        p = self.get_nodeattr("port_width")
        if p <= 0 or p % 8:
            raise ValueError(f"{self.onnx_node.op_type} {self.onnx_node.name}: port width {p} is not a positive "
                             "multiple of 8 bits")
        if self.elems() % self.get_nodeattr("epw"):
            raise ValueError(f"{self.onnx_node.op_type} {self.onnx_node.name}: {self.elems()} elements do not fill "
                             f"words of {self.get_nodeattr('epw')}")

    def hw_params(self, model=None, arrays=True):
        try:
            self.check_folding()
        except ValueError as err:
            raise UserError(f"{err}; use the board's axi_port_width (boards/*.toml)") from None
        epw = self.get_nodeattr("epw")
        return PortParams(**self.base_params(), port_width=self.get_nodeattr("port_width"), beats=self.beats(),
                          words=self.elems() // epw, epw=epw, elems=self.elems())


class AxisInput(_Port):
    """s_axis beats -> the first layer's words."""

    def in_elems_per_word(self):
        return max(1, self.get_nodeattr("port_width") // self.in_dtype().bitwidth())

    def out_elems_per_word(self):
        return self.get_nodeattr("epw")

    def in_stream_width(self):
        return self.get_nodeattr("port_width")

    def in_words(self):
        return self.beats()


class AxisOutput(_Port):
    """The last layer's words -> m_axis beats."""

    def in_elems_per_word(self):
        return self.get_nodeattr("epw")

    def out_elems_per_word(self):
        return max(1, self.get_nodeattr("port_width") // self.in_dtype().bitwidth())

    def out_stream_width(self):
        return self.get_nodeattr("port_width")

    def out_words(self):
        return self.beats()
