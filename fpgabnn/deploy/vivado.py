"""The Vivado flow of a build: ``vivado/build.tcl`` (accelerator IP, block design, bitstream, .hwh), rendered
from ``hls_templates/vivado/build.tcl.j2``; Python decides every value, the template only holds the TCL's shape.

Without Vivado the directory is complete and one line says what to run; with ``vivado`` on PATH (or
``--vivado PATH``) the build runs it and reads the bitstream, hardware handoff, utilisation and WNS back.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from fpgabnn.core.names import safe_identifier
from fpgabnn.errors import UserError

VIVADO_DIR = "vivado"
IP_SOURCES = ("rtl", "hls")
#: where PYNQ's own shells place the AXI DMA registers (Zynq-7000 GP0 window / ZynqMP HPM0_FPD window)
DMA_BASE = {"ps7": 0x40400000, "ps8": 0xA0000000}
DMA_RANGE = 0x10000
#: DMA address bits: 32 on Zynq-7000; 64 on UltraScale+, whose DDR_HIGH lies above 4 GB
DMA_ADDR_WIDTH = {"ps7": 32, "ps8": 64}
#: buffer-length register bits: 2**26 - 1 bytes (64 MB) per transfer, so a whole batch is one transfer
SG_LENGTH_WIDTH = 26
#: bytes per beat allowed by the AXI DMA are 2..256 beats; 16-beat bursts suit both HP ports
BURST = 16
_SAFE_PATH = re.compile(r"[A-Za-z0-9_./-]+")
_SAFE_BOARD_PART = re.compile(r"[A-Za-z0-9_.:-]*")


def _rel_file(path: str, where: str) -> str:
    if not _SAFE_PATH.fullmatch(path) or ".." in Path(path).parts or path.startswith("/"):
        raise UserError(f"{where} lists the file '{path}', which is not a plain relative path; rebuild it with fpgabnn")
    return path


def _tool_path(path: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_./+-]+", path):
        raise UserError(f"tool path '{path}' has characters TCL would misread; install it under a plain path")
    return path


def rtl_sources(build_dir: Path) -> tuple[list[str], list[str]]:
    """Design files and memory files of rtl/manifest.json (Contract C), relative to ``build_dir/rtl``."""
    manifest = Path(build_dir) / "rtl" / "manifest.json"
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{manifest} is missing or damaged ({type(err).__name__}); build with --backend rtl or both") from None
    files = [_rel_file(f, str(manifest)) for f in data.get("files", [])]
    if not files:
        raise UserError(f"{manifest} lists no design files; rebuild with --backend rtl or both")
    mems = [_rel_file(f, str(manifest)) for f in data.get("memory_files", [])]
    return files, mems


def vivado_context(build_dir: Path, board, clock_mhz: float, top_name: str, ip_source: str,
                   vitis_hls: str = "vitis_hls", jobs: int = 4) -> dict:
    """Every value build.tcl uses, for ``board`` at ``clock_mhz`` with the accelerator from ``ip_source``."""
    if ip_source not in IP_SOURCES:
        raise UserError(f"unknown accelerator IP source '{ip_source}'; use one of {', '.join(IP_SOURCES)}")
    if not _SAFE_BOARD_PART.fullmatch(board.board_part or ""):
        raise UserError(f"board {board.name}: board_part '{board.board_part}' is not a Vivado board part name")
    if not re.fullmatch(r"[A-Za-z0-9-]+", board.part):
        raise UserError(f"board {board.name}: part '{board.part}' is not a Xilinx part string")
    top = safe_identifier(top_name, prefix="top")
    build_dir = Path(build_dir)
    io = {}
    iface = build_dir / "hls" / "interface.json"
    if iface.is_file():
        io = json.loads(iface.read_text())
    ctx = {
        "design": safe_identifier(f"{top}_bd", prefix="bd"), "top": top, "part": board.part,
        "board_part": board.board_part or "", "board_display": re.sub(r"[^A-Za-z0-9 ()+._-]", "", board.display_name),
        "ps": board.ps, "clock_mhz": f"{clock_mhz:g}", "port_width": int(board.axi_port_width),
        "addr_width": DMA_ADDR_WIDTH[board.ps], "sg_length_width": SG_LENGTH_WIDTH, "burst": BURST,
        "dma_base": f"0x{DMA_BASE[board.ps]:08X}", "dma_range": f"0x{DMA_RANGE:X}",
        "ip_source": ip_source, "jobs": int(jobs), "ip_version": "1.0",
        "rtl_files": [], "memory_files": [], "hls_dir": "../hls", "hls_project": f"{top}_hls",
        "vitis_hls": _tool_path(vitis_hls),
    }
    if ip_source == "rtl":
        files, mems = rtl_sources(build_dir)
        ctx.update(rtl_files=[f"../rtl/{f}" for f in files], memory_files=[f"../rtl/{f}" for f in mems],
                   ip_vendor="fpgabnn", ip_library="user", in_intf="s_axis", out_intf="m_axis")
    else:
        if not (build_dir / "hls" / "hls.tcl").is_file():
            raise UserError(f"{build_dir} has no hls/hls.tcl for the Vitis HLS IP; build with --backend hls or both, "
                            "or use --vivado-ip rtl")
        ctx.update(ip_vendor="xilinx.com", ip_library="hls",
                   in_intf=safe_identifier(io.get("in_port", "s_axis")),
                   out_intf=safe_identifier(io.get("out_port", "m_axis")))
    return ctx


def write_vivado(build_dir: Path, board, clock_mhz: float, top_name: str, ip_source: str,
                 vitis_hls: str = "vitis_hls") -> dict:
    """Render ``build_dir/vivado/build.tcl`` (and flow.json, the values it was made from)."""
    from fpgabnn.codegen.hls import template_env

    ctx = vivado_context(build_dir, board, clock_mhz, top_name, ip_source, vitis_hls)
    out = Path(build_dir) / VIVADO_DIR
    out.mkdir(exist_ok=True)
    (out / "build.tcl").write_text(template_env().get_template("vivado/build.tcl.j2").render(ctx))
    (out / "flow.json").write_text(json.dumps({**ctx, "board": board.name}, indent=2) + "\n")
    return ctx


def find_tool(name: str, given: str | None = None) -> str | None:
    """``given`` (must exist) or ``name`` on PATH, else None."""
    if given:
        path = shutil.which(given) or (given if Path(given).is_file() else None)
        if path is None:
            raise UserError(f"--vivado {given} does not exist; pass the path of the vivado executable")
        return path
    return shutil.which(name)


UTIL_ROWS = {"LUT": ("Slice LUTs", "CLB LUTs"), "FF": ("Slice Registers", "CLB Registers"),
             "BRAM36": ("Block RAM Tile",), "DSP": ("DSPs",), "URAM": ("URAM",)}


def parse_utilization(text: str) -> dict:
    """Used counts from Vivado's report_utilization table ("| Slice LUTs | 1234 | ..." rows)."""
    used = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2:
            continue
        for key, names in UTIL_ROWS.items():
            if key not in used and cells[0].rstrip("*").strip() in names:
                try:
                    used[key] = float(cells[1])
                except ValueError:
                    pass
    return used


