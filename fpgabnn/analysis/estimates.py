"""Performance and resource estimate of a folded dataflow accelerator against a board's budget.

A read-only analysis returning a dict (qonnx style). Cycles come from each layer's ``exp_cycles()``; in a
stream pipeline the slowest layer sets the initiation interval (II), so the frame rate is clock / II
(FINN's ``dataflow_performance``). Latency is reported as the sum of the layers' cycles: an upper bound,
since consecutive layers overlap. Resources are the layers' own estimates (each cites its model: FINN-R,
Blott et al. TRETS 2018, and Xilinx UG473/UG474) plus the glue the HLS generator adds between them:
data-width converters, port resizers and the stream FIFOs. The PYNQ shell (DMA, interconnect) is not
included.
"""

from __future__ import annotations

import math

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from fpgabnn.errors import UserError
from fpgabnn.hw.base import bram18_for_memory

#: resources summed and compared with the board (BRAM36 is derived from BRAM18 for the report)
RESOURCES = ("LUT", "FF", "BRAM18", "DSP", "URAM")

SOURCES = {
    "cycles": "per-layer exp_cycles(): folded loop trip counts at II=1 (FINN get_exp_cycles); "
              "II = max over layers, fps = clock / II (FINN dataflow_performance)",
    "MVAU": "FINN-R (Blott et al., TRETS 2018, sec. 4.2) LUT model; weight memory in RAMB18 per UG473 "
            "Table 1-7 aspect ratios, LUTRAM (RAM64X1S, UG474) below 64 words or 1 Kibit",
    "SlidingWindow": "line buffer of KH padded rows in RAMB18/LUTRAM (UG473/UG474) plus address logic",
    "Thresholding": "LUT6 table of 2^in_bits entries per PE for inputs up to 8 bits, else comparators",
    "MaxPool": "one output row of partial maxima in RAMB18/LUTRAM plus one comparator per PE lane",
    "LabelSelect": "insertion-sorted top-k registers, k comparators per PE lane",
    "dwc": "gather: one LUT per output bit (load enable); split: an R:1 mux per output bit, one LUT6 per "
           "4:1 (UG474, CLB multiplexers)",
    "fifo": "hls::stream FIFO as SRLC32E shift registers, one LUT per bit per 32 words (UG474), "
            "RAMB18 when deep (UG473)",
    "bram36": "BRAM36 = BRAM18 / 2: a RAMB36 holds two independent RAMB18 (UG473)",
}


def _folding(inst) -> dict:
    return {a: inst.get_nodeattr(a) for a in ("pe", "simd") if a in inst.get_nodeattr_types()}


def _zero() -> dict:
    return dict.fromkeys(RESOURCES, 0)


def _add(total: dict, part: dict) -> dict:
    for r in RESOURCES:
        total[r] += part[r]
    return total


def _dwc_estimate(in_w: int, out_w: int) -> dict:
    if out_w >= in_w:  # gather R input words into one
        return {**_zero(), "LUT": 10 + out_w, "FF": out_w + 8}
    ratio = in_w // out_w  # split one word into R
    return {**_zero(), "LUT": 10 + out_w * math.ceil(ratio / 4), "FF": in_w + 8}


def _resize_estimate() -> dict:
    return {**_zero(), "LUT": 4, "FF": 4}


def _fifo_estimate(width: int, depth: int) -> dict:
    bram = bram18_for_memory(depth, width) if depth > 32 else 0
    lut = 8 if bram else 8 + width * math.ceil(depth / 32)
    return {**_zero(), "LUT": lut, "FF": 8 + (0 if bram else width), "BRAM18": bram}


def link_resources(dt, out_epw: int, in_epw: int, fifo_depth: int) -> dict:
    """Glue the HLS generator puts between two layers: the producer's output FIFO and, when the element
    counts per word differ, its width converters with their FIFOs (for SetFolding's cost model)."""
    from fpgabnn.codegen.hls import converters

    total = _fifo_estimate(out_epw * dt.bitwidth(), max(2, fifo_depth))
    for conv in converters("link", dt, out_epw, in_epw, 1):
        _add(total, _dwc_estimate(conv["in_width"], conv["out_width"]))
        _add(total, _fifo_estimate(conv["out_width"], 2))
    return total


def port_resources(width: int, fifo_depth: int = 2) -> dict:
    """An AXI-Stream port adapter (TLAST, byte-aligned width) and the FIFO between it and its layer."""
    return _add(_resize_estimate(), _fifo_estimate(width, max(2, fifo_depth)))


def cost_weights(board=None) -> dict:
    """Weights that turn a resource dict into one number, the fraction of the board it uses summed over
    resources (default: the XC7Z020 of the PYNQ boards)."""
    budget = _resolve_board(board or "pynq-z2").resources
    return {r: 1.0 / budget[r] for r in RESOURCES if budget[r] > 0}


def weighted_cost(resources: dict, weights: dict) -> float:
    return sum(w * resources[r] for r, w in weights.items())


def _glue(model: ModelWrapper) -> list[dict]:
    """Converters, port resizers and FIFOs exactly as the HLS generator places them."""
    from fpgabnn.codegen.hls import build_chain

    built = build_chain(model)
    glue = []
    for ctx in built["chain"]:
        if ctx["op"] == "dwc":
            est = _dwc_estimate(ctx["in_width"], ctx["out_width"])
        elif ctx["op"] in ("axis_in", "axis_out"):
            est = _resize_estimate()
        else:
            continue
        cycles = max(ctx["in_words"], ctx["out_words"])
        glue.append({"name": ctx["name"], "op": ctx["op"], "in_width": ctx["in_width"],
                     "out_width": ctx["out_width"], "cycles": int(cycles), **est})
    for s in built["streams"]:
        glue.append({"name": s["name"], "op": "fifo", "in_width": s["width"], "out_width": s["width"],
                     "depth": s["depth"], "cycles": 0, **_fifo_estimate(s["width"], s["depth"])})
    return glue


