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
