"""Verification of a build: qonnx execution of the source, of the hardware-layer graph, and C simulation of the
generated HLS must give identical integers at the accelerator output (and the lowered graph at every layer)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from fpgabnn.builder import BUILD_MARKER
from fpgabnn.errors import UserError


def load_build(build_dir: Path) -> tuple[dict, ModelWrapper, ModelWrapper]:
    marker = build_dir / BUILD_MARKER
    if not marker.is_file():
        raise UserError(f"{build_dir} is not an fpgabnn build directory (no {BUILD_MARKER}); run `fpgabnn build` first")
    from fpgabnn.deploy.package import load_build_meta

    load_build_meta(build_dir)  # refuses a build of another fpgabnn version
    try:
        meta = json.loads(marker.read_text())
        source = ModelWrapper(str(build_dir / "model_source.onnx"))
        lowered = ModelWrapper(str(build_dir / "model_hw.onnx"))
    except Exception as err:
        raise UserError(f"{build_dir} is incomplete or damaged ({type(err).__name__}); rebuild it with `fpgabnn build`") from None
    return meta, source, lowered


def verify_build(build_dir: Path, samples: int = 100, seed: int = 0, reference: Path | None = None,
                 quiet: bool = False) -> dict:
    from fpgabnn.sim.csim import run_csim
    from fpgabnn.sim.reference import compare_with_source, random_pixels
    from fpgabnn.transforms.pipeline import prepare_source
    from fpgabnn.transforms.tidy import load_qonnx

    if samples <= 0:
        raise UserError(f"--samples {samples} is not positive; pass at least 1")
    meta, source, lowered = load_build(build_dir)
    if reference is not None:
        source = prepare_source(load_qonnx(reference), meta["pixel_range"])
        if source.get_tensor_shape(source.graph.input[0].name) != lowered.get_tensor_shape(lowered.graph.input[0].name):
            raise UserError(f"reference {reference} takes another input shape than the build; pass the model the build came from")
    images = random_pixels(source.get_tensor_shape(source.graph.input[0].name), samples, seed)
    start = time.perf_counter()
    ref = compare_with_source(source, lowered, images)
    t_ref = time.perf_counter() - start
    start = time.perf_counter()
    sim = run_csim(build_dir / "hls", ref["hw_inputs"])
    t_sim = time.perf_counter() - start
    expected = ref["expected_outputs"]
    sim = np.asarray(sim).reshape(expected.shape)
    mismatches = list(ref["mismatches"])
    for i in np.flatnonzero(np.any(sim != expected, axis=1)):
        mismatches.append({"sample": int(i), "layer": "C simulation output",
                           "elements": int(np.sum(sim[i] != expected[i])),
                           "expected": expected[i].tolist(), "got": sim[i].tolist()})
    result = {
        "bit_exact": not mismatches,
        "samples": samples,
        "mismatches": mismatches[:50],
        "mismatch_count": len(mismatches),
        "lowered_graph_bit_exact": not ref["mismatches"],
        "csim_bit_exact": not any(m["layer"] == "C simulation output" for m in mismatches),
        "argmax_agree": float(np.mean(np.argmax(sim, axis=1) == np.argmax(ref["final_outputs"], axis=1)))
        if sim.shape[1] == ref["final_outputs"].shape[1] else None,
        "csim_seconds": round(t_sim, 3),
        "reference_seconds": round(t_ref, 3),
        "build_dir": str(build_dir),
    }
    if not quiet:
        status = "BIT-EXACT" if result["bit_exact"] else "MISMATCH"
        print(f"{status}: {samples} samples, C simulation vs qonnx execution of the source "
              f"({result['mismatch_count']} mismatches; C sim {t_sim:.2f} s, reference {t_ref:.2f} s)")
        for m in mismatches[:10]:
            print(f"  sample {m['sample']}: {m['layer']} differs in {m['elements']} elements")
    return result


def verify_rtl(build_dir: Path, samples: int = 100, seed: int = 0, stall: bool = False, trace: bool = False,
               reference: Path | None = None, quiet: bool = False) -> dict:
    """RTL simulation (Verilator) of the build's rtl/ against qonnx execution of the source: bit-exactness, and
    the measured steady-state cycles per frame, first-frame latency, fps at the build clock and FIFO peaks.
    Raises UserError (bad input), fpgabnn.sim.rtlsim.Deadlock, fpgabnn.sim.rtlsim.RtlSimError (internal)."""
    from fpgabnn.codegen.rtl import load_manifest
    from fpgabnn.sim.reference import compare_with_source, random_pixels
    from fpgabnn.sim.rtlsim import run_rtlsim
    from fpgabnn.sim.tools import find_verilator
    from fpgabnn.transforms.pipeline import prepare_source
    from fpgabnn.transforms.tidy import load_qonnx

    if samples <= 0:
        raise UserError(f"--samples {samples} is not positive; pass at least 1")
    meta, source, lowered = load_build(build_dir)
    rtl_dir = build_dir / "rtl"
    if not rtl_dir.is_dir():
        raise UserError(f"{build_dir} has no rtl/ (built with --backend {meta.get('backend', 'hls')}); "
                        "rebuild with --backend rtl or both")
    manifest = load_manifest(rtl_dir)
    find_verilator()
    if reference is not None:
        source = prepare_source(load_qonnx(reference), meta["pixel_range"])
    images = random_pixels(source.get_tensor_shape(source.graph.input[0].name), samples, seed)
    start = time.perf_counter()
    ref = compare_with_source(source, lowered, images)
    t_ref = time.perf_counter() - start
    trace_path = rtl_dir / "sim" / "trace.fst" if trace else None
    out, stats = run_rtlsim(rtl_dir, ref["hw_inputs"], stall_seed=1 if stall else None, trace=trace_path)
    expected = ref["expected_outputs"]
    out = np.asarray(out).reshape(expected.shape)
    mismatches = list(ref["mismatches"])
    for i in np.flatnonzero(np.any(out != expected, axis=1)):
        mismatches.append({"sample": int(i), "layer": "RTL simulation output",
                           "elements": int(np.sum(out[i] != expected[i])),
                           "expected": expected[i].tolist(), "got": out[i].tolist()})
    if stats["tlast_mismatches"] or stats["tlast_error"]:
        mismatches.append({"sample": -1, "layer": "TLAST", "elements": int(stats["tlast_mismatches"]),
                           "tlast_error": int(stats["tlast_error"])})
    clock = float(manifest.get("clock_mhz") or meta["clock_mhz"])
    cpf = float(stats["cycles_per_frame"])
    report_path = build_dir / "report.json"
    estimate = json.loads(report_path.read_text()).get("ii_cycles") if report_path.is_file() else None
    result = {
        "bit_exact": not mismatches,
        "samples": samples,
        "mismatches": mismatches[:50],
        "mismatch_count": len(mismatches),
        "sim": "rtl",
        "stall": stall,
        "cycles_per_frame": cpf if samples >= 2 else None,
        "latency_cycles": stats["latency_cycles"],
        "fps": clock * 1e6 / cpf if cpf > 0 else None,
        "clock_mhz": clock,
        "in_port_width": manifest["port_width"],
        "out_port_width": manifest["port_width"],
        "estimated_cycles_per_frame": estimate,
        "cycles_vs_estimate": round(cpf / estimate, 4) if estimate and cpf > 0 else None,
        "sim_build_seconds": stats["sim_build_seconds"],
        "sim_seconds": stats["sim_seconds"],
        "reference_seconds": round(t_ref, 3),
        "fifo_max_occupancy": stats["fifo_max_occupancy"],
        "fifo_depths": {f["name"]: f["depth"] for f in manifest["fifos"]},
        "frame_end_cycles": stats["frame_end_cycles"][:1000],
        "trace": str(trace_path) if trace_path else None,
        "build_dir": str(build_dir),
    }
    if not quiet:
        status = "BIT-EXACT" if result["bit_exact"] else "MISMATCH"
        fps = f"{result['fps']:,.0f} fps" if result["fps"] else "one frame"
        print(f"{status}: {samples} samples, RTL simulation vs qonnx execution of the source "
              f"({result['mismatch_count']} mismatches); {cpf:g} cycles/frame ({fps} at {clock:g} MHz), latency "
              f"{stats['latency_cycles']} cycles; build {stats['sim_build_seconds']:.1f} s, run {stats['sim_seconds']:.2f} s")
        for m in mismatches[:10]:
            print(f"  sample {m['sample']}: {m['layer']} differs in {m['elements']} elements")
    return result
