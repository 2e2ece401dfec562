"""Folding: how many processing elements (PE, output channels in parallel) and SIMD lanes (input elements in
parallel) each hardware layer gets, chosen for a frame-rate target or read from a FINN folding file.

A layer processes one frame in ``exp_cycles()`` cycles; the pipeline's initiation interval is the slowest
node's count, the AXI-Stream ports' beats per frame at the board's DMA width included, so a target of F
frames/s at f_clk needs every layer at ``<= f_clk / F`` cycles. Among the foldings that meet it, SetFolding
takes the one of least estimated cost (analysis/cost.py). Folding comes before the infrastructure
(converters, FIFOs, ports) is inserted.
The folding file is FINN's format (``finn.transformation.general.ApplyConfig``)::

    {"Defaults": {"ram_style": ["block", ["MVAU"]]},
     "MVAU_0": {"PE": 16, "SIMD": 49, "ram_style": "auto"}}
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from fpgabnn.errors import UserError

#: metadata property where SetFolding records its target and the layers that could not reach it
FOLDING_META = "fpgabnn_folding"

#: FINN's attribute names -> ours
FINN_ATTRS = {"PE": "pe", "SIMD": "simd", "ram_style": "ram_style", "parallel_window": "parallel_window"}

#: the folding attributes (FINN lists PE before SIMD)
FOLDING_ATTRS = ("pe", "simd", "parallel_window")

#: FINN attributes that have no meaning here (fpgabnn embeds weights, places FIFOs and converters itself)
FINN_IGNORED_ATTRS = {
    "mem_mode", "resType", "runtime_writeable_weights", "inFIFODepths", "outFIFODepths", "depth",
    "impl_style", "depth_trigger_uram", "depth_trigger_bram", "preferred_impl_style",
    "ram_style_thresholds", "numInputVectors",
}

#: FINN op types (with their _hls/_rtl/_Batch variants) -> ours, so FINN's node names map onto our nodes
FINN_OPS = {
    "MVAU": "MVAU",
    "MatrixVectorActivation": "MVAU",
    "ConvolutionInputGenerator": "SlidingWindow",
    "Thresholding": "Thresholding",
    "StreamingMaxPool": "MaxPool",
    "LabelSelect": "LabelSelect",
}

#: FINN infrastructure nodes: fpgabnn's generator inserts its own, so their entries are skipped
FINN_INFRASTRUCTURE = ("StreamingFIFO", "StreamingDataWidthConverter", "IODMA", "FMPadding")

_FINN_NAME = re.compile(r"^(?P<op>[A-Za-z]+?)(?:_(?:hls|rtl|Batch))*_(?P<idx>\d+)$")


def _hw_nodes(model: ModelWrapper) -> list:
    """The compute layers; folding them after the infrastructure was inserted would leave it stale."""
    from fpgabnn.transforms.pipeline import split_dataflow

    nodes = split_dataflow(model).hw
    if any(getCustomOp(n).INFRASTRUCTURE for n in nodes):
        raise UserError("the model already has width converters, FIFOs or ports (InsertDWC/InsertFIFO/"
                        "InsertIOPorts); fold the graph before inserting them")
    return nodes


def _board(board):
    from fpgabnn.analysis.cost import resolve_board

    return resolve_board(board)


def _folding_attrs(inst) -> list[str]:
    """The folding attributes a layer has (pe, simd, parallel_window), in the order FINN lists them."""
    return [a for a in FOLDING_ATTRS if a in inst.get_nodeattr_types()]


def _set(inst, option: dict) -> None:
    for attr, value in option.items():
        inst.set_nodeattr(attr, int(value))


def _get(inst) -> dict:
    return {a: inst.get_nodeattr(a) for a in _folding_attrs(inst)}


@dataclass
class _Choice:
    """One legal folding of one layer with what it costs."""

    option: dict
    cycles: int
    cost: float
    in_epw: int
    out_epw: int


def _choices(inst, weights: dict, model=None) -> list[_Choice]:
    from fpgabnn.analysis.cost import weighted_cost

    choices = []
    for opt in inst.folding_options():
        _set(inst, opt)
        est = inst.estimates(model)
        choices.append(_Choice(opt, int(est["cycles"]), weighted_cost({**est, "URAM": 0}, weights),
                               inst.in_elems_per_word(), inst.out_elems_per_word()))
    return choices


class SetFolding(Transformation):
    """Give the hardware layers the cheapest legal folding whose cycles per frame meet ``target_fps`` at
    ``clock_mhz`` (FINN's SetFolding, with cost taken from the resource estimates).

    Every layer must finish a frame within ``clock / target_fps`` cycles. Among the foldings that do, the
    chain's total estimated cost is minimised: the layers' own estimates plus the glue the generator adds
    between them (FIFOs, and width converters where a producer's elements per word differ from its
    consumer's), each resource weighted by 1 / the board's budget (default: PYNQ-Z2). The minimum is exact
    (dynamic programming along the chain). Two rules come first, each dropped only when no folding within the
    budget satisfies it: the first layer's input words and the last layer's output words divide or are
    multiples of the port width (the ports are then plain splits or gathers), and where an MVAU's SIMD divides
    its SlidingWindow's channels the window uses the same SIMD (no converter), as FINN does.

    A layer that cannot meet the budget even fully unfolded limits the frame rate: with ``relax`` (FINN's
    two-pass relaxation) every layer is then folded for that reachable rate, since running faster than the
    bottleneck only costs area. Target, budget and limiting layers are stored in the model's metadata
    (``FOLDING_META``) for the report.
    """

    def __init__(self, target_fps: float, clock_mhz: float, board=None, relax: bool = True):
        super().__init__()
        if not target_fps or target_fps <= 0:
            raise UserError(f"target frame rate {target_fps} is not positive; pass a positive --target-fps")
        if not clock_mhz or clock_mhz <= 0:
            raise UserError(f"clock {clock_mhz} MHz is not positive; pass a positive --clock-mhz")
        self.target_fps = float(target_fps)
        self.clock_mhz = float(clock_mhz)
        self.board = board
        self.relax = relax

    def budget(self) -> int:
        """Cycles per frame allowed to every layer."""
        return max(1, math.floor(self.clock_mhz * 1e6 / self.target_fps))

    def apply(self, model):
        from fpgabnn.analysis.cost import cost_weights

        budget = self.budget()
        board = _board(self.board)
        outcome = fold_for_budget(model, budget, cost_weights(board), relax=self.relax,
                                  port_width=board.axi_port_width)
        reachable = self.clock_mhz * 1e6 / outcome["ii_cycles"]
        if reachable < self.target_fps and not outcome["limiting"]:
            # a target above one frame per cycle: the layers at the II are what limits
            outcome["limiting"] = [
                {"node": n.name, "op": n.op_type, "min_cycles": getCustomOp(n).exp_cycles()}
                for n in _hw_nodes(model) if getCustomOp(n).exp_cycles() == outcome["ii_cycles"]
            ]
        record_ports = {"port_width": board.axi_port_width, "port_cycles": outcome["port_cycles"]}
        record = {
            "source": "target",
            "target_fps": self.target_fps,
            "clock_mhz": self.clock_mhz,
            "budget_cycles": budget,
            "met": not outcome["limiting"],
            "limiting": outcome["limiting"],
            "reachable_fps": reachable,
            "cost": outcome["cost"],
            **record_ports,
        }
        model.set_metadata_prop(FOLDING_META, json.dumps(record))
        return model, False


def port_cycles(model: ModelWrapper, port_width: int) -> dict:
    """Beats per frame of the input and output ports at ``port_width`` bits (frames.py: dense bits, each frame
    padded to whole beats): a floor under the II that no folding removes."""
    from fpgabnn.deploy.driver.frames import beats_per_frame

    nodes = _hw_nodes(model)
    first, last = getCustomOp(nodes[0]), getCustomOp(nodes[-1])
    elems_in, elems_out = math.prod(first.in_shape()), math.prod(last.out_shape())
    return {"AxisInput": beats_per_frame(elems_in, first.in_dtype().bitwidth(), port_width),
            "AxisOutput": beats_per_frame(elems_out, last.out_dtype().bitwidth(), port_width)}


def fold_for_budget(model, budget: int, weights: dict, fixed: dict | None = None, relax: bool = True,
                    port_width: int = 64) -> dict:
    """Fold the layers of ``model`` (in place) at the least weighted cost with every layer within ``budget``
    cycles per frame; layers named in ``fixed`` ({node name: option}) keep that option.

    Layers (and ports of ``port_width`` bits) that cannot meet the budget are returned as ``limiting``, the
    layers with their fastest settings; with ``relax`` the others are folded for the slowest of those instead.
    Returns limiting, ii_cycles (ports included), cost, port_cycles."""
    fixed = fixed or {}
    nodes = _hw_nodes(model)
    insts = [getCustomOp(n) for n in nodes]
    table = []
    for node, inst in zip(nodes, insts):
        choices = _choices(inst, weights, model)
        if node.name in fixed:
            choices = [c for c in choices if c.option == fixed[node.name]]
        table.append(choices)
    fastest = [min(c.cycles for c in t) for t in table]
    limiting = [{"node": n.name, "op": n.op_type, "min_cycles": m}
                for n, m in zip(nodes, fastest) if m > budget and n.name not in fixed]
    ports = port_cycles(model, port_width)
    limiting += [{"node": op, "op": op, "min_cycles": beats, "port_width": port_width}
                 for op, beats in ports.items() if beats > budget]
    effective = max([budget] + [r["min_cycles"] for r in limiting]) if relax else budget
    feasible = [[c for c in t if c.cycles <= max(effective, m)] for t, m in zip(table, fastest)]
    # constraints dropped in turn when no folding within the budget satisfies them: first/last layer words that
    # divide or are multiples of the port width (a plain split/gather at the ports), then windows producing their
    # MVAU's SIMD directly (no converter)
    aligned = _port_aligned(feasible, insts, port_width)
    found = None
    for table, match_windows in ((aligned, True), (aligned, False), (feasible, True), (feasible, False)):
        if table is not None and found is None:
            found = _cheapest_chain(model, nodes, insts, table, weights, port_width, match_windows=match_windows)
    plan, cost = found
    for inst, choice in zip(insts, plan):
        _set(inst, choice.option)
        inst.check_folding()
    ii = max([c.cycles for c in plan] + list(ports.values()))
    return {"limiting": limiting, "ii_cycles": ii, "cost": cost, "port_cycles": ports}


def _aligned(width: int, port_width: int) -> bool:
    return width % port_width == 0 or port_width % width == 0


def _port_aligned(feasible, insts, port_width: int):
    """``feasible`` with the first layer's input words and the last layer's output words restricted to widths
    that divide or are multiples of ``port_width``; None when that leaves a layer without options."""
    in_bits, out_bits = insts[0].in_dtype().bitwidth(), insts[-1].out_dtype().bitwidth()
    table = [list(t) for t in feasible]
    table[0] = [c for c in table[0] if _aligned(c.in_epw * in_bits, port_width)]
    table[-1] = [c for c in table[-1] if _aligned(c.out_epw * out_bits, port_width)]
    if len(insts) == 1:
        table[0] = [c for c in table[0] if _aligned(c.out_epw * out_bits, port_width)]
    return table if table[0] and table[-1] else None


def _cheapest_chain(model, nodes, insts, feasible, weights, port_width: int, match_windows: bool):
    """Minimum-cost choice per layer along the chain, or None when no assignment satisfies the constraints.

    V[i][o] = cost(o) + min over groups g of layer i-1 (V[i-1][g] + link cost(g -> o)); the link cost depends
    only on the producer's elements per word, so predecessors are grouped by it (one group per divisor)."""
    from fpgabnn.analysis.cost import link_resources, port_resources, weighted_cost

    first, last = insts[0], insts[-1]
    in_bits, out_bits = first.in_dtype().bitwidth(), last.out_dtype().bitwidth()
    out_depth = last.get_nodeattr("out_fifo_depth")
    # value[o] = (total cost up to and including layer i with option o, index of the predecessor option)
    value = [(c.cost + weighted_cost(port_resources(port_width, c.in_epw * in_bits), weights), -1)
             for c in feasible[0]]
    back = [[v[1] for v in value]]
    for i in range(1, len(insts)):
        prev_inst, node, prev_node = insts[i - 1], nodes[i], nodes[i - 1]
        dt, depth = prev_inst.out_dtype(), prev_inst.get_nodeattr("out_fifo_depth")
        groups = {}  # producer elements per word -> (best value, option index)
        for j, c in enumerate(feasible[i - 1]):
            if value[j][0] < groups.get(c.out_epw, (math.inf, -1))[0]:
                groups[c.out_epw] = (value[j][0], j)
        channels = prev_inst.get_nodeattr("channels") if (
            match_windows and prev_node.op_type == "SlidingWindow" and node.op_type == "MVAU") else None
        links = {}
        new_value = []
        for c in feasible[i]:
            best = (math.inf, -1)
            for epw, (v, j) in groups.items():
                if channels is not None and channels % c.in_epw == 0 and epw != c.in_epw:
                    continue  # the window must produce the MVAU's SIMD directly
                if (epw, c.in_epw) not in links:
                    links[(epw, c.in_epw)] = weighted_cost(link_resources(dt.bitwidth(), epw, c.in_epw, depth),
                                                           weights)
                total = v + links[(epw, c.in_epw)]
                if total < best[0]:
                    best = (total, j)
            new_value.append((best[0] + c.cost, best[1]))
        value = new_value
        back.append([v[1] for v in value])
    totals = [v[0] + weighted_cost(port_resources(port_width, c.out_epw * out_bits, out_depth, "output"), weights)
              for v, c in zip(value, feasible[-1])]
    best = min(range(len(totals)), key=totals.__getitem__)
    if math.isinf(totals[best]):
        return None
    plan, j = [], best
    for i in range(len(insts) - 1, -1, -1):
        plan.append(feasible[i][j])
        j = back[i][j]
    return plan[::-1], totals[best]


def folding_record(model: ModelWrapper) -> dict | None:
    """How the folding was chosen (SetFolding's target, budget and limiting layers, or the config file and
    the layers filled in for it), or None when the model's attributes were set by hand."""
    raw = model.get_metadata_prop(FOLDING_META)
    return json.loads(raw) if raw else None


# ---- FINN folding files --------------------------------------------------------------------------------
def folding_config(model: ModelWrapper) -> dict:
    """The hardware layers' folding as a FINN folding config (``{"Defaults": {}, node: {"PE", "SIMD", ...}}``)."""
    config = {"Defaults": {}}
    for node in _hw_nodes(model):
        inst = getCustomOp(node)
        entry = {_finn_key(a): int(v) for a, v in _get(inst).items()}
        if "ram_style" in inst.get_nodeattr_types():
            entry["ram_style"] = inst.get_nodeattr("ram_style")
        config[node.name] = entry
    return config


def _finn_key(attr: str) -> str:
    return next(k for k, v in FINN_ATTRS.items() if v == attr)


def _load_config(path_or_dict) -> tuple[dict, str]:
    if isinstance(path_or_dict, dict):
        return path_or_dict, "folding config"
    path = Path(path_or_dict)
    if not path.is_file():
        raise UserError(f"folding file {path} does not exist; pass a FINN-format folding JSON")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"folding file {path} is not valid JSON ({err}); fix the file") from None
    if not isinstance(config, dict):
        raise UserError(f"folding file {path} must hold a JSON object {{node name: {{\"PE\": .., \"SIMD\": ..}}}}")
    return config, f"folding file {path}"


def _resolve_node(key: str, by_name: dict) -> str | None:
    """Our node name for a config key: the name itself, or a FINN name (``MVAU_hls_3``,
    ``ConvolutionInputGenerator_2``) mapped to our node of the same kind and index."""
    if key in by_name:
        return key
    m = _FINN_NAME.match(key)
    if m and m["op"] in FINN_OPS:
        ours = f"{FINN_OPS[m['op']]}_{m['idx']}"
        if ours in by_name and by_name[ours].op_type == FINN_OPS[m["op"]]:
            return ours
    return None


def _our_op(op: str) -> str:
    base = re.sub(r"(_hls|_rtl|_Batch)+$", "", op)
    return FINN_OPS.get(base, op)


def _attr_value(where: str, node_name: str, key: str, value, inst):
    attr = FINN_ATTRS.get(key, key if key in FOLDING_ATTRS else None)
    if attr is None or attr not in inst.get_nodeattr_types():
        return None, None
    if attr == "parallel_window":
        if value not in (0, 1):
            raise UserError(f"{where}: node '{node_name}' {key}={value!r} must be 0 or 1")
        value = int(value)
    elif attr in ("pe", "simd"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"{where}: node '{node_name}' {key}={value!r} is not a positive integer; "
                            f"use one of {_legal(inst, attr)}")
    else:
        allowed = inst.get_nodeattr_def(attr)[3]
        if not isinstance(value, str) or (allowed is not None and value not in allowed):
            raise UserError(f"{where}: node '{node_name}' {key}={value!r} is not supported; "
                            f"use one of {', '.join(sorted(allowed or []))}")
    return attr, value


def _legal(inst, attr: str) -> str:
    values = sorted({o[attr] for o in inst.folding_options()})
    return ", ".join(map(str, values))


def apply_folding_config(model: ModelWrapper, path_or_dict, board=None) -> ModelWrapper:
    """A copy of ``model`` with the folding of a FINN-format config applied (file path or dict).

    Node names are ours (``MVAU_0``) or FINN's (``MVAU_hls_0``, ``MatrixVectorActivation_0``,
    ``ConvolutionInputGenerator_0`` -> ``SlidingWindow_0``). Entries of FINN's FIFO / width-converter nodes
    and FINN-only attributes (mem_mode, FIFO depths, ...) are skipped and listed in the folding record
    (the report names them). Unknown nodes or
    attributes and illegal values raise UserError naming the node, the value and the legal choices.

    Layers the config does not fold (FINN's BNN-PYNQ files leave out the max-pools) get the cheapest
    folding that keeps up with the slowest layer it does fold, so they do not become the bottleneck.
    """
    config, where = _load_config(path_or_dict)
    model = copy.deepcopy(model)
    nodes = _hw_nodes(model)
    by_name = {n.name: n for n in nodes}
    insts = {n.name: getCustomOp(n) for n in nodes}
    skipped = []

    def assign(node_name: str, key: str, value, source: str) -> None:
        inst = insts[node_name]
        attr, value = _attr_value(where, node_name, key, value, inst)
        if attr is None:
            if key in FINN_IGNORED_ATTRS or key in FINN_ATTRS:
                skipped.append(f"{source}.{key}")
                return
            known = sorted({k.upper() if k in ("pe", "simd") else k for k in _folding_attrs(inst)} |
                           ({"ram_style"} if "ram_style" in inst.get_nodeattr_types() else set()))
            raise UserError(f"{where}: node '{node_name}' ({by_name[node_name].op_type}) has no attribute "
                            f"'{key}'; use {', '.join(known)}")
        inst.set_nodeattr(attr, value)
        if attr in FOLDING_ATTRS:
            named.add(node_name)

    named: set = set()
    aliases: dict = {}  # our node name -> the FINN name the config used for it
    # Defaults: {"attr": [value, ["OpType", ...]]} or [value, "all"], possibly several value/op-list pairs
    defaults = config.get("Defaults", {})
    if not isinstance(defaults, dict):
        raise UserError(f"{where}: \"Defaults\" must be an object {{attr: [value, [op types] or \"all\"]}}")
    for key, spec in defaults.items():
        if not isinstance(spec, list) or len(spec) % 2:
            raise UserError(f"{where}: Defaults entry '{key}' must be [value, [op types] or \"all\"]")
        for value, ops in zip(spec[::2], spec[1::2]):
            wanted = None if ops == "all" else {_our_op(o) for o in (ops if isinstance(ops, list) else [ops])}
            for name, node in by_name.items():
                if wanted is None or node.op_type in wanted:
                    inst = insts[name]
                    attr = FINN_ATTRS.get(key, key)
                    if attr in inst.get_nodeattr_types():
                        assign(name, key, value, "Defaults")

    for key, entry in config.items():
        if key == "Defaults":
            continue
        name = _resolve_node(key, by_name)
        if name is None:
            if any(key.startswith(p) for p in FINN_INFRASTRUCTURE):
                skipped.append(key)
                continue
            m = _FINN_NAME.match(key)
            if m and FINN_OPS.get(m["op"]) == "LabelSelect" and not any(
                    n.op_type == "LabelSelect" for n in nodes):
                # FINN's BNN-PYNQ models end in a TopK; a build without --topk has no LabelSelect to fold
                skipped.append(f"{key} (the build has no top-k; pass --topk 1 for FINN's LabelSelect)")
                continue
            raise UserError(f"{where}: no hardware layer '{key}' in the model; "
                            f"its layers are {', '.join(by_name)}")
        if not isinstance(entry, dict):
            raise UserError(f"{where}: entry '{key}' must be an object like {{\"PE\": 4, \"SIMD\": 16}}")
        if key != name:
            aliases[name] = key
        for attr_key, value in entry.items():
            assign(name, attr_key, value, key)

    for name, inst in insts.items():
        _check_legal(where, f"'{name}' ('{aliases[name]}' in the file)" if name in aliases else f"'{name}'", inst)
    record = {"source": "file", "where": where, "skipped": skipped, "filled": [], "budget_cycles": None,
              "limiting": []}
    unnamed = [n for n in by_name if n not in named]
    if named and unnamed:
        from fpgabnn.analysis.cost import cost_weights

        board = _board(board)
        budget = max(insts[n].exp_cycles() for n in named)
        outcome = fold_for_budget(model, budget, cost_weights(board), fixed={n: _get(insts[n]) for n in named},
                                  relax=False, port_width=board.axi_port_width)
        record.update(filled=unnamed, budget_cycles=int(budget),
                      limiting=[r for r in outcome["limiting"] if r["op"] not in ("AxisInput", "AxisOutput")])
    model.set_metadata_prop(FOLDING_META, json.dumps(record))
    return model


def _check_legal(where: str, label: str, inst) -> None:
    """UserError naming the node, the value and the legal choices when a folding is illegal."""
    options = inst.folding_options()
    current = _get(inst)
    if current not in options:
        for attr, value in current.items():
            legal = sorted({o[attr] for o in options})
            if value not in legal:
                dims = _dimension_text(inst, attr)
                raise UserError(f"{where}: node {label} {attr.upper()}={value} is illegal ({dims}); "
                                f"use one of {', '.join(map(str, legal))}")
        raise UserError(f"{where}: node {label} folding {current} is illegal; legal settings: {options[:8]} ...")
    inst.check_folding()


def _dimension_text(inst, attr: str) -> str:
    """What the attribute must divide, for the error message."""
    types = inst.get_nodeattr_types()
    if "mh" in types:
        dim = "MH" if attr == "pe" else "MW"
        return f"must divide {dim}={inst.get_nodeattr(dim.lower())}"
    if "channels" in types:
        return f"must divide the {inst.get_nodeattr('channels')} channels"
    return "not a legal setting"
