"""One number per design for SetFolding: resources weighted by the board's budget, and the cost of the
infrastructure a folding implies (converters, FIFOs, ports), from the same estimate functions as the
infrastructure nodes InsertDWC / InsertFIFO / InsertIOPorts create."""

from __future__ import annotations

from fpgabnn.hw.axis import gearbox_resources
from fpgabnn.hw.dwc import converter_steps, dwc_resources
from fpgabnn.hw.fifo import fifo_resources
from fpgabnn.transforms.infrastructure import DEFAULT_FIFO_DEPTH

#: resources summed and compared with the board (BRAM36 is derived from BRAM18 for the report)
RESOURCES = ("LUT", "FF", "BRAM18", "DSP", "URAM")


def zero() -> dict:
    return dict.fromkeys(RESOURCES, 0)


def add(total: dict, part: dict) -> dict:
    for r in RESOURCES:
        total[r] += part.get(r, 0)
    return total


def link_resources(elem_bits: int, out_epw: int, in_epw: int, fifo_depth: int = DEFAULT_FIFO_DEPTH) -> dict:
    """The infrastructure between a producer sending ``out_epw`` elements per word and a consumer taking
    ``in_epw``: its FIFO and, where the counts differ, the converters with their FIFOs."""
    total = add(zero(), fifo_resources(out_epw * elem_bits, max(DEFAULT_FIFO_DEPTH, fifo_depth)))
    for a, b in converter_steps(out_epw, in_epw):
        add(total, dwc_resources(a * elem_bits, b * elem_bits))
        add(total, fifo_resources(b * elem_bits, DEFAULT_FIFO_DEPTH))
    return total


def port_resources(port_width: int, word_width: int, fifo_depth: int = DEFAULT_FIFO_DEPTH,
                   direction: str = "input") -> dict:
    """An AXI-Stream port (beat/word gearbox) and the FIFO between it and its layer."""
    return add(add(zero(), gearbox_resources(port_width, word_width, direction)),
               fifo_resources(word_width, max(DEFAULT_FIFO_DEPTH, fifo_depth)))


def resolve_board(board):
    """A Board from a Board, a board name or None (the default PYNQ-Z2)."""
    if board is None or isinstance(board, str):
        from fpgabnn.deploy.boards import load_board

        return load_board(board or "pynq-z2")
    return board


def cost_weights(board=None) -> dict:
    """Weights that turn a resource dict into one number, the fraction of the board it uses summed over
    resources (default: the XC7Z020 of the PYNQ boards)."""
    budget = resolve_board(board).resources
    return {r: 1.0 / budget[r] for r in RESOURCES if budget[r] > 0}


def weighted_cost(resources: dict, weights: dict) -> float:
    return sum(w * resources.get(r, 0) for r, w in weights.items())
