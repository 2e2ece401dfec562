"""Cycle-accurate RTL simulation of a generated accelerator with Verilator.

The simulator is hls_templates/rtl/tb.cpp (one AXI-Stream testbench for every design) compiled with a
generated ``tb_config.h`` against the design in ``rtl/``; it is built once per rtl/ contents into ``rtl/sim/``
(Verilator's runtime is shared through a user cache). It streams N frames back to back as DMA bytes
(fpgabnn/deploy/driver/frames.py) on the board-wide ports, checks TLAST and measures the cycles of every output
frame, the first frame's latency and each FIFO's peak occupancy. Command line (CONTRACTS.md B):

    rtl/sim/sim_<hash> IN.bin OUT.bin N [--stats STATS.json] [--stall SEED] [--trace FILE.fst] [--batch B]

A long run is split into consecutive shards simulated in parallel processes (``jobs``), one per core.
"""

from __future__ import annotations

import json
import os
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


#: fewest frames a simulator process gets when a run is split (its steady state is measured over its second half)
MIN_SHARD_FRAMES = 32


def default_jobs() -> int:
    """Simulator processes by default: the CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def shard_bounds(n: int, jobs: int) -> list[tuple[int, int]]:
    """[start, end) frame ranges of the simulator processes: at most ``jobs``, each >= MIN_SHARD_FRAMES frames."""
    k = max(1, min(int(jobs), n // MIN_SHARD_FRAMES))
    edges = [round(i * n / k) for i in range(k + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _tlast_beats(n: int, beats: int, batch: int | None) -> np.ndarray:
    """TLAST per input beat: the last beat of every ``batch``-th frame and of the last frame (CONTRACTS.md B)."""
    b = batch or n
    tl = np.zeros((n, beats), dtype=np.uint8)
    f = np.arange(n)
    tl[((f + 1) % b == 0) | (f == n - 1), -1] = 1
    return tl


def run_rtlsim(rtl_dir: Path, inputs: np.ndarray, batch: int | None = None, stall_seed: int | None = None,
               trace: Path | None = None, timeout_cycles: int | None = None, quick: bool = False,
               valid_prob: float | None = None, ready_prob: float | None = None,
               jobs: int = 1) -> tuple[np.ndarray, dict]:
    """Stream ``inputs`` [N, ...] (value domain, NHWC) through the simulated accelerator; returns the outputs
    [N, ...] (value domain) and the testbench's stats (plus ``sim_build_seconds``, ``sim_seconds`` and
    ``sim_processes``). Raises Deadlock when the design stops, RtlSimError when the simulator fails.

    ``jobs`` > 1 splits the frames into up to ``jobs`` consecutive shards (each at least MIN_SHARD_FRAMES),
    simulated at once in separate processes, each streaming its frames back to back from reset with the TLAST
    of the whole batch; outputs are concatenated in order. cycles_per_frame is the slowest shard's steady
    state, latency the first shard's, FIFO peaks the maximum over the shards (``shards`` lists each).
    A trace is written by one process only."""
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
    bounds = shard_bounds(n, 1 if trace is not None else jobs)
    packed = frames.pack_values(x.reshape(n, -1), m["in_bits"], m["in_kind"], port)
    beat_bytes = packed.size // (n * m["in_beats"])
    packed = packed.reshape(n, m["in_beats"] * beat_bytes)
    with tempfile.TemporaryDirectory(prefix="rtlsim_") as tmp:
        procs = []
        start = time.perf_counter()
        for k, (a, b) in enumerate(bounds):
            d = Path(tmp) / f"shard{k}"
            d.mkdir()
            fin, fout, fstats, ftl = d / "in.bin", d / "out.bin", d / "stats.json", d / "tlast.bin"
            atomic_write_bytes(fin, packed[a:b].tobytes())
            cmd = [str(binary), str(fin), str(fout), str(b - a), "--stats", str(fstats), "--timeout", str(timeout),
                   "--tlast-out", str(ftl)]
            if len(bounds) > 1:  # the batch's TLAST pattern, not one restarted in every shard
                ftin = d / "tlast_in.bin"
                atomic_write_bytes(ftin, _tlast_beats(n, m["in_beats"], batch)[a:b].tobytes())
                cmd += ["--tlast-in", str(ftin)]
            elif batch is not None:
                cmd += ["--batch", str(int(batch))]
            if stall_seed is not None:
                cmd += ["--stall", str(int(stall_seed) + k)]
            if valid_prob is not None:
                cmd += ["--valid-prob", str(valid_prob)]
            if ready_prob is not None:
                cmd += ["--ready-prob", str(ready_prob)]
            if trace is not None:
                cmd += ["--trace", str(Path(trace).resolve())]
            try:
                # $readmemh reads the memory files by name: run in rtl/
                with open(d / "stdout", "wb") as fo, open(d / "stderr", "wb") as fe:  # files: no pipe to fill
                    procs.append(subprocess.Popen(cmd, stdout=fo, stderr=fe, cwd=rtl_dir))
            except OSError as err:
                for p in procs:
                    p.kill()
                raise RtlSimError(f"RTL simulation could not start ({err})") from None
        try:
            for p in procs:
                p.wait()
        finally:  # interrupted: no simulator left running
            for p in procs:
                if p.poll() is None:
                    p.kill()
        done = [(p, (Path(tmp) / f"shard{k}" / "stdout").read_text(errors="replace"),
                 (Path(tmp) / f"shard{k}" / "stderr").read_text(errors="replace")) for k, p in enumerate(procs)]
        sim_s = time.perf_counter() - start
        for k, (p, out, err) in enumerate(done):
            if p.returncode == 1:
                line = next((ln for ln in err.splitlines() if ln.startswith("deadlock")), err.strip())
                if len(bounds) > 1:
                    line += f" (simulator process {k + 1} of {len(bounds)}, frames {bounds[k][0]}-{bounds[k][1] - 1})"
                raise Deadlock(line)
        for p, out, err in done:
            if p.returncode != 0:
                raise RtlSimError(f"RTL simulation failed (exit {p.returncode}): {(err or out).strip()[-1500:]}")
            missing = [ln for ln in (err + out).splitlines() if "$readmem" in ln and "not found" in ln]
            if missing:  # Verilator only warns, and the design then computes with zero weights: never a result
                raise RtlSimError(f"RTL simulation could not read a memory file ({missing[0].strip()}); rebuild rtl/")
        raws, tls, shards = [], [], []
        for k, (a, b) in enumerate(bounds):
            d = Path(tmp) / f"shard{k}"
            raws.append(np.fromfile(d / "out.bin", dtype=np.uint8))
            tls.append(np.fromfile(d / "tlast.bin", dtype=np.uint8).reshape(b - a, m["out_beats"]))
            shards.append(json.loads((d / "stats.json").read_text()))
    y = frames.unpack_values(np.concatenate(raws), m["out_bits"], m["out_kind"], port, m["out_elems"])
    stats = _merge_stats(shards, bounds)
    tl = np.concatenate(tls)
    stats["tlast_frames"] = [int(f) for f in np.flatnonzero(tl[:, -1])]
    stats["tlast_misplaced"] = int(tl[:, :-1].sum())
    stats["sim_build_seconds"] = round(build_s, 3)
    stats["sim_seconds"] = round(sim_s, 3)
    stats["sim_processes"] = len(bounds)
    return y.reshape([n] + list(m["out_shape"][1:])), stats


def _merge_stats(shards: list[dict], bounds: list) -> dict:
    """One stats dict for a run split into shards (a single shard's stats unchanged)."""
    if len(shards) == 1:
        return dict(shards[0])
    first = shards[0]
    merged = dict(first)
    merged.update({
        "frames": sum(s["frames"] for s in shards),
        "frames_out": sum(s["frames_out"] for s in shards),
        "cycles": max(s["cycles"] for s in shards),  # the shards run side by side
        "cycles_per_frame": max(s["cycles_per_frame"] for s in shards),
        "tlast_mismatches": sum(s["tlast_mismatches"] for s in shards),
        "tlast_error": max(s["tlast_error"] for s in shards),
        "status": max(s["status"] for s in shards),
        # each shard counts cycles from its own reset
        "frame_end_cycles": [c for s in shards for c in s["frame_end_cycles"]],
        "fifo_max_occupancy": {f: max(s["fifo_max_occupancy"][f] for s in shards) for f in first["fifo_max_occupancy"]},
        "shards": [{"first_frame": a, "frames": b - a, "cycles": s["cycles"], "cycles_per_frame": s["cycles_per_frame"],
                    "latency_cycles": s["latency_cycles"]} for (a, b), s in zip(bounds, shards)],
    })
    return merged
