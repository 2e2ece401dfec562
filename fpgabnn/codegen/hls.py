"""HLS C++ generation for the accelerator part of a model: renders ``hls_templates/`` with Jinja.

The accelerator is the chain of ``fpgabnn.hw`` nodes after InsertDWC / InsertIOPorts / InsertFIFO (a folded
graph without them gets them here, on a copy). The generator walks the nodes: every node but a StreamFIFO
becomes one kernel call (contexts from ``hls_contexts``), every StreamFIFO the stream between its neighbours
with its ``depth``. The ports are ``hls::stream<AxisWord<P>>`` s_axis / m_axis at the port width P of the
AxisInput/AxisOutput nodes (the board's DMA width), carrying frames as fpgabnn/deploy/driver/frames.py packs
them, TLAST per CONTRACTS.md B. The output directory is self-contained: sources, the kernel library, a
C-simulation testbench, a Vitis HLS script and ``interface.json`` describing the ports.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from fpgabnn.codegen.hls_contexts import layer_context
from fpgabnn.core.fileio import atomic_output_dir
from fpgabnn.core.names import safe_identifier
from fpgabnn.errors import UserError
from fpgabnn.hw.base import DOMAIN

# a symlink to the repository's hls_templates/ in a checkout, copied as package data into a wheel
TEMPLATE_ROOT = Path(__file__).resolve().parents[1] / "hls_templates"
HLSLIB = TEMPLATE_ROOT / "hlslib"
#: PYNQ-Z1 / PYNQ-Z2 (Zynq-7020), the default target of the Vitis HLS script
DEFAULT_PART = "xc7z020clg400-1"
#: compiler flags of both C simulation and Vitis HLS (the kernel library is included as "hlslib/...")
HLS_CFLAGS = "-std=c++14 -I."
IN_PORT, OUT_PORT = "s_axis", "m_axis"
#: port width when a graph without ports is generated directly (the builder passes the board's axi_port_width)
DEFAULT_PORT_WIDTH = 64
#: ap_int's default width limit; the C++ headers accept up to 32768 bits, Vitis HLS synthesis up to 4096
AP_INT_DEFAULT_MAX_W, AP_INT_CSIM_MAX_W, AP_INT_VITIS_MAX_W = 1024, 32768, 4096


# ---- Jinja ----------------------------------------------------------------------------------------
def c_init(value, per_line: int = 16) -> str:
    """A nested list as a C brace initializer; leaves are already C literals (or numbers)."""
    if not isinstance(value, (list, tuple)):
        return str(value)
    if value and not isinstance(value[0], (list, tuple)):
        leaves = [str(v) for v in value]
        lines = [", ".join(leaves[i : i + per_line]) for i in range(0, len(leaves), per_line)]
        return "{" + ",\n ".join(lines) + "}"
    return "{" + ",\n".join(c_init(v, per_line) for v in value) + "}"


def _fail(message: str):
    raise ValueError(message)


def template_env(extra_dirs: tuple = ()) -> Environment:
    """The Jinja environment over hls_templates/ (plus ``extra_dirs``, e.g. a test harness's templates)."""
    env = Environment(
        loader=FileSystemLoader([str(TEMPLATE_ROOT), *map(str, extra_dirs)]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["c_init"] = c_init
    env.globals["fail"] = _fail
    return env


# ---- the chain -----------------------------------------------------------------------------------
def hw_nodes(model: ModelWrapper) -> list:
    """The fpgabnn.hw nodes in graph order; they must form one linear chain."""
    nodes = [n for n in model.graph.node if n.domain == DOMAIN]
    if not nodes:
        raise UserError("the model has no hardware layers (domain fpgabnn.hw); lower it to hardware layers first")
    for prev, node in zip(nodes, nodes[1:]):
        if node.input[0] != prev.output[0]:
            raise UserError(
                f"hardware layers '{prev.name}' and '{node.name}' are not directly connected "
                f"('{prev.output[0]}' vs '{node.input[0]}'); the accelerator must be one linear chain "
                "without other nodes in between"
            )
    return nodes


def _check_types(nodes) -> None:
    for a, b in zip(nodes, nodes[1:]):
        pa, pb = getCustomOp(a), getCustomOp(b)
        if pa.out_dtype() != pb.in_dtype():
            raise UserError(f"'{a.name}' produces {pa.out_dtype().name} but '{b.name}' expects "
                            f"{pb.in_dtype().name}; make the datatypes of connected layers agree")


def build_chain(model: ModelWrapper, port_width: int = DEFAULT_PORT_WIDTH) -> dict:
    """Contexts of every kernel in stream order, the streams (one per StreamFIFO node) connecting them, and the
    port description. ``port_width`` is used only when the model has no ports yet."""
    from fpgabnn.transforms.infrastructure import has_infrastructure, insert_infrastructure

    nodes = hw_nodes(model)
    _check_types(nodes)
    for node in nodes:
        try:
            getCustomOp(node).check_folding()
        except ValueError as err:
            raise UserError(f"{err}; fix the folding") from None
    if not has_infrastructure(model):
        model = insert_infrastructure(model, port_width)
        nodes = hw_nodes(model)
    chain, streams, pending = [], [], None
    for node in nodes:
        if node.op_type == "StreamFIFO":
            p = getCustomOp(node).hw_params(model)
            pending = {"name": p.name, "width": p.width, "depth": p.depth, "impl": p.impl}
            streams.append(pending)
            continue
        ctx = layer_context(node, model)
        if chain:
            if pending is None:
                raise UserError(f"no StreamFIFO between '{chain[-1]['name']}' and '{ctx['name']}'; run InsertFIFO")
            ctx["in_stream"] = chain[-1]["out_stream"] = pending["name"]
        chain.append(ctx)
        pending = None
    names = [c["name"] for c in chain] + [s["name"] for s in streams]
    if len(set(names)) != len(names):
        raise UserError("two hardware nodes map to the same C identifier; give the nodes unique names "
                        "(qonnx GiveUniqueNodeNames)")
    if chain[0]["op"] != "axis_in" or chain[-1]["op"] != "axis_out":
        raise UserError("the accelerator must start with AxisInput and end with AxisOutput; run InsertIOPorts")
    chain[0]["in_stream"], chain[-1]["out_stream"] = IN_PORT, OUT_PORT

    first, last = getCustomOp(nodes[0]), getCustomOp(nodes[-1])
    pin, pout = first.hw_params(model), last.hw_params(model)
    in_dt, out_dt = first.in_dtype(), last.out_dtype()
    io = {
        "in_shape": list(first.in_shape()), "out_shape": list(last.out_shape()),
        "in_dtype": in_dt.name, "out_dtype": out_dt.name,
        "in_kind": pin.in_kind, "out_kind": pout.out_kind,
        "in_bits": pin.in_bits, "out_bits": pout.out_bits,
        "in_elems": pin.elems, "out_elems": pout.elems,
        "port_width": pin.port_width, "in_port_width": pin.port_width, "out_port_width": pout.port_width,
        "in_beats": pin.beats, "out_beats": pout.beats,
        "in_port": IN_PORT, "out_port": OUT_PORT,
    }
    if pin.port_width != pout.port_width:
        raise UserError(f"input port {pin.port_width} bits and output port {pout.port_width} bits differ; "
                        "give both ports the board's axi_port_width")
    widest = max([max(c["in_width"], c["out_width"]) for c in chain] + [c["simd"] for c in chain if c["op"] == "mvau"]
                 + [pin.port_width + c["width"] for c in (chain[0], chain[-1])])
    if widest > AP_INT_CSIM_MAX_W:
        raise UserError(f"a {widest}-bit stream word exceeds ap_int's limit of {AP_INT_CSIM_MAX_W} bits; "
                        "lower the layer's PE/SIMD")
    warnings = []
    if widest > AP_INT_VITIS_MAX_W:
        warnings.append(f"a {widest}-bit stream word exceeds Vitis HLS's ap_int limit of {AP_INT_VITIS_MAX_W} "
                        "bits: C simulation works, synthesis will not; lower the layer's PE/SIMD")
    max_w = 0 if widest <= AP_INT_DEFAULT_MAX_W else 1024 * math.ceil(widest / 1024)
    # frames in flight between the ports, bounded by the nodes' buffering: the depth of the TLAST side channel
    tlast_depth = 2 * len(nodes) + 2
    return {"chain": chain, "streams": streams, "io": io, "ap_int_max_w": max_w, "warnings": warnings,
            "tlast_depth": tlast_depth}


# ---- writing ---------------------------------------------------------------------------------------
def render_sources(model: ModelWrapper, top_name: str, clock_ns: float, part: str = DEFAULT_PART,
                   port_width: int = DEFAULT_PORT_WIDTH) -> tuple[dict, dict]:
    """Render every generated file: ({relative path: text}, interface description)."""
    top = safe_identifier(top_name, prefix="top")
    built = build_chain(model, port_width)
    io = built["io"]
    headers = sorted(f"hlslib/{p.name}" for p in HLSLIB.glob("*.hpp"))
    ctx = {
        **built, "top_name": top, "guard": top.upper(), "in_port": io["in_port"], "out_port": io["out_port"],
        "port_width": io["port_width"], "clock_ns": clock_ns, "part": part, "project": f"{top}_hls", "cflags": HLS_CFLAGS, "headers": headers,
    }
    env = template_env()
    files = {
        "params.h": env.get_template("hls/params.h.j2").render(ctx),
        "top.h": env.get_template("hls/top.h.j2").render(ctx),
        "top.cpp": env.get_template("hls/top.cpp.j2").render(ctx),
        "tb.cpp": env.get_template("hls/tb.cpp.j2").render(ctx),
        "hls.tcl": env.get_template("tcl/hls.tcl.j2").render(ctx),
    }
    interface = {
        "top_name": top, "clock_ns": clock_ns, "part": part, **io,
        "layers": [{k: c[k] for k in ("name", "op", "in_width", "out_width", "in_words", "out_words")}
                   for c in built["chain"]],
        "tlast": "TLAST on the last beat of an output frame whose input frame's last beat had TLAST; an input "
                 "TLAST before a frame's last beat ends the frame early (missing elements zero)",
        "streams": built["streams"], "warnings": built["warnings"],
    }
    return files, interface


def generate_hls(model: ModelWrapper, out_dir: Path, top_name: str, clock_ns: float,
                 part: str = DEFAULT_PART, port_width: int = DEFAULT_PORT_WIDTH) -> dict:
    """Write the HLS sources of the model's accelerator into ``out_dir`` (replaced atomically).

    Returns the interface description (also written as ``interface.json``) plus ``files``, the
    paths written. ``clock_ns`` is the target clock period of the Vitis HLS script."""
    if not clock_ns > 0:
        raise UserError(f"clock period {clock_ns} ns is not positive; pass the board clock period in ns")
    files, interface = render_sources(model, top_name, clock_ns, part, port_width)
    out_dir = Path(out_dir)
    with atomic_output_dir(out_dir, overwrite=True) as tmp:
        (tmp / "hlslib").mkdir()
        for hpp in sorted(HLSLIB.glob("*.hpp")):
            shutil.copyfile(hpp, tmp / "hlslib" / hpp.name)
        for rel, text in files.items():
            (tmp / rel).write_text(text)
        (tmp / "interface.json").write_text(json.dumps(interface, indent=2) + "\n")
    written = sorted(str(p) for p in out_dir.rglob("*") if p.is_file())
    return {**interface, "files": written}