def _resolve_board(board):
    if isinstance(board, str):
        from fpgabnn.deploy.boards import load_board

        return load_board(board)
    return board


def estimate_dataflow(model: ModelWrapper, board, clock_mhz: float | None = None) -> dict:
    """Per-layer cycles and resources, the bottleneck, II, fps, latency and totals against ``board``
    (a Board or a board name); ``clock_mhz`` defaults to the board's clock."""
    from fpgabnn.transforms.folding import folding_record
    from fpgabnn.transforms.pipeline import split_dataflow

    board = _resolve_board(board)
    clock = float(clock_mhz or board.clock_mhz)
    if clock <= 0:
        raise UserError(f"clock {clock} MHz is not positive; pass a positive --clock-mhz")
    layers = []
    for node in split_dataflow(model).hw:
        inst = getCustomOp(node)
        try:
            inst.check_folding()
        except ValueError as err:
            raise UserError(f"{err}; fix the folding (fpgabnn build --folding or --target-fps)") from None
        est = inst.estimates()
        layers.append({
            "name": node.name, "op": node.op_type, "folding": _folding(inst),
            "cycles": int(est["cycles"]), "LUT": int(est["LUT"]), "FF": int(est["FF"]),
            "BRAM18": int(est["BRAM18"]), "DSP": int(est["DSP"]), "URAM": 0,
            "in_width": inst.in_stream_width(), "out_width": inst.out_stream_width(),
        })
    glue = _glue(model)

    timed = layers + [g for g in glue if g["cycles"]]
    bottleneck = max(timed, key=lambda r: r["cycles"])
    ii = bottleneck["cycles"]
    totals = {r: sum(x[r] for x in layers + glue) for r in RESOURCES}
    totals["BRAM36"] = totals["BRAM18"] / 2
    budget = dict(board.resources)
    budget["BRAM36"] = board.resources["BRAM18"] / 2
    # a resource the board lacks: 0 % when unused, None (not representable) when used
    utilisation = {r: (100.0 * totals[r] / budget[r] if budget[r] else (0.0 if totals[r] == 0 else None))
                   for r in RESOURCES + ("BRAM36",)}
    overflows = [{"resource": r, "used": totals[r], "available": budget[r], "excess": totals[r] - budget[r]}
                 for r in RESOURCES if totals[r] > budget[r]]
    fps = clock * 1e6 / ii
    report = {
        "board": board.name,
        "part": board.part,
        "clock_mhz": clock,
        "layers": layers,
        "glue": glue,
        "bottleneck": bottleneck["name"],
        "ii_cycles": int(ii),
        "fps": fps,
        "latency_cycles": int(sum(r["cycles"] for r in timed)),
        "latency_us": sum(r["cycles"] for r in timed) / clock,
        "totals": totals,
        "layer_totals": {r: sum(x[r] for x in layers) for r in RESOURCES},
        "budget": budget,
        "utilisation_pct": utilisation,
        "fits": not overflows,
        "overflows": overflows,
        "sources": SOURCES,
    }
    report["folding"] = _folding_summary(folding_record(model), fps)
    return report


def _folding_summary(record: dict | None, fps: float) -> dict:
    """Where the folding came from and, for a target that is unreachable, which layer limits the rate."""
    if record is None:
        return {"source": "model", "message": "folding as stored in the model"}
    if record["source"] == "file":
        message = f"folding from {record['where']}"
        if record["filled"]:
            message += (f"; layers it does not fold ({', '.join(record['filled'])}) were folded to keep up with "
                        f"its slowest layer ({record['budget_cycles']:,} cycles)")
        for lim in record["limiting"]:
            message += (f"; {lim['node']} ({lim['op']}) cannot keep up even fully unfolded "
                        f"({lim['min_cycles']:,} cycles)")
        if record["skipped"]:
            message += (f"; ignored {len(record['skipped'])} FINN entries without an fpgabnn equivalent "
                        f"({', '.join(record['skipped'])})")
        return {**record, "message": message}
    target = record["target_fps"]
    summary = {**record, "fps": target, "met": fps >= target * (1 - 1e-9)}
    if record["limiting"]:
        worst = max(record["limiting"], key=lambda r: r["min_cycles"])
        summary["message"] = (
            f"target {target:,.0f} fps is not reachable at {record['clock_mhz']:g} MHz: layer {worst['node']} "
            f"({worst['op']}) needs at least {worst['min_cycles']:,} cycles per frame even fully unfolded; "
            f"reachable {fps:,.0f} fps (raise --clock-mhz or change that layer)")
    elif summary["met"]:
        summary["message"] = f"target {target:,.0f} fps met: estimated {fps:,.0f} fps"
    else:  # folded for another clock than the one estimated here
        summary["message"] = (f"target {target:,.0f} fps not met: the folding was chosen for "
                              f"{record['clock_mhz']:g} MHz; estimated {fps:,.0f} fps at this clock")
    return summary


def check_fits(report: dict) -> None:
    """UserError (one line) naming each overflowing resource and by how much, with the fix."""
    if report["fits"]:
        return
    parts = [f"{o['resource']} {o['used']:,} of {o['available']:,} (+{o['excess']:,}, "
             f"{100 * o['used'] / o['available']:.0f}%)" if o["available"] else
             f"{o['resource']} {o['used']:,} but the board has none" for o in report["overflows"]]
    raise UserError(f"the design does not fit {report['board']} ({report['part']}): {'; '.join(parts)}; "
                    "lower --target-fps or choose a bigger board (--board)")
