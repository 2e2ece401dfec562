"""Verification of a build: qonnx execution of the source, of the hardware-layer graph, and simulation of the
generated accelerator must give identical integers at the accelerator output (and the lowered graph at every
layer with provenance).

Simulators plug in through ``SIMULATORS``: a function ``(build_dir, meta, hw_inputs, batch) -> (outputs, stats)``
that streams ``hw_inputs`` [N, elements] (value domain, stream order) through the accelerator and returns its
outputs [N, ...] and a stats dict (at least ``tlast_frames``: the output frames whose last beat carried TLAST).
It raises UserError for a build it cannot simulate (bad input, exit 2) and SimulationError when the simulator
itself fails (exit 3), never a mismatch.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from fpgabnn import __version__
from fpgabnn.builder import BUILD_MARKER
from fpgabnn.errors import UserError


def load_build(build_dir: Path) -> tuple[dict, ModelWrapper, ModelWrapper]:
    build_dir = Path(build_dir)
    marker = build_dir / BUILD_MARKER
    if not marker.is_file():
        raise UserError(f"{build_dir} is not an fpgabnn build directory (no {BUILD_MARKER}); run `fpgabnn build` first")
    try:
        meta = json.loads(marker.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{marker} is damaged (not JSON); rebuild with `fpgabnn build`") from None
    version = meta.get("fpgabnn_version") if isinstance(meta, dict) else None
    if version != __version__:
        raise UserError(f"{build_dir} was built by fpgabnn {version or 'before 0.1.0 (no version recorded)'}, this is "
                        f"fpgabnn {__version__}; rebuild it with `fpgabnn build`")
    try:
        source = ModelWrapper(str(build_dir / "model_source.onnx"))
        lowered = ModelWrapper(str(build_dir / "model_hw.onnx"))
    except Exception as err:
        raise UserError(f"{build_dir} is incomplete or damaged ({type(err).__name__}); rebuild it with `fpgabnn build`") from None
    return meta, source, lowered


# ---- simulators ------------------------------------------------------------------------------------------------
def simulate_csim(build_dir: Path, meta: dict, hw_inputs: np.ndarray, batch: int | None = None):
    """C simulation of build_dir/hls (g++ and the ap_types headers), the DMA byte stream at the port width."""
    from fpgabnn.sim.csim import run_csim

    hls_dir = Path(build_dir) / "hls"
    if not (hls_dir / "interface.json").is_file():
        raise UserError(f"{build_dir} has no hls/interface.json; rebuild it with `fpgabnn build`")
    return run_csim(hls_dir, hw_inputs, batch=batch, return_stats=True)


def simulate_rtl(build_dir: Path, meta: dict, hw_inputs: np.ndarray, batch: int | None = None, stall: bool = False,
                 trace: bool = False, jobs: int | None = None):
    """Cycle-accurate Verilator simulation of build_dir/rtl (in up to ``jobs`` parallel processes, default one per
    core); its stats add the measured cycles per frame, first-frame latency, fps at the build clock and every
    FIFO's peak occupancy (stats["rtl"])."""
    from fpgabnn.codegen.rtl import load_manifest
    from fpgabnn.sim.rtlsim import default_jobs, run_rtlsim
    from fpgabnn.sim.tools import find_verilator

    rtl_dir = Path(build_dir) / "rtl"
    if not rtl_dir.is_dir():
        raise UserError(f"{build_dir} has no rtl/ (built with --backend {meta.get('backend', 'hls')}); "
                        "rebuild with --backend rtl or both")
    manifest = load_manifest(rtl_dir)
    find_verilator()
    trace_path = rtl_dir / "sim" / "trace.fst" if trace else None
    out, st = run_rtlsim(rtl_dir, hw_inputs, batch=batch, stall_seed=1 if stall else None, trace=trace_path,
                         jobs=jobs or default_jobs())
    clock = float(manifest.get("clock_mhz") or meta["clock_mhz"])
    cpf = float(st["cycles_per_frame"]) if len(hw_inputs) >= 2 else None
    report = Path(build_dir) / "report.json"
    estimate = json.loads(report.read_text()).get("ii_cycles") if report.is_file() else None
    st["rtl"] = {
        "stall": stall,
        "cycles_per_frame": cpf,
        "latency_cycles": st["latency_cycles"],
        "fps": clock * 1e6 / cpf if cpf else None,
        "clock_mhz": clock,
        "in_port_width": manifest["port_width"],
        "out_port_width": manifest["port_width"],
        "estimated_cycles_per_frame": estimate,
        "cycles_vs_estimate": round(cpf / estimate, 4) if cpf and estimate else None,
        "sim_build_seconds": st["sim_build_seconds"],
        "sim_run_seconds": st["sim_seconds"],
        "sim_processes": st["sim_processes"],
        "fifo_max_occupancy": st["fifo_max_occupancy"],
        "fifo_depths": {f["name"]: f["depth"] for f in manifest["fifos"]},
        "tlast_error": st["tlast_error"],
        "trace": str(trace_path) if trace_path else None,
    }
    st["port_width"], st["in_beats"], st["out_beats"] = manifest["port_width"], manifest["in_beats"], manifest["out_beats"]
    return out, st


