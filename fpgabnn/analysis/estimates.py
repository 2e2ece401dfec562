"""Performance and resource estimate of a folded dataflow accelerator against a board's budget.

A read-only analysis returning a dict (qonnx style) that walks the accelerator's nodes: compute layers and the
infrastructure (width converters, FIFOs, the AXI-Stream ports at the board's DMA width) that InsertDWC,
InsertFIFO and InsertIOPorts place; a folded graph without them gets them on a copy first. Every figure is a
node's ``hw_params()``: in a stream pipeline the slowest node sets the initiation interval (II), so the frame
rate is clock / II (FINN's ``dataflow_performance``); the ports count their beats, so the DMA width is part of
the II. Latency is the sum of the nodes' cycles (FIFOs left out): an upper bound, since consecutive nodes
overlap. Resources cite their models (FINN-R, Blott et al. TRETS 2018; Xilinx UG473/UG474). The PYNQ shell
(DMA, interconnect) is not included.
"""

from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from fpgabnn.analysis.cost import RESOURCES, cost_weights, resolve_board, weighted_cost  # noqa: F401  (re-exported)
from fpgabnn.errors import UserError

SOURCES = {
    "cycles": "per-node hw_params().cycles: folded loop trip counts at II=1 (FINN get_exp_cycles), the ports' "
              "beats per frame at the board's DMA width included; II = max over nodes, fps = clock / II "
              "(FINN dataflow_performance)",
    "MVAU": "FINN-R (Blott et al., TRETS 2018, sec. 4.2) LUT model; weight memory of exactly SIMD-bit words in "
            "RAMB18 per UG473 Table 1-7 aspect ratios (ram_style block), LUTRAM (RAM64X1S, UG474) otherwise",
    "SlidingWindow": "line buffer of KH + SH padded rows in RAMB18/LUTRAM (UG473/UG474) plus address logic",
    "Thresholding": "LUT6 table of 2^in_bits entries per PE for inputs up to 8 bits, else comparators",
    "MaxPool": "one output row of partial maxima in RAMB18/LUTRAM plus one comparator per PE lane",
    "LabelSelect": "insertion-sorted top-k registers, k comparators per PE lane",
    "DataWidthConverter": "gather: one LUT per output bit (load enable); split: an R:1 mux per output bit, one "
                          "LUT6 per 4:1 (UG474, CLB multiplexers)",
    "StreamFIFO": "SRLC32E shift registers up to 32 words (one LUT per bit per 32 words, UG474), LUTRAM up to "
                  "1 Kibit, RAMB18 beyond (UG473)",
    "AxisInput/AxisOutput": "beat/word gearbox at the board's axi_port_width: a (P+W)-bit register and a "
                            "multiplexer per word bit over the word's bit offsets",
    "bram36": "BRAM36 = BRAM18 / 2: a RAMB36 holds two independent RAMB18 (UG473)",
}


def _folding(inst) -> dict:
    return {a: inst.get_nodeattr(a) for a in ("pe", "simd", "parallel_window") if a in inst.get_nodeattr_types()}


def estimate_dataflow(model: ModelWrapper, board, clock_mhz: float | None = None) -> dict:
    """Per-layer cycles and resources, the bottleneck, II, fps, latency and totals against ``board``
    (a Board or a board name); ``clock_mhz`` defaults to the board's clock."""
    from fpgabnn.transforms.folding import folding_record
    from fpgabnn.transforms.infrastructure import has_infrastructure, insert_infrastructure
    from fpgabnn.transforms.pipeline import split_dataflow

    board = resolve_board(board)
    clock = float(clock_mhz or board.clock_mhz)
    if clock <= 0:
        raise UserError(f"clock {clock} MHz is not positive; pass a positive --clock-mhz")
    for node in split_dataflow(model).hw:
        try:
            getCustomOp(node).check_folding()
        except ValueError as err:
            raise UserError(f"{err}; fix the folding (fpgabnn build --folding or --target-fps)") from None
    if not has_infrastructure(model):  # a folded graph: count the converters, FIFOs and ports it will get
        model = insert_infrastructure(model, board.axi_port_width)
    layers, glue = [], []
    for node in split_dataflow(model).hw:
        inst = getCustomOp(node)
        params = inst.hw_params(model, arrays=False)
        row = {"name": node.name, "op": node.op_type, **params.estimates(), "URAM": 0,
               "in_width": params.in_width, "out_width": params.out_width}
        if inst.INFRASTRUCTURE:
            if node.op_type == "StreamFIFO":
                row["depth"] = params.depth
            glue.append(row)
        else:
            layers.append({**row, "folding": _folding(inst)})

    timed = [r for r in layers + glue if r["cycles"]]
    bottleneck = max(timed, key=lambda r: r["cycles"])
    slowest = bottleneck["cycles"]
    # once SizeFIFOs has run, the estimate is the modelled pipeline's cycles per frame (bounded FIFOs, layers'
    # interplay); before, the slowest layer's own cycles
    from fpgabnn.transforms.fifo_sizing import recorded_cycles

    recorded = recorded_cycles(model)
    ii = recorded if recorded is not None else slowest
    fifo_bits = sum(g["depth"] * g["in_width"] for g in glue if g["op"] == "StreamFIFO")
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
    latency = sum(r["cycles"] for r in timed if r["op"] != "StreamFIFO")  # a FIFO passes words on, one per cycle
    report = {
        "board": board.name,
        "part": board.part,
        "clock_mhz": clock,
        "port_width": next(g["in_width"] for g in glue if g["op"] == "AxisInput"),
        "layers": layers,
        "glue": glue,
        "bottleneck": bottleneck["name"],
        "ii_cycles": int(ii) if float(ii).is_integer() else round(float(ii), 3),
        "ii_source": "pipeline model (sized FIFOs)" if recorded is not None else "slowest layer (FIFOs not sized)",
        "slowest_layer_cycles": int(slowest),
        "fifo_bits": int(fifo_bits),
        "fps": fps,
        "latency_cycles": int(latency),
        "latency_us": latency / clock,
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
        head = f"target {target:,.0f} fps is not reachable at {record['clock_mhz']:g} MHz: "
        if worst["op"] in ("AxisInput", "AxisOutput"):
            side = "input" if worst["op"] == "AxisInput" else "output"
            summary["message"] = head + (
                f"the {worst['port_width']}-bit {side} port ({worst['op']}) needs {worst['min_cycles']:,} beats per "
                f"frame; reachable {fps:,.0f} fps (a board with a wider DMA port, --host-threshold for the input, "
                "or a higher --clock-mhz)")
        else:
            summary["message"] = head + (
                f"layer {worst['node']} ({worst['op']}) needs at least {worst['min_cycles']:,} cycles per frame even "
                f"fully unfolded; reachable {fps:,.0f} fps (raise --clock-mhz or change that layer)")
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
