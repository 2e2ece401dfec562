"""HLS C++ generation for the accelerator part of a model: renders ``hls_templates/`` with Jinja.

The accelerator is the chain of ``fpgabnn.hw`` nodes. Each node becomes one kernel call (contexts from
``hls_contexts``); between layers whose stream words carry different numbers of elements a data-width
converter is inserted (through the least common multiple when neither count divides the other). The
external ports are AXI-Stream words of whole bytes with TLAST on the last word of a frame (for an AXI DMA). The output directory is self-contained: sources, the kernel
library, a C-simulation testbench, a Vitis HLS script and ``interface.json`` describing the ports.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from fpgabnn.codegen.hls_contexts import BIPOLAR, dwc_context, layer_context, port_context
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
IN_PORT, OUT_PORT = "in0", "out0"
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


def _elem_kind(dt: DataType) -> str:
    return "bipolar" if dt == BIPOLAR else ("signed" if dt.signed() else "unsigned")


def converters(name: str, dt: DataType, out_epw: int, in_epw: int, words: int) -> list[dict]:
    """Data-width converters from words of ``out_epw`` elements to words of ``in_epw`` elements."""
    if out_epw == in_epw:
        return []
    ew = dt.bitwidth()
    if out_epw % in_epw == 0 or in_epw % out_epw == 0:
        return [dwc_context(f"{name}_dwc", out_epw * ew, in_epw * ew, words)]
    mid = math.lcm(out_epw, in_epw)
    first = dwc_context(f"{name}_dwc0", out_epw * ew, mid * ew, words)
    return [first, dwc_context(f"{name}_dwc1", mid * ew, in_epw * ew, first["out_words"])]


def _byte_width(bits: int) -> int:
    return 8 * math.ceil(bits / 8)


def build_chain(model: ModelWrapper) -> dict:
    """Contexts of every kernel in stream order, the streams connecting them, and the port description."""
    nodes = hw_nodes(model)
    insts = [getCustomOp(n) for n in nodes]
    for inst in insts:
        inst.check_folding()
    chain, depths = [], []
    for i, (node, inst) in enumerate(zip(nodes, insts)):
        if i > 0:
            prev = insts[i - 1]
            if prev.out_dtype() != inst.in_dtype():
                raise UserError(
                    f"'{nodes[i - 1].name}' produces {prev.out_dtype().name} but '{node.name}' expects "
                    f"{inst.in_dtype().name}; make the datatypes of connected layers agree"
                )
            convs = converters(chain[-1]["name"], inst.in_dtype(), prev.out_elems_per_word(),
                                inst.in_elems_per_word(), prev.out_words())
            chain += convs
            depths += [2] * len(convs)
        chain.append(layer_context(node, model))
        depths.append(int(inst.get_nodeattr("out_fifo_depth")))
    names = [c["name"] for c in chain]
    if len(set(names)) != len(names):
        raise UserError("two hardware layers map to the same C identifier; give the nodes unique names "
                        "(qonnx GiveUniqueNodeNames)")

    first, last = insts[0], insts[-1]
    in_port_width = _byte_width(chain[0]["in_width"])
    out_port_width = _byte_width(chain[-1]["out_width"])
    chain.insert(0, port_context("axis_in", "port_in", in_port_width, chain[0]["in_width"], chain[0]["in_words"]))
    depths.insert(0, 2)
    chain.append(port_context("axis_out", "port_out", chain[-1]["out_width"], out_port_width, chain[-1]["out_words"]))
    depths.append(2)

    streams = []
    for i, (ctx, depth) in enumerate(zip(chain, depths)):
        ctx["in_stream"] = IN_PORT if i == 0 else chain[i - 1]["out_stream"]
        if i == len(chain) - 1:
            ctx["out_stream"] = OUT_PORT
        else:
            ctx["out_stream"] = f"{ctx['name']}_out"
            streams.append({"name": ctx["out_stream"], "width": ctx["out_width"], "depth": max(2, depth)})

    in_dt, out_dt = first.in_dtype(), last.out_dtype()
    for dt, where in ((in_dt, "input"), (out_dt, "output")):
        if dt.bitwidth() > 32:
            raise UserError(f"accelerator {where} type {dt.name} is wider than the testbench's int32 files")
    io = {
        "in_shape": list(first.in_shape()), "out_shape": list(last.out_shape()),
        "in_dtype": in_dt.name, "out_dtype": out_dt.name,
        "in_kind": _elem_kind(in_dt), "out_kind": _elem_kind(out_dt),
        "in_ew": in_dt.bitwidth(), "out_ew": out_dt.bitwidth(),
        "in_epw": first.in_elems_per_word(), "out_epw": last.out_elems_per_word(),
        "in_words": first.in_words(), "out_words": last.out_words(),
        "in_elems": math.prod(first.in_shape()), "out_elems": math.prod(last.out_shape()),
        "in_port": IN_PORT, "out_port": OUT_PORT,
        "in_port_width": in_port_width, "out_port_width": out_port_width,
    }
    # the widest ap_uint of the design: stream words, and weight words rounded up to whole 64-bit limbs
    widest = max([max(c["in_width"], c["out_width"]) for c in chain]
                 + [64 * math.ceil(c["simd"] / 64) for c in chain if c["op"] == "mvau"])
    if widest > AP_INT_CSIM_MAX_W:
        raise UserError(f"a {widest}-bit stream word exceeds ap_int's limit of {AP_INT_CSIM_MAX_W} bits; "
                        "lower the layer's PE/SIMD")
    warnings = []
    if widest > AP_INT_VITIS_MAX_W:
        warnings.append(f"a {widest}-bit stream word exceeds Vitis HLS's ap_int limit of {AP_INT_VITIS_MAX_W} "
                        "bits: C simulation works, synthesis will not; lower the layer's PE/SIMD")
    max_w = 0 if widest <= AP_INT_DEFAULT_MAX_W else 1024 * math.ceil(widest / 1024)
    return {"chain": chain, "streams": streams, "io": io, "ap_int_max_w": max_w, "warnings": warnings}


# ---- writing ---------------------------------------------------------------------------------------
def render_sources(model: ModelWrapper, top_name: str, clock_ns: float, part: str = DEFAULT_PART) -> tuple[dict, dict]:
    """Render every generated file: ({relative path: text}, interface description)."""
    top = safe_identifier(top_name, prefix="top")
    built = build_chain(model)
    io = built["io"]
    headers = sorted(f"hlslib/{p.name}" for p in HLSLIB.glob("*.hpp"))
    ctx = {
        **built, "top_name": top, "guard": top.upper(), "in_port": io["in_port"], "out_port": io["out_port"],
        "in_port_width": io["in_port_width"], "out_port_width": io["out_port_width"],
        "clock_ns": clock_ns, "part": part, "project": f"{top}_hls", "cflags": HLS_CFLAGS, "headers": headers,
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
        "streams": built["streams"], "warnings": built["warnings"],
    }
    return files, interface


def generate_hls(model: ModelWrapper, out_dir: Path, top_name: str, clock_ns: float,
                 part: str = DEFAULT_PART) -> dict:
    """Write the HLS sources of the model's accelerator into ``out_dir`` (replaced atomically).

    Returns the interface description (also written as ``interface.json``) plus ``files``, the
    paths written. ``clock_ns`` is the target clock period of the Vitis HLS script."""
    if not clock_ns > 0:
        raise UserError(f"clock period {clock_ns} ns is not positive; pass the board clock period in ns")
    files, interface = render_sources(model, top_name, clock_ns, part)
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
