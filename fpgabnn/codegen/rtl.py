"""RTL (Verilog) generation for the accelerator: instances of the hand-written modules in hls_templates/rtllib/,
one per hardware node, with their HDL parameters and ``$readmemh`` memory files computed here from each node's
``hw_params``; the top (hls_templates/rtl/top.v.j2) only wires them in stream order. The output is ``rtl/``
(CONTRACTS.md C): the modules, the top, the memory files and ``manifest.json``.

Every StreamFIFO node becomes an ``fpgabnn_fifo`` holding exactly its ``depth`` words (as the HLS stream of that
depth does), and the frame flags that carry TLAST travel from the input port to the output port through
one more small FIFO.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

import fpgabnn
from fpgabnn.codegen.hls import TEMPLATE_ROOT, hw_nodes, template_env
from fpgabnn.codegen.memh import memh_text
from fpgabnn.core.fileio import atomic_output_dir
from fpgabnn.core.names import safe_identifier
from fpgabnn.errors import UserError
from fpgabnn.hw.base import bram18_for_memory

RTLLIB = TEMPLATE_ROOT / "rtllib"
MANIFEST = "manifest.json"
FIFO_IMPL = {"srl": 0, "lutram": 1, "bram": 2}
KIND_CODE = {"bipolar": 0, "signed": 1, "unsigned": 2}
ACT_CODE = {"threshold": 0, "popcount_to_dot": 1, "identity": 2}


@dataclass
class Instance:
    """One module instance: HDL parameters (int or str) and the memory files it reads."""

    name: str
    op: str
    module: str
    params: dict
    memories: dict = field(default_factory=dict)  # file name -> text
    in_width: int = 0
    out_width: int = 0
    extra: dict = field(default_factory=dict)


def _mem_name(inst: str, what: str) -> str:
    return f"{inst}_{what}.memh"


def instance_for(node, model: ModelWrapper) -> Instance:
    """The module instance of one hardware node, from its hw_params."""
    p = getCustomOp(node).hw_params(model)
    op, name = p.op, p.name
    base = dict(name=name, op=op, in_width=p.in_width, out_width=p.out_width)
    if op == "AxisInput":
        return Instance(module="fpgabnn_axis_input", params={
            "PORT_WIDTH": p.port_width, "DATA_WIDTH": p.out_width, "FRAME_WORDS": p.words}, **base)
    if op == "AxisOutput":
        return Instance(module="fpgabnn_axis_output", params={
            "DATA_WIDTH": p.in_width, "PORT_WIDTH": p.port_width, "FRAME_WORDS": p.words}, **base)
    if op == "StreamFIFO":
        return Instance(module="fpgabnn_fifo", params={
            "DATA_WIDTH": p.width, "DEPTH": p.depth, "IMPL": FIFO_IMPL[p.impl]}, **base,
            extra={"depth": p.depth, "impl": p.impl})
    if op == "DataWidthConverter":
        return Instance(module="fpgabnn_dwc", params={"IN_WIDTH": p.in_width, "OUT_WIDTH": p.out_width}, **base)
    if op == "Thresholding":
        params = {"CHANNELS": p.channels, "PE": p.pe, "IN_BITS": p.in_bits, "IN_SIGNED": int(p.in_kind == "signed"),
                  "OUT_BITS": p.out_bits, "ROWS": p.rows}
        if p.mode == "lut":
            if p.table is None:
                raise UserError(f"node '{node.name}': Thresholding without thresholds; lower the model again")
            table = np.asarray(p.table).transpose(1, 2, 0).reshape(-1, p.pe)  # line r * 2^bits + x, lane p
            text = memh_text(table.astype(np.int64), p.out_bits)
            params.update(MODE=0)
        else:
            thr = np.asarray(p.thresholds).transpose(1, 0, 2).reshape(p.rows, p.pe * p.nt)  # lane p thr i: p*NT + i
            text = memh_text(thr, p.in_bits + 2)
            params.update(MODE=1, NT=p.nt, OUT_BASE=p.out_base)
        fname = _mem_name(name, "thresholds")
        params["MEM_FILE"] = fname
        return Instance(module="fpgabnn_thresholding", params=params, memories={fname: text}, **base)
    if op == "MVAU":
        if p.weights is None:
            raise UserError(f"node '{node.name}': MVAU without weights; lower the model again")
        wfile = _mem_name(name, "weights")
        words = np.asarray(p.weights).transpose(1, 0, 2).reshape(p.tiles, p.pe * p.simd)  # bit p*SIMD + s
        memories = {wfile: memh_text(words.astype(np.int64), 1)}
        params = {"MW": p.mw, "MH": p.mh, "PE": p.pe, "SIMD": p.simd, "XNOR": int(p.xnor), "IN_BITS": p.in_bits,
                  "IN_SIGNED": int(p.in_kind == "signed"), "ACT": ACT_CODE[p.act], "OUT_BITS": p.out_bits,
                  "THR_BITS": max(1, p.thr_bits), "RAM_STYLE": int(p.ram_style == "block"), "WEIGHT_FILE": wfile}
        if p.act == "threshold":
            tfile = _mem_name(name, "thresholds")
            memories[tfile] = memh_text(np.asarray(p.thresholds).T, p.thr_bits)  # line nf, lane p
            params["THRESH_FILE"] = tfile
        return Instance(module="fpgabnn_mvau", params=params, memories=memories, **base)
    if op == "SlidingWindow":
        depth = (p.kh + p.sh) * p.w * (p.c // p.simd)
        return Instance(module="fpgabnn_swg", params={
            "H": p.h, "W": p.w, "C": p.c, "SIMD": p.simd, "KH": p.kh, "KW": p.kw, "SH": p.sh, "SW": p.sw,
            "PT": p.pt, "PL": p.pl, "PB": p.pb, "PR": p.pr, "ELEM_BITS": p.in_bits, "PAD_VALUE": p.pad_raw,
            "PARALLEL": int(p.parallel), "RAM_STYLE": int(bram18_for_memory(depth, p.in_width) > 0)}, **base)
    if op == "MaxPool":
        return Instance(module="fpgabnn_maxpool", params={
            "H": p.h, "W": p.w, "C": p.c, "PE": p.pe, "KH": p.kh, "KW": p.kw, "SH": p.sh, "SW": p.sw,
            "ELEM_BITS": p.in_bits, "KIND": KIND_CODE[p.in_kind], "OVERLAP": int(p.overlap)}, **base)
    if op == "LabelSelect":
        return Instance(module="fpgabnn_labelselect", params={
            "C": p.c, "PE": p.pe, "K": p.k, "IN_BITS": p.in_bits, "IN_SIGNED": int(p.in_kind == "signed"),
            "OUT_BITS": p.out_bits}, **base)
    raise UserError(f"node '{node.name}': no RTL module for {op}; build with --backend hls")


def _literal(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(int(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, str) and all(ch.isalnum() or ch in "_.-" for ch in v):
        return f'"{v}"'
    raise ValueError(f"HDL parameter value {v!r} is neither an integer nor a plain file name")


def build_design(model: ModelWrapper, top_name: str, port_width: int) -> dict:
    """Instances in stream order, the wires and connections of the top, and the I/O description."""
    from fpgabnn.transforms.infrastructure import has_infrastructure, insert_infrastructure

    if not has_infrastructure(model):
        model = insert_infrastructure(model, port_width)
    nodes = hw_nodes(model)
    insts = [instance_for(n, model) for n in nodes]
    names = [i.name for i in insts]
    if len(set(names)) != len(names):
        raise UserError("two hardware nodes map to the same Verilog identifier; give the nodes unique names "
                        "(qonnx GiveUniqueNodeNames)")
    if insts[0].op != "AxisInput" or insts[-1].op != "AxisOutput":
        raise UserError("the accelerator must start with AxisInput and end with AxisOutput; run InsertIOPorts")
    for a, b in zip(insts, insts[1:]):
        if "StreamFIFO" not in (a.op, b.op):
            raise UserError(f"no StreamFIFO between '{a.name}' and '{b.name}'; run InsertFIFO")
        if a.out_width != b.in_width:
            raise UserError(f"'{a.name}' produces {a.out_width}-bit words but '{b.name}' takes {b.in_width}; "
                            "run InsertDWC")
    top = safe_identifier(top_name, prefix="top")
    if top in {i.name for i in insts} or top.startswith("fpgabnn_"):
        raise UserError(f"top name '{top}' collides with a module or instance name; pass another --top-name")

    wires, blocks = [], []
    clk = [{"port": "clk", "wire": "ap_clk"}, {"port": "rst", "wire": "rst"}]

    def stream(prefix, width):
        wires.extend([{"name": f"{prefix}_tdata", "msb": width - 1, "gauge": False},
                      {"name": f"{prefix}_tvalid", "msb": 0, "gauge": False},
                      {"name": f"{prefix}_tready", "msb": 0, "gauge": False}])
        return prefix

    def ports(side, prefix):
        return [{"port": f"{side}_axis_{s}", "wire": f"{prefix}_{s}"} for s in ("tdata", "tvalid", "tready")]

    links = [stream(f"link{k}", a.out_width) for k, a in enumerate(insts[:-1])]
    fifos = []
    for k, inst in enumerate(insts):
        conn = list(clk)
        conn += ports("s", links[k - 1]) if k > 0 else [
            {"port": "s_axis_tdata", "wire": "s_axis_tdata"}, {"port": "s_axis_tvalid", "wire": "s_axis_tvalid"},
            {"port": "s_axis_tready", "wire": "s_axis_tready"}, {"port": "s_axis_tlast", "wire": "s_axis_tlast"}]
        conn += ports("m", links[k]) if k < len(insts) - 1 else [
            {"port": "m_axis_tdata", "wire": "m_axis_tdata"}, {"port": "m_axis_tvalid", "wire": "m_axis_tvalid"},
            {"port": "m_axis_tready", "wire": "m_axis_tready"}, {"port": "m_axis_tlast", "wire": "m_axis_tlast"}]
        if inst.op == "AxisInput":
            conn += [{"port": "m_flag_tdata", "wire": "flag_in_tdata"}, {"port": "m_flag_tvalid", "wire": "flag_in_tvalid"},
                     {"port": "m_flag_tready", "wire": "flag_in_tready"}, {"port": "tlast_error", "wire": "tlast_error"}]
        if inst.op == "AxisOutput":
            conn += [{"port": "s_flag_tdata", "wire": "flag_out_tdata"},
                     {"port": "s_flag_tvalid", "wire": "flag_out_tvalid"},
                     {"port": "s_flag_tready", "wire": "flag_out_tready"}]
        if inst.op == "StreamFIFO":
            occ = f"{inst.name}_occupancy"
            wires.append({"name": occ, "msb": _count_width(inst.params["DEPTH"]) - 1, "gauge": True})
            conn.append({"port": "occupancy", "wire": occ})
            fifos.append({"name": inst.name, "width": inst.params["DATA_WIDTH"], "depth": inst.extra["depth"],
                          "impl": inst.extra["impl"], "gauge": occ})
        blocks.append({"module": inst.module, "name": inst.name, "comment": f"{inst.op} {inst.name}",
                       "params": [{"name": k, "value": _literal(v)} for k, v in inst.params.items()], "ports": conn})
    # the frame flags (TLAST per batch) from the input port to the output port
    flag_depth = max(16, 2 * len(insts) + 2)
    stream("flag_in", 1)
    stream("flag_out", 1)
    wires.append({"name": "flag_occupancy", "msb": _count_width(flag_depth) - 1, "gauge": False})
    blocks.append({"module": "fpgabnn_fifo", "name": "frame_flags", "comment": "frame flags: TLAST per batch",
                   "params": [{"name": "DATA_WIDTH", "value": "1"}, {"name": "DEPTH", "value": str(flag_depth)},
                              {"name": "IMPL", "value": "1"}],
                   "ports": clk + ports("s", "flag_in") + ports("m", "flag_out")
                   + [{"port": "occupancy", "wire": "flag_occupancy"}]})

    first, last = getCustomOp(nodes[0]), getCustomOp(nodes[-1])
    pin, pout = first.hw_params(model), last.hw_params(model)
    if pin.port_width != pout.port_width:
        raise UserError(f"input port {pin.port_width} bits and output port {pout.port_width} bits differ; "
                        "give both ports the board's axi_port_width")
    io = {
        "in_shape": list(first.in_shape()), "out_shape": list(last.out_shape()),
        "in_dtype": first.in_dtype().name, "out_dtype": last.out_dtype().name,
        "in_kind": pin.in_kind, "out_kind": pout.out_kind, "in_bits": pin.in_bits, "out_bits": pout.out_bits,
        "in_elems": pin.elems, "out_elems": pout.elems, "port_width": pin.port_width,
        "in_beats": pin.beats, "out_beats": pout.beats, "top_name": top,
    }
    from fpgabnn.transforms.fifo_sizing import modelled_cycles

    slowest = max(int(getCustomOp(n).exp_cycles()) for n in nodes)
    cycles = modelled_cycles(model)  # the pipeline with these FIFO depths (fifo_sizing.py)
    return {"top": top, "instances": insts, "wires": wires, "blocks": blocks, "fifos": fifos, "io": io,
            "flag_depth": flag_depth, "cycles": int(cycles) if float(cycles).is_integer() else round(cycles, 3),
            "slowest_layer_cycles": slowest}


def _count_width(depth: int) -> int:
    """The FIFO's COUNT_WIDTH default: $clog2(DEPTH + 2)."""
    return max(1, int(depth + 1).bit_length())


