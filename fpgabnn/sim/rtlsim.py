"""Cycle-accurate RTL simulation of a generated accelerator with Verilator.

The simulator is hls_templates/rtl/tb.cpp (one AXI-Stream testbench for every design) compiled with a
generated ``tb_config.h`` against the design in ``rtl/``; it is built once per rtl/ contents into ``rtl/sim/``
(Verilator's runtime is shared through a user cache). It streams N frames back to back as DMA bytes
(fpgabnn/deploy/driver/frames.py) on the board-wide ports, checks TLAST and measures the cycles of every output
frame, the first frame's latency and each FIFO's peak occupancy. Command line (CONTRACTS.md B):

    rtl/sim/sim_<hash> IN.bin OUT.bin N [--stats STATS.json] [--stall SEED] [--trace FILE.fst] [--batch B]
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from fpgabnn.codegen.hls import TEMPLATE_ROOT
from fpgabnn.codegen.rtl import load_manifest
from fpgabnn.core.fileio import atomic_write_bytes
from fpgabnn.deploy.driver import frames
from fpgabnn.errors import SimulationError, UserError
from fpgabnn.sim import tools
from fpgabnn.sim.packing import check_range

TESTBENCH = TEMPLATE_ROOT / "rtl" / "tb.cpp"


class RtlSimError(SimulationError):
    """The simulator could not be built or crashed (an internal failure, never a mismatch)."""


class Deadlock(RuntimeError):
    """The simulated design stopped making progress; the message names the stalled streams."""


def tb_config(manifest: dict) -> str:
    top = manifest["top"]
    gauges = " ".join(f'X("{f["name"]}", top->rootp->{top}__DOT__{f["gauge"]})' for f in manifest["fifos"])
    p = manifest["port_width"]
    return "\n".join([
        f'#include "V{top}.h"',
        f'#include "V{top}___024root.h"',
        f"#define TB_TOP V{top}",
        f"#define TB_IN_WIDTH {p}",
        f"#define TB_OUT_WIDTH {p}",
        f"#define TB_IN_BEATS {manifest['in_beats']}",
        f"#define TB_OUT_BEATS {manifest['out_beats']}",
        "#define TB_IN_TLAST 1",
        "#define TB_OUT_TLAST 1",
        "#define TB_CLK ap_clk",
        "#define TB_RESET(top, on) ((top)->ap_rst_n = !(on))",
        "#define TB_TLAST_ERROR(top) ((top)->tlast_error)",
        f"#define TB_GAUGES(X) {gauges}",
        "",
    ])


def compile_rtlsim(rtl_dir: Path, trace: bool = False, quick: bool = False) -> tuple[Path, dict, float]:
    """Build (or reuse) the simulator of ``rtl_dir``; returns (binary, manifest, build seconds)."""
    import time

    rtl_dir = Path(rtl_dir)
    manifest = load_manifest(rtl_dir)
    sim_dir = rtl_dir / "sim"
    sim_dir.mkdir(exist_ok=True)
    cfg_dir = sim_dir / ("cfg_trace" if trace else "cfg")
    cfg_dir.mkdir(exist_ok=True)
    text = tb_config(manifest)
    cfg = cfg_dir / "tb_config.h"
    if not cfg.is_file() or cfg.read_text() != text:
        atomic_write_bytes(cfg, text.encode())
    sources = [rtl_dir / f for f in manifest["files"]]
    start = time.perf_counter()
    try:
        binary = tools.build(sources, manifest["top"], [TESTBENCH], [cfg_dir], sim_dir, trace=trace,
                             extra_inputs=[rtl_dir / m for m in manifest["memory_files"]], quick=quick)
    except tools.SimBuildError as err:
        raise RtlSimError(str(err)) from None
    return binary, manifest, time.perf_counter() - start


def run_rtlsim(rtl_dir: Path, inputs: np.ndarray, batch: int | None = None, stall_seed: int | None = None,
               trace: Path | None = None, timeout_cycles: int | None = None, quick: bool = False,
               valid_prob: float | None = None, ready_prob: float | None = None) -> tuple[np.ndarray, dict]:
    """Stream ``inputs`` [N, ...] (value domain, NHWC) through the simulated accelerator; returns the outputs
    [N, ...] (value domain) and the testbench's stats (plus ``sim_build_seconds`` and ``sim_seconds``).
    Raises Deadlock when the design stops, RtlSimError when the simulator fails."""
    import time

    rtl_dir = Path(rtl_dir).resolve()
    binary, m, build_s = compile_rtlsim(rtl_dir, trace=trace is not None, quick=quick)
    x = np.asarray(inputs)
    if x.ndim == 0 or x.size != x.shape[0] * m["in_elems"]:
        raise UserError(f"inputs of shape {x.shape} are not N frames of shape {m['in_shape']}; reshape them")
    check_range(x, m["in_dtype"])
    n = x.shape[0]
    port = m["port_width"]
    # a stall-free design moves at least one word per (slowest layer's cycles per frame) cycles
    timeout = timeout_cycles or max(100_000, 4 * int(m.get("cycles", 0)))
    with tempfile.TemporaryDirectory(prefix="rtlsim_") as tmp:
        fin, fout, fstats = Path(tmp) / "in.bin", Path(tmp) / "out.bin", Path(tmp) / "stats.json"
        atomic_write_bytes(fin, frames.pack_values(x.reshape(n, -1), m["in_bits"], m["in_kind"], port).tobytes())
        ftl = Path(tmp) / "tlast.bin"
        cmd = [str(binary), str(fin), str(fout), str(n), "--stats", str(fstats), "--timeout", str(timeout),
               "--tlast-out", str(ftl)]
        if batch is not None:
            cmd += ["--batch", str(int(batch))]
        if stall_seed is not None:
            cmd += ["--stall", str(int(stall_seed))]
        if valid_prob is not None:
            cmd += ["--valid-prob", str(valid_prob)]
        if ready_prob is not None:
            cmd += ["--ready-prob", str(ready_prob)]
        if trace is not None:
            cmd += ["--trace", str(Path(trace).resolve())]
        start = time.perf_counter()
        try:
            # $readmemh reads the memory files by name: run in rtl/
            res = subprocess.run(cmd, capture_output=True, text=True, cwd=rtl_dir)
        except OSError as err:
            raise RtlSimError(f"RTL simulation could not start ({err})") from None
        sim_s = time.perf_counter() - start
        if res.returncode == 1:
            line = next((ln for ln in res.stderr.splitlines() if ln.startswith("deadlock")), res.stderr.strip())
            raise Deadlock(line)
        if res.returncode != 0:
            raise RtlSimError(f"RTL simulation failed (exit {res.returncode}): {(res.stderr or res.stdout).strip()[-1500:]}")
        missing = [ln for ln in (res.stderr + res.stdout).splitlines() if "$readmem" in ln and "not found" in ln]
        if missing:  # Verilator only warns, and the design then computes with zero weights: never a result
            raise RtlSimError(f"RTL simulation could not read a memory file ({missing[0].strip()}); rebuild rtl/")
        raw = np.fromfile(fout, dtype=np.uint8)
        y = frames.unpack_values(raw, m["out_bits"], m["out_kind"], port, m["out_elems"])
        stats = json.loads(fstats.read_text())
        tl = np.fromfile(ftl, dtype=np.uint8).reshape(n, m["out_beats"])
        stats["tlast_frames"] = [int(f) for f in np.flatnonzero(tl[:, -1])]
        stats["tlast_misplaced"] = int(tl[:, :-1].sum())
    stats["sim_build_seconds"] = round(build_s, 3)
    stats["sim_seconds"] = round(sim_s, 3)
    return y.reshape([n] + list(m["out_shape"][1:])), stats