def collect_results(build_dir: Path) -> dict:
    """What a finished Vivado run left in vivado/: bitfile, hwh, utilisation, WNS."""
    vdir = Path(build_dir) / VIVADO_DIR
    res_file = vdir / "reports" / "results.txt"
    if not res_file.is_file():
        raise RuntimeError(f"Vivado finished without {res_file}; see {vdir}/vivado.log")
    kv = dict(line.split(" ", 1) for line in res_file.read_text().splitlines() if " " in line)
    util_file = vdir / "reports" / "utilization.rpt"
    return {
        "vivado_version": kv.get("vivado_version"),
        "wns_ns": float(kv["wns_ns"]) if kv.get("wns_ns") not in (None, "") else None,
        "whs_ns": float(kv["whs_ns"]) if kv.get("whs_ns") not in (None, "") else None,
        "timing_met": kv.get("wns_ns") not in (None, "") and float(kv["wns_ns"]) >= 0,
        "bitfile": f"{VIVADO_DIR}/{kv['bitfile']}", "hwh": f"{VIVADO_DIR}/{kv['hwh']}",
        "utilization": parse_utilization(util_file.read_text()) if util_file.is_file() else {},
    }


def run_vivado(build_dir: Path, vivado: str, timeout_s: float | None = None) -> dict:
    """Run ``vivado -mode batch -source build.tcl`` in build_dir/vivado; returns collect_results()."""
    vdir = Path(build_dir) / VIVADO_DIR
    with open(vdir / "vivado.log", "w") as log:
        res = subprocess.run([vivado, "-mode", "batch", "-nojournal", "-source", "build.tcl"], cwd=vdir,
                             stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s, env=os.environ.copy())
    if res.returncode != 0:
        raise RuntimeError(f"Vivado failed (exit {res.returncode}); see {vdir / 'vivado.log'}")
    return collect_results(build_dir)


def instructions(out_dir: Path) -> str:
    return (f"Vivado not found: on a machine with Vivado (2020.2 or later) run "
            f"`cd {Path(out_dir) / VIVADO_DIR} && vivado -mode batch -source build.tcl`")