def generate_rtl(model: ModelWrapper, out_dir: Path, top_name: str, clock_mhz: float, port_width: int = 64) -> dict:
    """Write rtl/ (replaced atomically): modules, top, memory files, manifest.json. Returns the manifest."""
    design = build_design(model, top_name, port_width)
    top = design["top"]
    env = template_env()
    text = env.get_template("rtl/top.v.j2").render(
        version=fpgabnn.__version__, top=top, port_width=design["io"]["port_width"], port_msb=design["io"]["port_width"] - 1,
        wires=design["wires"], blocks=design["blocks"])
    modules = sorted(RTLLIB.glob("*.sv"))
    memory_files = sorted(f for i in design["instances"] for f in i.memories)
    manifest = {
        "top": top, "port_width": design["io"]["port_width"], "clock_mhz": float(clock_mhz),
        "files": [m.name for m in modules] + [f"{top}.sv"], "memory_files": memory_files,
        "layers": [{"name": i.name, "op": i.op, "module": i.module, "params": i.params,
                    "memory_files": sorted(i.memories)} for i in design["instances"]],
        "fifos": design["fifos"], "frame_flag_depth": design["flag_depth"], "cycles": design["cycles"],
        "slowest_layer_cycles": design["slowest_layer_cycles"],
        **design["io"],
    }
    out_dir = Path(out_dir)
    with atomic_output_dir(out_dir, overwrite=True) as tmp:
        for m in modules:
            shutil.copyfile(m, tmp / m.name)
        (tmp / f"{top}.sv").write_text(text)
        for inst in design["instances"]:
            for fname, mem in inst.memories.items():
                (tmp / fname).write_text(mem)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def load_manifest(rtl_dir: Path) -> dict:
    """The manifest of a generated rtl/ directory, checked for the files it names."""
    rtl_dir = Path(rtl_dir)
    path = rtl_dir / MANIFEST
    if not path.is_file():
        raise UserError(f"{rtl_dir} has no {MANIFEST}; build with --backend rtl or both")
    try:
        manifest = json.loads(path.read_text())
        names = list(manifest["files"]) + list(manifest["memory_files"])
        manifest["top"], manifest["port_width"], manifest["in_beats"], manifest["out_beats"]  # noqa: B018
    except (ValueError, KeyError, TypeError) as err:
        raise UserError(f"{path} is damaged ({type(err).__name__}: {err}); rebuild with `fpgabnn build`") from None
    missing = [n for n in names if not (rtl_dir / n).is_file()]
    if missing:
        raise UserError(f"{rtl_dir} is missing {', '.join(missing[:3])}; rebuild with `fpgabnn build`")
    return manifest