#: simulator name -> function (see the module docstring); `--sim` chooses one
SIMULATORS = {"csim": simulate_csim, "rtl": simulate_rtl}


def expected_tlast_frames(n: int, batch: int | None) -> list[int]:
    """Output frames whose last beat must carry TLAST: the last frame of every batch (CONTRACTS.md B)."""
    b = batch or n
    return [f for f in range(n) if (f + 1) % b == 0 or f == n - 1]


# ---- host threshold --------------------------------------------------------------------------------------------
def _host_inputs(build_dir: Path, ref: dict) -> tuple[np.ndarray, list]:
    """The accelerator inputs computed as the driver will: the build's host_threshold.npz applied to the raw input
    values; they must equal the lowered graph's (and the source's, through the recorded provenance)."""
    from fpgabnn.deploy.driver.host_threshold import TABLE_FILE, apply_table, load_table

    path = Path(build_dir) / TABLE_FILE
    try:
        table = load_table(path)
    except (OSError, ValueError) as err:
        raise UserError(f"{path} is missing or damaged ({err}); rebuild with `fpgabnn build --host-threshold`") from None
    got = apply_table(ref["host_raw_inputs"], table)
    mismatches = []
    for i in np.flatnonzero(np.any(got != ref["hw_inputs"], axis=1)):
        mismatches.append({"sample": int(i), "layer": "host threshold",
                           "elements": int(np.sum(got[i] != ref["hw_inputs"][i]))})
    return got, mismatches


def verify_build(build_dir: Path, samples: int = 100, seed: int = 0, reference: Path | None = None,
                 quiet: bool = False, sim: str = "csim", batch: int | None = None, stall: bool = False,
                 trace: bool = False, jobs: int | None = None) -> dict:
    from fpgabnn.sim.reference import compare_with_source, random_pixels
    from fpgabnn.transforms.pipeline import prepare_source
    from fpgabnn.transforms.tidy import load_qonnx

    if samples <= 0:
        raise UserError(f"--samples {samples} is not positive; pass at least 1")
    if batch is not None and batch <= 0:
        raise UserError(f"--batch {batch} is not positive; pass at least 1")
    if jobs is not None and jobs <= 0:
        raise UserError(f"--jobs {jobs} is not positive; pass at least 1")
    if sim not in SIMULATORS:
        raise UserError(f"unknown simulator '{sim}'; choose one of {', '.join(SIMULATORS)}")
    build_dir = Path(build_dir)
    meta, source, lowered = load_build(build_dir)
    if reference is not None:
        source = prepare_source(load_qonnx(reference), meta["pixel_range"])
        if source.get_tensor_shape(source.graph.input[0].name) != lowered.get_tensor_shape(lowered.graph.input[0].name):
            raise UserError(f"reference {reference} takes another input shape than the build; pass the model the build came from")
    images = random_pixels(source.get_tensor_shape(source.graph.input[0].name), samples, seed)
    start = time.perf_counter()
    ref = compare_with_source(source, lowered, images, host_threshold=bool(meta.get("host_threshold")))
    mismatches = list(ref["mismatches"])
    hw_inputs = ref["hw_inputs"]
    if meta.get("host_threshold"):
        hw_inputs, host_mismatches = _host_inputs(build_dir, ref)
        mismatches += host_mismatches
    t_ref = time.perf_counter() - start
    start = time.perf_counter()
    options = {"stall": stall, "trace": trace, "jobs": jobs} if sim == "rtl" else {}
    sim_out, stats = SIMULATORS[sim](build_dir, meta, hw_inputs, batch, **options)
    t_sim = time.perf_counter() - start
    expected = ref["expected_outputs"]
    sim_out = np.asarray(sim_out).reshape(expected.shape)
    label = f"{sim} output"
    if not ref["unverifiable"]:
        for i in np.flatnonzero(np.any(sim_out != expected, axis=1)):
            mismatches.append({"sample": int(i), "layer": label, "elements": int(np.sum(sim_out[i] != expected[i])),
                               "expected": expected[i].tolist(), "got": sim_out[i].tolist()})
    want_tlast = expected_tlast_frames(samples, batch)
    if stats.get("tlast_frames") != want_tlast or stats.get("tlast_misplaced", 0):
        mismatches.append({"sample": None, "layer": f"{sim} TLAST", "elements": None,
                           "reason": f"TLAST on the last beat of frames {stats.get('tlast_frames')} (and "
                                     f"{stats.get('tlast_misplaced', 0)} other beats); expected frames {want_tlast}"})
    result = {
        "bit_exact": not mismatches,
        "samples": samples,
        "simulator": sim,
        "mismatches": mismatches[:50],
        "mismatch_count": len(mismatches),
        "unverifiable": ref["unverifiable"],
        "lowered_graph_bit_exact": not ref["mismatches"],
        "sim_bit_exact": not any(m["layer"] == label for m in mismatches) and not ref["unverifiable"],
        "argmax_agree": float(np.mean(np.argmax(sim_out, axis=1) == np.argmax(ref["final_outputs"], axis=1)))
        if sim_out.shape[1] == ref["final_outputs"].shape[1] else None,
        "host_threshold": bool(meta.get("host_threshold")),
        "port_width": stats.get("port_width"),
        "in_beats": stats.get("in_beats"),
        "out_beats": stats.get("out_beats"),
        "sim_stats": stats,
        "sim_seconds": round(t_sim, 3),
        "reference_seconds": round(t_ref, 3),
        "build_dir": str(build_dir),
    }
    result.update(stats.get("rtl", {}))
    result["csim_bit_exact"] = result["sim_bit_exact"] if sim == "csim" else None
    result["csim_seconds"] = result["sim_seconds"] if sim == "csim" else None
    if not quiet:
        status = "BIT-EXACT" if result["bit_exact"] else "MISMATCH"
        print(f"{status}: {samples} samples, {sim} vs qonnx execution of the source "
              f"({result['mismatch_count']} mismatches; {sim} {t_sim:.2f} s, reference {t_ref:.2f} s)")
        if result.get("cycles_per_frame"):
            print(f"  RTL: {result['cycles_per_frame']:g} cycles/frame ({result['fps']:,.0f} fps at "
                  f"{result['clock_mhz']:g} MHz; estimate {result['estimated_cycles_per_frame']}), latency "
                  f"{result['latency_cycles']} cycles, simulator build {result['sim_build_seconds']:.1f} s")
        for m in mismatches[:10]:
            if m.get("reason"):
                print(f"  {m['layer']}: {m['reason']}")
            else:
                print(f"  sample {m['sample']}: {m['layer']} differs in {m['elements']} elements")
    return result

